"""The built-in demo end to end through the command-line tools, CI-sized.

A tiny demo set (8 frames, 56 px; the config scales to 40 and crops 32) goes through configs/tsm_demo_frames.yaml with
path/size overrides: make_demo_data -> main.py train --validate -> main.py --test
--save_results -> tools/export_model.py -> tools/predict.py. Each stage's output is checked
against a recomputation: validation accuracy against the saved weights run in-process,
the test summary against the saved per-video scores, the predictor against those scores.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tsm_demo_frames.yaml"
NAME = "TSM_demo"
PER_CLASS = {"train": 2, "val": 1, "test": 2}
FRAMES, SIZE, CROP = 8, 56, 32  # CROP is the config's; decord cannot read 16/24/48/72 px square MJPG; 56 is fine
FLOAT = r"([0-9.]+|nan)"


def run(script, *args, timeout=300):
    """python ROOT/script ARGS from the project root -> CompletedProcess; fails the test on exit != 0."""
    proc = subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} exit {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def overrides(demo):
    """-o KEY=VALUE list pointing the demo config at ``demo`` with CI sizes."""
    ov = ["epochs=1", "log_interval=1", "save_interval=1", "cpu_threads=1", "OPTIMIZER.learning_rate.max_epoch=1",
          "DATASET.batch_size=4", "DATASET.valid_batch_size=4", "DATASET.test_batch_size=3",
          "DATASET.num_workers=0"]
    for split, stem in (("train", "train"), ("valid", "val"), ("test", "test")):
        ov += [f"DATASET.{split}.data_prefix={demo}", f"DATASET.{split}.file_path={demo}/{stem}_frames.list",
               f"DATASET.{split}.label_map={demo}/label_map.txt"]
    return ov


def as_flags(flag, values):
    return [x for v in values for x in (flag, v)]


def softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Generate data, train a few iterations, test, export: the paths and outputs of each stage."""
    tmp = tmp_path_factory.mktemp("demo_e2e")
    demo, out = tmp / "demo", tmp / "out"
    run("tools/make_demo_data.py", "--out", demo, "--frames", FRAMES, "--size", SIZE, "--workers", 1,
        *[x for split, n in PER_CLASS.items() for x in (f"--{split}_per_class", n)])
    ov = overrides(demo)
    train = run("main.py", "-c", CONFIG, *as_flags("-o", ov), "--validate", "--max_iters", 3,
                "--output", out)
    best = out / f"{NAME}_best.pdparams"
    results = tmp / "test_scores.jsonl"
    test = run("main.py", "-c", CONFIG, *as_flags("-o", ov), "--test", "-w", best,
               "--save_results", results)
    export_dir = tmp / "export"
    export = run("tools/export_model.py", "-c", CONFIG, *as_flags("--override", ov), "-p", best,
                 "-o", export_dir)
    return {"demo": demo, "out": out, "best": best, "ov": ov, "train": train, "test": test,
            "results": results, "export_dir": export_dir, "export": export}


def test_training_writes_checkpoints_and_logs_three_iterations(demo_run):
    out, log = demo_run["out"], demo_run["train"].stdout + demo_run["train"].stderr
    assert demo_run["best"].is_file()
    for ext in (".pdparams", ".pdopt", ".pdstate"):  # stopped inside epoch 1 (4 iterations): not saved as complete
        assert (out / f"{NAME}_epoch_00001_iter_00003{ext}").is_file()
    iters = [int(m) for m in re.findall(r"train iter:(\d+)/", log)]
    assert iters == [1, 2, 3], log[-2000:]
    assert "training done: 1 epochs, 3 iterations" in log


def test_validation_top1_matches_best_weights_in_process(demo_run):
    """The logged [VALID] top1 equals the best weights re-run here on the val list (8 clips)."""
    import paddle
    from paddlevideo_tsm.loader.datasets import build_dataset
    from paddlevideo_tsm.modeling import build_model, load_checkpoint
    from paddlevideo_tsm.config import get_config

    log = demo_run["train"].stdout + demo_run["train"].stderr
    m = re.search(r"\[VALID\] epoch:1 loss: " + FLOAT + r" top1: " + FLOAT + r" .* over (\d+) clips", log)
    assert m, log[-2000:]
    logged_top1, count = float(m.group(2)), int(m.group(3))
    n_val = 8 * PER_CLASS["val"]
    assert count == n_val

    cfg = get_config(str(CONFIG), demo_run["ov"])
    model = build_model(cfg.MODEL)
    load_checkpoint(model, str(demo_run["best"]))
    model.eval()
    ds = build_dataset(cfg.DATASET.valid, cfg.PIPELINE.valid)
    assert len(ds) == n_val
    correct = 0
    with paddle.no_grad():
        for i in range(len(ds)):
            imgs, label = ds[i]
            assert imgs.shape == (FRAMES, 3, CROP, CROP)
            scores = model(paddle.to_tensor(imgs[None])).numpy()[0]
            correct += int(np.argmax(scores) == int(label[0]))
    assert abs(correct / n_val - logged_top1) < 1e-6


