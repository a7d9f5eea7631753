"""The temporal shift: the one place where TSM moves channels along time.

Layout: the backbone sees clips flattened to ``[N*T, C, H, W]`` (NCHW) or ``[N*T, H, W, C]`` (NHWC).
``fold = C // shift_div``. Direction ``paddle`` (Paddle's op): channels ``[0, fold)`` of frame t take
frame t-1, channels ``[fold, 2*fold)`` take frame t+1; ``pytorch`` (original TSM code) swaps the two.
Frames past either end contribute zeros. Online mode keeps only the fold that looks at the past;
the other fold stays unshifted, so no output depends on a future frame.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

DIRECTIONS = ("paddle", "pytorch")
MODES = ("offline", "online")
IMPLS = ("auto", "op", "slice")


def _channel_axis(data_format):
    if data_format not in ("NCHW", "NHWC"):
        raise ValueError(f"data_format must be NCHW or NHWC, got {data_format!r}")
    return 1 if data_format == "NCHW" else 3


def folds(channels, shift_div, direction="paddle"):
    """Return ((past_lo, past_hi), (future_lo, future_hi)) channel ranges for ``channels``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"shift_direction must be one of {DIRECTIONS}, got {direction!r}")
    fold = channels // shift_div
    first, second = (0, fold), (fold, 2 * fold)
    return (first, second) if direction == "paddle" else (second, first)


def _chan(x, lo, hi, axis):
    return paddle.slice(x, axes=[axis], starts=[lo], ends=[hi])


def _shift_time(x5, step):
    """x5: [N, T, ...]; return y with y[:, t] = x5[:, t - step] (zeros outside), step in {1, -1}."""
    zeros = paddle.zeros_like(paddle.slice(x5, axes=[1], starts=[0], ends=[1]))
    T = x5.shape[1]
    if step == 1:
        body = paddle.slice(x5, axes=[1], starts=[0], ends=[T - 1])
        return paddle.concat([zeros, body], axis=1)
    body = paddle.slice(x5, axes=[1], starts=[1], ends=[T])
    return paddle.concat([body, zeros], axis=1)


def _split_time(x, num_seg):
    """[N*T, ...] -> [N, T, ...]."""
    return paddle.reshape(x, [-1, num_seg] + list(x.shape[1:]))


def temporal_shift(x, num_seg, shift_div=8, data_format="NCHW", direction="paddle",
                   mode="offline", impl="auto"):
    """Shift channels of ``x`` ([N*T, C, H, W] or [N*T, H, W, C]) along time; same shape out."""
    if not shift_div:
        return x
    axis = _channel_axis(data_format)
    C = x.shape[axis]
    fold = C // shift_div
    if fold == 0:
        return x
    if (mode == "offline" and impl in ("auto", "op") and direction == "paddle"
            and int(C * (1.0 / shift_div)) == fold):
        return F.temporal_shift(x, seg_num=num_seg, shift_ratio=1.0 / shift_div, data_format=data_format)
    (plo, phi), (flo, fhi) = folds(C, shift_div, direction)
    x5 = _split_time(x, num_seg)
    cax = axis + 1
    past = _shift_time(_chan(x5, plo, phi, cax), 1)
    if mode == "offline":
        fut = _shift_time(_chan(x5, flo, fhi, cax), -1)
    elif mode == "online":
        fut = _chan(x5, flo, fhi, cax)
    else:
        raise ValueError(f"shift_mode must be one of {MODES}, got {mode!r}")
    pieces = {plo: past, flo: fut}
    parts = [pieces[lo] for lo in sorted(pieces)] + [_chan(x5, 2 * fold, C, cax)]
    return paddle.reshape(paddle.concat(parts, axis=cax), x.shape)


def online_shift_step(x, cache, shift_div=8, data_format="NCHW", direction="paddle"):
    """One frame of online shift: x [N, C, H, W] (or NHWC), cache = previous frame's past fold.

    Returns (out, new_cache): ``out`` is ``x`` with the past fold replaced by ``cache``;
    ``new_cache`` is this frame's past fold, to feed the next frame.
    """
    axis = _channel_axis(data_format)
    C = x.shape[axis]
    (plo, phi), _ = folds(C, shift_div, direction)
    new_cache = _chan(x, plo, phi, axis)
    parts = []
    if plo > 0:
        parts.append(_chan(x, 0, plo, axis))
    parts += [cache, _chan(x, phi, C, axis)]
    return paddle.concat(parts, axis=axis), new_cache


class TemporalShift(nn.Layer):
    """Parameter-free layer holding the shift settings of one block; adds no state-dict keys."""

    def __init__(self, num_seg, shift_div=8, data_format="NCHW", direction="paddle",
                 mode="offline", impl="auto"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"shift_mode must be one of {MODES}, got {mode!r}")
        if impl not in IMPLS:
            raise ValueError(f"shift_impl must be one of {IMPLS}, got {impl!r}")
        folds(8, 8, direction)  # validates direction
        self.num_seg, self.shift_div, self.data_format = num_seg, shift_div, data_format
        self.direction, self.mode, self.impl = direction, mode, impl

    def forward(self, x):
        return temporal_shift(x, self.num_seg, self.shift_div, self.data_format,
                              self.direction, self.mode, self.impl)

    def cache_shape(self, channels):
        """Number of channels in this block's online cache."""
        return channels // self.shift_div

    def step(self, x, cache):
        """Online per-frame shift; see ``online_shift_step``."""
        return online_shift_step(x, cache, self.shift_div, self.data_format, self.direction)

    def extra_repr(self):
        return (f"num_seg={self.num_seg}, shift_div={self.shift_div}, direction={self.direction}, "
                f"mode={self.mode}, impl={self.impl}")
