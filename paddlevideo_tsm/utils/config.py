"""PaddleVideo-format YAML configs as attribute dicts, with ``-o KEY=VALUE`` overrides."""
import os

import yaml

from ..errors import ConfigError

SECTIONS = ("MODEL", "DATASET", "PIPELINE", "OPTIMIZER", "METRIC", "INFERENCE")
# top-level scalar keys and the types they accept
TOP_LEVEL = {
    "model_name": str, "epochs": int, "log_interval": int, "save_interval": int,
    "val_interval": int, "log_level": str, "output_dir": str, "use_visualdl": bool,
    "seed": int, "cpu_threads": int, "max_bad_fraction": float, "resume_epoch": int,
    "amp": bool, "amp_level": str, "GRADIENT_ACCUMULATION": dict, "PRECISEBN": dict,
    "test_after_train": bool,
}
# (dotted key, type) that every config must have
MANDATORY = (
    ("model_name", str),
    ("MODEL.framework", str),
    ("MODEL.backbone.name", str),
    ("MODEL.head.name", str),
    ("DATASET.batch_size", int),
)


class AttrDict(dict):
    """A dict whose keys are also attributes: ``cfg.MODEL.head.num_classes``."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __deepcopy__(self, memo):
        import copy
        return AttrDict({k: copy.deepcopy(v, memo) for k, v in self.items()})


def _to_attr(obj):
    if isinstance(obj, dict):
        return AttrDict({k: _to_attr(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [_to_attr(v) for v in obj]
    return obj


def _type_ok(value, typ):
    if typ is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typ)


def _lookup(cfg, dotted):
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def apply_override(cfg, override, path="<overrides>"):
    """Set ``A.B.C=value`` in ``cfg``; the value is parsed as YAML (``5`` is an int)."""
    if "=" not in override:
        raise ConfigError(f"{path}: override '{override}' is not KEY=VALUE")
    key, raw = override.split("=", 1)
    key = key.strip()
    value = _to_attr(yaml.safe_load(raw)) if raw.strip() else ""
    parts = key.split(".")
    node = cfg
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: override key '{key}': '{'.'.join(parts[:i])}' is not a section")
        node = node.setdefault(part, AttrDict())
    last = parts[-1]
    if isinstance(node, list) and last.isdigit():
        node[int(last)] = value
    elif isinstance(node, dict):
        old = node.get(last)
        if old is not None and value is not None and not _compatible(old, value):
            raise ConfigError(f"{path}: override key '{key}' expects {_type_name(old)}, "
                              f"got {_type_name(value)} ({raw.strip()!r})")
        node[last] = value
    else:
        raise ConfigError(f"{path}: override key '{key}' does not name a config entry")


def _type_name(value):
    return "mapping" if isinstance(value, dict) else type(value).__name__


def _compatible(old, new):
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) == isinstance(new, bool)
    if isinstance(old, (int, float)) or isinstance(new, (int, float)):
        return isinstance(old, (int, float)) and isinstance(new, (int, float))
    if isinstance(old, dict) or isinstance(new, dict):
        return isinstance(old, dict) and isinstance(new, dict)
    if isinstance(old, list) or isinstance(new, list):
        return isinstance(old, list) and isinstance(new, list)
    return True


def validate_config(cfg, path="<config>"):
    """Raise ConfigError (one line: file and key) on unknown sections, missing keys, wrong types."""
    for key, value in cfg.items():
        if key.isupper():
            if key not in SECTIONS and key not in TOP_LEVEL:
                raise ConfigError(f"{path}: unknown section '{key}'; known sections: {', '.join(SECTIONS)}")
            if key in SECTIONS and not isinstance(value, dict):
                raise ConfigError(f"{path}: section '{key}' must be a mapping, got {type(value).__name__}")
        elif key in TOP_LEVEL and value is not None and not _type_ok(value, TOP_LEVEL[key]):
            raise ConfigError(f"{path}: key '{key}' must be {TOP_LEVEL[key].__name__}, "
                              f"got {type(value).__name__} ({value!r})")
    for dotted, typ in MANDATORY:
        try:
            value = _lookup(cfg, dotted)
        except KeyError:
            raise ConfigError(f"{path}: missing mandatory key '{dotted}'") from None
        if not _type_ok(value, typ):
            raise ConfigError(f"{path}: key '{dotted}' must be {typ.__name__}, "
                              f"got {type(value).__name__} ({value!r})")
    return cfg


def get_config(path, overrides=None, validate=True):
    """Read the YAML file ``path``, apply ``overrides`` (list of 'A.B=v'), return an AttrDict."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    with open(path) as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    cfg = _to_attr(raw)
    for ov in overrides or []:
        apply_override(cfg, ov, path)
    if validate:
        validate_config(cfg, path)
    cfg["_path"] = path
    return cfg
