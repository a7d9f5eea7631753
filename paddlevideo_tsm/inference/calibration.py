"""Clips of a config's own list files, preprocessed as the predictor does, for calibrating and
checking a quantized model (tools/quantize.py).

A list is DATASET.<split> (format, file_path, data_prefix); each entry goes through the config's
PIPELINE.test by ``inference.preprocess.Preprocessor``, the same code as tools/predict.py.
"""
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError, DataError, one_line
from ..utils.logger import get_logger
from .preprocess import Preprocessor, num_test_clips

# this many failures before any entry loads stop the search (the list or its data_prefix is wrong)
FIRST_FAILURES = 5


class ListClips(NamedTuple):
    """Loaded entries of one list: ``views`` [float32 [V, T, ...] per entry], ``labels`` (None when
    the list has none), the DATASET ``split`` and the list ``file``."""
    views: list
    labels: list
    split: str
    file: str


def split_list(cfg, splits):
    """(split, list file, media kind, data_prefix) of the first DATASET split in ``splits`` with a
    file_path; ConfigError naming the keys when there is none."""
    from ..loader.registry import DATASETS

    dataset = cfg.get("DATASET") or {}
    for split in splits:
        section = dataset.get(split) or {}
        if section.get("file_path"):
            kind = getattr(DATASETS.get(section.get("format")), "list_kind", None) \
                if section.get("format") in DATASETS else None
            if kind is None:
                raise ConfigError(f"{cfg.get('_path', '<config>')}: DATASET.{split}.format must be one of "
                                  f"{', '.join(sorted(DATASETS))}, got {section.get('format')!r}")
            return split, section["file_path"], kind, section.get("data_prefix")
    keys = " or ".join(f"DATASET.{s}.file_path" for s in splits)
    raise ConfigError(f"{cfg.get('_path', '<config>')}: no {keys} to take clips from")


def load_list_clips(cfg, count, splits, seed=0):
    """Up to ``count`` entries (None: all) of the first list of ``splits``, in an order shuffled with
    ``seed`` (so a few clips cover the classes), preprocessed by PIPELINE.test -> ListClips.

    An entry that fails to load is warned about and replaced by the next; DataError (one line, the
    first failure) when the first FIRST_FAILURES tried all fail, or none loads.
    """
    from ..loader.bad_samples import LOAD_ERRORS
    from ..loader.datasets.list_file import read_list

    split, path, kind, prefix = split_list(cfg, splits)
    entries = read_list(path, kind, prefix, num_classes=cfg["MODEL"]["head"].get("num_classes"))
    order = np.random.default_rng(seed).permutation(len(entries))
    preprocess = Preprocessor((cfg.get("PIPELINE") or {}).get("test"), num_test_clips(cfg))
    views, labels, failed = [], [], []
    for index in order:
        if count is not None and len(views) >= count:
            break
        entry = entries[index]
        try:
            views.append(preprocess(entry.path, kind))
        except LOAD_ERRORS as exc:
            failed.append(f"{path}:{entry.line}: {one_line(exc)}")
            if views:
                get_logger().warning(f"{failed[-1]} (skipped)")
            elif len(failed) >= FIRST_FAILURES:  # a wrong data_prefix or list: one line, not one per entry
                raise DataError(f"{failed[0]}; none of the first {len(failed)} entries of DATASET.{split} tried "
                                f"loaded: check DATASET.{split}.file_path and data_prefix") from None
            continue
        if len(views) == 1:  # the failures held back until one entry loaded
            for line in failed:
                get_logger().warning(f"{line} (skipped)")
        labels.append(entry.label)
    if not views:
        raise DataError(f"{path}: no entry of DATASET.{split} could be loaded ({failed[0] if failed else 'empty'})")
    return ListClips(views, labels if all(label is not None for label in labels) else None, split, path)
