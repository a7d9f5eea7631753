"""tools/build_file_list.py ssv2: Something-Something V2 JSON annotations -> PaddleVideo lists."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from paddlevideo_tsm.loader.datasets import read_label_map, read_list

TOOLS = Path(__file__).resolve().parents[1] / "tools"
spec = importlib.util.spec_from_file_location("build_file_list", TOOLS / "build_file_list.py")
build_list = importlib.util.module_from_spec(spec)
sys.modules.setdefault("build_file_list", build_list)
spec.loader.exec_module(build_list)

# the official files' shapes: template -> index as a string; entries with the class template in brackets
LABELS = {"Holding something": "0", "Pulling something from left to right": "1",
          "Pulling something from right to left": "2",
          "Turning the camera left while filming something": "3",
          "Turning the camera right while filming something": "4",
          "Putting something onto something": "5"}
TRAIN = [{"id": "12", "label": "pulling a pen from left to right", "template": "Pulling [something] from left to right",
          "placeholders": ["a pen"]},
         {"id": "7", "label": "holding a cup", "template": "Holding [something]", "placeholders": ["a cup"]},
         {"id": "40", "label": "putting a key onto a book", "template": "Putting [something] onto [something]",
          "placeholders": ["a key", "a book"]},
         {"id": "99", "label": "holding a pen", "template": "Holding [something]", "placeholders": ["a pen"]}]
VAL = [{"id": "3", "label": "turning the camera right while filming a door",
        "template": "Turning the camera right while filming [something]", "placeholders": ["a door"]}]


@pytest.fixture
def ssv2(tmp_path):
    """Annotation JSONs + ROOT with <id>.webm for every id but 99, and frame folders <id>/."""
    ann = tmp_path / "annotations"
    ann.mkdir()
    files = {}
    for name, value in (("labels", LABELS), ("train", TRAIN), ("validation", VAL)):
        files[name] = ann / f"something-something-v2-{name}.json"
        files[name].write_text(json.dumps(value))
    videos, frames = tmp_path / "videos", tmp_path / "rawframes"
    for vid, n in (("12", 3), ("7", 2), ("40", 4), ("3", 5)):
        videos.mkdir(exist_ok=True)
        (videos / f"{vid}.webm").write_bytes(b"")  # the builder checks that the file exists
        (frames / vid).mkdir(parents=True)
        for i in range(1, n + 1):
            (frames / vid / f"img_{i:05d}.jpg").write_bytes(b"")
    return tmp_path, files, videos, frames


def _args(files, root, out, *extra):
    return ["ssv2", str(root), "--labels_json", str(files["labels"]), "--train_json", str(files["train"]),
            "--val_json", str(files["validation"]), "--out_dir", str(out), *extra]


def test_ssv2_video_and_frame_lists(ssv2, capsys):
    tmp_path, files, videos, frames = ssv2
    out = tmp_path / "lists"
    assert build_list.main(_args(files, videos, out)) == 0
    # the template with brackets names the class; 99.webm is missing and left out
    assert (out / "train_videos.txt").read_text() == "12.webm 1\n7.webm 0\n40.webm 5\n"
    assert (out / "val_videos.txt").read_text() == "3.webm 4\n"
    names = read_label_map(str(out / "classes.txt"))
    assert names == sorted(LABELS, key=lambda k: int(LABELS[k]))
    printed = capsys.readouterr().out
    assert "1 missing under" in printed
    assert "flip_label_map): {1: 2, 2: 1, 3: 4, 4: 3}" in printed
    entries = read_list(str(out / "train_videos.txt"), "video", str(videos), names)
    assert [(Path(e.path).name, e.label) for e in entries] == [("12.webm", 1), ("7.webm", 0), ("40.webm", 5)]

    assert build_list.main(_args(files, frames, out, "--format", "frames")) == 0
    assert (out / "train_frames.txt").read_text() == "12 3 1\n7 2 0\n40 4 5\n"
    assert (out / "val_frames.txt").read_text() == "3 5 4\n"


def test_ssv2_flip_pairs_swap_left_and_right_only():
    classes = ["Pushing something from left to right", "Pushing something from right to left",
               "Moving something up", "Moving something down", "Turning the camera left while filming something"]
    # up/down is not a horizontal flip; a 'left' class without its 'right' twin keeps its label
    assert build_list.flip_pairs(classes) == {0: 1, 1: 0}


def test_ssv2_unknown_template_and_bad_files_are_one_line(ssv2, capsys):
    tmp_path, files, videos, _ = ssv2
    out = tmp_path / "lists"
    files["train"].write_text(json.dumps(TRAIN[:1] + [{"id": "5", "label": "throwing a ball",
                                                        "template": "Throwing [something] in the air",
                                                        "placeholders": ["a ball"]}]))
    assert build_list.main(_args(files, videos, out)) == 2
    assert capsys.readouterr().err == (f"error: {files['train']}: entry 1 (id 5): template 'Throwing [something] "
                                       f"in the air' is not a class of {files['labels']}\n")
    assert not out.exists()  # nothing written before the annotations are known to be good

    files["train"].write_text('[{"id": "12", "template": "Holding [something]"},\n{"id": }]')
    assert build_list.main(_args(files, videos, out)) == 2
    assert capsys.readouterr().err.startswith(f"error: {files['train']}:2: not valid JSON (")

    files["labels"].write_text(json.dumps({"Holding something": "0", "Pulling something": "2"}))
    assert build_list.main(_args(files, videos, out)) == 2
    assert capsys.readouterr().err == f"error: {files['labels']}: class indices must be 0..1 without gaps\n"

    assert build_list.main(["ssv2", str(videos), "--train_json", str(files["train"])]) == 2
    assert capsys.readouterr().err == "error: ssv2 needs --labels_json and --train_json\n"
