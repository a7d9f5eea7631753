"""Low-precision CPU inference: bf16 requests, int8 models written by tools/quantize.py (Paddle PTQ and
ONNX Runtime), their recognition by the predictors, and the one-line errors around them."""
import hashlib
import importlib.util
import os

import numpy as np
import pytest

from _deploy_helpers import (NUM_CLASSES, call_tool, error_lines, read_jsonl, run_tool, save_random_weights,
                             tiny_config, write_config)

SIZE = 32
# int8 against fp32 on the tiny random-weight model: largest logit change / largest fp32 logit.
# Measured 2-6 % (Paddle oneDNN int8, ONNX Runtime int8); a broken int8 path (wrong scales, the
# fake-quant ops dropped, uint8 overflow) moves the logits by far more than that
INT8_TOLERANCE = 0.15


def _onnx_quantization_missing():
    return [m for m in ("paddle2onnx", "onnxruntime", "ml_dtypes") if importlib.util.find_spec(m) is None]


@pytest.fixture(scope="module")
def lowp(tmp_path_factory):
    """A tiny TSM with random weights: demo clips in a valid and a test list, its float exports
    (clip and online) and the clip export quantized by tools/quantize.py (8 calibration clips;
    with --onnx where ONNX Runtime's quantization is installed)."""
    from paddlevideo_tsm.demo_data import make_clip, write_frames
    from paddlevideo_tsm.inference import export_cli, quantize_cli

    root = tmp_path_factory.mktemp("lowp")
    for split, seed in (("val", 100), ("test", 200)):
        lines = []
        for label in range(NUM_CLASSES):
            write_frames(str(root / split / f"c{label}"), make_clip(label, seed + label, frames=8, size=40).frames)
            lines.append(f"{split}/c{label} 8 {label}")
        (root / f"{split}.list").write_text("\n".join(lines) + "\n")
    cfg = tiny_config(size=SIZE, num_clips=1, decoder="FrameDecoder")
    for split, name in (("valid", "val"), ("test", "test")):
        cfg["DATASET"][split] = {"format": "FrameDataset", "data_prefix": str(root), "file_path": str(root / f"{name}.list")}
    cfg_path = write_config(root / "cfg.yaml", cfg)
    weights = save_random_weights(root / "w.pdparams", cfg)
    assert export_cli.main(["-c", cfg_path, "-p", weights, "-o", str(root / "float")]) == 0
    assert export_cli.main(["-c", cfg_path, "-p", weights, "-o", str(root / "online"), "--online"]) == 0
    float_model = str(root / "float" / "tinytsm.pdmodel")
    onnx = [] if _onnx_quantization_missing() else ["--onnx"]  # one calibration run for both engines
    assert quantize_cli.main(["-c", cfg_path, "--model_file", float_model, "--calib_clips", "8",
                              "-o", str(root / "int8")] + onnx) == 0
    return {"root": root, "cfg": cfg_path, "config": cfg, "float": float_model,
            "int8": str(root / "int8" / "tinytsm_int8.pdmodel"), "online": str(root / "online" / "tinytsm.pdmodel")}


def _test_clips(lowp):
    from paddlevideo_tsm.inference.calibration import load_list_clips
    clips = load_list_clips(dict(lowp["config"], _path=lowp["cfg"]), None, ("test",))
    return np.concatenate(clips.views)


def _params(model_file):
    from paddlevideo_tsm.inference.model_file import params_file_for
    return params_file_for(str(model_file))


def _logit_change(reference, other):
    return float(np.abs(other - reference).max() / np.abs(reference).max())


def _run_clips(predictor, clips):
    from paddlevideo_tsm.inference.predictor import run_batched
    return run_batched(predictor, clips)


def test_quantized_model_is_recognised_and_its_params_pass_the_check(lowp):
    from paddlevideo_tsm.inference.model_file import check_model_files, params_file_for, read_program

    assert read_program(lowp["float"]).quant_ops == 0 and not read_program(lowp["float"]).quantized
    program = check_model_files(lowp["int8"], params_file_for(lowp["int8"]))  # refused its scale shapes before
    assert program.quantized and program.quant_ops > 20, program.quant_ops
    # the int8 params hold int8 weights: well under half the float file
    assert os.path.getsize(params_file_for(lowp["int8"])) < 0.5 * os.path.getsize(params_file_for(lowp["float"]))


