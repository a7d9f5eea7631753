"""Training curves: per-epoch loss, top-1 (train and val) and learning rate as a CSV and a PNG.

The CSV is the record (one row per epoch; a resumed run keeps the rows of the epochs before its
start); the PNG is drawn from it, at every validation and at the end of training.
"""
import csv
import math
import os

CSV_NAME, PNG_NAME = "training_curves.csv", "training_curves.png"
COLUMNS = ("epoch", "train_loss", "train_top1", "lr", "val_loss", "val_top1")


def read_rows(path):
    """The rows of a curves CSV as dicts of floats (NaN for an empty cell); [] when there is no file
    or it is not a curves CSV (its header differs)."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        if tuple(next(reader, ())) != COLUMNS:
            return []
        rows = []
        for values in reader:
            try:
                rows.append({c: float(v) if v != "" else math.nan for c, v in zip(COLUMNS, values)})
            except ValueError:
                break  # a damaged tail: keep the epochs before it
        return rows


class TrainingCurves:
    """Per-epoch values of one training run in ``out_dir``: ``add_epoch`` after each epoch's
    training, ``add_val`` after its validation, ``save`` writes the CSV and draws the PNG.
    ``start_epoch`` > 1 (a resumed run) keeps the earlier epochs of the CSV already there.
    ``enabled`` False (a rank other than 0) makes every call a no-op."""

    def __init__(self, out_dir, start_epoch=1, enabled=True, logger=None):
        self.csv_path = os.path.join(out_dir, CSV_NAME)
        self.png_path = os.path.join(out_dir, PNG_NAME)
        self.enabled, self.logger = enabled, logger
        self.rows = {}
        self._warned = False
        if enabled and start_epoch > 1:
            self.rows = {int(r["epoch"]): r for r in read_rows(self.csv_path) if r["epoch"] < start_epoch}

    def _row(self, epoch):
        return self.rows.setdefault(int(epoch), dict({c: math.nan for c in COLUMNS}, epoch=float(epoch)))

    def add_epoch(self, epoch, loss, top1, lr):
        """The epoch's mean training loss and top-1 and its learning rate (last iteration's)."""
        if self.enabled:
            self._row(epoch).update(train_loss=float(loss), train_top1=float(top1), lr=float(lr))

    def add_val(self, epoch, loss, top1):
        if self.enabled:
            self._row(epoch).update(val_loss=float(loss), val_top1=float(top1))

    def save(self):
        """Write the CSV and draw the PNG -> the PNG's path (None when not drawn: disabled, no
        epoch yet, or matplotlib missing, which ``logger`` reports once in one line)."""
        from ..errors import MissingPackageError
        if not self.enabled or not self.rows:
            return None
        from .report import write_csv
        rows = [self.rows[e] for e in sorted(self.rows)]
        write_csv(self.csv_path, [COLUMNS] + [["" if math.isnan(r[c]) else f"{r[c]:.6g}" for c in COLUMNS]
                                              for r in rows])
        try:
            return plot_curves(rows, self.png_path)
        except MissingPackageError as exc:
            if self.logger is not None and not self._warned:
                self.logger.warning(f"{exc}: {PNG_NAME} left out ({CSV_NAME} has the values)")
            self._warned = True
            return None


def plot_curves(rows, path):
    """rows (dicts with COLUMNS) -> a PNG with three panels against epoch: loss (train, val),
    top-1 (train, val), learning rate. Needs matplotlib. Returns path."""
    from .plotting import pyplot, save_figure
    plt = pyplot()
    from matplotlib.ticker import FormatStrFormatter, MaxNLocator
    epochs = [r["epoch"] for r in rows]

    def series(key):
        pts = [(e, r[key]) for e, r in zip(epochs, rows) if not math.isnan(r[key])]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (title, keys) in zip(axes, (("loss", ("train_loss", "val_loss")),
                                        ("top-1", ("train_top1", "val_top1")),
                                        ("learning rate (the epoch's last iteration)", ("lr",)))):
        for key in keys:
            x, y = series(key)
            if x:
                ax.plot(x, y, marker="o", markersize=3, label=key.replace("_", " "))
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend()
    axes[1].set_ylim(-0.02, 1.02)
    axes[2].yaxis.set_major_formatter(FormatStrFormatter("%.3g"))  # no offset text to collide with the title
    fig.tight_layout()
    return save_figure(fig, path)
