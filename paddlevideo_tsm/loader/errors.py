"""Exceptions of the data loader; their messages are one line and name the file."""


class DataError(RuntimeError):
    """One sample cannot be loaded (missing, empty or corrupt media): 'path: what went wrong'."""


class ListFileError(ValueError):
    """A bad line in a dataset list file: 'list.txt:LINE: what is wrong'."""
