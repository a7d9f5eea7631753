"""CPU thread count: config beats env beats the affinity mask, shared among local ranks."""
import os

import pytest

from paddlevideo_tsm.utils import threads
from paddlevideo_tsm.utils.config import ConfigError


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
