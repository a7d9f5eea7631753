"""Training checkpoints: ``<prefix>.pdparams`` (model), ``.pdopt`` (optimizer + lr), ``.pdstate``.

``.pdstate`` is JSON (never a pickle): the last complete epoch, the iterations done into the next
one (0 at an epoch boundary), the best metric, the run id and the exact RNG states (numpy's
MT19937 key and position, python's Mersenne Twister words, paddle's generator text). Each file is
written to a temporary name in the same folder and moved into place with os.replace, and
``.pdstate`` is written last, so a checkpoint counts as complete exactly when its ``.pdstate``
exists: a run killed while saving leaves the earlier checkpoints complete and loadable.

A checkpoint cut inside an epoch (``--max_iters``) is named ``<model>_epoch_00003_iter_00002``:
epoch 3 after 2 of its iterations; it never takes the name of the complete epoch.
"""
import glob
import json
import math
import os
import random
import re

import numpy as np
import paddle

from ..errors import CheckpointError
from ..modeling.weights import load_state_strict, read_state_dict

SUFFIXES = (".pdparams", ".pdopt", ".pdstate")
STATE_FORMAT = "paddlevideo_tsm training state 1"
_NAME_RE = re.compile(r"_epoch_(\d+)(?:_iter_(\d+))?\.pdstate$")
_PICKLE_START = b"\x80"  # protocol 2+ pickles (paddle.save, pickle.dump) start with PROTO


def temp_path(path):
    """The temporary name ``atomic_save`` writes ``path`` under: ``.<name>.tmp<PID>`` beside it."""
    return os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}")


TEMP_NAME_RE = re.compile(r"^\..+\.tmp(\d+)$")  # temp_path's names; the group is the writer's PID


def atomic_save(obj, path, writer=None):
    """Write ``obj`` to ``path`` with ``writer(obj, tmp)`` (default paddle.save) on a temp file in the
    same folder, then os.replace. OSError propagates; the temp file never stays behind."""
    writer = writer or paddle.save
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temp_path(path)
    try:
        writer(obj, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_or_fail(obj, path, writer=None):
    """atomic_save, with an OSError (full disk, no permission) as one-line CheckpointError."""
    try:
        atomic_save(obj, path, writer)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot write ({e.strerror or e}); the checkpoints saved "
                              f"before are intact") from None


def write_text(text, path):
    """An ``atomic_save`` writer for text (UTF-8): ``atomic_save(text, path, writer=write_text)``."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(obj, path):
    """An ``atomic_save`` writer for JSON (NaN refused: the project's state files are exact)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, allow_nan=False)


# --- RNG states as JSON (ints and one float, exact) ------------------------------------------
def rng_state():
    """The numpy, python and paddle RNG states as a JSON-ready dict."""
    _, key, pos, has_gauss, gauss = np.random.get_state()
    version, words, py_gauss = random.getstate()
    paddle_states = [list(s.__getstate__()) for s in paddle.get_rng_state()]
    return {"numpy": {"key": key.tolist(), "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "python": {"version": version, "words": list(words), "gauss": py_gauss},
            # (device, seed, offset, the generator's state as text in bytes)
            "paddle": [[d, seed, offset, bytes(text).decode("ascii")] for d, seed, offset, text in paddle_states]}


def set_rng_state(state):
    """Inverse of ``rng_state``; raises KeyError/TypeError/ValueError on a malformed dict."""
    from paddle.base.libpaddle import GeneratorState
    n = state["numpy"]
    np.random.set_state(("MT19937", np.array(n["key"], dtype=np.uint32), int(n["pos"]), int(n["has_gauss"]),
                         float(n["gauss"])))
    p = state["python"]
    random.setstate((int(p["version"]), tuple(int(w) for w in p["words"]), p["gauss"]))
    generators = []
    for device, seed, offset, text in state["paddle"]:
        g = GeneratorState.__new__(GeneratorState)
        g.__setstate__((int(device), int(seed), int(offset), list(text.encode("ascii"))))
        generators.append(g)
    paddle.set_rng_state(generators)


# --- optimizer state under structured parameter names ----------------------------------------
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


# --- names -------------------------------------------------------------------------------------
def checkpoint_prefix(output_dir, model_name, epoch, iters=0):
    """<output_dir>/<model_name>_epoch_00010 for the end of epoch 10; with ``iters`` > 0 the
    checkpoint inside epoch ``epoch`` after that many iterations: ..._epoch_00010_iter_00003."""
    name = f"{model_name}_epoch_{int(epoch):05d}"
    return os.path.join(output_dir, name + (f"_iter_{int(iters):05d}" if iters else ""))


def resolve_prefix(path):
    """A checkpoint given as prefix or as any of its three files -> the prefix."""
    for suffix in SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _progress(path):
    """(epoch, iterations) of a .pdstate name; a complete epoch sorts after every cut of it."""
    m = _NAME_RE.search(path)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)) if m.group(2) else math.inf


