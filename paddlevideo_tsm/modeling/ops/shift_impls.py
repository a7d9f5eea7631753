"""Ways to execute a shift plan (see ``shift_plan``); all give bit-identical results.

- ``by_slices``: split time into its own axis, shift each channel range with slice + concat
  along time, concat the ranges along channels. Any layout, batch may be unknown (static graphs).
- ``by_moving_block``: slice out the channels that move (2 folds), shift only them with
  ``by_slices``, concat with the untouched channels. In Paddle Inference with oneDNN the time
  axis reshape forces a reorder out of oneDNN's blocked layout; this way only a quarter of the
  tensor takes it.
- ``by_pieces``: NCHW only, concrete shapes. In memory each (frame, channel range) is one
  contiguous run, so the output is ONE concat of contiguous runs of the flat input (plus zero
  runs at the clip ends): a single copy of the tensor, no intermediate tensors.
- ``by_frames``: no reshape at all: one split of the channels into the plan's ranges, each moving
  range moved by one split + one concat along the frame axis, one concat of the ranges. Needs the
  number of frames (N*T) to be known (a fixed batch). In Paddle Inference with oneDNN every op
  here keeps oneDNN's own layout, so nothing is reordered (the time-axis reshape of the other
  static-graph impls reorders the moved channels out of that layout and back).
- ``by_op``: Paddle's ``F.temporal_shift`` (offline, direction 'paddle' only).
"""
import paddle
import paddle.nn.functional as F

from .shift_plan import moving_block


def channel_axis(data_format):
    if data_format not in ("NCHW", "NHWC"):
        raise ValueError(f"data_format must be NCHW or NHWC, got {data_format!r}")
    return 1 if data_format == "NCHW" else 3


def _slice(x, axis, lo, hi):
    return paddle.slice(x, axes=[axis], starts=[lo], ends=[hi])


def _move_in_time(x5, step, num_seg):
    """x5 [N, T, ...] -> y with y[:, t] = x5[:, t - step], zeros where t - step is outside [0, T)."""
    if step == 0:
        return x5
    if num_seg == 1:
        return paddle.zeros_like(x5)
    zeros = paddle.zeros_like(_slice(x5, 1, 0, 1))
    if step == 1:
        return paddle.concat([zeros, _slice(x5, 1, 0, num_seg - 1)], axis=1)
    return paddle.concat([_slice(x5, 1, 1, num_seg), zeros], axis=1)


def by_slices(x, num_seg, plan, axis):
    """x [N*T, ...] with channels on ``axis`` -> shifted x, same shape."""
    x5 = paddle.reshape(x, [-1, num_seg] + list(x.shape[1:]))
    parts = [_move_in_time(_slice(x5, axis + 1, lo, hi), step, num_seg) for lo, hi, step in plan]
    y = parts[0] if len(parts) == 1 else paddle.concat(parts, axis=axis + 1)
    return paddle.reshape(y, [-1] + list(x.shape[1:]))


def by_moving_block(x, num_seg, plan, axis):
    """x [N*T, ...] with channels on ``axis`` -> shifted x, same shape; only moving channels reshaped."""
    lo, hi, sub_plan = moving_block(plan)
    channels = x.shape[axis]
    moved = by_slices(_slice(x, axis, lo, hi), num_seg, sub_plan, axis)
    parts = (([_slice(x, axis, 0, lo)] if lo > 0 else []) + [moved]
             + ([_slice(x, axis, hi, channels)] if hi < channels else []))
    return parts[0] if len(parts) == 1 else paddle.concat(parts, axis=axis)


