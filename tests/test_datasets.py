"""FrameDataset / VideoDataset: list parsing, list errors, label maps, items, multi-clip test views."""
import os

import numpy as np
import pytest

from _dataset_media import SHARED_DATA, write_text, write_video
from paddlevideo_tsm.loader.datasets import (INVALID_LABEL, FrameDataset, VideoDataset, build_dataset,
                                             read_label_map, read_list)
from paddlevideo_tsm.errors import ListFileError
from paddlevideo_tsm.errors import ConfigError


class EchoPipeline:
    """Stub pipeline: imgs [T,1,1,1] filled with (frames_len or 0) + clip_idx; records its inputs."""

    def __init__(self, t=3):
        self.t = t
        self.calls = []

    def __call__(self, results):
        self.calls.append(dict(results))
        value = (results.get("frames_len") or 0) + results["clip_idx"]
        results["imgs"] = np.full((self.t, 1, 1, 1), value, np.float32)
        return results


# --- list parsing --------------------------------------------------------------------------
def test_frame_list_parses_with_prefix(tmp_path):
    lst = write_text(tmp_path / "f.txt", "a/v1 10 0\n\n# a comment\nb/v 2 25 3\n")
    entries = read_list(lst, "frame", data_prefix="/data/rf")
    assert [(e.path, e.frames_len, e.label, e.line) for e in entries] == [
        ("/data/rf/a/v1", 10, 0, 1), ("/data/rf/b/v 2", 25, 3, 4)]


def test_video_list_parses_without_prefix(tmp_path):
    lst = write_text(tmp_path / "v.txt", "x/clip one.avi 7\ny.mp4 0\n")
    assert [(e.path, e.frames_len, e.label) for e in read_list(lst, "video")] == [
        ("x/clip one.avi", None, 7), ("y.mp4", None, 0)]


@pytest.mark.parametrize("kind,text,num_classes,reason", [
    ("video", "ok.avi 1\nlonely.avi\n", None, "2: expected 'video_path label', got 'lonely.avi'"),
    ("frame", "d 3 1\nd 3\n", None, "2: expected 'frame_dir num_frames label', got 'd 3'"),
    ("video", "a.avi 1\nb.avi one\n", None, "2: label 'one' is not an integer"),
    ("frame", "d ten 1\n", None, "1: frame count 'ten' is not an integer"),
    ("frame", "d 0 1\n", None, "1: frame count 0 must be positive"),
    ("video", "a.avi 0\n\nb.avi 5\n", 5, "3: label 5 >= num_classes 5"),
    ("video", "a.avi -1\n", None, "1: label -1 < 0"),
    ("frame", "d 4 -2\n", 3, "1: label -2 < 0"),
])
def test_list_errors_name_file_and_line(tmp_path, kind, text, num_classes, reason):
    lst = write_text(tmp_path / "bad.txt", text)
    with pytest.raises(ListFileError) as err:
        read_list(lst, kind, num_classes=num_classes)
    assert str(err.value) == f"{lst}:{reason}"


def test_video_list_with_optional_labels_as_the_data_tools_read_it(tmp_path):
    lst = write_text(tmp_path / "v.txt", "a/x.avi 3\n# c\nmy clip.mp4\nb\nc.avi run\n")
    with pytest.raises(ListFileError) as err:
        read_list(lst, "video", label_optional=True)
    assert str(err.value) == f"{lst}:5: label 'run' is not an integer"
    entries = read_list(lst, "video", class_names=["walk", "run", "jump", "sit"], label_optional=True)
    assert [(e.path, e.label, e.line) for e in entries] == [
        ("a/x.avi", 3, 1), ("my clip.mp4", None, 3), ("b", None, 4), ("c.avi", 1, 5)]


def test_line_path_drops_the_numeric_fields_of_any_layout():
    from paddlevideo_tsm.loader.datasets.list_file import line_path

    assert [line_path(t) for t in ("a b.avi 3", "dir 16 2", "v.mp4", "x 12")] == ["a b.avi", "dir", "v.mp4", "x"]


