"""Name -> class registries: plain dicts filled by a ``register`` decorator."""
import inspect


class Registry(dict):
    """A dict of name -> class (or function) for one kind of component."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def register(self, obj=None, name=None):
        """Decorator: ``@REG.register`` or ``@REG.register(name='Alias')``."""
        def add(o):
            key = name or o.__name__
            if key in self:
                raise KeyError(f"{self.kind} '{key}' is registered twice")
            self[key] = o
            return o
        return add(obj) if obj is not None else add

    def get(self, name):
        if name not in self:
            known = ", ".join(sorted(self)) or "(none)"
            raise KeyError(f"unknown {self.kind} '{name}'; registered {self.kind}s: {known}")
        return self[name]

    def build(self, cfg, **extra):
        """Build from a mapping with ``name`` plus keyword arguments (``extra`` wins)."""
        if cfg is None or "name" not in cfg:
            raise KeyError(f"a {self.kind} config needs a 'name' key, got {dict(cfg or {})}")
        kwargs = {k: v for k, v in cfg.items() if k != "name"}
        kwargs.update(extra)
        obj = self.get(cfg["name"])
        check_kwargs(obj, kwargs, f"{self.kind} '{cfg['name']}'")
        return obj(**kwargs)


def check_kwargs(fn, kwargs, what):
    """Raise TypeError naming ``what`` and the first argument ``fn`` does not take."""
    sig = inspect.signature(fn)
    params = sig.parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params}
    for key in kwargs:
        if key not in accepted:
            raise TypeError(f"{what} got an unknown argument '{key}'; it takes: "
                            + ", ".join(sorted(accepted - {'self'})))
