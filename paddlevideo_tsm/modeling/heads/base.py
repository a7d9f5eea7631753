"""What every head shares: the training loss and the top-k accuracies of its clip scores."""
import paddle
import paddle.nn as nn

from ...metrics.scores import topk_correct
from ..registry import LOSSES


class BaseHead(nn.Layer):
    """A head's loss: ``loss_cfg`` (default CrossEntropyLoss) with label smoothing ``ls_eps`` in training."""

    def __init__(self, loss_cfg=None, ls_eps=0.0):
        super().__init__()
        loss_cfg = dict(loss_cfg or {"name": "CrossEntropyLoss"})
        if ls_eps:
            loss_cfg.setdefault("ls_eps", ls_eps)
        self.loss_func = LOSSES.build(loss_cfg)

    def loss(self, scores, labels):
        """scores [N, K], labels [N] -> {'loss' (training loss, scalar tensor), 'top1', 'top5' (the
        batch's accuracy as numpy floats; top5 = top-min(5, K))}."""
        labels = paddle.reshape(labels, [-1]).astype("int64")
        s, y = scores.numpy(), labels.numpy()
        return {"loss": self.loss_func(scores, labels), "top1": topk_correct(s, y, 1).mean(),
                "top5": topk_correct(s, y, 5).mean()}
