"""accum_steps through main.py (one process): an epoch of whole optimizer steps, --max_iters stops on
a step boundary and --resume continues it exactly, a cut checkpoint refuses another layout, and a
complete epoch's checkpoint continues under another layout with the lr schedule at its place.

16 training clips, batch 2: 8 batches an epoch; accum_steps 3 uses 6 of them (2 optimizer steps).
"""
import json
import re

import numpy as np
import paddle
import pytest

import main as main_py
from _tiny_training import make_demo, tiny_config, write_config

NAME = "tiny_tsm"
LR_RE = re.compile(r"epoch:\[\s*(\d)/2\] train iter:(\d+)/(\d+) .* lr: ([\d.e-]+) ")


def main(capsys, *args):
    code = main_py.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def load(path):
    return {k: v.numpy() for k, v in paddle.load(str(path)).items()}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("accum")
    demo = make_demo(tmp / "demo")  # 2 clips a class: 16
    # dropout and random crops draw random numbers: an exact resume restores them
    cfg = write_config(tmp / "c.yaml", tiny_config(demo, epochs=2, batch_size=2, accum_steps=3))
    return {"cfg": cfg, "tmp": tmp}


@pytest.fixture(scope="module")
def straight(setup):
    out = setup["tmp"] / "straight"
    code = main_py.main(["-c", setup["cfg"], "--output", str(out), "--seed", "3"])
    assert code == 0
    return out


def test_epoch_of_whole_steps_and_exact_resume_from_a_stop(setup, straight, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "split"
    code, log, _ = main(capsys, "-c", setup["cfg"], "--output", out, "--seed", 3, "--max_iters", 2)
    assert code == 0
    assert "accum_steps 3: an epoch uses 6 of its 8 batches per process, 2 optimizer steps" in log
    assert "--max_iters 2 rounded up to 3: a stop falls on an optimizer step (accum_steps 3)" in log
    assert [int(i) for _, i, n, _ in LR_RE.findall(log)] == [1, 2, 3]
    cut = out / f"{NAME}_epoch_00001_iter_00003.pdstate"
    state = json.loads(cut.read_text())
    assert (state["epoch"], state["iters"]) == (0, 3)
    assert state["layout"] == {"batch_size": 2, "world_size": 1, "accum_steps": 3}

    # another layout cannot continue inside the epoch: the rest of it is read by batch position
    code, _, err = main(capsys, "-c", setup["cfg"], "--output", out, "--seed", 3, "--resume", "auto",
                        "-o", "accum_steps=1")
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"error: {out}/{NAME}_epoch_00001_iter_00003.pdstate: cut inside epoch 1 after 3 iterations of 6 clips per "
        f"optimizer step (2 per process x 1 process x 3 accumulation steps); this run has 2 clips per optimizer step "
        f"(2 per process x 1 process x 1 accumulation step): resume with that layout, or from a complete epoch's "
        f"checkpoint (--resume PATH)")

    code, log, _ = main(capsys, "-c", setup["cfg"], "--output", out, "--seed", 3, "--resume", "auto")
    assert code == 0
    assert "continuing at epoch 1 after its iteration 3" in log
    ran = [(int(e), int(i), int(n)) for e, i, n, _ in LR_RE.findall(log)]
    assert ran == [(1, 4, 6), (1, 5, 6), (1, 6, 6)] + [(2, i, 6) for i in range(1, 7)]
    a, b = load(straight / f"{NAME}_epoch_00002.pdparams"), load(out / f"{NAME}_epoch_00002.pdparams")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_complete_epoch_continues_under_another_layout(setup, straight, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "relayout"
    out.mkdir()
    for f in [f"{NAME}_epoch_00001{s}" for s in (".pdparams", ".pdopt", ".pdstate")] + ["run.json"]:
        (out / f).write_bytes((straight / f).read_bytes())
    code, log, _ = main(capsys, "-c", setup["cfg"], "--output", out, "--seed", 3, "--resume", "auto",
                        "-o", "accum_steps=1")
    assert code == 0
    assert ("the checkpoint was trained with 6 clips per optimizer step (2 per process x 1 process x 3 "
            "accumulation steps); continuing with 2 clips per optimizer step (2 per process x 1 process x 1 "
            "accumulation step)") in log
    # PiecewiseDecay boundary at epoch 1: the whole of epoch 2 at the second value (0.005 x no scaling),
    # though the checkpoint's schedule had counted 2 steps and an epoch is now 8
    lrs = [(int(e), float(lr)) for e, _, _, lr in LR_RE.findall(log)]
    assert len(lrs) == 8 and all(e == 2 and lr == pytest.approx(0.005) for e, lr in lrs)
