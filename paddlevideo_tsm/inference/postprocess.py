"""Scores -> class probabilities: average over views, softmax, top-k, class names."""
import numpy as np

from ..errors import InferenceError
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


def read_class_names(path, num_classes, model_file):
    """Label map ``path`` -> its class names, one per class of the model (``num_classes``; None =
    unknown, not checked). InferenceError naming the file and both counts when they differ."""
    from ..loader.datasets.list_file import read_label_map

    names = read_label_map(path)
    if num_classes is not None and len(names) != num_classes:
        raise InferenceError(f"{path}: {len(names)} class names, but the model {model_file} has "
                             f"{num_classes} classes; use the label map the model was trained with")
    return names
