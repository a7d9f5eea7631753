import logging
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_REF = ROOT.parent / "shared" / "reference"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FLAGS_call_stack_level", "0")


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test media not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def shared_reference():
    if not SHARED_REF.is_dir():
        pytest.skip(f"PaddleVideo reference key lists not found at {SHARED_REF}")
    return SHARED_REF


class _Warnings(logging.Handler):
    """Collects the package logger's warning lines."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def warnings_seen():
    """The list of warning messages the package logger gives during the test (in this process)."""
    handler = _Warnings()
    logger = logging.getLogger("paddlevideo_tsm")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
