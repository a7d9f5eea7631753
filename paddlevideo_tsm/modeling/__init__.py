"""Models: ``build_model(cfg.MODEL)`` builds a recognizer from its backbone and head configs."""
from . import backbones, heads, losses, recognizers  # noqa: F401  (fill the registries)
from .registry import BACKBONES, HEADS, LOSSES, RECOGNIZERS
from .weights import load_checkpoint, load_pretrained, load_state_strict  # noqa: F401


def build_model(model_cfg):
    """MODEL section ({framework, backbone, head}) -> a recognizer Layer, pretrained weights loaded."""
    backbone = BACKBONES.build(model_cfg["backbone"])
    head_cfg = dict(model_cfg["head"])
    if "data_format" in model_cfg["backbone"]:
        head_cfg.setdefault("data_format", model_cfg["backbone"]["data_format"])
    head = HEADS.build(head_cfg)
    model = RECOGNIZERS.get(model_cfg["framework"])(backbone=backbone, head=head)
    if getattr(backbone, "pretrained", None):
        load_pretrained(model, backbone.pretrained)
    return model
