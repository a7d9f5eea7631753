"""Frames of a video file or camera, one at a time, as RGB uint8 [H, W, 3]."""
import os

import cv2

from ..errors import DataError
from ..loader.pipelines.decode import declared_frames
from ..media import damaged_video_note
from ..utils.logger import get_logger


def _cv2_frames(cap, path=None):
    declared, n = (declared_frames(cap) if path else 0), 0
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            n += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    note = damaged_video_note(path, declared, n)  # reached only when the whole video was read
    if note:
        get_logger().warning(f"{note}; streamed those {n}")


def _decord_frames(path):
    import decord
    try:
        reader = decord.VideoReader(path)
    except Exception as e:  # decord raises DECORDError and RuntimeError kinds
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        if path in msg:  # decord's 'Error reading PATH...' says no more than this line does
            msg = "neither OpenCV nor decord can read it"
        raise DataError(f"{path}: cannot open video ({msg})") from None
    for i in range(len(reader)):
        yield reader[i].asnumpy()


def video_frames(path):
    """Iterate the frames of the video file ``path`` in order (OpenCV, else decord)."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: video file not found")
    cap = cv2.VideoCapture(path)
    if cap.isOpened():
        return _cv2_frames(cap, path)
    cap.release()
    return _decord_frames(path)


def camera_frames(index):
    """Iterate frames from camera ``index`` until it stops; DataError when there is none."""
    if not any(os.path.exists(f"/dev/video{i}") for i in range(64)) and os.name == "posix":
        raise DataError(f"camera {index}: no camera device found (/dev/video* absent); "
                               f"use --input_file VIDEO")
    cap = cv2.VideoCapture(int(index))
    if not cap.isOpened():
        cap.release()
        raise DataError(f"camera {index}: cannot open camera; use --input_file VIDEO")
    return _cv2_frames(cap)
