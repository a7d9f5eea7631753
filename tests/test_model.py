"""ResNetTSM / TSMHead / Recognizer2D against references computed another way."""
import numpy as np
import paddle
import pytest

from paddlevideo_tsm.errors import ConfigError
from paddlevideo_tsm.modeling import build_model
from paddlevideo_tsm.modeling.backbones.resnet_tsm import ConvBNLayer
from paddlevideo_tsm.modeling.ops import TemporalShift
from helpers import model_cfg, randomize_bn_stats, rel_diff, tiny_model, to_nhwc


def numpy_shift(x, num_seg, shift_div):
    """Reference bidirectional shift of [N*T, C, H, W] straight from the definition."""
    nt, c = x.shape[:2]
    x5 = x.reshape(nt // num_seg, num_seg, *x.shape[1:])
    out = x5.copy()
    fold = c // shift_div
    out[:, :, :2 * fold] = 0
    for t in range(num_seg):
        if t > 0:
            out[:, t, :fold] = x5[:, t - 1, :fold]
        if t < num_seg - 1:
            out[:, t, fold:2 * fold] = x5[:, t + 1, fold:2 * fold]
    return out.reshape(x.shape)


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_nhwc_equals_nchw(depth):
    """Same weights, NCHW vs NHWC input: the same logits (relative < 1e-5)."""
    kw = dict(depth=depth, num_seg=3, base_channels=8, stem="7x7")
    m1, m2 = tiny_model(**kw), tiny_model(**kw, data_format="NHWC")
    randomize_bn_stats(m1)
    m2.set_state_dict(m1.state_dict())
    m1.eval(), m2.eval()
    x = np.random.default_rng(depth).normal(size=(2, 3, 3, 64, 64)).astype("float32")
    a = m1(paddle.to_tensor(x)).numpy()
    b = m2(paddle.to_tensor(to_nhwc(x))).numpy()
    assert a.shape == (2, 8)
    assert rel_diff(b, a) < 1e-5


@pytest.mark.parametrize("depth, shifted_blocks", [(18, 8), (34, 16), (50, 16), (101, 33), (152, 50)])
def test_all_depths_build_run_and_shift(depth, shifted_blocks):
    m = tiny_model(depth=depth, num_seg=2, base_channels=4, stem="3x3")
    shifts = [s for s in m.sublayers() if isinstance(s, TemporalShift)]
    assert len(shifts) == shifted_blocks
    m.eval()
    x = paddle.randn([1, 2, 3, 32, 32])
    assert m(x).shape == [1, 8]
    # with a shift, frame 0's features depend on frame 1
    f = m.backbone(x.reshape([2, 3, 32, 32]))
    x2 = x.clone()
    x2[:, 1] = x2[:, 1] * 2 + 1
    f2 = m.backbone(x2.reshape([2, 3, 32, 32]))
    assert float((f[0] - f2[0]).abs().max()) > 0


def test_n_round_and_shift_div_zero():
    m = tiny_model(depth=101, num_seg=2, base_channels=4, n_round=2)
    assert len([s for s in m.sublayers() if isinstance(s, TemporalShift)]) == 2 + 2 + 12 + 2
    tsn = tiny_model(depth=18, num_seg=2, shift_div=0)
    assert not [s for s in tsn.sublayers() if isinstance(s, TemporalShift)]
    tsn.eval()
    x = paddle.randn([2, 3, 32, 32])
    x2 = x.clone()
    x2[1] = 0
    # without a shift, frames are independent: frame 0 unchanged when frame 1 changes
    np.testing.assert_array_equal(tsn.backbone(x)[0].numpy(), tsn.backbone(x2)[0].numpy())


@pytest.mark.parametrize("kw, sites", [
    (dict(depth=50), [(n, "conv0") for n in ["res2a", "res2b", "res2c", "res3a", "res3b", "res3c", "res3d",
                                             "res4a", "res4b", "res4c", "res4d", "res4e", "res4f",
                                             "res5a", "res5b", "res5c"]]),
    (dict(depth=18, shift_place="inplace"), [(n, "") for n in ["res2a", "res2b", "res3a", "res3b", "res4a", "res4b",
                                                               "res5a", "res5b"]]),
    (dict(depth=18, n_round=2), [(n, "conv0") for n in ["res2a", "res3a", "res4a", "res5a"]]),
    (dict(depth=18, shift_div=0), [])])
def test_shift_sites_name_the_shifted_blocks(kw, sites):
    """The contract's shift_sites: each shifted block and the layer its shift precedes ('' = whole block)."""
    backbone = tiny_model(num_seg=2, base_channels=4, **kw).backbone
    assert backbone.shift_sites() == sites
    for name, target in sites:  # the named layer exists and the block's shift is the one TemporalShift in it
        block = getattr(backbone, name)
        assert target == "" or isinstance(getattr(block, target), paddle.nn.Layer)
        assert [s for s in block.sublayers() if isinstance(s, TemporalShift)] == [block.shift]
    assert len([s for s in backbone.sublayers() if isinstance(s, TemporalShift)]) == len(sites)


@pytest.mark.parametrize("depth, base, expected", [(18, 16, 128), (34, 8, 64), (50, 8, 256), (101, 4, 128)])
def test_head_in_channels_default_to_backbone_out_channels(depth, base, expected):
    """A head config without in_channels takes the backbone's out_channels (closed form: 8 or 32 x base)."""
    cfg = model_cfg(depth=depth, base_channels=base)
    del cfg["head"]["in_channels"]
    m = build_model(cfg)
    assert m.backbone.out_channels == expected
    assert m.head.fc.weight.shape == [expected, 8]
    m.eval()
    assert m(paddle.randn([1, 4, 3, 32, 32])).shape == [1, 8]


def test_head_in_channels_mismatch_is_one_config_error(tmp_path):
    from paddlevideo_tsm.tasks.runtime import build_model_checked
    cfg = model_cfg(depth=18, base_channels=16)
    cfg["head"]["in_channels"] = 2048
    msg = ("MODEL.head.in_channels is 2048 but the backbone's out_channels (MODEL.backbone: ResNetTSM) is 128; "
           "leave MODEL.head.in_channels out to take the backbone's")
    with pytest.raises(ConfigError) as e:
        build_model(cfg)
    assert str(e.value) == msg
    with pytest.raises(ConfigError) as e:
        build_model_checked({"MODEL": cfg, "_path": str(tmp_path / "c.yaml")})
    assert str(e.value) == msg


@pytest.mark.parametrize("place", ["residual", "inplace"])
def test_block_shift_placement_matches_reference(place):
    """A bottleneck block equals the textbook formula with a numpy shift at the stated place."""
    m = tiny_model(depth=50, num_seg=3, base_channels=8, shift_place=place)
    randomize_bn_stats(m)
    m.eval()
    block = m.backbone.res3a  # has a projection shortcut
    x = np.random.default_rng(1).normal(size=(6, 32, 8, 8)).astype("float32")
    xs = numpy_shift(x, 3, 8)

    def plain(layer, inp):  # ConvBNLayer without its shift
        y = layer._batch_norm(layer._conv(paddle.to_tensor(inp)))
        return paddle.nn.functional.relu(y) if layer.act == "relu" else y

    branch_in, short_in = (xs, x) if place == "residual" else (xs, xs)
    y = block.conv2(block.conv1(plain(block.conv0, branch_in)))
    ref = paddle.nn.functional.relu(y + block.short(paddle.to_tensor(short_in))).numpy()
    out = block(paddle.to_tensor(x)).numpy()
    assert rel_diff(out, ref) < 1e-6


def _bn_stats(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items() if k.endswith(("_mean", "_variance"))}


def test_partial_bn_freezes_all_but_first():
    m = tiny_model(depth=18, num_seg=2, partial_bn=True)
    m.train()
    before = _bn_stats(m)
    out = m(paddle.randn([2, 2, 3, 32, 32]) * 3 + 1)
    out.sum().backward()
    after = _bn_stats(m)
    changed = sorted({k.rsplit(".", 1)[0] for k in before if not np.array_equal(before[k], after[k])})
    assert changed == ["backbone.conv._batch_norm"]
    bns = [l for l in m.backbone.sublayers() if isinstance(l, paddle.nn.BatchNorm2D)]
    assert bns[0].weight.grad is not None
    for bn in bns[1:]:
        assert bn.weight.stop_gradient and bn.weight.grad is None
    # convs still learn
    assert m.backbone.res2a.conv0._conv.weight.grad is not None


def test_partial_bn_with_norm_eval_still_trains_the_first_bn():
    """norm_eval keeps every statistic; partial_bn freezes the scale/shift of all BNs but the first."""
    m = tiny_model(depth=18, num_seg=2, partial_bn=True, norm_eval=True)
    m.train()
    before = _bn_stats(m)
    m(paddle.randn([2, 2, 3, 32, 32]) * 3 + 1).sum().backward()
    assert all(np.array_equal(before[k], v) for k, v in _bn_stats(m).items())
    bns = [l for l in m.backbone.sublayers() if isinstance(l, paddle.nn.BatchNorm2D)]
    assert not bns[0].weight.stop_gradient and bns[0].weight.grad is not None
    assert all(bn.weight.stop_gradient and bn.bias.stop_gradient for bn in bns[1:])


def test_norm_eval_keeps_every_bn_statistic():
    m = tiny_model(depth=18, num_seg=2, norm_eval=True)
    m.train()
    before = _bn_stats(m)
    m(paddle.randn([2, 2, 3, 32, 32]) * 3 + 1)
    after = _bn_stats(m)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_head_init_lr_and_decay():
    paddle.seed(0)
    m = build_model({"framework": "Recognizer2D", "backbone": {"name": "ResNetTSM", "depth": 18, "base_channels": 8},
                     "head": {"name": "TSMHead", "num_classes": 400, "in_channels": 64, "std": 0.001}})
    w, b = m.head.fc.weight, m.head.fc.bias
    assert abs(float(w.numpy().std()) - 0.001) < 1e-4 and not b.numpy().any()
    assert w.optimize_attr["learning_rate"] == 5.0 and b.optimize_attr["learning_rate"] == 10.0
    assert b.regularizer is not None and b.regularizer._coeff == 0.0 and w.regularizer is None
    bn = m.backbone.conv._batch_norm
    assert bn.weight.regularizer._coeff == 0.0 and bn.bias.regularizer._coeff == 0.0
    assert m.backbone.conv._conv.weight.regularizer is None


def test_head_is_mean_of_per_frame_scores():
    m = tiny_model(depth=18, num_seg=4)
    m.eval()
    feat = paddle.randn([8, 128, 2, 2])
    scores = m.head(feat, 4).numpy()
    pooled = feat.numpy().mean(axis=(2, 3))
    ref = (pooled @ m.head.fc.weight.numpy() + m.head.fc.bias.numpy()).reshape(2, 4, 8).mean(1)
    assert rel_diff(scores, ref) < 1e-5


def test_loss_and_topk_against_numpy():
    m = tiny_model(depth=18, num_classes=3)
    logits = np.array([[2.0, 1.0, 0.1], [0.1, 0.2, 3.0], [1.0, 3.0, 2.0]], "float32")
    labels = np.array([0, 0, 2], "int64")
    out = m.head.loss(paddle.to_tensor(logits), paddle.to_tensor(labels))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert float(out["loss"]) == pytest.approx(-np.log(p[np.arange(3), labels]).mean(), rel=1e-5)
    assert float(out["top1"]) == pytest.approx(1 / 3)
    assert float(out["top5"]) == pytest.approx(1.0)  # top-min(5, 3): every label is in the top 3
    m2 = build_model({"framework": "Recognizer2D", "backbone": {"name": "ResNetTSM", "depth": 18},
                      "head": {"name": "TSMHead", "num_classes": 3, "in_channels": 512, "ls_eps": 0.1}})
    out = m2.head.loss(paddle.to_tensor(logits), paddle.to_tensor(labels))
    target = np.full((3, 3), 0.1 / 3) + np.eye(3)[labels] * 0.9
    assert float(out["loss"]) == pytest.approx(-(target * np.log(p)).sum(1).mean(), rel=1e-5)


def test_recognizer_does_not_mutate_input_and_test_step_views():
    m = tiny_model(depth=18, num_seg=4)
    m.eval()
    x = paddle.randn([2, 3, 4, 3, 32, 32])  # N=2 videos, V=3 views
    keep = x.numpy().copy()
    per_view = m.test_step([x]).numpy()
    assert per_view.shape == (2, 3, 8)
    np.testing.assert_array_equal(x.numpy(), keep)
    assert x.shape == [2, 3, 4, 3, 32, 32]
    ref = np.stack([m(x[:, v]).numpy() for v in range(3)], axis=1)
    assert rel_diff(per_view, ref) < 1e-5


def test_unknown_option_values_fail_clearly():
    with pytest.raises(ValueError, match="depth must be one of"):
        tiny_model(depth=20)
    with pytest.raises(ValueError, match="shift_place must be one of"):
        tiny_model(shift_place="before")
    with pytest.raises(ValueError, match="shift_direction must be one of"):
        tiny_model(shift_direction="left")
    with pytest.raises(ValueError, match="shift_mode must be one of"):
        tiny_model(shift_mode="stream")
    assert isinstance(tiny_model().backbone.conv, ConvBNLayer)
