"""The oneDNN convolution op and the ``cpu_conv`` routing: numbers against Paddle's conv, the
library checks, the fallbacks (GPU, no library, unsupported layers and geometries, bf16 without
the CPU for it), and exports that keep Paddle's conv."""
import re

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddlevideo_tsm.modeling import build_model
from paddlevideo_tsm.modeling import cpu_conv
from paddlevideo_tsm.modeling.ops import onednn_conv

LIB, WHY_NOT = onednn_conv.library()
needs_onednn = pytest.mark.skipif(LIB is None, reason=f"oneDNN unavailable: {WHY_NOT}")


class _Recorder:
    """A logger stand-in that keeps what route_convs says: [(level, message)]."""

    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(("INFO", msg))

    def warning(self, msg):
        self.lines.append(("WARNING", msg))


def rel_err(a, b):
    return float(np.abs(a - b).max() / (np.abs(b).max() + 1e-12))


# in_ch, out_ch, size (h, w), kernel, stride, padding (as nn.Conv2D takes it), dilation, groups, layout,
# input gradient, bias
CASES = {
    "7x7 stem, no input grad": (3, 8, (17, 15), 7, 2, 3, 1, 1, "NCHW", False, False),
    "3x3": (16, 32, (14, 14), 3, 1, 1, 1, 1, "NCHW", True, False),
    "3x3 stride 2": (16, 24, (15, 14), 3, 2, 1, 1, 1, "NCHW", True, False),
    "1x1 (plain GEMM)": (16, 8, (9, 9), 1, 1, 0, 1, 1, "NCHW", True, False),
    "1x1 stride 2": (16, 8, (9, 9), 1, 2, 0, 1, 1, "NCHW", True, False),
    "NHWC 7x7 stem": (3, 8, (17, 15), 7, 2, 3, 1, 1, "NHWC", False, False),
    "NHWC 3x3 stride 2": (16, 24, (15, 14), 3, 2, 1, 1, 1, "NHWC", True, False),
    "NHWC 1x1": (16, 8, (9, 9), 1, 1, 0, 1, 1, "NHWC", True, False),
    "groups 4": (16, 8, (10, 10), 3, 1, 1, 1, 4, "NCHW", True, False),
    "depthwise": (16, 16, (10, 10), 3, 2, 1, 1, 16, "NCHW", True, False),
    "dilation 2, bias": (8, 8, (12, 12), 3, 1, 2, 2, 1, "NCHW", True, True),
    "asymmetric padding, bias, NHWC": (8, 8, (12, 11), 3, 1, [0, 1, 2, 1], 1, 1, "NHWC", True, True),
}


def conv_layer(case, seed=0):
    cin, cout, _, k, stride, padding, dilation, groups, layout, _, bias = case
    paddle.seed(seed)
    return nn.Conv2D(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups,
                     data_format=layout, bias_attr=None if bias else False)


def forward_backward(layer, x_np, x_grad, forward):
    """y, the input gradient (or None) and the weight (and bias) gradients of sum(y * y)."""
    x = paddle.to_tensor(x_np, stop_gradient=not x_grad)
    y = forward(x)
    (y * y).sum().backward()
    grads = [p.grad.numpy().copy() for p in layer.parameters()]
    layer.clear_gradients()
    return [y.numpy(), None if not x_grad else x.grad.numpy()] + grads


@needs_onednn
@pytest.mark.parametrize("name", list(CASES))
def test_routed_conv_equals_paddle(name, monkeypatch):
    """Forward, input and weight gradients of a routed nn.Conv2D against Paddle's own conv of the
    same layer (same parameters), and the oneDNN op really ran (no silent fallback)."""
    case = CASES[name]
    cin, _, (h, w), _, _, _, _, _, layout, x_grad, _ = case
    layer = conv_layer(case)
    shape = [2, cin, h, w] if layout == "NCHW" else [2, h, w, cin]
    x_np = np.random.default_rng(1).normal(size=shape).astype("float32")
    native = forward_backward(layer, x_np, x_grad, lambda x: nn.Conv2D.forward(layer, x))
    assert cpu_conv.route_convs(layer, "onednn", logger=_Recorder()) == 1
    ran = []
    conv2d = onednn_conv.conv2d
    monkeypatch.setattr(onednn_conv, "conv2d", lambda *a, **k: ran.append(conv2d(*a, **k)) or ran[-1])
    fast = forward_backward(layer, x_np, x_grad, layer)
    assert len(ran) == 1 and ran[0] is not None
    for got, want in zip(fast, native):
        if want is None:
            assert got is None
        else:
            assert got.shape == want.shape and rel_err(got, want) < 2e-6


