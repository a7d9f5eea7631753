"""Errors that mean bad user input, and the one way every command line reports them.

Each class below is raised with a one-line message that names the file and line, or the config
key, or the option at fault. ``run_cli`` turns any of them into ``error: <message>`` on stderr and
exit code 2; every other exception is a bug and keeps its traceback. The second base class of each
(ValueError, RuntimeError) is the built-in kind it also is, so generic handlers still match.
"""
import sys
import threading


class UserError(Exception):
    """Bad input from the user (config, data, checkpoint, model file, device, option): one line."""


class ConfigError(UserError, ValueError):
    """A bad config file, key, value or override: the message names the file and the key."""


class DataError(UserError, RuntimeError):
    """One sample or input cannot be loaded (missing, empty, corrupt media): 'path: what went wrong'."""


class BadDataLimitError(DataError):
    """Too many samples of one epoch failed to load (above max_bad_fraction)."""


class ListFileError(UserError, ValueError):
    """A bad line in a list file (dataset list, label map): 'list.txt:LINE: what is wrong'."""


class CheckpointError(UserError, ValueError):
    """A weights or training-state file that is missing, unreadable or does not fit the model."""


class InferenceError(UserError, RuntimeError):
    """An exported model, option or input that the deployment tools cannot use."""


class DeviceError(InferenceError):
    """A requested device or engine (GPU, TensorRT, bf16, SyncBN) that this build or CPU cannot give."""


class ToolError(UserError, ValueError):
    """A bad argument or input of a data tool (extract_rawframes, build_file_list, make_demo_data)."""


class MissingPackageError(UserError, ImportError):
    """An optional package a feature needs is not installed: names it and what installs it."""


def one_line(exc):
    """``exc`` as one line: the message, whitespace collapsed, and paddle's DataLoader worker
    traceback ('DataLoader worker(N) caught ...') reduced to the worker's own message."""
    text = str(exc).strip()
    if "DataLoader worker(" in text and "\n" in text:
        last = text.splitlines()[-1]
        text = last.split(": ", 1)[1] if ": " in last else last  # the traceback ends 'module.Type: message'
    return " ".join(text.split()) or type(exc).__name__


def _quiet_user_errors_in_threads():
    """paddle's DataLoader thread prints a worker's exception with its traceback before the main
    thread re-raises it; for bad input the main thread's one line is enough."""
    default = threading.excepthook
    if getattr(default, "_pvtsm_quiet", False):
        return

    def hook(hook_args):
        if not isinstance(hook_args.exc_value, UserError):
            default(hook_args)
    hook._pvtsm_quiet = True
    threading.excepthook = hook


def run_cli(body, *args, **kwargs):
    """Run ``body(*args, **kwargs)`` as a command's main -> exit code: its return value (None = 0);
    a UserError -> 'error: <one line>' on stderr and 2; Ctrl-C -> 130. Anything else propagates."""
    _quiet_user_errors_in_threads()
    try:
        result = body(*args, **kwargs)
    except UserError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130
    return 0 if result is None else int(result)
