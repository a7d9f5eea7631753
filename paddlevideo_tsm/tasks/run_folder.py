"""The output folder of a training run: writable, held by one run at a time, and owned by one run.

A run is identified by a run id made at its fresh start; ``run.json`` in the folder and every
``.pdstate`` carry it, and a resume continues the run of the checkpoint it reads. While a run
trains it holds ``train.lock`` (an flock, so the kernel drops it when the process dies; the file
names the PID). Temporary files of a killed save (``.<name>.tmp<PID>``) whose PID no longer runs
are removed at the next start.
"""
import contextlib
import fcntl
import glob
import json
import os
import shutil
import time
import uuid

from ..errors import ConfigError
from ..utils.processes import pid_alive
from .checkpoint import TEMP_NAME_RE, atomic_save, complete_checkpoints, temp_path, write_json

LOCK_NAME = "train.lock"
# a dead trainer's forked DataLoader workers share its lock until the kernel ends them (die_with_parent)
DEAD_HOLDER_WAIT = 10.0
RUN_FILE = "run.json"


def probe_folder(folder, option="--output"):
    """Create ``folder`` and write + delete a probe file in it: a one-line ConfigError naming ``option``
    when it is a file, not writable or full is found at start, not at the first save."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ConfigError(f"{folder}: is a file, not a folder ({option})")
    probe = temp_path(os.path.join(folder, ".write_probe"))
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"probe")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise ConfigError(f"{folder}: cannot write there ({e.strerror or e}) ({option})") from None
    finally:
        if os.path.exists(probe):
            os.remove(probe)


def check_free_space(out_dir, checkpoint_bytes):
    """ConfigError when ``out_dir``'s disk has less room than one checkpoint's ``checkpoint_bytes``."""
    free = shutil.disk_usage(out_dir).free
    if free < checkpoint_bytes:
        raise ConfigError(f"{out_dir}: {free / 2**20:.1f} MB free on its disk, a checkpoint needs about "
                          f"{checkpoint_bytes / 2**20:.1f} MB (--output)")


def remove_stale_temp_files(out_dir):
    """Delete ``.<name>.tmp<PID>`` files of ``out_dir`` whose PID no longer runs -> their names."""
    removed = []
    for path in glob.glob(os.path.join(glob.escape(out_dir), ".*.tmp*")):
        m = TEMP_NAME_RE.match(os.path.basename(path))
        if m and os.path.isfile(path) and not pid_alive(int(m.group(1))):
            os.remove(path)
            removed.append(os.path.basename(path))
    return removed


class OutputLock:
    """``with OutputLock(out_dir):`` holds ``<out_dir>/train.lock`` or raises a one-line ConfigError
    naming the lock file and the PID that holds it. ``stale_pid`` is set when a lock file of a dead
    process was found (and taken over)."""

    def __init__(self, out_dir):
        self.path = os.path.join(out_dir, LOCK_NAME)
        self.fd = None
        self.stale_pid = None

    def __enter__(self):
        deadline = time.monotonic() + DEAD_HOLDER_WAIT
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                if holder.isdigit() and not pid_alive(int(holder)) and time.monotonic() < deadline:
                    time.sleep(0.1)  # a restart right after a kill: the holder's children are ending
                    continue
                raise ConfigError(f"{self.path}: another run (PID {holder}) is training into this output "
                                  f"folder; wait for it to end or use another --output") from None
            try:
                same_file = os.path.exists(self.path) and os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except OSError:
                same_file = False
            if same_file:  # else the holder removed it between our open and flock: take the new one
                break
            os.close(fd)
        old = os.read(fd, 64).decode("ascii", "replace").strip()
        if old.isdigit() and int(old) != os.getpid():
            self.stale_pid = int(old)  # its process died without removing the file
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            try:
                os.remove(self.path)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


@contextlib.contextmanager
def claim_output(out_dir, logger):
    """Hold ``out_dir`` for a training run: probe it for writing, lock it for the ``with`` block, and
    remove the temporary files its killed runs left (logged)."""
    probe_folder(out_dir)
    with OutputLock(out_dir) as lock:
        if lock.stale_pid:
            logger.warning(f"{lock.path}: taken over from PID {lock.stale_pid}, which no longer runs")
        removed = remove_stale_temp_files(out_dir)
        if removed:
            logger.info(f"removed {len(removed)} temporary files of killed runs from {out_dir}: {', '.join(removed)}")
        yield


def new_run_id():
    return uuid.uuid4().hex[:16]


def read_run_id(out_dir):
    """The run id in ``<out_dir>/run.json``, or None when there is none (or it is unreadable)."""
    try:
        with open(os.path.join(out_dir, RUN_FILE), encoding="utf-8") as f:
            value = json.load(f).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def write_run_id(out_dir, run_id, model_name):
    atomic_save({"run_id": run_id, "model_name": model_name}, os.path.join(out_dir, RUN_FILE), writer=write_json)


def other_run_files(out_dir, model_name):
    """Names of training results in ``out_dir`` (any model's checkpoints, ``<model_name>_best``)."""
    names = [os.path.basename(p) + ".pdstate" for _, p in complete_checkpoints(out_dir)]
    best = os.path.join(out_dir, f"{model_name}_best.pdparams")
    return names + ([os.path.basename(best)] if os.path.isfile(best) else [])


def refuse_foreign_results(out_dir, model_name, why):
    """ConfigError when ``out_dir`` holds results of a run other than the one starting (``why``)."""
    found = other_run_files(out_dir, model_name)
    if found:
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        raise ConfigError(f"{out_dir}: holds another run's results ({found[-1]}{more}) {why}; continue "
                          f"that run with --resume auto, or train into another --output")
