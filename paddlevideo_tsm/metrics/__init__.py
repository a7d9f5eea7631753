"""Test metrics over whole videos: ``build_metric(cfg.METRIC)``."""
from .center_crop import CenterCropMetric  # noqa: F401
from .multi_crop import MultiCropMetric  # noqa: F401
from .registry import METRICS
from .scores import softmax, topk_correct, topk_indices  # noqa: F401
from .video_scores import VideoScoreMetric, mean_class_accuracy  # noqa: F401


def build_metric(metric_cfg, **extra):
    """METRIC mapping ({name: CenterCropMetric, ...}) -> a metric object (``extra`` e.g. data_size)."""
    cfg = dict(metric_cfg or {"name": "CenterCropMetric"})
    obj = METRICS.get(cfg["name"])
    import inspect
    accepted = inspect.signature(obj).parameters
    return METRICS.build(cfg, **{k: v for k, v in extra.items() if k in accepted})
