"""The one check of exported model files: the program parses, and its parameters fit the params file.

Paddle Inference itself segfaults on a ``.pdmodel`` that is not a program, and loads parameters of
another model without a word (it fails later, inside a kernel), so both are read here first:
the program for its inputs, outputs and persistable tensors, the ``.pdiparams`` file for the
shapes it holds (tensor headers only; the data is skipped).
"""
import json
import os
import struct
from typing import List, NamedTuple, Optional, Tuple

from ..errors import InferenceError

MODEL_SUFFIXES = (".pdmodel", ".json")

Shape = Optional[List[int]]

# op types a post-training-quantized program holds (Paddle's PTQ: fake_* ops with onnx_format=False,
# quantize_linear/dequantize_linear with onnx_format=True); a float export has none
QUANT_OP_PREFIXES = ("fake_quantize_", "fake_channel_wise_quantize", "fake_dequantize",
                     "fake_channel_wise_dequantize", "quantize_linear", "dequantize_linear")


class Program(NamedTuple):
    """What predictors need to know of an exported program.

    inputs / outputs: [(name, declared shape with -1 for dynamic dims)] in feed / fetch order;
    params: [(name, shape)] of the persistable tensors, sorted by name (the params file's order);
    quant_ops: how many quantization ops it holds (> 0: quantized by tools/quantize.py or another PTQ).
    """
    inputs: List[Tuple[str, Shape]]
    outputs: List[Tuple[str, Shape]]
    params: List[Tuple[str, List[int]]]
    quant_ops: int = 0

    @property
    def quantized(self):
        return self.quant_ops > 0


def params_file_for(model_file):
    """``dir/NAME.pdmodel`` or ``dir/NAME.json`` -> ``dir/NAME.pdiparams``."""
    return os.path.splitext(model_file)[0] + ".pdiparams"


def _parse_pdmodel(path):
    """``.pdmodel`` -> its ProgramDesc protobuf; InferenceError when it is not one."""
    from google.protobuf.message import DecodeError
    from paddle.base.proto import framework_pb2

    prog = framework_pb2.ProgramDesc()
    with open(path, "rb") as f:
        data = f.read()
    try:
        prog.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        raise InferenceError(f"{path}: not a Paddle program (not a valid ProgramDesc protobuf); "
                             f"re-export the model") from None
    if not prog.blocks:
        raise InferenceError(f"{path}: not a Paddle program (no blocks); re-export the model")
    return prog


def _pdmodel_program(path):
    prog = _parse_pdmodel(path)
    block = prog.blocks[0]
    dims = {v.name: list(v.type.dense_tensor.tensor.dims) for v in block.vars}

    def linked(op_type, slot):
        # feed/fetch ops in their 'col' order -> [(variable name, its dims)]
        found = []
        for op in block.ops:
            if op.type == op_type:
                col = next((a.i for a in op.attrs if a.name == "col"), len(found))
                name = next((arg for var in getattr(op, slot) for arg in var.arguments), None)
                found.append((col, name, dims.get(name)))
        return [(name, shape) for _, name, shape in sorted(found, key=lambda item: item[0])]

    params = sorted((v.name, list(v.type.dense_tensor.tensor.dims)) for v in block.vars
                    if v.persistable and v.name not in ("feed", "fetch"))
    quant_ops = sum(op.type.startswith(QUANT_OP_PREFIXES) for b in prog.blocks for op in b.ops)
    return Program(linked("feed", "outputs"), linked("fetch", "inputs"), params, quant_ops)


def _json_ops(node):
    # PIR json nests ops inside regions -> blocks -> ops; walk everything
    if isinstance(node, dict):
        if isinstance(node.get("ops"), list):
            yield from (op for op in node["ops"] if isinstance(op, dict))
        for value in node.values():
            yield from _json_ops(value)
    elif isinstance(node, list):
        for value in node:
            yield from _json_ops(value)


def _json_attrs(op):
    return {a.get("N"): a.get("AT", {}).get("D") for a in op.get("A", []) if isinstance(a, dict)}


def _json_out_shape(op):
    out = op.get("O")
    out = out[0] if isinstance(out, list) and out else out
    try:
        return list(out["TT"]["D"][1])
    except (KeyError, IndexError, TypeError):
        return None


