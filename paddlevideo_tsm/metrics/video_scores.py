"""Per-video scores collected over a test run, and the accuracies computed from them."""
import numpy as np

from .scores import topk_correct


def mean_class_accuracy(scores, labels):
    """Mean over the classes present in ``labels`` of their top-1 accuracy (float)."""
    correct = topk_correct(scores, labels, 1)
    return float(np.mean([correct[labels == c].mean() for c in np.unique(labels)]))


class VideoScoreMetric:
    """Collects one score row per video; ``accumulate()`` -> top1, top5, mean_class_acc, counts.

    ``update(scores, labels, indices)`` takes per-view scores [N, V, K] (or [N, K]), labels
    [N] and dataset indices [N]; ``reduce_views`` turns [N, V, K] into [N, K]. Rows with a
    negative label are videos that failed to load: they are counted in ``failed`` and kept
    out of every accuracy. A repeated index (a distributed sampler pads the last batch) is
    stored once.
    """

    def __init__(self, data_size=None, batch_size=None, log_interval=None):
        self.data_size = data_size
        self.reset()

    def reset(self):
        self.rows = {}  # index -> (label, scores [K])
        self.failed = set()

    def reduce_views(self, scores):
        raise NotImplementedError

    def update(self, scores, labels, indices):
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim == 2:
            scores = scores[:, None, :]
        video_scores = self.reduce_views(scores)
        labels = np.asarray(labels).reshape(-1)
        indices = np.asarray(indices).reshape(-1)
        for idx, label, row in zip(indices.tolist(), labels.tolist(), video_scores):
            if label < 0:
                self.failed.add(idx)
            else:
                self.rows[idx] = (int(label), row)

    def add_videos(self, indices, labels, video_scores):
        """Add already reduced rows (e.g. gathered from other ranks): indices [N], labels [N], scores [N, K]."""
        for idx, label, row in zip(np.asarray(indices).tolist(), np.asarray(labels).tolist(), video_scores):
            if label < 0:
                self.failed.add(idx)
            else:
                self.rows[idx] = (int(label), np.asarray(row, dtype=np.float64))

    def arrays(self):
        """(indices [M], labels [M], scores [M, K]) of the loaded videos, by index; failed rows get label -1."""
        keys = sorted(self.rows)
        failed = sorted(self.failed - set(keys))
        k = next(iter(self.rows.values()))[1].shape[0] if self.rows else 0
        idx = np.array(keys + failed, dtype=np.int64)
        labels = np.array([self.rows[i][0] for i in keys] + [-1] * len(failed), dtype=np.int64)
        scores = np.zeros((len(idx), k), dtype=np.float64)
        for j, i in enumerate(keys):
            scores[j] = self.rows[i][1]
        return idx, labels, scores

    def accumulate(self):
        """{'top1', 'top5', 'mean_class_acc' (fractions over loaded videos), 'count', 'failed'}."""
        idx, labels, scores = self.arrays()
        ok = labels >= 0
        labels, scores = labels[ok], scores[ok]
        out = {"count": int(ok.sum()), "failed": len(self.failed - set(self.rows))}
        if not out["count"]:
            return dict(out, top1=float("nan"), top5=float("nan"), mean_class_acc=float("nan"))
        out["top1"] = float(topk_correct(scores, labels, 1).mean())
        out["top5"] = float(topk_correct(scores, labels, 5).mean())
        out["mean_class_acc"] = mean_class_accuracy(scores, labels)
        return out
