"""Frame indices of the Sampler against hand-computed values and the segment definition."""
import math

import cv2
import numpy as np
import pytest

from paddlevideo_tsm.loader.pipelines.sample import Sampler
from paddlevideo_tsm.loader import build_pipeline


def idx(sampler, n, seed=None, clip_idx=-1, num_clips=1):
    rng = None if seed is None else np.random.default_rng(seed)
    return sampler.indices(n, rng, clip_idx, num_clips).tolist()


def test_valid_middle_of_segments_131_frames():
    # segment length 131/8 = 16.375; middles (i+0.5)*16.375 = 8.19, 24.56, 40.94, ..., 122.81
    assert idx(Sampler(8, valid_mode=True), 131) == [8, 24, 40, 57, 73, 90, 106, 122]


def test_valid_even_segments_and_select_left():
    # 16 frames in 8 segments of 2: middle x = 1, 3, .., 15 falls between two frames
    assert idx(Sampler(8, valid_mode=True), 16) == [1, 3, 5, 7, 9, 11, 13, 15]
    assert idx(Sampler(8, valid_mode=True, select_left=True), 16) == [0, 2, 4, 6, 8, 10, 12, 14]
    # where the middle is not a whole number select_left changes nothing
    assert idx(Sampler(8, valid_mode=True, select_left=True), 131) == [8, 24, 40, 57, 73, 90, 106, 122]


def test_short_video_repeats_frames_evenly():
    # 3 frames, 8 segments: floor((i+0.5)*3/8) and, in train, the only start of each segment
    assert idx(Sampler(8, valid_mode=True), 3) == [0, 0, 0, 1, 1, 2, 2, 2]
    for seed in range(20):
        assert idx(Sampler(8), 3, seed) == [0, 0, 0, 1, 1, 1, 2, 2]
    assert idx(Sampler(8), 1, seed=0) == [0] * 8
    assert idx(Sampler(8, valid_mode=True), 8) == list(range(8))


def test_train_indices_stay_in_their_segment_and_cover_it():
    # 131 frames: segment boundaries floor(i*131/8) = 0, 16, 32, 49, 65, 81, 98, 114, 131
    bounds = [0, 16, 32, 49, 65, 81, 98, 114, 131]
    seen = [set() for _ in range(8)]
    s = Sampler(8)
    for seed in range(600):
        out = idx(s, 131, seed)
        for i, v in enumerate(out):
            assert bounds[i] <= v < bounds[i + 1]
            seen[i].add(v)
    for i in range(8):
        assert seen[i] == set(range(bounds[i], bounds[i + 1]))
    assert idx(s, 131, 7) == idx(s, 131, 7)
    assert len({tuple(idx(s, 131, seed)) for seed in range(10)}) == 10


def test_train_uses_global_rng_without_results_rng():
    np.random.seed(3)
    a = idx(Sampler(8), 131)
    np.random.seed(3)
    assert idx(Sampler(8), 131) == a


def test_snippets_with_seg_len_and_frame_interval():
    # span (2-1)*3+1 = 4 frames, 17 starts, 2 segments: middles 4.25 and 12.75
    assert idx(Sampler(2, seg_len=2, frame_interval=3, valid_mode=True), 20) == [4, 7, 12, 15]
    # a snippet longer than the video wraps around: start 0, frames 0,1,2,3 -> 0,1,2,0
    assert idx(Sampler(2, seg_len=4, valid_mode=True), 3) == [0, 1, 2, 0, 0, 1, 2, 0]


