"""Optimizers from ``OPTIMIZER``: Momentum / SGD / AdamW with L2 decay, gradient clipping, lr schedule.

Per-parameter settings come from the model's ParamAttr: BatchNorm scale/shift and the fc bias
carry ``regularizer=L2Decay(0)`` (Paddle prefers a parameter's own regularizer over the
optimizer's ``weight_decay``), the head's fc weight/bias carry ``learning_rate`` 5 / 10 (Paddle
multiplies the scheduled lr by it). ``trainable_summary`` lists what ends up where.
"""
import paddle
from paddle.regularizer import L2Decay

from ..errors import ConfigError
from ..utils.config_schema import Either, Section, Tagged, Value, check
from .lr import LR_SCHEMA

WEIGHT_DECAY_SCHEMA = Either(Value(float, min=0), Section(
    {"name": Value(str, choices=("L2", "L2Decay")), "value": Value(float, min=0)}, required=("name",)), null=True)
GRAD_CLIP_SCHEMA = Section({"name": Value(str, choices=("ClipGradByGlobalNorm",)), "value": Value(float, above=0),
                            "clip_norm": Value(float, above=0)}, required=("name",), null=True)
LR_SCALE_SCHEMA = Section({"base_batch_size": Value(int, min=1)}, required=("base_batch_size",), null=True)
# OPTIMIZER: name -> the keys of that optimizer, then the keys every optimizer takes
OPTIMIZER_SCHEMA = Tagged("optimizer", {
    "Momentum": Section({"momentum": Value(float, min=0), "use_nesterov": Value(bool)}),
    "SGD": Section({}),
    "AdamW": Section({"beta1": Value(float, min=0, max=1), "beta2": Value(float, min=0, max=1),
                      "epsilon": Value(float, above=0)}),
}, common=Section({"learning_rate": LR_SCHEMA, "weight_decay": WEIGHT_DECAY_SCHEMA, "grad_clip": GRAD_CLIP_SCHEMA,
                   "lr_scale_by_batch": LR_SCALE_SCHEMA}))


def build_weight_decay(cfg, where="OPTIMIZER.weight_decay"):
    """``{name: L2, value: 1e-4}`` or a number -> L2Decay (None when absent or 0)."""
    if cfg is None:
        return None
    check(WEIGHT_DECAY_SCHEMA, cfg, where)
    if not isinstance(cfg, dict):
        return L2Decay(float(cfg)) if cfg else None
    value = cfg.get("value", 0.0)
    return L2Decay(float(value)) if value else None


def build_grad_clip(cfg, where="OPTIMIZER.grad_clip"):
    """``{name: ClipGradByGlobalNorm, value: 20}`` -> paddle.nn.ClipGradByGlobalNorm (None when absent)."""
    if cfg is None:
        return None
    check(GRAD_CLIP_SCHEMA, cfg, where)
    norm = cfg.get("value", cfg.get("clip_norm"))
    if norm is None:
        raise ConfigError(f"missing mandatory key '{where}.value'")
    return paddle.nn.ClipGradByGlobalNorm(clip_norm=float(norm))


def lr_batch_scale(opt_cfg, total_batch, where="OPTIMIZER.lr_scale_by_batch"):
    """total_batch / base_batch_size when ``lr_scale_by_batch`` is set, else 1.0 (linear scaling rule)."""
    cfg = opt_cfg.get("lr_scale_by_batch")
    if not cfg:
        return 1.0
    check(LR_SCALE_SCHEMA, cfg, where)
    return float(total_batch) / cfg["base_batch_size"]


def _decay_coeff(param, default):
    """The L2 coefficient that applies to ``param``: its own regularizer first, else ``default``."""
    reg = getattr(param, "regularizer", None)
    reg = reg if reg is not None else default
    return float(getattr(reg, "_coeff", 0.0)) if reg is not None else 0.0


def trainable_summary(parameters, weight_decay):
    """[(name, decay coefficient, lr multiplier)] for every trainable parameter."""
    out = []
    for p in parameters:
        if p.stop_gradient:
            continue
        out.append((p.name, _decay_coeff(p, weight_decay), float(p.optimize_attr.get("learning_rate", 1.0))))
    return out


def build_optimizer(opt_cfg, lr_scheduler, parameters, where="OPTIMIZER"):
    """OPTIMIZER mapping + lr (scheduler or float) + model parameters -> paddle optimizer."""
    check(OPTIMIZER_SCHEMA, opt_cfg, where)
    name = opt_cfg["name"]
    params = [p for p in parameters if not p.stop_gradient]
    decay = build_weight_decay(opt_cfg.get("weight_decay"), f"{where}.weight_decay")
    clip = build_grad_clip(opt_cfg.get("grad_clip"), f"{where}.grad_clip")
    if name == "Momentum":
        return paddle.optimizer.Momentum(
            learning_rate=lr_scheduler, momentum=float(opt_cfg.get("momentum", 0.9)), parameters=params,
            use_nesterov=bool(opt_cfg.get("use_nesterov", False)), weight_decay=decay, grad_clip=clip)
    if name == "SGD":
        return paddle.optimizer.SGD(learning_rate=lr_scheduler, parameters=params, weight_decay=decay,
                                    grad_clip=clip)
    # AdamW decays decoupled from the gradient and ignores per-parameter regularizers, so the
    # no-decay set (BN, fc bias) is passed explicitly
    coeff = float(decay._coeff) if decay is not None else 0.0
    no_decay = {p.name for p in params if _decay_coeff(p, decay) == 0.0}
    return paddle.optimizer.AdamW(
        learning_rate=lr_scheduler, parameters=params, weight_decay=coeff, grad_clip=clip,
        beta1=float(opt_cfg.get("beta1", 0.9)), beta2=float(opt_cfg.get("beta2", 0.999)),
        epsilon=float(opt_cfg.get("epsilon", 1e-8)),
        apply_decay_param_fun=lambda pname: pname not in no_decay)
