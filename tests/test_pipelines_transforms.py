"""Image transforms against numpy slicing, cv2.resize and closed-form sizes and boxes."""
import cv2
import numpy as np
import pytest

from paddlevideo_tsm.errors import DataError
from paddlevideo_tsm.loader import build_pipeline
from paddlevideo_tsm.loader.pipelines import crop_geometry as geo
from paddlevideo_tsm.loader.pipelines.augmentations import (
    CenterCrop, MultiScaleCrop, RandomCrop, RandomFlip, Scale, TenCrop, ThreeCrop)
from paddlevideo_tsm.loader.pipelines.to_array import Image2Array, Normalization
from paddlevideo_tsm.errors import ConfigError

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def clip(t=3, h=256, w=341, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(t)]


def run(step, imgs, seed=None, **extra):
    res = dict(imgs=imgs, **extra)
    if seed is not None:
        res["rng"] = np.random.default_rng(seed)
    return step(res)


# ---- Scale -------------------------------------------------------------------------------

def test_scale_sizes_closed_form():
    assert geo.scale_size(320, 240, 256) == (341, 256)                 # 256*4/3 = 341.33
    assert geo.scale_size(240, 320, 256) == (256, 341)
    assert geo.scale_size(320, 240, 256, fixed_ratio=False, keep_ratio=False) == (256, 256)
    # 323*256/240 = 344.53: truncated 344, rounded 345
    assert geo.scale_size(323, 240, 256, fixed_ratio=False, keep_ratio=True) == (344, 256)
    assert geo.scale_size(323, 240, 256, fixed_ratio=False, keep_ratio=True, do_round=True) == (345, 256)
    assert geo.scale_size(240, 323, 256, fixed_ratio=False) == (256, 344)


def test_scale_matches_cv2_resize_and_keeps_short_side_match():
    imgs = clip(2, 240, 320)
    out = run(Scale(256), imgs)["imgs"]
    for a, b in zip(out, imgs):
        np.testing.assert_array_equal(a, cv2.resize(b, (341, 256), interpolation=cv2.INTER_LINEAR))
    same = clip(2, 256, 300)
    out = run(Scale(256), same)["imgs"]
    assert all(np.array_equal(a, b) for a, b in zip(out, same))
    with pytest.raises(ValueError, match="cannot both be true"):
        Scale(256, fixed_ratio=True, keep_ratio=True)


# ---- crops ---------------------------------------------------------------------------------

def test_center_crop_vs_slicing():
    imgs = clip(2, 256, 342)
    out = run(CenterCrop(224), imgs)["imgs"]
    for a, b in zip(out, imgs):
        np.testing.assert_array_equal(a, b[16:240, 59:283])
    # (343-224)/2 = 59.5: rounded (to even) 60, floored 59
    imgs = clip(1, 256, 343)
    np.testing.assert_array_equal(run(CenterCrop(224), imgs)["imgs"][0], imgs[0][16:240, 60:284])
    np.testing.assert_array_equal(run(CenterCrop(224, do_round=False), imgs)["imgs"][0], imgs[0][16:240, 59:283])


def test_random_crop_boxes_inside_and_cover_all_positions():
    step = RandomCrop(8)
    seen = set()
    for seed in range(200):
        x, y, w, h = step.sample_box(11, 9, np.random.default_rng(seed))
        assert (w, h) == (8, 8) and 0 <= x <= 3 and 0 <= y <= 1
        seen.add((x, y))
    assert seen == {(x, y) for x in range(4) for y in range(2)}
    imgs = clip(3, 64, 80)
    x, y, w, h = step.sample_box(80, 64, np.random.default_rng(4))
    out = run(step, imgs, seed=4)["imgs"]
    assert all(np.array_equal(a, b[y:y + 8, x:x + 8]) for a, b in zip(out, imgs))


# the definition for a 341x256 frame: sides int(256*s) for s in 1, .875, .75, .66 -> 256, 224, 192, 168,
# (w, h) pairs whose scale indices differ by at most 1
ALLOWED_341x256 = {(256, 256), (224, 256), (256, 224), (224, 224), (192, 224), (224, 192),
                   (192, 192), (168, 192), (192, 168), (168, 168)}
GRID13 = {(0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)}
GRID5 = {(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)}


