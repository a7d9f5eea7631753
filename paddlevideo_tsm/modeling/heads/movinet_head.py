"""PaddleVideo's parameter-free head (``MoViNetHead``) for backbones that classify themselves."""
from ..registry import HEADS
from .base import BaseHead


@HEADS.register
class MoViNetHead(BaseHead):
    """scores [N, K] from the backbone (e.g. PPTSM_MobileNetV2) -> the same scores; the head only
    owns the loss (``loss_cfg``, label smoothing ``ls_eps``)."""

    def forward(self, x, num_seg=None):
        return x
