"""Pipelines on the real clips in ../shared/data, checked against decord/cv2 + numpy by hand."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddlevideo_tsm.errors import DataError
from paddlevideo_tsm.loader import build_pipeline

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VIDEO = DATA / "videos" / "example.avi"            # 131 frames, 320x240
VIDEO2 = DATA / "videos" / "mmaction_test.avi"     # 164 frames, 320x240
FRAMES = DATA / "rawframes" / "img_sample"         # img_00001.jpg .. img_00010.jpg, 320x240
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared test media not found at {DATA}")

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
NORM = {"Normalization": {"mean": MEAN.tolist(), "std": STD.tolist()}}
VALID_TRANSFORMS = [{"Scale": {"short_size": 256}}, {"CenterCrop": {"target_size": 224}}, {"Image2Array": None}, NORM]
TRAIN_TRANSFORMS = [{"Scale": {"short_size": 256}}, {"MultiScaleCrop": {"target_size": 256}},
                    {"RandomCrop": {"target_size": 224}}, {"RandomFlip": None}, {"Image2Array": None}, NORM]


def pipeline(decoder, valid=True, backend=None, num_seg=8):
    decode = {"name": decoder}
    if backend:
        decode["backend"] = backend
    return build_pipeline({"decode": decode,
                           "sample": {"name": "Sampler", "num_seg": num_seg, "seg_len": 1, "valid_mode": valid},
                           "transform": VALID_TRANSFORMS if valid else TRAIN_TRANSFORMS})


def by_hand(rgb):
    """320x240 RGB uint8 frame -> Scale 256 (341x256), centre 224 crop, CHW, imagenet-normalised."""
    small = cv2.resize(rgb, (341, 256), interpolation=cv2.INTER_LINEAR)
    crop = small[16:240, 58:282].astype(np.float64) / 255.0
    return ((crop - MEAN) / STD).transpose(2, 0, 1)


def all_video_frames(path):
    """Every frame of ``path`` decoded front to back by OpenCV, RGB."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames


def test_video_valid_pipeline_matches_hand_computation():
    import decord
    res = pipeline("VideoDecoder")({"filename": str(VIDEO)})
    out = res["imgs"]
    assert out.shape == (8, 3, 224, 224) and out.dtype == np.float32
    assert res["frames_len"] == 131
    assert res["frame_idx"].tolist() == [8, 24, 40, 57, 73, 90, 106, 122]
    reader = decord.VideoReader(str(VIDEO))
    for t in (0, 7):
        frame = reader[int(res["frame_idx"][t])].asnumpy()
        np.testing.assert_allclose(out[t], by_hand(frame), rtol=0, atol=1e-5)


def test_frames_valid_pipeline_matches_hand_computation():
    res = pipeline("FrameDecoder")({"filename": str(FRAMES)})
    out = res["imgs"]
    assert out.shape == (8, 3, 224, 224) and out.dtype == np.float32
    assert res["frames_len"] == 10
    # 10 frames, 8 segments: floor((i + 0.5) * 10/8)
    assert res["frame_idx"].tolist() == [0, 1, 3, 4, 5, 6, 8, 9]
    for t in (0, 5):
        k = int(res["frame_idx"][t]) + 1
        rgb = cv2.cvtColor(cv2.imread(str(FRAMES / f"img_{k:05}.jpg")), cv2.COLOR_BGR2RGB)
        np.testing.assert_allclose(out[t], by_hand(rgb), rtol=0, atol=1e-5)


def test_decord_seek_and_cv2_backend_give_the_sequentially_decoded_frames():
    seq = all_video_frames(VIDEO2)
    assert len(seq) == 164
    s = {"name": "Sampler", "num_seg": 8, "valid_mode": True}
    for backend in ("decord", "cv2"):
        res = build_pipeline({"decode": {"name": "VideoDecoder", "backend": backend}, "sample": s})(
            {"filename": str(VIDEO2)})
        assert res["frames_len"] == 164
        for k, img in zip(res["frame_idx"], res["imgs"]):
            np.testing.assert_array_equal(img, seq[k])


