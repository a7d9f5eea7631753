"""Registered list-file datasets and ``build_dataset`` from a PaddleVideo DATASET split config."""
from ...errors import ConfigError, UserError
from ...media import MEDIA_KINDS, decode_step
from ..registry import DATASETS
from .base import INVALID_LABEL, BaseDataset  # noqa: F401
from .frame import FrameDataset  # noqa: F401
from .list_file import ListEntry, read_label_map, read_list  # noqa: F401
from .video import VideoDataset  # noqa: F401


def build_dataset(dataset_cfg, pipeline_cfg, **extra):
    """DATASET.<split> mapping ({format: FrameDataset, file_path, ...}) + PIPELINE.<split> -> dataset.

    ``extra`` (e.g. test_mode=True, num_clips=3, seed=0) overrides the config's keys.
    """
    from .. import build_pipeline  # the pipelines module builds the callable

    if dataset_cfg is None or "format" not in dataset_cfg:
        known = ", ".join(sorted(DATASETS))
        raise ConfigError(f"DATASET split config needs 'format' (one of: {known}), got {dict(dataset_cfg or {})}")
    cfg = {k: v for k, v in dataset_cfg.items() if k != "format"}
    cfg["name"] = dataset_cfg["format"]
    kind = getattr(DATASETS.get(cfg["name"]), "list_kind", None) if cfg["name"] in DATASETS else None
    if kind in MEDIA_KINDS and isinstance(pipeline_cfg, dict) and pipeline_cfg.get("decode") is not None:
        # media.decode_step also picks the predictor's decoder; here another media kind's is an error
        decode_step(kind, pipeline_cfg["decode"], where=f"DATASET format {cfg['name']}")
    try:
        return DATASETS.build(cfg, pipeline=build_pipeline(pipeline_cfg), **extra)
    except UserError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"DATASET format {dataset_cfg['format']}: {exc.args[0] if exc.args else exc}") from None
