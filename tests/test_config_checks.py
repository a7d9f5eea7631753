"""Config checks at start (issue 13 items 11-13): unknown keys, bad values, num_seg agreement.

Every case goes through main.py as a user would, with `--test -w <missing file>`: the config is
read and checked before the weights are looked at, so the test mode (which builds no optimizer
and no training data) must still catch a typo anywhere in the config.
"""
import copy

import pytest
import yaml

import main as main_py
from _tiny_training import tiny_config, write_config


@pytest.fixture
def base():
    return tiny_config("/no/such/demo")


def run_test_mode(tmp_path, cfg, *extra, raw=None):
    """main.py --test on ``cfg`` (dict, or ``raw`` YAML text) -> (exit code, stderr lines, config path)."""
    path = tmp_path / "cfg.yaml"
    if raw is not None:
        path.write_text(raw)
    else:
        write_config(path, cfg)
    return main_py.main(["-c", str(path), "--test", "-w", str(tmp_path / "missing.pdparams"), *extra]), str(path)


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert not any("Traceback" in line for line in err), err
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0][len("error: "):]


def setting(cfg, dotted, value):
    """cfg with ``dotted`` (A.B.0.C: list indices allowed) set to ``value``, or deleted if value is DELETE."""
    cfg = copy.deepcopy(cfg)
    *parents, last = dotted.split(".")
    node = cfg
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return cfg


# --- item 11: unknown keys at every level, with the closest known key ---------------------------
@pytest.mark.parametrize("key, value, message", [
    ("epoch", 3, "unknown key 'epoch' (did you mean 'epochs'?)"),
    ("MODEL.neck", {"name": "X"}, "unknown key 'MODEL.neck'; known keys: backbone, framework, head"),
    ("DATASET.batchsize", 4, "unknown key 'DATASET.batchsize' (did you mean 'DATASET.batch_size'?)"),
    ("METRIC.top_k", 5, "unknown key 'METRIC.top_k'; known keys: batch_size, data_size, log_interval, name"),
    ("INFERENCE.numseg", 4, "unknown key 'INFERENCE.numseg' (did you mean 'INFERENCE.num_seg'?)"),
    ("OPTIMIZER.weight_decay.valeu", 1e-4,
     "unknown key 'OPTIMIZER.weight_decay.valeu' (did you mean 'OPTIMIZER.weight_decay.value'?)"),
    # component arguments: checked against the registered class's signature, at start
    ("MODEL.backbone.shift_dvi", 8, "unknown key 'MODEL.backbone.shift_dvi' (did you mean 'MODEL.backbone.shift_div'?)"),
    ("MODEL.head.drop_rate", 0.5, "unknown key 'MODEL.head.drop_rate' (did you mean 'MODEL.head.drop_ratio'?)"),
    ("PIPELINE.train.sample.seglen", 1, "unknown key 'PIPELINE.train.sample.seglen' (did you mean 'PIPELINE.train.sample.seg_len'?)"),
    ("PIPELINE.valid.transform.0.Scale.short_sise", 40,
     "unknown key 'PIPELINE.valid.transform[0].Scale.short_sise' (did you mean 'PIPELINE.valid.transform[0].Scale.short_size'?)"),
    ("PIPELINE.train.decode.backnd", "cv2", "unknown key 'PIPELINE.train.decode.backnd'; known keys: name"),
    ("DATASET.train.file_paht", "x.list", "unknown key 'DATASET.train.file_paht' (did you mean 'DATASET.train.file_path'?)"),
    ("OPTIMIZER.momentm", 0.9, "unknown key 'OPTIMIZER.momentm' (did you mean 'OPTIMIZER.momentum'?)"),
    ("OPTIMIZER.learning_rate.boundary", [1], "unknown key 'OPTIMIZER.learning_rate.boundary' (did you mean 'OPTIMIZER.learning_rate.boundaries'?)"),
    ("OPTIMIZER.grad_clip.vlaue", 1.0, "unknown key 'OPTIMIZER.grad_clip.vlaue' (did you mean 'OPTIMIZER.grad_clip.value'?)"),
    ("PIPELINE.tset", {}, "unknown key 'PIPELINE.tset' (did you mean 'PIPELINE.test'?)"),
])
def test_unknown_key_is_one_line_with_the_closest_known_one(tmp_path, capsys, base, key, value, message):
    rc, path = run_test_mode(tmp_path, setting(base, key, value))
    assert rc == 2
    assert one_error_line(capsys) == f"{path}: {message}"


