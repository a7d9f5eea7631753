"""Run an exported per-frame online TSM model with Paddle Inference, feeding the caches back."""
import json
import os

import numpy as np

from ..errors import InferenceError
from ..utils.logger import get_logger


# Paddle Inference 3.3.1 on CPU fails on this NHWC graph (seen, not worked around otherwise):
# with oneDNN a fed cache reaches its concat as NCHW; without it conv_bn_fuse_pass leaves a
# broadcast shape error. Both are skipped for NHWC exports.
NHWC_BROKEN_PASSES = ("conv_bn_fuse_pass", "conv_eltwiseadd_bn_fuse_pass")


def _make_config(model_file, params_file, cpu_threads, use_mkldnn, data_format):
    import paddle.inference as pi
    config = pi.Config(model_file, params_file)
    config.disable_gpu()
    config.disable_glog_info()
    if data_format == "NHWC":
        use_mkldnn = False
        for name in NHWC_BROKEN_PASSES:
            config.delete_pass(name)
    if use_mkldnn:
        config.enable_mkldnn()
    else:
        config.disable_mkldnn()
    config.set_cpu_math_library_num_threads(int(cpu_threads or os.cpu_count() or 1))
    return config


def read_meta(model_file):
    """The export's sidecar ``NAME.online.json`` next to ``model_file`` -> its dict (inputs as a dict)."""
    from .export import META_SUFFIX
    path = os.path.splitext(model_file)[0] + META_SUFFIX
    if not os.path.isfile(path):
        raise InferenceError(f"{path}: not found; it is written next to the model by export_online "
                               f"(tools/export_model.py --online): re-export the model")
    try:
        with open(path) as f:
            meta = json.load(f)
        meta["inputs"] = {name: list(shape) for name, shape in meta["inputs"]}
        meta.setdefault("data_format", "NCHW")
        return meta
    except (ValueError, KeyError, TypeError) as e:
        raise InferenceError(f"{path}: unreadable online model description ({type(e).__name__}: {e})") from None


class OnlinePredictor:
    """One stream through an exported online model: ``step(frame) -> scores [K]``.

    frame: float32 [1, 3, H, W] (or [1, H, W, 3] for an NHWC export), i.e. one preprocessed frame.
    Holds the caches between calls; ``reset()`` sets them to zero (a new stream).
    """

    def __init__(self, model_file, params_file, cpu_threads=None, use_mkldnn=True):
        import paddle.inference as pi
        for path in (model_file, params_file):
            if not os.path.isfile(path):
                raise InferenceError(f"{path}: model file not found")
        # a predictor reports input shapes only once fed, so they come from the export's sidecar
        meta = read_meta(model_file)
        self.data_format = meta["data_format"]
        if self.data_format == "NHWC" and use_mkldnn:
            get_logger().warning(f"{model_file}: NHWC export: running without oneDNN and conv+BN fusion "
                                 f"(Paddle Inference mis-handles NHWC there); export NCHW for speed")
        try:
            config = _make_config(model_file, params_file, cpu_threads, use_mkldnn, self.data_format)
            self.predictor = pi.create_predictor(config)
        except InferenceError:
            raise
        except Exception as e:  # paddle raises several kinds on an unreadable program
            msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise InferenceError(f"{model_file}: cannot load model ({msg})") from None
        names = self.predictor.get_input_names()
        if "frame" not in names:
            raise InferenceError(f"{model_file}: not an online TSM export (no 'frame' input; inputs {names})")
        self.cache_names = sorted(n for n in names if n.startswith("cache_"))
        outputs = self.predictor.get_output_names()
        if len(outputs) != 1 + len(self.cache_names):
            raise InferenceError(f"{model_file}: expected {1 + len(self.cache_names)} outputs "
                                   f"(scores + caches), got {len(outputs)}")
        shapes = meta["inputs"]
        if sorted(shapes) != sorted(names):
            raise InferenceError(f"{model_file}: inputs {names} do not match its .online.json {sorted(shapes)}")
        self.frame_handle = self.predictor.get_input_handle("frame")
        self.frame_shape = shapes["frame"]
        self.cache_handles = [self.predictor.get_input_handle(n) for n in self.cache_names]
        self.cache_shapes = [shapes[n] for n in self.cache_names]
        self.output_handles = [self.predictor.get_output_handle(n) for n in outputs]
        self.reset()

    def reset(self):
        """Zero the caches: the next frame starts a new stream."""
        self.caches = [np.zeros(s, dtype="float32") for s in self.cache_shapes]

    def step(self, frame):
        """Run one frame (float32, shape ``frame_shape``); return its scores [K] and keep the caches."""
        frame = np.ascontiguousarray(frame, dtype="float32")
        if list(frame.shape) != self.frame_shape:
            raise ValueError(f"frame shape {list(frame.shape)} does not match the model input {self.frame_shape}")
        self.frame_handle.copy_from_cpu(frame)
        for handle, cache in zip(self.cache_handles, self.caches):
            handle.copy_from_cpu(cache)
        self.predictor.run()
        outs = [h.copy_to_cpu() for h in self.output_handles]
        self.caches = outs[1:]
        return outs[0].reshape(-1)
