"""Data loader throughput: clips/s of the k400 train pipeline on frames and videos, 0 and N workers.

Each cell runs FrameDataset / VideoDataset with PaddleVideo's k400 train transforms (8 segments,
Scale 256, MultiScaleCrop 256, RandomCrop 224, RandomFlip, Image2Array, Normalization) through
build_dataloader and times --clips clips after one untimed warm-up batch (worker start-up is
left out). Sources: 'shared' = ../shared/data (real 320x240 clips and a 10-frame folder),
'synthetic' = generated 320x240 MPEG-4 videos and their extracted JPEG frames in a temp dir.
Example: python tools/benchmark.py loader --workers 0,2 --clips 64 --json loader.json
"""
import gc
import json
import os
import shutil
import tempfile
import time

import cv2
import numpy as np

from ..media import FRAME_TEMPLATE, VIDEO_EXTS, extension

SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           os.pardir, "shared", "data")
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def add_arguments(parser):
    a = parser.add_argument
    a("--sources", default="shared,synthetic", help="comma list of shared, synthetic")
    a("--formats", default="frames,videos", help="comma list of frames, videos")
    a("--workers", default="0,2", help="comma list of DataLoader worker counts")
    a("--clips", type=int, default=64, help="timed clips per cell")
    a("--batch_size", type=int, default=8)
    a("--num_seg", type=int, default=8)
    a("--crop", type=int, default=224, help="RandomCrop size (Scale/MultiScaleCrop use 256/224 of it)")
    a("--synthetic_videos", type=int, default=8, help="generated clips")
    a("--synthetic_frames", type=int, default=150, help="frames per generated clip (25 fps)")
    a("--shared_data", default=SHARED_DATA, help="folder with videos/ and rawframes/img_sample")
    a("--no_shared_memory", action="store_true", help="DataLoader use_shared_memory=False")
    a("--json", default=None, help="also write the results to this JSON file")


def train_pipeline_cfg(fmt, num_seg=8, crop=224):
    """PaddleVideo's k400 train pipeline for 'frames' or 'videos' (sizes scaled with ``crop``)."""
    scale = int(round(crop * 256 / 224))
    decode = {"name": "FrameDecoder"} if fmt == "frames" else {"name": "VideoDecoder", "backend": "decord"}
    return {"decode": decode,
            "sample": {"name": "Sampler", "num_seg": num_seg, "seg_len": 1, "valid_mode": False},
            "transform": [{"Scale": {"short_size": scale}}, {"MultiScaleCrop": {"target_size": scale}},
                          {"RandomCrop": {"target_size": crop}}, {"RandomFlip": None}, {"Image2Array": None},
                          {"Normalization": {"mean": MEAN, "std": STD}}]}


def synthetic_frame(t, k, h=240, w=320):
    """Frame t of generated clip k: a moving textured pattern (uint8 [h, w, 3] BGR) that compresses like video."""
    y, x = np.mgrid[0:h, 0:w]
    phase = 0.15 * t + k
    r = 127 + 100 * np.sin(0.05 * x + phase) * np.cos(0.07 * y - phase)
    g = 127 + 100 * np.sin(0.03 * (x + y) - 2 * phase)
    b = (x * 0.5 + y * 0.3 + 4 * t + 30 * k) % 255
    return np.clip(np.stack([b, g, r], -1), 0, 255).astype(np.uint8)


