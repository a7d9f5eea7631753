"""What every head shares: the training loss and the top-k accuracies of its clip scores."""
import paddle
import paddle.nn as nn

from ..registry import LOSSES


def topk_accuracy(scores, labels, k):
    """scores [N, K], labels [N] -> fraction of rows whose label is in the top min(k, K)."""
    k = min(k, scores.shape[-1])
    labels = paddle.reshape(labels, [-1, 1]).astype("int64")
    return paddle.metric.accuracy(scores, labels, k=k)


class BaseHead(nn.Layer):
    """A head's loss: ``loss_cfg`` (default CrossEntropyLoss) with label smoothing ``ls_eps`` in training."""

    def __init__(self, loss_cfg=None, ls_eps=0.0):
        super().__init__()
        loss_cfg = dict(loss_cfg or {"name": "CrossEntropyLoss"})
        if ls_eps:
            loss_cfg.setdefault("ls_eps", ls_eps)
        self.loss_func = LOSSES.build(loss_cfg)

    def loss(self, scores, labels, valid_mode=False):
        """scores [N, K], labels [N] -> {'loss', 'top1', 'top5'} (top5 = top-min(5, K));
        ``valid_mode``: plain cross-entropy (no label smoothing)."""
        labels = paddle.reshape(labels, [-1]).astype("int64")
        if valid_mode:
            loss = paddle.nn.functional.cross_entropy(scores, labels)
        else:
            loss = self.loss_func(scores, labels)
        return {"loss": loss, "top1": topk_accuracy(scores, labels, 1),
                "top5": topk_accuracy(scores, labels, 5)}
