"""The test report: per-class accuracy, confusion matrix (CSV and PNG) and the most frequent confusions.

Computed from the per-video scores of a test run (the rows ``--save_results`` writes): the
predicted class of a video is the index of its largest score (the first one on ties, as in the
top-1 metric). Videos that failed to load are not in the report.
"""
import csv
import os

import numpy as np

from ..tasks.checkpoint import atomic_save, write_text

REPORT_FILES = {
    "per_class": "test_per_class_accuracy.csv",
    "confusion_csv": "test_confusion_matrix.csv",
    "confusion_png": "test_confusion_matrix.png",
    "confusions": "test_top_confusions.txt",
}
MAX_ANNOTATED = 30  # classes up to which the PNG shows names and the count in every cell


def confusion_matrix(labels, predictions, num_classes):
    """int64 [K, K]: row = true class, column = predicted class, value = videos."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
    return cm


def per_class_accuracy(cm):
    """[K, K] counts -> (accuracy float [K], NaN for a class without videos; mean over the classes that have videos)."""
    videos = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(videos > 0, np.diag(cm) / np.maximum(videos, 1), np.nan)
    present = videos > 0
    return acc, float(acc[present].mean()) if present.any() else float("nan")


def class_names_for(num_classes, names=None):
    """``names`` when it names every class, else '0', '1', ... ."""
    if names is not None and len(names) >= num_classes:
        return [str(n) for n in names[:num_classes]]
    return [str(i) for i in range(num_classes)]


def top_confusions(cm, names, limit=10):
    """The ``limit`` largest off-diagonal cells, largest first -> lines
    'COUNT x TRUE -> PREDICTED (P% of TRUE's videos)'; ties by true, then predicted class."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    cells = [(int(off[i, j]), i, j) for i, j in zip(*np.nonzero(off))]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    videos = cm.sum(axis=1)
    return [f"{n} x {names[i]} -> {names[j]} ({100.0 * n / videos[i]:.1f}% of {names[i]}'s videos)"
            for n, i, j in cells[:limit]]


def _write_rows(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def write_csv(path, rows):
    """Write ``rows`` (lists of cells) as CSV to ``path`` through a temporary name (atomic_save)."""
    atomic_save(rows, path, writer=_write_rows)


def plot_confusion(cm, names, path, title="confusion matrix"):
    """The matrix as a PNG heat map: colour = fraction of the true class's videos, the count in
    each cell and class names on both axes (up to MAX_ANNOTATED classes). Needs matplotlib."""
    from .plotting import pyplot, save_figure
    plt = pyplot()
    k = len(names)
    videos = cm.sum(axis=1, keepdims=True)
    frac = cm / np.maximum(videos, 1)
    side = min(4.0 + 0.45 * k, 40.0)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if k <= MAX_ANNOTATED:
        ax.set_xticks(range(k), names, rotation=45, ha="right")
        ax.set_yticks(range(k), names)
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                            color="white" if frac[i, j] > 0.5 else "black", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def write_test_report(out_dir, labels, scores, class_names=None, logger=None):
    """Write the report files (REPORT_FILES) into ``out_dir`` from labels int [N] and scores [N, K]
    -> {'files': {kind: path}, 'mean_class_acc', 'confusion' [K, K]}. Without matplotlib the PNG is
    left out and ``logger`` (if given) warns in one line; the rest is written."""
    from ..errors import MissingPackageError
    labels, scores = np.asarray(labels, np.int64), np.asarray(scores, np.float64)
    k = scores.shape[1]
    names = class_names_for(k, class_names)
    cm = confusion_matrix(labels, scores.argmax(axis=1), k)
    acc, mean_acc = per_class_accuracy(cm)
    os.makedirs(out_dir, exist_ok=True)
    files = {kind: os.path.join(out_dir, name) for kind, name in REPORT_FILES.items()}
    rows = [["class_id", "class_name", "videos", "correct", "accuracy"]]
    rows += [[i, names[i], int(cm[i].sum()), int(cm[i, i]), "" if np.isnan(acc[i]) else f"{acc[i]:.6f}"]
             for i in range(k)]
    rows.append(["", "mean_class_accuracy", int(cm.sum()), int(np.trace(cm)), f"{mean_acc:.6f}"])
    write_csv(files["per_class"], rows)
    write_csv(files["confusion_csv"], [["true \\ predicted"] + names] +
               [[names[i]] + [int(v) for v in cm[i]] for i in range(k)])
    lines = [f"most frequent confusions of {int(cm.sum())} test videos (true -> predicted):"]
    lines += top_confusions(cm, names) or ["none: every video was classified correctly"]
    atomic_save("".join(line + "\n" for line in lines), files["confusions"], writer=write_text)
    try:
        plot_confusion(cm, names, files["confusion_png"],
                       f"{int(cm.sum())} test videos, top-1 {np.trace(cm) / max(cm.sum(), 1):.3f}, "
                       f"mean class accuracy {mean_acc:.3f}")
    except MissingPackageError as exc:
        files.pop("confusion_png")
        if logger is not None:
            logger.warning(f"{exc}: {REPORT_FILES['confusion_png']} left out")
    return {"files": files, "mean_class_acc": mean_acc, "confusion": cm}


def report_test_run(metric, class_names, out_dir, logger):
    """write_test_report for the loaded videos of a finished test ``metric`` (a VideoScoreMetric)
    into ``out_dir``; logs where the files are. Returns write_test_report's dict (None: no video)."""
    _, labels, scores = metric.arrays()
    loaded = labels >= 0
    if not loaded.any():
        return None
    try:
        report = write_test_report(out_dir, labels[loaded], scores[loaded], class_names, logger)
    except OSError as exc:  # the test itself is done and logged: say why there is no report, lose nothing
        logger.warning(f"{out_dir}: test report not written ({exc.strerror or exc}); choose a folder with --output")
        return None
    logger.info(f"test report: mean class accuracy {report['mean_class_acc']:.4f}; "
                + ", ".join(sorted(os.path.basename(p) for p in report["files"].values())) + f" in {out_dir}")
    return report