def test_unknown_key_without_a_close_one_lists_the_known_keys(tmp_path, capsys, base):
    rc, path = run_test_mode(tmp_path, setting(base, "INFERENCE.xyzzy", 1))
    assert rc == 2
    assert one_error_line(capsys) == f"{path}: unknown key 'INFERENCE.xyzzy'; known keys: num_seg, target_size"


def test_name_form_step_arguments_are_checked_too(tmp_path, capsys, base):
    cfg = setting(base, "PIPELINE.test.transform.1", {"name": "CenterCrop", "target_sise": 32})
    rc, path = run_test_mode(tmp_path, cfg)
    assert rc == 2
    assert one_error_line(capsys) == (f"{path}: unknown key 'PIPELINE.test.transform[1].target_sise' "
                                      f"(did you mean 'PIPELINE.test.transform[1].target_size'?)")


def test_missing_component_argument_is_named(tmp_path, capsys, base):
    cfg = setting(base, "PIPELINE.train.transform.0", {"Scale": None})
    rc, path = run_test_mode(tmp_path, cfg)
    assert rc == 2
    assert one_error_line(capsys) == f"{path}: missing mandatory key 'PIPELINE.train.transform[0].Scale.short_size'"


def test_unknown_component_name_lists_the_registered_ones(tmp_path, capsys, base):
    rc, path = run_test_mode(tmp_path, setting(base, "METRIC.name", "TopKMetric"))
    assert rc == 2
    msg = one_error_line(capsys)
    assert msg.startswith(f"{path}: METRIC.name: unknown metric 'TopKMetric'; registered metrics: ")
    assert "CenterCropMetric" in msg and "MultiCropMetric" in msg


PADDLEVIDEO_TSM = """
MODEL:
    framework: "Recognizer2D"
    backbone:
        name: "ResNetTSM"
        pretrained: "data/ResNet50_pretrain.pdparams"
        num_seg: 8
        depth: 50
        data_format: "NHWC"
    head:
        name: "TSMHead"
        num_classes: 400
        in_channels: 2048
        drop_ratio: 0.5
        std: 0.001
        data_format: "NHWC"
DATASET:
    batch_size: 16
    num_workers: 4
    test_batch_size: 1
    train:
        format: "FrameDataset"
        data_prefix: "data/k400/rawframes"
        file_path: "data/k400/train_frames.list"
        suffix: 'img_{:05}.jpg'
    valid:
        format: "VideoDataset"
        data_prefix: ""
        file_path: "data/k400/val.list"
    test:
        format: "FrameDataset"
        data_prefix: "data/k400/rawframes"
        file_path: "data/k400/val_frames.list"
        suffix: 'img_{:05}.jpg'
PIPELINE:
    train:
        decode:
            name: "FrameDecoder"
        sample:
            name: "Sampler"
            num_seg: 8
            seg_len: 1
            valid_mode: False
            select_left: True
        transform:
            - MultiScaleCrop:
                target_size: 224
                allow_duplication: True
            - RandomFlip:
            - Image2Array:
                transpose: False
            - Normalization:
                mean: [0.485, 0.456, 0.406]
                std: [0.229, 0.224, 0.225]
                tensor_shape: [1, 1, 3]
    valid:
        decode:
            name: "VideoDecoder"
            backend: "decord"
        sample: &eval_sample   # (PaddleVideo writes the test split out in full; same keys)
            name: "Sampler"
            num_seg: 8
            seg_len: 1
            valid_mode: True
            select_left: True
        transform: &eval_transform
            - Scale:
                short_size: 256
                fixed_ratio: False
            - CenterCrop:
                target_size: 224
            - Image2Array:
                transpose: False
            - Normalization: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], tensor_shape: [1, 1, 3]}
    test:
        decode:
            name: "FrameDecoder"
        sample: *eval_sample
        transform: *eval_transform
OPTIMIZER:
    name: 'Momentum'
    momentum: 0.9
    learning_rate:
        name: 'PiecewiseDecay'
        boundaries: [20, 40]
        values: [0.02, 0.002, 0.0002]
    weight_decay:
        name: 'L2'
        value: 0.0001
    grad_clip:
        name: 'ClipGradByGlobalNorm'
        value: 20.0
METRIC:
    name: 'CenterCropMetric'
INFERENCE:
    name: 'ppTSM_Inference_helper'
    num_seg: 8
    target_size: 224
model_name: "TSM"
log_interval: 20
save_interval: 10
epochs: 50
log_level: "INFO"
"""


