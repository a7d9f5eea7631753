"""Automatic mixed precision: a GPU feature; on a CPU place it is reported once and left off."""
import contextlib

import paddle

AMP_LEVELS = ("O1", "O2")
# PaddleVideo's dynamic loss scaling start value
INIT_LOSS_SCALING = 2.0 ** 16


def gpu_place_in_use():
    """True when paddle runs on a CUDA device in this process."""
    return paddle.device.is_compiled_with_cuda() and paddle.device.get_device().startswith("gpu")


class AmpState:
    """What the trainer needs: ``autocast()`` context, ``scaler`` (GradScaler or None), ``level``."""

    def __init__(self, enabled=False, level="O1", scaler=None):
        self.enabled, self.level, self.scaler = enabled, level, scaler

    def autocast(self):
        if not self.enabled:
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(enable=True, level=self.level)


def setup_amp(model, optimizer, amp, level="O1", logger=None, gpu_available=gpu_place_in_use):
    """-> (model, optimizer, AmpState). O2 casts the model via paddle.amp.decorate; the GradScaler
    does dynamic loss scaling. Without a GPU: one log line, float32, AmpState(enabled=False)."""
    if not amp:
        return model, optimizer, AmpState()
    if level not in AMP_LEVELS:
        raise ValueError(f"--amp_level must be one of {', '.join(AMP_LEVELS)}, got {level!r}")
    if not gpu_available():
        if logger is not None:
            logger.warning("--amp ignored: mixed precision needs a GPU place and this run is on CPU; "
                           "training in float32")
        return model, optimizer, AmpState()
    if level == "O2":
        model, optimizer = paddle.amp.decorate(models=model, optimizers=optimizer, level="O2")
    scaler = paddle.amp.GradScaler(init_loss_scaling=INIT_LOSS_SCALING)
    if logger is not None:
        logger.info(f"AMP {level}: dynamic loss scaling from {INIT_LOSS_SCALING:g}")
    return model, optimizer, AmpState(True, level, scaler)
