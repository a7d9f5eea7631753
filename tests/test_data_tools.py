"""tools/extract_rawframes.py and tools/build_file_list.py on tiny generated videos."""
import importlib.util
import os
import sys
from pathlib import Path

import cv2
import decord
import numpy as np
import pytest

from _dataset_media import write_text, write_video
from paddlevideo_tsm.loader.datasets import read_label_map, read_list

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the Pool pickles extract_one by module name
    spec.loader.exec_module(module)
    return module


extract = _tool("extract_rawframes")
build_list = _tool("build_file_list")


@pytest.fixture
def ucf(tmp_path):
    """UCF101 layout: videos/<Class>/v_<Class>_gXX_cYY.avi plus split files (1-based class ids)."""
    root = tmp_path / "videos"
    frames = {"Jump": [6, 7], "Run": [5, 9]}
    for ci, (cls, counts) in enumerate(frames.items()):
        for g, n in enumerate(counts, 1):
            write_video(root / cls / f"v_{cls}_g{g:02d}_c01.avi", n, seed=ci * 10 + g)
    splits = tmp_path / "splits"
    splits.mkdir()
    write_text(splits / "classInd.txt", "1 Jump\n2 Run\n")
    write_text(splits / "trainlist01.txt", "Jump/v_Jump_g01_c01.avi 1\nRun/v_Run_g01_c01.avi 2\n"
                                           "Run/v_Run_g07_c01.avi 2\n")  # the last one is missing
    write_text(splits / "testlist01.txt", "Jump/v_Jump_g02_c01.avi\nRun/v_Run_g02_c01.avi\n")
    return tmp_path, root, splits


def test_ucf101_video_lists(ucf, capsys):
    tmp_path, root, splits = ucf
    out = tmp_path / "lists"
    assert build_list.main(["ucf101", str(root), "--splits_dir", str(splits), "--out_dir", str(out)]) == 0
    assert (out / "train_videos.txt").read_text() == "Jump/v_Jump_g01_c01.avi 0\nRun/v_Run_g01_c01.avi 1\n"
    assert (out / "val_videos.txt").read_text() == "Jump/v_Jump_g02_c01.avi 0\nRun/v_Run_g02_c01.avi 1\n"
    assert read_label_map(str(out / "classes.txt")) == ["Jump", "Run"]
    assert "1 missing under" in capsys.readouterr().out
    # the lists load as a dataset list with the classes file as label map
    entries = read_list(str(out / "val_videos.txt"), "video", str(root), read_label_map(str(out / "classes.txt")))
    assert all(os.path.isfile(e.path) for e in entries)


def test_extract_then_frame_lists(ucf, capsys):
    tmp_path, root, splits = ucf
    out = tmp_path / "frames"
    assert extract.main([str(root), str(out), "--class_dirs", "--workers", "2", "--quiet"]) == 0
    # each folder holds every frame, equal to decord's decode up to JPEG loss
    for video in sorted(root.rglob("*.avi")):
        rel = video.relative_to(root).with_suffix("")
        reader = decord.VideoReader(str(video))
        files = sorted((out / rel).glob("img_*.jpg"))
        assert len(files) == len(reader) and (out / rel / ".done").read_text() == f"{len(reader)}\n"
        last = cv2.imread(str(files[-1]))[:, :, ::-1].astype(int)
        assert np.abs(last - reader[len(reader) - 1].asnumpy().astype(int)).mean() < 4
    assert (out / "frames.txt").read_text() == ("Jump/v_Jump_g01_c01 6 0\nJump/v_Jump_g02_c01 7 0\n"
                                                "Run/v_Run_g01_c01 5 1\nRun/v_Run_g02_c01 9 1\n")
    lists = tmp_path / "lists"
    assert build_list.main(["ucf101", str(out), "--splits_dir", str(splits), "--format", "frames",
                            "--out_dir", str(lists)]) == 0
    assert (lists / "train_frames.txt").read_text() == "Jump/v_Jump_g01_c01 6 0\nRun/v_Run_g01_c01 5 1\n"
    assert (lists / "val_frames.txt").read_text() == "Jump/v_Jump_g02_c01 7 0\nRun/v_Run_g02_c01 9 1\n"


