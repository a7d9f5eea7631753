"""Smoothing of per-frame scores over a stream: exponential or a moving window."""
from collections import deque

import numpy as np

from ..metrics.scores import softmax, topk_indices


class ScoreSmoother:
    """Feed per-frame scores [K]; get the smoothed scores [K].

    smooth a in [0, 1): s_t = a * s_{t-1} + (1 - a) * x_t (s_0 = x_0); window k > 1: mean of the
    last k frames' scores, which for k = num_seg is the clip consensus the TSM head computes.
    At most one of the two; smooth 0 and window 1 pass scores through.
    """

    def __init__(self, smooth=0.0, window=1):
        if not 0.0 <= smooth < 1.0:
            raise ValueError(f"smooth must be in [0, 1), got {smooth}")
        if int(window) != window or window < 1:
            raise ValueError(f"window must be a positive int, got {window}")
        if smooth and window > 1:
            raise ValueError("use either exponential smoothing or a moving window, not both")
        self.smooth, self.window = float(smooth), int(window)
        self.reset()

    def reset(self):
        self._state = None
        self._recent = deque(maxlen=self.window)

    def __call__(self, scores):
        scores = np.asarray(scores, dtype=np.float64)
        if self.window > 1:
            self._recent.append(scores)
            return np.mean(self._recent, axis=0)
        if self._state is None:
            self._state = scores
        else:
            self._state = self.smooth * self._state + (1.0 - self.smooth) * scores
        return self._state


def top_k(scores, k):
    """[K] scores -> list of (class index, softmax probability), best first."""
    probs = softmax(scores)
    order = topk_indices(probs, k)
    return [(int(i), float(probs[i])) for i in order]
