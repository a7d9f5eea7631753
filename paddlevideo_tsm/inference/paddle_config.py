"""The one builder of ``paddle.inference.Config``: device, threads, oneDNN, precision, passes to drop.

Every Paddle Inference predictor of the project (offline clips, online frames, benchmarks) gets
its config here, so a workaround or a new precision is written once.
"""
from typing import NamedTuple

from ..errors import DeviceError, InferenceError
from ..utils.logger import get_logger
from ..utils.threads import available_cores


class OneDnnPrecision(NamedTuple):
    """How a CPU (oneDNN) precision is switched on: a Config method, its arguments, passes to drop."""
    method: str
    args: tuple = ()
    drop_passes: tuple = ()


# oneDNN int8 runs the convolutions only and keeps the residual add in fp32: with it fused into the
# conv as an int8 sum (conv_elementwise_add_onednn_fuse_pass) the residual stream is requantised at
# every block with a propagated, uncalibrated scale, which cost the demo model 0.6 points of top-1;
# without the fusion int8 gives what PTQ simulated (docs/low_precision.md)
INT8_OPS = frozenset({"conv2d", "fused_conv2d"})
INT8_DROP_PASSES = ("conv_elementwise_add_onednn_fuse_pass",)

# Precisions each engine runs, with what switches a config to it: None where fp32 needs nothing,
# a OneDnnPrecision on CPU, a paddle.inference.PrecisionType name for TensorRT. CPU int8 needs a
# model quantized by tools/quantize.py (model_precision checks that).
ENGINE_PRECISIONS = {
    "cpu": {"fp32": None, "bf16": OneDnnPrecision("enable_mkldnn_bfloat16"),
            "int8": OneDnnPrecision("enable_mkldnn_int8", (set(INT8_OPS),), INT8_DROP_PASSES)},
    "gpu": {"fp32": None},
    "tensorrt": {"fp32": "Float32", "fp16": "Half", "int8": "Int8"},
}
PRECISIONS = tuple(dict.fromkeys(p for table in ENGINE_PRECISIONS.values() for p in table))
# what to do instead, for a precision an engine does not run: the rest of '--precision X ...'
_INSTEAD = {
    ("fp16", "cpu"): "is a TensorRT precision (--use_gpu True --use_tensorrt True); on CPU use --precision "
                     "bf16 (CPUs with AVX512-BF16 or AMX) or --precision int8 (a model quantized by "
                     "tools/quantize.py)",
    ("bf16", "gpu"): "runs on CPU only (oneDNN): drop --use_gpu/--use_tensorrt, or use --precision fp16 "
                     "with TensorRT",
}
_INSTEAD[("bf16", "tensorrt")] = _INSTEAD[("bf16", "gpu")]

# Paddle Inference 3.3.1 on CPU mis-handles NHWC convolutions: with oneDNN a fed tensor reaches a
# concat as NCHW and the PIR onednn_placement_pass rejects the filters; without oneDNN these two
# fusions leave a broadcast shape error. NHWC exports run on CPU without oneDNN and without them.
NHWC_BROKEN_PASSES = ("conv_bn_fuse_pass", "conv_eltwiseadd_bn_fuse_pass")


def engine_name(use_gpu=False, use_tensorrt=False):
    """'cpu', 'gpu' or 'tensorrt': the engine a predictor request asks for."""
    return "tensorrt" if use_tensorrt else "gpu" if use_gpu else "cpu"


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


def check_precision(precision, engine):
    """Raise InferenceError unless ``engine`` ('cpu', 'gpu', 'tensorrt') runs ``precision``."""
    if precision not in PRECISIONS:
        raise InferenceError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision not in ENGINE_PRECISIONS[engine]:
        if (precision, engine) in _INSTEAD:
            raise InferenceError(f"--precision {precision} {_INSTEAD[precision, engine]}")
        where = [e for e, table in ENGINE_PRECISIONS.items() if precision in table]
        needs = " or ".join({"tensorrt": "--use_tensorrt True", "gpu": "--use_gpu True", "cpu": "the CPU"}[e]
                            for e in where)
        raise InferenceError(f"--precision {precision} needs {needs}; Paddle Inference on {engine.upper()} "
                             f"runs this model in {', '.join(ENGINE_PRECISIONS[engine])}")


def check_bf16_cpu():
    """DeviceError when this CPU cannot run oneDNN bf16 at all; a warning when Paddle emulates it.

    Without AVX-512 Paddle switches bf16 off and runs fp32 without a word: an explicit bf16
    request is refused rather than answered with fp32 under a bf16 label.
    """
    from .cpu_features import BF16_EMULATED, BF16_NONE, bf16_support, cpu_model

    support = bf16_support()
    if support == BF16_NONE:
        raise DeviceError(f"--precision bf16: this CPU ({cpu_model()}) has no AVX-512 and no avx512_bf16/"
                          f"amx_bf16, so Paddle would silently run fp32 instead; use --precision int8 with a "
                          f"model from tools/quantize.py (1.1-1.3x fp32, measured on an AVX2 AMD EPYC), or fp32")
    if support == BF16_EMULATED:
        get_logger().warning(f"--precision bf16: this CPU ({cpu_model()}) has AVX-512 but no avx512_bf16/"
                             f"amx_bf16: Paddle emulates bf16, expect it slower than fp32 (not measured: no "
                             f"such CPU was at hand); int8 (tools/quantize.py) is the faster option here")


