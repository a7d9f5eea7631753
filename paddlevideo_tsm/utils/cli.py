"""Command-line entry helper: known input errors become one line on stderr and exit code 2."""
import sys


def known_errors():
    """The exception types that mean bad user input (config, weights, data), not a bug."""
    from .config import ConfigError
    from ..modeling.weights import CheckpointError
    kinds = [ConfigError, CheckpointError, FileNotFoundError]
    try:
        from ..loader.errors import DataError, ListFileError
        kinds += [DataError, ListFileError]
    except ImportError:
        pass
    return tuple(kinds)


def run_cli(body):
    """Run ``body()``; print ``error: <message>`` for bad input and return 2, else its return or 0."""
    try:
        return body() or 0
    except known_errors() as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
