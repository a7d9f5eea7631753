"""One package logger; only rank 0 prints INFO unless asked otherwise."""
import logging
import os
import sys

_NAME = "paddlevideo_tsm"


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time of each record (a test's capture, a redirect),
    not to the stdout that existed when the logger was first configured."""

    def __init__(self):
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):  # logging.StreamHandler.__init__ assigns it; the property wins
        pass


def get_logger(level=None):
    """Return the package logger, configured once (stdout, 'time LEVEL message')."""
    logger = logging.getLogger(_NAME)
    if not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.propagate = False
        rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
        logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    if level is not None:
        logger.setLevel(level.upper() if isinstance(level, str) else level)
    return logger