@pytest.mark.parametrize("more_fix_crop,grid", [(True, GRID13), (False, GRID5)])
def test_multiscale_crop_boxes_fixed_offsets(more_fix_crop, grid):
    step = MultiScaleCrop(224, more_fix_crop=more_fix_crop)
    pairs, cells = set(), set()
    for seed in range(1500):
        x, y, cw, ch = step.sample_box(341, 256, np.random.default_rng(seed))
        assert (cw, ch) in ALLOWED_341x256
        assert 0 <= x and x + cw <= 341 and 0 <= y and y + ch <= 256
        ws, hs = (341 - cw) // 4, (256 - ch) // 4
        # x, y sit on the 4x4 step grid at one of the allowed cells (with no margin, any cell gives 0)
        gxs = [x // ws] if ws else range(5)
        gys = [y // hs] if hs else range(5)
        assert any((gx * ws, gy * hs) == (x, y) and (gx, gy) in grid for gx in gxs for gy in gys)
        cell = (x // ws if ws else 0, y // hs if hs else 0)
        pairs.add((cw, ch))
        if ws and hs:
            cells.add(cell)
    assert pairs == ALLOWED_341x256
    assert cells == grid


def test_multiscale_crop_random_offsets_snapping_and_output():
    step = MultiScaleCrop(224, fix_crop=False)
    xs = set()
    for seed in range(400):
        x, y, cw, ch = step.sample_box(341, 256, np.random.default_rng(seed))
        assert (cw, ch) in ALLOWED_341x256
        assert 0 <= x <= 341 - cw and 0 <= y <= 256 - ch
        xs.add(x)
    assert len(xs) > 50  # free offsets, not a grid
    # 400x300: 300*.75 = 225 lies within 3 px of the 224 target and snaps to it
    sides = {s for pair in geo.multiscale_sizes(400, 300, 224, 224, [1, .875, .75, .66], 1) for s in pair}
    assert sides == {300, 262, 224, 198}
    # the transform's output is the box's slice resized to the target, for every frame
    step = MultiScaleCrop(224)
    imgs = clip(3)
    x, y, cw, ch = step.sample_box(341, 256, np.random.default_rng(9))
    out = run(step, imgs, seed=9)["imgs"]
    for a, b in zip(out, imgs):
        want = cv2.resize(b[y:y + ch, x:x + cw], (224, 224), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(a, want)


def test_multiscale_crop_deduplicates_offsets_on_tight_frames():
    # a 256x256 frame at scale 1 leaves no margin: every grid offset is (0, 0)
    assert geo.fixed_offsets(256, 256, 256, 256) == [(0, 0)] * 13
    step = MultiScaleCrop(256, scales=[1], allow_duplication=False)
    assert step.sample_box(256, 256, np.random.default_rng(0)) == (0, 0, 256, 256)


def test_three_crop_vs_slicing():
    imgs = clip(2, 256, 341)
    out = run(ThreeCrop(224), imgs)["imgs"]
    assert out.shape == (3, 2, 224, 224, 3) and out.dtype == np.uint8
    for v, x in enumerate([0, 58, 117]):
        for t in range(2):
            np.testing.assert_array_equal(out[v, t], imgs[t][16:240, x:x + 224])
    tall = clip(1, 300, 240)
    out = run(ThreeCrop(224), tall)["imgs"]
    for v, y in enumerate([0, 38, 76]):
        np.testing.assert_array_equal(out[v, 0], tall[0][y:y + 224, 8:232])


def test_ten_crop_vs_slicing():
    imgs = clip(2, 256, 341)
    out = run(TenCrop(224), imgs)["imgs"]
    assert out.shape == (10, 2, 224, 224, 3)
    boxes = [(0, 0), (117, 0), (0, 32), (117, 32), (58, 16)]
    for v, (x, y) in enumerate(boxes):
        for t in range(2):
            crop = imgs[t][y:y + 224, x:x + 224]
            np.testing.assert_array_equal(out[v, t], crop)
            np.testing.assert_array_equal(out[v + 5, t], crop[:, ::-1])


def test_crop_larger_than_frame_is_a_clear_data_error():
    pipe = build_pipeline({"transform": [{"RandomCrop": {"target_size": 300}}]})
    with pytest.raises(DataError, match=r"^clip7: RandomCrop failed: ValueError: RandomCrop target 300x300 "
                                        r"is larger than the frame 64x48$"):
        pipe({"filename": "clip7", "imgs": clip(1, 48, 64)})


# ---- flips ------------------------------------------------------------------------------

def test_flip_always_never_and_one_decision_per_clip():
    imgs = clip(4, 20, 30)
    out = run(RandomFlip(p=1.0), imgs)["imgs"]
    assert all(np.array_equal(a, b[:, ::-1]) for a, b in zip(out, imgs))
    out = run(RandomFlip(p=0.0), imgs)["imgs"]
    assert all(np.array_equal(a, b) for a, b in zip(out, imgs))
    n_flipped = 0
    for seed in range(400):
        res = run(RandomFlip(), imgs, seed=seed)
        per_frame = [np.array_equal(a, b[:, ::-1]) for a, b in zip(res["imgs"], imgs)]
        assert len(set(per_frame)) == 1 and per_frame[0] == res["flipped"]
        n_flipped += res["flipped"]
    assert 160 < n_flipped < 240  # p = 0.5: mean 200, sd 10


def test_flip_label_map():
    imgs = clip(1, 8, 8)
    table = {0: 1, 1: 0}
    assert run(RandomFlip(p=1.0, flip_label_map=table), imgs, labels=0)["labels"] == 1
    assert run(RandomFlip(p=1.0, flip_label_map=table), imgs, labels=5)["labels"] == 5
    assert run(RandomFlip(p=0.0, flip_label_map=table), imgs, labels=0)["labels"] == 0
    lab = run(RandomFlip(p=1.0, flip_label_map=[2, 1, 0]), imgs, labels=np.array([0], np.int64))["labels"]
    assert lab.tolist() == [2] and lab.dtype == np.int64
    with pytest.raises(ValueError, match="has no entry for label 3"):
        run(RandomFlip(p=1.0, flip_label_map=[2, 1, 0]), imgs, labels=3)


# ---- arrays and normalisation -----------------------------------------------------------

def test_image2array_layouts():
    imgs = clip(3, 5, 7)
    ref = np.stack(imgs)
    out = run(Image2Array(), imgs)["imgs"]
    assert out.shape == (3, 3, 5, 7) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, ref.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(run(Image2Array(transpose=False), imgs)["imgs"], ref)
    np.testing.assert_array_equal(run(Image2Array(data_format="cthw"), imgs)["imgs"], ref.transpose(3, 0, 1, 2))
    views = np.stack([ref, ref[:, ::-1]])
    out = run(Image2Array(), views)["imgs"]
    np.testing.assert_array_equal(out, views.transpose(0, 1, 4, 2, 3))


def test_normalization_vs_numpy():
    x = np.stack(clip(2, 4, 6)).transpose(0, 3, 1, 2)        # [T, C, H, W] uint8
    want = (x / 255.0 - np.array(MEAN)[:, None, None]) / np.array(STD)[:, None, None]
    out = run(Normalization(MEAN, STD), x)["imgs"]
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, want, rtol=0, atol=2e-6)
    out = run(Normalization(MEAN, STD), x.astype(np.float32))["imgs"]
    np.testing.assert_allclose(out, want, rtol=0, atol=2e-6)
    hwc = x.transpose(0, 2, 3, 1)
    out = run(Normalization(MEAN, STD, tensor_shape=[1, 1, 3]), hwc)["imgs"]
    np.testing.assert_allclose(out, want.transpose(0, 2, 3, 1), rtol=0, atol=2e-6)
    with pytest.raises(ValueError, match=r"tensor_shape \[3, 1, 1\] does not match imgs of shape \[2, 4, 6, 3\]"):
        run(Normalization(MEAN, STD), hwc)


# ---- building from configs ----------------------------------------------------------------

def test_pipeline_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"^PIPELINE.train.transform\[1\]: unknown pipeline 'Scal'"):
        build_pipeline({"transform": [{"Image2Array": None}, {"Scal": {"short_size": 3}}]}, "PIPELINE.train")
    with pytest.raises(ConfigError, match=r"^PIPELINE.transform\[0\]: pipeline 'CenterCrop' got an unknown "
                                          r"argument 'size'"):
        build_pipeline({"transform": [{"CenterCrop": {"size": 3}}]})
    with pytest.raises(ConfigError, match=r"^PIPELINE.sample: Sampler num_seg must be a positive int, got 0"):
        build_pipeline({"sample": {"name": "Sampler", "num_seg": 0}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['transforms'\]"):
        build_pipeline({"transforms": []})


def test_full_train_transform_chain_vs_hand_computation():
    imgs = clip(2, 240, 320)
    cfg = {"transform": [{"Scale": {"short_size": 256}}, {"MultiScaleCrop": {"target_size": 256}},
                         {"RandomCrop": {"target_size": 224}}, {"RandomFlip": None}, {"Image2Array": None},
                         {"Normalization": {"mean": MEAN, "std": STD}}]}
    res = build_pipeline(cfg)({"imgs": imgs, "rng": np.random.default_rng(11)})
    # replay the same random draws in order: crop box, crop box, flip
    rng = np.random.default_rng(11)
    x, y, cw, ch = MultiScaleCrop(256).sample_box(341, 256, rng)
    x2, y2, _, _ = RandomCrop(224).sample_box(256, 256, rng)
    flip = rng.random() < 0.5
    frames = []
    for f in imgs:
        f = cv2.resize(f, (341, 256), interpolation=cv2.INTER_LINEAR)
        f = cv2.resize(f[y:y + ch, x:x + cw], (256, 256), interpolation=cv2.INTER_LINEAR)[y2:y2 + 224, x2:x2 + 224]
        frames.append(f[:, ::-1] if flip else f)
    want = (np.stack(frames).transpose(0, 3, 1, 2) / 255.0 - np.array(MEAN)[:, None, None]) \
        / np.array(STD)[:, None, None]
    assert res["imgs"].shape == (2, 3, 224, 224) and res["imgs"].dtype == np.float32
    np.testing.assert_allclose(res["imgs"], want, rtol=0, atol=2e-6)


PADDLEVIDEO_STYLE_YAML = """
train:
  decode:
    name: "FrameDecoder"
  sample:
    name: "Sampler"
    num_seg: 8
    seg_len: 1
    valid_mode: False
    use_pil: False
  transform:
    - Scale:
        short_size: 256
        fixed_ratio: False
        keep_ratio: True
        backend: "pillow"
    - MultiScaleCrop:
        target_size: 256
        allow_duplication: True
    - RandomCrop:
        target_size: 224
    - RandomFlip:
    - Image2Array:
        transpose: False
    - Normalization:
        mean: [0.485, 0.456, 0.406]
        std: [0.229, 0.224, 0.225]
        tensor_shape: [1, 1, 3]
"""


def test_paddlevideo_style_yaml_builds_with_its_arguments():
    import yaml
    pipe = build_pipeline(yaml.safe_load(PADDLEVIDEO_STYLE_YAML)["train"], "PIPELINE.train")
    names = [type(s).__name__ for s in pipe.steps]
    assert names == ["FrameDecoder", "Sampler", "Scale", "MultiScaleCrop", "RandomCrop", "RandomFlip",
                     "Image2Array", "Normalization"]
    sampler, scale, msc, _, flip, to_arr, _ = pipe.steps[1:]
    assert (sampler.num_seg, sampler.seg_len, sampler.valid_mode) == (8, 1, False)
    assert (scale.short_size, scale.fixed_ratio, scale.keep_ratio) == (256, False, True)
    assert msc.scales == [1, 0.875, 0.75, 0.66] and msc.max_distort == 1 and msc.allow_duplication
    assert flip.p == 0.5 and to_arr.transpose is False


def test_nhwc_output_is_the_nchw_output_transposed():
    imgs = clip(3, 240, 320)
    common = [{"Scale": {"short_size": 256}}, {"CenterCrop": {"target_size": 224}}]
    nchw = build_pipeline({"transform": common + [{"Image2Array": None},
                                                  {"Normalization": {"mean": MEAN, "std": STD}}]})
    nhwc = build_pipeline({"transform": common + [
        {"Image2Array": {"transpose": False}},
        {"Normalization": {"mean": MEAN, "std": STD, "tensor_shape": [1, 1, 3]}}]})
    a = nchw({"imgs": imgs})["imgs"]
    b = nhwc({"imgs": imgs})["imgs"]
    assert b.shape == (3, 224, 224, 3)
    np.testing.assert_array_equal(a.transpose(0, 2, 3, 1), b)


def test_all_random_decisions_come_from_results_rng(monkeypatch):
    from paddlevideo_tsm.loader.pipelines import sample
    frames = clip(30, 60, 80)
    # the Sampler reads from disk; serve in-memory frames instead
    monkeypatch.setattr(sample, "read_frames", lambda results, idx: [frames[i] for i in idx])
    cfg = {"sample": {"name": "Sampler", "num_seg": 4},
           "transform": [{"Scale": {"short_size": 64}}, {"MultiScaleCrop": {"target_size": 64}},
                         {"RandomCrop": {"target_size": 56}}, {"RandomFlip": None}, {"Image2Array": None}]}
    pipe = build_pipeline(cfg)

    def run_seed(seed):
        return pipe({"format": "frame", "frames_len": 30, "rng": np.random.default_rng(seed)})

    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a, b = run_seed(5), run_seed(5)
    assert np.array_equal(np.random.get_state()[1], state)  # numpy's global RNG untouched
    np.testing.assert_array_equal(a["imgs"], b["imgs"])
    assert a["frame_idx"].tolist() == b["frame_idx"].tolist()
    assert len({run_seed(s)["imgs"].tobytes() for s in range(6)}) == 6
