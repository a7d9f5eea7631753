"""Every shift implementation against a numpy reference written from the definition.

A shift only copies floats, so forward and gradient must be bit-identical to the reference.
"""
import numpy as np
import paddle
import pytest

from paddlevideo_tsm.modeling.ops import TemporalShift, online_shift_step, temporal_shift
from paddlevideo_tsm.modeling.ops.shift_impls import piece_runs
from paddlevideo_tsm.modeling.ops.shift_plan import make_plan
from paddlevideo_tsm.modeling.ops.temporal_shift import IMPLS, choose_impl

IMPL_LIST = [i for i in IMPLS]


def source_frame(t, c, fold, direction, mode):
    """Frame whose channel c lands in frame t (may be outside the clip)."""
    first_takes = -1 if direction == "paddle" else +1  # paddle: channels [0, fold) take t-1
    if c < fold:
        offset = first_takes
    elif c < 2 * fold:
        offset = -first_takes
    else:
        return t
    if mode == "online" and offset == +1:
        return t  # online: the fold that would look ahead stays put
    return t + offset


def ref_shift(x, T, shift_div, fmt="NCHW", direction="paddle", mode="offline"):
    """numpy [N*T, C, H, W] (or NHWC) -> shifted copy, loop over frames and channels."""
    xc = x if fmt == "NCHW" else x.transpose(0, 3, 1, 2)
    y = np.zeros_like(xc)
    C = xc.shape[1]
    fold = C // shift_div if shift_div else 0
    for i in range(xc.shape[0]):
        n, t = divmod(i, T)
        for c in range(C):
            s = source_frame(t, c, fold, direction, mode)
            if 0 <= s < T:
                y[i, c] = xc[n * T + s, c]
    return y if fmt == "NCHW" else y.transpose(0, 2, 3, 1)


def ref_grad(g, T, shift_div, fmt="NCHW", direction="paddle", mode="offline"):
    """Gradient of sum(shift(x) * g) w.r.t. x: scatter-add each output back to its source."""
    gc = g if fmt == "NCHW" else g.transpose(0, 3, 1, 2)
    gx = np.zeros_like(gc)
    C = gc.shape[1]
    fold = C // shift_div if shift_div else 0
    for i in range(gc.shape[0]):
        n, t = divmod(i, T)
        for c in range(C):
            s = source_frame(t, c, fold, direction, mode)
            if 0 <= s < T:
                gx[n * T + s, c] += gc[i, c]
    return gx if fmt == "NCHW" else gx.transpose(0, 2, 3, 1)


def _data(N, T, C, H, W, fmt, seed=0):
    rng = np.random.default_rng(seed)
    shape = [N * T, C, H, W] if fmt == "NCHW" else [N * T, H, W, C]
    # distinct values everywhere, so a wrong source frame or channel cannot match by accident
    return (rng.permutation(int(np.prod(shape))).reshape(shape) + 1).astype("float32")


SHAPES = [(1, 1, 8, 2, 3), (2, 2, 10, 3, 2), (2, 3, 16, 2, 2), (1, 8, 64, 3, 3), (3, 4, 13, 1, 2)]


@pytest.mark.parametrize("impl", IMPL_LIST)
@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
@pytest.mark.parametrize("direction", ["paddle", "pytorch"])
@pytest.mark.parametrize("mode", ["offline", "online"])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_grad_equal_reference(impl, fmt, direction, mode, shape):
    N, T, C, H, W = shape
    x_np = _data(N, T, C, H, W, fmt)
    g_np = _data(N, T, C, H, W, fmt, seed=1)
    for shift_div in (8, 4, 3):
        x = paddle.to_tensor(x_np, stop_gradient=False)
        y = temporal_shift(x, T, shift_div, fmt, direction, mode, impl)
        np.testing.assert_array_equal(y.numpy(), ref_shift(x_np, T, shift_div, fmt, direction, mode))
        (gx,) = paddle.grad(y, x, paddle.to_tensor(g_np))
        np.testing.assert_array_equal(gx.numpy(), ref_grad(g_np, T, shift_div, fmt, direction, mode))


@pytest.mark.parametrize("impl", IMPL_LIST)
def test_shift_div_zero_and_tiny_channels_are_identity(impl):
    x_np = _data(2, 3, 5, 2, 2, "NCHW")
    for shift_div in (0, 8):  # 5 // 8 == 0: nothing to move
        y = temporal_shift(paddle.to_tensor(x_np), 3, shift_div, impl=impl)
        np.testing.assert_array_equal(y.numpy(), x_np)


