"""Paddle Inference predictor for an exported recognizer, with CPU/GPU/TensorRT options."""
import numpy as np

from ..utils.logger import get_logger
from ..errors import DeviceError, InferenceError
from .model_file import check_model_files, read_input_shapes

PRECISIONS = ("fp32", "fp16", "int8")


def check_device(use_gpu=False, use_tensorrt=False):
    """Raise DeviceError (one line) when this Paddle build cannot give the requested device/engine.

    Paddle itself only logs and falls back to CPU for a GPU request on a CPU build, and raises an
    internal PreconditionNotMet error for TensorRT.
    """
    import paddle
    import paddle.inference as paddle_infer

    if (use_gpu or use_tensorrt) and not paddle.is_compiled_with_cuda():
        flag = "--use_tensorrt" if use_tensorrt else "--use_gpu"
        raise DeviceError(f"{flag} True: this PaddlePaddle {paddle.__version__} build has no CUDA "
                          "(paddle.is_compiled_with_cuda() is False); install a GPU build of "
                          "PaddlePaddle or run with --use_gpu False --use_tensorrt False")
    if use_tensorrt and not use_gpu:
        raise DeviceError("--use_tensorrt True needs --use_gpu True (TensorRT runs on the GPU)")
    if use_tensorrt and tuple(paddle_infer.get_trt_compile_version()) == (0, 0, 0):
        raise DeviceError(f"--use_tensorrt True: this PaddlePaddle {paddle.__version__} build was "
                          "compiled without TensorRT; install a TensorRT-enabled GPU build")


def check_input_shape(declared, expected, model_file, what=""):
    """Raise InferenceError when the exported input ``declared`` does not fit ``expected`` ([B, ...]).

    The batch dim is not compared here (a fixed export batch is handled by padding).
    """
    if declared is None:
        return
    if len(declared) != len(expected) or any(d != e for d, e in zip(declared[1:], expected[1:]) if d != -1):
        raise InferenceError(f"{model_file}: exported for input {list(declared)} but the config gives "
                             f"{['B'] + list(expected[1:])}{what}; re-export the model or use its config")


def _precision_type(precision):
    import paddle.inference as paddle_infer

    return {"fp32": paddle_infer.PrecisionType.Float32, "fp16": paddle_infer.PrecisionType.Half,
            "int8": paddle_infer.PrecisionType.Int8}[precision]


def make_config(model_file, params_file, use_gpu=False, use_tensorrt=False, precision="fp32",
                gpu_mem=8000, batch_size=1, num_seg=8, input_shape=None, cpu_threads=None,
                enable_mkldnn=True, trt_workspace=1 << 30, min_subgraph_size=3, input_name=None,
                data_format="NCHW"):
    """A paddle.inference.Config for the options (devices checked first, see check_device).

    TensorRT: max_batch_size = batch_size * num_seg (frames the backbone sees; batch_size counts
    clips = videos x views); with a dynamic batch in ``input_shape`` the dynamic-shape ranges
    cover 1..batch_size clips. ``data_format``
    is the model's layout (NHWC turns graph optimisation off on CPU, see below).
    """
    import paddle.inference as paddle_infer

    if precision not in PRECISIONS:
        raise InferenceError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    check_device(use_gpu, use_tensorrt)
    if precision != "fp32" and not use_tensorrt:
        raise InferenceError(f"--precision {precision} needs --use_tensorrt True; "
                             "Paddle Inference on CPU/plain GPU runs this model in fp32")
    config = paddle_infer.Config(model_file, params_file)
    config.disable_glog_info()
    # Paddle 3.3.1 on CPU mis-handles NHWC convs in its graph fusions and oneDNN kernels (old-IR
    # conv fusions, PIR onednn_placement_pass: "input's channels should be equal to filter's
    # channels"); only the unoptimised plain-CPU path runs NHWC models correctly
    nhwc_cpu = not use_gpu and data_format == "NHWC"
    config.switch_ir_optim(not nhwc_cpu)
    if model_file.endswith(".pdmodel"):
        # with a PIR .json model Paddle 3.3 rejects this pass ('Not find ... memory_optimize_pass')
        config.enable_memory_optim()
    if use_gpu:
        config.enable_use_gpu(int(gpu_mem), 0)
        if use_tensorrt:
            config.enable_tensorrt_engine(
                workspace_size=int(trt_workspace), max_batch_size=int(batch_size) * int(num_seg),
                min_subgraph_size=int(min_subgraph_size), precision_mode=_precision_type(precision),
                use_static=False, use_calib_mode=(precision == "int8"))
            if input_shape is not None and input_shape[0] == -1 and input_name:
                rest = list(input_shape[1:])
                config.set_trt_dynamic_shape_info({input_name: [1] + rest},
                                                  {input_name: [int(batch_size)] + rest},
                                                  {input_name: [int(batch_size)] + rest})
    else:
        config.disable_gpu()
        if cpu_threads:
            config.set_cpu_math_library_num_threads(int(cpu_threads))
        if enable_mkldnn and not nhwc_cpu:
            config.enable_mkldnn()
            config.set_mkldnn_cache_capacity(10)  # a few batch sizes; bounds cached kernels
        else:
            config.disable_mkldnn()  # oneDNN is on by default in Paddle 3 CPU builds
            if nhwc_cpu and enable_mkldnn:
                get_logger().warning("NHWC model on CPU: oneDNN and graph optimisation are off "
                                     "(Paddle 3.3.1 fuses NHWC convs wrongly); export NCHW for CPU speed")
    return config


class PaddlePredictor:
    """An exported model on Paddle Inference: ``run(x [B, ...] float32) -> scores [B, K]``.

    ``input_shape`` is the exported input shape (-1 = dynamic), None when it cannot be read.
    """

    backend = "paddle"

    def __init__(self, model_file, params_file, **options):
        check_model_files(model_file, params_file)
        declared = read_input_shapes(model_file)
        self.input_shape = list(declared[0][1]) if declared and declared[0][1] else None
        options.setdefault("input_shape", self.input_shape)
        options.setdefault("input_name", declared[0][0] if declared else None)
        config = make_config(model_file, params_file, **options)
        import paddle.inference as paddle_infer
        try:
            self.predictor = paddle_infer.create_predictor(config)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InferenceError(f"{model_file}: cannot load the model ({first[:200]})") from None
        self.model_file = model_file
        self.input_name = self.predictor.get_input_names()[0]
        self._input = self.predictor.get_input_handle(self.input_name)
        self._output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def run(self, x):
        """x float32 [B, ...] -> float32 scores [B, K]."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        self._input.reshape(list(x.shape))
        self._input.copy_from_cpu(x)
        self.predictor.run()
        return self._output.copy_to_cpu()


def run_batched(predictor, x, batch_size=None):
    """Run ``predictor`` on x [N, ...] in chunks -> scores [N, K].

    A model exported with a fixed batch B gets chunks of exactly B rows (the last one zero-padded
    and trimmed); a dynamic one gets chunks of ``batch_size`` rows (all at once when None).
    """
    declared = getattr(predictor, "input_shape", None)
    fixed = declared[0] if declared and declared[0] > 0 else None
    step = fixed or batch_size or len(x)
    outs = []
    for start in range(0, len(x), step):
        chunk = x[start:start + step]
        n = len(chunk)
        if fixed and n < fixed:
            chunk = np.concatenate([chunk, np.zeros((fixed - n,) + chunk.shape[1:], chunk.dtype)])
        outs.append(predictor.run(chunk)[:n])
    return np.concatenate(outs, axis=0)
