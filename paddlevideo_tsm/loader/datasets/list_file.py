"""Read PaddleVideo list files (`frame_dir num_frames label`, `video_path label`) and class-name maps."""
import os
from typing import NamedTuple, Optional

from ...errors import ListFileError


class ListEntry(NamedTuple):
    """One sample of a list file: its path (data_prefix joined), label, frame count (frames only)."""
    path: str
    label: int
    frames_len: Optional[int]
    line: int


def read_label_map(path):
    """Class-name file (`index name` or `name` per line, 0-based) -> list of names ordered by index."""
    if not os.path.isfile(path):
        raise ListFileError(f"{path}: label map file not found")
    names = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
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


def read_list(path, kind, data_prefix=None, class_names=None, num_classes=None):
    """Parse list file ``path`` of ``kind`` 'frame' or 'video' -> list of ListEntry.

    Raises ListFileError('file:line: reason') on malformed lines, non-integer fields, labels
    outside [0, num_classes) (the model's; else the label map's size) and on an empty list.
    Paths may contain spaces: the numeric fields are taken from the right.
    """
    if kind not in ("frame", "video"):
        raise ValueError(f"list kind must be 'frame' or 'video', got {kind!r}")
    if not os.path.isfile(path):
        raise ListFileError(f"{path}: list file not found")
    bound = f"num_classes {num_classes}"
    if num_classes is None and class_names is not None:
        num_classes, bound = len(class_names), f"the label map's {len(class_names)} classes"
    name_to_index = {n: i for i, n in enumerate(class_names or [])}
    n_fields = 3 if kind == "frame" else 2
    layout = "frame_dir num_frames label" if kind == "frame" else "video_path label"
    entries = []
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{path}:{lineno}"
            fields = text.rsplit(maxsplit=n_fields - 1)
            if len(fields) != n_fields:
                raise ListFileError(f"{where}: expected '{layout}', got {text!r}")
            label = _parse_label(fields[-1], name_to_index, num_classes, bound, where)
            frames_len = None
            if kind == "frame":
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
