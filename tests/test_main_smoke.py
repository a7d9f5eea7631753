"""main.py end to end on a tiny TSM and demo clips: train + validate + save + VisualDL, test, errors, AMP."""
import glob
import json
import re

import numpy as np
import paddle
import pytest

import main as main_py
from _tiny_training import make_demo, run_main, tiny_config, write_config
from paddlevideo_tsm.metrics import mean_class_accuracy, topk_correct
from paddlevideo_tsm.modeling import BACKBONES
from paddlevideo_tsm.tasks import amp as amp_mod
from paddlevideo_tsm.tasks.train import train_one_step

LOG_RE = re.compile(
    r"epoch:\[\s*(\d+)/(\d+)\] train iter:(\d+)/(\d+) loss: ([\d.]+) top1: ([\d.]+) top5: ([\d.]+) "
    r"lr: ([\d.e-]+) batch_cost: [\d.]+ s reader_cost: [\d.]+ s ips: [\d.]+ clips/s ETA: \d+:\d\d:\d\d")
VALID_RE = re.compile(r"\[VALID\] epoch:(\d+) loss: [\d.]+ top1: ([\d.]+) top5: ([\d.]+) over (\d+) clips")
TEST_RE = re.compile(r"\[TEST\] top1: ([\d.]+) top5: ([\d.]+) mean_class_acc: ([\d.]+) \((\d+) videos")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One training run: 3 epochs of 4 iterations cut at 10, validation, VisualDL, --amp on CPU."""
    tmp = tmp_path_factory.mktemp("smoke")
    demo = make_demo(tmp / "demo")
    cfg = tiny_config(demo, epochs=3, save_interval=2)
    cfg["OPTIMIZER"]["learning_rate"]["values"] = [0.01, 0.001]
    path = write_config(tmp / "tiny.yaml", cfg)
    out = tmp / "out"
    proc = run_main("-c", path, "--validate", "--use_visualdl", "--amp", "--amp_level", "O2",
                    "--output", out, "--max_iters", 10)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"tmp": tmp, "demo": demo, "cfg": path, "out": out, "stdout": proc.stdout, "stderr": proc.stderr}


def test_training_log_lines(trained):
    rows = [m.groups() for m in LOG_RE.finditer(trained["stdout"])]
    assert [(int(r[0]), int(r[2])) for r in rows] == [(1, i) for i in range(1, 5)] + [(2, i) for i in range(1, 5)] + [(3, 1), (3, 2)]
    assert all(int(r[1]) == 3 and int(r[3]) == 4 for r in rows)
    # boundary at epoch 1 = iteration 4, stepped per iteration
    assert [float(r[7]) for r in rows] == [0.01] * 4 + [0.001] * 6
    assert len(re.findall(r"END epoch:\d train loss_avg: [\d.]+ top1_avg: [\d.]+ top5_avg", trained["stdout"])) == 3


def test_validation_best_and_checkpoints(trained):
    valid = [m.groups() for m in VALID_RE.finditer(trained["stdout"])]
    assert [int(v[0]) for v in valid] == [1, 2, 3] and all(int(v[3]) == 8 for v in valid)
    best = max(float(v[1]) for v in valid)
    assert f"best val top1: {best:.5f}" in trained["stdout"]
    names = sorted(p.split("/")[-1] for p in glob.glob(str(trained["out"] / "tiny_tsm_*")))
    # save_interval 2 counted from epoch 1: epoch 2 of 3; --max_iters 10 stopped inside epoch 3 after
    # its iteration 2, saved under a name of its own (not as the complete epoch 3)
    assert names == ["tiny_tsm_best.pdparams", "tiny_tsm_epoch_00002.pdopt", "tiny_tsm_epoch_00002.pdparams",
                     "tiny_tsm_epoch_00002.pdstate", "tiny_tsm_epoch_00003_iter_00002.pdopt",
                     "tiny_tsm_epoch_00003_iter_00002.pdparams", "tiny_tsm_epoch_00003_iter_00002.pdstate"]


def test_amp_on_cpu_says_so_once(trained):
    lines = [ln for ln in trained["stdout"].splitlines() if "mixed precision needs a GPU" in ln]
    assert len(lines) == 1


def test_visualdl_scalars_read_back(trained):
    from visualdl import LogReader
    files = glob.glob(str(trained["out"] / "vdl" / "vdlrecords.*"))
    assert len(files) == 1
    reader = LogReader(file_path=files[0])
    losses = [float(r[4]) for r in (m.groups() for m in LOG_RE.finditer(trained["stdout"]))]
    train_loss = reader.get_data("scalar", "train/loss")
    assert [d.id for d in train_loss] == list(range(1, 11))
    np.testing.assert_allclose([d.value for d in train_loss], losses, atol=1e-5)
    val_top1 = [d.value for d in reader.get_data("scalar", "val/top1")]
    np.testing.assert_allclose(val_top1, [float(v[1]) for v in (m.groups() for m in VALID_RE.finditer(trained["stdout"]))], atol=1e-5)
    for tag in ("train/top1", "train/top5", "train/lr", "train/ips", "val/loss", "val/top5"):
        assert len(reader.get_data("scalar", tag)) > 0, tag


def test_multicrop_test_run_and_saved_scores(trained):
    """--test with 2 clips x ThreeCrop: printed metrics == numpy on the saved per-video scores, and
    one video's scores == the model run by hand on its 6 views."""
    results = trained["tmp"] / "scores.jsonl"
    weights = trained["out"] / "tiny_tsm_best.pdparams"
    proc = run_main("-c", trained["cfg"], "--test", "-w", weights, "--save_results", results,
                    "-o", "PIPELINE.test.transform.1={ThreeCrop: {target_size: 32}}",
                    "-o", "DATASET.test.num_clips=2", "-o", "METRIC.name=MultiCropMetric")
    assert proc.returncode == 0, proc.stderr[-3000:]
    top1, top5, mca, count = TEST_RE.search(proc.stdout).groups()
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert int(count) == len(rows) == 8
    scores = np.array([r["scores"] for r in rows])
    labels = np.array([r["label"] for r in rows])
    assert float(top1) == pytest.approx(topk_correct(scores, labels, 1).mean(), abs=5e-5)
    assert float(top5) == pytest.approx(topk_correct(scores, labels, 5).mean(), abs=5e-5)
    assert float(mca) == pytest.approx(mean_class_accuracy(scores, labels), abs=5e-5)

    from paddlevideo_tsm.loader.datasets import build_dataset
    from paddlevideo_tsm.modeling import build_model, load_checkpoint
    from paddlevideo_tsm.config import get_config
    cfg = get_config(trained["cfg"], ["PIPELINE.test.transform.1={ThreeCrop: {target_size: 32}}"])
    ds = build_dataset(cfg.DATASET.test, cfg.PIPELINE.test, test_mode=True, num_clips=2)
    views, label, _ = ds[rows[3]["index"]]
    assert views.shape[0] == 6 and ds.entries[rows[3]["index"]].path == rows[3]["filename"]
    model = build_model(cfg.MODEL)
    load_checkpoint(model, str(weights))
    model.eval()
    with paddle.no_grad():
        per_view = model(paddle.to_tensor(views)).numpy()  # the 6 views as a batch of clips
    np.testing.assert_allclose(rows[3]["scores"], per_view.mean(axis=0), rtol=1e-4, atol=1e-4)
    assert rows[3]["label"] == int(label[0])


