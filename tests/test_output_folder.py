"""The output folder of a training run: one run at a time (lock), one run per folder (run id),
problems found at start (a file, read-only, full disk), save errors as one line, --save_results
checked at start, and temporary files of killed runs removed."""
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import paddle
import pytest

import main as main_py
from _tiny_training import ROOT, make_demo, tiny_config, write_config
from paddlevideo_tsm.tasks import run_folder


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outdir")
    demo = make_demo(tmp / "demo")
    return {"demo": demo, "path": write_config(tmp / "tiny.yaml", tiny_config(demo, epochs=2))}


def main(*args):
    return main_py.main([str(a) for a in args])


def error_line(capsys):
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert not any("Traceback" in ln for ln in err), err
    return err[-1]


HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from paddlevideo_tsm.tasks.run_folder import OutputLock
    with OutputLock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(60)
""")


def test_second_run_on_one_output_refuses_naming_lock_and_pid(cfg, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT)), str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main("-c", cfg["path"], "--output", out, "--max_iters", 1) == 2
        assert error_line(capsys) == (f"error: {out}/train.lock: another run (PID {holder.pid}) is training "
                                      f"into this output folder; wait for it to end or use another --output")
        assert not list(out.glob("*.pdparams"))
    finally:
        holder.kill()
        holder.wait()
    # killed: its lock file stays, naming a dead PID; the next run takes it over and removes it at the end
    assert (out / "train.lock").read_text().strip() == str(holder.pid)
    assert main("-c", cfg["path"], "--output", out, "--max_iters", 1) == 0
    assert f"train.lock: taken over from PID {holder.pid}, which no longer runs" in capsys.readouterr().out
    assert not (out / "train.lock").exists()


FORKING_HOLDER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from paddlevideo_tsm.tasks.run_folder import OutputLock
    OutputLock(sys.argv[1]).__enter__()
    if os.fork() == 0:  # like a DataLoader worker: shares the lock and outlives its parent a moment
        time.sleep(1.5)
        os._exit(0)
    print("held", flush=True)
    time.sleep(60)
""")


def test_lock_of_a_killed_run_whose_children_linger_is_taken_over(tmp_path):
    """A restarted launch (tools/launch_restart.py) starts right after the kill of its rank 0."""
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", FORKING_HOLDER.format(root=str(ROOT)), str(out)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    started = time.monotonic()
    with run_folder.OutputLock(str(out)) as lock:  # waits for the child instead of refusing the dead PID
        assert lock.stale_pid == holder.pid
        assert (out / "train.lock").read_text().strip() == str(os.getpid())
    assert 0.5 < time.monotonic() - started < run_folder.DEAD_HOLDER_WAIT