def _parse_pir_json(path):
    """PIR ``.json`` -> its parsed document; InferenceError when it is not a PIR program."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InferenceError(f"{path}: not a Paddle PIR program (not valid JSON: {str(exc)[:120]}); "
                             f"re-export the model") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("program"), dict) \
            or (doc.get("base_code") or {}).get("magic") != "pir":
        raise InferenceError(f"{path}: not a Paddle PIR program (no 'program' with base_code magic 'pir'); "
                             f"re-export the model")
    return doc


def _json_program(path):
    doc = _parse_pir_json(path)
    inputs, outputs, params, quant_ops = [], [], [], 0
    for op in _json_ops(doc["program"]):
        kind = str(op.get("#", ""))
        quant_ops += kind.rsplit(".", 1)[-1].startswith(QUANT_OP_PREFIXES)
        if kind.endswith(".data"):
            attrs = _json_attrs(op)
            inputs.append((attrs.get("name"), attrs.get("shape")))
        elif kind.endswith(".fetch"):
            attrs = _json_attrs(op)
            outputs.append((attrs.get("col", len(outputs)), attrs.get("name"), _json_out_shape(op)))
        elif kind == "p":  # a parameter: 'A' is [.., .., .., name]
            attrs = op.get("A")
            if isinstance(attrs, list) and attrs and isinstance(attrs[-1], str):
                params.append((attrs[-1], _json_out_shape(op)))
    outputs = [(name, shape) for _, name, shape in sorted(outputs, key=lambda o: o[0])]
    return Program(inputs, outputs, sorted(params), quant_ops)


def leaky_relu_slopes(model_file):
    """Exported ``.pdmodel`` / PIR ``.json`` -> the negative slope of each leaky_relu op, in program order.

    None where the op does not store it. (The old IR names it ``alpha``, a float; PIR ``negative_slope``,
    a double since Paddle 3.3.)"""
    if model_file.endswith(".pdmodel"):
        return [next((a.f for a in op.attrs if a.name == "alpha"), None)
                for block in _parse_pdmodel(model_file).blocks for op in block.ops if op.type == "leaky_relu"]
    doc = _parse_pir_json(model_file)
    slopes = [_json_attrs(op).get("negative_slope") for op in _json_ops(doc["program"])
              if str(op.get("#", "")).endswith(".leaky_relu")]
    return [None if slope is None else float(slope) for slope in slopes]


def read_program(model_file):
    """Exported ``.pdmodel`` / PIR ``.json`` -> Program; InferenceError (one line) when it is not one."""
    program = _pdmodel_program(model_file) if model_file.endswith(".pdmodel") else _json_program(model_file)
    if not program.inputs or not program.outputs:
        raise InferenceError(f"{model_file}: not an inference program (no inputs or no outputs); "
                             f"export it with tools/export_model.py")
    return program


_MAX_LOD_LEVELS = 8  # parameters have none; more means this is not a tensor header
# bytes per element of each VarType data type (framework.proto)
_DTYPE_BYTES = {0: 1, 1: 2, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8, 20: 1, 21: 1, 22: 2, 23: 8, 24: 16, 32: 1, 33: 1,
                36: 2, 37: 4, 38: 8}


def read_params_shapes(params_file):
    """``.pdiparams`` (Paddle's combined tensor file) -> [shape] of its tensors in file order, or
    None for a data type this reader does not know (then no check). InferenceError when damaged.

    Each tensor: uint32 version, uint64 LoD levels (each a uint64 byte count + data), uint32
    version, int32 descriptor size, TensorDesc protobuf (data type, dims), then the raw data.
    """
    from paddle.base.proto import framework_pb2

    size = os.path.getsize(params_file)
    shapes = []
    with open(params_file, "rb") as f:
        while f.tell() < size:
            try:
                f.read(4)
                (levels,) = struct.unpack("<Q", f.read(8))
                if levels > _MAX_LOD_LEVELS:
                    raise ValueError(levels)
                for _ in range(levels):
                    (nbytes,) = struct.unpack("<Q", f.read(8))
                    f.seek(nbytes, os.SEEK_CUR)
                f.read(4)
                (desc_size,) = struct.unpack("<i", f.read(4))
                desc = framework_pb2.VarType.TensorDesc()
                desc.ParseFromString(f.read(desc_size))
            except Exception:  # struct.error on a short read, DecodeError on a damaged descriptor, ValueError
                raise InferenceError(f"{params_file}: not a Paddle parameters file, or damaged "
                                     f"(tensor {len(shapes) + 1} unreadable)") from None
            if desc.data_type not in _DTYPE_BYTES:
                return None
            count = 1
            for d in desc.dims:
                count *= d
            f.seek(count * _DTYPE_BYTES[desc.data_type], os.SEEK_CUR)
            shapes.append(list(desc.dims))
        end = f.tell()
    if not shapes:
        raise InferenceError(f"{params_file}: empty parameters file; re-export the model")
    if end != size:
        raise InferenceError(f"{params_file}: damaged parameters file (truncated in tensor {len(shapes)})")
    return shapes


def _same_shape(declared, stored):
    # Paddle's PTQ (onnx_format=True) saves its scale tensors with other unit dims than the program
    # declares ([] for [1], [1, C] for [C]): the same values in the same order, and Paddle loads them
    return [d for d in declared if d != 1] == [d for d in stored if d != 1]


def check_params_fit(program, model_file, params_file):
    """InferenceError naming both files unless ``params_file`` holds the program's parameters."""
    want = program.params
    if not want:  # no parameter recognised: a program format this reader does not know, not checked
        return
    shapes = read_params_shapes(params_file)
    if shapes is None:
        return
    if len(shapes) != len(want):
        raise InferenceError(f"{params_file}: holds {len(shapes)} tensors but the model {model_file} has "
                             f"{len(want)} parameters: the two files come from different exports")
    for (name, shape), got in zip(want, shapes):
        if shape is not None and not _same_shape(shape, got):
            raise InferenceError(f"{params_file}: parameter {name} has shape {got} but the model "
                                 f"{model_file} needs {list(shape)}: the two files come from different exports")


def check_model_files(model_file, params_file):
    """Both files exist, the program parses and its parameters fit the params file -> Program.

    Raises InferenceError (one line naming the file, or both files) otherwise.
    """
    if not model_file:
        raise InferenceError("--model_file is required for the paddle backend")
    if not os.path.isfile(model_file):
        raise InferenceError(f"{model_file}: model file not found")
    if not model_file.endswith(MODEL_SUFFIXES):
        raise InferenceError(f"{model_file}: expected a .pdmodel or .json model file")
    if not params_file or not os.path.isfile(params_file):
        raise InferenceError(f"{params_file}: params file not found (model {model_file})")
    program = read_program(model_file)
    check_params_fit(program, model_file, params_file)
    return program
