"""The per-frame (online TSM) recognizer: one frame in, its scores and the updated shift caches out.

Works for any backbone that follows the TSMBackbone contract (``modeling/backbones/base.py``):
stem, then units of "shift point + the rest", then tail. Each unit that shifts caches the past
fold of its input (``in_channels // shift_div`` channels); the next frame's unit takes that fold
from the cache instead of from a clip, so every frame runs the 2D network once and nothing
depends on a future frame. Fed the T frames of a clip in order from zero caches, it reproduces
the clip-mode ``shift_mode: online`` backbone frame by frame.
"""
import copy

import paddle
import paddle.nn as nn

from ..errors import ConfigError
from ..modeling import build_model
from ..modeling.backbones.base import TSMBackbone


def _down(side, stride):
    """A side after a stride: ceil(side / stride) (see the TSMBackbone contract)."""
    return -(-side // stride)


class OnlineRecognizer(nn.Layer):
    """Wrap a Recognizer2D (a TSMBackbone that can stream + its head) for per-frame inference.

    ``forward(frame, caches)``: frame [N, 3, H, W] (NHWC: [N, H, W, 3]), caches a list of
    ``num_caches`` tensors shaped as ``cache_shapes`` -> ``[scores [N, K]] + new caches``.
    Adds no parameters: its state dict is the wrapped recognizer's under ``recognizer.``.
    """

    def __init__(self, recognizer):
        super().__init__()
        backbone = recognizer.backbone
        name = type(backbone).__name__
        if not isinstance(backbone, TSMBackbone):
            raise ConfigError(f"MODEL.backbone.name: {name} is not a TSMBackbone "
                              f"(modeling/backbones/base.py), so it has no per-frame step for online TSM")
        if backbone.online_refusal:
            raise ConfigError(f"MODEL.backbone.name: {name} cannot run online (frame by frame): "
                              f"{backbone.online_refusal}")
        self.recognizer = recognizer

    @property
    def data_format(self):
        return self.recognizer.data_format

    def _cached_units(self):
        return [unit for _, unit in self.recognizer.backbone.units() if unit.cache_channels()]

    @property
    def num_caches(self):
        return len(self._cached_units())

    def cache_shapes(self, batch, size):
        """Cache shapes ``[N, fold, h, w]`` (NHWC: ``[N, h, w, fold]``) for ``batch`` streams of
        frames ``size`` = int or (height, width), in the order of ``features``' cache list."""
        backbone = self.recognizer.backbone
        h, w = (size, size) if isinstance(size, int) else size
        h, w = _down(h, backbone.stem_stride), _down(w, backbone.stem_stride)
        shapes = []
        for _, unit in backbone.units():
            fold = unit.cache_channels()
            if fold:  # cached from the unit input, before the unit's stride
                shapes.append([batch, fold, h, w] if backbone.data_format == "NCHW" else [batch, h, w, fold])
            h, w = _down(h, unit.stride), _down(w, unit.stride)
        return shapes

    def init_caches(self, batch, size):
        """Zero caches (the state before a stream's first frame) as float32 paddle tensors."""
        return [paddle.zeros(s, dtype="float32") for s in self.cache_shapes(batch, size)]

    def features(self, frame, caches):
        """frame [N, 3, H, W] (or NHWC) + caches -> (backbone features of the frame, new caches).
        Eval only: BN uses its running statistics."""
        backbone = self.recognizer.backbone
        caches = list(caches)
        if len(caches) != self.num_caches:
            raise ValueError(f"online step: expected {self.num_caches} caches, got {len(caches)}")
        x = backbone.forward_stem(frame)
        new_caches = []
        for _, unit in backbone.units():
            shifted = x
            if unit.cache_channels():
                shifted, new_cache = unit.shift.step(x, caches[len(new_caches)])
                new_caches.append(new_cache)
            x = unit.forward_shifted(x, shifted)
        return backbone.forward_tail(x), new_caches

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