def test_test_after_train_tests_the_best_checkpoint(trained, tmp_path):
    # test_after_train: the run ends with the test of its best checkpoint, the same as --test -w best
    out = tmp_path / "after"
    proc = run_main("-c", trained["cfg"], "--validate", "--output", out, "-o", "epochs=2",
                    "-o", "test_after_train=True")
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = out / "tiny_tsm_best.pdparams"
    assert f"test_after_train: testing {best}" in proc.stdout
    after = TEST_RE.search(proc.stdout.split("test_after_train:")[1]).groups()
    alone = run_main("-c", trained["cfg"], "--test", "-w", best)
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert TEST_RE.search(alone.stdout).groups() == after


@pytest.fixture
def small_cfg(trained, tmp_path):
    return trained["cfg"]


@pytest.mark.parametrize("args, needle", [
    (["--test"], "--test needs the weights"),
    (["-o", "epochs=many"], "override key 'epochs' expects int"),
    (["-o", "DATASET.train.file_path=/no/such.list"], "/no/such.list"),
    (["--test", "-w", "/no/such.pdparams"], "/no/such.pdparams: weights file not found"),
    (["--resume", "/no/run_epoch_00001.pdparams"], "/no/run_epoch_00001.pdstate"),
    (["-o", "MODEL.backbone.name=ResNetX"],
     "MODEL.backbone.name: unknown backbone 'ResNetX'; registered backbones: " + ", ".join(sorted(BACKBONES))),
    (["-o", "OPTIMIZER.learning_rate.name=StepDecay"], "OPTIMIZER.learning_rate.name: unknown schedule"),
])
def test_user_errors_are_one_line_exit_2(small_cfg, args, needle, capsys):
    rc = main_py.main(["-c", small_cfg, *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("error: ") and needle in err[-1]
    assert not any("Traceback" in line for line in err), err


def test_setup_amp_wiring_with_a_gpu_pretended(monkeypatch):
    model = paddle.nn.Linear(4, 2)
    opt = paddle.optimizer.SGD(0.1, parameters=model.parameters())
    calls, scalers = [], []

    def spy_decorate(models, optimizers, level):
        calls.append(level)
        return models, optimizers

    class SpyGradScaler:
        def __init__(self, **kwargs):
            scalers.append(kwargs)

    monkeypatch.setattr(amp_mod.paddle.amp, "decorate", spy_decorate)
    monkeypatch.setattr(amp_mod.paddle.amp, "GradScaler", SpyGradScaler)
    _, _, state = amp_mod.setup_amp(model, opt, True, "O2", gpu_available=lambda: True)
    assert calls == ["O2"] and state.enabled and state.level == "O2"
    # dynamic loss scaling from 2**16 (a real GradScaler turns itself off on a CPU place)
    assert isinstance(state.scaler, SpyGradScaler) and scalers == [{"init_loss_scaling": 2.0 ** 16}]
    _, _, state = amp_mod.setup_amp(model, opt, True, "O1", gpu_available=lambda: True)
    assert calls == ["O2"] and state.level == "O1"  # O1 does not decorate
    _, _, off = amp_mod.setup_amp(model, opt, True, "O2", gpu_available=lambda: False)
    assert not off.enabled and off.scaler is None and calls == ["O2"]


class SpyScaler:
    """A GradScaler stand-in: scales the loss by 4 and records its calls."""

    def __init__(self):
        self.calls = []

    def scale(self, loss):
        self.calls.append("scale")
        return loss * 4.0

    def step(self, opt):
        self.calls.append("step")
        opt.step()

    def update(self):
        self.calls.append("update")


def linear_step():
    """(a recognizer's train_step on a Linear(3, 2): forward + loss, its layer, an SGD(0.1) on it)."""
    net = paddle.nn.Linear(3, 2)

    def step(batch):
        scores = net(batch[0])
        return {"loss": scores.mean(), "top1": scores.mean(), "top5": scores.mean()}
    return step, net, paddle.optimizer.SGD(0.1, parameters=net.parameters())


def test_train_step_goes_through_the_scaler():
    step, net, opt = linear_step()
    state = amp_mod.AmpState(enabled=False, scaler=SpyScaler())
    before = net.bias.numpy().copy()
    train_one_step(step, opt, [paddle.ones([2, 3]), paddle.zeros([2, 1])], state)
    assert state.scaler.calls == ["scale", "step", "update"]
    # d(4 * mean)/d bias = 4 / 2 per class: the scaled loss's gradient reached the update
    np.testing.assert_allclose(net.bias.numpy(), before - 0.1 * 2.0, rtol=1e-6)


def test_accumulating_step_scales_each_batch_and_updates_once():
    step, net, opt = linear_step()
    state = amp_mod.AmpState(enabled=False, scaler=SpyScaler())
    before = net.bias.numpy().copy()
    batch = [paddle.ones([2, 3]), paddle.zeros([2, 1])]
    out = train_one_step(step, opt, batch, state, accum_steps=2, update=False)
    np.testing.assert_array_equal(net.bias.numpy(), before)  # no update yet
    assert out["loss"].item() == pytest.approx(step(batch)["loss"].item())  # the batch's own loss is reported
    train_one_step(step, opt, batch, state, accum_steps=2, update=True)
    assert state.scaler.calls == ["scale", "scale", "step", "update"]
    # two batches' d(4 * mean / 2)/d bias = 4 / 2 / 2 each, summed: the mean gradient of the two, once
    np.testing.assert_allclose(net.bias.numpy(), before - 0.1 * 2.0, rtol=1e-6)
    assert net.bias.grad is None or not np.any(net.bias.grad.numpy())  # cleared after the update


def test_failed_test_videos_are_reported_and_counted_out(trained, tmp_path, capsys):
    # 2 of 10 fail, above the default max_bad_fraction 0.1 (a training limit): the test still reports
    lines = (trained["demo"] / "test_frames.list").read_text().splitlines()
    bad_list = tmp_path / "test_bad.list"
    bad_list.write_text("\n".join(lines[:5] + ["frames/test/ghost_clip 8 3"] + lines[5:] + ["frames/test/lost 8 1"]) + "\n")
    results = tmp_path / "r.jsonl"
    rc = main_py.main(["-c", trained["cfg"], "--test", "-w", str(trained["out"] / "tiny_tsm_best.pdparams"),
                       "-o", f"DATASET.test.file_path={bad_list}", "--save_results", str(results)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "ghost_clip" in out and "lost" in out and "2 failed to load and counted out" in out
    top1, _, _, count = TEST_RE.search(out).groups()
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    failed = [r for r in rows if r["scores"] is None]
    assert len(rows) == 10 and [r["index"] for r in failed] == [5, 9]
    assert [r["filename"].split("/")[-1] for r in failed] == ["ghost_clip", "lost"]
    good = [r for r in rows if r["scores"] is not None]
    assert int(count) == len(good) == 8
    scores, labels = np.array([r["scores"] for r in good]), np.array([r["label"] for r in good])
    assert float(top1) == pytest.approx(topk_correct(scores, labels, 1).mean(), abs=5e-5)


def test_bad_validation_clip_is_counted_out_and_the_epoch_kept(trained, tmp_path, capsys):
    """1 bad of 9 validation clips: the epoch's checkpoint is saved, the clip is named and left out
    (not replaced by another), and [VALID] equals --test of the same weights on the 8 good clips."""
    good_list = trained["demo"] / "val_frames.list"
    lines = good_list.read_text().splitlines()
    bad_list = tmp_path / "val_bad.list"
    bad_list.write_text("\n".join(lines[:2] + ["frames/val/ghost_clip 8 3"] + lines[2:]) + "\n")
    out = tmp_path / "o"
    rc = main_py.main(["-c", trained["cfg"], "--validate", "--output", str(out), "-o", "epochs=1",
                       "-o", "save_interval=1", "-o", f"DATASET.valid.file_path={bad_list}"])
    log = capsys.readouterr().out
    assert rc == 0
    assert (out / "tiny_tsm_epoch_00001.pdstate").is_file() and (out / "tiny_tsm_best.pdparams").is_file()
    assert re.search(r"valid epoch 1: excluded 1 bad samples: \S+/frames/val/ghost_clip \(", log)
    valid = VALID_RE.search(log)
    assert int(valid.group(4)) == 8 and ", 1 failed to load and counted out" in log
    rc = main_py.main(["-c", trained["cfg"], "--test", "-w", str(out / "tiny_tsm_epoch_00001.pdparams"),
                       "-o", f"DATASET.test.file_path={good_list}"])
    top1 = TEST_RE.search(capsys.readouterr().out).group(1)
    assert rc == 0 and float(valid.group(2)) == pytest.approx(float(top1), abs=6e-5)


def test_bad_training_data_in_a_worker_is_one_line(trained, tmp_path, capfd):
    lines = (trained["demo"] / "train_frames.list").read_text().splitlines()
    bad_list = tmp_path / "train_bad.list"
    bad_list.write_text("\n".join(lines[:3] + ["frames/train/ghost_clip 8 3"] + lines[3:]) + "\n")
    rc = main_py.main(["-c", trained["cfg"], "--output", str(tmp_path / "o"), "-o", f"DATASET.train.file_path={bad_list}",
                       "-o", "max_bad_fraction=0.0", "-o", "DATASET.num_workers=2"])
    err = [ln for ln in capfd.readouterr().err.splitlines() if "ccache" not in ln and "warnings.warn" not in ln]
    assert rc == 2
    assert err == [f"error: {bad_list}: 1 of 17 samples (5.9%) failed to load this epoch, above "
                   f"max_bad_fraction 0.0: {trained['demo']}/frames/train/ghost_clip"], err


def test_cli_flags_reach_the_trainer(small_cfg, monkeypatch):
    import paddlevideo_tsm.tasks as tasks
    seen = {}
    monkeypatch.setattr(tasks, "train_model", lambda cfg, **kw: seen.update(kw, epochs=cfg["epochs"]))
    rc = main_py.main(["-c", small_cfg, "--amp", "--amp_level", "O2", "--validate", "--seed", "11",
                       "--resume", "auto", "--max_iters", "7", "--output", "/tmp/x", "--use_visualdl",
                       "-w", "init.pdparams", "-o", "epochs=9"])
    assert rc == 0
    assert seen == {"weights": "init.pdparams", "validate": True, "amp": True, "amp_level": "O2",
                    "max_iters": 7, "output": "/tmp/x", "resume": "auto", "use_visualdl": True, "seed": 11,
                    "epochs": 9}