def test_one_home_for_media_names():
    """The frame file template and the video extension list are defined once (media.py)."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = [str(p) for p in [*root.glob("paddlevideo_tsm/**/*.py"), *root.glob("tools/*.py"), root / "main.py"]]
    found = subprocess.run(["grep", "-lE", r"img_\{[^}]*:05d?\}|\(\"\.?avi\", *\"\.?mp4\"", *code],
                           capture_output=True, text=True).stdout.split()
    assert [os.path.relpath(p, root) for p in found] == ["paddlevideo_tsm/media.py"]


def test_empty_and_missing_list(tmp_path):
    lst = write_text(tmp_path / "empty.txt", "\n  \n# only a comment\n")
    with pytest.raises(ListFileError, match=r"empty\.txt: list is empty \(no samples\)$"):
        read_list(lst, "video")
    with pytest.raises(ListFileError, match=r"nope\.txt: list file not found$"):
        VideoDataset(str(tmp_path / "nope.txt"), EchoPipeline())


def test_label_map_names_and_range(tmp_path):
    idx_map = write_text(tmp_path / "classes.txt", "0 walk\n1 run fast\n2 jump\n")
    name_map = write_text(tmp_path / "names.txt", "walk\nrun fast\njump\n")
    assert read_label_map(idx_map) == read_label_map(name_map) == ["walk", "run fast", "jump"]
    lst = write_text(tmp_path / "v.txt", "a.avi jump\nb.avi 1\nc.avi 3\n")
    with pytest.raises(ListFileError) as err:  # num_classes comes from the map (3)
        VideoDataset(lst, EchoPipeline(), label_map=idx_map)
    assert str(err.value) == f"{lst}:3: label 3 >= the label map's 3 classes"
    write_text(lst, "a.avi jump\nb.avi 1\nc.avi hop\n")
    with pytest.raises(ListFileError) as err:
        VideoDataset(lst, EchoPipeline(), label_map=idx_map)
    assert str(err.value) == f"{lst}:3: label 'hop' is not an integer nor a class name of the label map"
    write_text(lst, "a.avi jump\nb.avi 1\n")
    ds = VideoDataset(lst, EchoPipeline(), label_map=idx_map)
    assert [e.label for e in ds.entries] == [2, 1] and ds.class_names[2] == "jump"


def test_label_map_errors(tmp_path):
    dup = write_text(tmp_path / "dup.txt", "0 a\n1 b\n1 c\n")
    with pytest.raises(ListFileError, match=r"dup\.txt:3: class index 1 appears twice$"):
        read_label_map(dup)
    gap = write_text(tmp_path / "gap.txt", "1 a\n2 b\n")  # 1-based (UCF101 classInd) is rejected
    with pytest.raises(ListFileError, match=r"gap\.txt: class indices must be 0\.\.1 without gaps"):
        read_label_map(gap)


def test_shared_kinetics_label_map():
    path = SHARED_DATA / "kinetics400_label_list.txt"
    if not path.is_file():
        pytest.skip(f"shared data not found: {path}")
    names = read_label_map(str(path))
    first = path.read_text().splitlines()[0].split(maxsplit=1)[1]
    assert len(names) == 400 and names[0] == first


# --- items ---------------------------------------------------------------------------------
def test_train_item_inputs_and_types(tmp_path):
    lst = write_text(tmp_path / "f.txt", "v1 10 4\nv2 7 1\n")
    pipe = EchoPipeline()
    ds = FrameDataset(lst, pipe, data_prefix=str(tmp_path), suffix="{:03}.png", seed=3)
    imgs, label = ds[1]
    assert imgs.dtype == np.float32 and imgs.shape == (3, 1, 1, 1) and float(imgs.max()) == 7 - 1
    assert label.dtype == np.int64 and label.tolist() == [1]
    call = pipe.calls[-1]
    assert (call["filename"], call["frames_len"], call["suffix"], call["labels"]) == (
        os.path.join(str(tmp_path), "v2"), 7, "{:03}.png", 1)
    assert (call["clip_idx"], call["num_clips"]) == (-1, 1)
    # per-sample generator: same (seed, epoch, index) -> same draws, another epoch -> others
    draw = lambda: ds.sample_rng(1).random(4)  # noqa: E731
    a = draw()
    assert np.array_equal(a, draw())
    ds.set_epoch(1)
    assert not np.array_equal(a, draw())


def test_test_mode_stacks_clips_and_crops(tmp_path):
    lst = write_text(tmp_path / "f.txt", "v1 10 4\nv2 20 2\n")

    class Crops(EchoPipeline):  # 2 crops per clip: [2, T, 1, 1, 1], crop c adds 100*c
        def __call__(self, results):
            single = super().__call__(results)["imgs"]
            results["imgs"] = np.stack([single, single + 100])
            return results

    ds = FrameDataset(lst, Crops(), test_mode=True, num_clips=3)
    views, label, index = ds[1]
    assert views.shape == (6, 3, 1, 1, 1) and label.tolist() == [2] and index.tolist() == [1]
    # view order: clip-major, crops inside a clip
    expected = [20 + k + 100 * c for k in range(3) for c in range(2)]
    assert views[:, 0, 0, 0, 0].tolist() == expected
    single = FrameDataset(lst, EchoPipeline(), test_mode=True)[0][0]
    assert single.shape == (1, 3, 1, 1, 1) and single.max() == 10


def _real_pipeline_cfg(decoder, size=32, valid_mode=True):
    return {"decode": {"name": decoder, **({"backend": "decord"} if decoder == "VideoDecoder" else {})},
            "sample": {"name": "Sampler", "num_seg": 4, "seg_len": 1, "valid_mode": valid_mode},
            "transform": [{"Scale": {"short_size": size}}, {"CenterCrop": {"target_size": size}},
                          {"Image2Array": None},
                          {"Normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]}


def test_build_dataset_from_config_on_shared_frames_and_videos(tmp_path):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found: {SHARED_DATA}")
    flist = write_text(tmp_path / "frames.txt", "img_sample 10 3\n")
    vlist = write_text(tmp_path / "videos.txt", "example.avi 1\nmmaction_test.avi 2\n")
    fds = build_dataset({"format": "FrameDataset", "file_path": flist,
                         "data_prefix": str(SHARED_DATA / "rawframes"), "suffix": "img_{:05}.jpg"},
                        _real_pipeline_cfg("FrameDecoder"))
    imgs, label = fds[0]
    assert imgs.shape == (4, 3, 32, 32) and imgs.dtype == np.float32 and label.tolist() == [3]
    vds = build_dataset({"format": "VideoDataset", "file_path": vlist,
                         "data_prefix": str(SHARED_DATA / "videos")},
                        _real_pipeline_cfg("VideoDecoder"), test_mode=True, num_clips=2)
    views, label, index = vds[1]
    assert views.shape == (2, 4, 3, 32, 32) and label.tolist() == [2] and index.tolist() == [1]
    # clip k of the stack equals the single pipeline run with clip_idx k
    for k in range(2):
        res = vds.pipeline({"filename": str(SHARED_DATA / "videos" / "mmaction_test.avi"),
                            "labels": 2, "clip_idx": k, "num_clips": 2})
        np.testing.assert_array_equal(views[k], res["imgs"])
    assert not np.array_equal(views[0], views[1])


def test_multi_clip_matches_pipeline_on_generated_video(tmp_path):
    write_video(tmp_path / "v" / "a.avi", 40)
    lst = write_text(tmp_path / "v.txt", "a.avi 0\n")
    ds = build_dataset({"format": "VideoDataset", "file_path": lst, "data_prefix": str(tmp_path / "v")},
                       _real_pipeline_cfg("VideoDecoder", size=16), test_mode=True, num_clips=3)
    views = ds[0][0]
    assert views.shape == (3, 4, 3, 16, 16)
    for k in range(3):
        res = ds.pipeline({"filename": str(tmp_path / "v" / "a.avi"), "clip_idx": k, "num_clips": 3})
        np.testing.assert_array_equal(views[k], res["imgs"])


def test_build_dataset_config_errors(tmp_path):
    lst = write_text(tmp_path / "v.txt", "a.avi 0\n")
    with pytest.raises(ConfigError, match=r"needs 'format' \(one of: FrameDataset, VideoDataset\)"):
        build_dataset({"file_path": lst}, None)
    with pytest.raises(ConfigError, match=r"unknown dataset 'Nope'"):
        build_dataset({"format": "Nope", "file_path": lst}, None)
    with pytest.raises(ConfigError, match=r"VideoDataset.*unknown argument 'suffix'"):
        build_dataset({"format": "VideoDataset", "file_path": lst, "suffix": "x"}, None)
    assert INVALID_LABEL == -1


def test_training_and_prediction_pick_the_decoder_by_one_rule(tmp_path):
    from paddlevideo_tsm.inference.preprocess import _pipeline_cfg_for
    from paddlevideo_tsm.media import decode_step

    lst = write_text(tmp_path / "v.txt", "a.avi 0\n")
    for decode in ({"name": "FrameDecoder"}, {"FrameDecoder": None}):
        with pytest.raises(ConfigError) as err:
            build_dataset({"format": "VideoDataset", "file_path": lst}, {"decode": decode})
        assert str(err.value) == "DATASET format VideoDataset: FrameDecoder does not read videos; use VideoDecoder"
    cv2_decode = {"name": "VideoDecoder", "backend": "cv2"}
    assert build_dataset({"format": "VideoDataset", "file_path": lst}, {"decode": cv2_decode}).pipeline.steps[0].backend == "cv2"
    # prediction: the input's kind on disk decides; the config's step is kept when it reads that kind
    test_cfg = {"decode": cv2_decode, "sample": {"name": "Sampler", "num_seg": 2}}
    assert _pipeline_cfg_for(test_cfg, "video")["decode"] == cv2_decode == decode_step("video", cv2_decode)
    assert _pipeline_cfg_for(test_cfg, "frame")["decode"] == {"name": "FrameDecoder"} == decode_step("frame", cv2_decode)
    assert decode_step("video", {"MyDecoder": {"x": 1}}) == {"MyDecoder": {"x": 1}}  # a decoder of no listed kind