def test_half_channels_each_way_leaves_no_rest():
    # shift_div 2: fold = C/2, every channel moves
    x_np = _data(1, 4, 6, 1, 1, "NCHW")
    for impl in IMPL_LIST:
        y = temporal_shift(paddle.to_tensor(x_np), 4, 2, impl=impl)
        np.testing.assert_array_equal(y.numpy(), ref_shift(x_np, 4, 2))


@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
@pytest.mark.parametrize("direction", ["paddle", "pytorch"])
def test_online_frame_by_frame_matches_online_clip(fmt, direction):
    N, T, C, H, W = 2, 5, 12, 2, 3
    x_np = _data(N, T, C, H, W, fmt)
    want = ref_shift(x_np, T, 4, fmt, direction, "online")
    layer = TemporalShift(T, 4, fmt, direction, "online")
    frames = x_np.reshape([N, T] + list(x_np.shape[1:]))
    fold = C // 4
    cache_shape = [N, fold, H, W] if fmt == "NCHW" else [N, H, W, fold]
    cache = paddle.zeros(cache_shape)
    for t in range(T):
        out, cache = layer.step(paddle.to_tensor(frames[:, t]), cache)
        np.testing.assert_array_equal(out.numpy(), want.reshape(frames.shape)[:, t])
    # the function form gives the same last cache: this frame's past fold
    _, cache2 = online_shift_step(paddle.to_tensor(frames[:, T - 1]), paddle.zeros(cache_shape), 4, fmt,
                                  direction)
    np.testing.assert_array_equal(cache.numpy(), cache2.numpy())


def test_piece_runs_cover_the_output_once():
    # the flat recipe, replayed in numpy, rebuilds the reference
    N, T, C, H, W = 2, 3, 10, 2, 2
    x_np = _data(N, T, C, H, W, "NCHW")
    flat = x_np.reshape(-1)
    for mode in ("offline", "online"):
        for direction in ("paddle", "pytorch"):
            runs = piece_runs(N * T, T, C, H * W, make_plan(C, 4, direction, mode))
            got = np.concatenate([np.zeros(n, "float32") if s is None else flat[s:s + n] for s, n in runs])
            np.testing.assert_array_equal(got.reshape(x_np.shape), ref_shift(x_np, T, 4, "NCHW", direction, mode))


def test_auto_choice_and_fallbacks():
    plan = make_plan(16, 8)
    assert choose_impl("auto", "NCHW", plan, 16, 8, frames=6) == "pieces"
    assert choose_impl("auto", "NHWC", plan, 16, 8, frames=6) == "frames"
    assert choose_impl("auto", "NHWC", plan, 16, 8, frames=-1) == "block"
    assert choose_impl("pieces", "NHWC", plan, 16, 8, frames=6) == "frames"
    assert choose_impl("frames", "NCHW", plan, 16, 8, frames=-1) == "block"
    assert choose_impl("block", "NCHW", plan, 16, 8, frames=6) == "block"
    assert choose_impl("op", "NCHW", plan, 16, 8) == "op"
    # Paddle's op has neither the pytorch direction nor an online mode
    assert choose_impl("op", "NCHW", make_plan(16, 8, "pytorch"), 16, 8) == "slice"
    assert choose_impl("op", "NCHW", make_plan(16, 8, "paddle", "online"), 16, 8) == "slice"


def test_auto_is_paddles_op_on_a_cuda_build(monkeypatch):
    # GPU builds keep what PaddleVideo exports (the op: one CUDA kernel, known to Paddle-TensorRT)
    monkeypatch.setattr(paddle, "is_compiled_with_cuda", lambda: True)
    plan = make_plan(16, 8)
    assert choose_impl("auto", "NCHW", plan, 16, 8, frames=6) == "op"
    assert choose_impl("auto", "NHWC", plan, 16, 8, frames=-1, dynamic=False) == "op"
    # where the op cannot compute the plan, the CPU choice stands
    assert choose_impl("auto", "NCHW", make_plan(16, 8, "pytorch"), 16, 8, frames=6, dynamic=True) == "pieces"
    assert choose_impl("auto", "NCHW", make_plan(16, 8, "paddle", "online"), 16, 8, frames=6,
                       dynamic=False) == "frames"
    assert choose_impl("frames", "NCHW", plan, 16, 8, frames=6) == "frames"


