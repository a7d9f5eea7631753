"""Optimizer/lr builders vs closed forms and numpy: decay groups, lr multipliers, schedules, clipping."""
import math

import numpy as np
import paddle
import pytest

from paddlevideo_tsm.modeling import build_model
from paddlevideo_tsm.solver import build_lr, build_optimizer, lr_batch_scale, trainable_summary
from paddlevideo_tsm.errors import ConfigError

TINY = {"framework": "Recognizer2D",
        "backbone": {"name": "ResNetTSM", "depth": 18, "num_seg": 4, "base_channels": 16, "stem": "3x3"},
        "head": {"name": "TSMHead", "num_classes": 8, "in_channels": 128, "drop_ratio": 0.0}}


def tiny_model():
    paddle.seed(0)
    return build_model(TINY)


def trainable(model):
    """structured name -> parameter, for the parameters an optimizer updates (not BN statistics)."""
    return {n: p for n, p in model.named_parameters() if not p.stop_gradient}


def expected_group(name):
    """(decay applies, lr multiplier) the TSM recipe wants for a structured parameter name."""
    if name == "head.fc.weight":
        return True, 5.0
    if name == "head.fc.bias":
        return False, 10.0
    if "_batch_norm" in name:
        return False, 1.0
    return True, 1.0


def test_decay_and_lr_multiplier_groups():
    model = tiny_model()
    decay = 1e-4
    opt_cfg = {"name": "Momentum", "momentum": 0.9, "weight_decay": {"name": "L2", "value": decay}}
    build_optimizer(opt_cfg, 0.1, model.parameters())
    summary = {n: (c, m) for n, c, m in trainable_summary(model.parameters(), paddle.regularizer.L2Decay(decay))}
    named = trainable(model)
    assert len(summary) == len(named)
    for name, p in named.items():
        want_decay, want_mult = expected_group(name)
        coeff, mult = summary[p.name]
        assert coeff == (decay if want_decay else 0.0), name
        assert mult == want_mult, name
    # BN scale+shift of every ConvBNLayer and the fc bias are the no-decay set
    assert sum(1 for n in named if not expected_group(n)[0]) == 2 * sum(1 for n in named if n.endswith("_conv.weight")) + 1


@pytest.mark.parametrize("name", ["Momentum", "SGD"])
def test_one_step_matches_numpy_per_group(name):
    """One step with grad 1 everywhere: p - lr * mult * (1 + coeff * p) (velocity starts at 0)."""
    model = tiny_model()
    lr, coeff = 0.1, 0.01
    opt = build_optimizer({"name": name, "weight_decay": {"name": "L2", "value": coeff}}, lr, model.parameters())
    named = trainable(model)
    before = {n: p.numpy().copy() for n, p in named.items()}
    loss = paddle.add_n([p.sum() for p in named.values()])
    loss.backward()
    opt.step()
    for n, p in named.items():
        want_decay, mult = expected_group(n)
        expect = before[n] - lr * mult * (1.0 + (coeff if want_decay else 0.0) * before[n])
        np.testing.assert_allclose(p.numpy(), expect, rtol=1e-5, atol=1e-6, err_msg=n)


def test_adamw_skips_bn_and_fc_bias():
    """Zero gradients: AdamW only applies the decoupled decay p * (1 - lr * coeff) to decayed params."""
    model = tiny_model()
    lr, coeff = 0.1, 0.05
    opt = build_optimizer({"name": "AdamW", "weight_decay": {"name": "L2", "value": coeff}}, lr, model.parameters())
    named = trainable(model)
    before = {n: p.numpy().copy() for n, p in named.items()}
    (paddle.add_n([p.sum() for p in named.values()]) * 0.0).backward()
    opt.step()
    for n, p in named.items():
        want_decay, mult = expected_group(n)
        if not want_decay:
            np.testing.assert_array_equal(p.numpy(), before[n], err_msg=n)
        elif mult == 1.0:
            np.testing.assert_allclose(p.numpy(), before[n] * (1 - lr * coeff), rtol=1e-5, atol=1e-7, err_msg=n)


def lr_trace(sched, steps):
    out = []
    for _ in range(steps):
        out.append(sched())
        sched.step()
    return out


def test_piecewise_boundaries_in_epochs_step_per_iteration():
    sched = build_lr({"name": "PiecewiseDecay", "boundaries": [2, 4], "values": [0.1, 0.01, 0.001],
                      "iter_step": True}, steps_per_epoch=3)
    assert sched.by_iteration
    np.testing.assert_allclose(lr_trace(sched, 14), [0.1] * 6 + [0.01] * 6 + [0.001] * 2)


