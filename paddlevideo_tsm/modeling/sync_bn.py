"""SyncBN: ``MODEL.backbone.sync_bn``, a key every backbone takes without an argument of its own.

With ``sync_bn: True`` a multi-GPU training run normalises each BatchNorm over the clips of all
processes (paddle.nn.SyncBatchNorm) instead of each process's own batch. Only the BNs a backbone
trains with batch statistics (``TSMBackbone.batch_stat_bns``) are converted; the ones
``partial_bn``/``norm_eval`` keep in eval mode stay as they are. The parameters and buffers are
the same tensors, so checkpoints are unchanged. Paddle has no CPU kernel for SyncBatchNorm.
"""
import paddle.nn as nn

from ..utils.config_schema import Value

# MODEL.backbone keys read here rather than by the backbone class (config.py adds them to every backbone)
BACKBONE_KEYS = {"sync_bn": Value(bool, null=True)}
# the TSM maintainers' advice: about 8 clips per card, or SyncBN, for BatchNorm statistics that hold
MIN_BN_CLIPS = 8


def backbone_args(backbone_cfg):
    """MODEL.backbone without the keys of BACKBONE_KEYS: the arguments of the backbone class."""
    return {k: v for k, v in backbone_cfg.items() if k not in BACKBONE_KEYS}


def wants_sync_bn(model_cfg):
    """MODEL.backbone.sync_bn as a bool."""
    return bool((model_cfg.get("backbone") or {}).get("sync_bn"))


def convert_sync_bn(model):
    """Replace every BatchNorm of ``model.backbone.batch_stat_bns()`` by a paddle.nn.SyncBatchNorm
    sharing its parameters and statistics, in place -> the number converted."""
    targets = {id(bn) for bn in model.backbone.batch_stat_bns() if not isinstance(bn, nn.SyncBatchNorm)}
    converted = 0
    for parent in [model] + model.sublayers():
        for name, child in list(parent.named_children()):
            if id(child) in targets:
                setattr(parent, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
                converted += 1
    return converted


def small_batch_warning(model, bn_clips):
    """A warning line when more than one BN of ``model`` normalises over fewer than MIN_BN_CLIPS clips
    (``bn_clips``: per process, or over all processes with SyncBN), else None. partial_bn, which
    leaves only the first BN learning, and norm_eval are the recipes' ways around it."""
    learning = len(model.backbone.batch_stat_bns())
    if bn_clips >= MIN_BN_CLIPS or learning <= 1:
        return None
    return (f"BatchNorm normalises over {bn_clips} clips (fewer than {MIN_BN_CLIPS}) in {learning} layers: "
            f"its batch statistics are noisy and accuracy suffers. Use MODEL.backbone.sync_bn: True on "
            f"several GPUs, a larger DATASET.batch_size, or partial_bn / norm_eval when fine-tuning "
            f"(accum_steps does not enlarge the batch BatchNorm sees)")


def setup_batch_norm(model, model_cfg, per_process, world, on_gpu, logger):
    """For training: convert ``model``'s BNs to SyncBN when MODEL.backbone.sync_bn asks for it and the
    run has several GPU processes (one line saying what runs instead otherwise), and warn when BN
    sees fewer than MIN_BN_CLIPS clips. Call before building the optimizer."""
    bn_clips = per_process
    if wants_sync_bn(model_cfg):
        if not on_gpu:
            logger.warning("MODEL.backbone.sync_bn: SyncBatchNorm needs GPUs (Paddle has no CPU kernel for it); "
                           "on CPU each process's BatchNorm normalises over its own batch (plain BatchNorm)")
        elif world == 1:
            logger.info("MODEL.backbone.sync_bn: one process, so plain BatchNorm (the same statistics)")
        else:
            n = convert_sync_bn(model)
            bn_clips = per_process * world
            logger.info(f"MODEL.backbone.sync_bn: {n} BatchNorm layers normalise over the {bn_clips} clips "
                        f"of all {world} processes (SyncBatchNorm)")
    warning = small_batch_warning(model, bn_clips)
    if warning:
        logger.warning(warning)

