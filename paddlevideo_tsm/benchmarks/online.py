"""Online TSM per-frame latency: the exported per-frame model (caches fed back) vs its TSN twin.

Both run through Paddle Inference (oneDNN unless --enable_mkldnn False) one frame at a time with random
input, alternating frame by frame so machine load hits them alike; median and p95 over --frames.
The TSN twin (shift_div 0: no shift, no caches) is the floor: the difference is the cost of the
cache slicing/concat. Example: python tools/benchmark.py online --depth 50 --size 224
"""
import json
import os
import tempfile
import time

import numpy as np

from .. import cli_args
from .model_configs import add_backbone_arg, describe, model_section


def add_arguments(parser):
    from .model import DEPTHS

    positive = cli_args.int_at_least(1)
    add_backbone_arg(parser)
    parser.add_argument("--depth", type=int, choices=DEPTHS, default=50, help="ResNet depth")
    parser.add_argument("--size", type=positive, default=224, help="frame height = width in pixels")
    parser.add_argument("--threads", type=positive, default=None, help="CPU math threads (default: all)")
    parser.add_argument("--frames", type=positive, default=50, help="timed frames per model")
    parser.add_argument("--warmup", type=cli_args.int_at_least(0), default=5, help="untimed frames first")
    cli_args.add_mkldnn_arg(parser)
    parser.add_argument("--num_classes", type=positive, default=400)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def _cfg(backbone, depth, size, shift_div, num_classes):
    return {"MODEL": model_section(backbone, depth, 8, shift_div, num_classes=num_classes, shift_mode="online"),
            "INFERENCE": {"target_size": size}}


def _summary(seconds):
    ms = np.asarray(seconds) * 1e3
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95))}


def run(args):
    from ..online import export_online
    from ..online.predictor import OnlinePredictor
    from ..utils.threads import available_cores
    threads = args.threads or available_cores()
    predictors = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, shift_div in (("online_tsm", None), ("tsn_frame", 0)):
            cfg = _cfg(args.backbone, args.depth, args.size, shift_div, args.num_classes)
            meta = export_online(cfg, None, tmp, name)
            predictors[name] = OnlinePredictor(meta["model_file"], meta["params_file"], threads, args.enable_mkldnn)
    rng = np.random.default_rng(0)
    times = {name: [] for name in predictors}
    for i in range(args.warmup + args.frames):
        frame = rng.normal(size=(1, 3, args.size, args.size)).astype("float32")
        for name, p in predictors.items():
            start = time.perf_counter()
            p.step(frame)
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)
    result = {"backbone": args.backbone, "depth": args.depth, "size": args.size, "threads": threads,
              "mkldnn": args.enable_mkldnn,
              "frames": args.frames, "load_avg_1min": os.getloadavg()[0]}
    for name, ts in times.items():
        result[name] = _summary(ts)
        print(f"{name:10s} {describe(args.backbone, args.depth)} {args.size}px: "
              f"median {result[name]['median_ms']:.1f} ms, "
              f"p95 {result[name]['p95_ms']:.1f} ms per frame")
    ratio = result["online_tsm"]["median_ms"] / result["tsn_frame"]["median_ms"]
    result["ratio_online_over_tsn"] = ratio
    print(f"online TSM / TSN per frame: {ratio:.3f} ({threads} threads, oneDNN {'on' if args.enable_mkldnn else 'off'}, "
          f"load average {result['load_avg_1min']:.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0
