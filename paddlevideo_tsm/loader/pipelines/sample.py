"""Choose which frames of a clip to read (TSN segments, TSM dense, linspace) and read them.

Notation: N = frames_len, S = num_seg, L = seg_len, I = frame_interval. A snippet is L frames
I apart starting at a "start" frame; it spans P = (L-1)*I + 1 frames, so the possible starts
are 0..M-1 with M = max(N - P + 1, 1).

TSN segments: the M starts are cut into S contiguous ranges [floor(i*M/S), floor((i+1)*M/S)).
  train : start_i uniform in range i (range i empty, when M < S: start_i = floor(i*M/S), so
          short videos repeat frames evenly instead of running past the end).
  valid/test, clip k of K (single clip: k=0, K=1): start_i = floor((i + (k+0.5)/K) * M/S),
          i.e. K evenly spread positions inside each segment; K=1 is the segment middle.
          select_left: when that position is a whole number (even-length segment) take the
          frame just left of it, ceil(x) - 1, instead of floor(x).
TSM dense (dense_sample): S frames at stride t = 64 // S (a window W = t*S, 64 for S = 8).
  Window starts are 0..Q-1 with Q = max(N - W + 1, 1).
  train : start uniform in [0, Q);  valid single clip: floor((Q-1)/2);
  test clip k of K>1: floor(k*(Q-1)/(K-1)) (K evenly spaced starts, first 0, last Q-1).
linspace (linspace_sample): start_i = floor(i*(M-1)/(S-1)) (S=1: 0), the same in every mode.
Every index is then taken modulo N, so all indices are ints in [0, N).
"""
import numpy as np

from ..registry import PIPELINES
from .decode import read_frames
from .random_source import randint

DENSE_WINDOW = 64


def tsn_starts(n_starts, num_seg, rng=None, random=True, clip_idx=0, num_clips=1, select_left=False):
    """Start frame of each of ``num_seg`` segments over ``n_starts`` starts; int64 [num_seg]."""
    starts = np.empty(num_seg, dtype=np.int64)
    for i in range(num_seg):
        lo = i * n_starts // num_seg
        hi = (i + 1) * n_starts // num_seg
        if random:
            starts[i] = randint(rng, lo, hi) if hi > lo else lo
        else:
            # x = (i + (k+0.5)/K) * M/S = num/den, done in integers to avoid float rounding
            num = (2 * num_clips * i + 2 * clip_idx + 1) * n_starts
            den = 2 * num_clips * num_seg
            starts[i] = max(-(-num // den) - 1, 0) if select_left else num // den
    return starts


def dense_starts(frames_len, num_seg, rng=None, random=True, clip_idx=0, num_clips=1):
    """TSM dense sampling: one clip of ``num_seg`` frames at stride 64//num_seg; int64 [num_seg]."""
    stride = max(DENSE_WINDOW // num_seg, 1)
    n_starts = max(frames_len - stride * num_seg + 1, 1)
    if random:
        start = randint(rng, 0, n_starts)
    elif num_clips <= 1:
        start = (n_starts - 1) // 2
    else:
        start = clip_idx * (n_starts - 1) // (num_clips - 1)
    return start + stride * np.arange(num_seg, dtype=np.int64)


def linspace_starts(n_starts, num_seg):
    """``num_seg`` evenly spaced starts from 0 to n_starts-1 (ends included); int64 [num_seg]."""
    if num_seg == 1:
        return np.zeros(1, dtype=np.int64)
    return np.arange(num_seg, dtype=np.int64) * (n_starts - 1) // (num_seg - 1)


@PIPELINES.register
class Sampler:
    """Pick the frame indices of a clip, read only those, set ``frame_idx`` and ``imgs``.

    ``imgs`` becomes a list of S*L RGB uint8 HxWx3 arrays; ``frame_idx`` the 0-based indices.
    use_pil is accepted for PaddleVideo configs; images are always cv2/numpy here.
    """

    def __init__(self, num_seg, seg_len=1, frame_interval=None, valid_mode=False, select_left=False,
                 dense_sample=False, linspace_sample=False, use_pil=True):
        for key, value in (("num_seg", num_seg), ("seg_len", seg_len)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Sampler {key} must be a positive int, got {value!r}")
        if frame_interval is not None and (not isinstance(frame_interval, int) or frame_interval < 1):
            raise ValueError(f"Sampler frame_interval must be a positive int or null, got {frame_interval!r}")
        if dense_sample and linspace_sample:
            raise ValueError("Sampler: dense_sample and linspace_sample cannot both be true")
        self.num_seg = num_seg
        self.seg_len = seg_len
        self.frame_interval = frame_interval or 1
        self.valid_mode = bool(valid_mode)
        self.select_left = bool(select_left)
        self.dense_sample = bool(dense_sample)
        self.linspace_sample = bool(linspace_sample)

    def indices(self, frames_len, rng=None, clip_idx=-1, num_clips=1):
        """0-based frame indices, int64 [num_seg * seg_len], for a clip of ``frames_len`` frames.

        Random (train) when not valid_mode and clip_idx < 0; clip_idx k >= 0 picks test clip k of
        num_clips deterministically.
        """
        if frames_len < 1:
            raise ValueError(f"frames_len must be >= 1, got {frames_len}")
        random = not self.valid_mode and clip_idx < 0
        k, K = (clip_idx, max(num_clips, 1)) if clip_idx >= 0 else (0, 1)
        if not 0 <= k < K:
            raise ValueError(f"clip_idx {clip_idx} out of range for num_clips {num_clips}")
        span = (self.seg_len - 1) * self.frame_interval + 1
        n_starts = max(frames_len - span + 1, 1)
        if self.dense_sample:
            starts = dense_starts(frames_len, self.num_seg, rng, random, k, K)
        elif self.linspace_sample:
            starts = linspace_starts(n_starts, self.num_seg)
        else:
            starts = tsn_starts(n_starts, self.num_seg, rng, random, k, K, self.select_left)
        offsets = self.frame_interval * np.arange(self.seg_len, dtype=np.int64)
        return ((starts[:, None] + offsets[None, :]) % frames_len).reshape(-1)

    def __call__(self, results):
        idx = self.indices(int(results["frames_len"]), results.get("rng"),
                           int(results.get("clip_idx", -1)), int(results.get("num_clips", 1)))
        results["frame_idx"] = idx
        results["imgs"] = read_frames(results, idx)
        return results
