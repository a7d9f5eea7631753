"""Build a pipeline from a PaddleVideo-style config and run its steps in order."""
from ...errors import ConfigError
from ...errors import DataError
from ..registry import PIPELINES


class Compose:
    """Run ``steps`` (callables ``results -> results``) one after another on a results dict."""

    def __init__(self, steps):
        self.steps = list(steps)

    def __call__(self, results):
        """Take the sample's results dict; return it with ``imgs`` filled by the steps."""
        for step in self.steps:
            try:
                results = step(results)
            except DataError:
                raise
            except Exception as exc:
                # one line naming the sample and the step, so a dataset can log and skip it
                where = results.get("filename", "<sample>") if isinstance(results, dict) else "<sample>"
                msg = str(exc).splitlines()[0] if str(exc) else ""
                raise DataError(f"{where}: {type(step).__name__} failed: "
                                f"{type(exc).__name__}: {msg}") from exc
        return results

    def __repr__(self):
        return "Compose(" + ", ".join(type(s).__name__ for s in self.steps) + ")"


def _build_step(name, kwargs, where):
    """Build the registered step ``name`` with ``kwargs``; ConfigError naming ``where`` on failure."""
    if not isinstance(name, str):
        raise ConfigError(f"{where}: a step name must be a string, got {name!r}")
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{where}: arguments of '{name}' must be a mapping, got {kwargs!r}")
    try:
        return PIPELINES.build(dict(kwargs, name=name))
    except (KeyError, TypeError, ValueError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        raise ConfigError(f"{where}: {msg}") from None


def _parse_entry(entry, where):
    """A step entry is ``{name: X, **kwargs}`` or ``{X: kwargs-or-None}``; return (name, kwargs)."""
    if not isinstance(entry, dict) or not entry:
        raise ConfigError(f"{where}: expected a mapping like {{Scale: {{short_size: 256}}}}, got {entry!r}")
    if "name" in entry:
        return entry["name"], {k: v for k, v in entry.items() if k != "name"}
    if len(entry) != 1:
        raise ConfigError(f"{where}: one transform per list item, got keys {sorted(entry)}")
    (name, kwargs), = entry.items()
    return name, kwargs


def build_pipeline(cfg, where="PIPELINE"):
    """Build a Compose from ``{decode: {name,..}, sample: {name,..}, transform: [{Name: kwargs}, ..]}``.

    All three parts are optional; ``where`` (e.g. 'PIPELINE.train') prefixes config error messages.
    """
    if cfg is None:
        return Compose([])
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: a pipeline must be a mapping with decode/sample/transform, got {cfg!r}")
    unknown = set(cfg) - {"decode", "sample", "transform"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; a pipeline has decode, sample, transform")
    steps = []
    for part in ("decode", "sample"):
        if cfg.get(part) is not None:
            name, kwargs = _parse_entry(cfg[part], f"{where}.{part}")
            steps.append(_build_step(name, kwargs, f"{where}.{part}"))
    transforms = cfg.get("transform") or []
    if not isinstance(transforms, list):
        raise ConfigError(f"{where}.transform: must be a list of transforms, got {type(transforms).__name__}")
    for i, entry in enumerate(transforms):
        name, kwargs = _parse_entry(entry, f"{where}.transform[{i}]")
        steps.append(_build_step(name, kwargs, f"{where}.transform[{i}]"))
    return Compose(steps)
