"""Demo data generator: file layout, decodability, motion semantics from pixels, pairing, flips, determinism."""
import hashlib
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddlevideo_tsm import demo_data as dd

ROOT = Path(__file__).resolve().parents[1]
FRAMES, SIZE, PER = 8, 56, 2  # 48 px videos trip a decord bug (see check_video)
PER_SPLIT = {"train": PER, "val": PER, "test": PER}
N_CLASSES = len(dd.CLASS_NAMES)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    dd.generate(str(out), seed=3, per_split=PER_SPLIT, frames=FRAMES, size=SIZE, workers=2)
    return out


def _tree_digest(folder):
    """Map each file's relative path -> md5 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _read_frames(folder, count):
    return np.stack([cv2.imread(str(Path(folder) / f"img_{i:05d}.jpg"))[..., ::-1] for i in range(1, count + 1)])


def _read_video(path):
    import decord
    vr = decord.VideoReader(str(path))
    return vr.get_batch(list(range(len(vr)))).asnumpy()


def _measure(frames, background, colour):
    """Per frame, from pixels: centroid (x, y), area px, principal-axis angle (deg, clockwise-positive)
    and elongation (0 for isotropic second moments: circle, square, equilateral triangle).

    Each pixel's shape coverage is its projection from the known background onto the shape colour
    (anti-aliasing and JPEG blur move coverage around but keep its sum); only the largest region
    above half coverage, grown by 2 px, counts, so far-off noise does not.
    """
    bg = background.astype(np.float32)
    toward = np.asarray(colour, np.float32) - bg
    norm = (toward ** 2).sum(-1)
    cents, areas, angles, elong = [], [], [], []
    for frame in frames:
        cover = ((frame.astype(np.float32) - bg) * toward).sum(-1) / norm
        n, lab, stats, _ = cv2.connectedComponentsWithStats((cover > 0.5).astype(np.uint8), connectivity=8)
        assert n > 1, "no shape found in a frame"
        core = (lab == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])).astype(np.uint8)
        region = cv2.dilate(core, np.ones((5, 5), np.uint8)).astype(bool)
        m = cv2.moments(np.where(region, np.clip(cover, 0, 1), 0).astype(np.float32))
        cents.append((m["m10"] / m["m00"], m["m01"] / m["m00"]))
        areas.append(m["m00"])
        # y points down, so a growing atan2 angle is a clockwise turn on screen.
        angles.append(0.5 * math.degrees(math.atan2(2 * m["mu11"], m["mu20"] - m["mu02"])))
        # 0 for shapes whose second moments are isotropic (circle, square, equilateral triangle)
        elong.append(math.hypot(m["mu20"] - m["mu02"], 2 * m["mu11"]) / (m["mu20"] + m["mu02"]))
    return np.array(cents), np.array(areas), np.array(angles), np.array(elong)


def _blur(frames):
    """5x5 box blur of each frame of [T, H, W, 3] -> float32, to compare content rather than pixel noise."""
    return np.stack([cv2.blur(f, (5, 5)) for f in frames.astype(np.float32)])


def _total_turn(axis_angles):
    """Sum of frame-to-frame axis angle changes, each wrapped to (-90, 90] (axes repeat every 180 deg)."""
    d = np.diff(axis_angles)
    return float(np.sum((d + 90) % 180 - 90))


def _classify(frames, background, colour):
    """Name the motion seen in pixels: a label index, or -1 if nothing clear happens."""
    cents, areas, angles, elong = _measure(frames, background, colour)
    size = frames.shape[1]
    if np.median(elong) > 0.3:  # an elongated shape: its axis angle is defined
        turn = _total_turn(angles)
        if abs(turn) > 60:
            return dd.CLASS_NAMES.index("rotate_clockwise" if turn > 0 else "rotate_anticlockwise")
        return -1
    ratio = areas[-1] / areas[0]
    if ratio > 2.0:
        return dd.CLASS_NAMES.index("grow")
    if ratio < 0.5:
        return dd.CLASS_NAMES.index("shrink")
    dx, dy = cents[-1] - cents[0]
    if max(abs(dx), abs(dy)) > 0.2 * size:
        if abs(dx) > abs(dy):
            return dd.CLASS_NAMES.index("move_right" if dx > 0 else "move_left")
        return dd.CLASS_NAMES.index("move_down" if dy > 0 else "move_up")
    return -1


def _polygon_centroid_area(pts):
    """Shoelace formula: (centroid (x, y), area) of a simple polygon [N, 2]."""
    x, y = pts[:, 0], pts[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    return np.array([((x + xn) * cross).sum(), ((y + yn) * cross).sum()]) / (6 * area), abs(area)


def _disk_clips(demo, split):
    """Yield (label, name, clip regenerated from its seed, frames decoded from disk) for one split."""
    for label in range(N_CLASSES):
        for i in range(PER):
            name = dd.clip_name(label, i)
            clip = dd.make_clip(label, dd.clip_seed(3, split, label, i), FRAMES, SIZE)
            yield label, name, clip, _read_frames(demo / "frames" / split / name, FRAMES)


def test_lists_and_maps_have_exact_formats(demo):
    for split in dd.SPLITS:
        expected = [(label, dd.clip_name(label, i)) for label in range(N_CLASSES) for i in range(PER)]
        frame_lines = (demo / f"{split}_frames.list").read_text().splitlines()
        video_lines = (demo / f"{split}_videos.list").read_text().splitlines()
        assert frame_lines == [f"frames/{split}/{n} {FRAMES} {lab}" for lab, n in expected]
        assert video_lines == [f"videos/{split}/{n}.avi {lab}" for lab, n in expected]
        for line in frame_lines:
            path, count, label = re.fullmatch(r"(frames/\w+/[a-z_]+_\d{4}) (\d+) (\d+)", line).groups()
            assert path.split("/")[-1].startswith(dd.CLASS_NAMES[int(label)] + "_")
            assert (demo / path).is_dir()
        for line in video_lines:
            path, label = re.fullmatch(r"(videos/\w+/[a-z_]+_\d{4}\.avi) (\d+)", line).groups()
            assert (demo / path).is_file()
    assert (demo / "label_map.txt").read_text() == "".join(f"{i} {n}\n" for i, n in enumerate(dd.CLASS_NAMES))
    # Reference flip map from the names: mirroring swaps left<->right and clockwise<->anticlockwise.
    swap = {"left": "right", "right": "left", "clockwise": "anticlockwise", "anticlockwise": "clockwise"}
    by_name = [dd.CLASS_NAMES.index("_".join(swap.get(w, w) for w in n.split("_"))) for n in dd.CLASS_NAMES]
    assert dd.FLIP_LABEL_MAP == by_name
    assert (demo / "flip_label_map.txt").read_text() == "".join(f"{i} {j}\n" for i, j in enumerate(by_name))
    assert [dd.FLIP_LABEL_MAP[j] for j in dd.FLIP_LABEL_MAP] == list(range(N_CLASSES))


def test_lists_load_with_project_datasets(demo):
    datasets = pytest.importorskip("paddlevideo_tsm.loader.datasets")
    decode = pytest.importorskip("paddlevideo_tsm.loader.pipelines.decode")

    def read_all(decoder):
        """Pipeline: the project's decoder, then every frame of the clip -> imgs uint8 [T, H, W, 3]."""
        def run(results):
            results = decoder(results)
            results["imgs"] = np.stack(decode.read_frames(results, list(range(results["frames_len"]))))
            return results
        return run

    label_map = str(demo / "label_map.txt")
    assert datasets.read_label_map(label_map) == dd.CLASS_NAMES
    for split in dd.SPLITS:
        frames = datasets.FrameDataset(str(demo / f"{split}_frames.list"), read_all(decode.FrameDecoder()),
                                       data_prefix=str(demo), label_map=label_map)
        videos = datasets.VideoDataset(str(demo / f"{split}_videos.list"), read_all(decode.VideoDecoder()),
                                       data_prefix=str(demo), label_map=label_map)
        assert len(frames) == len(videos) == N_CLASSES * PER
        for k in range(len(frames)):
            label, index = divmod(k, PER)
            f_imgs, f_label = frames[k]
            v_imgs, v_label = videos[k]
            assert int(f_label[0]) == int(v_label[0]) == label
            assert frames.entries[k].path == str(demo / "frames" / split / dd.clip_name(label, index))
            assert f_imgs.shape == v_imgs.shape == (FRAMES, SIZE, SIZE, 3)
            assert np.abs(_blur(f_imgs) - _blur(v_imgs)).mean() < 1.0  # see the decode test below