def test_paddlevideo_tsm_key_set_is_accepted(tmp_path, capsys):
    """PaddleVideo's TSM config keys (its tsm_k400_frames / _nhwc / _videos configs) load; the one
    key this project does not use (INFERENCE.name, PaddleVideo's inference helper) is a warning."""
    from paddlevideo_tsm.config import get_config

    path = tmp_path / "pv_tsm.yaml"
    path.write_text(PADDLEVIDEO_TSM)
    cfg = get_config(str(path))
    assert cfg.MODEL.backbone.num_seg == 8 and cfg.PIPELINE.train.sample.select_left is True
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "WARNING" in out[0], out
    assert f"{path}: ignoring PaddleVideo key 'INFERENCE.name'" in out[0]


@pytest.mark.parametrize("key, value", [
    ("PRECISEBN", {"preciseBN_interval": 5, "num_iters_preciseBN": 200}),
    ("MIX", {"name": "Mixup", "alpha": 0.2}),
    ("use_xpu", False),
    ("DATASET.test_num_workers", 2),
])
def test_paddlevideo_keys_this_project_ignores_warn(tmp_path, capsys, base, key, value):
    from paddlevideo_tsm.config import get_config

    path = write_config(tmp_path / "cfg.yaml", setting(base, key, value))
    get_config(path)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and f"{path}: ignoring PaddleVideo key '{key}'" in out[0], out


