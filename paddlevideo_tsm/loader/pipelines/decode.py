"""Decoders: open a frame folder or a video, count its frames, and read only the sampled ones.

A decoder sets ``results['format']`` ('frame' or 'video') and ``results['frames_len']``; for
videos it also puts the open reader in ``results['frames']``. ``read_frames`` (called by the
Sampler) then loads the chosen frame indices as RGB uint8 HxWx3 arrays.
"""
import os
import re
import string

import cv2
import numpy as np

from ...errors import DataError
from ..registry import PIPELINES

DEFAULT_SUFFIX = "img_{:05}.jpg"


def _first_line(exc, limit=160):
    """First line of an exception's text without decord's '[12:00:00] src/file.cc:61: ' prefix."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    line = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", line)
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _suffix_regex(suffix):
    """Regex matching the file names ``suffix.format(i)``; group 1 is the frame number i."""
    parts = []
    for literal, field, _spec, _conv in string.Formatter().parse(suffix):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(r"(\d+)")
    return re.compile("".join(parts) + r"\Z")


def count_frames(folder, suffix=DEFAULT_SUFFIX):
    """Number of frames ``suffix.format(1..n)`` in ``folder``; DataError if none or a gap."""
    pattern = _suffix_regex(suffix)
    numbers = set()
    for name in os.listdir(folder):
        m = pattern.match(name)
        if m:
            numbers.add(int(m.group(1)))
    if not numbers:
        raise DataError(f"{folder}: no frame files matching '{suffix}'")
    n = len(numbers)
    if max(numbers) != n or min(numbers) != 1:
        # frames are addressed 1..n, so a gap would surface later as an unreadable frame
        missing = min(set(range(1, max(numbers) + 1)) - numbers)
        raise DataError(f"{os.path.join(folder, suffix.format(missing))}: frame file missing "
                        f"(folder has {n} frames numbered up to {max(numbers)})")
    return n


@PIPELINES.register
class FrameDecoder:
    """Frame folder ``results['filename']``: sets format='frame' and frames_len (counted if absent)."""

    def __call__(self, results):
        folder = results["filename"]
        if not os.path.isdir(folder):
            raise DataError(f"{folder}: frame folder not found")
        suffix = results.setdefault("suffix", DEFAULT_SUFFIX)
        if results.get("frames_len") is None:
            results["frames_len"] = count_frames(folder, suffix)
        elif int(results["frames_len"]) <= 0:
            raise DataError(f"{folder}: frames_len is {results['frames_len']}, need at least 1 frame")
        results["frames_len"] = int(results["frames_len"])
        results["format"] = "frame"
        return results


class Cv2VideoReader:
    """A video read front to back with OpenCV, keeping only requested frames (no random seek).

    For clips with few keyframes (every sampled frame needs decoding from the start anyway) this
    is faster than seeking: grab() decodes without the colour conversion done for kept frames.
    """

    def __init__(self, path):
        self.path = path
        self._cap = cv2.VideoCapture(path)
        if not self._cap.isOpened():
            raise DataError(f"{path}: cannot open video (OpenCV)")
        self._len = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._pos = 0

    def __len__(self):
        return self._len

    def get_frames(self, indices):
        """RGB uint8 array [len(indices), H, W, 3] for sorted unique ``indices``."""
        if self._cap is None or int(indices[0]) < self._pos:
            self._cap = cv2.VideoCapture(self.path)  # rewinding by seek is unreliable: reopen
            self._pos = 0
        cap, wanted, out = self._cap, set(int(i) for i in indices), {}
        last = max(wanted)
        while self._pos <= last:
            if not cap.grab():
                raise DataError(f"{self.path}: video ended at frame {self._pos}, frame {last} was requested")
            if self._pos in wanted:
                ok, bgr = cap.retrieve()
                if not ok:
                    raise DataError(f"{self.path}: cannot decode frame {self._pos}")
                out[self._pos] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            self._pos += 1
        return np.stack([out[int(i)] for i in indices])

    def close(self):
        if self._cap is not None:
            self._cap.release()
            self._cap = None


@PIPELINES.register
class VideoDecoder:
    """Video file ``results['filename']``: opens a reader, sets frames, frames_len, format='video'.

    backend 'decord' (default) seeks to the sampled frames; 'cv2' reads front to back up to the
    last sampled frame. mode, sampling_rate, num_seg, num_clips and target_fps are accepted so
    PaddleVideo configs load unchanged; the Sampler decides which frames are read.
    """

    BACKENDS = ("decord", "cv2")

    def __init__(self, backend="decord", mode="train", sampling_rate=32, num_seg=8, num_clips=1,
                 target_fps=30, num_threads=1):
        if backend not in self.BACKENDS:
            raise ValueError(f"VideoDecoder backend '{backend}' is not supported; "
                             f"choose one of {', '.join(self.BACKENDS)}")
        self.backend = backend
        self.num_threads = int(num_threads)

    def _open_decord(self, path):
        import decord
        try:
            return decord.VideoReader(path, num_threads=self.num_threads)
        except Exception as exc:  # decord raises its own DECORDError or RuntimeError
            raise DataError(f"{path}: cannot open video (decord: {_first_line(exc)})") from None

    def __call__(self, results):
        path = results["filename"]
        if not os.path.isfile(path):
            raise DataError(f"{path}: video file not found")
        if os.path.getsize(path) == 0:
            raise DataError(f"{path}: cannot open video (zero bytes)")
        reader = self._open_decord(path) if self.backend == "decord" else Cv2VideoReader(path)
        n = len(reader)
        if n <= 0:
            if isinstance(reader, Cv2VideoReader):
                reader.close()
            raise DataError(f"{path}: video has no readable frames")
        results["frames"] = reader
        results["frames_len"] = n
        results["format"] = "video"
        results["backend"] = self.backend
        return results


def _read_folder_frames(results, unique):
    folder = results["filename"]
    suffix = results.get("suffix", DEFAULT_SUFFIX)
    out = []
    for i in unique:
        path = os.path.join(folder, suffix.format(int(i) + 1))
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            what = "frame file missing" if not os.path.exists(path) else "cannot read frame (not an image)"
            raise DataError(f"{path}: {what}")
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


def _read_video_frames(results, unique):
    reader = results["frames"]
    path = results["filename"]
    try:
        if isinstance(reader, Cv2VideoReader):
            try:
                batch = reader.get_frames(unique)
            finally:
                reader.close()
        else:
            batch = reader.get_batch([int(i) for i in unique]).asnumpy()
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot decode frames {list(map(int, unique))[:4]}... "
                        f"({_first_line(exc)})") from None
    return list(batch)


def read_frames(results, indices):
    """RGB uint8 frames (list of HxWx3) for the 0-based ``indices``; each distinct frame read once."""
    unique, inverse = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
    if results.get("format") == "frame":
        frames = _read_folder_frames(results, unique)
    elif results.get("format") == "video":
        frames = _read_video_frames(results, unique)
    else:
        raise DataError(f"{results.get('filename', '<sample>')}: no decoder ran before the Sampler "
                        "(results['format'] is not 'frame' or 'video')")
    return [frames[j] for j in inverse.reshape(-1)]
