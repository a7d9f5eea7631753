"""Synthetic temporal data set: eight motion classes in time-reversal pairs.

Every clip shows one shape on a smooth, noisy background; each pair has its own shape
and hue (PAIR_SHAPES, PAIR_COLOURS), so a single frame tells the pair. The odd class of each pair
(move_right, move_down, shrink, rotate_anticlockwise) is its even partner played
backwards, so single frames of the two classes are identically distributed and only
frame order tells them apart: a model that ignores time (TSN) can name the pair but not
beat chance inside it (about 50 % top-1), while a temporal model (TSM) can.

Layout written by `generate` under `out` (all list paths relative to `out`):
  videos/<split>/<class>_<i>.avi               MJPG, 25 fps
  frames/<split>/<class>_<i>/img_00001.jpg ...  JPEG quality 95, re-encoded from the decoded video
  <split>_videos.list   "videos/<split>/<name>.avi <label>"
  <split>_frames.list   "frames/<split>/<name> <num_frames> <label>"
  label_map.txt         "<index> <class name>"
  flip_label_map.txt    "<label> <label after a horizontal flip>"
  DEMO_COMPLETE.json    generation parameters, written last

DEMO_PARTIAL.json is written first and removed last: with either marker the folder is the
generator's. `generate` refuses a non-empty folder with neither unless force=True, and even then,
as when regenerating its own output, it deletes only files that a generation recorded in a marker
wrote (`generated_paths`): nothing else in the folder is ever touched.
"""
import json
import math
import multiprocessing
import os
import time
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ToolError
from .media import FRAME_TEMPLATE

CLASS_NAMES = [
    "move_left", "move_right",
    "move_up", "move_down",
    "grow", "shrink",
    "rotate_clockwise", "rotate_anticlockwise",
]
# A horizontal mirror turns leftward motion rightward and reverses the sense of rotation;
# vertical motion and size changes are unaffected.
FLIP_LABEL_MAP = [1, 0, 2, 3, 4, 5, 7, 6]
SPLITS = ("train", "val", "test")
MARKER_NAME = "DEMO_COMPLETE.json"
PARTIAL_NAME = "DEMO_PARTIAL.json"
JPEG_QUALITY = 95
VIDEO_FPS = 25.0

# Unit-size outlines (x right, y down). The rotating pair uses a shape without rotational
# symmetry so its direction of turn is visible in every frame pair.
_SHAPES = {
    "circle": [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 32, endpoint=False)],
    "square": [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)],
    "triangle": [(math.cos(a), math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)],
    # a clock hand: pivot at the origin, tip at (1, 0); it turns about its pivot, so its whole
    # mass sweeps round (a turn about the centre moves little but the tips)
    "hand": [(-0.14, -0.14), (0.62, -0.14), (0.62, -0.32), (1.0, 0.0), (0.62, 0.32), (0.62, 0.14),
             (-0.14, 0.14)],
}
# pair -> shape and hue (red, green, blue, yellow): move left/right, up/down, grow/shrink, rotate.
# Shape and colour name the pair in any single frame; only the frame order names the class.
PAIR_SHAPES = ("circle", "square", "triangle", "hand")
PAIR_COLOURS = ((230, 40, 40), (40, 215, 45), (45, 70, 235), (235, 220, 30))

# Per-clip motion ranges, as fractions of the frame side or totals over the whole clip,
# so a clip of any length or size shows a comparable amount of motion.
_RADIUS = (0.12, 0.17)          # shape half-size for move classes
_TURN_RADIUS = (0.28, 0.36)     # length of the turning hand: its sweep is plain to see at 32 px
_TRAVEL = (0.33, 0.48)          # distance covered by move classes
_DRIFT = 0.06                   # at most this much sideways drift, well below _TRAVEL
_GROW_R0 = (0.09, 0.12)         # starting half-size of grow clips
_GROW_RATIO = (2.5, 3.2)        # final / starting size of grow clips: the size change is visible at 32 px
_TURN_DEG = (180.0, 300.0)      # total turn of rotate clips (at most ~60 deg between 8 sampled frames)
_NOISE_SIGMA = (2.0, 6.0)       # per-frame Gaussian pixel noise
_BG_RANGE = (70, 180)           # background colour range, kept away from the shape's extreme channel


