"""Online TSM per-frame latency: the exported per-frame model (caches fed back) vs its TSN twin.

Both run through Paddle Inference (oneDNN unless --enable_mkldnn False) one frame at a time with random
input, alternating frame by frame so machine load hits them alike; median and p95 over --frames.
The TSN twin (shift_div 0: no shift, no caches) is the floor: the difference is the cost of the
cache slicing/concat. ``--precisions fp32,int8`` runs both models in each precision, all alternating
(int8: each export quantized by Paddle's PTQ on frames streamed from random clips; bf16 only where
the CPU runs it). Example: python tools/benchmark.py online --depth 50 --size 224 --precisions fp32,int8
"""
import json
import os
import tempfile
import time

import numpy as np

from .. import cli_args
from .low_precision import add_precision_args
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
    add_precision_args(parser)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def _cfg(backbone, depth, size, shift_div, num_classes):
    return {"MODEL": model_section(backbone, depth, 8, shift_div, num_classes=num_classes, shift_mode="online"),
            "INFERENCE": {"target_size": size}}


def _summary(seconds, cpu_seconds):
    ms = np.asarray(seconds) * 1e3
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "cpu_median_ms": float(np.median(cpu_seconds)) * 1e3}


def _predictors(args, threads, tmp):
    """{'online_tsm' / 'tsn_frame' (+ ' int8' ...): OnlinePredictor} for each precision this CPU runs."""
    from ..inference.quantize import stream_feeds
    from ..online import export_online
    from ..online.predictor import OnlinePredictor
    from .low_precision import int8_model, random_clips, unavailable

    precisions = []
    for precision in args.precisions:
        reason = unavailable(precision)
        if reason:
            print(f"{precision} skipped: {reason}")
        else:
            precisions.append(precision)
    predictors = {}
    for name, shift_div in (("online_tsm", None), ("tsn_frame", 0)):  # None: the backbone's own shift_div
        meta = export_online(_cfg(args.backbone, args.depth, args.size, shift_div, args.num_classes), None, tmp, name)
        files = {"fp32": (meta["model_file"], meta["params_file"])}
        if "int8" in precisions:
            clips = random_clips([8] + meta["inputs"][0][1][1:], args.calib_clips)
            files["int8"] = int8_model(*files["fp32"], stream_feeds(*files["fp32"], clips, threads))
        for precision in precisions:
            model_file, params_file = files.get(precision, files["fp32"])
            key = name if precision == "fp32" else f"{name} {precision}"
            predictors[key] = OnlinePredictor(model_file, params_file, threads, args.enable_mkldnn, precision)
    return predictors, precisions


def run(args):
    from ..utils.cpu_info import cpu_summary
    from ..utils.threads import available_cores
    threads = args.threads or available_cores()
    with tempfile.TemporaryDirectory() as tmp:
        predictors, precisions = _predictors(args, threads, tmp)
    rng = np.random.default_rng(0)
    times = {name: [] for name in predictors}
    cpu_times = {name: [] for name in predictors}
    for i in range(args.warmup + args.frames):
        frame = rng.normal(size=(1, 3, args.size, args.size)).astype("float32")
        for name, p in predictors.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            p.step(frame)
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)
                cpu_times[name].append(time.process_time() - start_cpu)
    result = {"backbone": args.backbone, "depth": args.depth, "size": args.size, "threads": threads, "mkldnn": args.enable_mkldnn,
              "frames": args.frames, "load_avg_1min": os.getloadavg()[0], "cpu": cpu_summary()}
    print(result["cpu"])
    for name, ts in times.items():
        result[name] = _summary(ts, cpu_times[name])
        print(f"{name:15s} {describe(args.backbone, args.depth)} {args.size}px: median {result[name]['median_ms']:.1f} ms, "
              f"p95 {result[name]['p95_ms']:.1f} ms per frame (process CPU median "
              f"{result[name]['cpu_median_ms']:.1f} ms)")
    for precision in precisions:
        tail = "" if precision == "fp32" else f" {precision}"
        tsm, tsn = result[f"online_tsm{tail}"], result[f"tsn_frame{tail}"]
        ratio = tsm["median_ms"] / tsn["median_ms"]
        result[f"ratio_online_over_tsn{tail.replace(' ', '_')}"] = ratio
        print(f"{precision}: online TSM / TSN per frame: {ratio:.3f} (CPU time {tsm['cpu_median_ms'] / tsn['cpu_median_ms']:.3f}; "
              f"{threads} threads, oneDNN {'on' if args.enable_mkldnn else 'off'}, load average "
              f"{result['load_avg_1min']:.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0
