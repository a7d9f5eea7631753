"""Per-stage wall-clock timing of the predictor (median over inputs), printed as a table."""
import time
from collections import OrderedDict

import numpy as np


class StageTimer:
    """Collect seconds per (stage, input): ``with timer.stage('inference'): ...``."""

    def __init__(self, stages=("preprocess", "inference", "postprocess")):
        self.times = OrderedDict((s, []) for s in stages)

    def stage(self, name):
        timer = self

        class _Stage:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, exc_type, *exc):
                if exc_type is None:  # a failed input is reported, not timed
                    timer.add(name, time.perf_counter() - self.t0)
                return False

        return _Stage()

    def add(self, name, seconds):
        self.times.setdefault(name, []).append(float(seconds))

    def table(self, title="per-input time (median)"):
        """Lines of a plain text table: stage, median ms, count."""
        rows = [(k, f"{1000.0 * np.median(v):.1f}", str(len(v))) for k, v in self.times.items() if v]
        header = ("stage", "median ms", "inputs")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(3)]
        fmt = "  ".join("{:<%d}" % w if i == 0 else "{:>%d}" % w for i, w in enumerate(widths))
        lines = [title, fmt.format(*header), fmt.format(*("-" * w for w in widths))]
        lines += [fmt.format(*r) for r in rows]
        return lines