def test_params_check_still_catches_other_shapes():
    from paddlevideo_tsm.inference.model_file import _same_shape

    assert _same_shape([1], []) and _same_shape([16], [1, 16]) and _same_shape([3, 3], [3, 3])
    assert not _same_shape([16], [32]) and not _same_shape([16, 3], [3, 16]) and not _same_shape([2], [])


def test_int8_predictor_matches_fp32_within_tolerance(lowp):
    from paddlevideo_tsm.inference.predictor import PaddlePredictor

    clips = _test_clips(lowp)
    fp32 = PaddlePredictor(lowp["float"], _params(lowp["float"]), cpu_threads=1)
    int8 = PaddlePredictor(lowp["int8"], _params(lowp["int8"]), cpu_threads=1)
    assert (fp32.precision, int8.precision) == ("fp32", "int8")  # the model decides when not asked
    reference, scores = _run_clips(fp32, clips), _run_clips(int8, clips)
    assert _logit_change(reference, scores) < INT8_TOLERANCE
    assert (reference.argmax(1) == scores.argmax(1)).mean() >= 7 / 8
    # not fp32 in disguise: the int8 kernels change the logits a little
    assert _logit_change(reference, scores) > 1e-4


def test_int8_config_keeps_the_residual_add_in_fp32(lowp, capfd):
    # oneDNN's own census says what its int8 passes did: the project's config quantizes the convs
    # and fuses no residual add into them; Paddle's default int8 config (every op) does
    import re

    import paddle.inference as paddle_infer
    from paddlevideo_tsm.inference.paddle_config import make_config

    def census(config):
        capfd.readouterr()
        paddle_infer.create_predictor(config)
        err = capfd.readouterr().err
        return {m.group(2): int(m.group(1)) for m in re.finditer(r"quantized (\d+) (fused_conv2d ops( with "
                                                                   r"residual connection)?)", err)}

    ours = census(make_config(lowp["int8"], _params(lowp["int8"]), precision="int8", cpu_threads=1))
    assert ours["fused_conv2d ops"] > 0 and ours["fused_conv2d ops with residual connection"] == 0, ours
    default = make_config(lowp["int8"], _params(lowp["int8"]), precision="fp32", cpu_threads=1)
    default.enable_mkldnn_int8()
    assert census(default)["fused_conv2d ops with residual connection"] > 0


def test_predict_runs_a_quantized_model_in_int8(lowp, tmp_path, capsys):
    outs = {}
    for name in ("float", "int8"):
        out = tmp_path / f"{name}.jsonl"
        code, stdout, err = call_tool("predict.py", ["-i", lowp["root"] / "test.list", "-c", lowp["cfg"],
                                                     "--model_file", lowp[name], "--top_k", NUM_CLASSES,
                                                     "--output", out, "--enable_benchmark"], capsys)
        assert code == 0, err
        assert f"(paddle {'int8' if name == 'int8' else 'fp32'}, batch 1)" in stdout
        assert "quantized" not in err  # oneDNN's pass census is held back
        outs[name] = [r["class_ids"][0] for r in read_jsonl(out)]
    # the random-weight logits are large, so softmax turns small logit changes into large probability
    # changes: compare the top-1 classes here (the logits: test_int8_predictor_matches_fp32...)
    assert len(outs["int8"]) == NUM_CLASSES
    assert np.mean(np.array(outs["int8"]) == np.array(outs["float"])) >= 7 / 8


