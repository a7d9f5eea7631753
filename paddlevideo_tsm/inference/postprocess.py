"""Scores -> class probabilities: average over views, softmax, top-k, class names."""
import numpy as np

from ..metrics.scores import softmax, topk_indices


def average_views(scores):
    """Per-view scores [N, V, K] (or [V, K] for one video) -> [N, K] (or [K]): mean over V."""
    scores = np.asarray(scores, dtype=np.float64)
    return scores.mean(axis=-2)


def video_probabilities(view_scores):
    """Logits of one video's views [V, K] -> class probabilities [K]: softmax of the view mean."""
    return softmax(average_views(view_scores))


def top_k(probs, k):
    """probs [K] -> (class ids [min(k, K)] by falling probability, their probabilities); ties by id."""
    probs = np.asarray(probs)
    order = topk_indices(probs, max(1, int(k)))
    return order.astype(int).tolist(), probs[order].astype(float).tolist()


def class_name(names, class_id):
    """Name of ``class_id`` in the list ``names`` (None when there is no map or it is too short)."""
    if names is None or class_id >= len(names):
        return None
    return names[class_id]
