"""The predictor interface, its Paddle Inference implementation, and batching of clips through it."""
import numpy as np

from ..errors import InferenceError
from .model_file import check_model_files
from .paddle_config import make_config


class Predictor:
    """An exported model on an inference engine (Paddle Inference here, ONNX Runtime in onnx.py).

    ``input_names`` / ``input_shapes``: the inputs in feed order, shapes as exported (-1 = dynamic
    dim, None = unknown); ``output_shapes`` likewise for the outputs. ``run(inputs)`` takes one
    array per input in that order and returns one float32 array per output.
    """

    backend = None
    model_file = None
    input_names, input_shapes, output_shapes = [], [], []

    def run(self, inputs):
        raise NotImplementedError

    @property
    def num_classes(self):
        """Classes of the first output [..., K], or None when its shape is not known."""
        shape = self.output_shapes[0] if self.output_shapes else None
        return shape[-1] if shape and shape[-1] > 0 else None


def first_line(exc, limit=200):
    """The first line of an engine's exception (Paddle's run on with a C++ stack), at most ``limit`` chars."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]


class PaddlePredictor(Predictor):
    """An exported .pdmodel / .json + .pdiparams on Paddle Inference.

    The files are checked first (check_model_files: a damaged program or another model's params
    give one line, not a crash). ``options`` go to make_config (device, threads, oneDNN,
    precision, layout, passes to drop). With TensorRT, the first input is taken as clips
    [B, T, ...] and ``trt_max_clips`` as the most clips one run holds.
    """

    backend = "paddle"

    def __init__(self, model_file, params_file, trt_max_clips=1, **options):
        import paddle.inference as paddle_infer

        program = check_model_files(model_file, params_file)
        if options.get("use_tensorrt"):
            name, shape = program.inputs[0]
            frames = shape[1] if shape and len(shape) > 1 and shape[1] > 0 else 1
            options.update(trt_batch=int(trt_max_clips) * frames,  # TensorRT's batch counts frames
                           trt_dynamic_input=(name, shape, trt_max_clips) if shape and shape[0] == -1 else None)
        config = make_config(model_file, params_file, **options)
        try:
            self.predictor = paddle_infer.create_predictor(config)
        except Exception as exc:
            raise InferenceError(f"{model_file}: cannot load the model ({first_line(exc)})") from None
        self.model_file = model_file
        self.input_names = self.predictor.get_input_names()
        declared = dict(program.inputs)
        self.input_shapes = [declared.get(name) for name in self.input_names]
        output_names = self.predictor.get_output_names()
        self.output_shapes = ([shape for _, shape in program.outputs]
                              if len(program.outputs) == len(output_names) else [None] * len(output_names))
        self._inputs = [self.predictor.get_input_handle(name) for name in self.input_names]
        self._outputs = [self.predictor.get_output_handle(name) for name in output_names]

    def run(self, inputs):
        """One float32 array per input (input_names order) -> one array per output."""
        if len(inputs) != len(self._inputs):
            raise ValueError(f"{self.model_file}: expected {len(self._inputs)} inputs, got {len(inputs)}")
        for handle, x in zip(self._inputs, inputs):
            x = np.ascontiguousarray(x, dtype=np.float32)
            handle.reshape(list(x.shape))
            handle.copy_from_cpu(x)
        self.predictor.run()
        return [handle.copy_to_cpu() for handle in self._outputs]


def check_input_shape(declared, expected, model_file, what=""):
    """Raise InferenceError when the exported input ``declared`` does not fit ``expected`` ([B, ...]).

    The batch dim is not compared here (a fixed export batch is handled by padding).
    """
    if declared is None:
        return
    if len(declared) != len(expected) or any(d != e for d, e in zip(declared[1:], expected[1:]) if d != -1):
        raise InferenceError(f"{model_file}: exported for input {list(declared)} but the config gives "
                             f"{['B'] + list(expected[1:])}{what}; re-export the model or use its config")


def run_batched(predictor, x, batch_size=None):
    """Run a one-input ``predictor`` on x [N, ...] in chunks -> its first output [N, K].

    A model exported with a fixed batch B gets chunks of exactly B rows (the last one zero-padded
    and trimmed); a dynamic one gets chunks of ``batch_size`` rows (all at once when None).
    """
    declared = predictor.input_shapes[0] if predictor.input_shapes else None
    fixed = declared[0] if declared and declared[0] > 0 else None
    step = fixed or batch_size or len(x)
    outs = []
    for start in range(0, len(x), step):
        chunk = x[start:start + step]
        n = len(chunk)
        if fixed and n < fixed:
            chunk = np.concatenate([chunk, np.zeros((fixed - n,) + chunk.shape[1:], chunk.dtype)])
        outs.append(predictor.run([chunk])[0][:n])
    return np.concatenate(outs, axis=0)
