"""Schema nodes for config sections, and the walk that checks a config against them.

``check(node, value, key, source)`` raises ConfigError, one line naming the ``source`` file and
the dotted key, at the first unknown key (with the closest known one), missing key, or value of
the wrong type or range. Keys that PaddleVideo configs carry and this project ignores get a
one-line warning instead. Nodes:

- ``Value``: a leaf of one type (int, float = any number, str, bool, list, dict) and range;
- ``Section``: a mapping with fixed keys; ``Tagged``: a mapping whose ``name`` key picks its keys;
- ``Component``: a mapping whose keys are the arguments of a registered class (its signature);
- ``Either``: a scalar or a mapping/list (``learning_rate: 0.1`` or a schedule).

Any object with ``check(value, key, walk)`` and a ``null`` attribute is a node too.
"""
import difflib
import inspect

from ..errors import ConfigError
from .logger import get_logger

_TYPE_WORDS = {int: "an int", float: "a number", str: "a string", bool: "true or false",
               list: "a list", dict: "a mapping"}


class Walk:
    """One check of one config: the file named in messages (None: no prefix)."""

    def __init__(self, source=None):
        self.source = source

    def error(self, text):
        """ConfigError('<source>: text'), to raise."""
        return ConfigError(f"{self.source}: {text}" if self.source else text)

    def warn(self, text):
        get_logger().warning(f"{self.source}: {text}" if self.source else text)


def join(key, part):
    """'A.B' + 'c' -> 'A.B.c'; '' + 'c' -> 'c'."""
    return f"{key}.{part}" if key else str(part)


def _shown(value):
    """How a bad value is quoted: '0' for numbers, "str ('two')" for other types."""
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} ({value!r})"


def is_type(value, typ):
    """isinstance with YAML's sense of numbers: bool is not an int; float accepts ints."""
    if typ in (int, float) and isinstance(value, bool):
        return False
    if typ is float:
        return isinstance(value, (int, float))
    return isinstance(value, typ)


