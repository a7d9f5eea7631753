"""TSM head: pool each frame, dropout, fc per frame, average the T frame scores."""
import paddle
import paddle.nn as nn
from paddle import ParamAttr
from paddle.nn.initializer import Constant, Normal
from paddle.regularizer import L2Decay

from ..registry import HEADS
from .base import BaseHead


@HEADS.register
class TSMHead(BaseHead):
    """features [N*T, C, h, w] (or NHWC) -> scores [N, num_classes].

    fc weight lr x5, bias lr x10 without weight decay (the TSM recipe); fc init Normal(0, std);
    ``fc_weight_decay``: the fc weight's own L2 coefficient (None: the optimizer's).
    """

    def __init__(self, num_classes, in_channels, drop_ratio=0.5, std=0.001, data_format="NCHW",
                 ls_eps=0.0, loss_cfg=None, fc_lr_mult=(5.0, 10.0), fc_weight_decay=None):
        super().__init__(loss_cfg, ls_eps)
        self.num_classes, self.in_channels = num_classes, in_channels
        self.pool = nn.AdaptiveAvgPool2D(1, data_format=data_format)
        self.dropout = nn.Dropout(drop_ratio) if drop_ratio > 0 else None
        self.fc = nn.Linear(
            in_channels, num_classes,
            weight_attr=ParamAttr(initializer=Normal(0.0, std), learning_rate=fc_lr_mult[0],
                                  regularizer=None if fc_weight_decay is None else L2Decay(fc_weight_decay)),
            bias_attr=ParamAttr(initializer=Constant(0.0), learning_rate=fc_lr_mult[1],
                                regularizer=L2Decay(0.0)))

    def forward(self, x, num_seg):
        x = paddle.flatten(self.pool(x), 1)  # [N*T, C]
        if self.dropout is not None:
            x = self.dropout(x)
        scores = self.fc(x)  # [N*T, K]
        return paddle.mean(paddle.reshape(scores, [-1, num_seg, self.num_classes]), axis=1)
