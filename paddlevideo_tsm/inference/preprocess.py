"""The test pipeline of a config applied to one input: a video or a frame folder -> its views."""
import copy

from ..errors import ConfigError
from ..loader.pipelines import transform_steps
from ..media import decode_step
from .settings import CROP_VIEWS


def _pipeline_cfg_for(test_cfg, kind):
    """PIPELINE.test with the decode step for inputs of ``kind`` (media.decode_step)."""
    cfg = copy.deepcopy(dict(test_cfg))
    cfg["decode"] = decode_step(kind, cfg.get("decode"))
    return cfg


class Preprocessor:
    """PIPELINE.test (+ num_clips) -> callable(path, kind) returning float32 views [V, T, ...].

    The same pipeline code and view stacking (loader.views.load_views) as the test-mode dataset.
    """

    def __init__(self, test_pipeline_cfg, num_clips=1, where="PIPELINE.test"):
        if not isinstance(test_pipeline_cfg, dict) or not test_pipeline_cfg.get("decode"):
            raise ConfigError(f"{where}: the config needs a test pipeline with a decoder "
                              "(PIPELINE.test.decode)")
        self.cfg, self.num_clips, self.where = test_pipeline_cfg, int(num_clips), where
        self._pipelines = {}

    def pipeline(self, kind):
        """The built pipeline for 'video' or 'frame' inputs (built once)."""
        from ..loader import build_pipeline

        if kind not in self._pipelines:
            self._pipelines[kind] = build_pipeline(_pipeline_cfg_for(self.cfg, kind), self.where)
        return self._pipelines[kind]

    def __call__(self, path, kind):
        """path of a video ('video') or frame folder ('frame') -> float32 views [V, T, C, H, W] (or NHWC)."""
        from ..loader.views import load_views
        from ..utils.logger import get_logger

        notes = []  # a damaged video warns once, not once per clip
        views = load_views(self.pipeline(kind), {"filename": path, "warnings": notes}, self.num_clips)
        for text in dict.fromkeys(notes):
            get_logger().warning(text)
        return views


def num_test_clips(cfg):
    """Number of test clips per video: DATASET.test.num_clips, else 1."""
    test = (cfg.get("DATASET") or {}).get("test") or {}
    return int(test.get("num_clips", 1) or 1)


def views_per_video(cfg):
    """Views V one video gives with cfg's test pipeline: num_clips x crops (ThreeCrop 3, TenCrop 10)."""
    crops = 1
    for name, _ in transform_steps((cfg.get("PIPELINE") or {}).get("test"), "PIPELINE.test"):
        crops *= CROP_VIEWS.get(name, 1)
    return num_test_clips(cfg) * crops
