"""Config reading, overrides and the one-line errors."""
import textwrap

import pytest

from paddlevideo_tsm.errors import ConfigError
from paddlevideo_tsm.config import get_config

GOOD = """
model_name: TSM
epochs: 3
log_interval: 2
MODEL:
  framework: Recognizer2D
  backbone: {name: ResNetTSM, depth: 18, num_seg: 4}
  head: {name: TSMHead, num_classes: 10, in_channels: 512, drop_ratio: 0.5}
DATASET:
  batch_size: 4
  train: {format: FrameDataset, file_path: a.list}
PIPELINE:
  test:
    transform:
      - CenterCrop: {target_size: 224}
"""


def write(tmp_path, text, name="cfg.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


def test_reads_attribute_dict(tmp_path):
    cfg = get_config(write(tmp_path, GOOD))
    assert cfg.MODEL.backbone.depth == 18
    assert cfg.MODEL.head.num_classes == 10
    assert cfg.PIPELINE.test.transform[0].CenterCrop.target_size == 224
    assert cfg.epochs == 3


def test_overrides_are_yaml_typed(tmp_path):
    cfg = get_config(write(tmp_path, GOOD), ["MODEL.head.num_classes=101", "MODEL.backbone.shift_div=0",
                                             "MODEL.head.drop_ratio=0.8", "MODEL.backbone.data_format=NHWC",
                                             "DATASET.train.file_path=b.list", "MODEL.backbone.pretrained=null"])
    assert cfg.MODEL.head.num_classes == 101 and isinstance(cfg.MODEL.head.num_classes, int)
    assert cfg.MODEL.backbone.shift_div == 0
    assert cfg.MODEL.head.drop_ratio == pytest.approx(0.8)
    assert cfg.MODEL.backbone.data_format == "NHWC"
    assert cfg.DATASET.train.file_path == "b.list"
    assert cfg.MODEL.backbone.pretrained is None


@pytest.mark.parametrize("override, fragment", [
    ("MODEL.head.num_classes=many", "override key 'MODEL.head.num_classes' expects int, got str"),
    ("MODEL.backbone=3", "override key 'MODEL.backbone' expects mapping, got int"),
    ("MODEL.head.num_classes", "is not KEY=VALUE"),
])
def test_bad_override(tmp_path, override, fragment):
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as e:
        get_config(path, [override])
    msg = str(e.value)
    assert fragment in msg and msg.startswith(path) and "\n" not in msg


@pytest.mark.parametrize("remove, key", [
    ("  framework: Recognizer2D\n", "MODEL.framework"),
    ("  batch_size: 4\n", "DATASET.batch_size"),
    ("model_name: TSM\n", "model_name"),
])
def test_missing_mandatory_key(tmp_path, remove, key):
    path = write(tmp_path, textwrap.dedent(GOOD).replace(remove, ""))
    with pytest.raises(ConfigError, match=f"missing mandatory key '{key}'") as e:
        get_config(path)
    assert str(e.value).startswith(path)


def test_missing_backbone_name(tmp_path):
    path = write(tmp_path, textwrap.dedent(GOOD).replace("name: ResNetTSM, ", ""))
    with pytest.raises(ConfigError, match="missing mandatory key 'MODEL.backbone.name'"):
        get_config(path)


def test_unknown_section_and_wrong_types(tmp_path):
    path = write(tmp_path, textwrap.dedent(GOOD) + "MODLE:\n  x: 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'MODLE' \(did you mean 'MODEL'\?\)"):
        get_config(path)
    path = write(tmp_path, textwrap.dedent(GOOD).replace("epochs: 3", "epochs: three"))
    with pytest.raises(ConfigError, match=r"key 'epochs' must be an int >= 1, got str \('three'\)"):
        get_config(path)
    path = write(tmp_path, textwrap.dedent(GOOD).replace("batch_size: 4", "batch_size: 4.5"))
    with pytest.raises(ConfigError, match=r"key 'DATASET.batch_size' must be an int >= 1, got 4.5"):
        get_config(path)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        get_config(str(tmp_path / "nope.yaml"))
    path = write(tmp_path, "MODEL: [1, 2\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml:\d+: not valid YAML"):
        get_config(path)


def test_shipped_configs_validate():
    """Every config in configs/ reads and builds its model names from the registries."""
    from pathlib import Path
    from paddlevideo_tsm.modeling import BACKBONES, HEADS, RECOGNIZERS
    paths = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    for p in paths:
        cfg = get_config(str(p))
        assert cfg.MODEL.framework in RECOGNIZERS, p
        assert cfg.MODEL.backbone.name in BACKBONES, p
        assert cfg.MODEL.head.name in HEADS, p
