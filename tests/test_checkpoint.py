"""Checkpoints: full round trip (model, optimizer, lr, RNGs) and atomic writes under failures/kills."""
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddlevideo_tsm.errors import CheckpointError
from paddlevideo_tsm.solver import build_lr, build_optimizer
from paddlevideo_tsm.tasks import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]


def small_setup(seed=0):
    paddle.seed(seed)
    model = paddle.nn.Sequential(paddle.nn.Linear(5, 8), paddle.nn.BatchNorm1D(8), paddle.nn.Linear(8, 3))
    sched = build_lr({"name": "PiecewiseDecay", "boundaries": [1], "values": [0.1, 0.01]}, steps_per_epoch=2)
    opt = build_optimizer({"name": "Momentum", "momentum": 0.9}, sched, model.parameters())
    return model, sched, opt


def train_steps(model, sched, opt, n):
    for _ in range(n):
        model(paddle.rand([4, 5])).sum().backward()  # paddle RNG drives the data
        opt.step()
        opt.clear_grad()
        sched.step()


def draws():
    return np.random.rand(3).tolist(), random.random(), paddle.rand([3]).numpy().tolist()


def test_round_trip_restores_model_optimizer_lr_and_rngs(tmp_path):
    model, sched, opt = small_setup()
    train_steps(model, sched, opt, 3)
    prefix = ckpt.save_checkpoint(ckpt.checkpoint_prefix(tmp_path, "m", 3), model, opt, 3, best=0.25)
    assert Path(prefix).name == "m_epoch_00003"
    after_save = draws()
    train_steps(model, sched, opt, 2)
    want = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model2, sched2, opt2 = small_setup(seed=99)  # different init, RNGs elsewhere
    state = ckpt.load_training_state(ckpt.find_latest(str(tmp_path), "m"), model2, opt2)
    assert state["epoch"] == 3 and state["best"] == 0.25
    assert sched2.last_epoch == 3 and sched2() == pytest.approx(0.01)
    assert draws() == after_save  # numpy, python and paddle streams continue where they were saved
    train_steps(model2, sched2, opt2, 2)  # momentum buffers restored too, or this would diverge
    for k, v in model2.state_dict().items():
        np.testing.assert_allclose(v.numpy(), want[k], rtol=1e-6, err_msg=k)


def test_state_file_is_json_and_restores_identical_streams(tmp_path):
    """No pickle: the .pdstate is plain JSON, and the numpy/python/paddle streams restored from it
    continue exactly (numpy's cached gaussian and python's gauss_next included)."""
    np.random.seed(4)
    random.seed(4)
    paddle.seed(4)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's legacy state
    random.gauss(0, 1)           # and python's gauss_next
    model, _, opt = small_setup()
    prefix = ckpt.save_checkpoint(str(tmp_path / "m_epoch_00002"), model, opt, 2, best=0.5,
                                  extra={"iters": 0, "run_id": "r1"})
    state = json.loads(Path(prefix + ".pdstate").read_text())
    assert state["epoch"] == 2 and state["best"] == 0.5 and state["run_id"] == "r1"
    want = (np.random.standard_normal(4).tolist(), random.gauss(0, 1), draws())
    np.random.seed(0)
    random.seed(0)
    paddle.seed(0)
    ckpt.load_training_state(prefix, model, opt)
    assert (np.random.standard_normal(4).tolist(), random.gauss(0, 1), draws()) == want


CRAFTED = textwrap.dedent("""
    import os, pickle, sys
    class RunsCode:
        def __reduce__(self):
            return (os.system, ("touch " + sys.argv[2],))
    with open(sys.argv[1], "wb") as f:
        pickle.dump({"epoch": 1, "rng": RunsCode()}, f, protocol=4)
""")


def crafted_state(path, marker):
    """Write a pickled .pdstate at ``path`` whose unpickling would create ``marker``."""
    script = Path(path).with_name("craft.py")
    script.write_text(CRAFTED)
    subprocess.run([sys.executable, str(script), str(path), str(marker)], check=True)


