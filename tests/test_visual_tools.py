"""The visual outputs of the command lines: tools/visualize_cam.py, predict --save_video, main.py reports."""
import cv2
import numpy as np
import pytest

from _deploy_helpers import save_random_weights
from _tiny_training import make_demo, tiny_config, write_config
from paddlevideo_tsm.visual import cam_cli


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny demo set (8 frames of 40 px, 4 sampled, 32 px crops), its config and random weights."""
    root = tmp_path_factory.mktemp("visual")
    demo = make_demo(root / "demo", train=1, val=1, test=1)
    cfg = tiny_config(demo)
    cfg["DATASET"]["test"]["label_map"] = str(demo / "label_map.txt")
    config = write_config(root / "tiny.yaml", cfg)
    weights = save_random_weights(root / "w.pdparams", cfg)
    return {"root": root, "demo": demo, "cfg": cfg, "config": config, "weights": weights}


def run_cam(capsys, *args):
    capsys.readouterr()
    code = cam_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("extra", [[], ["--layer", "res3b", "--target_class", "5"],
                                   ["--override", "MODEL.backbone.shift_mode=online"]])
def test_visualize_cam_writes_a_grid_and_a_video(tiny, capsys, extra):
    out = tiny["root"] / f"cam{len(extra)}" / "clip.png"
    clip = tiny["demo"] / "frames" / "test" / "move_up_0000"
    code, stdout, err = run_cam(capsys, "-c", tiny["config"], "-w", tiny["weights"], "-i", clip, "-o", out, *extra)
    assert code == 0, err
    layer = "backbone.res3b" if extra[:1] == ["--layer"] else "backbone.res5b"
    assert f", layer {layer}" in stdout and f"wrote {out}" in stdout
    if "--target_class" in extra:
        assert stdout.startswith("class 5 shrink: p=")
    image = cv2.imread(str(out))
    # 4 tiles of 32 px crops shown at 5x (160 px), 4 px apart, below a two-line header
    assert image.shape[1] == 4 * 164 + 4 and image.shape[0] > 164
    cap = cv2.VideoCapture(str(out.with_suffix(".mp4")))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4 and cap.get(cv2.CAP_PROP_FPS) == 4.0
    cap.release()


def test_visualize_cam_errors_are_one_line(tiny, capsys):
    clip = tiny["demo"] / "frames" / "test" / "move_up_0000"
    base = ["-c", tiny["config"], "-w", tiny["weights"], "-i", clip]
    cases = [(["-o", tiny["root"] / "x.jpg"], f"error: -o {tiny['root'] / 'x.jpg'}: give the grid image's path, ending in .png"),
             (["-o", tiny["root"] / "x.png", "--layer", "res9"], "error: --layer res9: the model has no such sublayer;"),
             (["-o", tiny["root"] / "x.png", "--target_class", "8"], "error: --target_class 8: the model has classes 0..7"),
             (["-c", tiny["config"], "-w", tiny["weights"], "-i", tiny["root"] / "none", "-o", tiny["root"] / "x.png"],
              f"error: {tiny['root'] / 'none'}: input file not found")]
    for args, message in cases:
        code, _, err = run_cam(capsys, *(args if args[0] == "-c" else base + args))
        assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert not (tiny["root"] / "x.png").exists()
