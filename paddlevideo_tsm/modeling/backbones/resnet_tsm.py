"""ResNet with a temporal shift in its residual blocks (TSM); ``shift_div: 0`` is the TSN twin.

The layer names (``conv``, ``res2a.conv0._conv`` ...) are PaddleVideo's, so its checkpoints load
without a key map. Input ``[N*T, 3, H, W]`` (NCHW) or ``[N*T, H, W, 3]`` (NHWC); output the last
feature map ``[N*T, C, H/32, W/32]`` (or NHWC), C = 512 (18/34) or 2048 (50+) at base width 64.
"""
import paddle.nn as nn

from ..ops import TemporalShift, resolve_shift_div
from ..registry import BACKBONES
from .base import ShiftUnit, TSMBackbone
from .conv_bn import ConvBNLayer, apply_activation
from .non_local import ONLINE_REFUSAL, NonLocal3D, check_non_local_cfg, non_local_marks

# depth -> (block kind, blocks per stage)
ARCHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
SHIFT_PLACES = ("residual", "inplace")


class _ResidualBlock(ShiftUnit):
    """act(branch + identity), the shift at the block input: ``residual`` place shifts the branch
    only (the shift precedes ``conv0``), ``inplace`` shifts the identity path too."""
    act = "relu"  # after the add (conv_bn.ACTIVATIONS)

    def __init__(self, in_channels, stride, shift, shift_place):
        super().__init__(in_channels, stride, shift, "conv0" if shift_place == "residual" else "")
        self.shift_place = shift_place

    def forward_shifted(self, x, shifted):
        y = self.branch(shifted)
        identity = shifted if self.shift_place == "inplace" else x
        if self.short is not None:
            identity = self.short(identity)
        return apply_activation(self.act, y + identity)


class BottleneckBlock(_ResidualBlock):
    """1x1 -> 3x3 (stride) -> 1x1 (x4 channels), plus a projection ``short`` when shapes change."""
    expansion = 4

    def __init__(self, in_channels, channels, stride, data_format, shift=None, shift_place="residual"):
        super().__init__(in_channels, stride, shift, shift_place)
        out = channels * self.expansion
        self.conv0 = ConvBNLayer(in_channels, channels, 1, act="relu", data_format=data_format)
        self.conv1 = ConvBNLayer(channels, channels, 3, stride, act="relu", data_format=data_format)
        self.conv2 = ConvBNLayer(channels, out, 1, data_format=data_format)
        self.short = (ConvBNLayer(in_channels, out, 1, stride, data_format=data_format)
                      if stride != 1 or in_channels != out else None)

    def branch(self, x):
        return self.conv2(self.conv1(self.conv0(x)))


class BasicBlock(_ResidualBlock):
    """3x3 (stride) -> 3x3, plus a projection ``short`` when shapes change."""
    expansion = 1

    def __init__(self, in_channels, channels, stride, data_format, shift=None, shift_place="residual"):
        super().__init__(in_channels, stride, shift, shift_place)
        self.conv0 = ConvBNLayer(in_channels, channels, 3, stride, act="relu", data_format=data_format)
        self.conv1 = ConvBNLayer(channels, channels, 3, data_format=data_format)
        self.short = (ConvBNLayer(in_channels, channels, 1, stride, data_format=data_format)
                      if stride != 1 or in_channels != channels else None)

    def branch(self, x):
        return self.conv1(self.conv0(x))


def stage_blocks(counts, base_channels):
    """(stage, index, channels, stride) of every block of a ResNet with ``counts`` blocks per
    stage: channels base x 2^stage, stride 2 in the first block of every stage but the first."""
    for stage, count in enumerate(counts):
        for i in range(count):
            yield stage, i, base_channels * 2 ** stage, 2 if i == 0 and stage > 0 else 1


def block_name(depth, stage, index):
    """PaddleVideo's sublayer name of block ``index`` in ``stage`` (0-based): res2a, res4b12, ..."""
    if depth in (101, 152) and stage == 2:
        return f"res{stage + 2}" + ("a" if index == 0 else f"b{index}")
    return f"res{stage + 2}{chr(ord('a') + index)}"