@needs_onednn
def test_frozen_weight_gets_no_gradient():
    layer = conv_layer(CASES["3x3"])
    cpu_conv.route_convs(layer, "onednn", logger=_Recorder())
    layer.weight.stop_gradient = True
    x = paddle.to_tensor(np.ones([1, 16, 6, 6], "float32"), stop_gradient=False)
    layer(x).sum().backward()
    assert layer.weight.grad is None
    ref = paddle.to_tensor(np.ones([1, 16, 6, 6], "float32"), stop_gradient=False)
    nn.functional.conv2d(ref, layer.weight, padding=1).sum().backward()
    assert rel_err(x.grad.numpy(), ref.grad.numpy()) < 2e-6


@pytest.mark.parametrize("version, problem", [((3, 6, 2), None), ((3, 0, 0), None), ((2, 7, 4), "v2.7.4"),
                                              ((4, 0, 0), "v4.0.0")])
def test_version_check(version, problem):
    got = onednn_conv.version_problem(*version)
    assert got is None if problem is None else (problem in got and "needs oneDNN v3.x" in got)


def test_missing_library_is_a_reason(tmp_path):
    lib, reason = onednn_conv.open_library(str(tmp_path / "libdnnl.so.3"))
    assert lib is None and reason == f"{tmp_path / 'libdnnl.so.3'} not found (this Paddle build ships no oneDNN)"


@needs_onednn
@pytest.mark.parametrize("constant, wrong, says", [("TAG_ACDB", 21, "format tag 21 is not acdb"),
                                                    ("ARG_DIFF_SRC", 145, "argument 145"),
                                                    ("BF16", 1, "data type 1 is not bf16")])
def test_self_check_catches_a_wrong_constant(monkeypatch, constant, wrong, says):
    monkeypatch.setattr(onednn_conv, constant, wrong)
    lib, reason = onednn_conv.open_library()
    assert lib is None and "failed its self-check" in reason and says in reason


def tiny_model():
    paddle.seed(0)
    return build_model({"framework": "Recognizer2D",
                        "backbone": {"name": "ResNetTSM", "depth": 18, "num_seg": 4, "base_channels": 16,
                                     "stem": "3x3"},
                        "head": {"name": "TSMHead", "num_classes": 8, "in_channels": 128}})


def test_gpu_runs_keep_paddles_conv():
    model, log = tiny_model(), _Recorder()
    assert cpu_conv.route_convs(model, "onednn", on_gpu=True, logger=log) == 0
    assert cpu_conv.routed_layers(model) == []
    assert log.lines == [("INFO", "cpu_conv: onednn applies on CPU only; this run is on a GPU: "
                                  "Paddle's convolutions run")]


def test_without_the_library_paddles_conv_runs(monkeypatch):
    monkeypatch.setattr(onednn_conv, "_STATE", {"lib": None, "reason": "/x/libdnnl.so.3 not found"})
    model, log = tiny_model(), _Recorder()
    assert cpu_conv.route_convs(model, "onednn", logger=log) == 0 and cpu_conv.routed_layers(model) == []
    assert log.lines == [("WARNING", "cpu_conv: onednn unavailable (/x/libdnnl.so.3 not found): "
                                     "Paddle's convolutions run")]


def test_paddle_choice_changes_nothing():
    model, log = tiny_model(), _Recorder()
    assert cpu_conv.route_convs(model, None, logger=log) == 0 == cpu_conv.route_convs(model, "paddle", logger=log)
    assert cpu_conv.routed_layers(model) == [] and log.lines == []


class MyConv(nn.Conv2D):
    pass