def complete_checkpoints(output_dir, model_name=None):
    """[(progress, prefix)] of the complete checkpoints in ``output_dir`` (of ``model_name``, or of any
    model), in training order."""
    pattern = f"{glob.escape(model_name)}_epoch_*.pdstate" if model_name else "*_epoch_*.pdstate"
    found = []
    for path in glob.glob(os.path.join(glob.escape(output_dir), pattern)):
        prefix, progress = path[: -len(".pdstate")], _progress(path)
        if progress and os.path.exists(prefix + ".pdparams") and os.path.exists(prefix + ".pdopt"):
            found.append((progress, prefix))
    return sorted(found)


def find_latest(output_dir, model_name=None):
    """Prefix of the complete checkpoint furthest into training in ``output_dir``, or None."""
    found = complete_checkpoints(output_dir, model_name)
    return found[-1][1] if found else None


def remove_cut_checkpoints_before(prefix):
    """Delete the mid-epoch checkpoints of ``prefix``'s model and folder that ``prefix`` supersedes."""
    folder, name = os.path.split(prefix)
    model_name = name[: name.index("_epoch_")]
    mine = _progress(prefix + ".pdstate")
    for progress, other in complete_checkpoints(folder, model_name):
        if progress < mine and progress[1] != math.inf:
            for suffix in (".pdstate",) + SUFFIXES[:2]:  # the state first: the rest stops counting
                if os.path.exists(other + suffix):
                    os.remove(other + suffix)


# --- save and load -----------------------------------------------------------------------------
def write_training_state(prefix, state):
    """Write ``state`` (JSON values) + the current RNG states to ``prefix``.pdstate, atomically."""
    save_or_fail(dict(state, format=STATE_FORMAT, rng=rng_state()), prefix + ".pdstate", writer=write_json)


def save_checkpoint(prefix, model, optimizer, epoch, best=None, extra=None):
    """Write ``prefix``.pdparams/.pdopt/.pdstate after ``epoch`` complete epochs (plus ``extra['iters']``
    iterations into the next); ``extra`` holds more JSON values for the state. Returns prefix."""
    state_path = prefix + ".pdstate"
    if os.path.exists(state_path):
        os.remove(state_path)  # the old pair stops counting before its files are overwritten
    save_or_fail(model.state_dict(), prefix + ".pdparams")
    save_or_fail(optimizer_state(model, optimizer), prefix + ".pdopt")
    write_training_state(prefix, dict(extra or {}, epoch=int(epoch), best=best))
    return prefix


def load_training_state(prefix, model, optimizer):
    """Restore model, optimizer (+ lr schedule) and RNGs from ``prefix``; return the .pdstate dict."""
    for suffix in SUFFIXES:
        if not os.path.isfile(prefix + suffix):
            raise CheckpointError(f"{prefix + suffix}: checkpoint file not found (a resume needs "
                                  f"{', '.join(SUFFIXES)})")
    state = read_training_state(prefix + ".pdstate")  # first: it is the file checked for safety
    load_state_strict(model, read_state_dict(prefix + ".pdparams"), prefix + ".pdparams")
    opt_state = read_state_dict(prefix + ".pdopt")
    try:
        set_optimizer_state(model, optimizer, opt_state)
    except Exception as e:  # paddle raises several kinds on an optimizer state of another model
        raise CheckpointError(f"{prefix}.pdopt: does not fit the optimizer ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    try:
        set_rng_state(state["rng"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{prefix}.pdstate: malformed RNG state ({type(e).__name__}: {e})") from None
    return state


def read_training_state(path):
    """The .pdstate dict {epoch, iters, best, run_id, rng, ...}; CheckpointError when unreadable, a
    pickle (the old format, which could run code when read: refused unread) or not a training state."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read training state ({e.strerror or e})") from None
    if data.startswith(_PICKLE_START):
        raise CheckpointError(f"{path}: a pickled training state (the old, unsafe format: reading it could "
                              f"run code), not read; resume from a checkpoint written by this version")
    try:
        state = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot read training state (not JSON: {e})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not a training state of this project (no 'format': '{STATE_FORMAT}')")
    for key, kind in (("epoch", int), ("rng", dict)):
        if not isinstance(state.get(key), kind):
            raise CheckpointError(f"{path}: training state without a valid '{key}'")
    state.setdefault("iters", 0)
    return state
