"""The temporal shift: the one place where TSM moves channels along time.

Layout: the backbone sees clips flattened to ``[N*T, C, H, W]`` (NCHW) or ``[N*T, H, W, C]`` (NHWC).
``fold = C // shift_div``. Direction ``paddle`` (Paddle's op): channels ``[0, fold)`` of frame t take
frame t-1, channels ``[fold, 2*fold)`` take frame t+1; ``pytorch`` (original TSM code) swaps the two.
Frames past either end contribute zeros. Online mode keeps only the fold that looks at the past;
the other fold stays unshifted, so no output depends on a future frame.

Implementations (``impl``, the backbone's ``shift_impl``), all bit-identical:
``pieces`` one flat concat of contiguous runs, backward the adjoint shift (dynamic graph, NCHW);
``frames`` split + concat on the frame and channel axes only, no reshape (known batch: static graphs
with a fixed batch, NHWC);
``block`` only the two moving folds go through a time-axis reshape (any layout, any batch);
``slice`` slice + concat on a time axis for every channel (the plain reference);
``op`` Paddle's ``F.temporal_shift`` (offline + direction paddle; else ``slice``);
``auto`` (default) picks per situation, see ``choose_impl``.
"""
import paddle
import paddle.nn as nn

from . import shift_impls
from .shift_autograd import PlanShift
from .shift_plan import DIRECTIONS, MODES, folds, is_identity, make_plan  # noqa: F401

IMPLS = ("auto", "op", "slice", "block", "frames", "pieces")
_FUNCS = {"slice": shift_impls.by_slices, "block": shift_impls.by_moving_block,
          "frames": shift_impls.by_frames, "pieces": shift_impls.by_pieces}


@paddle.jit.not_to_static
def known_frames(x):
    """x's first dimension (N*T frames) as an int, -1 when a static graph leaves it open."""
    frames = x.shape[0]
    return frames if isinstance(frames, int) and frames > 0 else -1


@paddle.jit.not_to_static
def choose_impl(impl, data_format, plan, channels, shift_div, frames=-1, dynamic=None):
    """Resolve ``impl`` to the one that runs here: 'op', 'slice', 'block', 'frames' or 'pieces'.

    auto on a CUDA build of Paddle: 'op' wherever it applies (its CUDA kernel and Paddle-TensorRT's
    support are what GPU users have; nothing else is measured on a GPU). auto on CPU: dynamic graph
    + NCHW -> 'pieces' (one copy forward, one copy backward); otherwise (static graphs: to_static /
    export, or NHWC) -> 'frames' when the number of ``frames`` (N*T) is known (a fixed batch), else
    'block'. 'pieces' and 'frames' fall back along that chain where they cannot run; 'op'
    (offline, direction paddle) falls back to 'slice'. ``dynamic``: graph mode (default: current).
    """
    if impl not in IMPLS:
        raise ValueError(f"shift_impl must be one of {IMPLS}, got {impl!r}")
    op_ok = shift_impls.op_applies(plan, channels, shift_div)
    if impl == "op":
        return "op" if op_ok else "slice"
    if impl == "auto" and op_ok and paddle.is_compiled_with_cuda():
        return "op"
    dynamic = paddle.in_dynamic_mode() if dynamic is None else dynamic
    if impl in ("pieces", "auto") and dynamic and data_format == "NCHW":
        return "pieces"
    if impl in ("pieces", "auto", "frames"):
        return "frames" if frames > 0 else "block"
    return impl


def resolved_impl(impl, shift_div=8, direction="paddle", mode="offline", dynamic=False,
                  fixed_batch=True, data_format="NCHW"):
    """What ``impl`` runs as in a standard block (64 channels) of a dynamic or static graph
    (export: static, batch fixed or not), for messages; None when nothing is shifted."""
    plan = make_plan(64, shift_div, direction, mode)
    if is_identity(plan):
        return None
    return choose_impl(impl, data_format, plan, 64, shift_div, 8 if fixed_batch else -1, dynamic=dynamic)


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
    chosen = choose_impl(impl, data_format, plan, channels, shift_div, known_frames(x))
    if chosen == "op":
        return shift_impls.by_op(x, num_seg, shift_div, data_format)
    fn = _FUNCS[chosen]
    # autograd through slices adds a full-size zero tensor per slice in backward: pieces, frames and
    # 'auto' take the adjoint shift instead ('slice' and 'block' keep plain autograd)
    if (impl in ("pieces", "frames", "auto") and paddle.in_dynamic_mode() and paddle.is_grad_enabled()
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
    if phi <= plo:  # fewer channels than shift_div: nothing is shifted
        return x, cache
    # one split (not a slice per part): in Paddle Inference each is one oneDNN copy
    sizes = [n for n in (plo, phi - plo, C - phi) if n > 0]
    parts = paddle.split(x, sizes, axis=axis)
    i = 1 if plo > 0 else 0
    new_cache = parts[i]
    return paddle.concat(parts[:i] + [cache] + parts[i + 1:], axis=axis), new_cache


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
