"""PIPELINE.test and INFERENCE are read one way (issue 14 item 2): both step forms, {X: {...}} and
{name: X, ...}, give the same input size, frame size, preprocessing and summary everywhere."""
import copy
import sys
from pathlib import Path

import numpy as np
import pytest

from _deploy_helpers import tiny_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))


def name_form(cfg):
    """``cfg`` with every PIPELINE.test transform written as {name: X, **kwargs} and no INFERENCE size."""
    cfg = copy.deepcopy(cfg)
    steps = []
    for entry in cfg["PIPELINE"]["test"]["transform"]:
        (name, kwargs), = entry.items()
        steps.append(dict(kwargs or {}, name=name))
    cfg["PIPELINE"]["test"]["transform"] = steps
    del cfg["INFERENCE"]["target_size"]
    return cfg


def key_form(cfg):
    cfg = copy.deepcopy(cfg)
    del cfg["INFERENCE"]["target_size"]
    return cfg


def test_transform_steps_read_both_forms_alike():
    from paddlevideo_tsm.loader.pipelines import transform_steps

    cfg = tiny_config(size=48)
    expected = [("Scale", {"short_size": 54}), ("CenterCrop", {"target_size": 48}),
                ("Image2Array", {"transpose": True}),
                ("Normalization", {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                   "tensor_shape": [3, 1, 1]})]
    assert transform_steps(cfg["PIPELINE"]["test"]) == expected
    assert transform_steps(name_form(cfg)["PIPELINE"]["test"]) == expected
    assert transform_steps({"transform": [{"RandomFlip": None}]}) == [("RandomFlip", {})]


def test_export_input_size_from_a_name_form_crop():
    from paddlevideo_tsm.inference.export import inference_settings

    cfg = tiny_config(size=48)
    assert inference_settings(key_form(cfg)) == (8, 48, "NCHW")
    assert inference_settings(name_form(cfg)) == (8, 48, "NCHW")


def test_online_export_frame_size_from_a_name_form_crop(tmp_path):
    """export_online reads its frame size from the test crop like the clip export (its own
    reading missed this form: 'no frame size')."""
    from paddlevideo_tsm.online import export_online

    meta = export_online(name_form(tiny_config(size=32)), None, str(tmp_path), "online")
    assert meta["frame_size"] == [32, 32] and meta["inputs"][0] == ("frame", [1, 3, 32, 32])


def test_online_preprocessing_of_a_name_form_three_crop_is_its_centre_crop():
    from paddlevideo_tsm.online.preprocess import FramePreprocessor

    cfg = tiny_config(size=48)
    centre = FramePreprocessor(cfg["PIPELINE"]["test"])
    three = name_form(cfg)["PIPELINE"]["test"]
    three["transform"][1]["name"] = "ThreeCrop"
    frame = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    expected = centre(frame)
    assert expected.shape == (1, 3, 48, 48)
    np.testing.assert_array_equal(FramePreprocessor(three)(frame), expected)


def test_summary_input_shape_from_a_name_form_crop():
    from summary import summarize

    from paddlevideo_tsm.utils.config import AttrDict, _to_attr

    cfg = tiny_config(size=48)
    for variant in (key_form(cfg), name_form(cfg)):
        s = summarize(_to_attr(variant))
        assert s["input_shape"] == [1, 8, 3, 48, 48], variant["PIPELINE"]["test"]["transform"][1]
    assert isinstance(_to_attr(cfg), AttrDict)


@pytest.mark.parametrize("where", ["INFERENCE", "crop"])
def test_non_square_size_is_one_line_for_the_clip_export(where):
    from paddlevideo_tsm.errors import ConfigError
    from paddlevideo_tsm.inference.export import inference_settings
    from paddlevideo_tsm.inference.settings import input_size

    cfg = tiny_config(size=48)
    if where == "INFERENCE":
        cfg["INFERENCE"]["target_size"] = [64, 48]
    else:
        cfg = key_form(cfg)
        cfg["PIPELINE"]["test"]["transform"][1] = {"CenterCrop": {"target_size": [64, 48]}}
    assert input_size(cfg) == (48, 64)  # crops take [w, h]; the online model takes any frame shape
    with pytest.raises(ConfigError, match="square"):
        inference_settings(cfg)
