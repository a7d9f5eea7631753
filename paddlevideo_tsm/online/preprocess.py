"""Per-frame preprocessing built from the config's PIPELINE.test transforms (the loader's own steps)."""
from ..loader.pipelines import build_pipeline
from ..errors import ConfigError
from ..utils.logger import get_logger

# test-time multi-crops give several views; a stream has one, so they become their centre crop
_MULTI_CROPS = ("ThreeCrop", "TenCrop")
_RANDOM = ("RandomCrop", "MultiScaleCrop", "RandomFlip")


def single_view_transforms(transforms, where="PIPELINE.test.transform"):
    """The transform list with ThreeCrop/TenCrop replaced by CenterCrop; ConfigError on random steps."""
    out = []
    for i, entry in enumerate(transforms or []):
        name = next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else None
        if name in _RANDOM:
            raise ConfigError(f"{where}[{i}]: {name} is a training augmentation; online prediction "
                              f"needs deterministic test transforms")
        if name in _MULTI_CROPS:
            get_logger().info(f"{where}[{i}]: {name} -> CenterCrop for the single-view stream")
            entry = {"CenterCrop": {"target_size": entry[name]["target_size"]}}
        out.append(entry)
    return out


class FramePreprocessor:
    """One RGB uint8 frame [H, W, 3] -> float32 network input [1, 3, h, w] (or [1, h, w, 3]).

    Runs the PIPELINE.test transforms (Scale, CenterCrop, Image2Array, Normalization, ...) on a
    one-frame clip, so a stream is preprocessed exactly like a test clip's frames.
    """

    def __init__(self, pipeline_test_cfg, where="PIPELINE.test"):
        transforms = (pipeline_test_cfg or {}).get("transform")
        if not transforms:
            raise ConfigError(f"{where}.transform: missing; online prediction builds its frame "
                              f"preprocessing from it")
        self.pipeline = build_pipeline({"transform": single_view_transforms(transforms, where + ".transform")},
                                       where)

    def __call__(self, frame):
        return self.pipeline({"imgs": [frame], "filename": "<frame>"})["imgs"]