def make_synthetic(root, n_videos, n_frames):
    """Write n 320x240 MPEG-4 .avi clips and their JPEG frame folders under ``root``; return (video dir, frame dir, frames per clip)."""
    vdir, fdir = os.path.join(root, "videos"), os.path.join(root, "frames")
    os.makedirs(vdir)
    for k in range(n_videos):
        path = os.path.join(vdir, f"clip{k}.avi")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25, (320, 240))
        if not writer.isOpened():  # fall back to a codec every OpenCV build writes
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
        folder = os.path.join(fdir, f"clip{k}")
        os.makedirs(folder)
        for t in range(n_frames):
            frame = synthetic_frame(t, k)
            writer.write(frame)
            cv2.imwrite(os.path.join(folder, FRAME_TEMPLATE.format(t + 1)), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        writer.release()
    return vdir, fdir, n_frames


def _list_file(root, fmt, items, min_len=1):
    """Write a list of (relative path, frames) items, repeated to ``min_len`` lines; return its path."""
    # one epoch must cover the warm-up batch and all timed clips: a new epoch restarts the workers
    items = (items * (-(-min_len // len(items))))[:max(min_len, len(items))]
    path = os.path.join(root, f"{fmt}_{len(items)}.txt")
    with open(path, "w") as f:
        for rel, n in items:
            f.write(f"{rel} {n} 0\n" if fmt == "frames" else f"{rel} 0\n")
    return path


def sources(args, tmp):
    """{(source, fmt): (list file, data_prefix)} for the requested sources and formats."""
    out = {}
    need = args.clips + 2 * args.batch_size
    wanted = [s.strip() for s in args.sources.split(",") if s.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if "shared" in wanted:
        vdir = os.path.join(args.shared_data, "videos")
        fdir = os.path.join(args.shared_data, "rawframes")
        if not os.path.isdir(vdir):
            print(f"shared data not found at {args.shared_data}: skipping source 'shared'")
        else:
            videos = sorted(v for v in os.listdir(vdir) if extension(v) in VIDEO_EXTS)
            n_img = len([f for f in os.listdir(os.path.join(fdir, "img_sample")) if f.endswith(".jpg")])
            if "videos" in formats:
                out[("shared", "videos")] = (_list_file(tmp, "videos", [(v, 0) for v in videos], need), vdir)
            if "frames" in formats:
                out[("shared", "frames")] = (_list_file(tmp, "frames", [("img_sample", n_img)], need), fdir)
    if "synthetic" in wanted:
        vdir, fdir, n = make_synthetic(os.path.join(tmp, "synthetic"), args.synthetic_videos, args.synthetic_frames)
        names = [f"clip{k}" for k in range(args.synthetic_videos)]
        if "videos" in formats:
            out[("synthetic", "videos")] = (_list_file(os.path.join(tmp, "synthetic"), "videos",
                                                       [(f"{c}.avi", 0) for c in names], need), vdir)
        if "frames" in formats:
            out[("synthetic", "frames")] = (_list_file(os.path.join(tmp, "synthetic"), "frames",
                                                       [(c, n) for c in names], need), fdir)
    return out


def time_cell(list_file, prefix, fmt, workers, args):
    """Clips/s of one (list, format, workers) cell, after one untimed batch."""
    from ..loader.dataloader import build_dataloader
    from ..loader.datasets import build_dataset

    ds_format = "FrameDataset" if fmt == "frames" else "VideoDataset"
    dataset = build_dataset({"format": ds_format, "file_path": list_file, "data_prefix": prefix},
                            train_pipeline_cfg(fmt, args.num_seg, args.crop))
    loader = build_dataloader(dataset, args.batch_size, num_workers=workers, shuffle=True, seed=0,
                              use_shared_memory=not args.no_shared_memory)
    epoch, seen, start, shape = 0, 0, None, None
    cpu_start = _cpu_seconds()
    while start is None or seen < args.clips:
        loader.set_epoch(epoch)  # small lists: go round again until enough clips were timed
        batches = iter(loader)
        for imgs, _ in batches:
            if start is None:  # warm-up batch: worker start-up and first file opens
                start, shape = time.perf_counter(), list(imgs.shape[1:])
                continue
            seen += imgs.shape[0]
            if seen >= args.clips:
                break
        elapsed = time.perf_counter() - start
        batches.close()  # stop and reap the workers so their CPU time is counted
        del batches
        gc.collect()
        epoch += 1
    cpu = _cpu_seconds() - cpu_start
    return {"clips": seen, "seconds": round(elapsed, 3), "clips_per_s": round(seen / elapsed, 2),
            "clips_per_s_per_worker": round(seen / elapsed / max(1, workers), 2),
            # CPU of this process and its reaped workers, warm-up batch included: load-independent cost
            "cpu_ms_per_clip": round(1000 * cpu / (seen + args.batch_size), 1),
            "clip_shape": shape, "bad_samples": len(dataset.bad_samples())}


def _cpu_seconds():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(args):
    workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    tmp = tempfile.mkdtemp(prefix="pvtsm_loader_bench_")
    rows = []
    try:
        cells = sources(args, tmp)
        load_before = os.getloadavg()[0]
        for (source, fmt), (list_file, prefix) in cells.items():
            for w in workers:
                res = time_cell(list_file, prefix, fmt, w, args)
                rows.append({"source": source, "format": fmt, "workers": w, **res})
                print(f"{source:>9} {fmt:>6} workers={w}: {res['clips_per_s']:7.2f} clips/s "
                      f"({res['clips_per_s_per_worker']:.2f} per worker, {res['cpu_ms_per_clip']:.1f} CPU ms/clip)",
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()[0]
    header = (f"{'source':>9} | {'format':>6} | {'workers':>7} | {'clips/s':>8} | {'per worker':>10} | "
              f"{'CPU ms/clip':>11} | clip [T,C,H,W]")
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['source']:>9} | {r['format']:>6} | {r['workers']:>7} | {r['clips_per_s']:>8.2f} | "
              f"{r['clips_per_s_per_worker']:>10.2f} | {r['cpu_ms_per_clip']:>11.1f} | {r['clip_shape']}")
    print(f"CPUs: {os.cpu_count()}, 1-min load average {load_before:.1f} before, {load_after:.1f} after")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "cpus": os.cpu_count(), "load_before": load_before,
                       "load_after": load_after, "args": vars(args) | {"run": None}}, f, indent=1)
        print(f"wrote {args.json}")
    return 0