def test_extract_is_resumable_and_resizes(tmp_path):
    src = tmp_path / "src"
    write_video(src / "a.avi", 5, h=24, w=32)
    write_video(src / "b.avi", 4, h=24, w=32)
    (src / "empty.avi").write_bytes(b"")
    lst = write_text(tmp_path / "videos.txt", "a.avi 3\nb.avi 1\nempty.avi 0\n")
    out = tmp_path / "out"
    args = [str(src), str(out), "--list", lst, "--short_side", "12", "--workers", "2", "--quiet"]
    assert extract.main(args) == 1  # empty.avi failed
    assert cv2.imread(str(out / "a" / "img_00001.jpg")).shape == (12, 16, 3)
    assert (out / "frames.txt").read_text() == "a 5 3\nb 4 1\n"
    # a finished folder is skipped; a half-written one (no .done) is redone
    stamp = (out / "a" / "img_00001.jpg").stat().st_mtime_ns
    (out / "b" / ".done").unlink()
    (out / "b" / "img_00004.jpg").unlink()
    (out / "b" / "img_00009.jpg").write_bytes(b"stale")
    rows, failures = extract.run(extract.parse_args(args))
    assert (out / "a" / "img_00001.jpg").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (out / "b").iterdir()) == [".done", extract.OWNER_FILE] + [
        f"img_{i:05}.jpg" for i in range(1, 5)]
    assert rows == [("a", 5, 3), ("b", 4, 1)]
    assert failures == [f"{src / 'empty.avi'}: video file is empty (zero bytes)"]


