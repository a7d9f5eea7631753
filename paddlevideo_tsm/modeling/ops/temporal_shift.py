"""The temporal shift: the one place where TSM moves channels along time.

Layout: the backbone sees clips flattened to ``[N*T, C, H, W]`` (NCHW) or ``[N*T, H, W, C]`` (NHWC).
``fold = C // shift_div``. Direction ``paddle`` (Paddle's op): channels ``[0, fold)`` of frame t take
frame t-1, channels ``[fold, 2*fold)`` take frame t+1; ``pytorch`` (original TSM code) swaps the two.
Frames past either end contribute zeros. Online mode keeps only the fold that looks at the past;
the other fold stays unshifted, so no output depends on a future frame.

Implementations (``impl``, the backbone's ``shift_impl``), all bit-identical:
``pieces`` one flat concat of contiguous runs, backward the adjoint shift (dynamic graph, NCHW);
``block`` only the two moving folds go through a time-axis reshape (any layout, static graphs);
``slice`` slice + concat on a time axis for every channel (the plain reference);
``op`` Paddle's ``F.temporal_shift`` (offline + direction paddle; else ``slice``);
``auto`` (default) picks per situation, see ``choose_impl``.
"""
import paddle
import paddle.nn as nn

from . import shift_impls
from .shift_autograd import PlanShift
from .shift_plan import DIRECTIONS, MODES, folds, is_identity, make_plan  # noqa: F401

IMPLS = ("auto", "op", "slice", "block", "pieces")
_FUNCS = {"slice": shift_impls.by_slices, "block": shift_impls.by_moving_block,
          "pieces": shift_impls.by_pieces}


def choose_impl(impl, data_format, plan, channels, shift_div):
    """Resolve ``impl`` to the one that runs here: 'op', 'slice', 'block' or 'pieces'.

    auto: dynamic graph + NCHW -> 'pieces' (one copy forward, one copy backward); otherwise
    (NHWC, or a static graph: to_static / export, where the batch is unknown) -> 'block'.
    'pieces' needs both, else it runs as 'block'; 'op' runs as 'slice' where the op cannot.
    """
    if impl not in IMPLS:
        raise ValueError(f"shift_impl must be one of {IMPLS}, got {impl!r}")
    if impl == "op":
        return "op" if shift_impls.op_applies(plan, channels, shift_div) else "slice"
    if impl in ("pieces", "auto"):
        return "pieces" if paddle.in_dynamic_mode() and data_format == "NCHW" else "block"
    return impl


def temporal_shift(x, num_seg, shift_div=8, data_format="NCHW", direction="paddle",
                   mode="offline", impl="auto"):
    """Shift channels of ``x`` ([N*T, C, H, W] or [N*T, H, W, C]) along time; same shape out."""
    axis = shift_impls.channel_axis(data_format)
    channels = x.shape[axis]
    plan = make_plan(channels, shift_div, direction, mode)
    if is_identity(plan):
        if impl not in IMPLS:
            raise ValueError(f"shift_impl must be one of {IMPLS}, got {impl!r}")
        return x
    chosen = choose_impl(impl, data_format, plan, channels, shift_div)
    if chosen == "op":
        return shift_impls.by_op(x, num_seg, shift_div, data_format)
    fn = _FUNCS[chosen]
    # autograd through slices adds a full-size zero tensor per slice in backward: 'pieces' and
    # 'auto' take the adjoint shift instead ('slice' and 'block' keep plain autograd)
    if (impl in ("pieces", "auto") and paddle.in_dynamic_mode() and paddle.is_grad_enabled()
            and not x.stop_gradient):
        return PlanShift.apply(x, num_seg, plan, axis, fn)
    return fn(x, num_seg, plan, axis)


def online_shift_step(x, cache, shift_div=8, data_format="NCHW", direction="paddle"):
    """One frame of online shift: x [N, C, H, W] (or NHWC), cache [N, fold, H, W] = previous
    frame's past fold (zeros before the first frame).

    Returns (out, new_cache): ``out`` is ``x`` with the past fold replaced by ``cache``;
    ``new_cache`` is this frame's past fold, to feed the next frame.
    """
    axis = shift_impls.channel_axis(data_format)
    C = x.shape[axis]
    (plo, phi), _ = folds(C, shift_div, direction)
    new_cache = shift_impls._slice(x, axis, plo, phi)
    parts = []
    if plo > 0:
        parts.append(shift_impls._slice(x, axis, 0, plo))
    parts += [cache, shift_impls._slice(x, axis, phi, C)]
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
        shift_impls.channel_axis(data_format)
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
