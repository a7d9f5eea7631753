"""The streaming loop: frames -> preprocess -> per-frame model (caches kept) -> smoothed top-k."""
import time

import numpy as np

from ..errors import DataError
from .smoothing import top_k


def latency_summary(seconds):
    """List of per-frame seconds -> {'median', 'p95', 'mean'} in milliseconds (empty list -> {})."""
    if not seconds:
        return {}
    ms = np.asarray(seconds) * 1e3
    return {"median": float(np.median(ms)), "p95": float(np.percentile(ms, 95)), "mean": float(ms.mean())}


def format_top(frame_no, top, class_names=None):
    """'frame 16: 3 name 0.912, 5 other 0.040' for a top-k list of (index, probability)."""
    def label(i):
        return f"{i} {class_names[i]}" if class_names and i < len(class_names) else str(i)
    return f"frame {frame_no}: " + ", ".join(f"{label(i)} {p:.3f}" for i, p in top)


def run_stream(frames, preprocess, step, smoother, interval=8, k=5, class_names=None, emit=print,
               max_frames=None, source="<stream>", on_frame=None):
    """Run every frame of ``frames`` (RGB uint8 [H, W, 3] iterable) through ``preprocess`` and
    ``step`` (a per-frame model: input -> scores [K]); every ``interval`` frames and at the end,
    ``emit`` the smoothed top-``k``; ``on_frame(frame, top, model_seconds)`` after each frame.
    Returns {'frames', 'top', 'scores' [n, K], 'preprocess_s', 'model_s'}.
    """
    pre_s, model_s, all_scores = [], [], []
    top, n = [], 0
    for frame in frames:
        t0 = time.perf_counter()
        x = preprocess(frame)
        t1 = time.perf_counter()
        scores = step(x)
        t2 = time.perf_counter()
        pre_s.append(t1 - t0)
        model_s.append(t2 - t1)
        all_scores.append(scores)
        n += 1
        top = top_k(smoother(scores), k)
        if on_frame is not None:
            on_frame(frame, top, t2 - t1)
        if interval and n % interval == 0:
            emit(format_top(n, top, class_names))
        if max_frames and n >= max_frames:
            break
    if n == 0:
        raise DataError(f"{source}: no frame could be read")
    if not interval or n % interval:
        emit(format_top(n, top, class_names))
    return {"frames": n, "top": top, "scores": np.stack(all_scores), "preprocess_s": pre_s, "model_s": model_s}