def test_frames_and_video_paths_of_one_clip_agree(tmp_path):
    seq = all_video_frames(VIDEO)
    folder = tmp_path / "example"
    folder.mkdir()
    for k, rgb in enumerate(seq, 1):
        cv2.imwrite(str(folder / f"img_{k:05}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    for valid in (True, False):
        a = pipeline("VideoDecoder", valid)({"filename": str(VIDEO), "rng": np.random.default_rng(3)})
        b = pipeline("FrameDecoder", valid)({"filename": str(folder), "rng": np.random.default_rng(3)})
        assert b["frames_len"] == 131
        assert a["frame_idx"].tolist() == b["frame_idx"].tolist()
        assert a.get("flipped") == b.get("flipped")
        # JPEG at quality 95 moves pixels by about 1/255; different frames differ far more
        diff = np.abs(a["imgs"] - b["imgs"]) * STD.mean() * 255
        assert diff.mean() < 2.0, diff.mean()
        assert (np.abs(a["imgs"][0] - a["imgs"][-1]) * STD.mean() * 255).mean() > 5 * diff.mean()


def test_multi_clip_ten_crop_on_video():
    pipe = build_pipeline({"decode": {"name": "VideoDecoder"},
                           "sample": {"name": "Sampler", "num_seg": 8, "valid_mode": True},
                           "transform": [{"Scale": {"short_size": 256}}, {"TenCrop": {"target_size": 224}},
                                         {"Image2Array": None}, NORM]})
    res = pipe({"filename": str(VIDEO), "clip_idx": 1, "num_clips": 2})
    assert res["imgs"].shape == (10, 8, 3, 224, 224) and res["imgs"].dtype == np.float32
    assert res["frame_idx"].tolist() == [12, 28, 45, 61, 77, 94, 110, 126]
    # view 4 is the centre crop: the single-crop valid computation of the same frame
    import decord
    frame = decord.VideoReader(str(VIDEO))[12].asnumpy()
    np.testing.assert_allclose(res["imgs"][4, 0], by_hand(frame), rtol=0, atol=1e-5)
    np.testing.assert_allclose(res["imgs"][9, 0], by_hand(frame)[:, :, ::-1], rtol=0, atol=1e-5)


# ---- bad data -----------------------------------------------------------------------------

def run_video(path, backend="decord"):
    return pipeline("VideoDecoder", backend=backend)({"filename": str(path)})


def test_video_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing\.avi: video file not found$"):
        run_video(tmp_path / "missing.avi")
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.avi: cannot open video \(zero bytes\)$"):
        run_video(tmp_path / "empty.avi")
    (tmp_path / "noise.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    with pytest.raises(DataError, match=r"noise\.avi: cannot open video \(decord: "):
        run_video(tmp_path / "noise.avi")
    with pytest.raises(DataError, match=r"noise\.avi: cannot open video \(OpenCV\)$"):
        run_video(tmp_path / "noise.avi", backend="cv2")
    # a valid AVI header with no frames in it
    writer = cv2.VideoWriter(str(tmp_path / "noframes.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    writer.release()
    with pytest.raises(DataError, match=r"noframes\.avi: cannot open video \(decord: Check failed"):
        run_video(tmp_path / "noframes.avi")
    with pytest.raises(DataError, match=r"noframes\.avi: video has no readable frames$"):
        run_video(tmp_path / "noframes.avi", backend="cv2")


def test_truncated_video_still_gives_frames_from_its_readable_part(tmp_path):
    cut = tmp_path / "cut.avi"
    cut.write_bytes(VIDEO.read_bytes()[:60000])
    res = run_video(cut)
    assert 0 < res["frames_len"] < 131
    assert res["imgs"].shape == (8, 3, 224, 224) and np.isfinite(res["imgs"]).all()


def test_frame_folder_errors(tmp_path):
    with pytest.raises(DataError, match=r"nothere: frame folder not found$"):
        pipeline("FrameDecoder")({"filename": str(tmp_path / "nothere")})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty: no frame files matching 'img_\{:05\}\.jpg'$"):
        pipeline("FrameDecoder")({"filename": str(empty)})
    gap = tmp_path / "gap"
    gap.mkdir()
    for k in (1, 2, 4):
        shutil.copy(FRAMES / f"img_{k:05}.jpg", gap / f"img_{k:05}.jpg")
    with pytest.raises(DataError, match=r"gap/img_00003\.jpg: frame file missing \(folder has 3 frames"):
        pipeline("FrameDecoder")({"filename": str(gap)})
    # a list file claiming more frames than exist fails on the first missing frame it needs
    with pytest.raises(DataError, match=r"gap/img_00006\.jpg: frame file missing$"):
        pipeline("FrameDecoder", num_seg=4)({"filename": str(gap), "frames_len": 8})
    bad = tmp_path / "bad"
    bad.mkdir()
    for k in (1, 2):
        (bad / f"img_{k:05}.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"bad/img_00001\.jpg: cannot read frame \(not an image\)$"):
        pipeline("FrameDecoder")({"filename": str(bad)})
