"""One package logger; only rank 0 prints INFO unless asked otherwise."""
import logging
import os
import sys

_NAME = "paddlevideo_tsm"


def get_logger(level=None):
    """Return the package logger, configured once (stdout, 'time LEVEL message')."""
    logger = logging.getLogger(_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.propagate = False
        rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
        logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    if level is not None:
        logger.setLevel(level.upper() if isinstance(level, str) else level)
    return logger