@paddle.jit.not_to_static
def piece_runs(frames, num_seg, channels, plane, plan):
    """Flat-memory recipe of a shifted NCHW tensor: list of (start, length) runs of the input,
    start None for a run of zeros, merged where neighbours are contiguous. plane = H*W."""
    runs = []
    frame_len = channels * plane
    for i in range(frames):
        t = i % num_seg
        for lo, hi, step in plan:
            src = t - step
            start = None if not 0 <= src < num_seg else (i - step) * frame_len + lo * plane
            length = (hi - lo) * plane
            if runs and (runs[-1][0] is None and start is None
                         or runs[-1][0] is not None and start is not None
                         and runs[-1][0] + runs[-1][1] == start):
                runs[-1] = (runs[-1][0], runs[-1][1] + length)
            else:
                runs.append((start, length))
    return runs


def by_pieces(x, num_seg, plan, axis):
    """x [N*T, C, H, W] (concrete shape, NCHW) -> shifted x, same shape, by one flat concat."""
    if axis != 1:
        raise ValueError("the 'pieces' shift needs NCHW")
    frames, channels = x.shape[0], x.shape[1]
    if frames % num_seg:
        raise ValueError(f"batch of {frames} frames is not a multiple of num_seg={num_seg}")
    plane = x.shape[2] * x.shape[3]
    flat = paddle.reshape(x, [-1])
    runs = piece_runs(frames, num_seg, channels, plane, plan)
    if len(runs) == 1 and runs[0][0] == 0:
        return x
    zero_len = max((n for s, n in runs if s is None), default=0)
    zeros = paddle.zeros([zero_len], dtype=x.dtype) if zero_len else None
    parts = [zeros[:n] if s is None else flat[s:s + n] for s, n in runs]
    return paddle.reshape(paddle.concat(parts, axis=0), x.shape)


def _move_frames(part, step, num_seg):
    """part [N*T, ...] (N*T known) -> y with y[n*T + t] = part[n*T + t - step], zeros where
    t - step is outside [0, T)."""
    if num_seg == 1:
        return paddle.zeros_like(part)
    clips = part.shape[0] // num_seg
    # per clip: the T-1 frames that stay in the clip, and the one that falls off its end
    kept_first = step == 1
    pieces = paddle.split(part, [num_seg - 1, 1] * clips if kept_first else [1, num_seg - 1] * clips)
    zero = paddle.zeros([1] + list(part.shape[1:]), dtype=part.dtype)
    moved = []
    for n in range(clips):
        moved += [zero, pieces[2 * n]] if kept_first else [pieces[2 * n + 1], zero]
    return paddle.concat(moved, axis=0)


def by_frames(x, num_seg, plan, axis):
    """x [N*T, ...] (N*T known), channels on ``axis`` -> shifted x, same shape; frame-axis and
    channel-axis split + concat only."""
    frames = x.shape[0]
    if not (isinstance(frames, int) and frames > 0):
        raise ValueError("the 'frames' shift needs a known number of frames (a fixed batch)")
    if frames % num_seg:
        raise ValueError(f"batch of {frames} frames is not a multiple of num_seg={num_seg}")
    parts = (paddle.split(x, [hi - lo for lo, hi, _ in plan], axis=axis) if len(plan) > 1 else [x])
    moved = [p if step == 0 else _move_frames(p, step, num_seg) for p, (_, _, step) in zip(parts, plan)]
    return moved[0] if len(moved) == 1 else paddle.concat(moved, axis=axis)


def op_applies(plan, channels, shift_div):
    """True when Paddle's op computes exactly this plan (offline, direction 'paddle')."""
    fold = channels // shift_div
    ratio = 1.0 / shift_div
    # the op's folds are [0, int(C*r)) and [int(C*r), int(2*C*r)): e.g. C=8, r=1/3 gives 2 and 3
    # channels, not fold = C // shift_div twice
    # the op also refuses shift_ratio >= 0.5 (shift_div 2)
    return (len(plan) == 3 and plan[0] == (0, fold, 1) and plan[1] == (fold, 2 * fold, -1)
            and int(channels * ratio) == fold and int(2 * channels * ratio) == 2 * fold)


def by_op(x, num_seg, shift_div, data_format):
    return F.temporal_shift(x, seg_num=num_seg, shift_ratio=1.0 / shift_div, data_format=data_format)
