"""Export the per-frame online TSM model as a static graph whose signature carries the shift caches.

Inputs: ``frame`` [1, 3, S, S] (NHWC: [1, S, S, 3]) and ``cache_00`` .. ``cache_NN`` (one per
shifted block); outputs, in order: scores [1, K], then the new caches in input order. A sidecar
``NAME.online.json`` records these names and shapes for the streaming predictor.
"""
import json
import os

from paddle.static import InputSpec

from ..inference.export import save_static
from ..inference.settings import input_size
from ..modeling import load_checkpoint
from .frame_model import build_online_model

FORMATS = ("pdmodel", "json")
META_SUFFIX = ".online.json"


def cache_name(i):
    return f"cache_{i:02d}"


def input_specs(model, size):
    """[frame spec, [cache specs]] for one stream (N = 1) of ``size`` (height, width) frames."""
    h, w = size
    shape = [1, 3, h, w] if model.data_format == "NCHW" else [1, h, w, 3]
    caches = [InputSpec(s, "float32", cache_name(i)) for i, s in enumerate(model.cache_shapes(1, size))]
    return [InputSpec(shape, "float32", "frame"), caches]


def export_online(cfg, weights, out_dir, save_name, fmt="pdmodel", size=None):
    """Write ``out_dir/save_name.{pdmodel|json}`` + ``.pdiparams`` + ``.online.json``; return the metadata.

    cfg: full config (MODEL used; backbone forced to shift_mode online, so offline weights load
    unchanged); weights: ``.pdparams`` loaded strictly, or None for the config's own init/pretrained;
    size: (height, width) or None to read it from the config. Returns a dict with 'model_file',
    'params_file', 'inputs' [(name, shape)], 'outputs' [(role, shape)], 'data_format', 'num_classes'.
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {FORMATS}, got {fmt!r}")
    size = input_size(cfg) if size is None else ((size, size) if isinstance(size, int) else tuple(size))
    model = build_online_model(cfg["MODEL"])
    if weights:
        load_checkpoint(model.recognizer, weights)
    model.eval()
    specs = input_specs(model, size)
    os.makedirs(out_dir, exist_ok=True)
    prefix = os.path.join(out_dir, save_name)
    save_static(model, specs, prefix, fmt)
    num_classes = model.recognizer.num_classes
    meta = {
        "model_file": prefix + (".pdmodel" if fmt == "pdmodel" else ".json"),
        "params_file": prefix + ".pdiparams",
        "data_format": model.data_format,
        "num_classes": num_classes,
        "frame_size": list(size),
        "inputs": [(s.name, list(s.shape)) for s in [specs[0]] + specs[1]],
        "outputs": [("scores", [1, num_classes])] + [("new_" + s.name, list(s.shape)) for s in specs[1]],
    }
    with open(prefix + META_SUFFIX, "w") as f:
        json.dump(meta, f, indent=1)
    return meta