def test_frame_folders_and_videos_hold_the_listed_frame_count(demo):
    import decord
    for split in dd.SPLITS:
        for line in (demo / f"{split}_frames.list").read_text().splitlines():
            path, count, _ = line.split()
            files = sorted(os.listdir(demo / path))
            assert files == [f"img_{i:05d}.jpg" for i in range(1, int(count) + 1)]
        for line in (demo / f"{split}_videos.list").read_text().splitlines():
            assert len(decord.VideoReader(str(demo / line.split()[0]))) == FRAMES


def test_frames_and_video_decode_to_the_same_content(demo):
    # Frame files are JPEG q95 re-encodings of the decoded video; decoders and the re-encoding differ
    # in pixel noise (mean abs 1.3-3.1 grey levels seen at 56 px), not in content: after a 5x5 box blur
    # frames and video agree within 1.0 (0.45-0.73 seen), far below a one-frame time shift.
    for label, name, clip, frames in _disk_clips(demo, "test"):
        video = _read_video(demo / "videos" / "test" / f"{name}.avi")
        assert video.shape == frames.shape == clip.frames.shape
        assert np.abs(video.astype(np.float64) - frames).mean() < 3.5, name
        same = np.abs(_blur(video) - _blur(frames)).mean()
        assert same < 1.0, name
        assert np.abs(_blur(clip.frames) - _blur(frames)).mean() < 1.5, name
        shifted = np.abs(_blur(video[1:]) - _blur(frames[:-1])).mean()
        assert shifted > 1.5 * same, name


