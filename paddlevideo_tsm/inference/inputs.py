"""Expand --input_file (a video, a frame folder, a folder of them, or a .txt list) into inputs."""
import os
from typing import NamedTuple, Optional

VIDEO_EXTS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".flv", ".m4v", ".mpg", ".mpeg", ".wmv", ".3gp")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
LIST_EXTS = (".txt", ".list")


class InputItem(NamedTuple):
    """One input: ``given`` as the user wrote it, ``path`` to open, ``kind`` 'video'|'frame'
    (None when unusable) and ``error`` (one line) when it cannot be used."""
    given: str
    path: str
    kind: Optional[str]
    error: Optional[str] = None


def is_frame_folder(path):
    """True when ``path`` is a directory holding at least one image file."""
    return os.path.isdir(path) and any(n.lower().endswith(IMAGE_EXTS) for n in os.listdir(path))


def classify_path(given, path=None):
    """One path -> InputItem (kind from what is on disk; error when it is missing)."""
    path = path or given
    if os.path.isdir(path):
        if is_frame_folder(path):
            return InputItem(given, path, "frame")
        return InputItem(given, path, None, "folder holds no frame images")
    if os.path.isfile(path):
        return InputItem(given, path, "video")
    return InputItem(given, path, None, "input file not found")


def _read_list(list_path):
    """Paths of a list file, one per line ('#' comments and blanks skipped).

    A PaddleVideo list line ('path label' or 'dir frames label') gives its path; relative paths
    that do not exist from the working directory are taken relative to the list's folder.
    """
    base = os.path.dirname(os.path.abspath(list_path))
    items = []
    with open(list_path, encoding="utf-8") as f:
        for raw in f:
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            given = text
            if not os.path.exists(text):
                # numeric fields on the right are a list file's labels / frame counts
                fields = text.split()
                while len(fields) > 1 and fields[-1].lstrip("-").isdigit():
                    fields.pop()
                given = " ".join(fields)
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
            if os.path.isdir(full) and is_frame_folder(full):
                items.append(InputItem(full, full, "frame"))
            elif os.path.isfile(full) and name.lower().endswith(VIDEO_EXTS):
                items.append(InputItem(full, full, "video"))
        if not items:
            return [InputItem(input_file, input_file, None, "folder holds no videos or frame folders")]
        return items
    return [classify_path(input_file)]
