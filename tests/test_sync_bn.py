"""MODEL.backbone.sync_bn: accepted for every backbone, converted only where BN learns batch
statistics and only for several GPU processes; on CPU one warning and plain BN. The warning for
fewer than 8 clips per BatchNorm."""
import logging

import numpy as np
import paddle
import pytest

import main as main_py
from _tiny_training import make_demo, tiny_config, write_config
from paddlevideo_tsm.errors import ConfigError
from paddlevideo_tsm.modeling import build_model
from paddlevideo_tsm.modeling.sync_bn import convert_sync_bn, setup_batch_norm, small_batch_warning

CPU_LINE = ("MODEL.backbone.sync_bn: SyncBatchNorm needs GPUs (Paddle has no CPU kernel for it); on CPU each "
            "process's BatchNorm normalises over its own batch (plain BatchNorm)")


def tiny_model(**backbone):
    return build_model({"framework": "Recognizer2D",
                        "backbone": dict({"name": "ResNetTSM", "depth": 18, "num_seg": 2, "base_channels": 8,
                                          "stem": "3x3"}, **backbone),
                        "head": {"name": "TSMHead", "num_classes": 3}})


def bns(model, kind):
    return [m for m in model.sublayers() if type(m) is kind]


@pytest.mark.parametrize("freeze, converted", [({}, 20), ({"partial_bn": True}, 1), ({"norm_eval": True}, 0)])
def test_conversion_leaves_frozen_bns_and_the_state(freeze, converted):
    model = tiny_model(sync_bn=True, **freeze)  # build_model takes the key and leaves it to the trainer
    assert not bns(model, paddle.nn.SyncBatchNorm)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    params = {id(p) for p in model.parameters()}
    first = model.backbone.conv._batch_norm
    assert convert_sync_bn(model) == converted
    synced = bns(model, paddle.nn.SyncBatchNorm)
    assert len(synced) == converted and len(bns(model, paddle.nn.BatchNorm2D)) == 20 - converted
    if freeze.get("partial_bn"):
        assert type(model.backbone.conv._batch_norm) is paddle.nn.SyncBatchNorm  # the first, which learns
        assert model.backbone.conv._batch_norm.weight is first.weight
    after = model.state_dict()
    assert sorted(after) == sorted(before)  # checkpoints load either way
    for k, v in before.items():
        np.testing.assert_array_equal(after[k].numpy(), v, err_msg=k)
    assert {id(p) for p in model.parameters()} == params  # the same tensors: optimizer and weights agree


def test_setup_converts_only_on_several_gpus():
    log = logging.getLogger("sync_bn_test")
    messages = []
    log.info = log.warning = messages.append
    model = tiny_model(sync_bn=True)
    setup_batch_norm(model, {"backbone": {"sync_bn": True}}, 4, 2, False, log)
    assert messages[0] == CPU_LINE and not bns(model, paddle.nn.SyncBatchNorm)
    assert messages[1].startswith("BatchNorm normalises over 4 clips (fewer than 8) in 20 layers")
    messages.clear()
    setup_batch_norm(model, {"backbone": {"sync_bn": True}}, 4, 1, True, log)
    assert messages[0] == "MODEL.backbone.sync_bn: one process, so plain BatchNorm (the same statistics)"
    messages.clear()
    setup_batch_norm(model, {"backbone": {"sync_bn": True}}, 4, 2, True, log)  # a GPU pretended: conversion only
    assert messages == ["MODEL.backbone.sync_bn: 20 BatchNorm layers normalise over the 8 clips of all 2 "
                        "processes (SyncBatchNorm)"]  # 4 x 2 clips: no small-batch warning
    assert len(bns(model, paddle.nn.SyncBatchNorm)) == 20


def test_small_batch_warning_only_where_bn_learns_from_the_batch():
    assert small_batch_warning(tiny_model(), 4).endswith(
        "Use MODEL.backbone.sync_bn: True on several GPUs, a larger DATASET.batch_size, or partial_bn / norm_eval "
        "when fine-tuning (accum_steps does not enlarge the batch BatchNorm sees)")
    assert small_batch_warning(tiny_model(), 8) is None
    assert small_batch_warning(tiny_model(partial_bn=True), 2) is None
    assert small_batch_warning(tiny_model(norm_eval=True), 2) is None


def test_config_key_for_every_backbone_checked(tmp_path):
    from paddlevideo_tsm.config import get_config
    demo = tmp_path / "demo"
    path = write_config(tmp_path / "c.yaml", tiny_config(demo))
    assert get_config(path, ["MODEL.backbone.sync_bn=True"])["MODEL"]["backbone"]["sync_bn"] is True
    with pytest.raises(ConfigError, match=r"key 'MODEL.backbone.sync_bn' must be true or false, got str"):
        get_config(path, ["MODEL.backbone.sync_bn=yes please"])
    with pytest.raises(ConfigError, match=r"unknown key 'MODEL.backbone.syncbn' \(did you mean "
                                          r"'MODEL.backbone.sync_bn'\?\)"):
        get_config(path, ["MODEL.backbone.syncbn=True"])


def test_cpu_training_with_sync_bn_says_so_and_trains(tmp_path, capsys):
    demo = make_demo(tmp_path / "demo", train=1, val=1, test=1)
    path = write_config(tmp_path / "c.yaml", tiny_config(demo, epochs=1, batch_size=2))
    assert main_py.main(["-c", path, "--output", str(tmp_path / "out"), "--max_iters", "1",
                         "-o", "MODEL.backbone.sync_bn=True"]) == 0
    out = capsys.readouterr().out
    assert out.count(CPU_LINE) == 1
    assert "BatchNorm normalises over 2 clips (fewer than 8)" in out
    assert "training done: 1 epochs, 1 iterations" in out