@dataclass
class Clip:
    """One generated clip.

    frames: uint8 [T, S, S, 3] RGB; background: uint8 [S, S, 3] RGB, the noise-free background;
    centers: float [T, 2] (x, y) px; radii: float [T] half-size px; angles: float [T] degrees,
    increasing = clockwise on screen (image y points down); label, shape: class index, shape name;
    colour: the shape's (r, g, b).
    """
    frames: np.ndarray
    background: np.ndarray
    centers: np.ndarray
    radii: np.ndarray
    angles: np.ndarray
    label: int
    shape: str
    colour: tuple


def _smooth_background(rng, size):
    """Return a uint8 [S, S, 3] smooth random texture: coarse colour blobs plus finer ripples."""
    coarse = rng.uniform(_BG_RANGE[0] + 15, _BG_RANGE[1] - 15, (int(rng.integers(3, 7)),) * 2 + (3,))
    fine = rng.uniform(-15, 15, (int(rng.integers(8, 13)),) * 2 + (3,))
    bg = cv2.resize(coarse.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    bg += cv2.resize(fine.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(bg, _BG_RANGE[0], _BG_RANGE[1]).round().astype(np.uint8)


def _shape_colour(rng, pair):
    """Return the RGB colour of a shape of `pair`: the pair's hue (PAIR_COLOURS) +-20 per channel.

    Every channel of every hue is at most 45 or at least 210, so it contrasts with any background.
    """
    jitter = rng.integers(-20, 21, 3)
    return tuple(int(c) for c in np.clip(np.asarray(PAIR_COLOURS[pair]) + jitter, 0, 255))


def shape_outline(shape, center, radius, angle_deg):
    """Return float [N, 2] (x, y) vertices of `shape` scaled by radius, turned clockwise by angle_deg, at center."""
    pts = np.asarray(_SHAPES[shape], dtype=np.float64) * radius
    a = math.radians(angle_deg)
    # With y pointing down, this standard rotation matrix turns clockwise on screen for angle > 0.
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return pts @ rot.T + np.asarray(center, dtype=np.float64)


_SUPERSAMPLE = 4


def shape_coverage(shape, center, radius, angle_deg, size):
    """Return float32 [S, S] in [0, 1]: the fraction of each pixel the shape_outline polygon covers.

    Rasterised at 4x resolution and area-averaged: cv2.fillPoly's own anti-aliasing paints about
    0.6 px beyond the outline, which would make drawn shapes measurably larger than their parameters.
    """
    k = _SUPERSAMPLE
    # Pixel centres are integers; low-res x covers high-res k*x .. k*x+k-1, centred at k*x + (k-1)/2.
    pts = shape_outline(shape, center, radius, angle_deg) * k + (k - 1) / 2
    fine = np.zeros((size * k, size * k), np.uint8)
    # 4 fractional bits keep slow motion smooth instead of jumping by whole pixels.
    cv2.fillPoly(fine, [np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)], 255, cv2.LINE_8, shift=4)
    return cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _trajectory(rng, pair, frames, size):
    """Return (centers [T, 2], radii [T], angles [T]) for the even class of pair 0..3."""
    t = np.linspace(0.0, 1.0, frames)
    angle0 = rng.uniform(0, 360)
    if pair == 2:  # grow
        r0 = rng.uniform(*_GROW_R0) * size
        radii = r0 * rng.uniform(*_GROW_RATIO) ** t
        margin = radii[-1] + 1
        center = rng.uniform(margin, size - margin, 2)
        centers = np.repeat(center[None], frames, axis=0)
        return centers, radii, np.full(frames, angle0)
    radius = rng.uniform(*(_TURN_RADIUS if pair == 3 else _RADIUS)) * size
    radii = np.full(frames, radius)
    margin = radius + 2
    if pair == 3:  # rotate clockwise
        center = rng.uniform(margin, size - margin, 2)
        turn = rng.uniform(*_TURN_DEG)
        return np.repeat(center[None], frames, axis=0), radii, angle0 + turn * t
    # pair 0: move_left (x decreases); pair 1: move_up (y decreases)
    travel = rng.uniform(*_TRAVEL) * size
    drift = rng.uniform(-_DRIFT, _DRIFT) * size
    main_start = rng.uniform(margin + travel, size - margin)
    side_start = rng.uniform(margin + max(0.0, -drift), size - margin - max(0.0, drift))
    main = main_start - travel * t
    side = side_start + drift * t
    centers = np.stack([main, side], 1) if pair == 0 else np.stack([side, main], 1)
    return centers, radii, np.full(frames, angle0)


def make_clip(label, seed, frames=16, size=80):
    """Return the Clip of class `label` drawn from integer `seed` (same arguments -> same arrays).

    An odd label is its even partner with the same seed played backwards.
    """
    if not 0 <= label < len(CLASS_NAMES):
        raise ValueError(f"label {label} out of range 0..{len(CLASS_NAMES) - 1}")
    if frames < 2 or size < 16:
        raise ValueError(f"need frames >= 2 and size >= 16, got frames={frames} size={size}")
    if label % 2:
        c = make_clip(label - 1, seed, frames, size)
        return Clip(c.frames[::-1].copy(), c.background, c.centers[::-1].copy(), c.radii[::-1].copy(),
                    c.angles[::-1].copy(), label, c.shape, c.colour)
    pair = label // 2
    rng = np.random.default_rng(seed)
    background = _smooth_background(rng, size)
    shape = PAIR_SHAPES[pair]
    colour = _shape_colour(rng, pair)
    centers, radii, angles = _trajectory(rng, pair, frames, size)
    sigma = rng.uniform(*_NOISE_SIGMA)
    bg = background.astype(np.float32)
    towards = np.asarray(colour, np.float32) - bg
    out = np.empty((frames, size, size, 3), np.uint8)
    # Frame by frame with small buffers: whole-clip float arrays cost more in page faults than in maths.
    noisy = np.empty((size, size, 3), np.float32)
    for i in range(frames):
        rng.standard_normal(noisy.shape, dtype=np.float32, out=noisy)
        noisy *= np.float32(sigma)
        noisy += bg
        noisy += shape_coverage(shape, centers[i], radii[i], angles[i], size)[..., None] * towards
        np.rint(noisy, out=noisy)
        np.clip(noisy, 0, 255, out=noisy)
        out[i] = noisy
    return Clip(out, background, centers, radii, angles, label, shape, colour)


def clip_seed(seed, split, label, index):
    """Return the integer seed of clip `index` of class `label` in `split`, independent across all four."""
    ss = np.random.SeedSequence([int(seed), SPLITS.index(split), int(label), int(index)])
    return int(ss.generate_state(1, np.uint64)[0])


def clip_name(label, index, classes=CLASS_NAMES):
    """Return the clip's file stem, e.g. 'move_left_0007'."""
    return f"{classes[label]}_{index:04d}"


def clip_by_name(name, split, seed=0, frames=16, size=80):
    """The Clip that generate(seed, frames=frames, size=size) wrote as ``<split>/<name>``
    (name as clip_name gives it, e.g. 'move_left_0007'); ValueError for another name."""
    cls, _, index = name.rpartition("_")
    if cls not in CLASS_NAMES or not index.isdigit():
        raise ValueError(f"{name!r} is not a demo clip name (<class>_<index>)")
    label = CLASS_NAMES.index(cls)
    return make_clip(label, clip_seed(seed, split, label, int(index)), frames, size)


def clip_coverage(clip):
    """float32 [T, S, S] in [0, 1]: how much of each pixel the shape covers in every frame of
    ``clip``, drawn from its parameters (centers, radii, angles), not found in its pixels."""
    size = clip.frames.shape[1]
    return np.stack([shape_coverage(clip.shape, c, r, a, size)
                     for c, r, a in zip(clip.centers, clip.radii, clip.angles)])


def write_video(path, frames):
    """Write uint8 RGB [T, H, W, 3] frames to an MJPG .avi at `path`; raise OSError if it cannot."""
    height, width = frames.shape[1:3]
    # OpenCV's own MJPEG muxer: honours the quality setting and writes identical bytes every run.
    writer = cv2.VideoWriter(path, cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"),
                             VIDEO_FPS, (width, height))
    if not writer.isOpened():
        raise OSError(f"{path}: cannot open an MJPG video writer")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY)
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()


