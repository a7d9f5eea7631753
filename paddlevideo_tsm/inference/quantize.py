"""Post-training int8 quantization of an exported model, calibrated on given inputs.

``quantize_paddle``: Paddle's PTQ (abs_max activations, per-channel weights) on a ``.pdmodel``
export -> a quantized ``.pdmodel``/``.pdiparams`` that Paddle Inference runs in oneDNN int8 (the
predictor recognises it by its quantization ops). ``quantize_onnx``: ONNX Runtime's static
quantization of the paddle2onnx conversion -> an int8 ``.onnx`` for ``--backend onnxruntime``
(paddle2onnx cannot convert a Paddle-quantized model, so each engine calibrates its own).
Neither overwrites a file: the results are written to a temporary folder next to the target and
linked into place only where no file of that name exists.
"""
import json
import os
import shutil
import tempfile

import numpy as np

from ..errors import InferenceError
from ..online.export import META_SUFFIX
from .held_output import held_output
from .predictor import first_line

# abs_max with 8-32 calibration clips kept the demo model's top-1; 'hist' did as well, 'avg' and
# 'mse' lost 1-45 points, 'KL' took minutes for a 20-conv model (docs/low_precision.md)
ALGO = "abs_max"
QUANTIZABLE_OPS = ("conv2d", "matmul_v2", "matmul")


def clip_feeds(input_name, batch, clips):
    """Calibration feeds for a clip model: float32 clips [N, T, ...] -> [{input_name: [B, T, ...]}]
    in runs of the export's fixed ``batch`` B (a dynamic batch, -1: one clip a run); a last
    partial run is left out (it would need padding that skews the ranges)."""
    step = batch if batch and batch > 0 else 1
    clips = np.ascontiguousarray(clips, dtype=np.float32)
    return [{input_name: clips[i:i + step]} for i in range(0, len(clips) - step + 1, step)]


def stream_feeds(model_file, params_file, clips, cpu_threads=None):
    """Calibration feeds for an online (per-frame) model: each clip [T, C, H, W] streamed frame by
    frame through the float model from zero caches, recording every run's inputs (the frame and
    the caches the float model carried to it) -> [{input name: array}]."""
    from ..online.predictor import OnlinePredictor

    stream = OnlinePredictor(model_file, params_file, cpu_threads, precision="fp32")
    names = stream.engine.input_names
    feeds = []
    for clip in clips:
        stream.reset()
        for frame in clip:
            frame = np.ascontiguousarray(frame[None], dtype=np.float32)
            inputs = stream.engine_inputs(frame)
            feeds.append(dict(zip(names, inputs)))
            stream.step(frame)
    return feeds


def _link_new(src, dst):
    """Move ``src`` to ``dst`` unless ``dst`` exists (then InferenceError; nothing is replaced)."""
    try:
        os.link(src, dst)  # fails on an existing dst: no window in which another file is replaced
    except FileExistsError:
        raise InferenceError(f"{dst}: exists; tools/quantize.py never overwrites a file: remove it "
                             f"or choose another output folder") from None
    except OSError:  # a file system without hard links
        if os.path.exists(dst):
            raise InferenceError(f"{dst}: exists; tools/quantize.py never overwrites a file") from None
        shutil.copyfile(src, dst)
    os.unlink(src)


