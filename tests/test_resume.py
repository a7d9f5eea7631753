"""Resume equivalence: an uninterrupted 2-epoch run == a run stopped by --max_iters (inside an epoch or
at its end), then --resume auto to the end (main.py runs).

(A missing --resume checkpoint is checked with the other user errors in test_main_smoke.py.)
"""
import json
import re

import numpy as np
import paddle
import pytest

from _tiny_training import make_demo, run_main, tiny_config, write_config

NAME = "tiny_tsm"


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """2 epochs of 4 iterations in one run, and its config."""
    tmp = tmp_path_factory.mktemp("resume")
    demo = make_demo(tmp / "demo")
    # dropout, random crops/flips and shuffling all draw random numbers: the resumed run must restore them
    cfg = write_config(tmp / "tiny.yaml", tiny_config(demo, epochs=2, drop_ratio=0.5))
    proc = run_main("-c", cfg, "--output", tmp / "straight", "--seed", 3)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {"cfg": cfg, "out": tmp / "straight"}


def load(path):
    return {k: v.numpy() for k, v in paddle.load(str(path)).items()}


@pytest.mark.parametrize("stop, saved, workers", [
    (3, ["tiny_tsm_epoch_00001_iter_00003"], 0),  # inside epoch 1: no complete epoch yet
    (6, ["tiny_tsm_epoch_00001", "tiny_tsm_epoch_00002_iter_00002"], 2),  # resumed with 2 loader workers
    (4, ["tiny_tsm_epoch_00001"], 0),  # at the end of epoch 1
])
def test_stop_and_resume_gives_identical_weights(straight, tmp_path, stop, saved, workers):
    out = tmp_path / "split"
    first = run_main("-c", straight["cfg"], "--output", out, "--seed", 3, "--max_iters", stop)
    assert first.returncode == 0, first.stderr[-2000:]
    # an unfinished epoch is not saved as complete
    assert sorted(p.name for p in out.glob("tiny_tsm_epoch_*.pdstate")) == [s + ".pdstate" for s in saved]
    cut = saved[-1]
    state = json.loads((out / (cut + ".pdstate")).read_text())
    assert (state["epoch"], state["iters"]) == (stop // 4, stop % 4)  # complete epochs, iterations after

    second = run_main("-c", straight["cfg"], "--output", out, "--seed", 3, "--resume", "auto",
                      "-o", f"DATASET.num_workers={workers}")
    assert second.returncode == 0, second.stderr[-2000:]
    epoch, it = stop // 4 + 1, stop % 4
    assert f"continuing at epoch {epoch}" + (f" after its iteration {it}" if it else "") in second.stdout
    iters = [int(x) for x in re.findall(r"train iter:(\d+)/4", second.stdout)]
    assert len(iters) == 8 - stop and iters[0] == it + 1  # the rest of the stopped epoch, then on

    a, b = load(straight["out"] / f"{NAME}_epoch_00002.pdparams"), load(out / f"{NAME}_epoch_00002.pdparams")
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # the mid-epoch checkpoint is superseded by the complete one and removed
    assert sorted(p.name for p in out.glob("*.pdstate")) == [f"{NAME}_epoch_00001.pdstate", f"{NAME}_epoch_00002.pdstate"]
    # and training did move the weights (the comparison is not between two untouched inits)
    e1 = load(out / f"{NAME}_epoch_00001.pdparams")
    assert not np.array_equal(e1["head.fc.weight"], a["head.fc.weight"])