class Value:
    """A leaf: ``typ`` (int, float, str, bool, list, dict), optional bounds or choices.

    min/max are inclusive, ``above`` exclusive; ``items`` checks each list element; ``null``
    allows null (the consumer's default applies); ``ignore_case`` compares string choices upper-cased.
    """

    def __init__(self, typ, min=None, max=None, above=None, choices=None, items=None, null=False,
                 ignore_case=False):
        self.typ, self.min, self.max, self.above = typ, min, max, above
        self.choices, self.items, self.null, self.ignore_case = choices, items, null, ignore_case

    def describe(self):
        """'an int >= 1', 'a number in [0, 1]', 'one of O1, O2', ..."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        word = _TYPE_WORDS[self.typ]
        if self.min is not None and self.max is not None:
            return f"{word} in [{self.min}, {self.max}]"
        if self.min is not None:
            return f"{word} >= {self.min}"
        if self.above is not None:
            return f"{word} > {self.above}"
        if self.max is not None:
            return f"{word} <= {self.max}"
        return word

    def accepts(self, value):
        if not is_type(value, self.typ):
            return False
        if self.choices is not None:
            probe = value.upper() if self.ignore_case and isinstance(value, str) else value
            return probe in self.choices
        return ((self.min is None or value >= self.min) and (self.max is None or value <= self.max)
                and (self.above is None or value > self.above))

    def check(self, value, key, walk):
        if not self.accepts(value):
            got = repr(value) if self.choices is not None and isinstance(value, str) else _shown(value)
            raise walk.error(f"key '{key}' must be {self.describe()}, got {got}")
        if self.items is not None:
            for i, item in enumerate(value):
                check_node(self.items, item, f"{key}[{i}]", walk)


class Either:
    """A scalar (``scalar``, a Value) or a mapping or list (``other``): lr 0.1 or a schedule."""

    def __init__(self, scalar, other, null=False):
        self.scalar, self.other, self.null = scalar, other, null

    def check(self, value, key, walk):
        if isinstance(value, (dict, list)):
            return self.other.check(value, key, walk)
        if not self.scalar.accepts(value):
            other = self.other.describe() if isinstance(self.other, Value) else "a mapping"
            raise walk.error(f"key '{key}' must be {self.scalar.describe()} or {other}, got {_shown(value)}")
        return None


class Section:
    """A mapping with the keys ``keys`` (name -> node, or None for any value).

    ``required``: names that must be present and not null; ``ignored``: name -> why this project
    ignores that PaddleVideo key (a warning, the value is not checked); ``open``: accept any other
    key (a class taking **kwargs).
    """

    def __init__(self, keys, required=(), ignored=None, null=False, open=False):
        self.keys, self.required, self.ignored = dict(keys), tuple(required), dict(ignored or {})
        self.null, self.open = null, open

    def check(self, value, key, walk):
        if not isinstance(value, dict):
            raise walk.error(f"key '{key}' must be a mapping, got {_shown(value)}")
        for name, sub in value.items():
            where = join(key, name)
            if name in self.keys:
                check_node(self.keys[name], sub, where, walk)
            elif name in self.ignored:
                walk.warn(f"ignoring PaddleVideo key '{where}' ({self.ignored[name]})")
            elif not self.open:
                raise walk.error(unknown_key_message(key, name, self.keys))
        for name in self.required:
            if value.get(name) is None:
                raise walk.error(f"missing mandatory key '{join(key, name)}'")


def unknown_key_message(key, name, known):
    """"unknown key 'A.b' (did you mean 'A.c'?)", or the known keys when none is close."""
    where = join(key, name)
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    if close:
        return f"unknown key '{where}' (did you mean '{join(key, close[0])}'?)"
    return f"unknown key '{where}'; known keys: " + (", ".join(sorted(map(str, known))) or "none")


def check_node(node, value, key, walk):
    """Check ``value`` at ``key`` against ``node`` (None = anything; null allowed when node.null)."""
    if node is None:
        return
    if value is None:
        if not node.null:
            raise walk.error(f"key '{key}' must not be null")
        return
    node.check(value, key, walk)


class Tagged:
    """A mapping whose ``tag`` key (e.g. name) picks its other keys: ``variants`` tag -> Section.

    ``common``: a Section of the keys every variant takes; ``kind`` names the choice in messages.
    """

    def __init__(self, kind, variants, common=None, tag="name", null=False):
        self.kind, self.variants, self.common = kind, variants, common or Section({})
        self.tag, self.null = tag, null

    def names(self):
        return list(self.variants)

    def variant(self, name):
        """The Section of variant ``name`` (None when unknown)."""
        return self.variants.get(name)

    def unknown_name(self, name):
        return f"unknown {self.kind} '{name}'; known: {', '.join(self.names())}"

    def check(self, value, key, walk):
        if not isinstance(value, dict):
            raise walk.error(f"key '{key}' must be a mapping with '{self.tag}', got {_shown(value)}")
        name = value.get(self.tag)
        if name is None:
            raise walk.error(f"missing mandatory key '{join(key, self.tag)}'")
        self.check_args(name, {k: v for k, v in value.items() if k != self.tag}, key, walk)

    def check_args(self, name, args, key, walk, name_at=None):
        """Check ``args`` (the mapping without its tag) of variant ``name`` at ``key``; an unknown
        name is reported at ``name_at`` (default: the tag's key)."""
        variant = self.variant(name) if isinstance(name, str) else None
        if variant is None:
            raise walk.error(f"{name_at or join(key, self.tag)}: {self.unknown_name(name)}")
        common = self.common
        Section(dict(common.keys, **variant.keys, **{self.tag: None}), common.required + variant.required,
                dict(common.ignored, **variant.ignored), open=variant.open
                ).check(dict(args, **{self.tag: name}), key, walk)


def _node_for_default(default):
    """The Value a signature default implies: an int default takes ints, a bool default bools, ..."""
    if default is None or default is inspect.Parameter.empty:
        return None
    for typ in (bool, int, float, str):
        if type(default) is typ:
            return Value(typ)
    if isinstance(default, (list, tuple)):
        return Value(list)
    return None


class Component(Tagged):
    """A mapping ``{tag: Name, **args}`` for a class of ``registry``: its keys are the arguments of
    that class's signature (a value's type follows the argument's default), read when checked, so
    a newly registered class or argument is known without a list to edit.

    ``args``: nodes for arguments that hold sections themselves (MODEL's backbone, head); ``skip``:
    arguments the code passes and a config must not set; ``filled``: arguments a config may leave
    out because the code fills them in (a head's in_channels from its backbone); ``common``: a
    Section of keys every class of the registry takes, consumed by other code
    (MODEL.backbone.sync_bn). A class may give ``CONFIG_VALUES`` (argument -> Value) for ranges its
    signature cannot say.
    """

    def __init__(self, registry, tag="name", args=None, skip=(), filled=(), null=False, common=None):
        super().__init__(registry.kind, None, common=common, tag=tag, null=null)
        self.registry, self.args, self.skip = registry, dict(args or {}), tuple(skip)
        self.filled = tuple(filled)

    def names(self):
        return sorted(self.registry)

    def unknown_name(self, name):
        return f"unknown {self.kind} '{name}'; registered {self.kind}s: {', '.join(self.names()) or '(none)'}"

    def variant(self, name):
        cls = self.registry.get(name) if name in self.registry else None
        if cls is None:
            return None
        params = [p for p in inspect.signature(cls).parameters.values()
                  if p.name not in self.skip and p.name != "self"]
        declared = getattr(cls, "CONFIG_VALUES", {})
        keys = {p.name: self.args.get(p.name) or declared.get(p.name) or _node_for_default(p.default)
                for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        required = [p.name for p in params if p.default is p.empty and p.name not in self.filled
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        return Section(keys, required, open=any(p.kind == p.VAR_KEYWORD for p in params))


def signature_default(registry, name, arg):
    """The default of argument ``arg`` of registered class ``name`` (None when it has none)."""
    if name not in registry:
        return None
    param = inspect.signature(registry[name]).parameters.get(arg)
    return None if param is None or param.default is param.empty else param.default


def check(node, value, key="", source=None):
    """Check config ``value`` (at dotted ``key``) against ``node``; ConfigError prefixed by ``source``."""
    check_node(node, value, key, Walk(source))
