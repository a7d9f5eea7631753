"""Bad samples: replacement in training, exclusion in test mode, the bad-fraction limit, real bad media."""
import os

import numpy as np
import pytest

from _dataset_media import write_frames, write_text, write_video
from paddlevideo_tsm.errors import BadDataLimitError, one_line
from paddlevideo_tsm.loader.bad_samples import check_bad_fraction, epoch_report, is_valid_sample
from paddlevideo_tsm.loader.dataloader import build_dataloader
from paddlevideo_tsm.loader.datasets import VideoDataset, build_dataset
from paddlevideo_tsm.errors import DataError


class FakeMedia:
    """Stub pipeline: files named in ``bad`` raise DataError('path: reason'); others give imgs = label."""

    def __init__(self, bad):
        self.bad = bad

    def __call__(self, results):
        name = os.path.basename(results["filename"])
        if name in self.bad:
            raise DataError(f"{results['filename']}: {self.bad[name]}")
        results["imgs"] = np.full((2, 1, 1, 1), results["labels"], np.float32)
        return results


def _list(tmp_path, n, name="v.txt"):
    # sample i is 'c{i}.avi' with label i, so a returned imgs value tells which sample it was
    return write_text(tmp_path / name, "".join(f"c{i}.avi {i}\n" for i in range(n)))


def test_training_replaces_bad_sample_and_warns_once(tmp_path, warnings_seen):
    lst = _list(tmp_path, 10)
    ds = VideoDataset(lst, FakeMedia({"c3.avi": "cannot open video (zero bytes)"}), seed=0)
    served = []
    for _ in range(2):
        for i in range(len(ds)):
            imgs, label = ds[i]
            assert imgs[0, 0, 0, 0] == label[0]  # imgs and label come from the same sample
            served.append(int(label[0]))
    assert 3 not in served and len(served) == 20
    assert ds.bad_samples() == [("c3.avi", "cannot open video (zero bytes)")]
    assert ds.skipped_count() >= 2  # drawn in both passes (and maybe as a replacement)
    assert warnings_seen == ["bad sample c3.avi: cannot open video (zero bytes) (replaced by another sample)"]
    assert epoch_report(ds, 4) == "epoch 4: skipped 1 bad samples: c3.avi (cannot open video (zero bytes))"
    ds.reset_bad_samples()
    assert ds.bad_samples() == [] and ds.skipped_count() == 0 and epoch_report(ds, 5) is None
    ds[3]
    assert ds.bad_samples() == [("c3.avi", "cannot open video (zero bytes)")]
    assert len(warnings_seen) == 1  # a file is named once, not once per epoch or retry


def test_bad_fraction_limit_stops_with_clear_error(tmp_path):
    lst = _list(tmp_path, 10)
    # seeded: unseeded, c1's random replacement was c2 about one run in ten (a flaky limit error)
    ds = VideoDataset(lst, FakeMedia({"c1.avi": "broken", "c2.avi": "broken"}), max_bad_fraction=0.1, seed=0)
    ds[1]  # 1 of 10 is allowed
    with pytest.raises(BadDataLimitError) as err:
        ds[2]
    assert str(err.value) == (f"{lst}: 2 of 10 samples (20.0%) failed to load this epoch, "
                              f"above max_bad_fraction 0.1: c1.avi, c2.avi")
    # the trainer's end-of-epoch check with a stricter limit
    ds2 = VideoDataset(lst, FakeMedia({"c5.avi": "broken"}))
    ds2[5]
    check_bad_fraction(ds2)  # 10% is not above 0.1
    with pytest.raises(BadDataLimitError, match=r"1 of 10 samples \(10\.0%\) .* above max_bad_fraction 0\.05: c5\.avi$"):
        check_bad_fraction(ds2, max_bad_fraction=0.05)


def test_retries_exhausted(tmp_path):
    lst = _list(tmp_path, 3)
    ds = VideoDataset(lst, FakeMedia({f"c{i}.avi": "gone" for i in range(3)}), num_retries=2,
                      max_bad_fraction=None, seed=1)
    with pytest.raises(DataError, match=r"^c0\.avi: no loadable sample after 2 random replacements \(last: c\d\.avi: gone\)$"):
        ds[0]
    assert ds.skipped_count() == 3


def test_test_mode_excludes_without_replacing(tmp_path, warnings_seen):
    lst = _list(tmp_path, 4)
    ds = VideoDataset(lst, FakeMedia({"c0.avi": "corrupt"}), test_mode=True, num_clips=2,
                      max_bad_fraction=0.5)
    views, label, index = ds[0]  # fails first: the placeholder shape is learnt from sample 1
    assert views.shape == ds[1][0].shape == (2, 2, 1, 1, 1) and not views.any()
    assert label.tolist() == [-1] and index.tolist() == [0]
    assert warnings_seen == ["bad sample c0.avi: corrupt (excluded from the metric)"]
    assert epoch_report(ds, 0) == "epoch 0: excluded 1 bad samples: c0.avi (corrupt)"
    # through a DataLoader: the mask drops exactly the failed row
    loader = build_dataloader(ds, batch_size=4)
    views, labels, indices = next(iter(loader))
    assert is_valid_sample(labels).tolist() == [False, True, True, True]
    assert indices.numpy().ravel().tolist() == [0, 1, 2, 3]


