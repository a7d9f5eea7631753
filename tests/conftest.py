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
