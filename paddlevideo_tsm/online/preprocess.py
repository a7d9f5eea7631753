"""Per-frame preprocessing built from the config's PIPELINE.test transforms (the loader's own steps)."""
from ..errors import ConfigError
from ..inference.settings import CROP_VIEWS
from ..loader.pipelines import build_pipeline, transform_steps
from ..utils.logger import get_logger

_RANDOM = ("RandomCrop", "MultiScaleCrop", "RandomFlip")


def single_view_transforms(pipeline_cfg, where="PIPELINE.test"):
    """The transform steps of ``pipeline_cfg`` as [{name: kwargs}], a multi-view crop (ThreeCrop,
    TenCrop: a stream has one view) replaced by its CenterCrop; ConfigError on random steps."""
    out = []
    for i, (name, kwargs) in enumerate(transform_steps(pipeline_cfg, where)):
        step = f"{where}.transform[{i}]"
        if name in _RANDOM:
            raise ConfigError(f"{step}: {name} is a training augmentation; online prediction "
                              f"needs deterministic test transforms")
        if CROP_VIEWS.get(name, 1) > 1:
            get_logger().info(f"{step}: {name} -> CenterCrop for the single-view stream")
            name, kwargs = "CenterCrop", {"target_size": kwargs.get("target_size")}
        out.append({name: kwargs})
    return out


class FramePreprocessor:
    """One RGB uint8 frame [H, W, 3] -> float32 network input [1, 3, h, w] (or [1, h, w, 3]).

    Runs the PIPELINE.test transforms (Scale, CenterCrop, Image2Array, Normalization, ...) on a
    one-frame clip, so a stream is preprocessed exactly like a test clip's frames.
    """

    def __init__(self, pipeline_test_cfg, where="PIPELINE.test"):
        transforms = single_view_transforms(pipeline_test_cfg, where)
        if not transforms:
            raise ConfigError(f"{where}.transform: missing; online prediction builds its frame "
                              f"preprocessing from it")
        self.pipeline = build_pipeline({"transform": transforms}, where)

    def __call__(self, frame):
        return self.pipeline({"imgs": [frame], "filename": "<frame>"})["imgs"]
