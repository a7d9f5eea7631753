"""Test report (visual/report.py) and training curves (visual/curves.py) against direct computations."""
import csv
import math
import sys

import cv2
import numpy as np
import pytest

from paddlevideo_tsm.errors import MissingPackageError
from paddlevideo_tsm.metrics.video_scores import mean_class_accuracy
from paddlevideo_tsm.visual import curves as curves_mod
from paddlevideo_tsm.visual.curves import TrainingCurves, read_rows
from paddlevideo_tsm.visual.plotting import pyplot
from paddlevideo_tsm.visual.report import REPORT_FILES, top_confusions, write_test_report

NAMES = ["walk", "run", "jump", "sit", "wave"]


def synthetic_results(seed=0, n=60, k=5, absent=(4,)):
    """labels [n] (class ``absent`` never appears) and noisy scores [n, k] right about 70% of the time."""
    rng = np.random.default_rng(seed)
    present = [c for c in range(k) if c not in absent]
    labels = rng.choice(present, n)
    scores = rng.normal(0, 1, (n, k))
    scores[np.arange(n), labels] += 1.5
    return labels, scores


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


class ListLogger:
    def __init__(self):
        self.lines = []

    def warning(self, msg):
        self.lines.append(msg)


def test_report_files_match_direct_counts(tmp_path):
    labels, scores = synthetic_results()
    out = write_test_report(str(tmp_path), labels, scores, NAMES)
    assert sorted(out["files"]) == sorted(REPORT_FILES)
    pred = [max(range(5), key=lambda j: (row[j], -j)) for row in scores]  # first largest, by hand
    rows = read_csv(tmp_path / REPORT_FILES["confusion_csv"])
    assert rows[0] == ["true \\ predicted"] + NAMES
    for i, row in enumerate(rows[1:]):
        assert row[0] == NAMES[i]
        assert [int(v) for v in row[1:]] == [sum(1 for y, p in zip(labels, pred) if y == i and p == j)
                                             for j in range(5)]
    per_class = read_csv(tmp_path / REPORT_FILES["per_class"])
    assert per_class[0] == ["class_id", "class_name", "videos", "correct", "accuracy"]
    accs = []
    for i, row in enumerate(per_class[1:6]):
        videos = sum(1 for y in labels if y == i)
        correct = sum(1 for y, p in zip(labels, pred) if y == i == p)
        assert row[:4] == [str(i), NAMES[i], str(videos), str(correct)]
        if videos:
            assert float(row[4]) == pytest.approx(correct / videos, abs=1e-6)
            accs.append(correct / videos)
        else:
            assert row[4] == ""  # no video of 'wave': no accuracy, and left out of the mean
    mean_row = per_class[6]
    assert mean_row[1] == "mean_class_accuracy" and mean_row[2] == str(len(labels))
    assert float(mean_row[4]) == pytest.approx(sum(accs) / len(accs), abs=1e-6)
    assert out["mean_class_acc"] == pytest.approx(mean_class_accuracy(scores, labels), abs=1e-12)
    png = cv2.imread(str(tmp_path / REPORT_FILES["confusion_png"]))
    assert png is not None and png.shape[0] > 300 and png.shape[1] > 300


def test_top_confusions_largest_first():
    cm = np.array([[5, 2, 0], [3, 1, 3], [0, 0, 4]])
    assert top_confusions(cm, ["a", "b", "c"]) == [
        "3 x b -> a (42.9% of b's videos)", "3 x b -> c (42.9% of b's videos)", "2 x a -> b (28.6% of a's videos)"]
    assert top_confusions(cm, ["a", "b", "c"], limit=1) == ["3 x b -> a (42.9% of b's videos)"]