def test_labels_match_motion_measured_from_pixels(demo):
    for split in dd.SPLITS:
        for label, name, clip, frames in _disk_clips(demo, split):
            assert _classify(frames, clip.background, clip.colour) == label, f"{split}/{name}"
            cents, areas, angles, _ = _measure(frames, clip.background, clip.colour)
            ref = [_polygon_centroid_area(dd.shape_outline(clip.shape, c, r, a))
                   for c, r, a in zip(clip.centers, clip.radii, clip.angles)]
            ref_cents = np.array([c for c, _ in ref])
            ref_areas = np.array([a for _, a in ref])
            # Pixels agree with the generator's ground truth (seen: centroid <= 0.18 px, area within
            # 10% + 3.6 px^2, turn within 2 deg; JPEG and per-frame noise account for the rest).
            assert np.abs(cents - ref_cents).max() < 0.5, f"{split}/{name}"
            assert np.all(np.abs(areas - ref_areas) < 0.1 * ref_areas + 8), f"{split}/{name}"
            # a single frame names the pair: its shape and hue
            assert clip.shape == dd.PAIR_SHAPES[label // 2], f"{split}/{name}"
            assert np.abs(np.subtract(clip.colour, dd.PAIR_COLOURS[label // 2])).max() <= 20, f"{split}/{name}"
            # ... as drawn: the pixels far from the background are nearest to the pair's hue
            far = np.abs(frames.astype(np.float64) - clip.background).sum(-1) > 90
            drawn = frames[far].astype(np.float64).mean(0)
            nearest = np.argmin(np.abs(np.asarray(dd.PAIR_COLOURS) - drawn).sum(1))
            assert nearest == label // 2, f"{split}/{name}: {drawn}"
            if clip.shape == "hand":
                gt_turn = clip.angles[-1] - clip.angles[0]
                assert abs(_total_turn(angles) - gt_turn) < 5, f"{split}/{name}"


@pytest.mark.parametrize("seed", [0, 11, 12345])
def test_odd_class_is_even_partner_reversed_in_time(seed):
    for even in range(0, N_CLASSES, 2):
        a = dd.make_clip(even, seed, FRAMES, SIZE)
        b = dd.make_clip(even + 1, seed, FRAMES, SIZE)
        assert np.array_equal(b.frames, a.frames[::-1])
        assert np.array_equal(b.centers, a.centers[::-1]) and np.array_equal(b.radii, a.radii[::-1])
        assert np.array_equal(b.angles, a.angles[::-1]) and np.array_equal(b.background, a.background)
        assert not np.array_equal(a.frames, dd.make_clip(even, seed + 1, FRAMES, SIZE).frames)


def test_horizontal_flip_gives_the_flip_map_label(demo):
    for label, name, clip, frames in _disk_clips(demo, "val"):
        flipped = _classify(frames[:, :, ::-1], clip.background[:, ::-1], clip.colour)
        assert flipped == dd.FLIP_LABEL_MAP[label], name
    right = dd.CLASS_NAMES.index("move_right")
    clip = dd.make_clip(right, 5, FRAMES, SIZE)
    cents = _measure(clip.frames[:, :, ::-1], clip.background[:, ::-1], clip.colour)[0]
    assert cents[-1, 0] - cents[0, 0] < -0.2 * SIZE
    assert dd.CLASS_NAMES[dd.FLIP_LABEL_MAP[right]] == "move_left"


def test_same_seed_gives_identical_bytes_and_other_seed_differs(demo, tmp_path):
    again = tmp_path / "again"
    dd.generate(str(again), seed=3, per_split=PER_SPLIT, frames=FRAMES, size=SIZE, workers=1)
    first = _tree_digest(demo)
    assert len(first) == 3 * N_CLASSES * PER * (FRAMES + 1) + 6 + 2 + 1
    assert _tree_digest(again) == first
    other = tmp_path / "other"
    dd.generate(str(other), seed=4, per_split={"train": 1, "val": 0, "test": 0}, frames=FRAMES, size=SIZE,
                workers=1)
    name = dd.clip_name(0, 0)
    assert (other / "videos/train" / f"{name}.avi").read_bytes() != (demo / "videos/train" / f"{name}.avi").read_bytes()


def _cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "make_demo_data.py"), *args],
                          capture_output=True, text=True, cwd=ROOT)


def test_cli_is_idempotent_and_refuses_other_parameters_without_force(tmp_path):
    out = tmp_path / "d"
    small = ["--out", str(out), "--train_per_class", "1", "--val_per_class", "1", "--test_per_class", "0",
             "--frames", "4", "--size", "32", "--workers", "1"]
    first = _cli(*small)
    assert first.returncode == 0, first.stderr
    digest = _tree_digest(out)
    marker = out / dd.MARKER_NAME
    stamp = marker.stat().st_mtime_ns
    again = _cli(*small)
    assert again.returncode == 0 and "already complete" in again.stdout
    assert marker.stat().st_mtime_ns == stamp and _tree_digest(out) == digest

    other = _cli(*small, "--seed", "1")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1 and "--force" in other.stderr and str(marker) in other.stderr
    forced = _cli(*small, "--seed", "1", "--force")
    assert forced.returncode == 0, forced.stderr
    assert dd.read_marker(str(out))["seed"] == 1 and _tree_digest(out) != digest



SMALL = dict(seed=1, per_split={"train": 1, "val": 1, "test": 0}, frames=4, size=32)
SMALL_ARGS = ["--seed", "1", "--train_per_class", "1", "--val_per_class", "1", "--test_per_class", "0",
              "--frames", "4", "--size", "32", "--workers", "1"]


def test_generated_paths_are_exactly_what_generate_writes(tmp_path):
    params = dd.generate(str(tmp_path), workers=1, **SMALL)
    files, folders = dd.generated_paths(params)
    on_disk = set(_tree_digest(tmp_path))
    assert files == on_disk - {dd.MARKER_NAME}
    assert folders == {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_dir()}


def _user_files(out):
    """Files of a user's own in ``out``, some in folders the generator also writes into."""
    mine = {"notes.txt": b"my notes", "videos/holiday.avi": b"not a demo video",
            "videos/train/my_clip.avi": b"mine too", "frames/mine/img_00001.jpg": b"my frame",
            f"frames/train/{dd.clip_name(0, 0)}/extra.txt": b"inside a clip folder"}
    for rel, data in mine.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    return _tree_digest(out)


def test_cli_refuses_a_folder_it_did_not_make_and_never_deletes_user_files(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    mine = _user_files(out)
    refused = _cli("--out", str(out), *SMALL_ARGS)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (f"error: {out}: not made by make_demo_data.py (no {dd.MARKER_NAME}) and not empty "
                              "(holds frames/, notes.txt, videos/); pass --force to write the demo data into it "
                              "(only the demo's own files are written; nothing else there is touched)\n")
    assert _tree_digest(out) == mine

    forced = _cli("--out", str(out), *SMALL_ARGS, "--force")
    assert forced.returncode == 0, forced.stderr
    after = _tree_digest(out)
    assert {k: after[k] for k in mine} == mine and dd.read_marker(str(out))["seed"] == 1
    # regenerating with other parameters removes the earlier demo files, and only those
    again = _cli("--out", str(out), *SMALL_ARGS, "--train_per_class", "2", "--val_per_class", "0",
                 "--seed", "2", "--force")
    assert again.returncode == 0, again.stderr
    after = _tree_digest(out)
    assert {k: after[k] for k in mine} == mine
    assert not any((out / "videos/val").iterdir()) and (out / f"videos/train/{dd.clip_name(0, 1)}.avi").is_file()
    assert set(after) - set(mine) == dd.generated_paths(dd.read_marker(str(out)))[0] | {dd.MARKER_NAME}


def test_interrupted_run_is_finished_without_force_and_keeps_user_files(tmp_path, monkeypatch):
    out = tmp_path / "d"
    out.mkdir()
    mine = _user_files(out)
    calls = []

    def dies_on_the_third_clip(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job)
    real = dd._write_one
    monkeypatch.setattr(dd, "_write_one", dies_on_the_third_clip)
    with pytest.raises(KeyboardInterrupt):
        dd.generate(str(out), workers=1, force=True, **SMALL)
    assert (out / dd.PARTIAL_NAME).is_file() and not (out / dd.MARKER_NAME).exists()
    rebuilt = _cli("--out", str(out), *SMALL_ARGS)  # the partial marker shows the folder is the generator's
    assert rebuilt.returncode == 0 and "wrote 16 clips" in rebuilt.stdout, rebuilt.stderr
    after = _tree_digest(out)
    assert {k: after[k] for k in mine} == mine and not (out / dd.PARTIAL_NAME).exists()
    # with both markers gone the folder is no longer known to be the generator's
    (out / dd.MARKER_NAME).unlink()
    refused = _cli("--out", str(out), *SMALL_ARGS)
    assert refused.returncode == 2 and "--force" in refused.stderr and _tree_digest(out) == {
        k: v for k, v in after.items() if k != dd.MARKER_NAME}


def test_cli_rejects_bad_arguments_in_one_line(tmp_path):
    bad = _cli("--out", str(tmp_path / "x"), "--frames", "1", "--size", "8")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0
    assert "--frames must be >= 2, got 1" in bad.stderr and "--size must be >= 16, got 8" in bad.stderr
    assert not (tmp_path / "x").exists()
