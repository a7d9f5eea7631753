"""MultiCropMetric: several clips x crops per video, their scores averaged."""
from .registry import METRICS
from .scores import softmax
from .video_scores import VideoScoreMetric


@METRICS.register
class MultiCropMetric(VideoScoreMetric):
    """Scores [N, V, K] -> mean over the V views; ``softmax: True`` averages probabilities instead."""

    def __init__(self, data_size=None, batch_size=None, log_interval=None, num_ensemble_views=None,
                 num_spatial_crops=None, softmax=False):
        super().__init__(data_size, batch_size, log_interval)
        self.num_views = (num_ensemble_views * num_spatial_crops
                          if num_ensemble_views and num_spatial_crops else None)
        self.softmax = bool(softmax)

    def reduce_views(self, scores):
        if self.num_views is not None and scores.shape[1] != self.num_views:
            raise ValueError(f"MultiCropMetric expects {self.num_views} views per video "
                             f"(num_ensemble_views x num_spatial_crops), got {scores.shape[1]}")
        return (softmax(scores) if self.softmax else scores).mean(axis=1)
