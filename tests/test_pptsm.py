"""PP-TSM models (ResNetTweaksTSM + ppTSMHead, PPTSM_MobileNetV2 + MoViNetHead) against PaddleVideo's
key lists, closed forms and references computed with Paddle's functional ops."""
import copy
import logging
import math
import sys
from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
import yaml

from helpers import randomize_bn_stats, reference_keys, rel_diff, to_nhwc
from paddlevideo_tsm.errors import CheckpointError
from paddlevideo_tsm.modeling import build_model, load_checkpoint, load_pretrained, load_state_strict
from paddlevideo_tsm.modeling.backbones.mobilenet_v2_tsm import SETTINGS
from paddlevideo_tsm.solver import build_lr
from paddlevideo_tsm.solver.optimizer import build_weight_decay, trainable_summary
from paddlevideo_tsm.config import get_config
from paddlevideo_tsm.utils.config import _to_attr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from summary import summarize  # noqa: E402


def pptsm_cfg(depth=50, num_classes=10, num_seg=8, **backbone):
    return {"framework": "Recognizer2D",
            "backbone": dict({"name": "ResNetTweaksTSM", "depth": depth, "num_seg": num_seg}, **backbone),
            "head": {"name": "ppTSMHead", "num_classes": num_classes}}


def mv2_cfg(class_num=400, num_seg=8, **backbone):
    return {"framework": "Recognizer2D",
            "backbone": dict({"name": "PPTSM_MobileNetV2", "class_num": class_num, "num_seg": num_seg},
                             **backbone),
            "head": {"name": "MoViNetHead"}}


def build(cfg, seed=0, bn_stats=True):
    paddle.seed(seed)
    model = build_model(cfg)
    if bn_stats:
        randomize_bn_stats(model, seed)
    return model


REFERENCES = {"r50": ("paddlevideo_pptsm_r50_keys.txt", lambda: pptsm_cfg(50)),
              "r101": ("paddlevideo_pptsm_r101_keys.txt", lambda: pptsm_cfg(101)),
              "mv2": ("paddlevideo_pptsm_mv2_keys.txt", lambda: mv2_cfg(400))}


def random_state(keys, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=shape).astype("float32") for k, shape in keys}


# ---- checkpoint layout ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, data_format", [("r50", "NCHW"), ("r50", "NHWC"), ("r101", "NCHW"),
                                               ("mv2", "NCHW"), ("mv2", "NHWC")])
def test_paddlevideo_layout_keys_and_strict_load(name, data_format, shared_reference, tmp_path):
    """Keys, order and shapes equal PaddleVideo's list; a random state dict in that layout loads
    with nothing missing, unexpected or mis-shaped (the MobileNetV2 one through a .pdparams file,
    as -w does)."""
    ref_file, cfg = REFERENCES[name]
    keys = reference_keys(shared_reference / ref_file)
    c = cfg()
    c["backbone"]["data_format"] = data_format
    model = build_model(c)
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == keys
    state = random_state(keys)
    if name == "mv2":
        path = str(tmp_path / "ppTSM_mv2.pdparams")
        paddle.save(state, path)
        assert load_checkpoint(model, path) == len(state)
    else:
        assert load_state_strict(model, state) == len(state)
    got = model.state_dict()
    for key in list(state)[:3] + list(state)[-3:]:
        np.testing.assert_array_equal(got[key].numpy(), state[key])


def _pretrained_logs(caplog, model, path, **kw):
    logger = logging.getLogger("paddlevideo_tsm")
    logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="paddlevideo_tsm"):
            return load_pretrained(model, path, **kw)
    finally:
        logger.propagate = False


