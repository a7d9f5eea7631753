"""Non-local blocks (Wang et al., CVPR 2018) over the T x H x W positions of a clip, as units of a
TSM backbone.

A block sees the frames ``[N*T, C, H, W]`` (or NHWC) like every other unit. Its 1x1 convs, the 2x2
max pool and the BN act on each frame, so they run on the frames directly (a 1x1x1 Conv3d is a 1x1
Conv2D per frame, a (1, 2, 2) MaxPool3d a 2x2 MaxPool2D, a BN over (N, T, H, W) a BatchNorm2D over
(N*T, H, W)); only the two attention products gather the T*h*w positions of each clip. The BN is
a BatchNorm2D so that ``paddle.flops`` counts it, and the products are ``MatMul`` layers for the
same reason (``ops/matmul.py``).

A block attends to every frame of its clip, future ones included: a backbone with one cannot run
frame by frame (online TSM).
"""
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr
from paddle.nn.initializer import Constant, KaimingNormal, Normal
from paddle.regularizer import L2Decay

from ..ops.matmul import MatMul
from .base import ShiftUnit

MODES = ("dot_product", "gaussian", "embedded_gaussian")
# the keys of a backbone's ``non_local_cfg``: NonLocal3D's own settings
OPTIONS = ("mode", "reduction", "sub_sample", "use_scale")
ONLINE_REFUSAL = "non-local blocks attend over all T frames of a clip, future ones included"


def _embedding(in_channels, out_channels, data_format):
    """A biased 1x1 conv initialised Normal(0, 0.01), bias 0 (the g, theta and phi paths)."""
    return nn.Conv2D(in_channels, out_channels, 1, data_format=data_format,
                     weight_attr=ParamAttr(initializer=Normal(0.0, 0.01)),
                     bias_attr=ParamAttr(initializer=Constant(0.0)))


class NonLocal3D(ShiftUnit):
    """x -> x + BN(conv_out(attention(x))) over the T*H*W positions of each clip; never shifts.

    ``inter = max(in_channels // reduction, 1)``. g (and theta, phi): biased 1x1 convs to inter
    channels; ``gaussian`` has no theta/phi: the pairwise term is the product of the input with
    itself over all in_channels. ``sub_sample``: a 2x2/2 max pool on the key and value paths (after
    their convs). Pairwise term f = q . k, then: ``embedded_gaussian`` and ``gaussian`` softmax over
    the keys (``use_scale``, embedded_gaussian only: f / sqrt(inter) first); ``dot_product`` f / the
    number of keys. conv_out (1x1, no bias) back to in_channels, then a BN whose scale and shift
    start at 0, so that a new block is the identity.
    """

    def __init__(self, in_channels, num_seg, data_format="NCHW", mode="embedded_gaussian", reduction=2,
                 sub_sample=True, use_scale=False):
        super().__init__(in_channels)
        if mode not in MODES:
            raise ValueError(f"non_local_cfg.mode must be one of {', '.join(MODES)}, got {mode!r}")
        if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f"non_local_cfg.reduction must be a positive int, got {reduction!r}")
        if use_scale and mode != "embedded_gaussian":
            raise ValueError(f"non_local_cfg.use_scale scales the embedded_gaussian mode only, not {mode} "
                             f"(as in mmcv); set it False")
        self.num_seg, self.data_format, self.mode = num_seg, data_format, mode
        self.inter = max(in_channels // reduction, 1)
        self.use_scale = bool(use_scale)
        self.g = _embedding(in_channels, self.inter, data_format)
        if mode != "gaussian":
            self.theta = _embedding(in_channels, self.inter, data_format)
            self.phi = _embedding(in_channels, self.inter, data_format)
        self.pool = nn.MaxPool2D(2, 2, data_format=data_format) if sub_sample else None
        self.conv_out = nn.Conv2D(self.inter, in_channels, 1, bias_attr=False, data_format=data_format,
                                  weight_attr=ParamAttr(initializer=KaimingNormal()))
        zero = ParamAttr(initializer=Constant(0.0), regularizer=L2Decay(0.0))
        self.bn = nn.BatchNorm2D(in_channels, weight_attr=zero, bias_attr=zero, data_format=data_format)
        self.pairwise = MatMul()
        self.aggregate = MatMul()

    def _positions(self, f):
        """Frames [N*T, c, h, w] (NHWC [N*T, h, w, c]) -> [N, T*h*w, c], positions t-major then h, w."""
        if self.data_format == "NHWC":
            return f.reshape([-1, self.num_seg * f.shape[1] * f.shape[2], f.shape[3]])
        c, h, w = f.shape[1:]
        return f.reshape([-1, self.num_seg, c, h * w]).transpose([0, 1, 3, 2]).reshape(
            [-1, self.num_seg * h * w, c])

    def _frames(self, y, h, w):
        """[N, T*h*w, c] -> frames [N*T, c, h, w] (NHWC [N*T, h, w, c]); the inverse of _positions."""
        c = y.shape[-1]
        if self.data_format == "NHWC":
            return y.reshape([-1, h, w, c])
        return y.reshape([-1, self.num_seg, h * w, c]).transpose([0, 1, 3, 2]).reshape([-1, c, h, w])

    def attention(self, x):
        """x frames -> y frames with inter channels: each position's softmax/dot-product-weighted
        sum of the (pooled) g features of every position of its clip."""
        h, w = (x.shape[2], x.shape[3]) if self.data_format == "NCHW" else (x.shape[1], x.shape[2])
        value = self.g(x)
        query, key = (x, x) if self.mode == "gaussian" else (self.theta(x), self.phi(x))
        if self.pool is not None:
            value, key = self.pool(value), self.pool(key)
        query, key, value = self._positions(query), self._positions(key), self._positions(value)
        f = self.pairwise(query, key.transpose([0, 2, 1]))  # [N, THW, keys]
        if self.mode == "dot_product":
            f = f / f.shape[-1]
        else:
            if self.use_scale:
                f = f / self.inter ** 0.5
            f = F.softmax(f, axis=-1)
        return self._frames(self.aggregate(f, value), h, w)

    def forward_shifted(self, x, shifted):
        return x + self.bn(self.conv_out(self.attention(x)))


def non_local_marks(non_local, counts):
    """MODEL.backbone.non_local (None, or one list of 0/1 per stage, as long as the stage) ->
    [[bool] per block] per stage; ValueError naming the stage on a wrong shape."""
    if non_local is None:
        return [[False] * n for n in counts]
    if not isinstance(non_local, (list, tuple)) or len(non_local) != len(counts):
        raise ValueError(f"non_local must be {len(counts)} lists (one per stage) of 0/1 per block, "
                         f"got {non_local!r}")
    marks = []
    for stage, (row, n) in enumerate(zip(non_local, counts)):
        if not isinstance(row, (list, tuple)) or len(row) != n or any(v not in (0, 1) for v in row):
            raise ValueError(f"non_local[{stage}] must list 0 or 1 for each of the stage's {n} blocks, "
                             f"got {row!r}")
        marks.append([bool(v) for v in row])
    return marks


def check_non_local_cfg(non_local_cfg):
    """MODEL.backbone.non_local_cfg -> a dict of NonLocal3D settings; ValueError on an unknown key."""
    cfg = dict(non_local_cfg or {})
    for key in cfg:
        if key not in OPTIONS:
            raise ValueError(f"non_local_cfg: unknown key {key!r}; known: {', '.join(OPTIONS)}")
    return cfg
