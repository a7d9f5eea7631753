"""Precisions in the benchmarks that run a predictor: the option, whether this CPU runs each one,
and the int8 model of an export (Paddle's PTQ on random clips: the speed does not depend on
what the calibration saw; accuracy is tools/quantize.py's business)."""
import os

import numpy as np

from .. import cli_args

BENCH_PRECISIONS = ("fp32", "bf16", "int8")


def add_precision_args(parser, default="fp32"):
    """``--precisions`` (comma list of fp32, bf16, int8) and ``--calib_clips`` for the int8 models."""
    parser.add_argument("--precisions", type=cli_args.comma_list(choices=BENCH_PRECISIONS), default=default,
                        help="comma list of fp32, bf16 (oneDNN, AVX512-BF16/AMX CPUs), int8 (the export "
                             f"quantized by Paddle's PTQ) for the exported predictors (default {default})")
    parser.add_argument("--calib_clips", type=cli_args.int_at_least(1), default=2,
                        help="random clips calibrating each int8 model (default 2; speed only)")


def unavailable(precision, engine="paddle"):
    """Why ``precision`` cannot run on ``engine`` ('paddle' or 'onnxruntime') here (one line), or None."""
    from ..errors import DeviceError
    from ..inference.paddle_config import check_bf16_cpu

    if precision == "bf16":
        if engine != "paddle":
            return "ONNX Runtime has no bf16 CPU path here (bf16 is Paddle Inference's oneDNN)"
        try:
            check_bf16_cpu()
        except DeviceError as exc:
            return str(exc)
    return None


def random_clips(shape, count, seed=1):
    """``count`` random float32 clips of ``shape`` ([T, C, H, W] or [T, H, W, C]) -> [count, ...]."""
    return np.random.default_rng(seed).standard_normal([count] + list(shape)).astype(np.float32)


def clip_model_feeds(input_name, clip_shape, count):
    """Calibration feeds of a fixed-batch clip export (``clip_shape`` [B, T, ...]): ``count`` runs."""
    from ..inference.quantize import clip_feeds

    batch = clip_shape[0]
    return clip_feeds(input_name, batch, random_clips(clip_shape[1:], count * batch))


def int8_model(model_file, params_file, feeds):
    """The quantized model of an export, written next to it as NAME_int8.* -> (model file, params file)."""
    from ..inference.quantize import quantize_paddle

    written = quantize_paddle(model_file, params_file, feeds, os.path.splitext(model_file)[0] + "_int8.pdmodel")
    return written[0], written[1]


def int8_onnx(model_file, params_file, feeds):
    """The ONNX Runtime int8 model of an export, written next to it as NAME_int8.onnx."""
    from ..inference.quantize import quantize_onnx

    return quantize_onnx(model_file, params_file, feeds, os.path.splitext(model_file)[0] + "_int8.onnx")