@needs_onednn
def test_unsupported_layers_are_kept_and_counted():
    model = nn.Sequential(nn.Conv2D(4, 4, 3, padding=1), nn.Conv2D(4, 4, 3, padding=1, padding_mode="reflect"),
                          nn.Conv2D(4, 4, 3, padding="SAME"), MyConv(4, 4, 1), nn.Conv2DTranspose(4, 4, 3))
    log = _Recorder()
    assert cpu_conv.route_convs(model, "onednn", logger=log) == 1
    assert cpu_conv.routed_layers(model) == [model[0]]
    (level, line), = log.lines
    assert level == "INFO" and line.startswith(f"cpu_conv: onednn: 1 of 4 Conv2D layers run {LIB.describe()} "
                                               f"convolutions in float32")
    assert line.endswith("; 1 kept on Paddle's conv: padding_mode reflect; 1 kept on Paddle's conv: padding SAME; "
                         "1 kept on Paddle's conv: MyConv is not a plain nn.Conv2D")


@needs_onednn
def test_a_geometry_without_a_kernel_runs_paddles_conv_with_one_warning(monkeypatch, warnings_seen):
    layer = conv_layer(CASES["3x3"])
    cpu_conv.route_convs(layer, "onednn", logger=_Recorder())
    monkeypatch.setattr(onednn_conv, "plan_for", lambda *a: (None, "oneDNN has only its reference kernel (ref:any)"))
    monkeypatch.setattr(cpu_conv, "_WARNED", set())
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=[2, 16, 8, 8]).astype("float32"))
    for _ in range(2):
        np.testing.assert_array_equal(layer(x).numpy(), nn.Conv2D.forward(layer, x).numpy())
    assert warnings_seen == ["cpu_conv: Paddle's conv runs input [2, 16, 8, 8] x weight [32, 16, 3, 3] stride [1, 1] "
                             "groups 1: oneDNN has only its reference kernel (ref:any)"]


@needs_onednn
def test_routing_leaves_parameters_and_state_dict_alone():
    model = tiny_model()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    params = [id(p) for p in model.parameters()]
    assert cpu_conv.route_convs(model, "onednn", logger=_Recorder()) == 20
    after = model.state_dict()
    assert list(after) == list(before) and [id(p) for p in model.parameters()] == params
    for k, v in after.items():
        np.testing.assert_array_equal(v.numpy(), before[k])


@needs_onednn
def test_bf16_without_the_cpu_for_it_runs_float32(warnings_seen):
    problem = onednn_conv.bf16_problem()
    layer, log = conv_layer(CASES["3x3"]), _Recorder()
    assert cpu_conv.route_convs(layer, "onednn_bf16", logger=log) == 1
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=[2, 16, 8, 8]).astype("float32"))
    ref = nn.Conv2D.forward(layer, x).numpy()
    if problem is None:  # a CPU with bf16 convolutions: bf16 inputs (8 mantissa bits), float32 sums
        assert "in bfloat16" in log.lines[-1][1]
        assert rel_err(layer(x).numpy(), ref) < 2e-2
        return
    assert "has no bf16 convolution on this CPU (it needs AVX512-BF16 or AMX)" in problem
    assert log.lines[0] == ("WARNING", f"cpu_conv: onednn_bf16: {problem}; the convolutions run in oneDNN in float32")
    assert "in float32" in log.lines[1][1]
    assert rel_err(layer(x).numpy(), ref) < 2e-6


@needs_onednn
@pytest.mark.parametrize("fmt", ["pdmodel", "json"])
def test_export_of_a_routed_model_holds_paddles_conv(tmp_path, fmt):
    """to_static + jit.save of a routed model: conv2d ops, no PyLayer; the model stays routed."""
    from paddlevideo_tsm.inference.export import export_model
    model = tiny_model()
    assert cpu_conv.route_convs(model, "onednn", logger=_Recorder()) == 20
    files = export_model(model, str(tmp_path), "m", [1, 4, 3, 32, 32], fmt)
    if fmt == "pdmodel":
        from paddle.pir_utils import DygraphOldIrGuard
        paddle.enable_static()
        try:
            with DygraphOldIrGuard():
                prog, _, _ = paddle.static.load_inference_model(str(tmp_path / "m"),
                                                                paddle.static.Executor(paddle.CPUPlace()))
                ops = [op.type for op in prog.global_block().ops]
        finally:
            paddle.disable_static()
    else:  # PIR JSON: an op is {"#": "<dialect>.<name>", ...} (types and attributes too, harmlessly)
        with open(files[0]) as f:
            ops = re.findall(r'"#":"\d+\.([a-z0-9_]+)"', f.read())
    assert ops.count("conv2d") == 20
    assert not [op for op in ops if "pylayer" in op.replace("_", "")]
    assert len(cpu_conv.routed_layers(model)) == 20
