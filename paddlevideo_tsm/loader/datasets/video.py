"""VideoDataset: video files listed as `video_path label`."""
from ..registry import DATASETS
from .base import BaseDataset


@DATASETS.register
class VideoDataset(BaseDataset):
    """Video files decoded by the pipeline's VideoDecoder; see BaseDataset for items and bad data."""

    list_kind = "video"