# --- item 12: types and ranges, one line each, at start ----------------------------------------
@pytest.mark.parametrize("key, value, message", [
    ("log_interval", 0, "key 'log_interval' must be an int >= 1, got 0"),
    ("save_interval", 0, "key 'save_interval' must be an int >= 1, got 0"),
    ("val_interval", 0, "key 'val_interval' must be an int >= 1, got 0"),
    ("epochs", -3, "key 'epochs' must be an int >= 1, got -3"),
    ("max_bad_fraction", -1, "key 'max_bad_fraction' must be a number in [0, 1], got -1"),
    ("DATASET.num_workers", "two", "key 'DATASET.num_workers' must be an int >= 0, got str ('two')"),
    ("MODEL.backbone.num_seg", "4", "key 'MODEL.backbone.num_seg' must be an int, got str ('4')"),
    ("PIPELINE.train.sample.num_seg", "4", "key 'PIPELINE.train.sample.num_seg' must be an int >= 1, got str ('4')"),
    ("INFERENCE.num_seg", 0, "key 'INFERENCE.num_seg' must be an int >= 1, got 0"),
    ("OPTIMIZER.learning_rate", "0.1",
     "key 'OPTIMIZER.learning_rate' must be a number > 0 or a mapping, got str ('0.1')"),
    ("OPTIMIZER.learning_rate", -0.1, "key 'OPTIMIZER.learning_rate' must be a number > 0 or a mapping, got -0.1"),
    ("OPTIMIZER.learning_rate.values", [0.1, "0.01"],
     "key 'OPTIMIZER.learning_rate.values[1]' must be a number >= 0, got str ('0.01')"),
    ("OPTIMIZER.learning_rate.values", [-0.1, 0.01], "key 'OPTIMIZER.learning_rate.values[0]' must be a number >= 0, got -0.1"),
    ("OPTIMIZER.momentum", "high", "key 'OPTIMIZER.momentum' must be a number >= 0, got str ('high')"),
    ("log_level", "LOUD", "key 'log_level' must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
    ("DATASET.test.num_clips", 0, "key 'DATASET.test.num_clips' must be an int >= 1, got 0"),
])
def test_bad_values_are_one_line_at_start(tmp_path, capsys, base, key, value, message):
    rc, path = run_test_mode(tmp_path, setting(base, key, value))
    assert rc == 2
    assert one_error_line(capsys) == f"{path}: {message}"


def test_yaml_typed_values_in_the_file(tmp_path, capsys, base):
    # 'two' written in the file itself (not an override, which is checked against the old value)
    raw = yaml.safe_dump(base, sort_keys=False).replace("num_workers: 0", "num_workers: two")
    rc, path = run_test_mode(tmp_path, None, raw=raw)
    assert rc == 2
    assert one_error_line(capsys) == f"{path}: key 'DATASET.num_workers' must be an int >= 0, got str ('two')"


@pytest.mark.parametrize("override, message", [
    ("epochs=[1", "override 'epochs=[1': the value is not valid YAML"),
    ("=5", "override '=5' has no key"),
    ("MODEL..depth=18", "override 'MODEL..depth=18' has an empty key part"),
])
def test_bad_overrides_are_one_line(tmp_path, capsys, base, override, message):
    rc, path = run_test_mode(tmp_path, base, "-o", override)
    assert rc == 2
    assert one_error_line(capsys).startswith(f"{path}: {message}")


# --- item 13: num_seg of the pipelines, the backbone and INFERENCE agree ------------------------
@pytest.mark.parametrize("key, value, message", [
    ("PIPELINE.train.sample.num_seg", 6,
     "PIPELINE.train.sample.num_seg is 6 but MODEL.backbone.num_seg is 4: a clip must have the "
     "backbone's number of frames"),
    ("PIPELINE.test.sample.seg_len", 2,
     "PIPELINE.test.sample.num_seg x seg_len is 4 x 2 = 8 but MODEL.backbone.num_seg is 4: a clip "
     "must have the backbone's number of frames"),
    ("INFERENCE.num_seg", 8,
     "INFERENCE.num_seg is 8 but MODEL.backbone.num_seg is 4: a clip must have the backbone's number "
     "of frames"),
])
def test_num_seg_mismatch_names_both_keys(tmp_path, capsys, base, key, value, message):
    rc, path = run_test_mode(tmp_path, setting(base, key, value))
    assert rc == 2
    assert one_error_line(capsys) == f"{path}: {message}"


def test_backbone_default_num_seg_counts(tmp_path, capsys, base):
    """Without MODEL.backbone.num_seg the backbone's own default (8 for ResNetTSM) is compared."""
    cfg = copy.deepcopy(base)
    del cfg["MODEL"]["backbone"]["num_seg"]
    rc, path = run_test_mode(tmp_path, cfg)
    assert rc == 2
    assert one_error_line(capsys) == (
        f"{path}: PIPELINE.train.sample.num_seg is 4 but MODEL.backbone.num_seg is 8 (ResNetTSM's "
        f"default): a clip must have the backbone's number of frames")


# --- every shipped config passes the strict checks ---------------------------------------------
def test_every_shipped_config_passes_the_checks(capsys):
    from pathlib import Path
    from paddlevideo_tsm.config import get_config

    paths = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert len(paths) >= 11
    for p in paths:
        get_config(str(p))
    assert "WARNING" not in capsys.readouterr().out
