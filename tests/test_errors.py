"""The one error contract: UserError subclasses -> one line + exit 2; bugs keep their traceback."""
import io
import sys

import pytest

from paddlevideo_tsm import errors
from paddlevideo_tsm.utils.logger import get_logger


@pytest.mark.parametrize("cls", [errors.ConfigError, errors.DataError, errors.BadDataLimitError,
                                 errors.ListFileError, errors.CheckpointError, errors.InferenceError,
                                 errors.DeviceError, errors.ToolError])
def test_every_user_error_is_one_line_exit_2(cls, capsys):
    def body():
        raise cls("some/file.txt:3: bad\nsecond line")
    assert errors.run_cli(body) == 2
    assert capsys.readouterr().err == "error: some/file.txt:3: bad second line\n"


def test_a_bug_keeps_its_traceback():
    def body():
        raise ZeroDivisionError("a bug")
    with pytest.raises(ZeroDivisionError):
        errors.run_cli(body)


def test_return_value_is_the_exit_code():
    assert errors.run_cli(lambda: None) == 0
    assert errors.run_cli(lambda: 1) == 1
    assert errors.run_cli(lambda a, b=0: a + b, 2, b=1) == 3


def test_worker_traceback_is_reduced_to_its_message():
    wrapped = errors.DataError("DataLoader worker(1) caught DataError with message:\nTraceback (most recent "
                               "call last):\n  File \"x.py\", line 1\npaddlevideo_tsm.errors.DataError: a.avi: "
                               "cannot decode")
    assert errors.one_line(wrapped) == "a.avi: cannot decode"
    assert errors.one_line(errors.DataError("")) == "DataError"


def test_logger_follows_the_current_stdout(monkeypatch):
    """A handler bound to the stdout of its creation time writes into a closed capture later
    (pytest 9.2 closes it): the package logger must write to sys.stdout as it is now."""
    logger = get_logger()
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    logger.warning("one")
    first.close()
    monkeypatch.setattr(sys, "stdout", second)
    logger.warning("two")
    assert "two" in second.getvalue() and "one" not in second.getvalue()
