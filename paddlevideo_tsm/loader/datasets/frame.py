"""FrameDataset: folders of extracted frames listed as `frame_dir num_frames label`."""
from ...media import FRAME_TEMPLATE
from ..registry import DATASETS
from .base import BaseDataset


@DATASETS.register
class FrameDataset(BaseDataset):
    """Frame folders (1-based file names ``suffix``); see BaseDataset for items and bad data."""

    list_kind = "frame"

    def __init__(self, file_path, pipeline, data_prefix=None, num_retries=5, test_mode=False,
                 num_clips=1, suffix=FRAME_TEMPLATE, label_map=None, num_classes=None,
                 max_bad_fraction=0.1, seed=None):
        super().__init__(file_path, pipeline, data_prefix=data_prefix, num_retries=num_retries,
                         test_mode=test_mode, num_clips=num_clips, label_map=label_map,
                         num_classes=num_classes, max_bad_fraction=max_bad_fraction, seed=seed)
        self.suffix = suffix

    def make_results(self, index):
        """{'filename': frame folder, 'frames_len': count from the list, 'suffix', 'labels'}."""
        results = super().make_results(index)
        results["frames_len"] = self.entries[index].frames_len
        results["suffix"] = self.suffix
        return results
