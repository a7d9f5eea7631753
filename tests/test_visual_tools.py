"""The visual outputs of the command lines: tools/visualize_cam.py, predict --save_video, main.py reports."""
import csv
import json
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from _deploy_helpers import save_random_weights
from _tiny_training import make_demo, run_main, tiny_config, write_config
from paddlevideo_tsm.demo_data import CLASS_NAMES as DEMO_CLASSES
from paddlevideo_tsm.visual import cam_cli
from paddlevideo_tsm.visual.curves import read_rows
from paddlevideo_tsm.visual.heatmap import peaks
from paddlevideo_tsm.visual.video_io import input_frames
from test_visual_annotate import closest_label, read_video

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny demo set (8 frames of 40 px, 4 sampled, 32 px crops), its config and random weights."""
    root = tmp_path_factory.mktemp("visual")
    demo = make_demo(root / "demo", train=1, val=1, test=1)
    cfg = tiny_config(demo)
    cfg["DATASET"]["test"]["label_map"] = str(demo / "label_map.txt")
    config = write_config(root / "tiny.yaml", cfg)
    weights = save_random_weights(root / "w.pdparams", cfg)
    return {"root": root, "demo": demo, "cfg": cfg, "config": config, "weights": weights}


def run_cam(capsys, *args):
    capsys.readouterr()
    code = cam_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("extra", [[], ["--layer", "res3b", "--target_class", "5"],
                                   ["--override", "MODEL.backbone.shift_mode=online"]])
def test_visualize_cam_writes_a_grid_and_a_video(tiny, capsys, extra):
    out = tiny["root"] / f"cam{len(extra)}" / "clip.png"
    clip = tiny["demo"] / "frames" / "test" / "move_up_0000"
    code, stdout, err = run_cam(capsys, "-c", tiny["config"], "-w", tiny["weights"], "-i", clip, "-o", out, *extra)
    assert code == 0, err
    layer = "backbone.res3b" if extra[:1] == ["--layer"] else "backbone.res5b"
    assert f", layer {layer}" in stdout and f"wrote {out}" in stdout
    if "--target_class" in extra:
        assert stdout.startswith("class 5 shrink: p=")
    image = cv2.imread(str(out))
    # 4 tiles of 32 px crops shown at 5x (160 px), 4 px apart, below a two-line header
    assert image.shape[1] == 4 * 164 + 4 and image.shape[0] > 164
    cap = cv2.VideoCapture(str(out.with_suffix(".mp4")))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4 and cap.get(cv2.CAP_PROP_FPS) == 4.0
    cap.release()


def test_visualize_cam_errors_are_one_line(tiny, capsys):
    clip = tiny["demo"] / "frames" / "test" / "move_up_0000"
    base = ["-c", tiny["config"], "-w", tiny["weights"], "-i", clip]
    cases = [(["-o", tiny["root"] / "x.jpg"], f"error: -o {tiny['root'] / 'x.jpg'}: give the grid image's path, ending in .png"),
             (["-o", tiny["root"] / "x.png", "--layer", "res9"], "error: --layer res9: the model has no such sublayer;"),
             (["-o", tiny["root"] / "x.png", "--target_class", "8"], "error: --target_class 8: the model has classes 0..7"),
             (["-c", tiny["config"], "-w", tiny["weights"], "-i", tiny["root"] / "none", "-o", tiny["root"] / "x.png"],
              f"error: {tiny['root'] / 'none'}: input file not found")]
    for args, message in cases:
        code, _, err = run_cam(capsys, *(args if args[0] == "-c" else base + args))
        assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert not (tiny["root"] / "x.png").exists()


VALID_RE = re.compile(r"\[VALID\] epoch:(\d+) loss: ([\d.]+) top1: ([\d.]+)")
ITER_LR_RE = re.compile(r"epoch:\[\s*(\d+)/\d+\] train iter:\d+/\d+ .* lr: ([\d.e-]+) ")
END_RE = re.compile(r"END epoch:(\d+) train loss_avg: ([\d.]+) top1_avg: ([\d.]+)")
TEST_RE = re.compile(r"\[TEST\] top1: ([\d.]+) top5: [\d.]+ mean_class_acc: ([\d.]+) \((\d+) videos")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_training_curves_and_the_test_after_train_report(tiny):
    cfg = tiny_config(tiny["demo"], epochs=2, test_after_train=True)
    cfg["DATASET"]["test"]["label_map"] = str(tiny["demo"] / "label_map.txt")
    out = tiny["root"] / "train_out"
    proc = run_main("-c", write_config(tiny["root"] / "train.yaml", cfg), "--validate", "--output", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_rows(str(out / "training_curves.csv"))
    ends = [tuple(map(float, m.groups())) for m in END_RE.finditer(proc.stdout)]
    vals = [tuple(map(float, m.groups())) for m in VALID_RE.finditer(proc.stdout)]
    assert [r["epoch"] for r in rows] == [1.0, 2.0] and len(ends) == len(vals) == 2
    for r, end, val in zip(rows, ends, vals):
        assert (r["train_loss"], r["train_top1"]) == pytest.approx(end[1:], abs=1e-5)
        assert (r["val_loss"], r["val_top1"]) == pytest.approx(val[1:], abs=1e-5)
    last_lr = {int(m.group(1)): float(m.group(2)) for m in ITER_LR_RE.finditer(proc.stdout)}
    assert [r["lr"] for r in rows] == pytest.approx([last_lr[1], last_lr[2]]) == [0.05, 0.005]  # each epoch's last
    assert cv2.imread(str(out / "training_curves.png")) is not None
    assert f"training curves: {out / 'training_curves.png'}" in proc.stdout
    top1, mean_acc, count = TEST_RE.search(proc.stdout).groups()
    per_class = read_csv(out / "test_per_class_accuracy.csv")
    assert per_class[-1][1:3] == ["mean_class_accuracy", count]
    assert float(per_class[-1][4]) == pytest.approx(float(mean_acc), abs=1e-4)
    assert [row[1] for row in per_class[1:-1]] == DEMO_CLASSES
    assert f"in {out}" in proc.stdout.split("test report: ")[1].splitlines()[0]


def test_test_report_equals_the_saved_results(tiny, tmp_path):
    """main.py --test --save_results: the confusion matrix counts the saved per-video results and
    the mean class accuracy is the mean of the per-class accuracies computed from them."""
    results, report = tmp_path / "scores.jsonl", tmp_path / "report"
    proc = run_main("-c", tiny["config"], "--test", "-w", tiny["weights"], "--save_results", results,
                    "--output", report)
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(saved) == 8
    counts = {}
    for r in saved:
        pred = max(range(len(r["scores"])), key=lambda j: (r["scores"][j], -j))
        counts[(r["label"], pred)] = counts.get((r["label"], pred), 0) + 1
    matrix = read_csv(report / "test_confusion_matrix.csv")
    assert matrix[0][1:] == DEMO_CLASSES
    assert {(i, j): int(v) for i, row in enumerate(matrix[1:]) for j, v in enumerate(row[1:]) if int(v)} == counts
    per_class = {}
    for r in saved:
        per_class.setdefault(r["label"], []).append(counts.get((r["label"], r["label"]), 0))
    accs = [counts.get((c, c), 0) / sum(1 for r in saved if r["label"] == c) for c in sorted(per_class)]
    rows = read_csv(report / "test_per_class_accuracy.csv")
    assert float(rows[-1][4]) == pytest.approx(sum(accs) / len(accs), abs=1e-6)
    assert float(TEST_RE.search(proc.stdout).group(2)) == pytest.approx(sum(accs) / len(accs), abs=1e-4)
    assert (report / "test_confusion_matrix.png").is_file() and (report / "test_top_confusions.txt").is_file()
    # without --output the report goes next to the weights
    assert not (tiny["root"] / "test_confusion_matrix.csv").exists()
    proc = run_main("-c", tiny["config"], "--test", "-w", tiny["weights"])
    assert proc.returncode == 0 and (tiny["root"] / "test_confusion_matrix.csv").is_file()


@pytest.fixture(scope="module")
def exported(tiny):
    from paddlevideo_tsm.inference import export_cli
    out = tiny["root"] / "export"
    assert export_cli.main(["-c", tiny["config"], "-p", tiny["weights"], "-o", str(out)]) == 0
    return out / "tiny_tsm.pdmodel"


def test_predict_save_video(tiny, exported, capsys):
    """One annotated video per input: the input's frame count, size and rate, its top-2 drawn;
    a name met twice (the frame folder and the video of one clip) gets _2."""
    from paddlevideo_tsm.inference import predict_cli
    from paddlevideo_tsm.visual.annotate import label_text
    folder = tiny["demo"] / "frames" / "test" / "move_up_0000"
    video = tiny["demo"] / "videos" / "test" / "move_up_0000.avi"
    inputs = tiny["root"] / "inputs.txt"
    inputs.write_text(f"{folder}\n{video}\n")
    jsonl, out = tiny["root"] / "pred.jsonl", tiny["root"] / "videos"
    capsys.readouterr()
    code = predict_cli.main(["-i", str(inputs), "-c", tiny["config"], "--model_file", str(exported), "--top_k", "2",
                             "--label_map", str(tiny["demo"] / "label_map.txt"), "--output", str(jsonl),
                             "--save_video", str(out), "--cpu_threads", "1"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert f"video: {out / 'move_up_0000.mp4'}" in stdout and f"video: {out / 'move_up_0000_2.mp4'}" in stdout
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    for record, src, kind, name in zip(records, (folder, video), ("frame", "video"), ("move_up_0000", "move_up_0000_2")):
        meta, back = read_video(out / f"{name}.mp4")
        originals = np.stack(list(input_frames(str(src), kind)))
        assert meta == {"frames": 8, "width": 40, "height": 40, "fps": 25.0} and back.shape == originals.shape
        drawn = [label_text(i, n, p) for i, n, p in zip(record["class_ids"], record["class_names"], record["scores"])]
        other = [label_text(i, DEMO_CLASSES[i], p)
                 for i, p in zip([(record["class_ids"][0] + 3) % 8, record["class_ids"][0]], record["scores"])]
        for t in (0, 7):
            best, errors = closest_label(back[t], originals[t], [drawn, other])
            assert best == 0 and errors[1] > 1.5 * errors[0], errors


def test_predict_online_save_video(tiny, tmp_path):
    """The streamed frames with the running top-1 (as printed each frame) and the latency drawn."""
    from paddlevideo_tsm.online import export_online
    meta = export_online(tiny["cfg"], tiny["weights"], str(tmp_path), "online")
    video, out = tiny["demo"] / "videos" / "test" / "grow_0000.avi", tmp_path / "stream.mp4"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "predict_online.py"), "-c", tiny["config"],
                           "--model_file", meta["model_file"], "--params_file", meta["params_file"],
                           "--input_file", str(video), "--interval", "1", "--top_k", "1", "--stride", "2",
                           "--label_map", str(tiny["demo"] / "label_map.txt"), "--save_video", str(out),
                           "--cpu_threads", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"video: {out}" in proc.stdout
    tops = re.findall(r"^frame (\d+): (\d+) (\S+) ([\d.]+)$", proc.stdout, re.M)
    assert [int(t[0]) for t in tops] == [1, 2, 3, 4]
    meta_v, back = read_video(out)
    assert meta_v == {"frames": 4, "width": 40, "height": 40, "fps": 12.5}
    originals = list(input_frames(str(video), "video"))[::2]
    for t in (0, 3):
        _, name, prob = tops[t][1:]
        wrong = DEMO_CLASSES[(DEMO_CLASSES.index(name) + 1) % 8]
        best, errors = closest_label(back[t], originals[t], [[f"{name} {prob}"], [f"{wrong} {prob}"]], rows=1)
        assert best == 0 and errors[1] > 1.5 * errors[0], errors


def _measure_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location("measure_cam_demo", ROOT / "tools" / "measure_cam_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_shape_masks_land_on_the_drawn_shape(tiny):
    """tools/measure_cam_demo.py puts the generator's shape (not the picture) through the test crop:
    the pixels it marks are the shape's colour in the crops the model sees, the others are not; a map
    peaking on the shape scores 1, one peaking in a far corner 0."""
    from paddlevideo_tsm.demo_data import clip_by_name, clip_coverage, read_marker
    from paddlevideo_tsm.inference.preprocess import Preprocessor
    from paddlevideo_tsm.visual.cam import load_clip
    tool = _measure_tool()
    marker = read_marker(str(tiny["demo"]))
    pre = Preprocessor(tiny["cfg"]["PIPELINE"]["test"])
    for name in ("move_left_0000", "grow_0000", "rotate_clockwise_0000"):
        truth = clip_by_name(name, "test", marker["seed"], marker["frames"], marker["size"])
        clip = load_clip(pre, str(tiny["demo"] / "frames" / "test" / name), "frame")
        masks = tool.shape_masks(pre.pipeline("frame"), clip_coverage(truth), clip.frame_idx)
        assert masks.shape == clip.frames.shape[:3] == (4, 32, 32)
        dist = np.abs(clip.frames.astype(float) - np.asarray(truth.colour, float)).mean(axis=-1)
        assert dist[masks <= 0.1].mean() > 60
        # in register to the pixel: the mask moved by one pixel either way covers less of the shape's colour
        shifted = {(dx, dy): dist[np.roll(masks, (dy, dx), axis=(1, 2)) >= 0.9].mean()
                   for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
        assert min(shifted, key=shifted.get) == (0, 0), shifted
        on = np.zeros((4, 8, 8), np.float32)
        for t, (x, y) in enumerate(tool._centroid(masks)):
            on[t, int(y // 4), int(x // 4)] = 1.0  # the 4x4-px cell holding the shape's centre
        assert tool.measure_clip(on, masks)["on"].all()
        corner = np.zeros((4, 8, 8), np.float32)
        corner[:, 0, 0] = 1.0
        x, y = np.rint(peaks(corner, 32, 32)[0]).astype(int)
        assert max(x, y) <= 2  # the hot region's centre, in the corner
        far = tool.measure_clip(corner, masks)
        assert np.array_equal(far["on"], masks[:, y, x] >= 0.5) and far["on"].sum() < 4
