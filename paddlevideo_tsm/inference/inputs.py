"""Expand --input_file (a video, a frame folder, a folder of them, or a .txt list) into inputs."""
import os
from typing import NamedTuple, Optional

from ..media import VIDEO_EXTS, extension, is_frame_folder, kind_of_path

LIST_EXTS = (".txt", ".list")


class InputItem(NamedTuple):
    """One input: ``given`` as the user wrote it, ``path`` to open, ``kind`` 'video'|'frame'
    (None when unusable) and ``error`` (one line) when it cannot be used."""
    given: str
    path: str
    kind: Optional[str]
    error: Optional[str] = None


def classify_path(given, path=None):
    """One path -> InputItem (kind from what is on disk; error when it is missing)."""
    path = path or given
    kind = kind_of_path(path)
    if kind is not None:
        return InputItem(given, path, kind)
    if os.path.isdir(path):
        return InputItem(given, path, None, "folder holds no frame images")
    return InputItem(given, path, None, "input file not found")


def _read_list(list_path):
    """The inputs of a list file: one path per line, or PaddleVideo list lines ('path label',
    'dir frames label'); relative paths that do not exist from the working directory are taken
    relative to the list's folder."""
    from ..loader.datasets.list_file import line_path, list_lines

    base = os.path.dirname(os.path.abspath(list_path))
    items = []
    for _, text in list_lines(list_path):
        given = text if os.path.exists(text) else line_path(text)
        path = given
        if not os.path.exists(path) and not os.path.isabs(path):
            alt = os.path.join(base, path)
            if os.path.exists(alt):
                path = alt
        items.append(classify_path(given, path))
    return items


def expand_inputs(input_file):
    """--input_file -> list of InputItem, in a stable order (a folder's entries sorted by name)."""
    if os.path.isfile(input_file) and input_file.lower().endswith(LIST_EXTS):
        return _read_list(input_file)
    if os.path.isdir(input_file) and not is_frame_folder(input_file):
        items = []
        for name in sorted(os.listdir(input_file)):
            full = os.path.join(input_file, name)
            kind = kind_of_path(full)
            if kind == "frame" or (kind == "video" and extension(name) in VIDEO_EXTS):
                items.append(InputItem(full, full, kind))
        if not items:
            return [InputItem(input_file, input_file, None, "folder holds no videos or frame folders")]
        return items
    return [classify_path(input_file)]
