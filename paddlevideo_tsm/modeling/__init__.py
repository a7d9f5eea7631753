"""Models: ``build_model(cfg.MODEL)`` builds a recognizer from its backbone and head configs."""
import inspect

from . import backbones, heads, losses, recognizers  # noqa: F401  (fill the registries)
from ..errors import ConfigError
from .registry import BACKBONES, HEADS, LOSSES, RECOGNIZERS
from .sync_bn import backbone_args
from .weights import load_checkpoint, load_pretrained, load_state_strict  # noqa: F401


def head_config(head_cfg, backbone):
    """MODEL.head with what the backbone decides filled in where the head takes it: data_format,
    and in_channels = backbone.out_channels (ConfigError when the config gives another value)."""
    cfg = dict(head_cfg)
    if "name" not in cfg:
        return cfg  # HEADS.build names the missing key
    takes = inspect.signature(HEADS.get(cfg["name"])).parameters
    if "data_format" in takes:
        cfg.setdefault("data_format", backbone.data_format)
    if "in_channels" in takes:
        given = cfg.setdefault("in_channels", backbone.out_channels)
        if given != backbone.out_channels:
            raise ConfigError(f"MODEL.head.in_channels is {given} but the backbone's out_channels "
                              f"(MODEL.backbone: {type(backbone).__name__}) is {backbone.out_channels}; "
                              f"leave MODEL.head.in_channels out to take the backbone's")
    return cfg


def build_model(model_cfg):
    """MODEL section ({framework, backbone, head}) -> a recognizer Layer, pretrained weights loaded."""
    backbone = BACKBONES.build(backbone_args(model_cfg["backbone"]))
    head = HEADS.build(head_config(model_cfg["head"], backbone))
    model = RECOGNIZERS.get(model_cfg["framework"])(backbone=backbone, head=head)
    if backbone.pretrained:
        load_pretrained(model, backbone.pretrained)  # the backbone's classifier and new-layer prefixes
    return model
