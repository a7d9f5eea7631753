"""Process lifetimes: whether a PID still runs, and a child that dies with its parent."""
import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def pid_alive(pid):
    """True when a process with id ``pid`` exists (also one of another user); False for pid <= 0."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def die_with_parent(parent_pid):
    """Call in a child process: on Linux the kernel sends it SIGKILL when its parent exits (even by
    SIGKILL); a child whose parent ``parent_pid`` is already gone exits now. Elsewhere only the check."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)
