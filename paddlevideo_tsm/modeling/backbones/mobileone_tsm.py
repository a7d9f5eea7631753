"""MobileOne (Vasu et al., Apple, CVPR 2023; arXiv 2022) with a temporal shift in front of every
MobileOne block; ``shift_div: 0`` is the TSN twin.

A MobileOne block trains as a sum of branches (k x k conv-BNs, a 1x1 conv-BN, a BN-only identity)
and deploys as one conv: ``switch_to_deploy`` folds the branches into that conv using the BN
running statistics, so the deploy form computes the same function as the training form in eval
mode. The shift sits in front of the whole block (in place: the identity branch takes the shifted
input too); a shift inside one branch would not survive the folding. The network is a chain of
blocks: stage0 (a 3x3/2 block), then per stage pairs of a depthwise 3x3 block (stride 2 in the
first pair) and a pointwise 1x1 block, with squeeze-excitation in both blocks of a stage's last
pairs. Layer names follow mmpretrain's MobileOne (``stage1.0.branch_conv_list.0.conv.weight``).
Input ``[N*T, 3, H, W]`` (or NHWC); output ``[N*T, C, H/32, W/32]``, C = 2048 for s4.
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr
from paddle.nn.initializer import Constant, KaimingNormal
from paddle.regularizer import L2Decay

from ..ops import TemporalShift
from ..registry import BACKBONES
from .base import ShiftUnit, TSMBackbone

# arch -> blocks (pairs) per stage, width factor per stage, k x k conv branches per block,
# squeeze-excitation pairs at the end of each stage (Apple's / mmpretrain's table)
ARCHS = {
    "s0": ((2, 8, 10, 1), (0.75, 1.0, 1.0, 2.0), 4, (0, 0, 0, 0)),
    "s1": ((2, 8, 10, 1), (1.5, 1.5, 2.0, 2.5), 1, (0, 0, 0, 0)),
    "s2": ((2, 8, 10, 1), (1.5, 2.0, 2.5, 4.0), 1, (0, 0, 0, 0)),
    "s3": ((2, 8, 10, 1), (2.0, 2.5, 3.0, 4.0), 1, (0, 0, 0, 0)),
    "s4": ((2, 8, 10, 1), (3.0, 3.5, 3.5, 4.0), 1, (0, 0, 5, 1)),
}
BASE_WIDTHS = (64, 128, 256, 512)


def _batch_norm(channels, data_format):
    # BN scale/shift get no weight decay, as in the project's other backbones
    return nn.BatchNorm2D(channels, data_format=data_format,
                          weight_attr=ParamAttr(initializer=Constant(1.0), regularizer=L2Decay(0.0)),
                          bias_attr=ParamAttr(initializer=Constant(0.0), regularizer=L2Decay(0.0)))


def make_divisible(value, divisor=8, min_ratio=0.9):
    """``value`` rounded to a multiple of ``divisor``, never below min_ratio * value (mmpretrain's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < min_ratio * value else rounded


class SqueezeExcitation(nn.Layer):
    """x * sigmoid(conv2(relu(conv1(mean over h, w of x)))); squeeze = make_divisible(C // 16)."""

    def __init__(self, channels, data_format="NCHW", ratio=16):
        super().__init__()
        squeeze = make_divisible(channels // ratio)
        self.pool = nn.AdaptiveAvgPool2D(1, data_format=data_format)
        self.conv1 = nn.Conv2D(channels, squeeze, 1, data_format=data_format)
        self.conv2 = nn.Conv2D(squeeze, channels, 1, data_format=data_format)

    def forward(self, x):
        return x * sigmoid(self.conv2(F.relu(self.conv1(self.pool(x)))))


def sigmoid(x):
    """1 / (1 + exp(-x)) as softmax([0, x])[1]: Paddle 3.3.1's F.sigmoid (and exp, tanh) cannot be
    traced into an old-IR .pdmodel export ("must be Value, but got Variable"); softmax can."""
    return F.softmax(paddle.stack([paddle.zeros_like(x), x]), axis=0)[1]


class ConvBN(nn.Layer):
    """conv (no bias) -> BN: one branch of a MobileOne block."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, groups, data_format):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                              groups=groups, bias_attr=False, data_format=data_format,
                              weight_attr=ParamAttr(initializer=KaimingNormal()))
        self.norm = _batch_norm(out_channels, data_format)

    def forward(self, x):
        return self.norm(self.conv(x))


def fold_bn(weight, bn):
    """A bias-free conv ``weight`` [O, I, k, k] followed by ``bn`` (eval statistics) -> the (weight,
    bias [O]) of one biased conv computing the same."""
    scale = bn.weight / paddle.sqrt(bn._variance + bn._epsilon)
    return weight * scale.reshape([-1, 1, 1, 1]), bn.bias - bn._mean * scale


class MobileOneBlock(ShiftUnit):
    """relu(se(sum of branches of the shifted input)); in place shift (``shift_target`` '').

    Training form: ``num_convs`` k x k conv-BN branches (``branch_conv_list``), a 1x1 conv-BN
    ``branch_scale`` when k > 1, a BN-only ``branch_norm`` when the block keeps channels and size.
    Deploy form: one biased conv ``branch_reparam``. Padding k // 2, so the 1x1 branch lines up with
    the centre tap of the k x k one at any stride.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, groups=1, num_convs=1, se=False,
                 shift=None, deploy=False, data_format="NCHW"):
        super().__init__(in_channels, stride, shift, "")
        self.out_channels, self.kernel_size, self.groups = out_channels, kernel_size, groups
        self.data_format = data_format
        self.se = SqueezeExcitation(out_channels, data_format) if se else None
        if deploy:
            self._add_reparam()
            return
        self.branch_reparam = None
        self.branch_norm = (_batch_norm(in_channels, data_format)
                            if in_channels == out_channels and stride == 1 else None)
        self.branch_scale = (ConvBN(in_channels, out_channels, 1, stride, groups, data_format)
                             if kernel_size > 1 else None)
        self.branch_conv_list = nn.LayerList(
            [ConvBN(in_channels, out_channels, kernel_size, stride, groups, data_format)
             for _ in range(num_convs)])

    def _add_reparam(self):
        k = self.kernel_size
        self.branch_reparam = nn.Conv2D(self.in_channels, self.out_channels, k, self.stride, k // 2,
                                        groups=self.groups, data_format=self.data_format)

    def forward_shifted(self, x, shifted):
        if self.branch_reparam is not None:
            y = self.branch_reparam(shifted)
        else:
            y = sum(branch(shifted) for branch in self.branch_conv_list)
            if self.branch_scale is not None:
                y = y + self.branch_scale(shifted)
            if self.branch_norm is not None:
                y = y + self.branch_norm(shifted)
        if self.se is not None:
            y = self.se(y)
        return F.relu(y)

    def folded(self):
        """-> (weight [out, in/groups, k, k], bias [out]) of the one conv equal to the training
        branches with their BN running statistics."""
        k = self.kernel_size
        weight = paddle.zeros([self.out_channels, self.in_channels // self.groups, k, k])
        bias = paddle.zeros([self.out_channels])
        for branch in self.branch_conv_list:
            w, b = fold_bn(branch.conv.weight, branch.norm)
            weight, bias = weight + w, bias + b
        if self.branch_scale is not None:
            w, b = fold_bn(self.branch_scale.conv.weight, self.branch_scale.norm)
            weight, bias = weight + F.pad(w, [k // 2] * 4), bias + b
        if self.branch_norm is not None:
            # the identity as a grouped k x k conv: a 1 at the centre tap of channel i's own input
            per_group = self.in_channels // self.groups
            eye = np.zeros([self.in_channels, per_group, k, k], "float32")
            eye[np.arange(self.in_channels), np.arange(self.in_channels) % per_group, k // 2, k // 2] = 1
            w, b = fold_bn(paddle.to_tensor(eye), self.branch_norm)
            weight, bias = weight + w, bias + b
        return weight, bias

    @paddle.no_grad()
    def switch_to_deploy(self):
        """Replace the training branches by ``branch_reparam`` (in eval mode the same function)."""
        if self.branch_reparam is not None:
            return
        weight, bias = self.folded()
        for name in ("branch_conv_list", "branch_scale", "branch_norm"):
            delattr(self, name)
        self._add_reparam()
        self.branch_reparam.weight.set_value(weight)
        self.branch_reparam.bias.set_value(bias)


@BACKBONES.register
class MobileOneTSM(TSMBackbone):
    """MobileOne s0-s4 with a TSM shift in front of every block; a TSMBackbone (see base.py).

    Args: arch s0|s1|s2|s3|s4; num_seg (frames per clip, T); data_format NCHW|NHWC; pretrained
    (path, loaded by the recognizer); shift_div (fold = C // shift_div, 0 = TSN; a block whose
    input has fewer channels than shift_div, stage0 on RGB, does not shift); shift_direction
    paddle|pytorch; shift_mode offline|online; shift_impl (see ops); deploy (build the one-conv
    form that ``tools/reparameterize.py`` writes checkpoints for).
    """

    def __init__(self, arch="s4", num_seg=8, data_format="NCHW", pretrained=None, shift_div=8,
                 shift_direction="paddle", shift_mode="offline", shift_impl="auto", deploy=False):
        super().__init__(num_seg, data_format, pretrained)
        if arch not in ARCHS:
            raise ValueError(f"MobileOneTSM arch must be one of {', '.join(ARCHS)}, got {arch!r}")
        self.arch, self.shift_div, self.shift_mode, self.deploy = arch, shift_div, shift_mode, bool(deploy)
        blocks, widths, num_convs, se_pairs = ARCHS[arch]

        def block(name, cin, cout, k, stride, groups, convs, se):
            shift = None
            if shift_div and cin // shift_div > 0:
                shift = TemporalShift(num_seg, shift_div, data_format, shift_direction, shift_mode, shift_impl)
            unit = MobileOneBlock(cin, cout, k, stride, groups, convs, se, shift, self.deploy, data_format)
            self._units.append((name, unit))
            return unit

        self._units = []
        channels = min(64, int(64 * widths[0]))
        # stage0 has a single conv branch in every arch (mmpretrain)
        self.stage0 = block("stage0", 3, channels, 3, 2, 1, 1, False)
        for s, (pairs, width, se_count) in enumerate(zip(blocks, widths, se_pairs)):
            planes = int(BASE_WIDTHS[s] * width)
            stage = nn.LayerList()
            for i in range(pairs):
                se = i >= pairs - se_count
                prefix = f"stage{s + 1}.{len(stage)}"
                stage.append(block(prefix, channels, channels, 3, 2 if i == 0 else 1, channels, num_convs, se))
                stage.append(block(f"stage{s + 1}.{len(stage)}", channels, planes, 1, 1, 1, num_convs, se))
                channels = planes
            self.add_sublayer(f"stage{s + 1}", stage)
        self.out_channels = channels

    def units(self):
        return list(self._units)

    def switch_to_deploy(self):
        """Fold every block into its one-conv form (eval BN statistics); the state dict then has the
        keys of the same backbone built with ``deploy: True``."""
        for _, unit in self._units:
            unit.switch_to_deploy()
        self.deploy = True
