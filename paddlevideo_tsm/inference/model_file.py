"""Locate exported model files and read the input shape they were exported with."""
import json
import os

from ..errors import InferenceError

MODEL_SUFFIXES = (".pdmodel", ".json")


def params_file_for(model_file):
    """``dir/NAME.pdmodel`` or ``dir/NAME.json`` -> ``dir/NAME.pdiparams``."""
    return os.path.splitext(model_file)[0] + ".pdiparams"


def check_model_files(model_file, params_file):
    """Raise InferenceError (one line) unless both files exist and the model suffix is known."""
    if not model_file:
        raise InferenceError("--model_file is required for the paddle backend")
    if not os.path.isfile(model_file):
        raise InferenceError(f"{model_file}: model file not found")
    if not model_file.endswith(MODEL_SUFFIXES):
        raise InferenceError(f"{model_file}: expected a .pdmodel or .json model file")
    if not params_file or not os.path.isfile(params_file):
        raise InferenceError(f"{params_file}: params file not found (model {model_file})")


def _pdmodel_inputs(path):
    from paddle.base.proto import framework_pb2

    prog = framework_pb2.ProgramDesc()
    with open(path, "rb") as f:
        prog.ParseFromString(f.read())
    block = prog.blocks[0]
    feeds = [op.outputs[0].arguments[0] for op in block.ops if op.type == "feed"]
    dims = {v.name: list(v.type.dense_tensor.tensor.dims) for v in block.vars}
    return [(name, dims.get(name)) for name in feeds]


def _iter_ops(node):
    # PIR json nests ops inside regions -> blocks -> ops; walk everything
    if isinstance(node, dict):
        if "ops" in node and isinstance(node["ops"], list):
            for op in node["ops"]:
                yield op
        for value in node.values():
            yield from _iter_ops(value)
    elif isinstance(node, list):
        for value in node:
            yield from _iter_ops(value)


def _json_inputs(path):
    with open(path, encoding="utf-8") as f:
        program = json.load(f)
    found = []
    for op in _iter_ops(program.get("program", program)):
        if not isinstance(op, dict) or not str(op.get("#", "")).endswith(".data"):
            continue
        attrs = {a.get("N"): a.get("AT", {}).get("D") for a in op.get("A", []) if isinstance(a, dict)}
        found.append((attrs.get("name"), attrs.get("shape")))
    return found


def read_input_shapes(model_file):
    """Exported model -> list of (input name, declared shape with -1 for dynamic dims).

    Returns [] when the file cannot be parsed (the caller then skips the shape check).
    """
    try:
        if model_file.endswith(".pdmodel"):
            return _pdmodel_inputs(model_file)
        return _json_inputs(model_file)
    except Exception:  # an unknown format version: no check rather than a false alarm
        return []
