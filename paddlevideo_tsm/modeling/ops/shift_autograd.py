"""A shift whose backward is the adjoint shift (same copy, steps negated).

Autograd through slice + concat pays a full-size zero tensor per slice in backward; the adjoint
of a shift is itself a shift, so one copy suffices.
"""
from paddle.autograd import PyLayer

from .shift_plan import adjoint


class PlanShift(PyLayer):
    """apply(x, num_seg, plan, axis, impl_fn) -> impl_fn(x, num_seg, plan, axis), gradient by
    impl_fn(grad, num_seg, adjoint(plan), axis)."""

    @staticmethod
    def forward(ctx, x, num_seg, plan, axis, impl_fn):
        ctx.args = (num_seg, adjoint(plan), axis, impl_fn)
        return impl_fn(x, num_seg, plan, axis)

    @staticmethod
    def backward(ctx, grad):
        num_seg, back_plan, axis, impl_fn = ctx.args
        return impl_fn(grad, num_seg, back_plan, axis)
