"""The per-frame (online TSM) recognizer: one frame in, its scores and the updated shift caches out.

Each shifted residual block caches the past fold of its input (``C // shift_div`` channels); the
next frame's block takes that fold from the cache instead of from a clip, so every frame runs the
2D network once and nothing depends on a future frame. Fed the T frames of a clip in order from
zero caches, it reproduces the clip-mode ``shift_mode: online`` backbone frame by frame.
"""
import copy

import paddle
import paddle.nn as nn

from ..modeling import build_model


class OnlineRecognizer(nn.Layer):
    """Wrap a Recognizer2D (ResNetTSM backbone + TSMHead) for per-frame inference.

    ``forward(frame, caches)``: frame [N, 3, H, W] (NHWC: [N, H, W, 3]), caches a list of
    ``num_caches`` tensors shaped as ``cache_shapes`` -> ``[scores [N, K]] + new caches``.
    Adds no parameters: its state dict is the wrapped recognizer's under ``recognizer.``.
    """

    def __init__(self, recognizer):
        super().__init__()
        backbone = recognizer.backbone
        if not hasattr(backbone, "step"):
            raise ValueError(f"online TSM needs a backbone with a per-frame step (ResNetTSM), "
                             f"got {type(backbone).__name__}")
        self.recognizer = recognizer

    @property
    def data_format(self):
        return self.recognizer.data_format

    @property
    def num_caches(self):
        return len(self.recognizer.backbone.online_blocks())

    def cache_shapes(self, batch, size):
        """Cache shapes for ``batch`` streams of frames ``size`` = int or (height, width)."""
        h, w = (size, size) if isinstance(size, int) else size
        return self.recognizer.backbone.online_cache_shapes(batch, h, w)

    def init_caches(self, batch, size):
        """Zero caches (the state before a stream's first frame) as float32 paddle tensors."""
        return [paddle.zeros(s, dtype="float32") for s in self.cache_shapes(batch, size)]

    def features(self, frame, caches):
        """frame [N, 3, H, W] (or NHWC) + caches -> (backbone features [N, C, h, w], new caches)."""
        return self.recognizer.backbone.step(frame, caches)

    def forward(self, frame, caches):
        feats, new_caches = self.features(frame, caches)
        scores = self.recognizer.head(feats, 1)  # one frame: the head's mean over T is the identity
        return [scores] + list(new_caches)


def online_model_config(model_cfg):
    """A copy of a MODEL section with ``backbone.shift_mode: online`` (weights keep their keys)."""
    cfg = copy.deepcopy(dict(model_cfg))
    cfg["backbone"] = dict(cfg["backbone"], shift_mode="online")
    return cfg


def build_online_model(model_cfg):
    """MODEL section -> OnlineRecognizer in eval mode (backbone forced to shift_mode online)."""
    recognizer = build_model(online_model_config(model_cfg))
    model = OnlineRecognizer(recognizer)
    model.eval()
    return model
