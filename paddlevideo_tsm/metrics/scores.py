"""Class scores (numpy): softmax and top-k, the one definition of each in the package."""
import numpy as np


def softmax(scores, axis=-1):
    """Numerically stable softmax of ``scores`` along ``axis`` -> float64 array of the same shape."""
    z = np.asarray(scores, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def topk_indices(scores, k):
    """scores [..., K] -> class ids [..., min(k, K)] by falling score; of equal scores the lower id first."""
    scores = np.asarray(scores)
    return np.argsort(-scores, axis=-1, kind="stable")[..., :min(int(k), scores.shape[-1])]


def topk_correct(scores, labels, k):
    """scores [N, K], labels [N] -> bool [N]: label among the k highest scores (k capped at K)."""
    return (topk_indices(scores, k) == np.asarray(labels).reshape(-1, 1)).any(axis=1)