@pytest.mark.parametrize("tool", ["predict.py", "predict_online.py"])
def test_int8_with_a_float_model_says_to_quantize(lowp, tool, capsys):
    model = lowp["float"] if tool == "predict.py" else lowp["online"]
    source = ["-i", lowp["root"] / "test.list"] if tool == "predict.py" else ["--input_file", lowp["root"] / "x.avi"]
    code, _, err = call_tool(tool, source + ["-c", lowp["cfg"], "--model_file", model, "--precision", "int8"], capsys)
    assert code == 2
    assert error_lines(err) == [f"error: --precision int8: {model} is a float model; quantize it first with python "
                                f"tools/quantize.py -c CONFIG --model_file {model} --calib_clips 32 -o OUT_DIR, "
                                f"then predict with the model it writes"]


def test_bf16_with_tensorrt_says_what_to_do(lowp, capsys):
    code, _, err = call_tool("predict.py", ["-i", lowp["root"] / "test.list", "-c", lowp["cfg"], "--model_file",
                                            lowp["float"], "--precision", "bf16", "--use_gpu", "True",
                                            "--use_tensorrt", "True"], capsys)
    assert code == 2
    assert error_lines(err) == ["error: --precision bf16 runs on CPU only (oneDNN): drop --use_gpu/--use_tensorrt, "
                                "or use --precision fp16 with TensorRT"]


def _bf16_support(monkeypatch, level):
    from paddlevideo_tsm.inference import cpu_features
    monkeypatch.setattr(cpu_features, "bf16_support", lambda: level)


def test_bf16_without_avx512_is_refused_not_run_as_fp32(lowp, monkeypatch, capsys):
    # Paddle switches bf16 off without a word on such a CPU: the request is refused instead
    _bf16_support(monkeypatch, "none")
    for tool, source in (("predict.py", ["-i", lowp["root"] / "test.list"]),
                         ("predict_online.py", ["--input_file", lowp["root"] / "x.avi"])):
        model = lowp["float"] if tool == "predict.py" else lowp["online"]
        code, _, err = call_tool(tool, source + ["-c", lowp["cfg"], "--model_file", model, "--precision", "bf16"],
                                 capsys)
        assert code == 2
        [line] = error_lines(err)
        assert line.startswith("error: --precision bf16: this CPU (") and "silently run fp32" in line, line
        assert "use --precision int8 with a model from tools/quantize.py" in line


def test_bf16_support_follows_paddles_probes(monkeypatch):
    from paddle.base import core
    from paddlevideo_tsm.inference import cpu_features

    for native, avx512, expected in ((True, True, "native"), (False, True, "emulated"), (False, False, "none")):
        monkeypatch.setattr(core, "supports_bfloat16_fast_performance", lambda: native)
        monkeypatch.setattr(core, "supports_bfloat16", lambda: avx512)
        assert cpu_features.bf16_support() == expected


@pytest.mark.parametrize("level", ["emulated", "native"])
def test_bf16_runs_close_to_fp32_where_the_cpu_has_it(lowp, monkeypatch, warnings_seen, level):
    # on a CPU without AVX-512 Paddle still computes fp32 here; on a bf16 CPU this checks bf16 itself
    from paddlevideo_tsm.inference.predictor import PaddlePredictor

    _bf16_support(monkeypatch, level)
    params = _params(lowp["float"])
    bf16 = PaddlePredictor(lowp["float"], params, cpu_threads=1, precision="bf16")
    fp32 = PaddlePredictor(lowp["float"], params, cpu_threads=1)
    clips = _test_clips(lowp)[:2]
    assert bf16.precision == "bf16"
    assert _logit_change(_run_clips(fp32, clips), _run_clips(bf16, clips)) < 0.05
    emulation = [w for w in warnings_seen if "Paddle emulates bf16, expect it slower than fp32" in w]
    assert len(emulation) == (level == "emulated"), warnings_seen


def test_quantized_model_in_another_precision(lowp, warnings_seen):
    from paddlevideo_tsm.errors import InferenceError
    from paddlevideo_tsm.inference.predictor import PaddlePredictor

    params = _params(lowp["int8"])
    with pytest.raises(InferenceError, match=r"--precision bf16: .*tinytsm_int8.pdmodel is quantized \(int8\); "
                                             r"use the float export for bf16"):
        PaddlePredictor(lowp["int8"], params, precision="bf16")
    simulated = PaddlePredictor(lowp["int8"], params, precision="fp32", cpu_threads=1)
    assert simulated.precision == "fp32"
    assert any("computes its quantization ops in float" in w for w in warnings_seen), warnings_seen


