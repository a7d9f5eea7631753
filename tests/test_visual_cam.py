"""Grad-CAM over whole clips (paddlevideo_tsm/visual/cam.py) and its rendering (heatmap.py)."""
import numpy as np
import paddle
import pytest

from helpers import model_cfg, randomize_bn_stats, rel_diff, to_nhwc
from paddlevideo_tsm.errors import ConfigError
from paddlevideo_tsm.modeling import BACKBONES, build_model
from paddlevideo_tsm.visual.cam import default_layer, grad_cam, resolve_layer
from paddlevideo_tsm.visual.heatmap import blend, grid, normalize, peaks, upsample
from test_online import toy_recognizer

T = 4


def small_model(seed=0, **backbone):
    paddle.seed(seed)
    model = build_model(model_cfg(num_seg=T, num_classes=5, **backbone))
    randomize_bn_stats(model, seed)
    with paddle.no_grad():  # a head with a real spread of class scores
        model.head.fc.weight.set_value(np.random.default_rng(seed).normal(0, 1, model.head.fc.weight.shape)
                                       .astype("float32"))
    model.eval()
    return model


def random_clip(data_format="NCHW", seed=0, size=32):
    x = np.random.default_rng(seed).normal(size=(1, T, 3, size, size)).astype("float32")
    return (to_nhwc(x) if data_format == "NHWC" else x)[0]


def cam_reference(model, clip, k, feats=None, weight=None):
    """At the backbone's output a TSMHead scores mean_t fc(mean_hw F[t]), so d score_k / d F[t, c, i, j]
    = W[c, k] / (T h w): Grad-CAM there is ReLU(sum_c W[c, k] F[t, c]) / (T h w), the class activation
    map of Zhou et al., computed here from a plain forward pass. The same holds for any layer F
    followed by a spatial mean, a linear classifier W and a mean over T (ppTSMHead averages over T
    before its fc; MobileNetV2 after conv9): ``feats`` [T, C, h, w] (or NHWC) and ``weight`` [C, K]
    give them (default: the backbone's output and the head's fc)."""
    if feats is None:
        with paddle.no_grad():
            feats = model.backbone(paddle.to_tensor(clip)).numpy()
    if model.data_format == "NHWC":
        feats = feats.transpose(0, 3, 1, 2)
    w = (model.head.fc.weight.numpy() if weight is None else weight)[:, k]  # paddle's Linear weight is [in, out]
    t, _, h, ww = feats.shape
    return np.maximum(np.einsum("c,tchw->thw", w, feats), 0) / (t * h * ww)


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
@pytest.mark.parametrize("backbone", [dict(), dict(shift_mode="online"), dict(shift_div=0),
                                      dict(depth=50, base_channels=8, shift_place="inplace")])
def test_default_layer_equals_the_class_activation_map(data_format, backbone):
    model = small_model(data_format=data_format, **backbone)
    clip = random_clip(data_format)
    res = grad_cam(model, clip)
    with paddle.no_grad():
        probs = paddle.nn.functional.softmax(model(paddle.to_tensor(clip[None]))).numpy()[0]
    assert res.target == int(probs.argmax())
    assert np.allclose(res.probs, probs, atol=1e-6)
    assert res.layer == ("backbone.res5b" if "depth" not in backbone else "backbone.res5c")
    assert res.maps.shape == (T, 2, 2)  # 32 px at stride 16 (3x3 stem)
    other = (res.target + 1) % 5
    for k in (res.target, other):
        ref = cam_reference(model, clip, k)
        got = grad_cam(model, clip, target=k).maps
        assert got.shape == ref.shape and rel_diff(got, ref) < 1e-4 and (k != res.target or ref.max() > 0)


def _features_and_cam(model, clip, layer):
    """(the layer's output [T, ...] from a plain forward pass, the CAM maps [T, h, w]) at ``layer``."""
    _, sub = resolve_layer(model, layer)
    seen = []
    handle = sub.register_forward_post_hook(lambda _l, _i, out: seen.append(out.numpy()))
    with paddle.no_grad():
        model(paddle.to_tensor(clip[None]))
    handle.remove()
    return seen[-1], grad_cam(model, clip, target=4, layer=layer).maps