def write_frames(folder, frames):
    """Write uint8 RGB [T, H, W, 3] frames as folder/img_00001.jpg ... (JPEG quality 95)."""
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames):
        path = os.path.join(folder, FRAME_TEMPLATE.format(i + 1))
        if not cv2.imwrite(path, frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"{path}: cannot write JPEG")


def _short_decord_error(err):
    """Return decord's message without its '[time] source.cc:line:' prefix."""
    text = str(err).strip().splitlines()[0]
    return text.split("Check failed: ")[-1] if "Check failed: " in text else text[-100:]


def check_video(path, frames, size):
    """Decode `path` with decord -> uint8 RGB [frames, size, size, 3]; raise OSError if it reads otherwise."""
    import decord  # imported lazily: only needed for the read-back check
    try:
        reader = decord.VideoReader(path, num_threads=1)  # the pool already uses every core
        count = len(reader)
        decoded = reader.get_batch(list(range(count))).asnumpy() if count else np.zeros((0,), np.uint8)
    except decord.DECORDError as e:
        # Seen with decord 0.6.0 on square MJPG videos of 16, 24, 48 and 72 px (frame copy size mismatch).
        raise OSError(f"{path}: decord cannot decode this {size}x{size} video "
                      f"({_short_decord_error(e)}); choose another --size, e.g. 56, 64 or 80") from None
    if count != frames or decoded.shape != (frames, size, size, 3):
        raise OSError(f"{path}: decord reads {decoded.shape}, expected {(frames, size, size, 3)}")
    return decoded


