"""Holding back what Paddle's C++ passes and its quantization tools print: they write to the
process's file descriptors 1 and 2 (bypassing sys.stdout/sys.stderr and glog's switch), so the
descriptors themselves are redirected for the duration of a block."""
import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def held_output(keep=lambda line: True, fds=(2,)):
    """Inside the block, capture what is written to ``fds`` (1 = stdout, 2 = stderr); afterwards
    write back the lines for which ``keep(line)`` is true, each to the stream it came from."""
    streams = {1: sys.stdout, 2: sys.stderr}
    for fd in fds:
        streams[fd].flush()
    saved = {fd: os.dup(fd) for fd in fds}
    held = {fd: tempfile.TemporaryFile() for fd in fds}
    for fd in fds:
        os.dup2(held[fd].fileno(), fd)
    try:
        yield
    finally:
        for fd in fds:
            streams[fd].flush()
            os.dup2(saved[fd], fd)
            os.close(saved[fd])
            held[fd].seek(0)
            text = held[fd].read().decode("utf-8", "replace")
            held[fd].close()
            for line in text.splitlines(keepends=True):
                if keep(line):
                    streams[fd].write(line)
            streams[fd].flush()
