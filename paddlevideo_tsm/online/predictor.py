"""Run an exported per-frame online TSM model with Paddle Inference, feeding the caches back."""
import json
import os

import numpy as np

from ..errors import InferenceError
from ..inference.predictor import PaddlePredictor


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

    def __init__(self, model_file, params_file, cpu_threads=None, enable_mkldnn=True):
        if not os.path.isfile(model_file):  # before its sidecar is looked for
            raise InferenceError(f"{model_file}: model file not found")
        # the layout and the cache shapes come from the export's sidecar
        meta = read_meta(model_file)
        self.data_format = meta["data_format"]
        self.engine = PaddlePredictor(model_file, params_file, cpu_threads=cpu_threads,
                                      enable_mkldnn=enable_mkldnn, data_format=self.data_format)
        names = self.engine.input_names
        if "frame" not in names:
            raise InferenceError(f"{model_file}: not an online TSM export (no 'frame' input; inputs {names})")
        cache_names = sorted(n for n in names if n.startswith("cache_"))
        if len(self.engine.output_shapes) != 1 + len(cache_names):
            raise InferenceError(f"{model_file}: expected {1 + len(cache_names)} outputs "
                                 f"(scores + caches), got {len(self.engine.output_shapes)}")
        shapes = meta["inputs"]
        if sorted(shapes) != sorted(names):
            raise InferenceError(f"{model_file}: inputs {names} do not match its .online.json {sorted(shapes)}")
        self.model_file = model_file
        self.frame_shape = shapes["frame"]
        self.num_classes = self.engine.num_classes or meta.get("num_classes")
        # engine inputs in its order: the frame, then each cache; outputs: scores, then the new
        # caches in the order of the sorted cache names
        self._frame_at = names.index("frame")
        self._cache_at = [names.index(n) for n in cache_names]
        self.cache_shapes = [shapes[n] for n in cache_names]
        self.reset()

    def reset(self):
        """Zero the caches: the next frame starts a new stream."""
        self.caches = [np.zeros(s, dtype="float32") for s in self.cache_shapes]

    def step(self, frame):
        """Run one frame (float32, shape ``frame_shape``); return its scores [K] and keep the caches."""
        frame = np.ascontiguousarray(frame, dtype="float32")
        if list(frame.shape) != self.frame_shape:
            raise InferenceError(f"{self.model_file}: frame shape {list(frame.shape)} does not match the model "
                                 f"input {self.frame_shape}; preprocess with the config the model was exported from")
        inputs = [None] * (1 + len(self.caches))
        inputs[self._frame_at] = frame
        for at, cache in zip(self._cache_at, self.caches):
            inputs[at] = cache
        outs = self.engine.run(inputs)
        self.caches = outs[1:]
        return outs[0].reshape(-1)
