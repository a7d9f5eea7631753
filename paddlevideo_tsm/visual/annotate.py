"""Labels, scores and latency drawn onto frames with OpenCV, and annotated videos of inputs and streams."""
import os

import cv2
import numpy as np

from .video_io import VideoFile, input_fps, input_frames

FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_SCALE, MAX_SCALE = 0.25, 1.0


def label_text(class_id, name, prob):
    """"name 0.912" (or "class 3 0.912" without a name): short, for small frames."""
    return f"{name} {prob:.3f}" if name else f"class {class_id} {prob:.3f}"


def text_layout(lines, width, height, scale=None):
    """Font scale, thickness, line height and the box (x0, y0, x1, y1) that ``lines`` take at the
    top left of a ``width`` x ``height`` frame. Default scale: the frame's short side / 250, at
    most MAX_SCALE, less if the widest line would not fit the width, never below MIN_SCALE (text
    beyond the frame is cut)."""
    if scale is None:
        scale = min(MAX_SCALE, max(MIN_SCALE, min(width, height) / 250.0))
        widest = max(cv2.getTextSize(t, FONT, 1.0, 1)[0][0] for t in lines)
        scale = max(MIN_SCALE, min(scale, (width - 4) / max(widest, 1)))
    thickness = 1 if scale < 0.8 else 2
    (_, text_h), base = cv2.getTextSize("Ag", FONT, scale, thickness)
    line_h = text_h + base + 2
    box_w = max(cv2.getTextSize(t, FONT, scale, thickness)[0][0] for t in lines) + 4
    box = (0, 0, min(width, box_w), min(height, line_h * len(lines) + 2))
    return scale, thickness, line_h, box


def draw_lines(rgb, lines, scale=None):
    """A copy of RGB uint8 [H, W, 3] ``rgb`` with ``lines`` written in white at its top left on a
    dark half-transparent box (font ``scale``: see text_layout) -> (frame, box (x0, y0, x1, y1))."""
    h, w = rgb.shape[:2]
    scale, thickness, line_h, box = text_layout(lines, w, h, scale)
    out = np.ascontiguousarray(rgb).copy()
    shade = out.copy()
    cv2.rectangle(shade, box[:2], (box[2] - 1, box[3] - 1), (0, 0, 0), thickness=cv2.FILLED)
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = cv2.addWeighted(shade[y0:y1, x0:x1], 0.6, out[y0:y1, x0:x1], 0.4, 0)
    for i, text in enumerate(lines):
        baseline_y = (i + 1) * line_h - 2
        cv2.putText(out, text, (2, baseline_y), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out, box


def annotate_input(path, kind, lines, out_path):
    """Write every frame of an input (video file or frame folder) with ``lines`` drawn on it to
    ``out_path`` (.mp4, or .gif where MP4 cannot be written), at the input's frame rate.
    Returns (path written, number of frames)."""
    with VideoFile(out_path, input_fps(path, kind)) as video:
        for frame in input_frames(path, kind):
            video.write(draw_lines(frame, lines)[0])
    return video.path, video.frames


def stream_lines(top, class_names, latency_ms):
    """The lines drawn on a streamed frame: the running top-1 (smoothed) and the frame's model latency."""
    class_id, prob = top[0]
    from ..inference.postprocess import class_name

    return [label_text(class_id, class_name(class_names, class_id), prob), f"{latency_ms:.1f} ms"]


class StreamVideo(VideoFile):
    """A streamed video with each frame's running label and latency drawn: ``add(frame, top,
    model_seconds)`` per frame (top: [(class, probability)]); a VideoFile otherwise."""

    def __init__(self, out_path, fps, class_names=None):
        super().__init__(out_path, fps)
        self.class_names = class_names

    def add(self, frame, top, model_seconds):
        self.write(draw_lines(frame, stream_lines(top, self.class_names, model_seconds * 1e3))[0])


class PredictionVideos:
    """``tools/predict.py --save_video DIR``: for each input, DIR/<input name>.mp4 (.gif where MP4
    cannot be written) of all its frames with the top-k labels and probabilities drawn; a name met
    again in the same run gets _2, _3 ... ."""

    def __init__(self, out_dir):
        from ..errors import InferenceError
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as exc:
            raise InferenceError(f"--save_video {out_dir}: cannot create the folder ({exc.strerror})") from None
        self.out_dir = out_dir
        self.used = set()

    def _stem(self, path):
        stem = os.path.splitext(os.path.basename(os.path.normpath(path)))[0] or "input"
        name, n = stem, 1
        while name in self.used:
            n += 1
            name = f"{stem}_{n}"
        self.used.add(name)
        return name

    def add(self, path, kind, ids, names, probs):
        """Write the annotated video of one input (``ids``/``names``/``probs``: its top-k) -> (path, frames)."""
        lines = [label_text(i, n, p) for i, n, p in zip(ids, names, probs)]
        return annotate_input(path, kind, lines, os.path.join(self.out_dir, self._stem(path) + ".mp4"))
