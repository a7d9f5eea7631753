"""Registries: unknown names list the known ones; unknown arguments name component and argument."""
import pytest

from paddlevideo_tsm.modeling import BACKBONES, HEADS, build_model
from paddlevideo_tsm.utils import Registry


def test_register_and_build():
    reg = Registry("widget")

    @reg.register
    class Box:
        def __init__(self, size=1):
            self.size = size

    assert reg.build({"name": "Box", "size": 3}).size == 3
    with pytest.raises(KeyError, match="registered twice"):
        reg.register(Box)


def test_unknown_name_lists_known():
    with pytest.raises(KeyError) as e:
        BACKBONES.build({"name": "ResNetTSN"})
    known = ", ".join(sorted(BACKBONES))
    assert "ResNetTSM" in known and f"unknown backbone 'ResNetTSN'; registered backbones: {known}" in str(e.value)


def test_unknown_argument_names_component_and_argument():
    with pytest.raises(TypeError) as e:
        HEADS.build({"name": "TSMHead", "num_classes": 3, "in_channels": 8, "dropout": 0.1})
    msg = str(e.value)
    assert "head 'TSMHead' got an unknown argument 'dropout'" in msg and "drop_ratio" in msg


def test_build_model_unknown_framework():
    with pytest.raises(KeyError, match="unknown recognizer 'Recognizer3D'; registered recognizers: .*Recognizer2D"):
        build_model({"framework": "Recognizer3D", "backbone": {"name": "ResNetTSM", "depth": 18},
                     "head": {"name": "TSMHead", "num_classes": 2, "in_channels": 512}})