def test_without_matplotlib_the_png_is_left_out_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingPackageError, match=r"^matplotlib is not installed, so no plot is drawn "
                                                  r"\(pip install -r requirements-vis.txt\)$"):
        pyplot()
    labels, scores = synthetic_results()
    log = ListLogger()
    out = write_test_report(str(tmp_path), labels, scores, None, logger=log)
    assert "confusion_png" not in out["files"] and not (tmp_path / REPORT_FILES["confusion_png"]).exists()
    assert log.lines == ["matplotlib is not installed, so no plot is drawn (pip install -r requirements-vis.txt): "
                         "test_confusion_matrix.png left out"]
    assert read_csv(tmp_path / REPORT_FILES["confusion_csv"])[0] == ["true \\ predicted", "0", "1", "2", "3", "4"]
    curves = TrainingCurves(str(tmp_path), logger=log)
    curves.add_epoch(1, 2.0, 0.1, 0.01)
    assert curves.save() is None and curves.save() is None
    assert log.lines[1:] == ["matplotlib is not installed, so no plot is drawn (pip install -r requirements-vis.txt): "
                             "training_curves.png left out (training_curves.csv has the values)"]
    assert len(read_rows(str(tmp_path / curves_mod.CSV_NAME))) == 1


def test_curves_csv_png_and_resume(tmp_path):
    curves = TrainingCurves(str(tmp_path))
    for epoch in (1, 2, 3):
        curves.add_epoch(epoch, 3.0 / epoch, 0.2 * epoch, 0.1 / epoch)
        if epoch != 2:
            curves.add_val(epoch, 2.5 / epoch, 0.25 * epoch)
    png = curves.save()
    assert png == str(tmp_path / "training_curves.png")
    image = cv2.imread(png)
    assert image is not None and image.shape[1] > 2 * image.shape[0]  # three panels side by side
    rows = read_rows(str(tmp_path / "training_curves.csv"))
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[1]["train_loss"] == pytest.approx(1.5) and math.isnan(rows[1]["val_top1"])
    assert rows[2]["val_top1"] == pytest.approx(0.75) and rows[0]["lr"] == pytest.approx(0.1)
    # a run resumed at epoch 3 keeps epochs 1-2 and writes its own 3 and 4
    resumed = TrainingCurves(str(tmp_path), start_epoch=3)
    resumed.add_epoch(3, 9.0, 0.9, 0.05)
    resumed.add_epoch(4, 8.0, 0.95, 0.01)
    resumed.save()
    rows = read_rows(str(tmp_path / "training_curves.csv"))
    assert [(r["epoch"], r["train_loss"]) for r in rows] == [(1, 3.0), (2, 1.5), (3, 9.0), (4, 8.0)]
    assert math.isnan(rows[2]["val_loss"])
    # a fresh run starts over; another rank writes nothing
    TrainingCurves(str(tmp_path)).add_epoch(1, 1.0, 0.5, 0.1)
    off = TrainingCurves(str(tmp_path / "rank1"), enabled=False)
    off.add_epoch(1, 1.0, 0.5, 0.1)
    assert off.save() is None and not (tmp_path / "rank1").exists()


def test_plots_use_the_headless_backend():
    plt = pyplot()
    assert plt.get_backend().lower() == "agg"


def test_an_unwritable_report_folder_loses_nothing(tmp_path):
    """The test run is done when the report is written: a folder it cannot write to is a one-line
    warning, not an error."""
    from paddlevideo_tsm.metrics.center_crop import CenterCropMetric
    from paddlevideo_tsm.visual.report import report_test_run
    labels, scores = synthetic_results()
    metric = CenterCropMetric()
    metric.update(scores, labels, np.arange(len(labels)))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    log = ListLogger()
    log.info = lambda msg: None
    assert report_test_run(metric, NAMES, str(blocker / "report"), log) is None
    assert len(log.lines) == 1 and log.lines[0].startswith(f"{blocker / 'report'}: test report not written (")
    assert log.lines[0].endswith("; choose a folder with --output")
    out = report_test_run(metric, NAMES, str(tmp_path / "ok"), log)
    assert out["mean_class_acc"] == pytest.approx(mean_class_accuracy(scores, labels))
