"""An input's frames one at a time, and frames written as a video file (MP4 via OpenCV, else GIF)."""
import os

import cv2
import numpy as np

from ..errors import DataError, MissingPackageError
from ..media import FRAME_TEMPLATE, count_frames

DEFAULT_FPS = 25.0  # frame folders carry no rate; 25 is what tools/make_demo_data.py writes videos at


def input_frames(path, kind, suffix=FRAME_TEMPLATE):
    """Every frame of a video file (``kind`` 'video') or frame folder ('frame'), in order:
    an iterator of RGB uint8 [H, W, 3]. DataError when the input or one of its frames cannot be read."""
    if kind == "video":
        from ..online.frame_source import video_frames
        return video_frames(path)
    return _folder_frames(path, suffix)


def _folder_frames(folder, suffix):
    from ..loader.pipelines.decode import read_frame_file

    for i in range(1, count_frames(folder, suffix) + 1):
        yield read_frame_file(os.path.join(folder, suffix.format(i)))


def input_fps(path, kind):
    """Frame rate of a video file as its container states it; DEFAULT_FPS for frame folders or when unknown."""
    if kind == "video":
        cap = cv2.VideoCapture(path)
        fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
        cap.release()
        if fps and np.isfinite(fps) and 0 < fps < 1000:
            return float(fps)
    return DEFAULT_FPS


def _write_gif(path, frames, fps):
    """RGB uint8 frames -> animated GIF at ``path``: OpenCV's animation writer (4.11+), else Pillow."""
    duration = max(int(round(1000.0 / fps)), 10)
    if hasattr(cv2, "imwriteanimation"):
        anim = cv2.Animation()
        anim.frames = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]
        anim.durations = [duration] * len(frames)
        if cv2.imwriteanimation(path, anim):
            return
    try:
        from PIL import Image
    except ImportError:
        raise MissingPackageError(f"{path}: this OpenCV writes neither MP4 nor GIF; install Pillow "
                                  "(pip install -r requirements-vis.txt) or an OpenCV with a video encoder") from None
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)


class VideoFile:
    """Frames appended one at a time into ``path`` (its extension replaced by .mp4, OpenCV's mp4v
    codec); where OpenCV cannot write MP4, into the same name with .gif instead. The file appears
    under its final name only at ``close()`` (a temporary name before), so a killed run leaves none.
    ``path`` is the file written; ``frames`` how many were; ``size`` (width, height).
    """

    def __init__(self, path, fps=DEFAULT_FPS, allow_mp4=True):
        self.fps = float(fps)
        self.base = os.path.splitext(path)[0]
        self.path = self.base + ".mp4"
        self.allow_mp4 = allow_mp4
        self.frames, self.size = 0, None
        self._writer, self._kept, self._tmp = None, None, None
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)

    def _open(self, width, height):
        self.size = (width, height)
        if self.allow_mp4:
            self._tmp = os.path.join(os.path.dirname(os.path.abspath(self.path)),
                                     f".{os.path.basename(self.base)}.part.mp4")
            writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if writer.isOpened():
                self._writer = writer
                return
            writer.release()
            if os.path.exists(self._tmp):
                os.remove(self._tmp)
        self.path, self._kept = self.base + ".gif", []

    def write(self, rgb):
        """Append one RGB uint8 [H, W, 3] frame (every frame the size of the first)."""
        h, w = rgb.shape[:2]
        if self.size is None:
            self._open(w, h)
        elif (w, h) != self.size:
            raise DataError(f"{self.path}: frame {self.frames + 1} is {w}x{h}, the video is "
                            f"{self.size[0]}x{self.size[1]}")
        if self._writer is not None:
            self._writer.write(np.ascontiguousarray(rgb[..., ::-1]))
        else:
            self._kept.append(np.ascontiguousarray(rgb))
        self.frames += 1

    def close(self):
        """Finish the file -> its path (None when no frame was written)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.replace(self._tmp, self.path)
        elif self._kept:
            tmp = os.path.join(os.path.dirname(os.path.abspath(self.path)),
                               f".{os.path.basename(self.base)}.part.gif")
            _write_gif(tmp, self._kept, self.fps)
            os.replace(tmp, self.path)
            self._kept = None
        return self.path if self.frames else None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:  # nothing half-written under the final name
            if self._writer is not None:
                self._writer.release()
            if self._tmp and os.path.exists(self._tmp):
                os.remove(self._tmp)

