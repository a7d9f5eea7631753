"""tools/launch_restart.py: needs --resume auto, reruns a failed launch up to --max_restart times, and
does not rerun one that ended with 0 or 2 (a user error on every rank: Paddle's launcher then exits
with 2). The kill-and-restart run itself is in test_distributed.py."""
import importlib.util
import subprocess
import sys

import pytest

from _tiny_training import ROOT

spec = importlib.util.spec_from_file_location("launch_restart", ROOT / "tools" / "launch_restart.py")
launch_restart = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launch_restart)

ARGS = ["--nproc_per_node", "2", "main.py", "-c", "c.yaml", "--resume", "auto"]


def test_refuses_without_resume_auto():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "launch_restart.py"), "--max_restart", "2",
                           "--nproc_per_node", "2", "main.py", "-c", "c.yaml", "--resume", "last"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: launch_restart: the training arguments need --resume auto, or a restarted "
                                   "launch would start afresh and refuse the output folder of the first")
    assert launch_restart.resumes_auto(["--log_dir", "x", "main.py", "--resume=auto"])
    assert not launch_restart.resumes_auto(["--resume", "auto", "main.py"])  # the launcher's, not main.py's


@pytest.mark.parametrize("codes, launches, result", [
    ([247, 0], 2, 0),             # a killed worker, then the resumed launch finishes
    ([2], 1, 2),                  # a user error: not rerun
    ([241, 241, 241], 3, 241),    # --max_restart 2: three launches at most
])
def test_reruns_failed_launches_only(monkeypatch, capsys, codes, launches, result):
    calls = []

    def call(command):
        calls.append(command)
        return codes[len(calls) - 1]

    monkeypatch.setattr(launch_restart.subprocess, "call", call)
    assert launch_restart.main(["--max_restart", "2", *ARGS]) == result
    assert len(calls) == launches
    assert calls[0] == [sys.executable, "-m", "paddle.distributed.launch", *ARGS]
    err = capsys.readouterr().err
    assert err.count("launch_restart: launch ") == launches - (codes[-1] in (0, 2))
    if codes == [247, 0]:
        assert err.strip() == ("launch_restart: launch 1 exited with 247; restarting from the last complete "
                               "checkpoint (2 restarts left)")