def _digest(folder):
    """Relative path -> bytes of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_extract_list_lines_leaving_out_stop_before_anything_is_written(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    write_video(src / "a.avi", 3)
    write_video(tmp_path / "escape.avi", 3)
    (tmp_path / "escape").mkdir()
    (tmp_path / "escape" / "keep.txt").write_text("a user's file next to OUT")
    before = _digest(tmp_path)
    for bad in ("../escape.avi", str(tmp_path / "escape.avi")):
        lst = write_text(tmp_path / "videos.txt", f"a.avi 0\n{bad} 1\n")
        before["videos.txt"] = Path(lst).read_bytes()
        assert extract.main([str(src), str(out), "--list", lst, "--workers", "1", "--quiet"]) == 2
        assert capsys.readouterr().err == (f"error: {lst}:2: its frames would go to {tmp_path / 'escape'}, "
                                           f"outside the output folder {out}\n")
        assert _digest(tmp_path) == before and not out.exists()


def test_extract_never_touches_a_folder_it_did_not_make(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    for name in ("a", "b", "c"):
        write_video(src / f"{name}.avi", 4)
    # a user's folders where the frames of a.avi and b.avi would go; an empty one is simply used
    (out / "a").mkdir(parents=True)
    (out / "a" / "notes.txt").write_text("mine")
    (out / "a" / "img_00001.jpg").write_bytes(b"my own picture")
    (out / "b").mkdir()
    (out / "b" / ".done").write_text("not a count")
    (out / "c").mkdir()
    mine = _digest(out)
    lst = write_text(tmp_path / "videos.txt", "a.avi 0\nb.avi 1\nc.avi 2\n")
    args = [str(src), str(out), "--list", lst, "--workers", "2", "--quiet"]
    for _ in range(2):  # the second run meets c's finished folder and the same user folders
        assert extract.main(args) == 1
        err = capsys.readouterr().err
        for name in ("a", "b"):
            assert (f"  {src / name}.avi: {out / name} exists and was not made by extract_rawframes.py "
                    f"(no {extract.OWNER_FILE} in it): left untouched; move it away to extract this video\n") in err
        after = _digest(out)
        assert {k: after[k] for k in mine} == mine
        assert (out / "frames.txt").read_text() == "c 4 2\n" and (out / "c" / ".done").read_text() == "4\n"


def test_extract_gives_videos_sharing_a_name_their_own_folders(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    counts = {"x.avi": 5, "x.mp4": 7, "y.avi": 4, "z.avi": 3, "z/w.avi": 2}
    for name, n in counts.items():
        path = src / name
        if name.endswith(".mp4"):
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (32, 24))
            for t in range(n):
                writer.write(np.full((24, 32, 3), 10 * t, np.uint8))
            writer.release()
        else:
            write_video(path, n)
    lst = write_text(tmp_path / "videos.txt", "".join(f"{name} {i}\n" for i, name in enumerate(counts)))
    assert extract.main([str(src), str(out), "--list", lst, "--workers", "2", "--quiet"]) == 0
    # unique names keep PaddleVideo's folder; a clash (or a folder that would hold another) takes the extension
    assert (out / "frames.txt").read_text() == "x_avi 5 0\nx_mp4 7 1\ny 4 2\nz_avi 3 3\nz/w 2 4\n"
    for folder, n in (("x_avi", 5), ("x_mp4", 7), ("y", 4), ("z_avi", 3), ("z/w", 2)):
        assert len(list((out / folder).glob("img_*.jpg"))) == n
    # the frame lists of build_file_list find those folders for the video names
    lines, missing = build_list.list_lines([("x.mp4", 1), ("y.avi", 2), ("q.avi", 0)], str(out), "frames",
                                           "img_{:05}.jpg")
    assert lines == ["x_mp4 7 1\n", "y 4 2\n"] and missing == ["q"]


def test_kinetics_lists(tmp_path):
    root = tmp_path / "k"
    names = [("abseiling", "abc123", 10, 20), ("air drumming", "xyz_9", 5, 15), ("abseiling", "q", 0, 10)]
    for label, yid, s, e in names[:2]:
        write_video(root / label.replace(" ", "_") / build_list.kinetics_name(yid, s, e), 3)
    assert build_list.kinetics_name("abc123", 10, 20) == "abc123_000010_000020.mp4"
    csv_path = write_text(tmp_path / "train.csv", "label,youtube_id,time_start,time_end,split\n" +
                          "".join(f"{l},{y},{s},{e},train\n" for l, y, s, e in names))
    classes = write_text(tmp_path / "labels.txt", "0 abseiling\n1 air_drumming\n2 zumba\n")
    out = tmp_path / "lists"
    assert build_list.main(["kinetics", str(root), "--train_csv", csv_path, "--label_map", classes,
                            "--class_dirs", "--out_dir", str(out)]) == 0
    assert (out / "train_videos.txt").read_text() == ("abseiling/abc123_000010_000020.mp4 0\n"
                                                      "air_drumming/xyz_9_000005_000015.mp4 1\n")
    assert read_label_map(str(out / "classes.txt")) == ["abseiling", "air_drumming", "zumba"]
    bad = write_text(tmp_path / "bad.csv", "label,youtube_id,time_start,time_end,split\n"
                                           "abseiling,a,1,2,train\nflying,b,1,2,train\n")
    with pytest.raises(build_list.ToolError) as err:
        build_list.kinetics_splits(build_list.parse_args(["kinetics", str(root), "--train_csv", bad,
                                                          "--label_map", classes]))
    assert str(err.value) == f"{bad}:3: label 'flying' is not a known class"


def test_tree_lists_split_each_class(tmp_path):
    root = tmp_path / "tree"
    for cls in ("b_cls", "a_cls"):
        for i in range(5):
            write_video(root / cls / f"{cls}_{i}.avi", 2)
    out = tmp_path / "lists"
    assert build_list.main(["tree", str(root), "--val_fraction", "0.4", "--out_dir", str(out)]) == 0
    train = read_list(str(out / "train_videos.txt"), "video")
    val = read_list(str(out / "val_videos.txt"), "video")
    assert [sum(e.label == c for e in val) for c in (0, 1)] == [2, 2]
    assert {e.path for e in train} | {e.path for e in val} == {f"{c}/{c}_{i}.avi" for c in ("a_cls", "b_cls")
                                                              for i in range(5)}
    assert all(e.path.startswith(("a_cls/", "b_cls/")) and e.label == (e.path[0] == "b") for e in train + val)


def test_split_file_errors_are_one_line(ucf, capsys):
    tmp_path, root, splits = ucf
    write_text(splits / "trainlist01.txt", "Jump/v_Jump_g01_c01.avi 1\nRun/v_Run_g01_c01.avi 3\n")
    assert build_list.main(["ucf101", str(root), "--splits_dir", str(splits), "--out_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {splits / 'trainlist01.txt'}:2: class id '3' outside 1..2\n"
    write_text(splits / "classInd.txt", "1 Jump\nRun\n")
    assert build_list.main(["ucf101", str(root), "--splits_dir", str(splits), "--out_dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {splits / 'classInd.txt'}:2: expected 'class_id class_name', got 'Run'\n"
    assert extract.main([str(tmp_path / "nope"), str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope'}: source folder not found\n"
