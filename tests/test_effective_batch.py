"""The effective batch: accum_steps and PaddleVideo's GRADIENT_ACCUMULATION, the lr scaled to it
(a recipe's lr per sample on any number of cards), checkpoint layouts on resume, and the rank
split of the training order. (The accumulating step itself: test_main_smoke.py.)"""
import paddle
import pytest
import yaml

from _tiny_training import ROOT
from paddlevideo_tsm.config import get_config
from paddlevideo_tsm.errors import CheckpointError, ConfigError
from paddlevideo_tsm.loader.dataloader import EpochSampler, RankBatchSampler
from paddlevideo_tsm.solver import lr_batch_scale, scaled_rates
from paddlevideo_tsm.tasks.effective_batch import (EffectiveBatch, accumulation_steps, batch_line,
                                                   check_resume_layout, epoch_iterations, stop_iterations)

K400 = ROOT / "configs" / "tsm_k400_frames.yaml"


def test_accum_steps_and_the_paddlevideo_alias():
    assert accumulation_steps({}, 16, 2) == 1
    assert accumulation_steps({"accum_steps": 4}, 16, 2) == 4
    # PaddleVideo: num_iters = global_batch_size / (batch_size x cards)
    assert accumulation_steps({"GRADIENT_ACCUMULATION": {"global_batch_size": 128}}, 16, 2) == 4
    assert accumulation_steps({"GRADIENT_ACCUMULATION": {"global_batch_size": 128}, "accum_steps": 4}, 16, 2) == 4
    with pytest.raises(ConfigError) as e:
        accumulation_steps({"_path": "c.yaml", "GRADIENT_ACCUMULATION": {"global_batch_size": 100}}, 16, 2)
    assert str(e.value) == ("c.yaml: GRADIENT_ACCUMULATION.global_batch_size 100 is not a multiple of "
                            "DATASET.batch_size x processes = 16 x 2 = 32")
    with pytest.raises(ConfigError) as e:
        accumulation_steps({"_path": "c.yaml", "GRADIENT_ACCUMULATION": {"global_batch_size": 128},
                            "accum_steps": 2}, 16, 2)
    assert str(e.value) == ("c.yaml: accum_steps is 2 but GRADIENT_ACCUMULATION.global_batch_size 128 means 4 "
                            "(16 x 2 processes x 4); give one of the two")


def test_config_keys_checked_not_ignored(tmp_path, capsys):
    cfg = yaml.safe_load(K400.read_text())
    cfg["GRADIENT_ACCUMULATION"] = {"global_batch_size": 128}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    get_config(str(path), ["accum_steps=4"])
    assert "GRADIENT_ACCUMULATION" not in capsys.readouterr().out  # no 'ignoring PaddleVideo key' warning
    with pytest.raises(ConfigError, match=r"key 'accum_steps' must be an int >= 1, got 0"):
        get_config(str(path), ["accum_steps=0"])
    with pytest.raises(ConfigError, match=r"unknown key 'GRADIENT_ACCUMULATION.global_batchsize' \(did you mean "
                                          r"'GRADIENT_ACCUMULATION.global_batch_size'\?\)"):
        get_config(str(path), ["GRADIENT_ACCUMULATION.global_batchsize=8"])


@pytest.mark.parametrize("per_process, cards, accum", [(16, 8, 1), (16, 2, 1), (16, 2, 4), (8, 1, 16), (4, 1, 1)])
def test_recipe_lr_per_sample_on_any_number_of_cards(per_process, cards, accum):
    """configs/tsm_k400_frames.yaml is PaddleVideo's recipe: lr 0.02 for 8 cards x 16 clips."""
    opt = get_config(str(K400))["OPTIMIZER"]
    batch = EffectiveBatch(per_process, cards, accum)
    scale = lr_batch_scale(opt, batch.total)
    first = scaled_rates(opt["learning_rate"], scale)["values"][0]
    assert first / batch.total == pytest.approx(0.02 / 128, rel=1e-12)
    line = batch_line(opt, batch, scale)
    assert line.startswith(f"effective batch: {batch.total} clips per optimizer step ({per_process} per process x ")
    assert f"lr x{scale:.8g} = {batch.total}/128 (OPTIMIZER.lr_scale_by_batch.base_batch_size): values [" in line