def _digest(folder):
    return {p: hashlib.sha256((folder / p).read_bytes()).hexdigest() for p in sorted(os.listdir(folder))}


def test_quantize_never_overwrites(lowp, capsys):
    folder = lowp["root"] / "int8"
    before = _digest(folder)
    code, _, err = call_tool_quantize(["-c", lowp["cfg"], "--model_file", lowp["float"], "--calib_clips", "1",
                                       "-o", folder], capsys)
    assert code == 2
    assert error_lines(err) == [f"error: {folder / 'tinytsm_int8.pdmodel'}: exists; tools/quantize.py never "
                                f"overwrites a file: remove it or choose another -o folder"]
    assert _digest(folder) == before


def call_tool_quantize(args, capsys):
    from paddlevideo_tsm.inference import quantize_cli
    capsys.readouterr()
    code = quantize_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_quantize_refuses_what_it_cannot_quantize(lowp, tmp_path, capsys):
    from paddlevideo_tsm.inference import export_cli

    cases = []
    assert export_cli.main(["-c", lowp["cfg"], "-o", str(tmp_path / "json"), "--format", "json"]) == 0
    json_model = tmp_path / "json" / "tinytsm.json"
    cases.append((["--model_file", json_model],
                  f"error: {json_model}: tools/quantize.py needs a .pdmodel export (Paddle's quantization reads "
                  f"the old program format): export with --format pdmodel"))
    cases.append((["--model_file", lowp["int8"]], f"error: {lowp['int8']}: already quantized"))
    no_lists = dict(lowp["config"], DATASET={"batch_size": 1})
    cases.append((["-c", write_config(tmp_path / "nolist.yaml", no_lists), "--model_file", lowp["float"]],
                  f"error: {tmp_path / 'nolist.yaml'}: no DATASET.valid.file_path or DATASET.test.file_path "
                  f"to take clips from"))
    for extra, expected in cases:
        args = ["-c", lowp["cfg"]] + [a for a in extra] + ["-o", tmp_path / "out"]
        code, _, err = call_tool_quantize(args, capsys)
        assert code == 2, err
        [line] = error_lines(err)
        assert line.startswith(expected), line
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_quantize_takes_o_key_value_as_an_override(lowp, tmp_path, monkeypatch, capsys):
    # as in tools/export_model.py: -o KEY=VALUE sets a config key (it once became an output folder
    # named after it); a data_prefix where nothing loads stops with one line, nothing written
    monkeypatch.chdir(tmp_path)
    val_list = lowp["config"]["DATASET"]["valid"]["file_path"]
    code, _, err = call_tool_quantize(["-c", lowp["cfg"], "--model_file", lowp["float"], "-o", tmp_path / "out",
                                       "-o", f"DATASET.valid.data_prefix={tmp_path / 'nowhere'}"], capsys)
    assert code == 2, err
    [line] = error_lines(err)
    assert line.startswith(f"error: {val_list}:") and "frame folder not found" in line, line
    assert "none of the first 5 entries of DATASET.valid tried loaded: check DATASET.valid.file_path and " \
           "data_prefix" in line, line
    assert os.listdir(tmp_path) == []