def _write_one(job):
    """Generate and write one clip; job = (out, split, label, index, seed, frames, size). Returns the name."""
    out, split, label, index, seed, frames, size = job
    cv2.setNumThreads(1)
    clip = make_clip(label, clip_seed(seed, split, label, index), frames, size)
    name = clip_name(label, index)
    video = os.path.join(out, "videos", split, name + ".avi")
    write_video(video, clip.frames)
    # Frame files are re-encoded from the decoded video, not from the raw arrays: frames vs video then
    # differ by ~1.8 grey levels (mean abs, 80 px), the same as two decoders of one JPEG bitstream,
    # against ~2.3 when both are encoded from the raw arrays; the extra loss against raw is ~0.15.
    write_frames(os.path.join(out, "frames", split, name), check_video(video, frames, size))
    return name


def generation_params(seed, per_split, frames, size):
    """Return the dict recorded in the completion marker (what makes two outputs identical)."""
    return {"seed": int(seed), "per_class": {s: int(per_split[s]) for s in SPLITS},
            "frames": int(frames), "size": int(size), "classes": list(CLASS_NAMES),
            "shapes": list(PAIR_SHAPES), "colours": [list(c) for c in PAIR_COLOURS], "format": 2}


def _read_json(path):
    """The JSON value stored at ``path``, or None when it is missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path, value):
    """Write ``value`` to ``path`` through a temporary file, so the file is whole or absent."""
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def read_marker(out):
    """Return the parameters stored in out's completion marker, or None if there is none."""
    return _read_json(os.path.join(out, MARKER_NAME))  # a broken marker means an incomplete output


