"""ONNX: convert an exported Paddle model with paddle2onnx, and run .onnx files with ONNX Runtime."""
import os

import numpy as np

from ..errors import InferenceError
from .model_file import leaky_relu_slopes
from .predictor import Predictor, first_line

OPSET = 13
# op types of a quantized ONNX graph (QOperator: QLinearConv ..., QDQ: QuantizeLinear/DequantizeLinear)
QUANT_OP_PREFIXES = ("QuantizeLinear", "DequantizeLinear", "QLinear", "QGemm", "ConvInteger", "MatMulInteger",
                     "DynamicQuantizeLinear")
ORT_PRECISIONS = ("fp32", "int8")


def convert_to_onnx(model_file, params_file, save_file, opset_version=OPSET):
    """Write ``save_file`` (.onnx) from an exported .pdmodel/.json + .pdiparams; returns its path."""
    try:
        import paddle2onnx
    except ImportError:
        raise InferenceError("--onnx needs paddle2onnx, which is not installed (pip install paddle2onnx)") from None
    os.makedirs(os.path.dirname(os.path.abspath(save_file)), exist_ok=True)
    try:
        # optimize_tool None: the default optimiser tries to pip-install packages at run time
        paddle2onnx.export(model_file, params_file, save_file=save_file, opset_version=opset_version,
                           optimize_tool="None", verbose=False)
    except Exception as exc:
        raise InferenceError(f"{model_file}: paddle2onnx failed: {first_line(exc, None)}") from None
    if not os.path.isfile(save_file):
        raise InferenceError(f"{save_file}: paddle2onnx wrote no file (model {model_file})")
    restore_leaky_relu_slopes(save_file, leaky_relu_slopes(model_file))
    return save_file


def restore_leaky_relu_slopes(onnx_file, slopes):
    """Write the Paddle program's leaky_relu ``slopes`` (program order) into the LeakyRelu nodes of
    ``onnx_file`` (graph order, the order paddle2onnx emits them); returns how many it changed.

    paddle2onnx 2.1 reads the slope as a float attribute 'alpha', but Paddle >= 3.3 programs hold a
    double 'negative_slope': the node gets an uninitialised alpha (0.0, -7e-14 or garbage that
    overflows), docs/paddle_repro/p2o_leaky_relu_alpha.py. None in ``slopes`` leaves a node alone.
    """
    if not slopes:
        return 0
    import onnx  # paddle2onnx's own dependency

    model = onnx.load(onnx_file)
    nodes = [n for n in model.graph.node if n.op_type == "LeakyRelu"]
    if len(nodes) != len(slopes):
        raise InferenceError(f"{onnx_file}: paddle2onnx wrote {len(nodes)} LeakyRelu nodes for the model's "
                             f"{len(slopes)} leaky_relu ops; cannot check their slopes")
    changed = 0
    for node, slope in zip(nodes, slopes):
        alpha = next((a for a in node.attribute if a.name == "alpha"), None)
        if slope is None or (alpha is not None and np.float32(alpha.f) == np.float32(slope)):
            continue
        if alpha is None:
            node.attribute.append(onnx.helper.make_attribute("alpha", float(slope)))
        else:
            alpha.f = float(slope)
        changed += 1
    if changed:
        onnx.save(model, onnx_file)
    return changed


def onnx_quant_ops(onnx_file):
    """How many quantization ops the graph of ``onnx_file`` holds (None when the onnx package is missing)."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        graph = onnx.load(onnx_file, load_external_data=False).graph
    except Exception as exc:
        raise InferenceError(f"{onnx_file}: not an ONNX model ({first_line(exc)})") from None
    return sum(node.op_type.startswith(QUANT_OP_PREFIXES) for node in graph.node)


def onnx_precision(precision, onnx_file):
    """The precision ``onnx_file`` runs in: its own ('int8' when quantized, else 'fp32'), checked
    against the requested ``precision`` (None: not asked) -> InferenceError (one line) on a mismatch."""
    if precision not in (None,) + ORT_PRECISIONS:
        raise InferenceError(f"--precision {precision}: --backend onnxruntime runs fp32, or int8 with an .onnx "
                             f"from tools/quantize.py --onnx; bf16 runs on --backend paddle (CPUs with "
                             f"AVX512-BF16 or AMX), fp16 on TensorRT")
    quant_ops = onnx_quant_ops(onnx_file)
    if precision == "int8" and quant_ops == 0:
        raise InferenceError(f"--precision int8: {onnx_file} is a float model; quantize its Paddle export with "
                             f"python tools/quantize.py -c CONFIG --model_file M.pdmodel --onnx -o OUT_DIR")
    if quant_ops is None:
        return precision or "fp32"
    return "int8" if quant_ops else "fp32"


class OnnxRuntimePredictor(Predictor):
    """An .onnx model on ONNX Runtime (CPU); the Predictor interface (``run(inputs) -> outputs``).

    ``precision`` as requested (None: the model's own); ``self.precision`` is what runs.
    """

    backend = "onnxruntime"

    def __init__(self, onnx_file, cpu_threads=None, precision=None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise InferenceError("--backend onnxruntime needs onnxruntime, which is not installed "
                                 "(pip install onnxruntime)") from None
        if not onnx_file:
            raise InferenceError("--backend onnxruntime needs --onnx_file")
        if not os.path.isfile(onnx_file):
            raise InferenceError(f"{onnx_file}: ONNX file not found")
        self.precision = onnx_precision(precision, onnx_file)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # unused-initializer warnings of paddle2onnx models are noise
        if cpu_threads:
            options.intra_op_num_threads = int(cpu_threads)
        try:
            self.session = ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise InferenceError(f"{onnx_file}: cannot load ONNX model ({first_line(exc, None)})") from None
        # symbolic dims (the dynamic batch) become -1, like the Paddle export's spec
        def shape(arg):
            return [d if isinstance(d, int) else -1 for d in arg.shape]
        self.input_names = [arg.name for arg in self.session.get_inputs()]
        self.input_shapes = [shape(arg) for arg in self.session.get_inputs()]
        self.output_shapes = [shape(arg) for arg in self.session.get_outputs()]
        self.model_file = onnx_file

    def run(self, inputs):
        """One float32 array per input (input_names order) -> one array per output."""
        feed = {name: np.ascontiguousarray(x, dtype=np.float32) for name, x in zip(self.input_names, inputs)}
        return self.session.run(None, feed)
