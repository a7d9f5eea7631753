"""Export a recognizer to a static inference model (.pdmodel or PIR .json + .pdiparams)."""
import copy
import os

import paddle

from ..errors import ConfigError
from ..utils.logger import get_logger
from ..errors import InferenceError

FORMATS = ("pdmodel", "json")
INPUT_NAME = "data_batch_0"


def _center_crop_size(cfg):
    """target_size of the test pipeline's CenterCrop/ThreeCrop/TenCrop, or None."""
    transforms = ((cfg.get("PIPELINE") or {}).get("test") or {}).get("transform") or []
    for entry in transforms:
        if isinstance(entry, dict) and len(entry) == 1:
            (name, kwargs), = entry.items()
            if name in ("CenterCrop", "ThreeCrop", "TenCrop") and isinstance(kwargs, dict):
                return kwargs.get("target_size")
    return None


def inference_settings(cfg, num_seg=None, img_size=None):
    """(num_seg, img_size, data_format) for export/inference: arguments, else INFERENCE, else model/pipeline."""
    infer = cfg.get("INFERENCE") or {}
    backbone = cfg["MODEL"]["backbone"]
    num_seg = num_seg or infer.get("num_seg") or backbone.get("num_seg")
    img_size = img_size or infer.get("target_size") or _center_crop_size(cfg)
    path = cfg.get("_path", "<config>")
    if not isinstance(num_seg, int) or num_seg < 1:
        raise ConfigError(f"{path}: INFERENCE.num_seg (or MODEL.backbone.num_seg) must be a positive int, got {num_seg!r}")
    if isinstance(img_size, (list, tuple)):
        if len(img_size) != 2 or img_size[0] != img_size[1]:
            raise ConfigError(f"{path}: INFERENCE.target_size must be one int (square input), got {img_size!r}")
        img_size = img_size[0]
    if not isinstance(img_size, int) or img_size < 1:
        raise ConfigError(f"{path}: INFERENCE.target_size (or the test CenterCrop target_size) "
                          f"must be a positive int, got {img_size!r}")
    data_format = backbone.get("data_format", "NCHW")
    if data_format not in ("NCHW", "NHWC"):
        raise ConfigError(f"{path}: MODEL.backbone.data_format must be NCHW or NHWC, got {data_format!r}")
    return num_seg, img_size, data_format


def input_shape(num_seg, img_size, data_format="NCHW", batch_size=-1):
    """[B, T, 3, S, S] (NCHW) or [B, T, S, S, 3] (NHWC); B = -1 for a dynamic batch."""
    if data_format == "NHWC":
        return [batch_size, num_seg, img_size, img_size, 3]
    return [batch_size, num_seg, 3, img_size, img_size]


def build_export_model(cfg, weights=None, num_seg=None):
    """Recognizer from cfg.MODEL in eval mode with ``weights`` loaded strictly (random init if None).

    ``num_seg`` replaces the backbone's, since the shift is built for a fixed clip length.
    """
    from ..modeling import build_model, load_checkpoint

    model_cfg = copy.deepcopy(cfg["MODEL"])
    model_cfg["backbone"]["pretrained"] = None  # the checkpoint below holds every tensor
    if num_seg:
        model_cfg["backbone"]["num_seg"] = num_seg
    model = build_model(model_cfg)
    if weights:
        load_checkpoint(model, weights)
    else:
        get_logger().warning("no weights given (-p): exporting a randomly initialised model")
    model.eval()
    return model


def _old_ir_guard():
    """Context writing the old-IR .pdmodel (Paddle 3.x); a no-op on Paddle 2.x, which only has it."""
    pir_utils = getattr(paddle, "pir_utils", None)
    guard = getattr(pir_utils, "DygraphOldIrGuard", None) if pir_utils is not None else None
    if guard is None:
        import contextlib
        return contextlib.nullcontext()
    return guard()


def save_static(layer, input_spec, prefix, fmt="pdmodel"):
    """Trace ``layer`` for ``input_spec`` and write ``prefix.pdmodel`` (old IR) or ``prefix.json`` (PIR)."""
    import contextlib
    with _old_ir_guard() if fmt == "pdmodel" else contextlib.nullcontext():
        static = paddle.jit.to_static(layer, input_spec=input_spec, full_graph=True)
        paddle.jit.save(static, prefix)


def export_model(model, out_dir, save_name, shape, fmt="pdmodel"):
    """Trace ``model`` (eval mode) for float32 input ``shape`` and save it; returns the files written."""
    if fmt not in FORMATS:
        raise InferenceError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "json" and getattr(paddle, "pir_utils", None) is None:
        raise InferenceError("--format json needs Paddle 3 (PIR); this Paddle only writes .pdmodel")
    os.makedirs(out_dir, exist_ok=True)
    prefix = os.path.join(out_dir, save_name)
    spec = [paddle.static.InputSpec(shape, "float32", INPUT_NAME)]
    model.eval()
    save_static(model, spec, prefix, fmt)
    suffixes = (".pdmodel", ".pdiparams", ".pdiparams.info") if fmt == "pdmodel" else (".json", ".pdiparams")
    written = [prefix + s for s in suffixes if os.path.isfile(prefix + s)]
    expected = prefix + suffixes[0]
    if expected not in written:
        raise InferenceError(f"{expected}: paddle.jit.save did not write the model file "
                             f"(found {sorted(os.listdir(out_dir))})")
    return written


def export_from_config(cfg, weights, out_dir, save_name=None, num_seg=None, img_size=None,
                       batch_size=1, fmt="pdmodel"):
    """Build, load and export the model of ``cfg``; returns (files written, input shape).

    ``batch_size`` clips per run, fixed (default 1), or -1 for a dynamic batch. A fixed batch lets
    the temporal shift run without reshapes (shift_impl 'frames'), the fastest CPU graph.
    """
    num_seg, img_size, data_format = inference_settings(cfg, num_seg, img_size)
    if batch_size is None or batch_size == 0:
        batch_size = -1
    if batch_size < -1:
        raise InferenceError(f"--batch_size must be positive (or -1 for dynamic), got {batch_size}")
    save_name = save_name or cfg.get("model_name") or "model"
    model = build_export_model(cfg, weights, num_seg)
    shape = input_shape(num_seg, img_size, data_format, batch_size)
    return export_model(model, out_dir, save_name, shape, fmt), shape