@pytest.mark.parametrize("mode,features_change,cam_changes", [
    # frame 2 altered; looking at frame 1 at res4a, half-way through the network
    ("offline", True, True),    # shifts carry frame 2 into frame 1 both ways
    ("online", False, True),    # frame 1's features never see frame 2, but its gradient comes back from it
    ("tsn", False, False),      # no shift: each frame's map is its own
])
def test_the_gradient_crosses_frames_through_the_shifts(mode, features_change, cam_changes):
    kw = dict(shift_div=0) if mode == "tsn" else dict(shift_mode=mode)
    model = small_model(**kw)
    clip = random_clip(size=64)
    feats, cam = _features_and_cam(model, clip, "res4a")
    other = clip.copy()
    other[2] = np.random.default_rng(9).normal(size=other[2].shape)
    feats2, cam2 = _features_and_cam(model, other, "res4a")
    assert cam.shape == (T, 8, 8) and cam[1].max() > 0
    assert (not np.array_equal(feats[1], feats2[1])) == features_change
    assert (rel_diff(cam2[1], cam[1]) > 1e-3) == cam_changes
    assert np.array_equal(feats[0], feats2[0]) == (mode != "offline")  # online: the past is untouched


REGISTERED = [  # (backbone, head, default layer)
    ({"name": "MobileOneTSM", "arch": "s0"}, "TSMHead", "backbone.stage4.1"),
    ({"name": "ResNetTSM", "depth": 18, "base_channels": 8, "stem": "3x3",
      "non_local": [[0, 0], [1, 0], [1, 0], [0, 1]]}, "TSMHead", "backbone.res5b_nonlocal"),
    ({"name": "ResNetTweaksTSM", "depth": 18, "base_channels": 8}, "ppTSMHead", "backbone.res5b"),
    ({"name": "PPTSM_MobileNetV2", "scale": 0.25, "class_num": 5}, "MoViNetHead", "backbone.conv9"),
]


def test_every_registered_backbone_is_tested():
    assert {b["name"] for b, _, _ in REGISTERED} == set(BACKBONES)


def mobilenet_v2_conv9(backbone, clip):
    """PPTSM_MobileNetV2's last per-frame feature map (conv9's output) by running its pieces in turn."""
    with paddle.no_grad():
        x = backbone.forward_stem(paddle.to_tensor(clip))
        for _, unit in backbone.units():
            x = unit(x)
        return backbone.conv9(x).numpy()


@pytest.mark.parametrize("backbone,head,layer", REGISTERED)
def test_registered_backbones(backbone, head, layer):
    """Every registered TSMBackbone: MobileOne (units 'stage<i>.<j>'), a non-local ResNet (whose
    non-local blocks mix all T frames; the last one is the default layer here), PP-TSM's ResNet-vd
    (ppTSMHead) and MobileNetV2 (classifier inside the backbone; default layer its cam_layer conv9)."""
    paddle.seed(0)
    head_cfg = {"name": head} if head == "MoViNetHead" else {"name": head, "num_classes": 5}
    model = build_model({"framework": "Recognizer2D", "backbone": dict(backbone, num_seg=T), "head": head_cfg})
    randomize_bn_stats(model, 0)
    model.eval()
    clip = random_clip(size=64)
    res = grad_cam(model, clip)
    assert res.layer == layer and res.maps.shape[0] == T and res.maps.max() > 0
    if head == "MoViNetHead":
        ref = cam_reference(model, clip, res.target, mobilenet_v2_conv9(model.backbone, clip),
                            model.backbone.out.weight.numpy())
    else:
        ref = cam_reference(model, clip, res.target)
    assert rel_diff(res.maps, ref) < 1e-4