def model_precision(precision, engine, quantized, model_file):
    """The precision to run ``model_file`` in -> 'fp32', 'bf16', 'fp16' or 'int8'.

    precision: as asked, or None for the model's own (int8 for a quantized model on CPU, else
    fp32); quantized: the program holds quantization ops (model_file.Program.quantized).
    InferenceError (one line) for int8 on CPU with a float model, bf16 with a quantized one.
    """
    if precision is None:
        precision = "int8" if quantized and engine == "cpu" else "fp32"
    check_precision(precision, engine)
    if precision == "int8" and engine == "cpu" and not quantized:
        raise InferenceError(f"--precision int8: {model_file} is a float model; quantize it first with "
                             f"python tools/quantize.py -c CONFIG --model_file {model_file} --calib_clips 32 "
                             f"-o OUT_DIR, then predict with the model it writes")
    if quantized and precision == "int8" and engine == "tensorrt":
        raise InferenceError(f"--precision int8 with TensorRT: {model_file} is already quantized "
                             f"(tools/quantize.py, for the CPU); give TensorRT the float export, it calibrates itself")
    if quantized and precision == "bf16":
        raise InferenceError(f"--precision bf16: {model_file} is quantized (int8); use the float export for bf16")
    if quantized and precision != "int8":
        get_logger().warning(f"{model_file}: a quantized model run in {precision} computes its quantization "
                             f"ops in float (what PTQ simulated), about 2x slower than the float model; "
                             f"leave out --precision to run it in int8")
    return precision


def _set_cpu_precision(config, precision, onednn):
    # fp32 is the default; bf16/int8 are rows of ENGINE_PRECISIONS["cpu"] (oneDNN)
    switch = ENGINE_PRECISIONS["cpu"][precision]
    if switch is None:
        return
    if not onednn:
        raise InferenceError(f"--precision {precision} on CPU needs oneDNN: --enable_mkldnn True and an NCHW export")
    getattr(config, switch.method)(*switch.args)
    # after the switch: enable_mkldnn_int8 rebuilds the CPU pass list
    for name in switch.drop_passes:
        config.delete_pass(name)


def make_config(model_file, params_file, use_gpu=False, use_tensorrt=False, precision="fp32",
                gpu_mem=8000, cpu_threads=None, enable_mkldnn=True, data_format="NCHW",
                drop_passes=(), trt_batch=None, trt_dynamic_input=None, trt_workspace=1 << 30,
                min_subgraph_size=3):
    """A paddle.inference.Config for the request (device and precision checked first).

    precision: as resolved by model_precision (int8 on CPU only for a quantized model).
    cpu_threads: CPU math threads (None: every core this process may use). data_format: the
    model's layout; NHWC on CPU runs without oneDNN and without NHWC_BROKEN_PASSES (a warning
    says so when oneDNN was asked for). drop_passes: more graph passes to delete.
    TensorRT: ``trt_batch`` is its max batch (frames the backbone sees per run);
    ``trt_dynamic_input`` = (input name, shape [-1, ...], max clips) sets the dynamic-shape range.
    """
    import paddle.inference as paddle_infer

    engine = engine_name(use_gpu, use_tensorrt)
    check_precision(precision, engine)  # first: a precision the engine never runs is the user's to fix
    check_device(use_gpu, use_tensorrt)
    if engine == "cpu" and precision == "bf16":
        check_bf16_cpu()
    config = paddle_infer.Config(model_file, params_file)
    config.disable_glog_info()
    nhwc_cpu = engine == "cpu" and data_format == "NHWC"
    for name in tuple(drop_passes) + (NHWC_BROKEN_PASSES if nhwc_cpu else ()):
        config.delete_pass(name)
    if model_file.endswith(".pdmodel"):
        # with a PIR .json model Paddle 3.3 rejects this pass ('Not find ... memory_optimize_pass')
        config.enable_memory_optim()
    if engine != "cpu":
        config.enable_use_gpu(int(gpu_mem), 0)
        if engine == "tensorrt":
            precision_type = getattr(paddle_infer.PrecisionType, ENGINE_PRECISIONS["tensorrt"][precision])
            config.enable_tensorrt_engine(
                workspace_size=int(trt_workspace), max_batch_size=int(trt_batch or 1),
                min_subgraph_size=int(min_subgraph_size), precision_mode=precision_type,
                use_static=False, use_calib_mode=(precision == "int8"))
            if trt_dynamic_input is not None:
                name, shape, clips = trt_dynamic_input
                rest = list(shape[1:])
                config.set_trt_dynamic_shape_info({name: [1] + rest}, {name: [int(clips)] + rest},
                                                  {name: [int(clips)] + rest})
        return config
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(int(cpu_threads or available_cores()))
    onednn = enable_mkldnn and not nhwc_cpu
    if onednn:
        config.enable_mkldnn()
        config.set_mkldnn_cache_capacity(10)  # a few batch sizes; bounds cached kernels
    else:
        config.disable_mkldnn()  # oneDNN is on by default in Paddle 3 CPU builds
        if nhwc_cpu and enable_mkldnn:
            get_logger().warning(f"{model_file}: NHWC model on CPU: running without oneDNN and conv+BN "
                                 f"fusion (Paddle 3.3.1 mis-handles NHWC there); export NCHW for CPU speed")
    _set_cpu_precision(config, precision, onednn)
    return config
