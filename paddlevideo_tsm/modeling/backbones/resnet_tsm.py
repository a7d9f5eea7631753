"""ResNet with a temporal shift in its residual blocks (TSM); ``shift_div: 0`` is the TSN twin.

The layer names (``conv``, ``res2a.conv0._conv`` ...) are PaddleVideo's, so its checkpoints load
without a key map. Input ``[N*T, 3, H, W]`` (NCHW) or ``[N*T, H, W, 3]`` (NHWC); output the last
feature map ``[N*T, C, H/32, W/32]`` (or NHWC), C = 512 (18/34) or 2048 (50+) at base width 64.
"""
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr
from paddle.nn.initializer import Constant, KaimingNormal
from paddle.regularizer import L2Decay

from ..ops import TemporalShift
from ..registry import BACKBONES

# depth -> (block kind, blocks per stage)
ARCHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
SHIFT_PLACES = ("residual", "inplace")


class ConvBNLayer(nn.Layer):
    """conv (no bias) -> BN -> optional ReLU; an optional ``shift`` runs on the input first."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, act=None,
                 data_format="NCHW", shift=None):
        super().__init__()
        self.shift = shift
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2, bias_attr=False,
                               weight_attr=ParamAttr(initializer=KaimingNormal()),
                               data_format=data_format)
        # BN scale/shift get no weight decay, as in the reference recipes
        self._batch_norm = nn.BatchNorm2D(
            out_channels, data_format=data_format,
            weight_attr=ParamAttr(initializer=Constant(1.0), regularizer=L2Decay(0.0)),
            bias_attr=ParamAttr(initializer=Constant(0.0), regularizer=L2Decay(0.0)))
        self.act = act

    def forward(self, x):
        if self.shift is not None:
            x = self.shift(x)
        y = self._batch_norm(self._conv(x))
        return F.relu(y) if self.act == "relu" else y


def _conv_bn_unshifted(layer, x):
    """Run a ConvBNLayer's conv -> BN -> act on ``x`` without its shift (the per-frame path
    shifts with a cache instead); x [N, C, H, W] (or NHWC) -> [N, C', H', W']."""
    y = layer._batch_norm(layer._conv(x))
    return F.relu(y) if layer.act == "relu" else y


class _OnlineStepMixin:
    """Per-frame (online TSM) path shared by the residual blocks.

    A shifted block keeps one cache: the past fold of its input from the previous frame,
    ``[N, in_channels // shift_div, H, W]`` (or NHWC). Blocks without a shift keep none.
    """

    def shift_layer(self):
        """This block's TemporalShift, or None."""
        return self.inplace_shift if self.inplace_shift is not None else self.conv0.shift

    def cache_channels(self):
        """Channels of this block's online cache; 0 when the block does not shift."""
        shift = self.shift_layer()
        return 0 if shift is None else shift.cache_shape(self.in_channels)

    def step(self, x, cache=None):
        """One frame x [N, C, H, W] (or NHWC) + cache -> (out, new_cache); new_cache None if unshifted."""
        if self.cache_channels() == 0:
            shifted, new_cache = x, None
        else:
            if cache is None:
                raise ValueError("a shifted block needs its cache (zeros for the first frame)")
            shifted, new_cache = self.shift_layer().step(x, cache)
        # residual place: only the branch sees the shift; in place: the identity does too
        identity_in = shifted if self.inplace_shift is not None else x
        y = self._branch_after_conv0(_conv_bn_unshifted(self.conv0, shifted))
        identity = identity_in if self.short is None else self.short(identity_in)
        return F.relu(y + identity), new_cache


class BottleneckBlock(_OnlineStepMixin, nn.Layer):
    """1x1 -> 3x3 (stride) -> 1x1 (x4 channels), plus a projection ``short`` when shapes change."""
    expansion = 4

    def __init__(self, in_channels, channels, stride, data_format, shift=None, shift_place="residual"):
        super().__init__()
        out = channels * self.expansion
        self.in_channels, self.stride = in_channels, stride
        self.inplace_shift = shift if shift_place == "inplace" else None
        self.conv0 = ConvBNLayer(in_channels, channels, 1, act="relu", data_format=data_format,
                                 shift=shift if shift_place == "residual" else None)
        self.conv1 = ConvBNLayer(channels, channels, 3, stride, act="relu", data_format=data_format)
        self.conv2 = ConvBNLayer(channels, out, 1, data_format=data_format)
        self.short = (ConvBNLayer(in_channels, out, 1, stride, data_format=data_format)
                      if stride != 1 or in_channels != out else None)

    def forward(self, x):
        if self.inplace_shift is not None:
            x = self.inplace_shift(x)
        y = self.conv2(self.conv1(self.conv0(x)))
        identity = x if self.short is None else self.short(x)
        return F.relu(y + identity)

    def _branch_after_conv0(self, y):
        return self.conv2(self.conv1(y))


class BasicBlock(_OnlineStepMixin, nn.Layer):
    """3x3 (stride) -> 3x3, plus a projection ``short`` when shapes change."""
    expansion = 1

    def __init__(self, in_channels, channels, stride, data_format, shift=None, shift_place="residual"):
        super().__init__()
        self.in_channels, self.stride = in_channels, stride
        self.inplace_shift = shift if shift_place == "inplace" else None
        self.conv0 = ConvBNLayer(in_channels, channels, 3, stride, act="relu", data_format=data_format,
                                 shift=shift if shift_place == "residual" else None)
        self.conv1 = ConvBNLayer(channels, channels, 3, data_format=data_format)
        self.short = (ConvBNLayer(in_channels, channels, 1, stride, data_format=data_format)
                      if stride != 1 or in_channels != channels else None)

    def forward(self, x):
        if self.inplace_shift is not None:
            x = self.inplace_shift(x)
        y = self.conv1(self.conv0(x))
        identity = x if self.short is None else self.short(x)
        return F.relu(y + identity)

    def _branch_after_conv0(self, y):
        return self.conv1(y)


def block_name(depth, stage, index):
    """PaddleVideo's sublayer name of block ``index`` in ``stage`` (0-based): res2a, res4b12, ..."""
    if depth in (101, 152) and stage == 2:
        return f"res{stage + 2}" + ("a" if index == 0 else f"b{index}")
    return f"res{stage + 2}{chr(ord('a') + index)}"


@BACKBONES.register
class ResNetTSM(nn.Layer):
    """ResNet-{18,34,50,101,152} with TSM shifts.

    Args: depth; num_seg (frames per clip, T); data_format NCHW|NHWC; pretrained (path, loaded by
    the recognizer); shift_div (fold = C // shift_div, 0 = no shift = TSN); shift_place
    residual|inplace; n_round (shift every n-th block of a stage); shift_direction paddle|pytorch;
    shift_mode offline|online; shift_impl (see ops); partial_bn (freeze all BN but the first);
    norm_eval (all BN in eval mode); base_channels (64 = standard width); stem '7x7' (conv 7x7/2 +
    max-pool) or '3x3' (conv 3x3/2, no pool: for small inputs).
    """

    def __init__(self, depth=50, num_seg=8, data_format="NCHW", pretrained=None, shift_div=8,
                 shift_place="residual", n_round=1, shift_direction="paddle", shift_mode="offline",
                 shift_impl="auto", partial_bn=False, norm_eval=False, base_channels=64, stem="7x7",
                 in_channels=3):
        super().__init__()
        if depth not in ARCHS:
            raise ValueError(f"ResNetTSM depth must be one of {sorted(ARCHS)}, got {depth}")
        if shift_place not in SHIFT_PLACES:
            raise ValueError(f"shift_place must be one of {SHIFT_PLACES}, got {shift_place!r}")
        if stem not in ("7x7", "3x3"):
            raise ValueError(f"stem must be '7x7' or '3x3', got {stem!r}")
        if not isinstance(n_round, int) or n_round < 1:
            raise ValueError(f"n_round must be a positive int, got {n_round!r}")
        self.depth, self.num_seg, self.data_format = depth, num_seg, data_format
        self.pretrained, self.shift_div, self.shift_mode = pretrained, shift_div, shift_mode
        self.partial_bn, self.norm_eval = partial_bn, norm_eval
        kind, counts = ARCHS[depth]
        block_cls = BottleneckBlock if kind == "bottleneck" else BasicBlock

        self.conv = ConvBNLayer(in_channels, base_channels, 7 if stem == "7x7" else 3, 2, act="relu",
                                data_format=data_format)
        self.pool = nn.MaxPool2D(3, 2, 1, data_format=data_format) if stem == "7x7" else None
        self.block_names = []
        in_c = base_channels
        for stage, count in enumerate(counts):
            channels = base_channels * 2 ** stage
            for i in range(count):
                shift = None
                if shift_div and i % n_round == 0:
                    shift = TemporalShift(num_seg, shift_div, data_format, shift_direction,
                                          shift_mode, shift_impl)
                stride = 2 if i == 0 and stage > 0 else 1
                name = block_name(depth, stage, i)
                self.add_sublayer(name, block_cls(in_c, channels, stride, data_format, shift, shift_place))
                self.block_names.append(name)
                in_c = channels * block_cls.expansion
        self.out_channels = in_c
        self._frozen_bns = self._bns_to_freeze()
        for bn in self._frozen_bns:
            if partial_bn:
                for p in bn.parameters():
                    p.stop_gradient = True

    def _bns_to_freeze(self):
        bns = [m for m in self.sublayers() if isinstance(m, nn.BatchNorm2D)]
        if self.norm_eval:
            return bns
        return bns[1:] if self.partial_bn else []

    def forward(self, x):
        if self.training:
            # Layer.train() flips every sublayer back to training; frozen BNs must stay in eval
            for bn in self._frozen_bns:
                bn.training = False
        x = self.conv(x)
        if self.pool is not None:
            x = self.pool(x)
        for name in self.block_names:
            x = getattr(self, name)(x)
        return x

    # ---- online TSM: one frame at a time, shifted folds cached between frames ----

    def online_blocks(self):
        """Names of the blocks that keep an online cache, in the order of ``step``'s cache list."""
        return [n for n in self.block_names if getattr(self, n).cache_channels() > 0]

    def online_cache_shapes(self, batch, height, width):
        """Cache shapes ``[N, fold, h, w]`` (NHWC: ``[N, h, w, fold]``) for frames of ``height x width``."""
        def down(v):  # every stride-2 conv/pool here pads so that the output is ceil(v / 2)
            return (v + 1) // 2
        h, w = down(height), down(width)
        if self.pool is not None:
            h, w = down(h), down(w)
        shapes = []
        for name in self.block_names:
            block = getattr(self, name)
            fold = block.cache_channels()
            if fold:  # cached from the block input, before the block's stride
                shapes.append([batch, fold, h, w] if self.data_format == "NCHW" else [batch, h, w, fold])
            if block.stride == 2:
                h, w = down(h), down(w)
        return shapes

    def step(self, x, caches):
        """One frame per stream x [N, 3, H, W] (or NHWC) + caches (list in ``online_blocks`` order)
        -> (features [N, C, h, w] (or NHWC), new caches list). Eval only: BN uses running stats."""
        caches = list(caches)
        n_expected = len(self.online_blocks())
        if len(caches) != n_expected:
            raise ValueError(f"ResNetTSM.step: expected {n_expected} caches, got {len(caches)}")
        x = self.conv(x)
        if self.pool is not None:
            x = self.pool(x)
        new_caches, k = [], 0
        for name in self.block_names:
            block = getattr(self, name)
            if block.cache_channels():
                x, new_cache = block.step(x, caches[k])
                new_caches.append(new_cache)
                k += 1
            else:
                x, _ = block.step(x)
        return x, new_caches
