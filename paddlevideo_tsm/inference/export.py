"""Export a recognizer to a static inference model (.pdmodel or PIR .json + .pdiparams)."""
import copy
import os

import paddle

from ..errors import InferenceError
from ..utils.logger import get_logger
from .settings import inference_settings, input_shape

FORMATS = ("pdmodel", "json")
INPUT_NAME = "data_batch_0"


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
