"""Learning-rate schedules whose milestones are given in epochs and which step per optimizer step.

``OPTIMIZER.learning_rate`` keys (PaddleVideo's names): ``name`` PiecewiseDecay (``boundaries``
in epochs, ``values``), CosineAnnealingDecay (``learning_rate``, ``max_epoch``, ``eta_min``) or
CustomWarmupCosineDecay (PP-TSM's name for the same cosine with eta_min 0: ``cosine_base_lr``,
``max_epoch``, with ``warmup_epochs``/``warmup_start_lr``); ``iter_step`` (True: the schedule
moves at every optimizer step, boundaries converted to steps; False: once per epoch);
``warmup_epochs`` and ``warmup_start_lr`` for a linear warmup.
"""
import bisect
import math

from paddle.optimizer.lr import LRScheduler

from ..errors import ConfigError
from ..utils.config_schema import Either, Section, Tagged, Value, check

SCHEDULE_SCHEMA = Tagged("schedule", {
    "PiecewiseDecay": Section({"boundaries": Value(list, items=Value(float, min=0)),
                               "values": Value(list, items=Value(float, min=0))},
                              required=("boundaries", "values")),
    "CosineAnnealingDecay": Section({"learning_rate": Value(float, above=0), "max_epoch": Value(float, above=0),
                                     "eta_min": Value(float, min=0)}, required=("learning_rate", "max_epoch")),
    "CustomWarmupCosineDecay": Section({"cosine_base_lr": Value(float, above=0), "max_epoch": Value(float, above=0)},
                                       required=("cosine_base_lr", "max_epoch")),
}, common=Section({"iter_step": Value(bool), "warmup_epochs": Value(float, min=0),
                   "warmup_start_lr": Value(float, min=0)}))
LR_SCHEMA = Either(Value(float, above=0), SCHEDULE_SCHEMA)  # a constant lr, or a schedule
COSINE_BASE = {"CosineAnnealingDecay": "learning_rate", "CustomWarmupCosineDecay": "cosine_base_lr"}


class EpochSchedule(LRScheduler):
    """lr as a pure function of the step counter: ``fn(step)`` after ``warmup_steps`` linear steps.

    ``by_iteration`` tells the trainer whether to call ``step()`` after every optimizer step
    (True) or after every epoch (False). The warmup ends at ``fn(warmup_steps)``, so the
    main schedule keeps its absolute milestones.
    """

    def __init__(self, fn, warmup_steps=0, warmup_start_lr=0.0, by_iteration=True):
        self.fn, self.warmup_steps = fn, int(warmup_steps)
        self.warmup_start_lr, self.by_iteration = float(warmup_start_lr), bool(by_iteration)
        super().__init__(learning_rate=fn(0))

    def lr_at(self, step):
        """Learning rate (float) after ``step`` calls of ``step()``."""
        if step < self.warmup_steps:
            target = self.fn(self.warmup_steps)
            return self.warmup_start_lr + (target - self.warmup_start_lr) * step / self.warmup_steps
        return self.fn(step)

    def get_lr(self):
        return self.lr_at(self.last_epoch)


def piecewise(boundaries, values):
    """Step ``s`` -> values[number of boundaries <= s]."""
    def fn(step):
        return values[bisect.bisect_right(boundaries, step)]
    return fn


def cosine(base_lr, total, eta_min=0.0):
    """Step ``s`` -> eta_min + (base - eta_min) * (1 + cos(pi * s / total)) / 2, flat after ``total``."""
    def fn(step):
        s = min(step, total)
        return eta_min + (base_lr - eta_min) * (1.0 + math.cos(math.pi * s / total)) / 2.0
    return fn


def scaled_rates(lr_cfg, scale=1.0):
    """The learning rates of OPTIMIZER.learning_rate (a checked mapping or a float) times ``scale``:
    {'values': [...]} (PiecewiseDecay), {'learning_rate', 'eta_min'} (CosineAnnealingDecay),
    {'cosine_base_lr'} (CustomWarmupCosineDecay) or {'learning_rate'} (a constant), plus
    'warmup_start_lr' when the schedule warms up."""
    if not isinstance(lr_cfg, dict):
        return {"learning_rate": float(lr_cfg) * scale}
    if lr_cfg["name"] == "PiecewiseDecay":
        rates = {"values": [float(v) * scale for v in lr_cfg["values"]]}
    elif lr_cfg["name"] == "CustomWarmupCosineDecay":
        rates = {"cosine_base_lr": float(lr_cfg["cosine_base_lr"]) * scale}
    else:
        rates = {"learning_rate": float(lr_cfg["learning_rate"]) * scale,
                 "eta_min": float(lr_cfg.get("eta_min", 0.0)) * scale}
    if lr_cfg.get("warmup_epochs"):
        rates["warmup_start_lr"] = float(lr_cfg.get("warmup_start_lr", 0.0)) * scale
    return rates


def build_lr(lr_cfg, steps_per_epoch, scale=1.0, where="OPTIMIZER.learning_rate"):
    """OPTIMIZER.learning_rate mapping (or a float) -> EpochSchedule; every lr multiplied by ``scale``.

    ``steps_per_epoch`` (optimizer steps) converts epoch milestones into steps when ``iter_step`` is true.
    """
    if lr_cfg is None:
        raise ConfigError(f"missing mandatory key '{where}'")
    check(LR_SCHEMA, lr_cfg, where)
    rates = scaled_rates(lr_cfg, scale)
    if not isinstance(lr_cfg, dict):
        return EpochSchedule(lambda step: rates["learning_rate"], by_iteration=True)
    name = lr_cfg["name"]
    by_iter = bool(lr_cfg.get("iter_step", True))
    per_epoch = int(steps_per_epoch) if by_iter else 1
    if per_epoch < 1:
        raise ConfigError(f"{where}: an epoch must have at least one optimizer step, got {steps_per_epoch}")
    if name == "PiecewiseDecay":
        bounds = list(lr_cfg["boundaries"])
        if len(rates["values"]) != len(bounds) + 1:
            raise ConfigError(f"{where}: PiecewiseDecay needs len(values) == len(boundaries) + 1, "
                              f"got {len(rates['values'])} values for {len(bounds)} boundaries")
        if bounds != sorted(bounds):
            raise ConfigError(f"{where}.boundaries: must be increasing, got {bounds}")
        fn = piecewise([round(b * per_epoch) for b in bounds], rates["values"])
    else:
        max_epoch = lr_cfg["max_epoch"]
        fn = cosine(rates[COSINE_BASE[name]], max(1, round(max_epoch * per_epoch)), rates.get("eta_min", 0.0))
    warmup_steps = round(float(lr_cfg.get("warmup_epochs", 0)) * per_epoch)
    return EpochSchedule(fn, warmup_steps, rates.get("warmup_start_lr", 0.0), by_iter)
