"""A shift plan: which channel ranges move along time, and by how many frames.

A plan is a tuple of ``(lo, hi, step)`` covering channels ``[0, C)`` in order: output frame t of
channels ``[lo, hi)`` is input frame ``t - step`` (zeros when that frame is outside the clip).
``step`` is +1 (takes the past), -1 (takes the future) or 0 (unshifted). Every implementation
executes a plan; the gradient of a plan is the same plan with every step negated.
"""

DIRECTIONS = ("paddle", "pytorch")
MODES = ("offline", "online")


def resolve_shift_div(shift_div, num_seg):
    """A backbone's ``shift_div`` setting -> the int it means: ``'num_seg'`` or None shift 1/num_seg
    of the channels each way (PaddleVideo's PP-TSM: ``temporal_shift(x, T, 1/T)``); an int passes
    unchanged (0 = no shift, checked by make_plan). Paddle's op takes channels [0, int(C/T)) and
    [int(C/T), int(2C/T)), the folds here [0, C//T) and [C//T, 2*(C//T)): the same unless C mod T
    >= T/2, which no unit of PaddleVideo's PP-TSM ResNets (T = 8, 16) or MobileNetV2 (T = 8) has."""
    if shift_div is None or shift_div == "num_seg":
        return num_seg
    if isinstance(shift_div, str):
        raise ValueError(f"shift_div must be an int or 'num_seg', got {shift_div!r}")
    return shift_div


def folds(channels, shift_div, direction="paddle"):
    """channels, shift_div -> ((past_lo, past_hi), (future_lo, future_hi)) channel ranges."""
    if direction not in DIRECTIONS:
        raise ValueError(f"shift_direction must be one of {DIRECTIONS}, got {direction!r}")
    fold = channels // shift_div
    first, second = (0, fold), (fold, 2 * fold)
    return (first, second) if direction == "paddle" else (second, first)


def make_plan(channels, shift_div, direction="paddle", mode="offline"):
    """-> plan (tuple of (lo, hi, step)); the empty-shift plan ((0, C, 0),) when nothing moves."""
    if mode not in MODES:
        raise ValueError(f"shift_mode must be one of {MODES}, got {mode!r}")
    if isinstance(shift_div, bool) or not isinstance(shift_div, int) or shift_div < 0 or shift_div == 1:
        # two folds must fit in the channels: shift_div 1 would shift every channel both ways
        raise ValueError(f"shift_div must be 0 (no shift) or an int >= 2, got {shift_div!r}")
    if not shift_div or channels // shift_div == 0:
        folds(channels, 1, direction)  # still reject a bad direction
        return ((0, channels, 0),)
    (plo, phi), (flo, fhi) = folds(channels, shift_div, direction)
    fut_step = -1 if mode == "offline" else 0
    ranges = sorted([(plo, phi, 1), (flo, fhi, fut_step), (2 * (phi - plo), channels, 0)])
    merged = []
    for lo, hi, step in ranges:
        if hi <= lo:
            continue
        if merged and merged[-1][2] == step and merged[-1][1] == lo:
            merged[-1] = (merged[-1][0], hi, step)  # fewer, longer pieces to copy
        else:
            merged.append((lo, hi, step))
    return tuple(merged)


def adjoint(plan):
    """The plan whose output is the gradient of ``plan``'s input: every step negated."""
    return tuple((lo, hi, -step) for lo, hi, step in plan)


def moving_block(plan):
    """plan -> (lo, hi, sub_plan): the smallest channel range holding every moving range, and the
    plan of that range alone (channels re-based to lo)."""
    moving = [(lo, hi) for lo, hi, step in plan if step != 0]
    lo_m, hi_m = min(lo for lo, _ in moving), max(hi for _, hi in moving)
    sub = tuple((max(lo, lo_m) - lo_m, min(hi, hi_m) - lo_m, step)
                for lo, hi, step in plan if hi > lo_m and lo < hi_m)
    return lo_m, hi_m, sub


def is_identity(plan):
    return all(step == 0 for _, _, step in plan)
