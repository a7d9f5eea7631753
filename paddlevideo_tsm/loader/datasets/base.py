"""Shared behaviour of the list-file datasets: retries, bad-sample records, multi-clip test views."""
import numpy as np
import paddle

from ...utils.config_schema import Value
from ...utils.logger import get_logger
from ...errors import BadDataLimitError, DataError, one_line
from ..bad_samples import LOAD_ERRORS, BadSampleLog, bad_fraction_message
from ..views import load_views as stack_views
from .list_file import read_label_map, read_list

INVALID_LABEL = -1


class BaseDataset(paddle.io.Dataset):
    """A list file of samples run through ``pipeline`` (a callable results dict -> results dict).

    Train/valid (``test_mode=False``) items are ``(imgs float32 [T,C,H,W], label int64 [1])``.
    A sample that fails to load (DataError, OSError, cv2 or decord error) is replaced by a
    random other sample, up to ``num_retries`` times; the file is warned about once and
    recorded for the epoch (``bad_samples()``, ``reset_bad_samples()``); once the distinct
    bad files of an epoch exceed ``max_bad_fraction`` of the list, BadDataLimitError is raised.

    Test items (``test_mode=True``) are ``(imgs float32 [V,T,C,H,W], label int64 [1], index
    int64 [1])`` with V = num_clips * crops: clip k goes through the pipeline with
    ``clip_idx=k`` and its crops (leading axis of a 5-D result) are stacked after clip k-1's.
    Nothing is replaced in test mode: a failing sample is warned about, recorded, and returned
    as an all-zero clip with label -1 (INVALID_LABEL); metrics drop rows where
    ``bad_samples.is_valid_sample(label)`` is False, so the sample is counted out.

    With ``seed`` set (build_dataloader sets it), every sample draws its random decisions
    from ``results['rng'] = numpy Generator(seed, epoch, index)``: the same augmentations for
    any number of workers.
    """

    list_kind = None  # 'frame' or 'video', set by subclasses
    # ranges of config arguments, checked with the config at start (utils.config_schema.Component)
    CONFIG_VALUES = {"num_clips": Value(int, min=1), "num_retries": Value(int, min=0),
                     "max_bad_fraction": Value(float, min=0, max=1)}

    def __init__(self, file_path, pipeline, data_prefix=None, num_retries=5, test_mode=False,
                 num_clips=1, label_map=None, num_classes=None, max_bad_fraction=0.1, seed=None):
        super().__init__()
        if num_clips < 1:
            raise ValueError(f"{file_path}: num_clips must be >= 1, got {num_clips}")
        self.file_path = file_path
        self.pipeline = pipeline
        self.data_prefix = data_prefix
        self.num_retries = int(num_retries)
        self.test_mode = bool(test_mode)
        self.num_clips = int(num_clips)
        self.class_names = read_label_map(label_map) if label_map else None
        self.num_classes = num_classes
        self.max_bad_fraction = max_bad_fraction
        self.seed = seed
        self.epoch = 0
        self.entries = read_list(file_path, self.list_kind, data_prefix, self.class_names, num_classes)
        self._bad = BadSampleLog()
        self._view_template = None  # (shape, dtype) of a good test item, for the zero marker

    def __len__(self):
        return len(self.entries)

    # --- per-sample inputs -------------------------------------------------------------
    def make_results(self, index):
        """The pipeline's input dict for entry ``index`` (subclasses add their keys)."""
        entry = self.entries[index]
        return {"filename": entry.path, "labels": entry.label}

    def set_epoch(self, epoch):
        """Use epoch ``epoch`` in the per-sample random seeds."""
        self.epoch = int(epoch)

    def sample_rng(self, index):
        """numpy Generator for sample ``index`` this epoch, or None when no seed is set."""
        if self.seed is None:
            return None
        return np.random.default_rng([int(self.seed), self.epoch, int(index)])

    def _run_pipeline(self, index, rng, clip_idx, num_clips, with_label=False):
        results = self.make_results(index)
        results["clip_idx"] = clip_idx
        results["num_clips"] = num_clips
        results["warnings"] = notes = []
        if rng is not None:
            results["rng"] = rng
        out = self.pipeline(results)
        self._warn_once(notes)
        imgs = np.asarray(out["imgs"] if isinstance(out, dict) else out)
        if not with_label:
            return imgs
        # RandomFlip's flip_label_map relabels mirrored clips (left <-> right motion)
        return imgs, (out if isinstance(out, dict) else results).get("labels", results["labels"])

    # --- bad samples ---------------------------------------------------------------------
    def bad_samples(self):
        """Distinct (path, reason) that failed to load this epoch, across all worker processes."""
        return self._bad.distinct()

    def skipped_count(self):
        """Failed loads this epoch, repeats included (a bad file drawn twice counts twice)."""
        return len(self._bad.events())

    def reset_bad_samples(self):
        """Start counting a new epoch (files already warned about are not warned about again)."""
        self._bad.reset()

    def _warn_once(self, notes):
        """Log each warning the pipeline gave (a damaged video) once per run, across all workers."""
        for text in dict.fromkeys(notes):
            if self._bad.warn_once(text):
                get_logger().warning(text)

    def _record_bad(self, path, exc):
        reason = one_line(exc)
        if reason.startswith(f"{path}: "):  # DataError messages start with the path: say it once
            reason = reason[len(path) + 2:]
        if self._bad.add(path, reason):
            action = "excluded from the metric" if self.test_mode else "replaced by another sample"
            get_logger().warning(f"bad sample {path}: {reason} ({action})")
        msg = bad_fraction_message(self.file_path, self.bad_samples(), len(self), self.max_bad_fraction)
        if msg:
            raise BadDataLimitError(msg)

    # --- items ---------------------------------------------------------------------------
    def __getitem__(self, index):
        index = int(index)
        try:
            if self.test_mode:
                return self._test_item(index)
            return self._train_item(index)
        except Exception as exc:
            # a worker's exception does not reach the main process intact: keep it for the loader
            self._bad.add_fatal(exc)
            raise

    def fatal_error(self):
        """(exception type name, one-line message) of an error that ended this epoch, or None."""
        return self._bad.fatal()

    def _train_item(self, index):
        rng = self.sample_rng(index)
        current = index
        for attempt in range(self.num_retries + 1):
            entry = self.entries[current]
            try:
                imgs, label = self._run_pipeline(current, rng, -1, 1, with_label=True)
                return imgs.astype(np.float32, copy=False), np.array([int(label)], dtype=np.int64)
            except LOAD_ERRORS as exc:
                self._record_bad(entry.path, exc)
                last_reason = one_line(exc)
                current = int(rng.integers(len(self))) if rng is not None else np.random.randint(len(self))
        raise DataError(f"{self.entries[index].path}: no loadable sample after {self.num_retries} "
                        f"random replacements (last: {last_reason})")

    def load_views(self, index):
        """All test views of entry ``index``: float32 [num_clips*crops, T, C, H, W]."""
        # the same stacking as tools/predict.py (loader/views.py)
        results = self.make_results(index)
        results["warnings"] = notes = []
        views = stack_views(self.pipeline, results, self.num_clips, self.sample_rng(index))
        self._warn_once(notes)
        return views

    def _test_item(self, index):
        entry = self.entries[index]
        label = np.array([entry.label], dtype=np.int64)
        idx = np.array([index], dtype=np.int64)
        try:
            views = self.load_views(index)
            self._view_template = views.shape
            return views, label, idx
        except LOAD_ERRORS as exc:
            self._record_bad(entry.path, exc)
        return (np.zeros(self._marker_shape(index), dtype=np.float32),
                np.array([INVALID_LABEL], dtype=np.int64), idx)

    def _marker_shape(self, index):
        """Shape of a good test item, learnt from the next loadable samples when not yet known."""
        if self._view_template is not None:
            return self._view_template
        for step in range(1, min(len(self), self.num_retries + 1)):
            try:
                self._view_template = self.load_views((index + step) % len(self)).shape
                return self._view_template
            except LOAD_ERRORS:
                continue
        raise DataError(f"{self.file_path}: {self.entries[index].path} failed and no other sample "
                        f"could be loaded to shape its placeholder")

    def __repr__(self):
        mode = f"test, {self.num_clips} clips" if self.test_mode else "train/valid"
        return f"{type(self).__name__}({self.file_path!r}, {len(self)} samples, {mode})"
