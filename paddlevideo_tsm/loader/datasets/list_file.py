"""Read PaddleVideo list files (`frame_dir num_frames label`, `video_path label`) and class-name maps.

The one reader of list files: the datasets, the predictor's list input and the data tools use it.
"""
import os
from typing import NamedTuple, Optional

from ...errors import ListFileError
from ...media import MEDIA_KINDS


class ListEntry(NamedTuple):
    """One sample of a list file: its path (data_prefix joined), label (None when the list has
    none), frame count (frames only) and line number."""
    path: str
    label: Optional[int]
    frames_len: Optional[int]
    line: int


def list_lines(path):
    """Yield (line number, text) of each entry line of list file ``path``: stripped, blank lines
    and '#' comments skipped; ListFileError when the file is missing."""
    if not os.path.isfile(path):
        raise ListFileError(f"{path}: list file not found")
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            text = raw.strip()
            if text and not text.startswith("#"):
                yield lineno, text


def line_path(text):
    """The path of a list line of any layout (`path`, `video_path label`, `frame_dir num_frames
    label`): the line without its trailing integer fields."""
    fields = text.split()
    while len(fields) > 1 and _is_int(fields[-1]):
        fields.pop()
    return " ".join(fields)


def read_label_map(path):
    """Class-name file (`index name` or `name` per line, 0-based) -> list of names ordered by index."""
    if not os.path.isfile(path):
        raise ListFileError(f"{path}: label map file not found")
    names = {}
    for lineno, text in list_lines(path):
        parts = text.split(maxsplit=1)
        if len(parts) == 2 and _is_int(parts[0]):
            index, name = int(parts[0]), parts[1].strip()
        else:
            index, name = len(names), text
        if index in names:
            raise ListFileError(f"{path}:{lineno}: class index {index} appears twice")
        names[index] = name
    if not names:
        raise ListFileError(f"{path}: label map is empty")
    if sorted(names) != list(range(len(names))):
        missing = sorted(set(range(max(names) + 1)) - set(names))
        raise ListFileError(f"{path}: class indices must be 0..{len(names) - 1} without gaps; "
                            f"missing {missing[:5]}")
    return [names[i] for i in range(len(names))]


def read_list(path, kind, data_prefix=None, class_names=None, num_classes=None, label_optional=False):
    """Parse list file ``path`` of ``kind`` 'frame' or 'video' (media.MEDIA_KINDS) -> list of ListEntry.

    Raises ListFileError('file:line: reason') on malformed lines, non-integer fields, labels
    outside [0, num_classes) (the model's; else the label map's size) and on an empty list.
    Paths may contain spaces: the numeric fields are taken from the right. label_optional ('video' only): a line may be a
    path alone (its last word has the video's extension), giving label None.
    """
    if kind not in MEDIA_KINDS:
        raise ValueError(f"list kind must be one of {sorted(MEDIA_KINDS)}, got {kind!r}")
    if label_optional and kind != "video":
        raise ValueError("label_optional applies to video lists only")
    bound = f"num_classes {num_classes}"
    if num_classes is None and class_names is not None:
        num_classes, bound = len(class_names), f"the label map's {len(class_names)} classes"
    name_to_index = {n: i for i, n in enumerate(class_names or [])}
    layout = MEDIA_KINDS[kind].list_layout
    n_fields = len(layout.split())
    entries = []
    for lineno, text in list_lines(path):
        where = f"{path}:{lineno}"
        fields = text.rsplit(maxsplit=n_fields - 1)
        if label_optional and (len(fields) == 1 or ("." in fields[-1] and not _is_int(fields[-1])
                                                    and fields[-1] not in name_to_index)):
            fields = [text, None]
        if len(fields) != n_fields:
            raise ListFileError(f"{where}: expected '{layout}', got {text!r}")
        label = None if fields[-1] is None else _parse_label(fields[-1], name_to_index, num_classes, bound, where)
        frames_len = None
        if "num_frames" in layout:
            if not _is_int(fields[1]):
                raise ListFileError(f"{where}: frame count {fields[1]!r} is not an integer")
            frames_len = int(fields[1])
            if frames_len <= 0:
                raise ListFileError(f"{where}: frame count {frames_len} must be positive")
        rel = fields[0]
        full = os.path.join(data_prefix, rel) if data_prefix else rel
        entries.append(ListEntry(full, label, frames_len, lineno))
    if not entries:
        raise ListFileError(f"{path}: list is empty (no samples)")
    return entries


def _parse_label(token, name_to_index, num_classes, bound, where):
    if _is_int(token):
        label = int(token)
    elif token in name_to_index:
        label = name_to_index[token]
    else:
        hint = " nor a class name of the label map" if name_to_index else ""
        raise ListFileError(f"{where}: label {token!r} is not an integer{hint}")
    if label < 0:
        raise ListFileError(f"{where}: label {label} < 0")
    if num_classes is not None and label >= num_classes:
        raise ListFileError(f"{where}: label {label} >= {bound}")
    return label


def _is_int(token):
    return token.lstrip("+-").isdigit()