def test_any_tsm_backbone_and_named_layers():
    """A MobileNetV2/MobileOne-style toy backbone (tests/test_online.py): the default layer is its last
    unit, and any sublayer can be named with or without 'backbone.'."""
    model = toy_recognizer()
    clip = random_clip(size=32)
    assert default_layer(model) == "backbone.b4"
    res = grad_cam(model, clip)
    assert res.layer == "backbone.b4" and res.maps.shape == (T, 4, 4) and res.maps.max() > 0
    assert rel_diff(res.maps, cam_reference(model, clip, res.target)) < 1e-4
    assert grad_cam(model, clip, layer="b2").maps.shape == (T, 8, 8)
    assert grad_cam(model, clip, layer="backbone.b3.expand").layer == "backbone.b3.expand"


def test_bad_layer_or_class_is_one_config_error():
    model = small_model()
    clip = random_clip()
    with pytest.raises(ConfigError, match=r"^--layer res9z: the model has no such sublayer; the backbone's units: "
                                          r"backbone.res2a, backbone.res2b, .*backbone.res5b \("):
        grad_cam(model, clip, layer="res9z")
    with pytest.raises(ConfigError, match=r"^--layer head.fc: its output \[4, 5\] is not one feature map per frame"):
        grad_cam(model, clip, layer="head.fc")
    with pytest.raises(ConfigError, match=r"^--target_class 5: the model has classes 0..4$"):
        grad_cam(model, clip, target=5)


def test_peaks_are_the_centre_of_the_hottest_region():
    maps = np.zeros((4, 4, 4), np.float32)
    maps[0, 1, 2] = 2.0                          # one hot cell: its centre, by symmetry
    maps[1, 0, 0], maps[1, 3, 3] = 2.0, 3.0      # two regions above half the maximum: the hotter one
    maps[2, 1, 1] = maps[2, 1, 2] = 1.0          # two equal neighbours: between their centres
    pts = peaks(maps, 32, 32)
    centre = lambda i, j: ((j + 0.5) * 8 - 0.5, (i + 0.5) * 8 - 0.5)  # noqa: E731 (a cell's centre in pixels)
    assert tuple(pts[0]) == pytest.approx(centre(1, 2), abs=1e-4)
    assert tuple(pts[1]) == pytest.approx(centre(3, 3), abs=1.0) and pts[1][0] > 20
    assert tuple(pts[2]) == pytest.approx(((centre(1, 1)[0] + centre(1, 2)[0]) / 2, centre(1, 1)[1]), abs=1e-4)
    assert tuple(pts[3]) == (15.5, 15.5)          # nothing positive: the image centre
    up = upsample(maps, 32, 32)
    assert up.shape == (4, 32, 32) and up[0].max() == pytest.approx(up[0, 11:13, 19:21].max())
    assert normalize(maps).max() == 1.0 and np.allclose(normalize(maps) * 3.0, maps)
    assert not normalize(np.zeros((2, 3, 3))).any()


def test_blend_and_grid_geometry():
    frames = np.random.default_rng(1).integers(0, 255, (5, 20, 30, 3), dtype=np.uint8)
    maps = np.random.default_rng(2).uniform(0, 1, (5, 2, 3)).astype(np.float32)
    assert np.array_equal(blend(frames, maps, alpha=0.0), frames)
    big = blend(frames, maps, alpha=0.5, scale=3)
    assert big.shape == (5, 60, 90, 3) and big.dtype == np.uint8
    hot = blend(frames, np.ones_like(maps), alpha=1.0)  # jet's top colour is dark red
    assert (hot[..., 0] > 100).all() and (hot[..., 2] < 10).all()
    image = grid(big, [f"t{i}" for i in range(5)], cols=3, pad=4)
    assert image.shape == (4 + 2 * 64, 3 * 94 + 4, 3)
    assert np.array_equal(image[4 + 64 + 40:4 + 64 + 60, 4:94], big[3][40:60])  # below the title
    assert (image[4 + 64:4 + 64 + 64, 4 + 2 * 94:] == 255).all()  # the empty sixth cell
