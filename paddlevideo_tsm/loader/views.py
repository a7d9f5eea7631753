"""One video -> all its test views: the step shared by test-mode datasets and the predictor."""
import numpy as np


def load_views(pipeline, results, num_clips=1, rng=None):
    """Run ``pipeline`` once per clip k (clip_idx=k of num_clips) on a copy of ``results``.

    ``results`` holds at least 'filename' (and optionally 'frames_len', 'suffix', ...). Each run
    gives imgs [T, ...] (one crop) or [crops, T, ...]; returns float32 [num_clips*crops, T, ...]
    with clip k's crops after clip k-1's.
    """
    views = []
    for k in range(int(num_clips)):
        one = dict(results, clip_idx=k, num_clips=int(num_clips))
        if rng is not None:
            one["rng"] = rng
        out = pipeline(one)
        imgs = np.asarray(out["imgs"] if isinstance(out, dict) else out)
        views.append(imgs[None] if imgs.ndim == 4 else imgs)
    return np.concatenate(views, axis=0).astype(np.float32, copy=False)
