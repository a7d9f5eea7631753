"""Bad requests and bad inputs of export/predict: one clear line, the right exit code, the rest still run."""
import os

import numpy as np
import pytest

from _deploy_helpers import (NUM_SEG, RAWFRAMES, SHARED_DATA, SIZE, VIDEOS, call_tool,
                             error_lines, read_jsonl, save_random_weights, tiny_config, write_config)
from paddlevideo_tsm.errors import InferenceError
from paddlevideo_tsm.inference.inputs import expand_inputs
from paddlevideo_tsm.inference.postprocess import softmax, top_k, video_probabilities
from paddlevideo_tsm.inference.predictor import check_input_shape, run_batched
from paddlevideo_tsm.cli_args import str2bool

HAVE_MEDIA = (VIDEOS / "example.avi").is_file() and RAWFRAMES.is_dir()
needs_media = pytest.mark.skipif(not HAVE_MEDIA, reason=f"shared media not found in {SHARED_DATA}")


def _cuda():
    import paddle
    return paddle.is_compiled_with_cuda()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(root, config path, model file) of a tiny NCHW export with random weights."""
    from paddlevideo_tsm.inference import export_cli

    root = tmp_path_factory.mktemp("deploy_err")
    cfg = tiny_config("NCHW")
    cfg_path = write_config(root / "cfg.yaml", cfg)
    weights = save_random_weights(root / "w.pdparams", cfg)
    assert export_cli.main(["-c", cfg_path, "-p", weights, "-o", str(root / "m")]) == 0
    return root, cfg_path, str(root / "m" / "tinytsm.pdmodel")


@pytest.mark.skipif(_cuda(), reason="this Paddle build has CUDA: the CPU-build message does not apply")
def test_tensorrt_on_cpu_build_is_one_line_exit_2(tmp_path):
    cfg_path = write_config(tmp_path / "cfg.yaml", tiny_config())
    code, out, err = call_tool("predict.py", ["-i", tmp_path, "-c", cfg_path, "--model_file", "none.pdmodel",
                                              "--use_gpu", "True", "--use_tensorrt", "True"])
    assert code == 2
    assert "Traceback" not in err
    lines = error_lines(err)
    assert len(lines) == 1
    assert lines[0].startswith("error: --use_tensorrt True: this PaddlePaddle ")
    assert "build has no CUDA (paddle.is_compiled_with_cuda() is False)" in lines[0]


@pytest.mark.skipif(_cuda(), reason="this Paddle build has CUDA")
def test_use_gpu_on_cpu_build(tmp_path, capsys):
    cfg_path = write_config(tmp_path / "cfg.yaml", tiny_config())
    code, _, err = call_tool("predict.py", ["-i", tmp_path, "-c", cfg_path, "--model_file", "x.pdmodel",
                                            "--use_gpu=True"], capsys)
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith("error: --use_gpu True: ") and "no CUDA" in lines[0]


def test_missing_model_file(tmp_path, capsys):
    cfg_path = write_config(tmp_path / "cfg.yaml", tiny_config())
    missing = tmp_path / "nope" / "model.pdmodel"
    code, out, err = call_tool("predict.py", ["-i", tmp_path, "-c", cfg_path, "--model_file", missing], capsys)
    assert code == 2
    assert error_lines(err) == [f"error: {missing}: model file not found"]
    assert "input:" not in out


def test_missing_input_file(exported, capsys):
    root, cfg_path, model_file = exported
    missing = root / "no_such_video.avi"
    code, out, err = call_tool("predict.py", ["-i", missing, "-c", cfg_path, "--model_file", model_file], capsys)
    assert code == 2
    assert error_lines(err) == [f"error: {missing}: input file not found"]


@needs_media
def test_corrupt_video_in_list_others_still_predicted(exported):
    root, cfg_path, model_file = exported
    corrupt = root / "corrupt.avi"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    missing = root / "gone.avi"
    good = [str(VIDEOS / "example.avi"), str(RAWFRAMES)]
    listing = root / "list.txt"
    listing.write_text("\n".join([good[0], str(corrupt), str(missing), good[1]]) + "\n")
    jsonl = root / "out.jsonl"
    code, out, err = call_tool("predict.py", ["-i", listing, "-c", cfg_path, "--model_file", model_file,
                                              "--output", jsonl, "--top_k", 3])  # subprocess: exit code
    assert code == 1
    assert [r["input"] for r in read_jsonl(jsonl)] == good
    assert all(len(r["class_ids"]) == 3 for r in read_jsonl(jsonl))
    assert [line.split(" top-1")[0] for line in out.splitlines() if line.startswith("input: ")] == \
        [f"input: {g}" for g in good]
    lines = error_lines(err)
    assert lines[0].startswith(f"error: {corrupt}: ") and len(lines[0]) < 400
    assert lines[1] == f"error: {missing}: input file not found"
    assert lines[2] == "error: 2 of 4 inputs failed"
    assert "Traceback" not in err


@needs_media
@pytest.mark.parametrize("flag,value,shape", [("--num_seg", 4, [1, 4, 3, SIZE, SIZE]),
                                              ("--img_size", 96, [1, NUM_SEG, 3, 96, 96])])
def test_model_exported_for_other_shape(exported, capsys, flag, value, shape):
    from paddlevideo_tsm.inference import export_cli

    root, cfg_path, _ = exported
    out_dir = root / f"other{value}"
    assert export_cli.main(["-c", cfg_path, "-o", str(out_dir), flag, str(value)]) == 0
    code, out, err = call_tool("predict.py", ["-i", VIDEOS / "example.avi", "-c", cfg_path,
                                              "--model_file", out_dir / "tinytsm.pdmodel"], capsys)
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1
    assert f"exported for input {shape} but the config gives ['B', {NUM_SEG}, 3, {SIZE}, {SIZE}]" in lines[0]


@needs_media
def test_failed_input_names_its_path_once(exported, capsys):
    # the loader's message starts with the path it opened; the line said it twice
    # ('error: X: X: cannot open video') or the given path and then the resolved one
    root, cfg_path, model_file = exported
    corrupt = root / "broken.avi"
    corrupt.write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    frames = root / "frames_bad"
    frames.mkdir()
    (frames / "img_00001.jpg").write_bytes(b"not a jpeg")
    listing = root / "relative.txt"
    listing.write_text("broken.avi\nframes_bad\n")  # relative to the list's folder
    for given, inputs in ((str(corrupt), corrupt), ("broken.avi", listing)):
        code, _, err = call_tool("predict.py", ["-i", inputs, "-c", cfg_path, "--model_file", model_file], capsys)
        line = error_lines(err)[0]
        assert line.startswith(f"error: {given}: ") and not line.startswith(f"error: {given}: {corrupt}"), line
        assert not line.startswith(f"error: {given}: {given}"), line
    # a frame folder's error names the frame inside it, under the folder's name as given
    assert error_lines(err)[1].startswith("error: frames_bad/img_00001.jpg: "), err


@pytest.mark.skipif(_cuda(), reason="this Paddle build has CUDA")
def test_half_precision_needs_tensorrt(exported, capsys):
    root, cfg_path, model_file = exported
    code, _, err = call_tool("predict.py", ["-i", root, "-c", cfg_path, "--model_file", model_file,
                                            "--precision", "fp16"], capsys)
    assert code == 2
    assert error_lines(err) == ["error: --precision fp16 needs --use_tensorrt True; Paddle Inference on CPU "
                                "runs this model in fp32"]


def test_precision_table_per_engine():
    from paddlevideo_tsm.inference.paddle_config import ENGINE_PRECISIONS, PRECISIONS, check_precision

    assert PRECISIONS == ("fp32", "fp16", "int8")
    for engine, table in ENGINE_PRECISIONS.items():
        for precision in PRECISIONS:
            if precision in table:
                check_precision(precision, engine)
            else:
                with pytest.raises(InferenceError, match=f"--precision {precision} needs --use_tensorrt True"):
                    check_precision(precision, engine)
    with pytest.raises(InferenceError, match="--precision must be one of fp32, fp16, int8, got 'bf8'"):
        check_precision("bf8", "cpu")


def test_export_missing_weights_file(tmp_path, capsys):
    cfg_path = write_config(tmp_path / "cfg.yaml", tiny_config())
    code, _, err = call_tool("export_model.py", ["-c", cfg_path, "-p", tmp_path / "w.pdparams",
                                                 "-o", tmp_path / "out"], capsys)
    assert code == 2
    assert error_lines(err) == [f"error: {tmp_path / 'w.pdparams'}: weights file not found"]


def test_export_override_and_bad_override(tmp_path, capsys):
    cfg_path = write_config(tmp_path / "cfg.yaml", tiny_config())
    code, _, err = call_tool("export_model.py", ["-c", cfg_path, "-o", tmp_path / "out",
                                                 "-o", "MODEL.backbone.depth=abc"], capsys)
    assert code == 2
    assert len(error_lines(err)) == 1 and "MODEL.backbone.depth" in err


# ---- pure helpers, against closed forms -------------------------------------------------------

def test_check_input_shape():
    check_input_shape([-1, 8, 3, 64, 64], [-1, 8, 3, 64, 64], "m")
    check_input_shape([4, 8, 3, 64, 64], [-1, 8, 3, 64, 64], "m")  # fixed batch is padded, not an error
    check_input_shape(None, [-1, 8, 3, 64, 64], "m")  # unreadable: no check
    for bad in ([-1, 4, 3, 64, 64], [-1, 8, 64, 64, 3], [-1, 8, 3, 64]):
        with pytest.raises(InferenceError, match="m: exported for input"):
            check_input_shape(bad, [-1, 8, 3, 64, 64], "m")


def test_postprocess_matches_closed_form():
    logits = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]])  # two views, three classes
    mean = np.array([2.0, 1.0, 0.0])
    want = np.exp(mean) / np.exp(mean).sum()
    np.testing.assert_allclose(video_probabilities(logits), want, rtol=1e-12)
    np.testing.assert_allclose(softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])  # no overflow
    ids, probs = top_k(want, 2)
    assert ids == [0, 1] and probs == pytest.approx(list(want[:2]))
    assert top_k(want, 10)[0] == [0, 1, 2]


class _FixedBatchModel:
    """A fake predictor with a fixed batch 4: row scores = [sum, max] of the row; counts its runs."""

    input_shapes = [[4, 2, 3]]

    def __init__(self):
        self.batches = []

    def run(self, inputs):
        (x,) = inputs
        assert x.shape[0] == 4
        self.batches.append(x.shape[0])
        flat = x.reshape(len(x), -1)
        return [np.stack([flat.sum(1), flat.max(1)], axis=1)]


def test_run_batched_pads_fixed_batch():
    x = np.random.default_rng(1).normal(size=(6, 2, 3)).astype(np.float32)
    fake = _FixedBatchModel()
    got = run_batched(fake, x)
    want = np.stack([x.reshape(6, -1).sum(1), x.reshape(6, -1).max(1)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert fake.batches == [4, 4]


def test_expand_inputs(tmp_path):
    (tmp_path / "b_frames").mkdir()
    (tmp_path / "b_frames" / "img_00001.jpg").write_bytes(b"x")
    (tmp_path / "a.avi").write_bytes(b"x")
    (tmp_path / "notes.md").write_text("not an input")
    (tmp_path / "empty").mkdir()
    items = expand_inputs(str(tmp_path))
    assert [(os.path.basename(i.path), i.kind) for i in items] == [("a.avi", "video"), ("b_frames", "frame")]
    listing = tmp_path / "list.txt"
    # a PaddleVideo list line keeps its path; relative paths resolve next to the list
    listing.write_text("a.avi 3\n# comment\n\nb_frames 10 1\nmissing.mp4\n")
    items = expand_inputs(str(listing))
    assert [i.given for i in items] == ["a.avi", "b_frames", "missing.mp4"]
    assert [i.kind for i in items] == ["video", "frame", None]
    assert items[0].path == str(tmp_path / "a.avi") and items[2].error == "input file not found"
    assert expand_inputs(str(tmp_path / "empty"))[0].error == "folder holds no videos or frame folders"


def test_boolean_flags():
    assert [str2bool(v) for v in ("True", "false", "1", "No")] == [True, False, True, False]
    from argparse import ArgumentTypeError
    with pytest.raises(ArgumentTypeError):
        str2bool("maybe")


def test_load_views_stacks_clips_then_crops():
    from paddlevideo_tsm.loader.views import load_views

    def fake_pipeline(results):
        # clip k -> 2 crops [2, T=3, 1, 1, 1] filled with 10*k + crop
        k = results["clip_idx"]
        assert results["num_clips"] == 3 and results["filename"] == "v.avi"
        return {"imgs": np.stack([np.full((3, 1, 1, 1), 10 * k + c, np.uint8) for c in range(2)])}

    views = load_views(fake_pipeline, {"filename": "v.avi"}, num_clips=3)
    assert views.dtype == np.float32 and views.shape == (6, 3, 1, 1, 1)
    assert views[:, 0, 0, 0, 0].tolist() == [0, 1, 10, 11, 20, 21]
    single = load_views(lambda r: {"imgs": np.zeros((3, 2, 2, 2))}, {"filename": "v"}, num_clips=1)
    assert single.shape == (1, 3, 2, 2, 2)


def test_views_per_video():
    from paddlevideo_tsm.inference.preprocess import views_per_video

    cfg = tiny_config(num_clips=2)
    assert views_per_video(cfg) == 2
    cfg["PIPELINE"]["test"]["transform"][1] = {"TenCrop": {"target_size": SIZE}}
    assert views_per_video(cfg) == 20
    cfg["PIPELINE"]["test"]["transform"][1] = {"name": "ThreeCrop", "target_size": SIZE}
    cfg["DATASET"]["test"].pop("num_clips")
    assert views_per_video(cfg) == 3
