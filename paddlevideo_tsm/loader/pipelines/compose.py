"""Build a pipeline from a PaddleVideo-style config and run its steps in order."""
from ...errors import ConfigError, DataError
from ...utils.config_schema import Component, Section
from ..registry import PIPELINES

PARTS = ("decode", "sample", "transform")  # the keys of a pipeline section, in the order they run


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
    try:
        return PIPELINES.build(dict(kwargs, name=name))
    except (KeyError, TypeError, ValueError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        raise ConfigError(f"{where}: {msg}") from None


def parse_step(entry, where):
    """A step entry ``{name: X, **kwargs}`` or ``{X: kwargs-or-None}`` -> (X, kwargs dict)."""
    if not isinstance(entry, dict) or not entry:
        raise ConfigError(f"{where}: expected a mapping like {{Scale: {{short_size: 256}}}}, got {entry!r}")
    if "name" in entry:
        return entry["name"], {k: v for k, v in entry.items() if k != "name"}
    if len(entry) != 1:
        raise ConfigError(f"{where}: one transform per list item, got keys {sorted(entry)}")
    (name, kwargs), = entry.items()
    if kwargs is not None and not isinstance(kwargs, dict):
        raise ConfigError(f"{where}: arguments of '{name}' must be a mapping, got {kwargs!r}")
    return name, dict(kwargs or {})


def transform_steps(section, where="PIPELINE"):
    """The ``transform`` list of pipeline section ``section`` (PIPELINE.<split>), either step form,
    as [(name, kwargs dict)] in order ([] when absent); ConfigError naming ``where`` if malformed."""
    transforms = (section or {}).get("transform") or []
    if not isinstance(transforms, list):
        raise ConfigError(f"{where}.transform: must be a list of transforms, got {type(transforms).__name__}")
    return [parse_step(entry, f"{where}.transform[{i}]") for i, entry in enumerate(transforms)]


def build_pipeline(cfg, where="PIPELINE"):
    """Build a Compose from ``{decode: {name,..}, sample: {name,..}, transform: [{Name: kwargs}, ..]}``.

    All three parts are optional; ``where`` (e.g. 'PIPELINE.train') prefixes config error messages.
    """
    if cfg is None:
        return Compose([])
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: a pipeline must be a mapping with decode/sample/transform, got {cfg!r}")
    unknown = set(cfg) - set(PARTS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; a pipeline has decode, sample, transform")
    steps = []
    for part in PARTS[:2]:  # decode, sample; then the transforms
        if cfg.get(part) is not None:
            name, kwargs = parse_step(cfg[part], f"{where}.{part}")
            steps.append(_build_step(name, kwargs, f"{where}.{part}"))
    for i, (name, kwargs) in enumerate(transform_steps(cfg, where)):
        steps.append(_build_step(name, kwargs, f"{where}.transform[{i}]"))
    return Compose(steps)


class TransformList:
    """Schema node of a ``transform`` list: each step's arguments against its class's signature."""

    null = True

    def __init__(self, step):
        self.step = step  # a config_schema.Component of PIPELINES

    def check(self, value, key, walk):
        if not isinstance(value, list):
            raise walk.error(f"key '{key}' must be a list of transforms, got {type(value).__name__}")
        for i, entry in enumerate(value):
            where = f"{key}[{i}]"
            try:
                name, kwargs = parse_step(entry, where)
            except ConfigError as exc:
                raise walk.error(str(exc)) from None
            self.step.check_args(name, kwargs, where if "name" in entry else f"{where}.{name}", walk,
                                 name_at=where)


# the schema of one PIPELINE.<split> section, for the config check at start (paddlevideo_tsm/config.py)
SECTION_SCHEMA = Section({"decode": Component(PIPELINES, null=True), "sample": Component(PIPELINES, null=True),
                          "transform": TransformList(Component(PIPELINES))}, null=True)
