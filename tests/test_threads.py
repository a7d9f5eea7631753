"""CPU thread count: config beats env beats the affinity mask, shared among local ranks."""
import os

import pytest

from paddlevideo_tsm.utils import threads
from paddlevideo_tsm.errors import ConfigError


def test_defaults_to_every_usable_core(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 3, 5})
    for key in ("PADDLE_LOCAL_SIZE", "PADDLE_TRAINERS_NUM"):
        monkeypatch.delenv(key, raising=False)
    assert threads.resolve_cpu_threads(None, environ={}) == (3, "cores available")
    assert threads.available_cores() == 3


def test_local_ranks_share_the_cores(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setenv("PADDLE_LOCAL_SIZE", "2")
    assert threads.resolve_cpu_threads(None, environ={})[0] == 4
    monkeypatch.setenv("PADDLE_LOCAL_SIZE", "16")
    assert threads.resolve_cpu_threads(None, environ={})[0] == 1


def test_config_then_env_override():
    env = {"CPU_NUM_THREADS": "3", "OMP_NUM_THREADS": "5"}
    assert threads.resolve_cpu_threads(2, environ=env) == (2, "config cpu_threads")
    assert threads.resolve_cpu_threads(None, environ=env) == (3, "env CPU_NUM_THREADS")
    assert threads.resolve_cpu_threads(None, environ={"OMP_NUM_THREADS": "5"}) == (5, "env OMP_NUM_THREADS")


@pytest.mark.parametrize("value, env, needle", [
    (0, {}, "cpu_threads"), ("4", {}, "cpu_threads"), (None, {"CPU_NUM_THREADS": "lots"}, "CPU_NUM_THREADS"),
])
def test_bad_thread_counts_name_the_source(value, env, needle):
    with pytest.raises(ConfigError, match=needle):
        threads.resolve_cpu_threads(value, environ=env)


def test_affinity_matches_the_os():
    assert threads.available_cores() == len(os.sched_getaffinity(0))


BUSY_THREADS = """
import os, sys
sys.path.insert(0, {root!r})
from paddlevideo_tsm.utils.threads import set_cpu_threads
import paddle
set_cpu_threads({n})
def ticks():
    out = {{}}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{{tid}}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[tid] = int(fields[11]) + int(fields[12])
    return out
a = paddle.randn([1024, 1024])
before = ticks()
for _ in range(6):
    paddle.matmul(a, a).sum().item()
after = ticks()
print(sum(after[t] - before.get(t, 0) > 2 for t in after))
"""


@pytest.mark.skipif(threads.available_cores() < 2, reason="needs 2 usable cores")
@pytest.mark.parametrize("n", [1, 2])
def test_set_cpu_threads_sets_the_math_library_threads(n, tmp_path):
    """Load-independent check that the API took effect: n OS threads do the matmul work."""
    import subprocess
    import sys
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[1])
    script = tmp_path / "busy.py"
    script.write_text(BUSY_THREADS.format(root=root, n=n))
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "CPU_NUM_THREADS")}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) == n