def test_multi_clip_tsn_offsets():
    s = Sampler(8, valid_mode=True)
    # K=2: positions (i + 0.25)*16.375 and (i + 0.75)*16.375
    assert idx(s, 131, clip_idx=0, num_clips=2) == [4, 20, 36, 53, 69, 85, 102, 118]
    assert idx(s, 131, clip_idx=1, num_clips=2) == [12, 28, 45, 61, 77, 94, 110, 126]
    # against the float form of the definition for many lengths and clip counts
    for n in (1, 5, 8, 9, 50, 131, 300):
        for K in (1, 3, 5):
            for k in range(K):
                want = [math.floor((i + (k + 0.5) / K) * n / 8) for i in range(8)]
                assert idx(s, n, clip_idx=k, num_clips=K) == want, (n, k, K)
    # clip_idx makes even a train-mode sampler deterministic
    assert idx(Sampler(8), 131, seed=1, clip_idx=1, num_clips=2) == [12, 28, 45, 61, 77, 94, 110, 126]
    with pytest.raises(ValueError, match="clip_idx 2 out of range for num_clips 2"):
        idx(s, 131, clip_idx=2, num_clips=2)


def test_dense_sampling():
    s = Sampler(8, dense_sample=True)
    starts = set()
    for seed in range(1500):
        out = np.array(idx(s, 131, seed))
        assert (np.diff(out) == 8).all()
        assert 0 <= out[0] <= 131 - 64
        starts.add(int(out[0]))
    assert starts == set(range(68))
    # shorter than the 64-frame window: start 0, wrap around
    assert idx(s, 40, seed=0) == [0, 8, 16, 24, 32, 0, 8, 16]
    v = Sampler(8, dense_sample=True, valid_mode=True)
    assert idx(v, 131) == [33 + 8 * j for j in range(8)]
    # TSM test: 10 clips starting at np.linspace(0, 67, 10) truncated
    test_starts = [idx(v, 131, clip_idx=k, num_clips=10)[0] for k in range(10)]
    assert test_starts == [0, 7, 14, 22, 29, 37, 44, 52, 59, 67]
    assert test_starts == np.linspace(0, 67, 10).astype(int).tolist()


def test_linspace_sampling():
    assert idx(Sampler(8, linspace_sample=True), 131, seed=0) == [0, 18, 37, 55, 74, 92, 111, 130]
    assert idx(Sampler(8, linspace_sample=True, valid_mode=True), 131) == \
        np.linspace(0, 130, 8).astype(int).tolist()
    assert idx(Sampler(8, linspace_sample=True), 4) == [0, 0, 0, 1, 1, 2, 2, 3]


def test_indices_always_in_range():
    configs = [dict(), dict(valid_mode=True), dict(seg_len=3, frame_interval=2), dict(dense_sample=True),
               dict(linspace_sample=True, seg_len=2), dict(valid_mode=True, select_left=True, seg_len=5)]
    for kw in configs:
        s = Sampler(8, **kw)
        for n in (1, 2, 7, 8, 9, 63, 64, 65, 200):
            for seed in range(5):
                out = np.array(idx(s, n, seed))
                assert out.dtype == np.int64 or out.dtype.kind == "i"
                assert out.shape == (8 * s.seg_len,)
                assert ((out >= 0) & (out < n)).all(), (kw, n)


def test_bad_sampler_arguments():
    with pytest.raises(ValueError, match="num_seg must be a positive int"):
        Sampler(0)
    with pytest.raises(ValueError, match="cannot both be true"):
        Sampler(8, dense_sample=True, linspace_sample=True)


def test_sampler_reads_the_chosen_frames(tmp_path):
    # frame k is a flat image of value 20*k (lossless png), so pixels reveal which frame was read
    for k in range(1, 7):
        cv2.imwrite(str(tmp_path / f"f{k:03}.png"), np.full((6, 8, 3), 20 * (k - 1), np.uint8))
    pipe = build_pipeline({"decode": {"name": "FrameDecoder"},
                           "sample": {"name": "Sampler", "num_seg": 4, "seg_len": 2}})
    res = pipe({"filename": str(tmp_path), "suffix": "f{:03}.png", "rng": np.random.default_rng(5)})
    assert res["frames_len"] == 6 and res["format"] == "frame"
    assert len(res["imgs"]) == 8
    for k, img in zip(res["frame_idx"], res["imgs"]):
        assert img.shape == (6, 8, 3) and img.dtype == np.uint8
        assert (img == 20 * k).all()
