"""The media the project reads: frame folders and video files, and which decoder reads each kind.

The one home of the frame file template, the video and image extensions and the kind -> decoder
table, for the loader, the predictor and the data tools alike. Kept free of paddle and cv2 so the
tools start fast. A new media kind adds a row to MEDIA_KINDS (and a decoder and a dataset class).
"""
import os
import re
import string
from typing import NamedTuple

from .errors import ConfigError, DataError

FRAME_TEMPLATE = "img_{:05}.jpg"  # PaddleVideo's frame file names, numbered from 1
VIDEO_EXTS = ("avi", "mp4", "mkv", "webm", "mov", "mpeg", "mpg", "flv", "m4v", "wmv", "3gp")
IMAGE_EXTS = ("jpg", "jpeg", "png", "bmp")


class MediaKind(NamedTuple):
    """A kind of input: the PIPELINES decoder that opens it and its list-file line layout."""
    decoder: str
    list_layout: str


MEDIA_KINDS = {
    "frame": MediaKind("FrameDecoder", "frame_dir num_frames label"),
    "video": MediaKind("VideoDecoder", "video_path label"),
}


def extension(name):
    """Lower-case extension of a file name without the dot ('' when there is none)."""
    return os.path.splitext(name)[1][1:].lower()


def is_frame_folder(path):
    """True when ``path`` is a directory holding at least one image file."""
    return os.path.isdir(path) and any(extension(n) in IMAGE_EXTS for n in os.listdir(path))


def kind_of_path(path):
    """What is on disk at ``path``: 'frame' (a folder of images), 'video' (a file) or None."""
    if os.path.isdir(path):
        return "frame" if is_frame_folder(path) else None
    return "video" if os.path.isfile(path) else None


def _step_name(entry):
    """The step name of a pipeline entry in either form, {name: X, ...} or {X: kwargs}; else None."""
    if not isinstance(entry, dict):
        return None
    if "name" in entry:
        return entry["name"]
    return next(iter(entry)) if len(entry) == 1 else None


def decode_step(kind, configured=None, where=None):
    """The decode step for inputs of ``kind``, for training and prediction alike: ``configured`` (a
    PIPELINE decode mapping) when it names that kind's decoder. When it names another kind's
    decoder: with ``where`` (training, whose DATASET format fixes the kind) a ConfigError naming
    ``where``; without (prediction, where each input's kind is found on disk) the kind's decoder
    with its defaults. A decoder of no listed kind is kept as it is."""
    decoder = MEDIA_KINDS[kind].decoder
    name = _step_name(configured)
    if name == decoder or (name is not None and name not in {k.decoder for k in MEDIA_KINDS.values()}):
        return dict(configured)
    if where is not None and name is not None:
        raise ConfigError(f"{where}: {name} does not read {kind}s; use {decoder}")
    return {"name": decoder}


def frame_pattern(template=FRAME_TEMPLATE):
    """Regex matching the file names ``template.format(i)``; group 1 is the frame number i."""
    parts = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(r"(\d+)")
    return re.compile("".join(parts) + r"\Z")


def count_frames(folder, template=FRAME_TEMPLATE):
    """Number of frames ``template.format(1..n)`` in ``folder``; DataError if none or a gap."""
    pattern = frame_pattern(template)
    numbers = set()
    for name in os.listdir(folder):
        m = pattern.match(name)
        if m:
            numbers.add(int(m.group(1)))
    if not numbers:
        raise DataError(f"{folder}: no frame files matching '{template}'")
    n = len(numbers)
    if max(numbers) != n or min(numbers) != 1:
        # frames are addressed 1..n, so a gap would surface later as an unreadable frame
        missing = min(set(range(1, max(numbers) + 1)) - numbers)
        raise DataError(f"{os.path.join(folder, template.format(missing))}: frame file missing "
                        f"(folder has {n} frames numbered up to {max(numbers)})")
    return n


def damaged_video_note(path, declared, decoded):
    """'path: damaged video: its header declares D frames, only N decode' for a video whose header
    declares ``declared`` frames of which only ``decoded`` decode (a cut or broken file), or None
    when they agree within one frame (containers without a frame count give an estimate)."""
    if declared <= 0 or decoded >= declared - 1:
        return None
    return f"{path}: damaged video: its header declares {declared} frames, only {decoded} decode"
