"""ONNX: convert an exported Paddle model with paddle2onnx, and run .onnx files with ONNX Runtime."""
import os

import numpy as np

from ..errors import InferenceError
from .predictor import Predictor, first_line

OPSET = 13


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
    return save_file


class OnnxRuntimePredictor(Predictor):
    """An .onnx model on ONNX Runtime (CPU); the Predictor interface (``run(inputs) -> outputs``)."""

    backend = "onnxruntime"

    def __init__(self, onnx_file, cpu_threads=None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise InferenceError("--backend onnxruntime needs onnxruntime, which is not installed "
                                 "(pip install onnxruntime)") from None
        if not onnx_file:
            raise InferenceError("--backend onnxruntime needs --onnx_file")
        if not os.path.isfile(onnx_file):
            raise InferenceError(f"{onnx_file}: ONNX file not found")
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
