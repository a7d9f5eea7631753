"""Data loading: pipelines (decode, sample, transform) and, next to them, datasets and loaders."""
from .pipelines import build_pipeline
from .datasets import build_dataset  # noqa: E402  (after build_pipeline, which it uses)
from .dataloader import build_dataloader  # noqa: E402
from .bad_samples import check_bad_fraction, epoch_report, is_valid_sample  # noqa: E402
