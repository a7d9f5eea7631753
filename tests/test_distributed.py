"""Two CPU ranks (paddle.distributed.launch, gloo) vs one process with the same total batch.

BatchNorm in training mode normalises each rank's half-batch with its own statistics, so two
ranks and one process compute different gradients by design; the test model runs its BN in
eval mode (``norm_eval``) and without dropout, where the equality holds exactly in exact
arithmetic and to float rounding here.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from _tiny_training import make_demo, tiny_config, write_config

ROOT = Path(__file__).resolve().parents[1]
WORKER = str(Path(__file__).resolve().parent / "_dist_worker.py")
VALID_RE = re.compile(r"\[VALID\] epoch:2 loss: ([\d.]+) top1: ([\d.]+) top5: ([\d.]+) over (\d+) clips")
TEST_RE = re.compile(r"\[TEST\] top1: ([\d.]+) top5: ([\d.]+) mean_class_acc: ([\d.]+) \((\d+) videos")


def run(cmd, env=None):
    env = dict(os.environ, **(env or {}))
    env.pop("PADDLE_TRAINER_ID", None)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    demo = make_demo(tmp / "demo", train=1, val=1, test=1)
    # 7 of the 8 val/test clips: two ranks get 4 each, one of them a repeat that must count once
    for split in ("val", "test"):
        lines = (demo / f"{split}_frames.list").read_text().splitlines()[:7]
        (demo / f"{split}7.list").write_text("\n".join(lines) + "\n")
    out = {}
    for name, per_rank, nproc in (("single", 8, 1), ("two", 4, 2)):
        cfg = tiny_config(demo, epochs=2, batch_size=per_rank, drop_ratio=0.0, cpu_threads=1)
        cfg["MODEL"]["backbone"]["norm_eval"] = True
        cfg["DATASET"]["valid_batch_size"] = 3
        cfg["DATASET"]["valid"]["file_path"] = str(demo / "val7.list")
        cfg["DATASET"]["test"]["file_path"] = str(demo / "test7.list")
        path = write_config(tmp / f"{name}.yaml", cfg)
        o = tmp / name
        o.mkdir()
        args = [WORKER, str(o), "tiny_tsm_epoch_00002.pdparams", "-c", path, "--validate",
                "--output", str(o), "--seed", "5"]
        if nproc == 1:
            proc = run([sys.executable, *args])
        else:
            proc = run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                        "--log_dir", str(o / "log"), *args])
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        logs = proc.stdout if nproc == 1 else [(o / "log" / f"workerlog.{r}").read_text() for r in range(2)]
        out[name] = {"dir": o, "logs": logs}
    return out


def test_ranks_agree_and_match_one_process(runs):
    two, single = runs["two"]["dir"], runs["single"]["dir"]
    r0, r1 = paddle.load(str(two / "rank0.pdparams")), paddle.load(str(two / "rank1.pdparams"))
    ref = paddle.load(str(single / "rank0.pdparams"))
    init_moved = False
    for k in ref:
        np.testing.assert_array_equal(r0[k].numpy(), r1[k].numpy(), err_msg=k)
        np.testing.assert_allclose(r0[k].numpy(), ref[k].numpy(), rtol=1e-4, atol=1e-6, err_msg=k)
    # rank 0's checkpoint is what it trained; the weights did change from their init in two steps
    ck = paddle.load(str(two / "tiny_tsm_epoch_00002.pdparams"))
    first = paddle.load(str(two / "tiny_tsm_epoch_00001.pdparams"))
    for k in ref:
        np.testing.assert_array_equal(ck[k].numpy(), r0[k].numpy(), err_msg=k)
        init_moved |= not np.array_equal(first[k].numpy(), ck[k].numpy())
    assert init_moved


def test_validation_gathers_every_clip_once(runs):
    single = VALID_RE.search(runs["single"]["logs"]).groups()
    two = VALID_RE.search(runs["two"]["logs"][0]).groups()
    assert int(single[3]) == int(two[3]) == 7
    np.testing.assert_allclose([float(v) for v in two[:3]], [float(v) for v in single[:3]], atol=2e-5)


def test_test_metric_gathered_across_ranks(runs):
    single = TEST_RE.search(runs["single"]["logs"]).groups()
    two = TEST_RE.search(runs["two"]["logs"][0]).groups()
    assert int(two[3]) == 7
    assert two[:3] == single[:3]


def test_only_rank0_logs_info(runs):
    rank0, rank1 = runs["two"]["logs"]
    assert "[VALID]" in rank0 and "train iter:" in rank0
    assert "INFO" not in rank1