def test_imagenet_mobilenet_v2_skips_its_classifier_and_counts(tmp_path, caplog):
    """PaddleClas's MobileNetV2 layout (no 'backbone.' prefix, 1000-class 'out'): the backbone loads,
    'out' is skipped with a warning unless the model has 1000 classes; the log counts what matched."""
    src = build(mv2_cfg(1000, scale=0.25), seed=1)
    state = {k[len("backbone."):]: v for k, v in src.state_dict().items()}
    path = str(tmp_path / "MobileNetV2_ssld_pretrained.pdparams")
    paddle.save(state, path)

    cfg = mv2_cfg(8, scale=0.25, pretrained=path)
    paddle.seed(2)
    dst = build_model(cfg)  # build_model loads the backbone's pretrained file
    np.testing.assert_array_equal(dst.backbone.conv4.conv4_2._expand_conv._conv.weight.numpy(),
                                  src.backbone.conv4.conv4_2._expand_conv._conv.weight.numpy())
    assert not np.array_equal(dst.backbone.out.weight.numpy()[:, :8], src.backbone.out.weight.numpy()[:, :8])
    n = len(state) - 2  # all but the classifier
    dst2 = build(mv2_cfg(8, scale=0.25), seed=3, bn_stats=False)
    assert _pretrained_logs(caplog, dst2, path, backbone_classifiers=("out.",)) == n
    assert ("skipped 2 classifier tensors of another shape: backbone.out.weight [1280, 1000] vs model "
            "[1280, 8], backbone.out.bias [1000] vs model [8]") in caplog.text
    assert f"loaded {n} tensors from {path}: backbone {n} of {n}, classifier 0 of 2" in caplog.text

    # main.py --weights calls it without prefixes: the backbone's own (out.) apply
    dst4 = build(mv2_cfg(8, scale=0.25), seed=3, bn_stats=False)
    assert load_pretrained(dst4, path) == n

    dst3 = build(mv2_cfg(1000, scale=0.25), seed=4, bn_stats=False)
    assert load_pretrained(dst3, path, backbone_classifiers=("out.",)) == len(state)
    np.testing.assert_array_equal(dst3.backbone.out.weight.numpy(), src.backbone.out.weight.numpy())


def test_imagenet_resnet_vd_and_a_layout_mismatch(tmp_path, caplog):
    """PaddleClas's ResNet_vd layout (its classifier 'out' is not in the model: ignored and counted);
    a file of another layout is refused with the keys it lacks, not loaded silently."""
    src = build(pptsm_cfg(50, base_channels=8), seed=1)
    state = {k[len("backbone."):]: v for k, v in src.state_dict().items() if k.startswith("backbone.")}
    state["out.weight"], state["out.bias"] = paddle.zeros([32, 1000]), paddle.zeros([1000])
    path = str(tmp_path / "ResNet50_vd_ssld_v2_pretrained.pdparams")
    paddle.save(state, path)
    dst = build(pptsm_cfg(50, num_classes=4, base_channels=8), seed=2, bn_stats=False)
    n = len(state) - 2
    assert _pretrained_logs(caplog, dst, path) == n
    assert f"loaded {n} tensors from {path}: backbone {n} of {n}, classifier 0 of 2; 2 tensors not in the " \
           f"model ignored" in caplog.text
    np.testing.assert_array_equal(dst.backbone.bb_2_0.short._conv.weight.numpy(),
                                  src.backbone.bb_2_0.short._conv.weight.numpy())

    # ResNetTSM (plain ResNet) names: nothing of the vd backbone is there
    other = build(pptsm_cfg(50, base_channels=8), seed=1)
    bad = {k.replace("bb_", "res_"): v for k, v in other.state_dict().items()}
    bad_path = str(tmp_path / "other_layout.pdparams")
    paddle.save(bad, bad_path)
    with pytest.raises(CheckpointError, match=r"pretrained backbone does not fit the model; \d+ missing: "
                                              r"backbone.bb_0_0.conv0._conv.weight") as e:
        load_pretrained(build(pptsm_cfg(50, base_channels=8)), bad_path)
    assert "\n" not in str(e.value)


# ---- parameter counts and MACs (tools/summary.py) ------------------------------------------------

def summary_cfg(model, size, num_seg=8):
    return _to_attr({"model_name": "t", "MODEL": model, "INFERENCE": {"num_seg": num_seg, "target_size": size}})


