"""ResNet-vd with TSM: PaddleVideo's PP-TSM backbone ``ResNetTweaksTSM``; ``shift_div: 0`` is the TSN twin.

ResNet-D layout (PaddleClas's ResNet_vd): a stem of three 3x3 conv-BN-leaky_relu (32, 32, 64
channels, the first with stride 2) and a 3x3/2 max pool; bottlenecks ``bb_<stage>_<index>``
(18/34: basic blocks ``res2a`` ...). Every block shifts its input (residual place: the shift
precedes ``conv0``, the shortcut takes the unshifted input) by 1/num_seg of the channels each way
(PaddleVideo's ``temporal_shift(x, T, 1/T)``). Activations are leaky_relu (slope 0.01), after the
stem convs, conv0/conv1 of every block and the residual add. Layer names, order and shapes are
PaddleVideo's, so its PP-TSM checkpoints and PaddleClas's ResNet50_vd ImageNet weights load
without a key map. Input ``[N*T, 3, H, W]`` (or NHWC); output ``[N*T, C, H/32, W/32]``, C = 2048
(50+) or 512 (18/34) at base width 64.
"""
import paddle.nn as nn

from ..ops import TemporalShift, resolve_shift_div
from ..registry import BACKBONES
from .base import TSMBackbone
from .conv_bn import ConvBNLayer
from .resnet_tsm import ARCHS, _ResidualBlock, stage_blocks


class TweaksBottleneck(_ResidualBlock):
    """1x1 -> 3x3 (stride) -> 1x1 (x4); ``short`` in a stage's first block: a 1x1 conv-BN after a
    2x2/2 ceil-mode average pool when the block downsamples (the vd tweak), without it in bb_0_0."""
    act = "leaky_relu"
    expansion = 4

    def __init__(self, in_channels, channels, stride, data_format, shift, project):
        super().__init__(in_channels, stride, shift, "residual")
        out = channels * self.expansion
        kw = dict(data_format=data_format)
        self.conv0 = ConvBNLayer(in_channels, channels, 1, act="leaky_relu", **kw)
        self.conv1 = ConvBNLayer(channels, channels, 3, stride, act="leaky_relu", **kw)
        self.conv2 = ConvBNLayer(channels, out, 1, **kw)
        self.short = ConvBNLayer(in_channels, out, 1, pool_first=stride != 1, **kw) if project else None

    def branch(self, x):
        return self.conv2(self.conv1(self.conv0(x)))


class TweaksBasicBlock(_ResidualBlock):
    """3x3 (stride) -> 3x3; ``short`` (a strided 1x1 conv-BN, no pool) in the first block of every
    stage, the first stage included (PaddleVideo's 18/34 layout)."""
    act = "leaky_relu"
    expansion = 1

    def __init__(self, in_channels, channels, stride, data_format, shift, project):
        super().__init__(in_channels, stride, shift, "residual")
        kw = dict(data_format=data_format)
        self.conv0 = ConvBNLayer(in_channels, channels, 3, stride, act="leaky_relu", **kw)
        self.conv1 = ConvBNLayer(channels, channels, 3, **kw)
        self.short = ConvBNLayer(in_channels, channels, 1, stride, **kw) if project else None

    def branch(self, x):
        return self.conv1(self.conv0(x))


@BACKBONES.register
class ResNetTweaksTSM(TSMBackbone):
    """ResNet-vd-{18,34,50,101,152} TSM (PP-TSM); a TSMBackbone (see base.py).

    Args: depth; num_seg (frames per clip, T); data_format NCHW|NHWC; pretrained (path, loaded by
    the recognizer: a PP-TSM checkpoint or ImageNet ResNet_vd weights); shift_div ('num_seg' or
    None = T, PaddleVideo's 1/T per direction; an int: fold = C // shift_div; 0 = TSN);
    shift_direction paddle|pytorch; shift_mode offline|online; shift_impl (see ops);
    base_channels (64 = standard width; the stem has base/2, base/2, base channels).
    """

    stem_stride = 4

    def __init__(self, depth=50, num_seg=8, data_format="NCHW", pretrained=None, shift_div=None,
                 shift_direction="paddle", shift_mode="offline", shift_impl="auto", base_channels=64):
        super().__init__(num_seg, data_format, pretrained)
        if depth not in ARCHS:
            raise ValueError(f"ResNetTweaksTSM depth must be one of {sorted(ARCHS)}, got {depth}")
        shift_div = resolve_shift_div(shift_div, num_seg)
        self.depth, self.shift_div, self.shift_mode = depth, shift_div, shift_mode
        kind, counts = ARCHS[depth]
        block_cls = TweaksBottleneck if kind == "bottleneck" else TweaksBasicBlock
        half = base_channels // 2
        kw = dict(act="leaky_relu", data_format=data_format)
        self.conv1_1 = ConvBNLayer(3, half, 3, 2, **kw)
        self.conv1_2 = ConvBNLayer(half, half, 3, 1, **kw)
        self.conv1_3 = ConvBNLayer(half, base_channels, 3, 1, **kw)
        self.pool2D_max = nn.MaxPool2D(3, 2, 1, data_format=data_format)
        self.block_names = []
        in_c = base_channels
        for stage, i, channels, stride in stage_blocks(counts, base_channels):
            shift = None
            if shift_div:
                shift = TemporalShift(num_seg, shift_div, data_format, shift_direction, shift_mode, shift_impl)
            name = f"bb_{stage}_{i}" if kind == "bottleneck" else f"res{stage + 2}{chr(ord('a') + i)}"
            self.add_sublayer(name, block_cls(in_c, channels, stride, data_format, shift, i == 0))
            self.block_names.append(name)
            in_c = channels * block_cls.expansion
        self.out_channels = in_c

    def forward_stem(self, x):
        return self.pool2D_max(self.conv1_3(self.conv1_2(self.conv1_1(x))))

    def units(self):
        return [(name, getattr(self, name)) for name in self.block_names]
