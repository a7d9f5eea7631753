"""Command-line options shared by main.py and the tools: one spelling per option (PaddleVideo's
where it has one) and one-line errors for a bad command line.

Each ``add_*`` function adds its options to an argparse parser; numeric options carry their range
in their ``type`` (``int_at_least``, ``float_in``), so a bad value stops at parsing.
"""
import argparse
import sys


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's error contract: a bad command line prints 'error: <one line>'
    on stderr and exits with code 2 (argparse alone adds the usage text; ``-h`` still shows it)."""

    def error(self, message):
        print(f"error: {' '.join(str(message).split())} (see {self.prog} -h)", file=sys.stderr, flush=True)
        sys.exit(2)


def str2bool(text):
    """'True'/'false'/'1'/'no'... -> bool (argparse type for PaddleVideo-style ``--flag True``)."""
    value = str(text).strip().lower()
    if value in ("true", "t", "yes", "y", "1", "on"):
        return True
    if value in ("false", "f", "no", "n", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def int_at_least(minimum, *also):
    """argparse type: an int >= ``minimum``, or one of the special values ``also`` (e.g. -1)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
        if value < minimum and value not in also:
            extra = "".join(f" or {v}" for v in also)
            raise argparse.ArgumentTypeError(f"must be >= {minimum}{extra}, got {value}")
        return value
    return parse


def float_in(low, high):
    """argparse type: a float in [low, high)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low <= value < high:
            raise argparse.ArgumentTypeError(f"must be in [{low}, {high}), got {value}")
        return value
    return parse


def comma_list(item=str, choices=None):
    """argparse type: 'a,b,c' -> [item(a), item(b), item(c)], each one of ``choices`` when given."""
    def parse(text):
        values = []
        for part in (p.strip() for p in str(text).split(",")):
            if not part:
                continue
            try:
                value = item(part)
            except argparse.ArgumentTypeError:
                raise
            except ValueError:
                raise argparse.ArgumentTypeError(f"bad item {part!r}") from None
            if choices is not None and value not in choices:
                raise argparse.ArgumentTypeError(f"unknown {part!r}; known: {', '.join(map(str, choices))}")
            values.append(value)
        if not values:
            raise argparse.ArgumentTypeError("expected a comma-separated list, got nothing")
        return values
    return parse


def add_bool_arg(parser, flag, default, help=None):
    """A PaddleVideo-style switch: ``--flag True|False``, a bare ``--flag`` meaning True."""
    parser.add_argument(flag, type=str2bool, nargs="?", const=True, default=default, metavar="True|False",
                        help=help)


def add_config_args(parser, required=True, short_override=True):
    """``-c/--config`` and ``-o/--override KEY=VALUE`` (repeatable). ``short_override`` False leaves
    ``-o`` free (tools/export_model.py, where PaddleVideo spells the output folder ``-o``)."""
    parser.add_argument("-c", "--config", required=required, help="the model's YAML config")
    flags = ("-o", "--override") if short_override else ("--override",)
    parser.add_argument(*flags, dest="override", action="append", default=[], metavar="KEY=VALUE",
                        help="set a config key, e.g. -o MODEL.head.num_classes=101 (repeatable)")


def add_mkldnn_arg(parser):
    """``--enable_mkldnn True|False`` (oneDNN on CPU, default on); the older ``--disable_mkldnn`` and
    ``--no_mkldnn`` switches still work, unlisted."""
    add_bool_arg(parser, "--enable_mkldnn", True, "oneDNN kernels on CPU (default True)")
    parser.add_argument("--disable_mkldnn", "--no_mkldnn", dest="enable_mkldnn", action="store_false",
                        help=argparse.SUPPRESS)


def add_cpu_args(parser):
    """``--cpu_threads N`` (default: every core this process may use) and ``--enable_mkldnn``."""
    parser.add_argument("--cpu_threads", type=int_at_least(1), default=None,
                        help="CPU math threads (default: all available cores)")
    add_mkldnn_arg(parser)


def add_model_file_args(parser, required=False):
    """``--model_file`` (exported NAME.pdmodel or NAME.json) and ``--params_file`` (default: the
    NAME.pdiparams next to it)."""
    parser.add_argument("--model_file", required=required, help="exported NAME.pdmodel or NAME.json")
    parser.add_argument("--params_file", help="NAME.pdiparams (default: next to --model_file)")


def add_class_args(parser, top_k=1, label_map_default="none"):
    """``--top_k K`` and ``--label_map FILE`` (class names, 'index name' or 'name' per line, one
    per class of the model); ``label_map_default`` says in the help what is used without it."""
    parser.add_argument("--top_k", type=int_at_least(1), default=top_k, help=f"classes to show (default {top_k})")
    parser.add_argument("--label_map", default=None,
                        help=f"class names, 'index name' per line, one per model class (default: {label_map_default})")
