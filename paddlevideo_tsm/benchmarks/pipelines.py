"""Clips per second of the TSM train/valid pipeline in one process, with time per step.

Frames are timed on a 131-frame JPEG folder extracted from example.avi into a temp dir (and on
rawframes/img_sample); videos on the two shared .avi clips with the decord and the cv2 backend.
The machine is shared: run it twice and take the better run.
Example: python tools/benchmark.py pipelines [--data ../shared/data] [--seconds 5] [--mode train] [--cv2-threads 1]
"""
import os
import sys
import tempfile
import time
from collections import defaultdict

import cv2
import numpy as np

from ..media import FRAME_TEMPLATE

SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           os.pardir, "shared", "data")
NORM = {"Normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}
TRANSFORMS = {
    "train": [{"Scale": {"short_size": 256}}, {"MultiScaleCrop": {"target_size": 256}},
              {"RandomCrop": {"target_size": 224}}, {"RandomFlip": None}, {"Image2Array": None}, NORM],
    "valid": [{"Scale": {"short_size": 256}}, {"CenterCrop": {"target_size": 224}}, {"Image2Array": None}, NORM],
}


def add_arguments(parser):
    parser.add_argument("--data", default=SHARED_DATA, help="folder with videos/ and rawframes/img_sample")
    # dest is not "mode": tools/benchmark.py keeps the benchmark mode in args.mode
    parser.add_argument("--mode", dest="pipeline_mode", choices=sorted(TRANSFORMS), default="train",
                        help="train or valid transforms")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cv2-threads", type=int, default=None, help="cv2.setNumThreads (DataLoader workers: 1)")


def make_pipeline(decoder, mode, backend=None):
    from ..loader import build_pipeline

    decode = {"name": decoder}
    if backend:
        decode["backend"] = backend
    return build_pipeline({"decode": decode,
                           "sample": {"name": "Sampler", "num_seg": 8, "seg_len": 1, "valid_mode": mode == "valid"},
                           "transform": TRANSFORMS[mode]})


def extract_frames(video, folder):
    """Write every frame of ``video`` as img_00001.jpg.. (JPEG quality 95); return the count."""
    cap = cv2.VideoCapture(video)
    n = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            return n
        n += 1
        cv2.imwrite(os.path.join(folder, FRAME_TEMPLATE.format(n)), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])


def bench(pipe, items, seconds):
    """Run ``pipe`` over ``items`` round-robin for about ``seconds``.

    Returns (clips per wall second, clips per CPU second of this process, wall seconds per step).
    On a busy shared machine the CPU-second rate is the steadier number.
    """
    per_step = defaultdict(float)
    rng = np.random.default_rng(0)
    n, start, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        results = {"filename": items[n % len(items)], "rng": rng}
        for step in pipe.steps:
            t = time.perf_counter()
            results = step(results)
            per_step[type(step).__name__] += time.perf_counter() - t
        assert results["imgs"].shape == (8, 3, 224, 224)
        n += 1
    total, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return n / total, n / cpu, {k: v / n for k, v in per_step.items()}


def run(args):
    if args.cv2_threads is not None:
        cv2.setNumThreads(args.cv2_threads)
    mode = args.pipeline_mode
    videos = [os.path.join(args.data, "videos", f) for f in ("example.avi", "mmaction_test.avi")]
    if not all(os.path.isfile(v) for v in videos):
        print(f"error: shared media not found under {args.data}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        n = extract_frames(videos[0], tmp)
        cases = [(f"frames ({n}-frame jpeg folder)", "FrameDecoder", None, [tmp]),
                 ("frames (rawframes/img_sample, 10)", "FrameDecoder", None,
                  [os.path.join(args.data, "rawframes", "img_sample")]),
                 ("videos (2 avi clips, decord)", "VideoDecoder", "decord", videos),
                 ("videos (2 avi clips, cv2)", "VideoDecoder", "cv2", videos)]
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"mode {mode}, 8 segments, 224 px, cv2 threads {cv2.getNumThreads()}, one process, "
              f"load average {load:.1f} on {os.cpu_count()} cores")
        for name, decoder, backend, items in cases:
            rate, cpu_rate, steps = bench(make_pipeline(decoder, mode, backend), items, args.seconds)
            detail = ", ".join(f"{k} {1000 * v:.1f}" for k, v in steps.items())
            print(f"{name:36s} {rate:6.1f} clips/s ({cpu_rate:6.1f} per CPU-s)   ms/clip: {detail}")
    return 0
