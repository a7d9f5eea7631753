"""Entry points of main.py: ``train_model`` and ``test_model``."""
from .test import test_model  # noqa: F401
from .train import train_model  # noqa: F401