def resnet_vd_params(depth, num_classes, base=64):
    """Closed form: conv weights + BN scale/shift of the 3-conv stem (base/2, base/2, base) and the
    blocks (a projection shortcut in each stage's first block), + the fc."""
    def conv_bn(cin, cout, k):
        return cin * cout * k * k + 2 * cout
    blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}[depth]
    total = conv_bn(3, base // 2, 3) + conv_bn(base // 2, base // 2, 3) + conv_bn(base // 2, base, 3)
    cin = base
    for stage, n in enumerate(blocks):
        c = base * 2 ** stage
        if depth >= 50:  # bottlenecks 1x1 -> 3x3 -> 1x1 (x4)
            total += n * (conv_bn(c, c, 3) + conv_bn(c, 4 * c, 1))
            total += conv_bn(cin, c, 1) + (n - 1) * conv_bn(4 * c, c, 1)
            total += conv_bn(cin, 4 * c, 1)
            cin = 4 * c
        else:  # basic blocks 3x3 -> 3x3
            total += conv_bn(cin, c, 3) + (n - 1) * conv_bn(c, c, 3) + n * conv_bn(c, c, 3) + conv_bn(cin, c, 1)
            cin = c
    return total + cin * num_classes + num_classes


def mobilenet_v2_params(num_classes, scale=1.0):
    """Closed form: each inverted residual with hidden e = round(cin * t) has e * (cin + 9 + cout)
    conv weights and 2 * (e + e + cout) BN parameters; + stem, conv9 and the classifier."""
    cin = int(32 * scale)
    total = 3 * cin * 9 + 2 * cin
    for t, c, n, _ in SETTINGS:
        cout = int(c * scale)
        for _ in range(n):
            e = int(round(cin * t))
            total += e * (cin + 9 + cout) + 2 * (2 * e + cout)
            cin = cout
    last = 1280
    return total + cin * last + 2 * last + last * num_classes + num_classes


@pytest.mark.parametrize("depth, expected", [(50, 24_346_864), (101, 43_338_992)])
def test_pptsm_resnet_params_closed_form(depth, expected):
    # parameters do not depend on the input size: count at 32 px to keep paddle.flops cheap
    s = summarize(summary_cfg(pptsm_cfg(depth, num_classes=400), 32))
    assert s["params"] == resnet_vd_params(depth, 400) == expected
    assert resnet_vd_params(depth, 10) == {50: 23_547_754, 101: 42_539_882}[depth]  # the reference lists


@pytest.mark.parametrize("depth, shifted", [(18, 8), (34, 16)])
def test_pptsm_resnet_18_34_paddlevideo_layout(depth, shifted):
    """PaddleVideo's 18/34 layout: basic blocks res2a ..., a shortcut conv in every stage's first block."""
    m = build(pptsm_cfg(depth, num_classes=400, num_seg=2, base_channels=16))
    assert sum(int(p.size) for p in m.parameters() if not p.stop_gradient) == resnet_vd_params(depth, 400, 16)
    names = [n for n, _ in m.backbone.shift_sites()]
    assert names[:3] == ["res2a", "res2b", "res3a" if depth == 18 else "res2c"]
    assert len(m.backbone.shift_sites()) == shifted and m.backbone.res2a.short is not None
    m.eval()
    assert m(paddle.randn([1, 2, 3, 33, 33])).shape == [1, 400]
    assert resnet_vd_params(depth, 400) == {18: 11_405_168, 34: 21_513_328}[depth]  # full width


def test_mobilenet_v2_params_and_macs_per_clip():
    s = summarize(summary_cfg(mv2_cfg(400), 224))
    assert s["params"] == mobilenet_v2_params(400) == 2_737_360  # PaddleVideo's count
    assert s["input_shape"] == [1, 8, 3, 224, 224]
    # mmengine-rule count of PaddleVideo's layout: 2.613 G; paddle.flops adds BN (2 per element) and
    # the classifier per frame (8 x 1280 x 400) instead of once per clip
    assert 2.60e9 < s["macs"] < 2.63e9
    for scale, count in ((0.25, 748_792), (0.5, 1_197_136), (0.75, 1_859_992)):
        assert mobilenet_v2_params(400, scale) == count


def test_summary_cli_names_the_backbone(capsys):
    import summary
    cfg = ROOT / "configs" / "tsm_mv2_demo_frames.yaml"
    assert summary.main(["-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "PPTSM_MobileNetV2 scale 0.5" in out and "depth" not in out
    assert f"trainable parameters: {mobilenet_v2_params(8, 0.5):,}" in out


# ---- the shift and the layers against functional references -------------------------------------

@pytest.mark.parametrize("num_seg", [8, 16])
def test_shift_is_paddlevideos_one_over_num_seg(num_seg):
    """shift_div num_seg (the PP-TSM configs' setting) and the default both shift as PaddleVideo's
    temporal_shift(x, T, 1/T); every block of the ResNet, the 10 shortcut units of MobileNetV2."""
    for shift_div in ("num_seg", None):
        bb = build_model(pptsm_cfg(50, num_seg=num_seg, base_channels=16, shift_div=shift_div)).backbone
        assert len(bb.shift_sites()) == 16 and {t for _, t in bb.shift_sites()} == {"conv0"}
        for _, unit in bb.units()[:2]:  # 16 and 64 input channels: folds 1 and 4 (T = 16), 2 and 8 (T = 8)
            x = paddle.randn([2 * num_seg, unit.in_channels, 2, 2])
            assert np.array_equal(unit.shift(x).numpy(), F.temporal_shift(x, num_seg, 1.0 / num_seg).numpy())
    mv2 = build_model(mv2_cfg(10, num_seg=num_seg)).backbone
    assert mv2.shift_sites() == [(n, "_expand_conv") for n in (
        "conv3.conv3_2", "conv4.conv4_2", "conv4.conv4_3", "conv5.conv5_2", "conv5.conv5_3", "conv5.conv5_4",
        "conv6.conv6_2", "conv6.conv6_3", "conv7.conv7_2", "conv7.conv7_3")]
    unit = dict(mv2.units())["conv5.conv5_3"]
    x = paddle.randn([num_seg, 64, 2, 2])
    assert np.array_equal(unit.shift(x).numpy(), F.temporal_shift(x, num_seg, 1.0 / num_seg).numpy())


def test_tsn_twins_have_no_shift_and_the_same_keys():
    for cfg in (pptsm_cfg(50, base_channels=8), mv2_cfg(10, scale=0.5)):
        tsm = build_model(cfg)
        cfg["backbone"]["shift_div"] = 0
        tsn = build_model(cfg)
        assert tsn.backbone.shift_sites() == [] and len(tsm.backbone.shift_sites()) > 0
        def layout(m):
            return [(k, v.shape) for k, v in m.state_dict().items()]
        assert layout(tsn) == layout(tsm)
    with pytest.raises(ValueError, match="shift_div must be an int or 'num_seg', got 'eight'"):
        build_model(pptsm_cfg(50, base_channels=8, shift_div="eight"))


def conv_bn_ref(layer, x, act=None, pool=False, groups=1):
    """A ConvBNLayer's output from its weights with Paddle's functional ops (eval BN)."""
    if pool:
        x = F.avg_pool2d(x, 2, 2, 0, ceil_mode=True)
    w = layer._conv.weight
    y = F.conv2d(x, w, stride=layer._conv._stride, padding=(w.shape[-1] - 1) // 2, groups=groups)
    bn = layer._batch_norm
    y = F.batch_norm(y, bn._mean, bn._variance, bn.weight, bn.bias, training=False, epsilon=1e-5)
    if act == "leaky_relu":
        return F.leaky_relu(y, 0.01)
    return F.relu6(y) if act == "relu6" else y


def test_resnet_vd_blocks_match_functional_reference():
    """bb_0_0 (projection without pool), bb_1_0 (2x2 ceil-mode avg pool + 1x1 shortcut, odd size)
    and bb_1_1 (identity): leaky_relu(shortcut(x) + branch(shift(x))), shift = temporal_shift(x, T, 1/T)."""
    m = build(pptsm_cfg(50, num_seg=4, base_channels=8))
    m.eval()
    bb = m.backbone
    for name, cin, size in (("bb_0_0", 8, 6), ("bb_1_0", 32, 7), ("bb_1_1", 64, 4)):
        block = getattr(bb, name)
        x = paddle.to_tensor(np.random.default_rng(1).normal(size=(8, cin, size, size)).astype("float32"))
        s = F.temporal_shift(x, 4, 1 / 4)
        y = conv_bn_ref(block.conv0, s, "leaky_relu")
        y = conv_bn_ref(block.conv1, y, "leaky_relu")
        y = conv_bn_ref(block.conv2, y)
        short = x if block.short is None else conv_bn_ref(block.short, x, pool=name == "bb_1_0")
        ref = F.leaky_relu(y + short, 0.01).numpy()
        out = block(x).numpy()
        assert out.shape == ref.shape and rel_diff(out, ref) < 1e-5, name
    stem = F.max_pool2d(conv_bn_ref(bb.conv1_3, conv_bn_ref(bb.conv1_2, conv_bn_ref(
        bb.conv1_1, paddle.ones([1, 3, 9, 9]), "leaky_relu"), "leaky_relu"), "leaky_relu"), 3, 2, 1)
    assert rel_diff(bb.forward_stem(paddle.ones([1, 3, 9, 9])).numpy(), stem.numpy()) < 1e-5


def test_mobilenet_v2_units_and_clip_score_match_functional_reference():
    """A shortcut unit: x + linear(dw(expand(shift(x)))); a first unit: no shift, no add; the clip
    score: mean over T of the classifier on each frame's pooled conv9 features (PaddleVideo averages
    the features first: the same for a linear classifier)."""
    m = build(mv2_cfg(5, num_seg=4, scale=0.5))
    m.eval()
    units = dict(m.backbone.units())
    rng = np.random.default_rng(2)
    for name, cin, shortcut in (("conv4.conv4_2", 16, True), ("conv4._first_block", 12, False)):
        u = units[name]
        x = paddle.to_tensor(rng.normal(size=(8, cin, 5, 5)).astype("float32"))
        s = F.temporal_shift(x, 4, 1 / 4) if shortcut else x
        hidden = u._expand_conv._conv.weight.shape[0]
        y = conv_bn_ref(u._expand_conv, s, "relu6")
        y = conv_bn_ref(u._bottleneck_conv, y, "relu6", groups=hidden)
        y = conv_bn_ref(u._linear_conv, y)
        ref = (x + y if shortcut else y).numpy()
        assert rel_diff(u(x).numpy(), ref) < 1e-5, name

    clips = rng.normal(size=(2, 4, 3, 40, 40)).astype("float32")
    frames = paddle.to_tensor(clips.reshape(8, 3, 40, 40))
    bb = m.backbone
    x = bb.forward_stem(frames)
    for _, unit in bb.units():
        x = unit(x)
    feats = F.adaptive_avg_pool2d(conv_bn_ref(bb.conv9, x, "relu6"), 1).numpy().reshape(2, 4, -1).mean(1)
    ref = feats @ bb.out.weight.numpy() + bb.out.bias.numpy()
    assert rel_diff(m(paddle.to_tensor(clips)).numpy(), ref) < 1e-5


@pytest.mark.parametrize("cfg", [pptsm_cfg(50, num_seg=3, base_channels=8),
                                 pptsm_cfg(18, num_seg=3, base_channels=8),
                                 mv2_cfg(6, num_seg=3, scale=0.5)], ids=["vd50", "vd18", "mv2"])
def test_nhwc_equals_nchw(cfg):
    nchw = build(cfg)
    nhwc_cfg = dict(cfg, backbone=dict(cfg["backbone"], data_format="NHWC"))
    nhwc = build_model(nhwc_cfg)
    nhwc.set_state_dict(nchw.state_dict())
    nchw.eval(), nhwc.eval()
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 45, 37)).astype("float32")
    a = nchw(paddle.to_tensor(x)).numpy()
    assert rel_diff(nhwc(paddle.to_tensor(to_nhwc(x))).numpy(), a) < 1e-5


def test_pptsm_head_mean_before_fc_and_recipe_attributes():
    m = build(pptsm_cfg(18, num_classes=7, num_seg=4, base_channels=8))
    m.eval()
    head = m.head
    assert head.in_channels == m.backbone.out_channels == 64  # filled in from the backbone
    feat = paddle.randn([8, 64, 2, 3])
    clip_feat = feat.numpy().mean(axis=(2, 3)).reshape(2, 4, 64).mean(1)
    ref = clip_feat @ head.fc.weight.numpy() + head.fc.bias.numpy()
    assert rel_diff(head(feat, 4).numpy(), ref) < 1e-5
    # fc: Normal(0, 0.01) weight, zero bias; lr x5 / x10; L2 1e-4 on the weight, none on the bias
    big = build_model(pptsm_cfg(18, num_classes=400, base_channels=64))
    w, b = big.head.fc.weight, big.head.fc.bias
    assert abs(float(w.numpy().std()) - 0.01) < 1e-3 and not b.numpy().any()
    summary = trainable_summary(big.parameters(), build_weight_decay(1e-3))
    decay = {name: (coeff, lr) for name, coeff, lr in summary}
    assert decay[w.name] == (pytest.approx(1e-4), 5.0) and decay[b.name] == (0.0, 10.0)
    assert decay[big.backbone.res2a.conv0._conv.weight.name][0] == pytest.approx(1e-3)
    assert decay[big.backbone.conv1_1._batch_norm.weight.name][0] == 0.0  # BN exempt in the ResNets
    mv2 = build_model(mv2_cfg(10, scale=0.25))
    mv2_decay = {n: c for n, c, _ in trainable_summary(mv2.parameters(), build_weight_decay(1e-4))}
    assert all(c == pytest.approx(1e-4) for c in mv2_decay.values())  # PaddleVideo's MobileNetV2: BN, out too


def test_pptsm_head_dropout_is_per_frame_before_the_mean():
    """With dropout in training, frames of one clip are dropped independently: the clip feature is
    the mean of T differently-masked frame features (a clip-level dropout would scale them alike)."""
    m = build(pptsm_cfg(18, num_classes=3, num_seg=4, base_channels=8))
    m.head.fc.weight.set_value(np.eye(64, 3, dtype="float32"))
    m.head.fc.bias.set_value(np.zeros(3, "float32"))
    m.train()
    paddle.seed(5)
    feat = paddle.ones([4, 64, 1, 1])  # one clip of 4 identical frames
    out = m.head(feat, 4).numpy()[0]
    # each of the 3 read-out channels is (kept frames / 4) / (1 - 0.8): multiples of 1.25, not only 0 or 5
    k = out / 1.25
    assert np.allclose(k, np.round(k), atol=1e-5) and set(np.round(k).astype(int)) <= {0, 1, 2, 3, 4}
    m.head.dropout.p = 0.5
    outs = np.stack([m.head(feat, 4).numpy()[0] for _ in range(20)])
    assert len({round(v, 4) for v in outs.ravel()}) > 2  # intermediate values: per-frame masks


def test_train_and_val_steps_learn_and_smooth_labels():
    """One Momentum step lowers the loss on a fixed batch for both models; every parameter gets a
    gradient (MobileNetV2's classifier inside the backbone too); ls_eps smooths in training only."""
    for cfg in (pptsm_cfg(18, num_classes=4, num_seg=2, base_channels=8), mv2_cfg(4, num_seg=2, scale=0.25)):
        cfg["head"]["ls_eps"] = 0.1
        m = build(cfg, bn_stats=False)
        m.train()
        opt = paddle.optimizer.Momentum(0.05, parameters=m.parameters())
        x = paddle.randn([4, 2, 3, 32, 32])
        y = paddle.to_tensor(np.array([0, 1, 2, 3]))
        out = m.train_step([x, y])
        out["loss"].backward()
        assert all(p.grad is not None for p in m.parameters() if not p.stop_gradient)
        opt.step()
        opt.clear_grad()
        m.eval()
        with paddle.no_grad():
            scores = m(x)
            val = m.val_step([x, y])
        logp = F.log_softmax(scores, -1).numpy()
        np.testing.assert_allclose(val["loss"].numpy(), -logp[np.arange(4), y.numpy()], rtol=1e-5)
        smooth = m.head.loss(scores, y)["loss"]
        target = np.full((4, 4), 0.1 / 4) + 0.9 * np.eye(4)
        assert float(smooth) == pytest.approx(-(target * logp).sum(1).mean(), rel=1e-5)


# ---- configs ---------------------------------------------------------------------------------------

PPTSM_CONFIGS = ["pptsm_k400_frames_uniform.yaml", "pptsm_k400_frames_dense.yaml",
                 "pptsm_k400_videos_uniform.yaml", "pptsm_mv2_k400_videos_uniform.yaml"]


@pytest.mark.parametrize("name", PPTSM_CONFIGS)
def test_pptsm_configs_use_paddlevideos_components_and_schedule(name):
    cfg = get_config(str(ROOT / "configs" / name))
    bb, head = cfg.MODEL.backbone, cfg.MODEL.head
    assert (bb.name, head.name) in (("ResNetTweaksTSM", "ppTSMHead"), ("PPTSM_MobileNetV2", "MoViNetHead"))
    # shift_div left out: the backbone's default, 1/num_seg each way; -o ...shift_div=0 is the TSN twin
    assert "shift_div" not in bb and bb.num_seg == 8
    twin = get_config(str(ROOT / "configs" / name), ["MODEL.backbone.shift_div=0"]).MODEL
    for model_cfg, sites in ((cfg.MODEL, 10 if bb.name == "PPTSM_MobileNetV2" else 16), (twin, 0)):
        small = copy.deepcopy(dict(model_cfg))
        small["backbone"] = dict(small["backbone"], pretrained=None, **(
            {"scale": 0.25} if bb.name == "PPTSM_MobileNetV2" else {"base_channels": 8}))
        small["head"] = {k: v for k, v in small["head"].items() if k != "in_channels"}
        backbone = build_model(small).backbone
        assert len(backbone.shift_sites()) == sites
        assert all(u.shift.shift_div == 8 for _, u in backbone.units() if u.shift is not None)
    # PaddleVideo's CustomWarmupCosineDecay, written out: cosine from cosine_base_lr over max_epoch
    # epochs, the first warmup_epochs a linear ramp from warmup_start_lr to the cosine there
    lr_cfg = cfg.OPTIMIZER.learning_rate
    assert lr_cfg.name == "CustomWarmupCosineDecay" and lr_cfg.iter_step
    base, start = lr_cfg.cosine_base_lr, lr_cfg.warmup_start_lr
    warm, total = lr_cfg.warmup_epochs, lr_cfg.max_epoch
    assert (base, start) == ((0.02, 0.01) if "dense" in name else (0.01, 0.005)) and (warm, total) == (10, 80)
    iters = 7
    sched = build_lr(lr_cfg, iters)
    same = build_lr({"name": "CosineAnnealingDecay", "learning_rate": base, "max_epoch": total,
                     "warmup_epochs": warm, "warmup_start_lr": start}, iters)

    def pv(epoch):
        cosine = lambda e: base * (math.cos(math.pi * e / total) + 1) * 0.5  # noqa: E731
        return start + epoch * (cosine(warm) - start) / warm if epoch < warm else cosine(epoch)
    for step in (0, 1, 33, 69, 70, 71, 300, 559):
        assert sched.lr_at(step) == pytest.approx(pv(step / iters), rel=1e-9) == same.lr_at(step)
    # scaled to the effective batch like every schedule (OPTIMIZER.lr_scale_by_batch)
    assert build_lr(lr_cfg, iters, scale=0.5).lr_at(300) == pytest.approx(0.5 * pv(300 / iters), rel=1e-9)


def test_mobilenet_v2_demo_twins_differ_only_in_the_shift():
    def load(name):
        return yaml.safe_load((ROOT / "configs" / name).read_text())
    tsm, tsn = load("tsm_mv2_demo_frames.yaml"), load("tsn_mv2_demo_frames.yaml")
    assert "shift_div" not in tsm["MODEL"]["backbone"] and tsn["MODEL"]["backbone"].pop("shift_div") == 0
    tsn["model_name"] = tsm["model_name"]
    assert tsn == tsm
    # the same data and recipe as the ResNet demo; the pipeline only at twice the size (64 px crops of
    # 72 px frames against 32 of 40: MobileNetV2 reduces 32x)
    resnet = load("tsm_demo_frames.yaml")
    for key in ("DATASET", "OPTIMIZER", "METRIC", "epochs", "cpu_threads"):
        assert tsm[key] == resnet[key], key
    halved = yaml.safe_dump({k: tsm[k] for k in ("PIPELINE", "INFERENCE")}).replace(
        "short_size: 72", "short_size: 40").replace("target_size: 64", "target_size: 32")
    assert yaml.safe_load(halved) == {k: resnet[k] for k in ("PIPELINE", "INFERENCE")}
    assert tsm["cpu_conv"] == "onednn" and "cpu_conv" not in resnet
