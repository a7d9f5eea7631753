"""The effective batch of a training run: clips per process x processes x accumulation steps.

``accum_steps: k`` (or PaddleVideo's ``GRADIENT_ACCUMULATION.global_batch_size: G``, which means
k = G / (batch_size x processes)) makes the optimizer step every k iterations on the mean
gradient of those k batches, so a run on fewer cards or with less memory takes the steps of the
recipe's batch. Each epoch uses a whole number of optimizer steps (the last batches of a
shuffled epoch that cannot fill one are left out, as ``drop_last`` leaves out a partial batch),
checkpoints fall on step boundaries, and the lr schedule counts optimizer steps.
"""
import math

from ..errors import CheckpointError, ConfigError
from ..utils.config_schema import Section, Value

# top-level config keys read here (tasks/runtime.py puts them into RUN_KEYS)
BATCH_KEYS = {
    "accum_steps": Value(int, min=1, null=True),
    "GRADIENT_ACCUMULATION": Section({"global_batch_size": Value(int, min=1)}, required=("global_batch_size",),
                                     null=True),
}


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "es" if word.endswith("s") else "s")


class EffectiveBatch:
    """``per_process`` clips x ``world`` processes x ``accum_steps`` iterations per optimizer step."""

    def __init__(self, per_process, world, accum_steps=1):
        self.per_process, self.world, self.accum_steps = int(per_process), int(world), int(accum_steps)

    @property
    def total(self):
        """Clips per optimizer step."""
        return self.per_process * self.world * self.accum_steps

    def layout(self):
        """The JSON dict a checkpoint stores: {'batch_size', 'world_size', 'accum_steps'}."""
        return {"batch_size": self.per_process, "world_size": self.world, "accum_steps": self.accum_steps}

    def describe(self):
        """'32 clips per optimizer step (4 per process x 2 processes x 4 accumulation steps)'."""
        return (f"{self.total} clips per optimizer step ({self.per_process} per process x "
                f"{_plural(self.world, 'process')} x {_plural(self.accum_steps, 'accumulation step')})")


def accumulation_steps(cfg, per_process, world):
    """The iterations per optimizer step: ``accum_steps``, else GRADIENT_ACCUMULATION.global_batch_size /
    (per_process x world), else 1. ConfigError (naming the key) when the global batch is not a
    whole number of per-process batches, or when both keys are given and disagree."""
    where = cfg.get("_path", "<config>")
    given = cfg.get("accum_steps")
    section = cfg.get("GRADIENT_ACCUMULATION") or {}
    global_batch = section.get("global_batch_size")
    if global_batch is None:
        return int(given or 1)
    per_step = per_process * world
    if global_batch % per_step:
        raise ConfigError(f"{where}: GRADIENT_ACCUMULATION.global_batch_size {global_batch} is not a multiple of "
                          f"DATASET.batch_size x processes = {per_process} x {world} = {per_step}")
    implied = global_batch // per_step
    if given is not None and given != implied:
        raise ConfigError(f"{where}: accum_steps is {given} but GRADIENT_ACCUMULATION.global_batch_size "
                          f"{global_batch} means {implied} ({per_process} x {world} processes x {implied}); "
                          f"give one of the two")
    return implied


def epoch_iterations(loader_batches, accum_steps):
    """(iterations an epoch uses, batches it leaves out): a whole number of optimizer steps."""
    used = loader_batches // accum_steps * accum_steps
    return used, loader_batches - used


def stop_iterations(max_iters, accum_steps):
    """--max_iters rounded up to a whole number of optimizer steps (a stop lands on a step boundary)."""
    return math.ceil(int(max_iters) / accum_steps) * accum_steps


def check_resume_layout(state, prefix, batch):
    """A checkpoint cut inside an epoch continues only with the layout (per-process batch, processes,
    accumulation steps) that cut it: the rest of its epoch is read by batch position. CheckpointError
    otherwise; a layout change at an epoch boundary is allowed -> a log line for it, or None."""
    saved = state.get("layout")
    skip = int(state.get("iters", 0))
    now = batch.layout()
    was = None if saved is None else EffectiveBatch(saved["batch_size"], saved["world_size"], saved["accum_steps"])
    if skip:
        if saved is None and batch.accum_steps != 1:
            raise CheckpointError(f"{prefix}.pdstate: cut inside epoch {state['epoch'] + 1} by a run without "
                                  f"accum_steps; resume it without accum_steps, or from a complete epoch's checkpoint")
        if saved is not None and saved != now:
            raise CheckpointError(
                f"{prefix}.pdstate: cut inside epoch {state['epoch'] + 1} after {skip} iterations of {was.describe()}; "
                f"this run has {batch.describe()}: resume with that layout, or from a complete epoch's "
                f"checkpoint (--resume PATH)")
        return None
    if saved is not None and saved != now:
        return f"the checkpoint was trained with {was.describe()}; continuing with {batch.describe()}"
    return None


def batch_line(opt_cfg, batch, scale):
    """One log line: the effective batch, OPTIMIZER.lr_scale_by_batch's factor ``scale`` for it (from
    solver.lr_batch_scale) and the learning rates that result (call after build_lr checked them)."""
    from ..solver import scaled_rates

    rates = scaled_rates(opt_cfg["learning_rate"], scale)
    shown = ", ".join(f"{k} {_numbers(v)}" for k, v in rates.items())
    if opt_cfg.get("lr_scale_by_batch"):
        base = opt_cfg["lr_scale_by_batch"]["base_batch_size"]
        how = f"lr x{scale:.8g} = {batch.total}/{base} (OPTIMIZER.lr_scale_by_batch.base_batch_size)"
    else:
        how = "lr as configured (no OPTIMIZER.lr_scale_by_batch)"
    return f"effective batch: {batch.describe()}; {how}: {shown}"


def _numbers(value):
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.8g}" for v in value) + "]"
    return f"{value:.8g}"
