from ..utils.registry import Registry

BACKBONES = Registry("backbone")
HEADS = Registry("head")
RECOGNIZERS = Registry("recognizer")
LOSSES = Registry("loss")