def test_folder_of_another_run_needs_resume_or_another_output(cfg, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main("-c", cfg["path"], "--output", a, "--max_iters", 4) == 0  # run A: epoch 1
    capsys.readouterr()
    # a fresh run into A's folder would mix with (and overwrite) A's results
    assert main("-c", cfg["path"], "--output", a, "--max_iters", 1) == 2
    assert error_line(capsys) == (f"error: {a}: holds another run's results (tiny_tsm_epoch_00001.pdstate) and "
                                  f"this run starts afresh (no --resume); continue that run with --resume auto, "
                                  f"or train into another --output")
    assert [p.name for p in a.glob("*.pdstate")] == ["tiny_tsm_epoch_00001.pdstate"]
    # run B in its own folder; resuming A's checkpoint into B's folder would mix two runs
    assert main("-c", cfg["path"], "--output", b, "--max_iters", 4) == 0
    capsys.readouterr()
    run_a, run_b = run_folder.read_run_id(a), run_folder.read_run_id(b)
    assert run_a and run_b and run_a != run_b
    assert main("-c", cfg["path"], "--output", b, "--resume", a / "tiny_tsm_epoch_00001.pdparams") == 2
    assert error_line(capsys) == (f"error: {a}/tiny_tsm_epoch_00001.pdstate: belongs to run {run_a}, but {b} holds "
                                  f"run {run_b} (run.json); resume that run's checkpoint, or use another --output")
    # --resume auto continues the folder's own run, and the state records it
    assert main("-c", cfg["path"], "--output", a, "--resume", "auto") == 0
    assert f"resumed from {a}/tiny_tsm_epoch_00001 (run {run_a})" in capsys.readouterr().out
    assert json.loads((a / "tiny_tsm_epoch_00002.pdstate").read_text())["run_id"] == run_a == run_folder.read_run_id(a)


def test_output_that_is_a_file(cfg, tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("not a folder")
    assert main("-c", cfg["path"], "--output", out) == 2
    assert error_line(capsys) == f"error: {out}: is a file, not a folder (--output)"
    assert out.read_text() == "not a folder"


@pytest.fixture
def mounted(tmp_path):
    """mount(size, readonly) -> a fresh tmpfs folder under tmp_path; skips where mounting is not allowed."""
    points = []

    def mount(size, readonly=False):
        point = tmp_path / f"mnt{len(points)}"
        point.mkdir()
        opts = f"size={size}" + (",ro" if readonly else "")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
        points.append(point)
        return point
    yield mount
    for point in points:
        subprocess.run(["umount", str(point)], capture_output=True)


def test_read_only_and_full_output_found_at_start(cfg, mounted, capsys):
    ro = mounted("1m", readonly=True)
    assert main("-c", cfg["path"], "--output", ro / "run") == 2
    assert error_line(capsys) == f"error: {ro}/run: cannot write there (Read-only file system) (--output)"

    full = mounted("64k")
    (full / "filler").write_bytes(b"\0" * 64 * 1024)  # takes every block
    assert main("-c", cfg["path"], "--output", full) == 2
    assert error_line(capsys) == f"error: {full}: cannot write there (No space left on device) (--output)"

    small = mounted("1m")  # room for the probe, not for the tiny model's 2.8 MB of weights
    assert main("-c", cfg["path"], "--output", small) == 2
    line = error_line(capsys)
    assert line.startswith(f"error: {small}: 1.0 MB free on its disk, a checkpoint needs about 2.")
    assert line.endswith(" MB (--output)")


def test_disk_full_at_a_save_is_one_line_and_keeps_the_last_checkpoint(cfg, mounted, capsys, tmp_path):
    # one epoch checkpoint (weights + momentum) fits, the next does not
    probe = tmp_path / "probe"
    assert main("-c", cfg["path"], "--output", probe, "--max_iters", 4) == 0
    one = sum(p.stat().st_size for p in probe.glob("tiny_tsm_epoch_00001.*"))
    out = mounted(str(int(one * 1.5)))
    capsys.readouterr()
    assert main("-c", cfg["path"], "--output", out) == 2
    line = error_line(capsys)
    assert re.fullmatch(rf"error: {out}/tiny_tsm_epoch_00002\.pd(params|opt): cannot write \(No space left on "
                        rf"device\); the checkpoints saved before are intact", line), line
    from paddlevideo_tsm.tasks.checkpoint import find_latest, load_training_state
    from paddlevideo_tsm.modeling import build_model
    from paddlevideo_tsm.solver import build_optimizer
    from paddlevideo_tsm.config import get_config
    c = get_config(cfg["path"])
    model = build_model(c.MODEL)
    opt = build_optimizer(c.OPTIMIZER, 0.1, model.parameters())
    assert find_latest(str(out), "tiny_tsm") == f"{out}/tiny_tsm_epoch_00001"
    assert load_training_state(f"{out}/tiny_tsm_epoch_00001", model, opt)["epoch"] == 1
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]


def test_unwritable_save_results_found_before_testing(cfg, mounted, tmp_path, capsys):
    weights = tmp_path / "w.pdparams"
    from paddlevideo_tsm.modeling import build_model
    from paddlevideo_tsm.config import get_config
    paddle.save(build_model(get_config(cfg["path"]).MODEL).state_dict(), str(weights))
    ro = mounted("1m", readonly=True)
    assert main("-c", cfg["path"], "--test", "-w", weights, "--save_results", ro / "s.jsonl") == 2
    assert error_line(capsys) == f"error: {ro}: cannot write there (Read-only file system) (--save_results)"
    assert "[TEST]" not in capsys.readouterr().out
    (tmp_path / "dir.jsonl").mkdir()
    assert main("-c", cfg["path"], "--test", "-w", weights, "--save_results", tmp_path / "dir.jsonl") == 2
    assert error_line(capsys) == f"error: {tmp_path}/dir.jsonl: is a folder; --save_results takes a file name"


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_of_dead_pids_are_removed_at_start(cfg, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    gone, alive = dead_pid(), os.getpid()
    stale = out / f".tiny_tsm_epoch_00003.pdparams.tmp{gone}"
    live = out / f".tiny_tsm_epoch_00003.pdopt.tmp{alive}"  # a writer that still runs
    mine = [out / f"notes.tmp{gone}", out / f".notes.tmp{gone}x", out / "data.txt"]  # not the project's pattern
    for p in [stale, live] + mine:
        p.write_text("x")
    assert main("-c", cfg["path"], "--output", out, "--max_iters", 1) == 0
    assert f"removed 1 temporary files of killed runs from {out}: {stale.name}" in capsys.readouterr().out
    assert not stale.exists() and live.exists() and all(p.exists() for p in mine)
