"""Model files, parameters, label maps and numeric options that predict.py / predict_online.py /
export_model.py cannot use: one 'error:' line naming the file (or option), exit 2, no crash."""
import re
import shutil

import numpy as np
import pytest

from _deploy_helpers import NUM_CLASSES, call_tool, error_lines, save_random_weights, tiny_config, write_config

TOOLS = ("predict.py", "predict_online.py")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny exports with random weights: {'root', 'cfg', 'offline' (8 classes), 'json' (the same, PIR
    .json), 'online' (8 classes), 'five' (offline, 5 classes)} (model file paths)."""
    from paddlevideo_tsm.inference import export_cli

    root = tmp_path_factory.mktemp("deploy_checks")
    out = {"root": root}
    for name, num_classes, flags in (("offline", NUM_CLASSES, []), ("online", NUM_CLASSES, ["--online"]),
                                     ("five", 5, [])):
        cfg = tiny_config("NCHW")
        cfg["MODEL"]["head"]["num_classes"] = num_classes
        cfg_path = write_config(root / f"{name}.yaml", cfg)
        weights = save_random_weights(root / f"{name}.pdparams", cfg)
        assert export_cli.main(["-c", cfg_path, "-p", weights, "-o", str(root / name)] + flags) == 0
        out[name] = str(root / name / "tinytsm.pdmodel")
    cfg_path = str(root / "offline.yaml")
    assert export_cli.main(["-c", cfg_path, "-p", str(root / "offline.pdparams"), "-o", str(root / "json"),
                            "--format", "json"]) == 0
    out["json"] = str(root / "json" / "tinytsm.json")
    out["cfg"] = cfg_path
    return out


def tool_args(tool, models, model_file, *extra, params_file=None):
    """A command line of ``tool`` on ``model_file`` (predict_online: its 8-class online model's kind)."""
    args = ["-c", models["cfg"], "--model_file", model_file]
    args += ["-i", models["root"]] if tool == "predict.py" else ["--input_file", models["root"] / "none.avi"]
    if params_file:
        args += ["--params_file", params_file]
    return args + list(extra)


def model_of(tool, models):
    return models["offline" if tool == "predict.py" else "online"]


def damaged_copy(models, tool, name, content):
    """A model file ``name`` holding ``content`` next to a copy of the good export's params (and
    .online.json for the online tool, so that the model itself is read)."""
    good = model_of(tool, models)
    folder = models["root"] / f"damaged_{tool[:-3]}_{name.replace('.', '_')}"
    folder.mkdir(exist_ok=True)
    stem = name.rsplit(".", 1)[0]
    shutil.copy(good[: -len(".pdmodel")] + ".pdiparams", folder / f"{stem}.pdiparams")
    if tool == "predict_online.py":
        shutil.copy(good[: -len(".pdmodel")] + ".online.json", folder / f"{stem}.online.json")
    path = folder / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize("tool", TOOLS)
def test_garbage_pdmodel_is_one_line_not_a_segfault(models, tool):
    # Paddle Inference segfaulted (exit 139) on a .pdmodel that is not protobuf: run as a subprocess
    garbage = damaged_copy(models, tool, "garbage.pdmodel",
                           np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    code, _, err = call_tool(tool, tool_args(tool, models, garbage))
    assert code == 2, err[-2000:]
    assert error_lines(err) == [f"error: {garbage}: not a Paddle program (not a valid ProgramDesc protobuf); "
                                f"re-export the model"]
    assert "Traceback" not in err and "SIGSEGV" not in err


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name,content,reason", [
    ("cut.pdmodel", None, "not a Paddle program (not a valid ProgramDesc protobuf)"),
    ("cut.json", b'{"base_code": {"magic": "pir"}, "program": {"regions": [', "not a Paddle PIR program (not valid JSON"),
    ("other.json", b'{"model": "not a program"}', "not a Paddle PIR program (no 'program' with base_code magic 'pir')"),
])
def test_damaged_model_file(models, capsys, tool, name, content, reason):
    if content is None:  # the good export cut at a third
        data = open(model_of(tool, models), "rb").read()
        content = data[: len(data) // 3]
    path = damaged_copy(models, tool, name, content)
    code, _, err = call_tool(tool, tool_args(tool, models, path), capsys)
    assert code == 2
    (line,) = error_lines(err)
    assert line.startswith(f"error: {path}: {reason}") and line.endswith("re-export the model")


@pytest.mark.parametrize("tool,other", [("predict.py", "five"), ("predict.py", "twice"),
                                        ("predict_online.py", "five"), ("predict.py", "json")])
def test_params_of_another_model(models, capsys, tool, other):
    # Paddle loaded them without a word and failed inside a kernel ('could not reshape a memory
    # descriptor') or with a traceback; now both files are named in one line
    model_file = models["json"] if other == "json" else model_of(tool, models)
    params = models["five"][: -len(".pdmodel")] + ".pdiparams"  # a 5-class export's, for 8 classes
    if other == "twice":  # a params file of a bigger network: here the 8-class tensors twice over
        own = open(model_file.rsplit(".", 1)[0] + ".pdiparams", "rb").read()
        params = str(models["root"] / "twice.pdiparams")
        open(params, "wb").write(own + own)
    code, _, err = call_tool(tool, tool_args(tool, models, model_file, params_file=params), capsys)
    assert code == 2
    (line,) = error_lines(err)
    if other == "twice":
        assert line == (f"error: {params}: holds 204 tensors but the model {model_file} has 102 "
                        f"parameters: the two files come from different exports")
    else:
        assert re.fullmatch(rf"error: {re.escape(params)}: parameter \S+ has shape \[[\d, ]+\] but the model "
                            rf"{re.escape(model_file)} needs \[[\d, ]+\]: the two files come from "
                            rf"different exports", line), line


def test_damaged_params_file(models, capsys):
    good = models["offline"][: -len(".pdmodel")] + ".pdiparams"
    data = open(good, "rb").read()
    cut = models["root"] / "cut.pdiparams"
    cut.write_bytes(data[: len(data) - 100])
    code, _, err = call_tool("predict.py", tool_args("predict.py", models, models["offline"], params_file=cut), capsys)
    assert code == 2
    (line,) = error_lines(err)
    assert line == f"error: {cut}: damaged parameters file (truncated in tensor 102)"
    info = models["offline"][: -len(".pdmodel")] + ".pdiparams.info"  # Paddle's pickle, not tensors
    code, _, err = call_tool("predict.py", tool_args("predict.py", models, models["offline"], params_file=info), capsys)
    assert error_lines(err) == [f"error: {info}: not a Paddle parameters file, or damaged (tensor 1 unreadable)"]


@pytest.mark.parametrize("kind", ["offline", "json"])
def test_params_shapes_read_from_the_file_match_the_weights(models, kind):
    # the header reader against the weights that were exported (shapes by sorted parameter name)
    import paddle
    from paddlevideo_tsm.inference.model_file import read_params_shapes, read_program

    program = read_program(models[kind])
    shapes = read_params_shapes(models[kind].rsplit(".", 1)[0] + ".pdiparams")
    assert len(shapes) == 102 and shapes == [shape for _, shape in program.params]
    weights = paddle.load(str(models["root"] / "offline.pdparams"))
    assert sorted(map(tuple, shapes)) == sorted(tuple(v.shape) for v in weights.values())
    assert program.inputs == [("data_batch_0", [1, 8, 3, 64, 64])]
    assert [shape for _, shape in program.outputs] == [[1, NUM_CLASSES]]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("count", [5, NUM_CLASSES + 1])
def test_label_map_size_checked_against_the_model(models, capsys, tool, count):
    labels = models["root"] / f"labels_{count}.txt"
    labels.write_text("".join(f"{i} class_{i}\n" for i in range(count)))
    model_file = model_of(tool, models)
    code, _, err = call_tool(tool, tool_args(tool, models, model_file, "--label_map", labels), capsys)
    assert code == 2
    assert error_lines(err) == [f"error: {labels}: {count} class names, but the model {model_file} has "
                                f"{NUM_CLASSES} classes; use the label map the model was trained with"]


BAD_NUMBERS = [
    ("predict.py", "--batch_size", "0", "must be >= 1, got 0"),
    ("predict.py", "--batch_size", "-5", "must be >= 1, got -5"),
    ("predict.py", "--top_k", "0", "must be >= 1, got 0"),
    ("predict.py", "--top_k", "two", "expected an int, got 'two'"),
    ("predict.py", "--cpu_threads", "0", "must be >= 1, got 0"),
    ("predict.py", "--gpu_mem", "-1", "must be >= 1, got -1"),
    ("export_model.py", "--batch_size", "0", "must be >= 1 or -1, got 0"),
    ("export_model.py", "--batch_size", "-2", "must be >= 1 or -1, got -2"),
    ("export_model.py", "--num_seg", "0", "must be >= 1, got 0"),
    ("export_model.py", "--img_size", "-3", "must be >= 1, got -3"),
    ("predict_online.py", "--stride", "0", "must be >= 1, got 0"),
    ("predict_online.py", "--window", "0", "must be >= 1, got 0"),
    ("predict_online.py", "--interval", "-1", "must be >= 0, got -1"),
    ("predict_online.py", "--top_k", "0", "must be >= 1, got 0"),
    ("predict_online.py", "--max_frames", "0", "must be >= 1, got 0"),
    ("predict_online.py", "--cpu_threads", "0", "must be >= 1, got 0"),
    ("predict_online.py", "--smooth", "1.5", "must be in [0.0, 1.0), got 1.5"),
    ("predict_online.py", "--camera", "-1", "must be >= 0, got -1"),
]


@pytest.mark.parametrize("tool,flag,value,message", BAD_NUMBERS)
def test_numeric_options_out_of_range(tmp_path, capsys, tool, flag, value, message):
    cfg_path = write_config(tmp_path / "cfg.yaml", tiny_config())
    base = {"predict.py": ["-i", tmp_path, "-c", cfg_path, "--model_file", tmp_path / "m.pdmodel"],
            "export_model.py": ["-c", cfg_path, "-o", tmp_path / "out"],
            "predict_online.py": ["-c", cfg_path, "--model_file", tmp_path / "m.pdmodel"]
            + ([] if flag == "--camera" else ["--input_file", tmp_path / "v.avi"])}[tool]
    code, out, err = call_tool(tool, base + [flag, value], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: argument {flag}: {message} (see "), lines
    assert not (tmp_path / "out").exists()


def test_onednn_switch_spellings():
    import argparse

    from paddlevideo_tsm import cli_args

    parser = cli_args.ArgumentParser()
    cli_args.add_cpu_args(parser)
    assert parser.parse_args([]).enable_mkldnn is True
    assert parser.parse_args(["--enable_mkldnn", "False"]).enable_mkldnn is False
    assert parser.parse_args(["--enable_mkldnn"]).enable_mkldnn is True
    for old in ("--disable_mkldnn", "--no_mkldnn"):  # earlier spellings, unlisted
        assert parser.parse_args([old]).enable_mkldnn is False
        assert old not in parser.format_help()
    with pytest.raises(argparse.ArgumentTypeError):
        cli_args.str2bool("maybe")


def test_online_config_of_another_frame_size(models, capsys, shared_data):
    # a config whose PIPELINE.test crops 32 px for a model exported at 64 px: was a ValueError traceback
    cfg_path = write_config(models["root"] / "size32.yaml", tiny_config("NCHW", size=32))
    args = ["-c", cfg_path, "--model_file", models["online"], "--input_file", shared_data / "videos" / "example.avi"]
    code, _, err = call_tool("predict_online.py", args, capsys)
    assert code == 2
    assert error_lines(err) == [f"error: {models['online']}: frame shape [1, 3, 32, 32] does not match the model "
                                f"input [1, 3, 64, 64]; preprocess with the config the model was exported from"]


def test_online_unreadable_video_named_once(models, capsys):
    video = models["root"] / "noise.avi"
    video.write_bytes(np.random.default_rng(2).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    args = ["-c", models["cfg"], "--model_file", models["online"], "--input_file", video]
    code, _, err = call_tool("predict_online.py", args, capsys)
    assert code == 2
    assert error_lines(err) == [f"error: {video}: cannot open video (neither OpenCV nor decord can read it)"]