def test_calibration_list_skips_bad_entries_and_stops_on_a_wrong_list(lowp, tmp_path, warnings_seen):
    from paddlevideo_tsm.errors import DataError
    from paddlevideo_tsm.inference import calibration

    good = (lowp["root"] / "val.list").read_text().splitlines()
    bad = [f"missing/c{i} 8 {i}" for i in range(3)]
    (tmp_path / "mixed.list").write_text("\n".join(bad + good) + "\n")
    cfg = dict(lowp["config"], _path=lowp["cfg"])
    cfg["DATASET"] = dict(cfg["DATASET"], valid=dict(cfg["DATASET"]["valid"], file_path=str(tmp_path / "mixed.list")))
    clips = calibration.load_list_clips(cfg, None, ("valid",))
    # every good entry loaded, every bad one named once (held back until one loaded, then warned)
    assert len(clips.views) == len(good) and sorted(clips.labels) == list(range(NUM_CLASSES))
    skipped = [w for w in warnings_seen if "frame folder not found (skipped)" in w]
    assert sorted(w.split(":")[1] for w in skipped) == ["1", "2", "3"], warnings_seen
    (tmp_path / "bad.list").write_text("\n".join(bad) + "\n")
    cfg["DATASET"]["valid"]["file_path"] = str(tmp_path / "bad.list")
    with pytest.raises(DataError, match=r"bad.list: no entry of DATASET.valid could be loaded \(.*bad.list:\d: "):
        calibration.load_list_clips(cfg, 8, ("valid",))
    (tmp_path / "bad.list").write_text("\n".join(bad + [f"missing/d{i} 8 0" for i in range(5)]) + "\n")
    with pytest.raises(DataError, match=r"none of the first 5 entries of DATASET.valid tried loaded"):
        calibration.load_list_clips(cfg, 8, ("valid",))


@pytest.mark.parametrize("level", ["none", "native"])
def test_quantize_eval_checks_bf16_where_the_cpu_has_it(lowp, tmp_path, monkeypatch, capsys, level):
    # where bf16 cannot run the check says why in one line; where it can, bf16 gets its own row
    # (on a CPU without it Paddle computes fp32 under the patched probe: agreement 1)
    _bf16_support(monkeypatch, level)
    code, stdout, err = call_tool_quantize(["-c", lowp["cfg"], "--model_file", lowp["float"], "--calib_clips", "1",
                                            "-o", tmp_path, "--eval_clips", "2"], capsys)
    assert code == 0, err
    rows = {line.split(":")[0]: line for line in stdout.splitlines() if line.startswith("paddle ")}
    assert set(rows) == {"paddle int8", "paddle bf16 skipped" if level == "none" else "paddle bf16"}, stdout
    if level == "none":
        assert rows["paddle bf16 skipped"].startswith("paddle bf16 skipped: --precision bf16: this CPU ("), rows
    else:
        assert "top-1 agreement with fp32 1.0000" in rows["paddle bf16"], rows


def test_online_model_quantized_and_streamed_in_int8(lowp, tmp_path, capsys):
    from paddlevideo_tsm.online.predictor import OnlinePredictor

    code, stdout, err = call_tool_quantize(["-c", lowp["cfg"], "--model_file", lowp["online"], "--calib_clips", "1",
                                            "-o", tmp_path, "--eval_clips", "1"], capsys)
    assert code == 0, err
    written = sorted(os.listdir(tmp_path))
    assert written == ["tinytsm_int8.online.json", "tinytsm_int8.pdiparams", "tinytsm_int8.pdmodel"], written
    assert "paddle int8: top-1 fp32" in stdout and "top-1 agreement with fp32" in stdout
    fp32 = OnlinePredictor(lowp["online"], _params(lowp["online"]), 1)
    int8 = OnlinePredictor(str(tmp_path / "tinytsm_int8.pdmodel"), str(tmp_path / "tinytsm_int8.pdiparams"), 1)
    assert (fp32.engine.precision, int8.engine.precision) == ("fp32", "int8")
    clip = _test_clips(lowp)[0]
    reference = np.stack([fp32.step(frame[None]) for frame in clip])
    scores = np.stack([int8.step(frame[None]) for frame in clip])
    assert _logit_change(reference, scores) < INT8_TOLERANCE