def test_piecewise_per_epoch_when_iter_step_false():
    sched = build_lr({"name": "PiecewiseDecay", "boundaries": [2], "values": [0.1, 0.01], "iter_step": False},
                     steps_per_epoch=50)
    assert not sched.by_iteration
    np.testing.assert_allclose(lr_trace(sched, 4), [0.1, 0.1, 0.01, 0.01])


def test_linear_warmup_then_absolute_piecewise():
    sched = build_lr({"name": "PiecewiseDecay", "boundaries": [3], "values": [0.2, 0.02],
                      "warmup_epochs": 1, "warmup_start_lr": 0.0}, steps_per_epoch=4)
    want = [0.0, 0.05, 0.1, 0.15] + [0.2] * 8 + [0.02] * 2  # warmup ramps to 0.2; decay still at epoch 3
    np.testing.assert_allclose(lr_trace(sched, 14), want, atol=1e-12)


def test_cosine_with_warmup_closed_form():
    per_epoch, max_epoch, base, warm = 5, 4, 0.4, 1
    sched = build_lr({"name": "CosineAnnealingDecay", "learning_rate": base, "max_epoch": max_epoch,
                      "warmup_epochs": warm, "warmup_start_lr": 0.01}, steps_per_epoch=per_epoch)
    total, w = per_epoch * max_epoch, per_epoch * warm
    cos = lambda s: base * (1 + math.cos(math.pi * min(s, total) / total)) / 2  # noqa: E731 (flat at 0 after)
    want = [0.01 + (cos(w) - 0.01) * s / w if s < w else cos(s) for s in range(total + 2)]
    np.testing.assert_allclose(lr_trace(sched, total + 2), want, rtol=1e-12)


def test_optimizer_follows_the_schedule():
    model = tiny_model()
    sched = build_lr({"name": "PiecewiseDecay", "boundaries": [1], "values": [0.3, 0.03]}, steps_per_epoch=2)
    opt = build_optimizer({"name": "Momentum"}, sched, model.parameters())
    seen = []
    for _ in range(3):
        seen.append(opt.get_lr())
        sched.step()
    np.testing.assert_allclose(seen, [0.3, 0.3, 0.03])


def test_lr_scaled_to_total_batch():
    cfg = {"name": "Momentum", "lr_scale_by_batch": {"base_batch_size": 128}}
    scale = lr_batch_scale(cfg, total_batch=16 * 2)
    assert scale == 0.25
    sched = build_lr({"name": "PiecewiseDecay", "boundaries": [1], "values": [0.02, 0.002]}, 1, scale)
    np.testing.assert_allclose(lr_trace(sched, 2), [0.005, 0.0005])
    assert lr_batch_scale({"name": "Momentum"}, 999) == 1.0


def test_global_norm_clipping_vs_numpy():
    paddle.seed(1)
    layer = paddle.nn.Linear(6, 3)
    clip = 0.5
    opt = build_optimizer({"name": "SGD", "grad_clip": {"name": "ClipGradByGlobalNorm", "value": clip}},
                          1.0, layer.parameters())
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    w, b = layer.weight.numpy().copy(), layer.bias.numpy().copy()
    (layer(paddle.to_tensor(x)) ** 2).sum().backward()
    gw, gb = layer.weight.grad.numpy().copy(), layer.bias.grad.numpy().copy()
    norm = math.sqrt((gw.astype(np.float64) ** 2).sum() + (gb.astype(np.float64) ** 2).sum())
    assert norm > clip  # the case where clipping acts
    opt.step()
    factor = clip / norm
    np.testing.assert_allclose(layer.weight.numpy(), w - gw * factor, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.bias.numpy(), b - gb * factor, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cfg, key", [
    ({"name": "Adamax"}, "OPTIMIZER.name"),
    ({"name": "Momentum", "momentm": 0.9}, "momentm"),
    ({"name": "Momentum", "grad_clip": {"name": "ClipGradByGlobalNorm", "value": -1}}, "OPTIMIZER.grad_clip.value"),
    ({"name": "Momentum", "weight_decay": {"name": "L1", "value": 1e-4}}, "OPTIMIZER.weight_decay"),
])
def test_bad_optimizer_config_names_the_key(cfg, key):
    with pytest.raises(ConfigError, match=key):
        build_optimizer(cfg, 0.1, paddle.nn.Linear(2, 2).parameters())


@pytest.mark.parametrize("cfg, key", [
    ({"name": "PiecewiseDecay", "boundaries": [1, 2], "values": [0.1, 0.01]}, "len\\(values\\)"),
    ({"name": "StepDecay"}, "OPTIMIZER.learning_rate.name"),
    ({"name": "CosineAnnealingDecay", "learning_rate": 0.1}, "max_epoch"),
])
def test_bad_lr_config_names_the_key(cfg, key):
    with pytest.raises(ConfigError, match=key):
        build_lr(cfg, 10)
