"""Per-sample pipelines: a decoder, a frame sampler and image transforms, built from a config."""
from .compose import Compose, build_pipeline, parse_step, transform_steps  # noqa: F401
from . import decode, sample, augmentations, to_array  # noqa: F401  (fill the PIPELINES registry)