@BACKBONES.register
class ResNetTSM(TSMBackbone):
    """ResNet-{18,34,50,101,152} with TSM shifts; a TSMBackbone (see base.py).

    Args: depth; num_seg (frames per clip, T); data_format NCHW|NHWC; pretrained (path, loaded by
    the recognizer); shift_div (fold = C // shift_div, 0 = no shift = TSN; 'num_seg': T);
    shift_place residual|inplace; n_round (shift every n-th block of a stage); shift_direction paddle|pytorch;
    shift_mode offline|online; shift_impl (see ops); partial_bn (freeze all BN but the first);
    norm_eval (all BN in eval mode); base_channels (64 = standard width); stem '7x7' (conv 7x7/2 +
    max-pool) or '3x3' (conv 3x3/2, no pool: for small inputs); non_local: one list of 0/1 per
    stage, a 1 puts a NonLocal3D (``<block>_nonlocal``) after that block (mmaction2's non-local
    TSM: ``[[0,0,0], [1,0,1,0], [1,0,1,0,1,0], [0,0,0]]``); non_local_cfg: its settings (mode,
    reduction, sub_sample, use_scale; see non_local.py). Non-local blocks see the future frames of
    a clip, so they refuse shift_mode online.
    """

    def __init__(self, depth=50, num_seg=8, data_format="NCHW", pretrained=None, shift_div=8,
                 shift_place="residual", n_round=1, shift_direction="paddle", shift_mode="offline",
                 shift_impl="auto", partial_bn=False, norm_eval=False, base_channels=64, stem="7x7",
                 in_channels=3, non_local=None, non_local_cfg=None):
        super().__init__(num_seg, data_format, pretrained)
        if depth not in ARCHS:
            raise ValueError(f"ResNetTSM depth must be one of {sorted(ARCHS)}, got {depth}")
        if shift_place not in SHIFT_PLACES:
            raise ValueError(f"shift_place must be one of {SHIFT_PLACES}, got {shift_place!r}")
        if stem not in ("7x7", "3x3"):
            raise ValueError(f"stem must be '7x7' or '3x3', got {stem!r}")
        if not isinstance(n_round, int) or n_round < 1:
            raise ValueError(f"n_round must be a positive int, got {n_round!r}")
        shift_div = resolve_shift_div(shift_div, num_seg)
        self.depth, self.shift_div, self.shift_mode = depth, shift_div, shift_mode
        kind, counts = ARCHS[depth]
        block_cls = BottleneckBlock if kind == "bottleneck" else BasicBlock
        non_local_at = non_local_marks(non_local, counts)
        non_local_cfg = check_non_local_cfg(non_local_cfg)
        if any(map(any, non_local_at)):
            if shift_mode == "online":
                raise ValueError(f"shift_mode online is refused with non_local blocks: {ONLINE_REFUSAL}")
            self.online_refusal = ONLINE_REFUSAL

        self.conv = ConvBNLayer(in_channels, base_channels, 7 if stem == "7x7" else 3, 2, act="relu",
                                data_format=data_format)
        self.pool = nn.MaxPool2D(3, 2, 1, data_format=data_format) if stem == "7x7" else None
        self.stem_stride = 4 if stem == "7x7" else 2
        self.unit_names = []  # the blocks, each followed by its non-local block if it has one
        in_c = base_channels
        for stage, i, channels, stride in stage_blocks(counts, base_channels):
            shift = None
            if shift_div and i % n_round == 0:
                shift = TemporalShift(num_seg, shift_div, data_format, shift_direction, shift_mode, shift_impl)
            name = block_name(depth, stage, i)
            self.add_sublayer(name, block_cls(in_c, channels, stride, data_format, shift, shift_place))
            self.unit_names.append(name)
            in_c = channels * block_cls.expansion
            if non_local_at[stage][i]:
                self.add_sublayer(name + "_nonlocal", NonLocal3D(in_c, num_seg, data_format, **non_local_cfg))
                self.unit_names.append(name + "_nonlocal")
        self.out_channels = in_c
        self.new_layer_prefixes = tuple(n + "." for n in self.unit_names if n.endswith("_nonlocal"))
        # a non-local BN starts at zero (the block as identity): it must learn, whatever partial_bn says
        self.freeze_bns(partial_bn, norm_eval, keep=[getattr(self, p[:-1]).bn for p in self.new_layer_prefixes])

    def forward_stem(self, x):
        x = self.conv(x)
        if self.pool is not None:
            x = self.pool(x)
        return x

    def units(self):
        return [(name, getattr(self, name)) for name in self.unit_names]
