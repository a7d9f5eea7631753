"""Measure Grad-CAM against the demo data's ground truth: does the heat map's peak lie on the shape?

    python tools/measure_cam_demo.py -c configs/tsm_demo_frames.yaml -w output/TSM_demo/TSM_demo_best.pdparams
        [--layers default,res4b,res3b] [--limit N] [--override KEY=VALUE]

For every clip of DATASET.test (demo frame folders made by tools/make_demo_data.py), the shape's
position in every frame comes from the generator (paddlevideo_tsm.demo_data: the clip is rebuilt
from its name and the data set's seed, and its outline rasterised from its parameters), sent
through the same test transforms as the frames (scale, crop), never found in the pictures. Per
layer, over the frames of correctly classified clips, it prints:

- on shape: the fraction of frames whose map peak (visual.heatmap.peaks: the centre of the
  hottest region, also what tools/visualize_cam.py marks) lies on the shape (coverage >= 0.5), and
  the chance level (the mean fraction of the crop the shape covers);
- near: the same with the shape grown by half a map cell, and its chance level;
- largest cell: how often the centre of the map's largest cell lies on the shape (a coarse map's
  maximum can only sit on its cell grid: 4 px apart for 8x8 cells over a 32 px crop);
- moves: for move_* clips, the correlation between the peak's and the shape's coordinate along
  the motion axis over the T frames (median over clips), and the fraction of clips whose peak
  moves the shape's way from the first to the last frame;
- change: the mean total-variation distance between consecutive frames' maps (each map scaled to
  sum 1; 0 = the same map in every frame), next to the same for the shape masks.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-c", "--config", required=True)
    p.add_argument("-w", "--weights", required=True)
    p.add_argument("--layers", default="default", help="comma-separated layers ('default' = the last unit)")
    p.add_argument("--limit", type=int, default=None, help="clips per class at most")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE")
    return p.parse_args(argv)


def shape_masks(pipeline, coverage, frame_idx):
    """The generator's coverage [F, S, S] at the sampled frames, through the pipeline's geometric
    steps (those between the Sampler and Normalization) -> float [T, h, w] in [0, 1]."""
    from paddlevideo_tsm.loader.pipelines.compose import Compose
    from paddlevideo_tsm.loader.pipelines.sample import Sampler
    from paddlevideo_tsm.loader.pipelines.to_array import Image2Array, Normalization
    steps = pipeline.steps
    first = next(i for i, s in enumerate(steps) if isinstance(s, Sampler)) + 1
    geometry = [s for s in steps[first:] if not isinstance(s, (Image2Array, Normalization))]
    imgs = [np.repeat(np.uint8(np.rint(coverage[i] * 255))[..., None], 3, axis=2) for i in frame_idx]
    out = np.asarray(Compose(geometry)({"imgs": imgs, "filename": "<shape mask>"})["imgs"])
    if out.ndim == 5:  # [crops, T, H, W, 3]: the first crop, as load_clip takes
        out = out[0]
    return out[..., 0].astype(np.float32) / 255.0


def _centroid(weights):
    """float [T, h, w] >= 0 -> [T, 2] (x, y) weighted mean pixel position (pixel centres)."""
    t, h, w = weights.shape
    total = weights.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([(weights * xs).sum(axis=(1, 2)) / total, (weights * ys).sum(axis=(1, 2)) / total], 1)


def _tv_change(maps):
    """Mean total-variation distance between consecutive frames of maps [T, h, w] (each scaled to sum 1)."""
    p = maps / np.maximum(maps.sum(axis=(1, 2), keepdims=True), 1e-12)
    return float(0.5 * np.abs(np.diff(p, axis=0)).sum(axis=(1, 2)).mean())


def measure_clip(maps, masks):
    """maps [T, h, w] (CAM) and masks [T, H, W] -> dict of per-clip measures (see the module docstring)."""
    from paddlevideo_tsm.visual.heatmap import peaks, upsample
    t, hh, ww = masks.shape
    h, w = maps.shape[1:]

    def pixel(points):  # (x, y) -> the int pixel holding it, inside the image
        p = np.rint(points).astype(int)
        return np.clip(p[:, 0], 0, ww - 1), np.clip(p[:, 1], 0, hh - 1)

    pts = peaks(maps, hh, ww)
    xs, ys = pixel(pts)
    on = masks[np.arange(t), ys, xs] >= 0.5
    i, j = np.unravel_index(maps.reshape(t, -1).argmax(axis=1), (h, w))
    cx, cy = pixel(np.stack([(j + 0.5) * ww / w - 0.5, (i + 0.5) * hh / h - 0.5], axis=1))
    cell_on = masks[np.arange(t), cy, cx] >= 0.5
    # distance of every pixel to the shape (0 on it), for the shape grown by half a cell
    away = np.stack([cv2.distanceTransform(np.uint8(m < 0.5), cv2.DIST_L2, 5) for m in masks])
    reach = 0.5 * hh / h
    near = away[np.arange(t), ys, xs] <= reach
    up = upsample(maps, hh, ww)
    return {"on": on, "chance": float((masks >= 0.5).mean()), "near": near, "cell_on": cell_on,
            "near_chance": float((away <= reach).mean()), "peaks": pts,
            "centres": _centroid(masks), "change": _tv_change(up), "shape_change": _tv_change(masks)}


def _motion(result, axis):
    """Peak-vs-shape correlation and same-direction flag along ``axis`` (0 = x, 1 = y) of one move clip."""
    p, c = result["peaks"][:, axis], result["centres"][:, axis]
    corr = float(np.corrcoef(p, c)[0, 1]) if p.std() > 0 else 0.0
    return corr, bool(np.sign(p[-1] - p[0]) == np.sign(c[-1] - c[0]) and p[-1] != p[0])


def run(args):
    from paddlevideo_tsm.demo_data import CLASS_NAMES, clip_by_name, clip_coverage, read_marker
    from paddlevideo_tsm.errors import ConfigError
    from paddlevideo_tsm.inference.preprocess import Preprocessor
    from paddlevideo_tsm.loader.datasets.list_file import read_list
    from paddlevideo_tsm.modeling import load_checkpoint
    from paddlevideo_tsm.tasks.runtime import build_model_checked
    from paddlevideo_tsm.config import get_config
    from paddlevideo_tsm.visual.cam import grad_cam, load_clip

    cfg = get_config(args.config, args.override)
    test = cfg["DATASET"]["test"]
    marker = read_marker(test["data_prefix"])
    if marker is None:
        raise ConfigError(f"{test['data_prefix']}: no demo data set here (make it with tools/make_demo_data.py)")
    split = "test" if "test" in os.path.basename(test["file_path"]) else "val"
    model = build_model_checked(cfg)
    load_checkpoint(model, args.weights)
    preprocess = Preprocessor(cfg["PIPELINE"]["test"])
    entries = read_list(test["file_path"], "frame", test["data_prefix"])
    if args.limit:
        kept = {}
        entries = [e for e in entries if kept.setdefault(e.label, []).append(e) or len(kept[e.label]) <= args.limit]
    layers = [None if name == "default" else name for name in args.layers.split(",")]
    stats = {layer: {"on": [], "chance": [], "near": [], "near_chance": [], "cell_on": [], "by_class": {}, "corr": [],
                     "same_way": [], "change": [], "shape_change": [], "correct": 0} for layer in layers}
    for entry in entries:
        truth = clip_by_name(os.path.basename(entry.path), split, marker["seed"], marker["frames"], marker["size"])
        clip = load_clip(preprocess, entry.path, "frame", model.data_format)
        masks = shape_masks(preprocess.pipeline("frame"), clip_coverage(truth), clip.frame_idx)
        for layer in layers:
            res = grad_cam(model, clip.inputs, None, layer)
            if res.target != entry.label:
                continue
            s = stats[layer]
            s["layer"] = res.layer
            s["size"] = res.maps.shape[1:]
            s["correct"] += 1
            m = measure_clip(res.maps, masks)
            for key in ("on", "chance", "near", "near_chance", "cell_on"):
                s[key].append(m[key])
            s["by_class"].setdefault(entry.label, []).append((m["on"].mean(), m["near"].mean()))
            s["change"].append(m["change"])
            s["shape_change"].append(m["shape_change"])
            if CLASS_NAMES[entry.label].startswith("move_"):
                corr, same = _motion(m, 0 if CLASS_NAMES[entry.label] in ("move_left", "move_right") else 1)
                s["corr"].append(corr)
                s["same_way"].append(same)
    print(f"{args.weights}: {len(entries)} test clips of {test['file_path']}")
    for layer in layers:
        s = stats[layer]
        if not s["correct"]:
            print(f"layer {layer or 'default'}: no correctly classified clip")
            continue
        on, near = np.concatenate(s["on"]), np.concatenate(s["near"])
        print(f"layer {s['layer']} ({s['size'][0]}x{s['size'][1]}): {s['correct']} correctly classified clips, "
              f"{len(on)} frames")
        print(f"  peak on the shape: {on.mean():.3f} of the frames (chance {np.mean(s['chance']):.3f}); "
              f"within half a cell of it: {near.mean():.3f} (chance {np.mean(s['near_chance']):.3f}); "
              f"the largest cell's centre on it: {np.concatenate(s['cell_on']).mean():.3f}")
        print("  by class (on / within half a cell): " + ", ".join(
            f"{CLASS_NAMES[k]} {np.mean([a for a, _ in v]):.2f}/{np.mean([b for _, b in v]):.2f}"
            for k, v in sorted(s["by_class"].items())))
        if s["corr"]:
            print(f"  move clips: peak-vs-shape correlation along the motion axis median {np.median(s['corr']):.3f}; "
                  f"peak moves the shape's way from first to last frame in {np.mean(s['same_way']):.3f} of "
                  f"{len(s['corr'])} clips")
        print(f"  frame-to-frame change of the map (total variation): {np.mean(s['change']):.3f} "
              f"(of the shape masks: {np.mean(s['shape_change']):.3f})")
    return 0


def main(argv=None):
    from paddlevideo_tsm.errors import run_cli
    return run_cli(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
