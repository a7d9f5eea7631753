"""Tiny media and list files for the dataset/dataloader/tool tests (written into tmp_path)."""
import os
from pathlib import Path

import cv2
import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def frame_pixels(t, h=24, w=32, seed=0):
    """Frame t of a synthetic clip: uint8 [h, w, 3] RGB, a gradient plus t, recognisable per frame."""
    base = (np.arange(h)[:, None, None] * 3 + np.arange(w)[None, :, None] * 2 + seed * 17) % 200
    return np.broadcast_to(base + 5 * t, (h, w, 3)).astype(np.uint8)


def write_frames(folder, n, h=24, w=32, seed=0, suffix="img_{:05}.jpg"):
    """Write n JPEG frames img_00001.jpg.. into folder; return the folder path as str."""
    os.makedirs(folder, exist_ok=True)
    for t in range(n):
        rgb = frame_pixels(t, h, w, seed)
        cv2.imwrite(os.path.join(folder, suffix.format(t + 1)), rgb[:, :, ::-1])
    return str(folder)


def write_video(path, n, h=24, w=32, seed=0, fps=25):
    """Write an n-frame MJPG .avi (decord and cv2 read it back); return path as str."""
    os.makedirs(os.path.dirname(str(path)) or ".", exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), path
    for t in range(n):
        writer.write(np.ascontiguousarray(frame_pixels(t, h, w, seed)[:, :, ::-1]))
    writer.release()
    return str(path)


def write_text(path, text):
    Path(path).write_text(text)
    return str(path)


def write_cut_video(path, n=40, h=48, w=64):
    """An n-frame MJPG .avi cut to half its bytes: the header still declares n frames, fewer decode.

    Returns (path as str, frames OpenCV decodes reading front to back).
    """
    write_video(path, n, h, w)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:len(data) // 2])
    cap = cv2.VideoCapture(str(path))
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    cap.release()
    return str(path), decoded
