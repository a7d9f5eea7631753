"""Leftovers of a killed run: DataLoader workers die with their parent process, and bad-sample logs
of dead processes are removed from the temp folder."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from _tiny_training import ROOT
from paddlevideo_tsm.loader import bad_samples

LOADER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    import paddle
    from paddlevideo_tsm.loader.dataloader import build_dataloader

    class Slow(paddle.io.Dataset):
        def __len__(self):
            return 10000

        def __getitem__(self, i):
            # past the first batches a sample takes long (a long video): workers are busy when killed
            time.sleep(0.01 if i < 8 else 60)
            return np.zeros([64, 64], np.float32)

    for i, batch in enumerate(build_dataloader(Slow(), 4, num_workers=2, seed={seed})):
        print("reading", flush=True)
""")


def children(pid):
    """PIDs whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig, seed", [(signal.SIGKILL, 0), (signal.SIGTERM, None)])
def test_workers_die_with_a_killed_main_process(sig, seed):
    proc = subprocess.Popen([sys.executable, "-c", LOADER.format(root=str(ROOT), seed=seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    workers = []
    try:
        assert proc.stdout.readline().strip() == "reading"
        workers = children(proc.pid)
        assert len(workers) >= 2, workers
        proc.send_signal(sig)
        proc.wait(timeout=30)
        deadline = time.time() + 3.0
        while time.time() < deadline and any(alive(w) for w in workers):
            time.sleep(0.1)
        assert not [w for w in workers if alive(w)], "DataLoader workers outlived their parent"
    finally:
        for pid in [proc.pid] + workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_bad_sample_logs_of_dead_processes_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(bad_samples.tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"pvtsm_bad_samples_pid{dead.pid}_ab_c12.tsv"
    live = tmp_path / f"pvtsm_bad_samples_pid{os.getppid()}_x.tsv"  # another running process's log
    others = [tmp_path / "pvtsm_bad_samples_old.tsv", tmp_path / f"bad_samples_pid{dead.pid}_x.tsv"]
    for p in [stale, live] + others:
        p.write_text("x\treason\n")
    log = bad_samples.BadSampleLog()
    name = os.path.basename(log.path)
    assert name.startswith(f"pvtsm_bad_samples_pid{os.getpid()}_") and name.endswith(".tsv")
    assert not stale.exists() and live.exists() and all(p.exists() for p in others)
    path = log.path
    del log
    assert not os.path.exists(path)  # its owner removes it when done