@pytest.mark.skipif(bool(_onnx_quantization_missing()), reason="paddle2onnx/onnxruntime/ml_dtypes not installed")
def test_onnxruntime_int8(lowp, tmp_path, capsys):
    from paddlevideo_tsm.inference.onnx import OnnxRuntimePredictor, convert_to_onnx

    float_onnx = convert_to_onnx(lowp["float"], _params(lowp["float"]), str(tmp_path / "float.onnx"))
    fp32 = OnnxRuntimePredictor(float_onnx, 1)
    int8 = OnnxRuntimePredictor(str(lowp["root"] / "int8" / "tinytsm_int8.onnx"), 1, precision="int8")
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    clips = _test_clips(lowp)
    reference, scores = _run_clips(fp32, clips), _run_clips(int8, clips)
    assert 1e-4 < _logit_change(reference, scores) < INT8_TOLERANCE
    code, _, err = call_tool("predict.py", ["-i", lowp["root"] / "test.list", "-c", lowp["cfg"], "--backend",
                                            "onnxruntime", "--onnx_file", float_onnx, "--precision", "int8"], capsys)
    assert code == 2
    assert error_lines(err) == [f"error: --precision int8: {float_onnx} is a float model; quantize its Paddle export "
                                f"with python tools/quantize.py -c CONFIG --model_file M.pdmodel --onnx -o OUT_DIR"]


def test_onnx_quantization_needs_ml_dtypes(monkeypatch):
    import builtins
    from paddlevideo_tsm.errors import InferenceError
    from paddlevideo_tsm.inference.quantize import check_onnx_quantization

    real_import = builtins.__import__

    def no_ml_dtypes(name, *args, **kwargs):
        if name == "ml_dtypes":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_ml_dtypes)
    with pytest.raises(InferenceError, match=r"--onnx needs .*ml_dtypes .*pip install .*ml_dtypes"):
        check_onnx_quantization()


def test_pass_census_is_held_back_other_lines_pass(capfd):
    from paddlevideo_tsm.inference.held_output import held_output
    from paddlevideo_tsm.inference.predictor import _PASS_CENSUS

    with held_output(lambda line: not _PASS_CENSUS.match(line)):
        os.write(2, b"\x1b[37m---    quantized 20 fused_conv2d ops \x1b[0m\n")
        os.write(2, b"---    squashed 8 dequantize-quantize pairs\n")
        os.write(2, b"a real error\n")
    assert capfd.readouterr().err == "a real error\n"


def test_benchmark_times_each_precision(tmp_path):
    import json

    from paddlevideo_tsm.inference.cpu_features import bf16_support

    res = run_tool("benchmark.py", "inference", "--depth", "18", "--base_channels", "16", "--size", "32",
                   "--num_classes", "8", "--batches", "1", "--threads", "1", "--engines", "paddle_onednn",
                   "--precisions", "fp32,bf16,int8", "--repeat", "1", "--warmup", "0", "--calib_clips", "1",
                   "--videos", "", "--json", tmp_path / "r.json", timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["cpu"].startswith("CPU: ")
    rows = result["cpu_ms_per_clip"]
    assert rows["paddle_onednn"]["1x1"] > 0 and rows["paddle_onednn int8"]["1x1"] > 0
    if bf16_support() == "none":
        assert "paddle_onednn bf16 skipped: --precision bf16: this CPU" in res.stdout
        assert "paddle_onednn bf16" not in rows
    else:
        assert rows["paddle_onednn bf16"]["1x1"] > 0


def test_model_benchmark_ratios_per_precision():
    from paddlevideo_tsm.benchmarks.model import _ratios

    times = {"TSN": (2.0, 4.0), "TSM[frames]": (2.4, 5.0), "TSN int8": (1.0, 2.0), "TSM[frames] int8": (1.5, 2.5)}
    row = _ratios(times, ["fp32", "int8"])
    int8 = dict(row["TSM[frames] int8"])
    assert int8.pop("precision") == "int8"
    assert int8 == pytest.approx({"seconds": 1.5, "ratio": 1.5, "cpu_seconds": 2.5, "cpu_ratio": 1.25,
                                  "speedup_vs_fp32": 1.6, "cpu_speedup_vs_fp32": 2.0})
    assert row["TSM[frames]"]["ratio"] == pytest.approx(1.2) and "speedup_vs_fp32" not in row["TSM[frames]"]