def test_crafted_pickle_state_runs_no_code(tmp_path):
    model, _, opt = small_setup()
    prefix = ckpt.save_checkpoint(str(tmp_path / "m_epoch_00001"), model, opt, 1)
    marker = tmp_path / "code_ran"
    crafted_state(prefix + ".pdstate", marker)
    with pytest.raises(CheckpointError) as err:
        ckpt.load_training_state(prefix, model, opt)
    assert not marker.exists()
    assert str(err.value) == (f"{prefix}.pdstate: a pickled training state (the old, unsafe format: reading "
                              f"it could run code), not read; resume from a checkpoint written by this version")


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, sched, opt = small_setup()
    ckpt.save_checkpoint(ckpt.checkpoint_prefix(tmp_path, "m", 1), model, opt, 1)
    saved = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    train_steps(model, sched, opt, 2)

    real_save = paddle.save

    def dying_save(obj, path, *a, **kw):
        if str(path).find(".pdopt") >= 0:
            Path(path).write_bytes(b"half a file")  # partial bytes, then the process 'dies'
            raise KeyboardInterrupt("killed while saving")
        return real_save(obj, path, *a, **kw)

    monkeypatch.setattr(ckpt.paddle, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(ckpt.checkpoint_prefix(tmp_path, "m", 2), model, opt, 2)
    monkeypatch.setattr(ckpt.paddle, "save", real_save)

    assert not list(tmp_path.glob(".*tmp*"))  # the temp file was cleaned up
    assert not (tmp_path / "m_epoch_00002.pdstate").exists()  # epoch 2 never became complete
    latest = ckpt.find_latest(str(tmp_path), "m")
    assert latest == str(tmp_path / "m_epoch_00001")
    model2, _, opt2 = small_setup(seed=5)
    assert ckpt.load_training_state(latest, model2, opt2)["epoch"] == 1
    for k, v in model2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), saved[k])


def test_overwriting_an_epoch_invalidates_it_until_done(tmp_path, monkeypatch):
    model, sched, opt = small_setup()
    prefix = ckpt.checkpoint_prefix(tmp_path, "m", 1)
    ckpt.save_checkpoint(prefix, model, opt, 1)

    def dying_save(obj, path, *a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.paddle, "save", dying_save)
    # one line naming the file (main.py prints it as 'error: ...', exit 2)
    with pytest.raises(CheckpointError, match=r"^\S+m_epoch_00001\.pdparams: cannot write \(disk full\); "
                                              r"the checkpoints saved before are intact$"):
        ckpt.save_checkpoint(prefix, model, opt, 1)
    # the old .pdparams is intact but no longer paired with a state: not offered for resume
    assert ckpt.find_latest(str(tmp_path), "m") is None


KILLER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import paddle
    from paddlevideo_tsm.tasks import checkpoint as ckpt
    paddle.seed(0)
    model = paddle.nn.Linear(800, 800)  # ~2.5 MB per file: saves take a while
    opt = paddle.optimizer.Momentum(0.1, parameters=model.parameters())
    model(paddle.rand([2, 800])).sum().backward(); opt.step()
    out = sys.argv[1]
    ckpt.save_checkpoint(ckpt.checkpoint_prefix(out, "k", 1), model, opt, 1)
    print("ready", flush=True)
    epoch = 2
    while True:
        with paddle.no_grad():
            model.weight.set_value(model.weight + 1.0)
        ckpt.save_checkpoint(ckpt.checkpoint_prefix(out, "k", epoch), model, opt, epoch)
        epoch += 1
""")


@pytest.mark.parametrize("delay", [0.2])
def test_kill_during_saves_leaves_a_loadable_checkpoint(tmp_path, delay):
    script = tmp_path / "saver.py"
    script.write_text(KILLER.format(root=str(ROOT)))
    out = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    latest = ckpt.find_latest(str(out), "k")
    assert latest is not None
    model = paddle.nn.Linear(800, 800)
    opt = paddle.optimizer.Momentum(0.1, parameters=model.parameters())
    state = ckpt.load_training_state(latest, model, opt)
    # weights were bumped by exactly 1.0 per epoch after epoch 1: the three files belong together
    first = paddle.load(str(out / "k_epoch_00001.pdparams"))["weight"].numpy()
    np.testing.assert_allclose(model.weight.numpy(), first + (state["epoch"] - 1), rtol=1e-5)


def test_resolve_prefix_and_bad_state(tmp_path):
    assert ckpt.resolve_prefix("a/b_epoch_00002.pdopt") == "a/b_epoch_00002"
    assert ckpt.resolve_prefix("a/b_epoch_00002") == "a/b_epoch_00002"
    model, sched, opt = small_setup()
    prefix = ckpt.save_checkpoint(str(tmp_path / "m_epoch_00001"), model, opt, 1)
    text = Path(prefix + ".pdstate").read_text()
    Path(prefix + ".pdstate").write_text(text[: len(text) // 2])  # cut while writing by hand
    with pytest.raises(CheckpointError, match=r"m_epoch_00001\.pdstate: cannot read training state \(not JSON"):
        ckpt.load_training_state(prefix, model, opt)
    Path(prefix + ".pdstate").write_text('{"epoch": 1}')
    with pytest.raises(CheckpointError, match=r"not a training state of this project"):
        ckpt.load_training_state(prefix, model, opt)
    os.remove(prefix + ".pdopt")
    with pytest.raises(CheckpointError, match=r"\.pdopt: checkpoint file not found"):
        ckpt.load_training_state(prefix, model, opt)
