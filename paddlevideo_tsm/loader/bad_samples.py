"""Bookkeeping of samples that failed to load, shared by all DataLoader worker processes.

Workers are separate processes, so the record lives in a small append-only temp file:
every failed load appends one ``path<TAB>reason`` line, an empty line marks the start
of a new epoch, and a ``!FATAL!<TAB>type<TAB>message`` line keeps an error that stops the
epoch (paddle 3.3.1 loses a worker's exception: the main process only sees "Blocking queue
is killed", so EpochDataLoader re-raises the recorded one). Appends of short lines with O_APPEND
do not interleave, and the file survives fork, spawn and persistent workers alike. Its name
carries the creating PID (``pvtsm_bad_samples_pid<PID>_*.tsv``); files of PIDs that no longer run
(a killed run) are removed when the next log is made.
"""
import glob
import os
import re
import tempfile
import weakref

from ..errors import BadDataLimitError, DataError, one_line
from ..utils.processes import pid_alive

# exceptions that mean "this sample's media is bad" (anything else is a bug and propagates)
try:
    import cv2
    _CV2_ERRORS = (cv2.error,)
except ImportError:  # pragma: no cover
    _CV2_ERRORS = ()
try:
    from decord._ffi.base import DECORDError
    _DECORD_ERRORS = (DECORDError,)
except ImportError:  # pragma: no cover
    _DECORD_ERRORS = ()

LOAD_ERRORS = (DataError, OSError) + _CV2_ERRORS + _DECORD_ERRORS


_FATAL = "!FATAL!"
_WARNED = "!WARNED!"  # a warning about a sample that loaded (a damaged video): logged once per run
_PREFIX = "pvtsm_bad_samples_pid"
_NAME_RE = re.compile(r"^" + _PREFIX + r"(\d+)_.+\.tsv$")


def remove_stale_logs(folder=None):
    """Delete bad-sample logs in ``folder`` (default: the temp folder) whose PID no longer runs -> count."""
    removed = 0
    for path in glob.glob(os.path.join(glob.escape(folder or tempfile.gettempdir()), _PREFIX + "*.tsv")):
        m = _NAME_RE.match(os.path.basename(path))
        if m and not pid_alive(int(m.group(1))):
            try:
                os.remove(path)
                removed += 1
            except OSError:
                pass
    return removed


def _flat(text):
    # tabs and newlines would break the one-record-per-line format
    return " ".join(str(text).split())


def _remove_if_owner(path, owner_pid):
    if os.getpid() == owner_pid:
        try:
            os.remove(path)
        except OSError:
            pass


class BadSampleLog:
    """Failed loads of a dataset, per epoch, visible from every worker process."""

    def __init__(self):
        remove_stale_logs()
        fd, self.path = tempfile.mkstemp(prefix=f"{_PREFIX}{os.getpid()}_", suffix=".tsv")
        os.close(fd)
        # only the creating process deletes the file (workers may garbage-collect copies)
        self._finalizer = weakref.finalize(self, _remove_if_owner, self.path, os.getpid())

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]

    def _lines(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return [line.rstrip("\n") for line in f]
        except FileNotFoundError:
            return []

    def _append(self, line):
        data = line.encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def _epochs(self):
        """All failed loads split by epoch markers: list of lists of (path, reason)."""
        epochs = [[]]
        for line in self._lines():
            if not line:
                epochs.append([])
            elif not line.startswith((_FATAL, _WARNED)):
                path, _, reason = line.partition("\t")
                epochs[-1].append((path, reason))
        return epochs

    def add(self, path, reason):
        """Record one failed load; return True when ``path`` was never recorded before (warn then)."""
        seen = any(p == path for records in self._epochs() for p, _ in records)
        self._append(f"{_flat(path)}\t{_flat(reason)}\n")
        return not seen

    def warn_once(self, text):
        """Record a warning line; return True when it was never recorded before in this run (log it then)."""
        record = f"{_WARNED}\t{_flat(text)}"
        if record in self._lines():
            return False
        self._append(record + "\n")
        return True

    def add_fatal(self, exc):
        """Record the exception that is about to escape a worker (its type name and one-line message)."""
        self._append(f"{_FATAL}\t{type(exc).__name__}\t{_flat(one_line(exc))}\n")

    def fatal(self):
        """(type name, message) of the last fatal error this epoch, or None."""
        found = None
        for line in self._lines():
            if not line:
                found = None
            elif line.startswith(_FATAL):
                _, name, message = line.split("\t", 2)
                found = (name, message)
        return found

    def events(self):
        """Failed loads of the current epoch, in order, repeats included: list of (path, reason)."""
        return self._epochs()[-1]

    def distinct(self):
        """Distinct (path, first reason) of the current epoch, in order of first failure."""
        out = {}
        for path, reason in self.events():
            out.setdefault(path, reason)
        return list(out.items())

    def reset(self):
        """Start a new epoch (earlier files still count as already warned about)."""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("\n")


def bad_fraction_message(where, bad, num_samples, max_bad_fraction):
    """The one-line error text when ``len(bad)/num_samples > max_bad_fraction``, else None."""
    if max_bad_fraction is None or num_samples <= 0:
        return None
    if len(bad) <= max_bad_fraction * num_samples:
        return None
    files = ", ".join(p for p, _ in bad[:5]) + (", ..." if len(bad) > 5 else "")
    return (f"{where}: {len(bad)} of {num_samples} samples ({100.0 * len(bad) / num_samples:.1f}%) "
            f"failed to load this epoch, above max_bad_fraction {max_bad_fraction}: {files}")


def check_bad_fraction(dataset, max_bad_fraction=None):
    """Raise BadDataLimitError when the dataset's bad samples this epoch exceed the allowed fraction."""
    limit = dataset.max_bad_fraction if max_bad_fraction is None else max_bad_fraction
    msg = bad_fraction_message(dataset.file_path, dataset.bad_samples(), len(dataset), limit)
    if msg:
        raise BadDataLimitError(msg)


def epoch_report(dataset, epoch):
    """'epoch N: skipped K bad samples: a (reason), b (reason)' for this epoch, or None when none."""
    bad = dataset.bad_samples()
    if not bad:
        return None
    verb = "excluded" if getattr(dataset, "test_mode", False) else "skipped"
    files = ", ".join(f"{p} ({r})" for p, r in bad)
    return f"epoch {epoch}: {verb} {len(bad)} bad samples: {files}"


def is_valid_sample(label):
    """Test-mode marker check: label value(s) -> bool mask, False where the sample failed to load."""
    import numpy as np
    arr = label.numpy() if hasattr(label, "numpy") else np.asarray(label)
    return arr.reshape(arr.shape[0], -1)[:, 0] >= 0 if arr.ndim else arr >= 0
