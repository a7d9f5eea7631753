"""tools/summary.py: parameter count against the closed form, MACs scale and the free shift."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from summary import summarize  # noqa: E402
from paddlevideo_tsm.utils.config import AttrDict, _to_attr  # noqa: E402


def cfg(depth=50, num_seg=8, size=224, shift_div=8, num_classes=400):
    return _to_attr({"model_name": "t", "MODEL": {
        "framework": "Recognizer2D", "backbone": {"name": "ResNetTSM", "depth": depth, "num_seg": num_seg,
                                                  "shift_div": shift_div},
        "head": {"name": "TSMHead", "num_classes": num_classes, "in_channels": 2048}},
        "INFERENCE": {"num_seg": num_seg, "target_size": size}})


def test_tsm_r50_params_and_macs():
    s = summarize(cfg())
    # ResNet-50 without its fc has 23,508,032 trainable parameters; the head adds 2048*400 + 400
    assert s["params"] == 23_508_032 + 2048 * 400 + 400
    # ResNet-50 is about 4.1 GMACs a 224 px frame; 8 frames
    assert 32.0e9 < s["macs"] < 33.5e9


def test_macs_linear_in_frames_and_shift_free():
    a = summarize(cfg(num_seg=2, size=64))
    b = summarize(cfg(num_seg=4, size=64))
    tsn = summarize(cfg(num_seg=4, size=64, shift_div=0))
    fc = 2048 * 400  # the fc runs once per frame
    assert b["macs"] - fc * 4 == pytest.approx(2 * (a["macs"] - fc * 2), rel=1e-6)
    assert tsn["macs"] == b["macs"] and tsn["params"] == b["params"]
    assert isinstance(cfg(), AttrDict)
