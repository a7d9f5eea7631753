"""PaddleVideo-format YAML configs read into attribute dicts, with ``-o KEY=VALUE`` overrides.

Reading only: the keys a config may have and their checks are paddlevideo_tsm/config.py, whose
``get_config`` reads with ``read_config`` below and then checks.
"""
import os

import yaml

from ..errors import ConfigError


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


def apply_override(cfg, override, path="<overrides>"):
    """Set ``A.B.C=value`` in ``cfg``; the value is parsed as YAML (``5`` is an int)."""
    if "=" not in override:
        raise ConfigError(f"{path}: override '{override}' is not KEY=VALUE")
    key, raw = override.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"{path}: override '{override}' has no key (KEY=VALUE)")
    parts = key.split(".")
    if not all(p.strip() for p in parts):
        raise ConfigError(f"{path}: override '{override}' has an empty key part")
    try:
        value = _to_attr(yaml.safe_load(raw)) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: override '{override}': the value is not valid YAML "
                          f"({getattr(e, 'problem', None) or type(e).__name__})") from None
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


def read_config(path, overrides=None):
    """Read the YAML file ``path``, apply ``overrides`` (list of 'A.B=v') -> AttrDict; its
    ``_path`` key is ``path`` (for messages). No key is checked here (paddlevideo_tsm.config)."""
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
    cfg["_path"] = path
    return cfg
