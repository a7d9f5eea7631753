"""Cross-entropy on logits, with optional label smoothing."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..registry import LOSSES


@LOSSES.register
class CrossEntropyLoss(nn.Layer):
    """logits [N, K], labels [N] or [N, 1] int -> mean loss (scalar); ``ls_eps`` smooths labels."""

    def __init__(self, ls_eps=0.0, loss_weight=1.0):
        super().__init__()
        self.ls_eps, self.loss_weight = ls_eps, loss_weight

    def forward(self, logits, labels):
        labels = paddle.reshape(labels, [-1]).astype("int64")
        if self.ls_eps > 0:
            target = F.one_hot(labels, logits.shape[-1])
            target = F.label_smooth(target, epsilon=self.ls_eps)
            loss = F.cross_entropy(logits, target, soft_label=True)
        else:
            loss = F.cross_entropy(logits, labels)
        return loss * self.loss_weight
