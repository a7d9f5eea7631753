"""CPU math-library thread count: every core this process may use, unless configured otherwise.
Importing this module also picks MKL's code path for the CPU (utils/cpu_info.py): main.py and the
tools import it before paddle, so the setting is in place before the first GEMM."""
import os
import sys

from ..errors import ConfigError
from .cpu_info import apply_mkl_cpu_type

THREAD_ENV_KEYS = ("CPU_NUM_THREADS", "OMP_NUM_THREADS")
# importing paddle sets OMP_NUM_THREADS=1 when it is unset, so the user's setting is only
# known from before that import (main.py imports this module first)
_ENV_BEFORE_PADDLE = (None if "paddle" in sys.modules
                      else {k: os.environ[k] for k in THREAD_ENV_KEYS if k in os.environ})
MKL_NOTE = apply_mkl_cpu_type()  # said once, in the run's "CPU threads" log line


def thread_environment():
    """The thread variables the user set: a snapshot from before paddle was imported, or, when
    paddle came first, CPU_NUM_THREADS only (OMP_NUM_THREADS may then be paddle's own '1')."""
    if _ENV_BEFORE_PADDLE is not None:
        return dict(_ENV_BEFORE_PADDLE)
    return {k: os.environ[k] for k in ("CPU_NUM_THREADS",) if k in os.environ}


def available_cores():
    """Cores in this process's CPU affinity mask (os.cpu_count() where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_processes():
    """Training processes sharing this machine (paddle.distributed.launch sets PADDLE_LOCAL_SIZE)."""
    for key in ("PADDLE_LOCAL_SIZE", "PADDLE_TRAINERS_NUM"):
        value = os.environ.get(key, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def resolve_cpu_threads(config_value=None, environ=None):
    """Threads to use -> (count, source): config ``cpu_threads``, else env CPU_NUM_THREADS, else
    OMP_NUM_THREADS, else the usable cores divided among the local training processes."""
    environ = thread_environment() if environ is None else environ
    if config_value is not None:
        if not isinstance(config_value, int) or isinstance(config_value, bool) or config_value < 1:
            raise ConfigError(f"cpu_threads: must be a positive int, got {config_value!r}")
        return config_value, "config cpu_threads"
    for key in THREAD_ENV_KEYS:
        raw = environ.get(key, "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                raise ConfigError(f"environment {key}={raw!r}: must be a positive int")
            return int(raw), f"env {key}"
    return max(1, available_cores() // local_processes()), "cores available"


def set_cpu_threads(count):
    """Set the math library (oneDNN/OpenBLAS via OpenMP) threads of this process's CPU kernels."""
    from paddle.base import core
    core.set_num_threads(int(count))
    return int(count)
