"""A video that decodes only in part (an AVI cut at half its bytes) is warned about, naming the file
and both frame counts, in decoding, training (once per file per run), testing, prediction and streaming."""
import itertools

import numpy as np
import pytest

from _dataset_media import write_cut_video, write_text, write_video
from paddlevideo_tsm.errors import DataError
from paddlevideo_tsm.loader import build_pipeline
from paddlevideo_tsm.loader.dataloader import build_dataloader
from paddlevideo_tsm.loader.datasets import build_dataset

DECLARED = 40


def _pipeline_cfg(backend="decord", valid=True):
    return {"decode": {"name": "VideoDecoder", "backend": backend},
            "sample": {"name": "Sampler", "num_seg": 4, "seg_len": 1, "valid_mode": valid},
            "transform": [{"Scale": {"short_size": 16}}, {"CenterCrop": {"target_size": 16}},
                          {"Image2Array": None}]}


@pytest.fixture
def cut(tmp_path):
    """(path of a 40-frame AVI cut in half, the frames OpenCV decodes from it)."""
    path, decoded = write_cut_video(tmp_path / "cut.avi", DECLARED)
    assert 0 < decoded < DECLARED - 1
    return path, decoded


def _note(path, decoded):
    return f"{path}: damaged video: its header declares {DECLARED} frames, only {decoded} decode"


def test_decord_backend_samples_the_decodable_part_and_warns(cut, tmp_path, warnings_seen):
    path, decoded = cut
    res = build_pipeline(_pipeline_cfg("decord"))({"filename": path})
    assert res["frames_len"] == decoded and res["frame_idx"].max() < decoded
    assert warnings_seen == [f"{_note(path, decoded)}; using those {decoded}"]
    # a caller collecting warnings gets them instead of the log
    notes = []
    build_pipeline(_pipeline_cfg("decord"))({"filename": path, "warnings": notes})
    assert notes == [f"{_note(path, decoded)}; using those {decoded}"] and len(warnings_seen) == 1
    good = write_video(tmp_path / "good.avi", DECLARED, 48, 64)
    assert build_pipeline(_pipeline_cfg("decord"))({"filename": good})["frames_len"] == DECLARED
    assert len(warnings_seen) == 1


def test_cv2_backend_names_both_counts_when_a_sampled_frame_is_missing(cut):
    path, decoded = cut
    pipe = build_pipeline(_pipeline_cfg("cv2"))
    last = pipe.steps[1].indices(DECLARED, clip_idx=0).max()  # the header's 40 frames are sampled
    assert last >= decoded
    with pytest.raises(DataError) as err:
        pipe({"filename": path})
    assert str(err.value) == f"{_note(path, decoded)}; frame {last} was requested"


def test_training_warns_once_per_file_per_run(cut, tmp_path, capfd):
    path, decoded = cut
    good = write_video(tmp_path / "good.avi", 12, 48, 64)
    lst = write_text(tmp_path / "train.txt", f"{path} 0\n{good} 1\n" * 3)  # the cut video 3 times an epoch
    ds = build_dataset({"format": "VideoDataset", "file_path": lst}, _pipeline_cfg("decord", valid=False))
    loader = build_dataloader(ds, batch_size=2, num_workers=2, seed=0)
    capfd.readouterr()
    for epoch in range(2):
        ds.set_epoch(epoch)
        ds.reset_bad_samples()
        assert sum(len(batch[1]) for batch in loader) == 6
    out = capfd.readouterr().out
    assert out.count(_note(path, decoded)) == 1, out
    assert f"WARNING {_note(path, decoded)}; using those {decoded}\n" in out
    assert ds.bad_samples() == []  # loaded, so not a bad sample


def test_testing_warns_once_for_all_clips(cut, tmp_path, warnings_seen):
    path, decoded = cut
    lst = write_text(tmp_path / "test.txt", f"{path} 0\n")
    ds = build_dataset({"format": "VideoDataset", "file_path": lst, "num_clips": 3}, _pipeline_cfg("decord"),
                       test_mode=True)
    views, label, _ = ds[0]
    assert views.shape[0] == 3 and label.tolist() == [0]
    ds[0]
    assert warnings_seen == [f"{_note(path, decoded)}; using those {decoded}"]


def test_prediction_warns_once_per_input(cut, warnings_seen):
    from paddlevideo_tsm.inference.preprocess import Preprocessor

    path, decoded = cut
    views = Preprocessor(_pipeline_cfg("decord"), num_clips=2)(path, "video")
    assert views.shape[:2] == (2, 4) and np.isfinite(views).all()
    assert warnings_seen == [f"{_note(path, decoded)}; using those {decoded}"]


def test_streaming_warns_after_reading_the_whole_video(cut, tmp_path, warnings_seen):
    from paddlevideo_tsm.online.frame_source import video_frames

    path, decoded = cut
    assert len(list(itertools.islice(video_frames(path), 5))) == 5 and warnings_seen == []  # not read to the end
    assert len(list(video_frames(path))) == decoded
    assert warnings_seen == [f"{_note(path, decoded)}; streamed those {decoded}"]
    assert len(list(video_frames(write_video(tmp_path / "good.avi", 9, 48, 64)))) == 9
    assert len(warnings_seen) == 1