def quantize_paddle(model_file, params_file, feeds, out_model_file):
    """Paddle PTQ of ``model_file`` (.pdmodel) calibrated on ``feeds`` ([{input name: array}], one
    run each) -> [quantized .pdmodel, its .pdiparams (+ .online.json for an online export)],
    written at ``out_model_file``.

    onnx_format=True stores the weights as int8 (a quarter of the float params file).
    """
    import paddle
    from paddle.static.quantization import PostTrainingQuantization

    out_dir = os.path.dirname(os.path.abspath(out_model_file))
    out_params = os.path.splitext(out_model_file)[0] + ".pdiparams"
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".quantize_", dir=out_dir) as tmp:
        # PTQ reads both files from one folder
        shutil.copyfile(model_file, os.path.join(tmp, "in.pdmodel"))
        shutil.copyfile(params_file, os.path.join(tmp, "in.pdiparams"))
        # PTQ rewrites the old-IR program of a .pdmodel; its progress bars and log lines are dropped
        with paddle.pir_utils.OldIrGuard(), held_output(lambda line: False, fds=(1, 2)):
            paddle.enable_static()
            try:
                ptq = PostTrainingQuantization(
                    executor=paddle.static.Executor(paddle.CPUPlace()), model_dir=tmp,
                    model_filename="in.pdmodel", params_filename="in.pdiparams",
                    data_loader=lambda: iter(feeds), batch_nums=len(feeds), algo=ALGO,
                    quantizable_op_type=list(QUANTIZABLE_OPS), weight_quantize_type="channel_wise_abs_max",
                    onnx_format=True)
                ptq.quantize()
                ptq.save_quantized_model(os.path.join(tmp, "out"), model_filename="q.pdmodel",
                                         params_filename="q.pdiparams")
            except Exception as exc:
                raise InferenceError(f"{model_file}: Paddle's post-training quantization failed: "
                                     f"{first_line(exc)}") from None
            finally:
                paddle.disable_static()
        written = [out_model_file, out_params]
        meta = _online_meta(model_file, out_model_file, out_params)
        if meta is not None:
            written.append(os.path.splitext(out_model_file)[0] + META_SUFFIX)
            with open(os.path.join(tmp, "meta.json"), "w") as f:
                json.dump(meta, f, indent=1)
        for src, dst in zip(("out/q.pdmodel", "out/q.pdiparams", "meta.json"), written):
            _link_new(os.path.join(tmp, src), dst)
    return written


def _online_meta(model_file, out_model_file, out_params):
    """The sidecar of the quantized model of an online export (its float export's, pointing at the
    new files), or None for a clip model."""
    from ..online.predictor import read_meta

    if not os.path.isfile(os.path.splitext(model_file)[0] + META_SUFFIX):
        return None
    meta = read_meta(model_file)
    meta["inputs"] = [[name, shape] for name, shape in meta["inputs"].items()]
    meta.update(model_file=out_model_file, params_file=out_params)
    return meta


def check_onnx_quantization():
    """InferenceError (one line) unless ONNX Runtime's quantization tools and paddle2onnx import."""
    missing = []
    for module, package in (("paddle2onnx", "paddle2onnx"), ("onnxruntime", "onnxruntime"),
                            ("ml_dtypes", "ml_dtypes")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise InferenceError(f"--onnx needs {', '.join(missing)} (ONNX Runtime's quantization imports "
                             f"ml_dtypes): pip install {' '.join(missing)}")


def quantize_onnx(model_file, params_file, feeds, out_onnx):
    """ONNX Runtime static quantization of the paddle2onnx conversion of ``model_file``, calibrated
    on ``feeds`` -> ``out_onnx``. QOperator format, u8 activations, per-channel s8 weights, batch
    norm folded into the convs first: on an AVX2 CPU without VNNI the fastest int8 ONNX Runtime
    ran, with the demo model's top-1 unchanged (docs/low_precision.md)."""
    check_onnx_quantization()
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .onnx import convert_to_onnx

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.runs = iter(feeds)

        def get_next(self):
            return next(self.runs, None)

    out_dir = os.path.dirname(os.path.abspath(out_onnx))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".quantize_", dir=out_dir) as tmp:
        plain, folded, quantized = (os.path.join(tmp, n) for n in ("fp32.onnx", "folded.onnx", "int8.onnx"))
        try:
            # paddle2onnx's progress lines and ONNX Runtime's unused-initializer warnings are dropped
            with held_output(lambda line: False, fds=(1, 2)):
                convert_to_onnx(model_file, params_file, plain)
                quant_pre_process(plain, folded, skip_symbolic_shape=True)
                quantize_static(folded, quantized, Reader(), quant_format=QuantFormat.QOperator,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                                calibrate_method=CalibrationMethod.MinMax)
        except InferenceError:
            raise
        except Exception as exc:
            raise InferenceError(f"{model_file}: ONNX Runtime's static quantization failed: "
                                 f"{first_line(exc)}") from None
        _link_new(quantized, out_onnx)
    return out_onnx
