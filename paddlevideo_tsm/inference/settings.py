"""What a deployed model takes, read from a config: frames per clip, input size, layout.

The one reading of ``INFERENCE`` for export, prediction, online TSM and tools/summary.py; the
preprocessing itself is ``PIPELINE.test`` (its steps: loader.pipelines.transform_steps).
"""
from typing import NamedTuple

from ..errors import ConfigError
from ..loader.pipelines import transform_steps
from ..utils.config_schema import Either, Section, Value, signature_default

# INFERENCE keys, for the config check at start (paddlevideo_tsm/config.py)
INFERENCE_SCHEMA = Section(
    {"num_seg": Value(int, min=1), "target_size": Either(Value(int, min=1), Value(list, items=Value(int, min=1)))},
    ignored={"name": "PaddleVideo's inference helper class; the preprocessing here is PIPELINE.test"}, null=True)
# the test-time crops and the views each gives
CROP_VIEWS = {"CenterCrop": 1, "ThreeCrop": 3, "TenCrop": 10}
LAYOUTS = ("NCHW", "NHWC")


class InferenceSettings(NamedTuple):
    """Frames per clip, square input side and layout of the exported clip model."""
    num_seg: int
    img_size: int
    data_format: str


def input_size(cfg, img_size=None):
    """(height, width) of the network input: ``img_size``, else INFERENCE.target_size, else the
    target_size of the last crop (CenterCrop/ThreeCrop/TenCrop) of PIPELINE.test; a crop's
    [w, h] list counts as width, height."""
    path = cfg.get("_path", "<config>")
    size, where = img_size or (cfg.get("INFERENCE") or {}).get("target_size"), "INFERENCE.target_size"
    if size is None:
        for i, (name, kwargs) in enumerate(transform_steps((cfg.get("PIPELINE") or {}).get("test"),
                                                           "PIPELINE.test")):
            if name in CROP_VIEWS and kwargs.get("target_size") is not None:
                size, where = kwargs["target_size"], f"PIPELINE.test.transform[{i}] {name} target_size"
    if size is None:
        raise ConfigError(f"{path}: no input size: set INFERENCE.target_size or a CenterCrop target_size "
                          f"in PIPELINE.test.transform")
    pair = list(size) if isinstance(size, (list, tuple)) else [size, size]
    if len(pair) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in pair):
        raise ConfigError(f"{path}: {where} must be a positive int or [width, height], got {size!r}")
    return pair[1], pair[0]


def inference_settings(cfg, num_seg=None, img_size=None):
    """(num_seg, img_size, data_format) of the exported clip model: the arguments, else INFERENCE,
    else MODEL.backbone's num_seg and the test pipeline's crop."""
    from ..modeling import BACKBONES

    path = cfg.get("_path", "<config>")
    backbone = cfg["MODEL"]["backbone"]
    num_seg = (num_seg or (cfg.get("INFERENCE") or {}).get("num_seg") or backbone.get("num_seg")
               or signature_default(BACKBONES, backbone.get("name"), "num_seg"))
    if not isinstance(num_seg, int) or isinstance(num_seg, bool) or num_seg < 1:
        raise ConfigError(f"{path}: INFERENCE.num_seg (or MODEL.backbone.num_seg) must be a positive int, "
                          f"got {num_seg!r}")
    height, width = input_size(cfg, img_size)
    if height != width:
        raise ConfigError(f"{path}: the exported clip model takes a square input, got {width}x{height} "
                          f"(INFERENCE.target_size or the test crop)")
    data_format = backbone.get("data_format", "NCHW")
    if data_format not in LAYOUTS:
        raise ConfigError(f"{path}: MODEL.backbone.data_format must be NCHW or NHWC, got {data_format!r}")
    return InferenceSettings(num_seg, height, data_format)


def input_shape(num_seg, img_size, data_format="NCHW", batch_size=-1):
    """[B, T, 3, S, S] (NCHW) or [B, T, S, S, 3] (NHWC); B = -1 for a dynamic batch."""
    if data_format == "NHWC":
        return [batch_size, num_seg, img_size, img_size, 3]
    return [batch_size, num_seg, 3, img_size, img_size]
