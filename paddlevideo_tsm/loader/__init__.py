"""Data loading: pipelines (decode, sample, transform) and, next to them, datasets and loaders."""
from .errors import DataError, ListFileError
from .pipelines import build_pipeline
