"""A temporal shift folded into the 1x1 conv that follows it: conv(shift(x)) without copying x.

A 1x1 conv is linear over input channels, so conv(shift(x), W) = conv(x, W with the moving
channels' columns zeroed) + conv(shift(x_moving), W[:, moving]). Only the moving channels (2 folds,
a quarter of x at shift_div 8) are copied and shifted; the unmoved three quarters are read in
place. Costs ~25% more conv FLOPs (the zeroed columns), saves copying x twice; equal to the
unfolded result up to float rounding (~1e-6 relative), not bit-identical.
"""
import numpy as np
import paddle
import paddle.nn.functional as F

from . import shift_impls
from .shift_plan import make_plan, moving_block


def can_fold(conv):
    """True for a Conv2D that commutes with a shift of its input: 1x1, stride 1, no groups/bias."""
    k = conv._kernel_size
    s = conv._stride
    return (tuple(k) == (1, 1) and tuple(s) == (1, 1) and conv._groups == 1 and conv.bias is None)


def shifted_conv(x, conv, num_seg, shift_div, data_format="NCHW", direction="paddle", mode="offline"):
    """conv(temporal_shift(x)) for a 1x1 ``conv`` (see ``can_fold``); x [N*T, C, H, W] (or NHWC)
    -> [N*T, C_out, H, W]."""
    axis = shift_impls.channel_axis(data_format)
    channels = x.shape[axis]
    plan = make_plan(channels, shift_div, direction, mode)
    if all(step == 0 for _, _, step in plan):
        return conv(x)
    lo, hi, sub_plan = moving_block(plan)
    moved = shift_impls.by_slices(shift_impls._slice(x, axis, lo, hi), num_seg, sub_plan, axis)
    weight = conv.weight  # [C_out, C, 1, 1]
    keep = np.ones([1, channels, 1, 1], dtype=np.float32)
    keep[:, lo:hi] = 0.0
    w_rest = weight * paddle.to_tensor(keep, dtype=weight.dtype)
    w_moved = paddle.slice(weight, axes=[1], starts=[lo], ends=[hi])
    return (F.conv2d(x, w_rest, data_format=data_format)
            + F.conv2d(moved, w_moved, data_format=data_format))
