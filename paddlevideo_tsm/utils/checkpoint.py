"""Training checkpoints: ``<prefix>.pdparams`` (model), ``.pdopt`` (optimizer + lr), ``.pdstate``.

``.pdstate`` holds the epoch, the best metric and the RNG states (numpy, random, paddle). Each
file is written to a temporary name in the same folder and moved into place with os.replace, and
``.pdstate`` is written last, so a checkpoint counts as complete exactly when its ``.pdstate``
exists: a run killed while saving leaves the earlier checkpoints complete and loadable.
"""
import glob
import os
import pickle
import random
import re

import numpy as np
import paddle

from ..modeling.weights import CheckpointError, load_state_strict, read_state_dict

SUFFIXES = (".pdparams", ".pdopt", ".pdstate")
_EPOCH_RE = re.compile(r"_epoch_(\d+)\.pdstate$")


def _pickle_dump(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def atomic_save(obj, path, writer=None):
    """Write ``obj`` to ``path`` with ``writer(obj, tmp)`` (default paddle.save) on a temp file in the
    same folder, then os.replace."""
    writer = writer or paddle.save
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        writer(obj, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def rng_state():
    """The numpy, python and paddle RNG states as one picklable dict."""
    return {"numpy": np.random.get_state(), "python": random.getstate(), "paddle": paddle.get_rng_state()}


def set_rng_state(state):
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    paddle.set_rng_state(state["paddle"])


def _param_names(model):
    """Paddle's unique parameter name (a process-wide counter) -> the structured name in ``model``."""
    return {p.name: n for n, p in model.named_parameters()}


def _rename_keys(state, mapping):
    """Optimizer state keys start with a parameter name ('linear_2.w_0_velocity_0'): swap that prefix
    through ``mapping`` (longest match first); keys of no parameter are kept."""
    names = sorted(mapping, key=len, reverse=True)
    out = {}
    for key, value in state.items():
        new = key
        for name in names:
            if key == name or key.startswith(name + "_"):
                new = mapping[name] + key[len(name):]
                break
        out[new] = _rename_keys(value, mapping) if key == "master_weights" and isinstance(value, dict) else value
    return out


def optimizer_state(model, optimizer):
    """optimizer.state_dict() with accumulators keyed by structured parameter names, so it loads
    into a model built in another order or process."""
    return _rename_keys(optimizer.state_dict(), _param_names(model))


def set_optimizer_state(model, optimizer, state):
    """Inverse of ``optimizer_state``."""
    optimizer.set_state_dict(_rename_keys(state, {v: k for k, v in _param_names(model).items()}))


def checkpoint_prefix(output_dir, model_name, epoch):
    """<output_dir>/<model_name>_epoch_00010 for epoch 10."""
    return os.path.join(output_dir, f"{model_name}_epoch_{int(epoch):05d}")


def save_checkpoint(prefix, model, optimizer, epoch, best=None, extra=None):
    """Write ``prefix``.pdparams/.pdopt/.pdstate for the end of ``epoch`` (1-based); returns prefix."""
    state_path = prefix + ".pdstate"
    if os.path.exists(state_path):
        os.remove(state_path)  # the old pair stops counting before its files are overwritten
    atomic_save(model.state_dict(), prefix + ".pdparams")
    atomic_save(optimizer_state(model, optimizer), prefix + ".pdopt")
    # plain pickle: paddle.save would try to turn the numpy RNG state into tensors
    atomic_save({"epoch": int(epoch), "best": best, "rng": rng_state(), "extra": extra or {}}, state_path,
                writer=_pickle_dump)
    return prefix


def resolve_prefix(path):
    """A checkpoint given as prefix or as any of its three files -> the prefix."""
    for suffix in SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def find_latest(output_dir, model_name=None):
    """Prefix of the complete checkpoint with the highest epoch in ``output_dir``, or None."""
    pattern = f"{glob.escape(model_name)}_epoch_*.pdstate" if model_name else "*_epoch_*.pdstate"
    best = None
    for path in glob.glob(os.path.join(glob.escape(output_dir), pattern)):
        m = _EPOCH_RE.search(path)
        prefix = path[: -len(".pdstate")]
        if m and os.path.exists(prefix + ".pdparams") and os.path.exists(prefix + ".pdopt"):
            if best is None or int(m.group(1)) > best[0]:
                best = (int(m.group(1)), prefix)
    return best[1] if best else None


def load_training_state(prefix, model, optimizer):
    """Restore model, optimizer (+ lr schedule) and RNGs from ``prefix``; return the .pdstate dict."""
    for suffix in SUFFIXES:
        if not os.path.isfile(prefix + suffix):
            raise CheckpointError(f"{prefix + suffix}: checkpoint file not found (a resume needs "
                                  f"{', '.join(SUFFIXES)})")
    load_state_strict(model, read_state_dict(prefix + ".pdparams"), prefix + ".pdparams")
    opt_state = read_state_dict(prefix + ".pdopt")
    try:
        set_optimizer_state(model, optimizer, opt_state)
    except Exception as e:  # paddle raises several kinds on an optimizer state of another model
        raise CheckpointError(f"{prefix}.pdopt: does not fit the optimizer ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    state = read_training_state(prefix + ".pdstate")
    set_rng_state(state["rng"])
    return state


def read_training_state(path):
    """The .pdstate dict {epoch, best, rng, extra}; CheckpointError when unreadable."""
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except Exception as e:  # truncated or foreign file
        raise CheckpointError(f"{path}: cannot read training state ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or "epoch" not in state or "rng" not in state:
        raise CheckpointError(f"{path}: not a training state (needs 'epoch' and 'rng')")
    return state