def test_scaled_rates_of_every_schedule_kind():
    assert scaled_rates(0.1, 0.5) == {"learning_rate": 0.05}
    cos = {"name": "CosineAnnealingDecay", "learning_rate": 0.01, "max_epoch": 10, "eta_min": 0.001,
           "warmup_epochs": 2, "warmup_start_lr": 0.0004}
    assert scaled_rates(cos, 2.0) == pytest.approx({"learning_rate": 0.02, "eta_min": 0.002, "warmup_start_lr": 0.0008})
    assert batch_line({"learning_rate": cos}, EffectiveBatch(2, 1), 1.0) == (
        "effective batch: 2 clips per optimizer step (2 per process x 1 process x 1 accumulation step); lr as "
        "configured (no OPTIMIZER.lr_scale_by_batch): learning_rate 0.01, eta_min 0.001, warmup_start_lr 0.0004")


def test_epochs_and_stops_fall_on_optimizer_steps():
    assert epoch_iterations(10, 4) == (8, 2)
    assert epoch_iterations(8, 1) == (8, 0)
    assert [stop_iterations(n, 3) for n in (1, 3, 4)] == [3, 3, 6]


def test_resume_layout_mid_epoch_must_match():
    two = EffectiveBatch(2, 2, 2)
    cut = {"epoch": 2, "iters": 4, "layout": two.layout()}
    assert check_resume_layout(cut, "out/m_epoch_00003_iter_00004", two) is None
    with pytest.raises(CheckpointError) as e:
        check_resume_layout(cut, "out/m_epoch_00003_iter_00004", EffectiveBatch(2, 1, 4))
    assert str(e.value) == (
        "out/m_epoch_00003_iter_00004.pdstate: cut inside epoch 3 after 4 iterations of 8 clips per optimizer "
        "step (2 per process x 2 processes x 2 accumulation steps); this run has 8 clips per optimizer step "
        "(2 per process x 1 process x 4 accumulation steps): resume with that layout, or from a complete "
        "epoch's checkpoint (--resume PATH)")
    # a checkpoint of an older version (no layout) cut mid-epoch: only without accumulation
    old = {"epoch": 0, "iters": 3}
    assert check_resume_layout(old, "p", EffectiveBatch(2, 1)) is None
    with pytest.raises(CheckpointError, match="cut inside epoch 1 by a run without accum_steps"):
        check_resume_layout(old, "p", EffectiveBatch(2, 1, 2))
    # at an epoch boundary the layout may change: said in the log
    assert check_resume_layout({"epoch": 2, "iters": 0, "layout": two.layout()}, "p", EffectiveBatch(4, 1, 2)) == (
        "the checkpoint was trained with 8 clips per optimizer step (2 per process x 2 processes x 2 accumulation "
        "steps); continuing with 8 clips per optimizer step (4 per process x 1 process x 2 accumulation steps)")


@pytest.mark.parametrize("n, per_rank, world", [(10, 2, 2), (13, 1, 4), (12, 3, 2)])
def test_ranks_split_the_one_process_order(n, per_rank, world):
    single = paddle.io.BatchSampler(sampler=EpochSampler(n, shuffle=True, seed=3), batch_size=per_rank * world,
                                    drop_last=True)
    ranks = [RankBatchSampler(n, per_rank, world, r, seed=3) for r in range(world)]
    for epoch in (1, 2):
        single.sampler.set_epoch(epoch)
        for r in ranks:
            r.sampler.set_epoch(epoch)
        steps = list(single)
        per = [list(r) for r in ranks]
        assert all(len(p) == len(steps) == len(r) == n // (per_rank * world) for p, r in zip(per, ranks))
        for t, step in enumerate(steps):
            assert sum((p[t] for p in per), []) == step