def test_bad_samples_seen_by_workers_reach_main_process(tmp_path):
    lst = _list(tmp_path, 8)
    ds = VideoDataset(lst, FakeMedia({"c2.avi": "bad", "c6.avi": "worse"}), max_bad_fraction=0.5)
    loader = build_dataloader(ds, batch_size=2, num_workers=2, seed=0)
    labels = np.concatenate([b[1].numpy().ravel() for b in loader])
    assert len(labels) == 8 and 2 not in labels and 6 not in labels
    assert sorted(ds.bad_samples()) == [("c2.avi", "bad"), ("c6.avi", "worse")]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # paddle's reader thread
def test_limit_error_from_worker_reads_as_one_line(tmp_path):
    lst = _list(tmp_path, 4)
    ds = VideoDataset(lst, FakeMedia({"c0.avi": "x", "c1.avi": "y"}), max_bad_fraction=0.25)
    loader = build_dataloader(ds, batch_size=2, num_workers=1)
    with pytest.raises(BadDataLimitError) as err:
        list(loader)
    expected = f"{lst}: 2 of 4 samples (50.0%) failed to load this epoch, above max_bad_fraction 0.25: c0.avi, c1.avi"
    assert str(err.value) == one_line(err.value) == expected
    wrapped = BadDataLimitError(f"DataLoader worker(0) caught BadDataLimitError with message:\nTraceback:\n"
                                f"  File x\npaddlevideo_tsm.loader.bad_samples.BadDataLimitError: {expected}")
    assert one_line(wrapped) == expected


def test_in_process_loader_raises_instead_of_hanging(tmp_path):
    # paddle's own single-process reader would hang on this exception
    lst = _list(tmp_path, 2)
    ds = VideoDataset(lst, FakeMedia({"c0.avi": "x", "c1.avi": "y"}), num_retries=1, max_bad_fraction=None)
    with pytest.raises(DataError, match=r"^c[01]\.avi: no loadable sample after 1 random replacements"):
        list(build_dataloader(ds, batch_size=2, num_workers=0))


# --- real bad media through the real pipeline ------------------------------------------------
def _pipeline(decoder):
    return {"decode": {"name": decoder, **({"backend": "decord"} if decoder == "VideoDecoder" else {})},
            "sample": {"name": "Sampler", "num_seg": 3, "seg_len": 1, "valid_mode": True},
            "transform": [{"Scale": {"short_size": 16}}, {"CenterCrop": {"target_size": 16}},
                          {"Image2Array": None}]}


def _expected_reason(ds, index):
    """The pipeline's own error for entry ``index``, without the leading path."""
    with pytest.raises(DataError) as err:
        ds.pipeline(ds.make_results(index) | {"clip_idx": -1, "num_clips": 1})
    msg = " ".join(str(err.value).split())
    path = ds.entries[index].path
    return msg[len(path) + 2:] if msg.startswith(f"{path}: ") else msg


def test_real_bad_videos_are_reported_and_replaced(tmp_path, warnings_seen):
    root = tmp_path / "v"
    write_video(root / "good.avi", 12)
    (root / "zero.avi").write_bytes(b"")
    (root / "corrupt.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    full = (root / "good.avi").read_bytes()
    (root / "truncated.avi").write_bytes(full[:600])  # header only: no readable frame
    names = ["good.avi", "missing.avi", "zero.avi", "corrupt.avi", "truncated.avi"]
    lst = write_text(tmp_path / "v.txt", "".join(f"{n} 0\n" for n in names))
    ds = build_dataset({"format": "VideoDataset", "file_path": lst, "data_prefix": str(root),
                        "max_bad_fraction": 1.0, "num_retries": 50}, _pipeline("VideoDecoder"), seed=0)
    good = ds[0][0]
    expected = {ds.entries[i].path: _expected_reason(ds, i) for i in range(1, 5)}
    for i in range(1, 5):
        imgs, _ = ds[i]
        np.testing.assert_array_equal(imgs, good)  # only the good clip can be served
    assert dict(ds.bad_samples()) == expected
    assert sorted(warnings_seen) == sorted(f"bad sample {p}: {r} (replaced by another sample)"
                                           for p, r in expected.items())
    assert "zero bytes" in expected[str(root / "zero.avi")]
    assert "not found" in expected[str(root / "missing.avi")]
    assert "cannot open" in expected[str(root / "corrupt.avi")]


def test_real_bad_frame_folders_are_reported_and_excluded(tmp_path, warnings_seen):
    root = tmp_path / "f"
    write_frames(root / "good", 6)
    os.makedirs(root / "empty")
    lst = write_text(tmp_path / "f.txt", "good 6 1\nempty 6 2\nmissing 6 3\n")
    ds = build_dataset({"format": "FrameDataset", "file_path": lst, "data_prefix": str(root),
                        "max_bad_fraction": 1.0}, _pipeline("FrameDecoder"), test_mode=True)
    expected = {ds.entries[i].path: _expected_reason(ds, i) for i in (1, 2)}
    shapes = []
    for i in range(3):
        views, label, _ = ds[i]
        shapes.append(views.shape)
        assert bool(is_valid_sample(label)[0]) == (i == 0)
    assert shapes == [(1, 3, 3, 16, 16)] * 3
    assert dict(ds.bad_samples()) == expected
    assert "not found" in expected[str(root / "missing")] and "missing" in expected[str(root / "empty")]
    assert sorted(warnings_seen) == sorted(f"bad sample {p}: {r} (excluded from the metric)"
                                           for p, r in expected.items())
