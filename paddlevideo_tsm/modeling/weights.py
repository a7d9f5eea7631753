"""Loading weights: strict full checkpoints and lenient ``pretrained`` backbones."""
import os
import warnings

import paddle

from ..errors import CheckpointError
from ..utils.logger import get_logger


def _short(keys, limit=10):
    keys = list(keys)
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def read_state_dict(path):
    """Read a ``.pdparams`` file into a dict of name -> tensor/array; CheckpointError on failure."""
    if not path or not os.path.isfile(path):
        raise CheckpointError(f"{path}: weights file not found")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: weights file is empty")
    try:
        state = paddle.load(path)
    except Exception as e:  # paddle raises many kinds on a corrupt file
        raise CheckpointError(f"{path}: cannot read weights ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors, got {type(state).__name__}")
    return state


def _shape(v):
    return list(v.shape)


def fit_report(model_state, state):
    """Return (missing, unexpected, mismatched) key lists between a model and a state dict."""
    missing = [k for k in model_state if k not in state]
    unexpected = [k for k in state if k not in model_state]
    mismatched = [f"{k} {_shape(state[k])} vs model {_shape(model_state[k])}"
                  for k in model_state if k in state and _shape(state[k]) != _shape(model_state[k])]
    return missing, unexpected, mismatched


def load_state_strict(model, state, source="<state dict>"):
    """Set every parameter/buffer of ``model`` from ``state``; CheckpointError unless it fits exactly."""
    model_state = model.state_dict()
    missing, unexpected, mismatched = fit_report(model_state, state)
    if missing or unexpected or mismatched:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if keys:
                parts.append(f"{len(keys)} {what}: {_short(keys)}")
        raise CheckpointError(f"{source}: does not fit the model; " + "; ".join(parts))
    model.set_state_dict(state)
    return len(state)


def load_checkpoint(model, path):
    """Strictly load the ``.pdparams`` at ``path`` into ``model``; returns the tensor count."""
    return load_state_strict(model, read_state_dict(path), path)


def load_pretrained(model, path, backbone_prefix="backbone.", head_prefix="head.", backbone_classifiers=None,
                    new_layers=None):
    """Initialise a recognizer from ``path``: backbone keys with or without ``backbone.``.

    Every backbone tensor must be present with the right shape (else CheckpointError), except
    those under ``new_layers`` (prefixes inside the backbone: layers a 2D network does not have,
    e.g. non-local blocks), which load when present and else keep their initialisation. Classifier
    tensors - the head's, and those under ``backbone_classifiers`` (prefixes inside the backbone,
    e.g. MobileNetV2's ``out.``) - load when their shapes fit; a classifier of another size is
    skipped with a warning. Keys the model does not have (e.g. an ImageNet fc) are ignored. The
    log line counts what matched. Returns the number of tensors loaded. Both prefix lists default to
    what the model's backbone declares (``classifier_prefixes``, ``new_layer_prefixes``), so every
    caller (the backbone's ``pretrained``, main.py's ``--weights``) loads a file the same way.
    """
    backbone = getattr(model, "backbone", None)
    if backbone_classifiers is None:
        backbone_classifiers = getattr(backbone, "classifier_prefixes", ())
    if new_layers is None:
        new_layers = getattr(backbone, "new_layer_prefixes", ())
    logger = get_logger()
    state = read_state_dict(path)
    model_state = model.state_dict()
    renamed = {}
    for k, v in state.items():
        if k.startswith(backbone_prefix) or k.startswith(head_prefix):
            renamed[k] = v
        elif backbone_prefix + k in model_state:
            renamed[backbone_prefix + k] = v
        else:
            renamed[k] = v
    optional = (head_prefix,) + tuple(backbone_prefix + p for p in backbone_classifiers)
    new = tuple(backbone_prefix + p for p in new_layers)
    required = [k for k in model_state if k.startswith(backbone_prefix) and not k.startswith(optional)
                and (not k.startswith(new) or k in renamed)]
    fresh = sum(1 for k in model_state if k.startswith(new) and k not in renamed)
    missing, _, mismatched = fit_report({k: model_state[k] for k in required}, renamed)
    if missing or mismatched:
        parts = [f"{len(x)} {w}: {_short(x)}" for w, x in (("missing", missing), ("shape mismatch", mismatched)) if x]
        raise CheckpointError(f"{path}: pretrained backbone does not fit the model; " + "; ".join(parts))
    to_load = {k: renamed[k] for k in required}
    classifier = [k for k in model_state if k.startswith(optional)]
    skipped = []
    for k in classifier:
        if k in renamed:
            if _shape(renamed[k]) == _shape(model_state[k]):
                to_load[k] = renamed[k]
            else:
                skipped.append(f"{k} {_shape(renamed[k])} vs model {_shape(model_state[k])}")
    if skipped:
        logger.warning(f"{path}: skipped {len(skipped)} classifier tensors of another shape: {_short(skipped)}")
    ignored = [k for k in renamed if k not in model_state]
    with warnings.catch_warnings():
        # paddle warns once per tensor left at its initial value (the skipped head): logged above
        warnings.simplefilter("ignore")
        model.set_state_dict(to_load)
    logger.info(f"loaded {len(to_load)} tensors from {path}: backbone {len(required)} of {len(required) + fresh}, "
                f"classifier {len(to_load) - len(required)} of {len(classifier)}"
                + (f"; {len(ignored)} tensors not in the model ignored" if ignored else "")
                + (f"; {fresh} tensors of new layers ({_short(new_layers, 3)}) keep their initialisation"
                   if fresh else ""))
    return len(to_load)