def read_results(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def test_test_summary_equals_saved_scores(demo_run):
    log = demo_run["test"].stdout + demo_run["test"].stderr
    m = re.search(r"\[TEST\] top1: " + FLOAT + r" top5: " + FLOAT + r" mean_class_acc: " + FLOAT
                  + r" \((\d+) videos", log)
    assert m, log[-2000:]
    top1, top5, count = float(m.group(1)), float(m.group(2)), int(m.group(4))
    rows = read_results(demo_run["results"])
    listed = (demo_run["demo"] / "test_frames.list").read_text().split("\n")
    listed = [line.split() for line in listed if line.strip()]
    assert count == len(rows) == len(listed) == 8 * PER_CLASS["test"]
    # rows follow the list: same folders, same labels
    assert [Path(r["filename"]).name for r in rows] == [Path(f).name for f, _, _ in listed]
    assert [r["label"] for r in rows] == [int(lab) for _, _, lab in listed]
    scores = np.array([r["scores"] for r in rows])
    labels = np.array([r["label"] for r in rows])
    assert scores.shape == (count, 8) and np.isfinite(scores).all()
    assert 0.0 <= top1 <= 1.0
    assert abs(np.mean(scores.argmax(1) == labels) - top1) < 6e-5  # the log prints 4 decimals
    in_top5 = [lab in np.argsort(-s, kind="stable")[:5] for s, lab in zip(scores, labels)]
    assert abs(np.mean(in_top5) - top5) < 6e-5


def test_training_ends_with_the_test_of_its_best_checkpoint(demo_run):
    # the demo config's test_after_train: the README's one-line command ends with the test accuracy
    train_log, test_log = demo_run["train"].stdout, demo_run["test"].stdout
    assert f"test_after_train: testing {demo_run['best']}" in train_log
    pattern = r"\[TEST\] top1: " + FLOAT + r" top5: " + FLOAT + r" mean_class_acc: " + FLOAT
    after = re.search(pattern, train_log.split("test_after_train:")[1])
    assert after and after.groups() == re.search(pattern, test_log).groups()


def test_export_writes_model_files(demo_run):
    files = sorted(p.name for p in demo_run["export_dir"].iterdir())
    assert f"{NAME}.pdmodel" in files and f"{NAME}.pdiparams" in files, files
    assert (demo_run["export_dir"] / f"{NAME}.pdiparams").stat().st_size > 100_000  # ~0.7 M params


def test_predict_equals_test_scores_for_a_clip(demo_run, tmp_path):
    """tools/predict.py on one test frame folder: top-1 and all 8 probabilities equal the softmax of
    the --test scores of that clip (the exported graph + Paddle Inference vs the dygraph model)."""
    rows = read_results(demo_run["results"])
    row = rows[3]  # a move_right clip
    out = tmp_path / "pred.jsonl"
    proc = run("tools/predict.py", "-i", row["filename"], "-c", CONFIG, *as_flags("-o", demo_run["ov"]),
               "--model_file", demo_run["export_dir"] / f"{NAME}.pdmodel", "--top_k", 8,
               "--label_map", demo_run["demo"] / "label_map.txt", "--output", out, "--cpu_threads", 1)
    pred = read_results(out)
    assert len(pred) == 1
    expected = softmax(row["scores"])
    order = np.argsort(-expected, kind="stable")
    assert sorted(pred[0]["class_ids"]) == list(range(8)) and pred[0]["class_ids"][0] == order[0]
    got = np.zeros(8)
    got[pred[0]["class_ids"]] = pred[0]["scores"]
    assert np.all(np.abs(got - expected) <= 1e-4 * expected), (got, expected)
    names = [line.split(maxsplit=1)[1] for line in (demo_run["demo"] / "label_map.txt").read_text().splitlines()]
    assert pred[0]["class_names"][0] == names[order[0]]
    assert f"top-1 class: {order[0]} {names[order[0]]}" in proc.stdout


def test_twin_configs_differ_only_where_intended():
    """The TSN twin is the TSM config with shift_div 0; the video config only swaps lists and decoder."""
    def load(name):
        cfg = yaml.safe_load((ROOT / "configs" / name).read_text())
        return cfg

    tsm, tsn, vid = load("tsm_demo_frames.yaml"), load("tsn_demo_frames.yaml"), load("tsm_demo_videos.yaml")
    assert tsm["MODEL"]["backbone"]["shift_div"] == 8 and tsn["MODEL"]["backbone"]["shift_div"] == 0
    tsn["MODEL"]["backbone"]["shift_div"] = 8
    tsn["model_name"] = tsm["model_name"]
    assert tsn == tsm
    for split in ("train", "valid", "test"):
        d = vid["DATASET"][split]
        assert d["format"] == "VideoDataset" and d["file_path"].endswith("_videos.list")
        assert vid["PIPELINE"][split]["decode"] == {"name": "VideoDecoder"}
        vid["DATASET"][split] = tsm["DATASET"][split]
        vid["PIPELINE"][split]["decode"] = tsm["PIPELINE"][split]["decode"]
    vid["model_name"] = tsm["model_name"]
    assert vid == tsm


def test_mirrored_training_clips_get_the_flipped_label(demo_run):
    """With RandomFlip p=1 the train items are the p=0 items mirrored and relabelled by
    flip_label_map [1,0,2,3,4,5,7,6] (a mirrored move_left clip moves right)."""
    from paddlevideo_tsm.loader.datasets import build_dataset
    from paddlevideo_tsm.config import get_config

    flip_map = [1, 0, 2, 3, 4, 5, 7, 6]
    items = {}
    for p in (0.0, 1.0):
        cfg = get_config(str(CONFIG), demo_run["ov"] + [f"PIPELINE.train.transform.2.RandomFlip.p={p}"])
        assert cfg.PIPELINE.train.transform[2].RandomFlip.flip_label_map == flip_map
        ds = build_dataset(cfg.DATASET.train, cfg.PIPELINE.train, seed=3)
        items[p] = [ds[i] for i in range(len(ds))]
    for (plain, label), (mirrored, flipped_label) in zip(items[0.0], items[1.0]):
        np.testing.assert_array_equal(mirrored, plain[..., ::-1])
        assert int(flipped_label[0]) == flip_map[int(label[0])]
    assert sorted({int(lab[0]) for _, lab in items[0.0]}) == list(range(8))