def generated_paths(params):
    """(files, folders) relative to out that a generation with marker dict ``params`` writes,
    markers excluded; both empty when ``params`` lacks what they are derived from."""
    try:
        classes = list(params.get("classes", CLASS_NAMES))
        per_class = {s: int(params["per_class"][s]) for s in SPLITS}
        frames = int(params["frames"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return set(), set()
    files = {"label_map.txt", "flip_label_map.txt"}
    folders = {"videos", "frames"}
    for split in SPLITS:
        files |= {f"{split}_frames.list", f"{split}_videos.list"}
        folders |= {f"videos/{split}", f"frames/{split}"}
        for label in range(len(classes)):
            for index in range(per_class[split]):
                name = clip_name(label, index, classes)
                files.add(f"videos/{split}/{name}.avi")
                folders.add(f"frames/{split}/{name}")
                files |= {f"frames/{split}/{name}/{FRAME_TEMPLATE.format(k)}" for k in range(1, frames + 1)}
    return files, folders


def remove_outputs(out, generations):
    """Delete the files that the generations (marker dicts) wrote under out, and the folders they
    made once empty; nothing else (out may hold other files)."""
    files, folders = set(), set()
    for params in generations:
        more_files, more_folders = generated_paths(params)
        files |= more_files
        folders |= more_folders
    for rel in files:
        path = os.path.join(out, rel)
        if os.path.isfile(path) and not os.path.islink(path):
            os.remove(path)
    for rel in sorted(folders, key=lambda r: r.count("/"), reverse=True):
        try:
            os.rmdir(os.path.join(out, rel))  # only succeeds when empty
        except OSError:
            pass


def _describe_contents(out, limit=5):
    names = sorted(n + "/" if os.path.isdir(os.path.join(out, n)) else n for n in os.listdir(out))
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def claim(out, params, force=False):
    """Make ``out`` ready for a generation with ``params``: ToolError for a non-empty folder that no
    marker shows to be the generator's (unless ``force``); else record the generation in the
    partial marker first, then remove the complete marker and earlier generations' files."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ToolError(f"{out}: exists and is not a folder")
    partial_path, marker_path = os.path.join(out, PARTIAL_NAME), os.path.join(out, MARKER_NAME)
    earlier = []
    if os.path.exists(partial_path) or os.path.exists(marker_path):
        recorded = _read_json(partial_path)
        earlier = recorded.get("generations") if isinstance(recorded, dict) else None
        earlier = (earlier if isinstance(earlier, list) else []) + [read_marker(out)]
    elif os.path.isdir(out) and os.listdir(out) and not force:
        raise ToolError(f"{out}: not made by make_demo_data.py (no {MARKER_NAME}) and not empty (holds "
                        f"{_describe_contents(out)}); pass --force to write the demo data into it "
                        "(only the demo's own files are written; nothing else there is touched)")
    earlier = [g for i, g in enumerate(earlier) if isinstance(g, dict) and g not in earlier[:i]]
    os.makedirs(out, exist_ok=True)
    # every generation whose files may be present, so an interrupted run is cleaned up next time
    _write_json(partial_path, {"generations": earlier + [g for g in [params] if g not in earlier]})
    if os.path.exists(marker_path):
        os.remove(marker_path)
    remove_outputs(out, earlier)


def _write_text(path, lines):
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))


def generate(out, seed=0, per_split=None, frames=16, size=80, workers=None, force=False):
    """Write the whole demo set under `out` (see module docstring) and return the marker dict.

    per_split: {'train': n, 'val': n, 'test': n} clips per class; workers: processes (default: CPUs);
    force: write into a non-empty folder that is not the generator's (see `claim`).
    """
    per_split = per_split or {"train": 100, "val": 20, "test": 20}
    for split in SPLITS:
        if per_split[split] < 0:
            raise ValueError(f"clips per class for {split} must be >= 0, got {per_split[split]}")
    start = time.time()
    params = generation_params(seed, per_split, frames, size)
    claim(out, params, force)
    for split in SPLITS:
        os.makedirs(os.path.join(out, "videos", split), exist_ok=True)
        os.makedirs(os.path.join(out, "frames", split), exist_ok=True)
    jobs = [(out, split, label, i, seed, frames, size)
            for split in SPLITS for label in range(len(CLASS_NAMES)) for i in range(per_split[split])]
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            list(pool.imap_unordered(_write_one, jobs, chunksize=8))
    else:
        for job in jobs:
            _write_one(job)
    # Lists are written in a fixed order (split, class, index) so they are byte-identical across runs.
    for split in SPLITS:
        entries = [(label, clip_name(label, i)) for label in range(len(CLASS_NAMES))
                   for i in range(per_split[split])]
        _write_text(os.path.join(out, f"{split}_frames.list"),
                    [f"frames/{split}/{name} {frames} {label}" for label, name in entries])
        _write_text(os.path.join(out, f"{split}_videos.list"),
                    [f"videos/{split}/{name}.avi {label}" for label, name in entries])
    _write_text(os.path.join(out, "label_map.txt"), [f"{i} {n}" for i, n in enumerate(CLASS_NAMES)])
    _write_text(os.path.join(out, "flip_label_map.txt"), [f"{i} {j}" for i, j in enumerate(FLIP_LABEL_MAP)])
    _write_json(os.path.join(out, MARKER_NAME), params)
    os.remove(os.path.join(out, PARTIAL_NAME))
    params = dict(params)
    params["seconds"] = time.time() - start  # reported, not stored: the marker must not vary between runs
    return params