def test_bad_settings_name_the_option():
    x = paddle.zeros([2, 8, 1, 1])
    with pytest.raises(ValueError, match="shift_impl"):
        temporal_shift(x, 2, 8, impl="fast")
    with pytest.raises(ValueError, match="shift_direction"):
        TemporalShift(2, 8, direction="backwards")
    with pytest.raises(ValueError, match="shift_mode"):
        temporal_shift(x, 2, 8, mode="causal")
    with pytest.raises(ValueError, match="shift_div"):
        temporal_shift(x, 2, 1)
    with pytest.raises(ValueError, match="data_format"):
        TemporalShift(2, 8, data_format="NCTHW")


class _ShiftOnly(paddle.nn.Layer):
    def __init__(self, impl, fmt, direction, mode):
        super().__init__()
        self.shift = TemporalShift(3, 4, fmt, direction, mode, impl)

    def forward(self, x):
        return self.shift(x)


@pytest.mark.parametrize("impl", IMPL_LIST)
@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
@pytest.mark.parametrize("direction,mode", [("paddle", "offline"), ("pytorch", "online")])
def test_static_graph_with_unknown_batch_equals_reference(impl, fmt, direction, mode):
    # what export traces: to_static, batch dimension None
    shape = [None, 8, 2, 2] if fmt == "NCHW" else [None, 2, 2, 8]
    spec = [paddle.static.InputSpec(shape, "float32")]
    static = paddle.jit.to_static(_ShiftOnly(impl, fmt, direction, mode), input_spec=spec, full_graph=True)
    for N in (1, 2):
        x_np = _data(N, 3, 8, 2, 2, fmt)
        np.testing.assert_array_equal(static(paddle.to_tensor(x_np)).numpy(),
                                      ref_shift(x_np, 3, 4, fmt, direction, mode))


@pytest.mark.parametrize("impl", IMPL_LIST)
@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
@pytest.mark.parametrize("direction,mode", [("paddle", "offline"), ("pytorch", "online")])
def test_static_graph_with_fixed_batch_equals_reference(impl, fmt, direction, mode):
    # a fixed-batch export: N*T is known, so 'auto' and 'frames' run the reshape-free 'frames' shift
    N = 2
    shape = [N * 3, 8, 2, 2] if fmt == "NCHW" else [N * 3, 2, 2, 8]
    spec = [paddle.static.InputSpec(shape, "float32")]
    static = paddle.jit.to_static(_ShiftOnly(impl, fmt, direction, mode), input_spec=spec, full_graph=True)
    x_np = _data(N, 3, 8, 2, 2, fmt)
    np.testing.assert_array_equal(static(paddle.to_tensor(x_np)).numpy(),
                                  ref_shift(x_np, 3, 4, fmt, direction, mode))
    if impl in ("auto", "frames"):
        program = static.forward.concrete_program.main_program
        ops = {op.name() if callable(getattr(op, "name", None)) else op.type  # PIR / old IR (Paddle 2.6)
               for op in program.global_block().ops}
        assert any("split" in name for name in ops) and not any("reshape" in name for name in ops), ops


def test_impls_give_bit_identical_networks():
    # a shift is a copy: the whole TSM network and its gradients must not depend on the impl
    from paddlevideo_tsm.modeling import build_model

    x = paddle.to_tensor(_data(2, 3, 3, 32, 32, "NCHW").reshape(2, 3, 3, 32, 32) / 1e4)
    results = {}
    for impl in IMPL_LIST:
        paddle.seed(3)
        model = build_model({"framework": "Recognizer2D",
                             "backbone": {"name": "ResNetTSM", "depth": 18, "num_seg": 3, "base_channels": 8,
                                          "stem": "3x3", "shift_impl": impl},
                             "head": {"name": "TSMHead", "num_classes": 5, "in_channels": 64,
                                      "drop_ratio": 0.0}})
        model.train()
        out = model(x)
        out.sum().backward()
        grad = model.backbone.conv._conv.weight.grad.numpy()
        results[impl] = (out.numpy(), grad)
    ref_out, ref_grad_ = results["slice"]
    for impl, (out, grad) in results.items():
        np.testing.assert_array_equal(out, ref_out, err_msg=impl)
        np.testing.assert_array_equal(grad, ref_grad_, err_msg=impl)


def test_reference_adjoint_is_the_opposite_shift():
    # cross-check of the two references: for offline shifts the gradient is the shift the other way
    g = _data(2, 4, 16, 2, 2, "NCHW")
    np.testing.assert_array_equal(ref_grad(g, 4, 8, direction="paddle"), ref_shift(g, 4, 8, direction="pytorch"))
    np.testing.assert_array_equal(ref_grad(g, 4, 8, direction="pytorch"), ref_shift(g, 4, 8, direction="paddle"))
