"""PaddleVideo's PP-TSM head (``ppTSMHead``): average the T frames' features, then one fc."""
import paddle

from ..registry import HEADS
from .tsm_head import TSMHead


@HEADS.register
class ppTSMHead(TSMHead):  # noqa: N801  (PaddleVideo's component name)
    """features [N*T, C, h, w] (or NHWC) -> scores [N, num_classes]: spatial average pool, dropout
    (per frame), mean over the T frames, fc.

    As PaddleVideo's: fc init Normal(0, std) with a zero bias, the fc weight's own L2 1e-4
    (``fc_weight_decay``) and none on its bias, lr x5 / x10 (``fc_lr_mult``); label smoothing
    ``ls_eps`` in training.
    """

    def __init__(self, num_classes, in_channels=2048, drop_ratio=0.8, std=0.01, data_format="NCHW",
                 ls_eps=0.0, loss_cfg=None, fc_lr_mult=(5.0, 10.0), fc_weight_decay=1e-4):
        super().__init__(num_classes, in_channels, drop_ratio, std, data_format, ls_eps, loss_cfg,
                         fc_lr_mult, fc_weight_decay)

    def forward(self, x, num_seg):
        x = paddle.flatten(self.pool(x), 1)  # [N*T, C]
        if self.dropout is not None:
            x = self.dropout(x)
        x = paddle.mean(paddle.reshape(x, [-1, num_seg, self.in_channels]), axis=1)  # [N, C]
        return self.fc(x)
