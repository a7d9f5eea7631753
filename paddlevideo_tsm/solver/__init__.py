"""Optimizer and learning-rate schedule built from the OPTIMIZER config section."""
from .lr import EpochSchedule, build_lr, scaled_rates  # noqa: F401
from .optimizer import build_grad_clip, build_optimizer, build_weight_decay, lr_batch_scale, trainable_summary  # noqa: F401
