"""One effective batch of 4 clips, split five ways, trains the same weights (CPU, gloo):

- 1 process x batch 4 (the reference, with validation and test),
- 1 process x batch 2 x accum_steps 2,
- 2 processes x batch 2 (paddle.distributed.launch --nproc_per_node 2, with validation and test),
- 2 nodes x 1 process x batch 2 (two launches on this machine: --nnodes 2 --master 127.0.0.1:PORT),
- 2 processes x batch 1 x accum_steps 2 under tools/launch_restart.py, rank 1 killed (SIGKILL) in
  the middle of epoch 2 and of an accumulation: the launch is restarted and resumes from epoch 1.

BatchNorm in training mode normalises each process's batch with its own statistics, so the
layouts compute different gradients by design; the test model runs its BN in eval mode
(``norm_eval``) and without dropout, where the equality holds in exact arithmetic and to float
rounding here. The samples of a step are the same in every layout (loader.RankBatchSampler), so
the 8 training clips give 2 optimizer steps an epoch everywhere, and the lr (scaled to the
effective batch from base_batch_size 8) steps down after epoch 1 in optimizer steps.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paddle
import pytest

from _tiny_training import make_demo, tiny_config, write_config

ROOT = Path(__file__).resolve().parents[1]
WORKER = str(Path(__file__).resolve().parent / "_dist_worker.py")
VALID_RE = re.compile(r"\[VALID\] epoch:2 loss: ([\d.]+) top1: ([\d.]+) top5: ([\d.]+) over (\d+) clips")
TEST_RE = re.compile(r"\[TEST\] top1: ([\d.]+) top5: ([\d.]+) mean_class_acc: ([\d.]+) \((\d+) videos")
BATCH_RE = re.compile(r"effective batch: (\d+) clips per optimizer step \((\d+) per process x (\d+) process(?:es)? "
                      r"x (\d+) accumulation steps?\); lr x([\d.e-]+) = \d+/(\d+) \(OPTIMIZER.lr_scale_by_batch"
                      r".base_batch_size\): values \[([^\]]*)\]")
LR_RE = re.compile(r"epoch:\[\s*(\d)/2\] train iter:\d+/\d+ .* lr: ([\d.e-]+) ")
BASE_VALUES, BASE_BATCH = [0.05, 0.005], 8  # tiny_config's PiecewiseDecay, and the batch it is meant for
NAME = "tiny_tsm"
# name -> (clips per process, processes, nodes, accum_steps, validate and test)
LAYOUTS = {"single": (4, 1, 1, 1, True), "accum": (2, 1, 1, 2, False), "two": (2, 2, 1, 1, True),
           "nodes": (2, 1, 2, 1, False), "restart": (1, 2, 1, 2, False)}


def env():
    e = dict(os.environ)
    e.pop("PADDLE_TRAINER_ID", None)
    return e


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_args(log_dir, nproc):
    return ["--nproc_per_node", str(nproc), "--log_dir", str(log_dir)]


def node_commands(o, log, args):
    """Two launches on this machine acting as nodes 0 and 1 of one job (1 process each) -> [(argv, cwd)].
    Each runs in a folder of its own, o/node0 and o/node1: a relative --output is then a folder of
    each node's own, as on two machines."""
    master = f"127.0.0.1:{free_port()}"
    for r in (0, 1):
        (o / f"node{r}").mkdir(exist_ok=True)
    return [([sys.executable, "-m", "paddle.distributed.launch", "--nnodes", "2", "--master", master, "--rank",
              str(r), *launch_args(o / f"{log}{r}", 1), *args], o / f"node{r}") for r in (0, 1)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    demo = make_demo(tmp / "demo", train=1, val=1, test=1)
    # 7 of the 8 val/test clips: two ranks get 4 each, one of them a repeat that must count once
    for split in ("val", "test"):
        lines = (demo / f"{split}_frames.list").read_text().splitlines()[:7]
        (demo / f"{split}7.list").write_text("\n".join(lines) + "\n")
    out, procs, started = {}, {}, time.time()
    for name, (per_process, nproc, nodes, accum, evaluate) in LAYOUTS.items():
        cfg = tiny_config(demo, epochs=2, batch_size=per_process, drop_ratio=0.0, cpu_threads=1, accum_steps=accum)
        cfg["MODEL"]["backbone"]["norm_eval"] = True
        cfg["OPTIMIZER"]["lr_scale_by_batch"] = {"base_batch_size": BASE_BATCH}
        cfg["DATASET"]["valid_batch_size"] = 3
        cfg["DATASET"]["valid"]["file_path"] = str(demo / "val7.list")
        cfg["DATASET"]["test"]["file_path"] = str(demo / "test7.list")
        path = write_config(tmp / f"{name}.yaml", cfg)
        o = tmp / name
        o.mkdir()
        args = [WORKER, str(o), f"out/{NAME}_epoch_00002.pdparams" if evaluate else "-", "-c", path,
                "--output", str(o / "out"), "--seed", "5"] + (["--validate"] if evaluate else [])
        run_env = env()
        if name == "restart":
            run_env["PVTSM_TEST_KILL"] = "1:6"  # rank 1, epoch 2's second iteration (4 an epoch)
            cmd = [([sys.executable, str(ROOT / "tools" / "launch_restart.py"), "--max_restart", "1",
                     *launch_args(o / "log", nproc), *args, "--resume", "auto"], ROOT)]
        elif nodes == 2:  # --output out: o/node0/out, and o/node1/out, which only rank 0 would write
            cmd = node_commands(o, "log", [a if a != str(o / "out") else "out" for a in args])
        elif nproc == 2:
            cmd = [([sys.executable, "-m", "paddle.distributed.launch", *launch_args(o / "log", 2), *args], ROOT)]
        else:
            cmd = [([sys.executable, *args], ROOT)]
        # all at once: much of a launch is waiting (rendezvous, the launcher's polling)
        procs[name] = [subprocess.Popen(c, cwd=cwd, env=run_env, stdout=open(o / f"stdout{i}", "w"),
                                        stderr=open(o / f"stderr{i}", "w")) for i, (c, cwd) in enumerate(cmd)]
    # once the nodes have trained, both again with --resume auto (test_nodes_resume_only_from_...)
    o = tmp / "nodes"
    assert [p.wait(timeout=600) for p in procs["nodes"]] == [0, 0], (o / "stderr0").read_text()[-3000:]
    args = [WORKER, str(o), "-", "-c", str(tmp / "nodes.yaml"), "--seed", "5", "--output", "out", "--resume", "auto"]
    resumed = [subprocess.Popen(c, cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for c, cwd in node_commands(o, "resume_log", args)]
    for name, ps in procs.items():
        per_process, nproc, nodes, accum, _ = LAYOUTS[name]
        o = tmp / name
        codes = [p.wait(timeout=600) for p in ps]
        stdout, stderr = ([(o / f"{what}{i}").read_text() for i in range(len(ps))] for what in ("stdout", "stderr"))
        for i, code in enumerate(codes):
            assert code == 0, f"{name}: " + (stdout[i] + stderr[i])[-3000:]
        if nproc == 1 and nodes == 1:
            logs = stdout
        elif nodes == 2:
            logs = [(o / f"log{r}" / "workerlog.0").read_text() for r in (0, 1)]
        else:
            logs = [(o / "log" / f"workerlog.{r}").read_text() for r in range(nproc)]
        out[name] = {"dir": o, "logs": logs, "stderr": stderr}
    out["nodes"]["resume_codes"] = [p.wait(timeout=600) for p in resumed]
    print(f"distributed runs: {time.time() - started:.1f} s")
    return out


def load(path):
    return {k: v.numpy() for k, v in paddle.load(str(path)).items()}


@pytest.mark.parametrize("name", ["accum", "two", "nodes", "restart"])
def test_every_split_of_the_batch_trains_the_same_weights(runs, name):
    ref = load(runs["single"]["dir"] / "rank0.pdparams")
    nproc = LAYOUTS[name][1] * LAYOUTS[name][2]
    ranks = [load(runs[name]["dir"] / f"rank{r}.pdparams") for r in range(nproc)]
    ck = load(runs[name]["dir"] / ("node0/out" if name == "nodes" else "out") / f"{NAME}_epoch_00002.pdparams")
    for k in ref:
        for r in ranks:
            np.testing.assert_array_equal(r[k], ranks[0][k], err_msg=k)
        np.testing.assert_allclose(ranks[0][k], ref[k], rtol=1e-4, atol=1e-6, err_msg=f"{name}: {k}")
        np.testing.assert_array_equal(ck[k], ranks[0][k], err_msg=k)
    first = load(runs["single"]["dir"] / "out" / f"{NAME}_epoch_00001.pdparams")
    assert any(not np.array_equal(first[k], ref[k]) for k in ref)  # training moved the weights


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_logged_lr_is_the_closed_form_for_the_effective_batch(runs, name):
    per_process, nproc, nodes, accum, _ = LAYOUTS[name]
    log = runs[name]["logs"][0]
    m = BATCH_RE.search(log)
    assert m, log[-3000:]
    total, shown = per_process * nproc * nodes * accum, tuple(int(x) for x in m.groups()[:4])
    assert shown == (total, per_process, nproc * nodes, accum)
    scale = total / BASE_BATCH
    assert float(m.group(5)) == pytest.approx(scale, rel=1e-7) and int(m.group(6)) == BASE_BATCH
    values = [float(v) for v in m.group(7).split(",")]
    np.testing.assert_allclose(values, [v * scale for v in BASE_VALUES], rtol=1e-7)
    # and the lr that ran: the first value in epoch 1, the second in epoch 2 (the boundary is in
    # optimizer steps, 2 an epoch in every layout)
    ran = [(int(e), float(lr)) for e, lr in LR_RE.findall(log)]
    assert sorted({e for e, _ in ran}) == [1, 2]
    for epoch, lr in ran:
        assert lr == pytest.approx(values[epoch - 1], rel=1e-5), (epoch, lr)


def test_killed_worker_restarts_from_the_last_complete_checkpoint(runs):
    r = runs["restart"]
    assert "launch 1 exited with" in r["stderr"][0] and "restarting from the last complete checkpoint" in r["stderr"][0]
    assert (r["dir"] / "killed.1").exists()
    log0 = r["logs"][0]  # both launches append to it
    killed_in = log0.index("epoch:[  2/2] train iter:1/4")  # the first launch was inside epoch 2
    second = log0[killed_in:]
    assert "training done" not in log0[:killed_in]
    assert f"resumed from {r['dir'] / 'out' / NAME}_epoch_00001 (run " in second
    assert "continuing at epoch 2" in second
    # the restarted rank 0 took over the lock of the rank 0 its launcher stopped
    assert re.search(r"train.lock: taken over from PID \d+, which no longer runs", second)
    run_ids = {json.loads((r["dir"] / "out" / f"{NAME}_epoch_0000{e}.pdstate").read_text())["run_id"]
               for e in (1, 2)}
    assert run_ids == {json.loads((r["dir"] / "out" / "run.json").read_text())["run_id"]}  # one run
    # nothing half-written: complete checkpoints only (and the training curves), no temporary files,
    # the lock released
    names = sorted(p.name for p in (r["dir"] / "out").iterdir())
    assert names == ["run.json"] + [f"{NAME}_epoch_0000{e}{s}" for e in (1, 2) for s in (".pdopt", ".pdparams",
                                                                                          ".pdstate")] + [
        "training_curves.csv", "training_curves.png"]


def test_validation_gathers_every_clip_once(runs):
    single = VALID_RE.search(runs["single"]["logs"][0]).groups()
    two = VALID_RE.search(runs["two"]["logs"][0]).groups()
    assert int(single[3]) == int(two[3]) == 7
    np.testing.assert_allclose([float(v) for v in two[:3]], [float(v) for v in single[:3]], atol=2e-5)


def test_test_metric_gathered_across_ranks(runs):
    single = TEST_RE.search(runs["single"]["logs"][0]).groups()
    two = TEST_RE.search(runs["two"]["logs"][0]).groups()
    assert int(two[3]) == 7
    assert two[:3] == single[:3]


def test_only_rank0_logs_info(runs):
    for name in ("two", "nodes"):
        rank0, rank1 = runs[name]["logs"]
        assert "train iter:" in rank0
        assert "INFO" not in rank1


def test_nodes_resume_only_from_one_shared_output_folder(runs):
    """Rank 0 decides what to resume; a node that cannot read that checkpoint stops every rank, where it
    would otherwise start afresh beside a resumed rank 0 and train with other lr and optimizer state."""
    o = runs["nodes"]["dir"]
    assert (o / "node0" / "out" / f"{NAME}_epoch_00002.pdstate").exists()
    assert not (o / "node1" / "out").exists()  # rank 1 wrote nothing in its node's output folder
    assert runs["nodes"]["resume_codes"] == [2, 2]
    for r in (0, 1):
        assert (f"error: out/{NAME}_epoch_00002.pdstate: rank 1 cannot read it (--resume); to resume on several "
                f"nodes, --output must be one folder every node shares") in \
            (o / f"resume_log{r}" / "workerlog.0").read_text()
