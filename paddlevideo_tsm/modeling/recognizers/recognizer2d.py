"""Recognizer2D: a 2D backbone on the N*T frames of N clips, then a consensus head."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils.config_schema import signature_default
from ..registry import BACKBONES, HEADS, RECOGNIZERS


def num_classes_of(model_cfg):
    """The classes a MODEL section's recognizer scores (Recognizer2D.num_classes), read from the
    config: the head's num_classes (given, else its default), or for a head without a classifier
    the backbone's (the argument its ``classes_arg`` names). None when neither says."""
    head, backbone = model_cfg.get("head") or {}, model_cfg.get("backbone") or {}
    classes = head.get("num_classes", signature_default(HEADS, head.get("name"), "num_classes"))
    if classes is None and backbone.get("name") in BACKBONES:
        arg = BACKBONES.get(backbone["name"]).classes_arg
        if arg:
            classes = backbone.get(arg, signature_default(BACKBONES, backbone["name"], arg))
    return classes


@RECOGNIZERS.register
class Recognizer2D(nn.Layer):
    """Clips ``[N, T, C, H, W]`` (NCHW) or ``[N, T, H, W, C]`` (NHWC) -> scores ``[N, num_classes]``."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone, self.head = backbone, head

    @property
    def data_format(self):
        return self.backbone.data_format

    @property
    def num_classes(self):
        """Classes scored: the head's, or for a head without a classifier (MoViNetHead) the
        backbone's out_channels (its classifier is inside the backbone). From a config: num_classes_of."""
        return getattr(self.head, "num_classes", None) or self.backbone.out_channels

    def forward(self, imgs):
        num_seg = imgs.shape[1]
        frames = paddle.reshape(imgs, [-1] + list(imgs.shape[2:]))  # a new tensor: caller's untouched
        return self.head(self.backbone(frames), num_seg)

    def train_step(self, data_batch):
        """[imgs, labels, ...] -> {'loss' (the head's training loss), 'top1', 'top5'} of the batch."""
        imgs, labels = data_batch[0], data_batch[1]
        return self.head.loss(self(imgs), labels)

    def val_step(self, data_batch):
        """[imgs [N, V, T, ...] or [N, T, ...], labels [N, 1] (>= 0), ...] -> {'scores' [N, K] (mean
        over the V views), 'loss' [N] (plain cross-entropy per clip, no label smoothing)}."""
        scores = self.test_step(data_batch)
        scores = scores[:, 0] if scores.shape[1] == 1 else paddle.mean(scores, axis=1)
        labels = paddle.reshape(data_batch[1], [-1]).astype("int64")
        return {"scores": scores, "loss": paddle.reshape(F.cross_entropy(scores, labels, reduction="none"), [-1])}

    def test_step(self, data_batch):
        """imgs [N, V, T, ...] (V views: clips x crops) or [N, T, ...] -> per-view scores [N, V, K]."""
        imgs = data_batch[0]
        if imgs.ndim == 5:
            imgs = paddle.unsqueeze(imgs, 1)
        n, v = imgs.shape[0], imgs.shape[1]
        scores = self(paddle.reshape(imgs, [n * v] + list(imgs.shape[2:])))
        return paddle.reshape(scores, [n, v, -1])
