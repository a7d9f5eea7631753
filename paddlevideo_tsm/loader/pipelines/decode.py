"""Decoders: open a frame folder or a video, count its frames, and read only the sampled ones.

A decoder sets ``results['format']`` ('frame' or 'video') and ``results['frames_len']``; for
videos it also puts the open reader in ``results['frames']``. ``read_frames`` (called by the
Sampler) then loads the chosen frame indices as RGB uint8 HxWx3 arrays. A decoder that finds
something worth a warning (a damaged video) appends one line to ``results['warnings']`` when the
caller collects them there (a list), else logs it.
"""
import os
import re

import cv2
import numpy as np

from ...errors import DataError
from ...media import FRAME_TEMPLATE, count_frames, damaged_video_note
from ...utils.logger import get_logger
from ..registry import PIPELINES


def _first_line(exc, limit=160):
    """First line of an exception's text without decord's '[12:00:00] src/file.cc:61: ' prefix."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    line = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", line)
    return line if len(line) <= limit else line[:limit - 3] + "..."


def warn(results, text):
    """Pass a one-line warning about this sample on: to ``results['warnings']`` when that is a list
    (the caller collects, e.g. to warn once per file per run), else to the log."""
    notes = results.get("warnings")
    if isinstance(notes, list):
        notes.append(text)
    else:
        get_logger().warning(text)


def declared_frames(cap):
    """Frame count that a video's header declares, from its open cv2.VideoCapture (0 when unknown)."""
    n = cap.get(cv2.CAP_PROP_FRAME_COUNT) if cap.isOpened() else 0
    return int(n) if 0 < n < 2 ** 31 else 0


@PIPELINES.register
class FrameDecoder:
    """Frame folder ``results['filename']``: sets format='frame' and frames_len (counted if absent)."""

    def __call__(self, results):
        folder = results["filename"]
        if not os.path.isdir(folder):
            raise DataError(f"{folder}: frame folder not found")
        suffix = results.setdefault("suffix", FRAME_TEMPLATE)
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
        self._len = declared_frames(self._cap)
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
                note = damaged_video_note(self.path, self._len, self._pos)
                raise DataError(f"{note}; frame {last} was requested" if note else
                                f"{self.path}: video ended at frame {self._pos}, frame {last} was requested")
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

    A damaged video that decodes in part (a cut AVI: its header declares 40 frames, 20 decode):
    decord counts the decodable frames, so the clip is sampled from those, with a warning naming
    both counts (see the module docstring for where it goes). OpenCV takes its count from the
    header, so the cv2 backend finds the damage only when a sampled frame lies past the decodable
    part: then the sample fails with a DataError naming both counts.
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
        if self.backend == "decord":
            cap = cv2.VideoCapture(path)  # decord counts the decodable frames; the header's count is OpenCV's
            declared = declared_frames(cap)
            cap.release()
            note = damaged_video_note(path, declared, n)
            if note:
                warn(results, f"{note}; using those {n}")
        results["frames"] = reader
        results["frames_len"] = n
        results["format"] = "video"
        results["backend"] = self.backend
        return results


def read_frame_file(path):
    """One frame image -> RGB uint8 [H, W, 3]; DataError naming ``path`` when it is missing or not an image."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        what = "frame file missing" if not os.path.exists(path) else "cannot read frame (not an image)"
        raise DataError(f"{path}: {what}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read_folder_frames(results, unique):
    folder = results["filename"]
    suffix = results.get("suffix", FRAME_TEMPLATE)
    return [read_frame_file(os.path.join(folder, suffix.format(int(i) + 1))) for i in unique]


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
