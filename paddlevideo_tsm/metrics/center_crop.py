"""CenterCropMetric: one view per video (a center crop of one clip)."""
from .registry import METRICS
from .video_scores import VideoScoreMetric


@METRICS.register
class CenterCropMetric(VideoScoreMetric):
    """Scores [N, 1, K] (or [N, K]) -> the video's scores; more views is a config error."""

    def reduce_views(self, scores):
        if scores.shape[1] != 1:
            raise ValueError(f"CenterCropMetric takes one view per video, got {scores.shape[1]} "
                             f"(num_clips x crops); use METRIC.name: MultiCropMetric")
        return scores[:, 0]
