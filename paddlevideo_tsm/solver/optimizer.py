"""Optimizers from ``OPTIMIZER``: Momentum / SGD / AdamW with L2 decay, gradient clipping, lr schedule.

Per-parameter settings come from the model's ParamAttr: BatchNorm scale/shift and the fc bias
carry ``regularizer=L2Decay(0)`` (Paddle prefers a parameter's own regularizer over the
optimizer's ``weight_decay``), the head's fc weight/bias carry ``learning_rate`` 5 / 10 (Paddle
multiplies the scheduled lr by it). ``trainable_summary`` lists what ends up where.
"""
import paddle
from paddle.regularizer import L2Decay

from ..errors import ConfigError

OPTIMIZERS = ("Momentum", "SGD", "AdamW")
OPT_KEYS = {
    "Momentum": {"momentum", "use_nesterov"},
    "SGD": set(),
    "AdamW": {"beta1", "beta2", "epsilon"},
}
COMMON_KEYS = {"name", "learning_rate", "weight_decay", "grad_clip", "lr_scale_by_batch"}


def build_weight_decay(cfg, where="OPTIMIZER.weight_decay"):
    """``{name: L2, value: 1e-4}`` or a number -> L2Decay (None when absent or 0)."""
    if cfg is None:
        return None
    if isinstance(cfg, (int, float)) and not isinstance(cfg, bool):
        return L2Decay(float(cfg)) if cfg else None
    if not isinstance(cfg, dict) or cfg.get("name") not in ("L2", "L2Decay"):
        raise ConfigError(f"{where}: expected {{name: L2, value: <coeff>}}, got {cfg!r}")
    value = cfg.get("value", 0.0)
    return L2Decay(float(value)) if value else None


def build_grad_clip(cfg, where="OPTIMIZER.grad_clip"):
    """``{name: ClipGradByGlobalNorm, value: 20}`` -> paddle.nn.ClipGradByGlobalNorm (None when absent)."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict) or cfg.get("name") != "ClipGradByGlobalNorm":
        raise ConfigError(f"{where}: expected {{name: ClipGradByGlobalNorm, value: <max norm>}}, got {cfg!r}")
    norm = cfg.get("value", cfg.get("clip_norm"))
    if not isinstance(norm, (int, float)) or norm <= 0:
        raise ConfigError(f"{where}.value: must be a positive number, got {norm!r}")
    return paddle.nn.ClipGradByGlobalNorm(clip_norm=float(norm))


def lr_batch_scale(opt_cfg, total_batch, where="OPTIMIZER.lr_scale_by_batch"):
    """total_batch / base_batch_size when ``lr_scale_by_batch`` is set, else 1.0 (linear scaling rule)."""
    cfg = opt_cfg.get("lr_scale_by_batch")
    if not cfg:
        return 1.0
    base = cfg.get("base_batch_size") if isinstance(cfg, dict) else None
    if not isinstance(base, int) or base < 1:
        raise ConfigError(f"{where}: expected {{base_batch_size: <positive int>}}, got {cfg!r}")
    return float(total_batch) / base


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
    name = opt_cfg.get("name")
    if name not in OPTIMIZERS:
        raise ConfigError(f"{where}.name: unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    unknown = set(opt_cfg) - COMMON_KEYS - OPT_KEYS[name]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} for {name}; it takes "
                          f"{sorted(COMMON_KEYS | OPT_KEYS[name])}")
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
