"""ONNX: export --onnx, then ONNX Runtime through the same preprocessing equals the dynamic model."""
import importlib.util

import pytest

from _deploy_helpers import (NUM_CLASSES, RAWFRAMES, SHARED_DATA, VIDEOS, call_tool, dynamic_probabilities,
                             error_lines, max_rel_diff, probs_from_record, read_jsonl, save_random_weights,
                             tiny_config, write_config)

MISSING = [m for m in ("paddle2onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)} (pip install paddle2onnx onnxruntime)"),
    pytest.mark.skipif(not (VIDEOS / "example.avi").is_file() or not RAWFRAMES.is_dir(),
                       reason=f"shared media not found in {SHARED_DATA}"),
]
MEDIA = [(str(VIDEOS / "mmaction_test.avi"), "video", None), (str(RAWFRAMES), "frame", 10)]


# in-process main() calls: the CLIs as subprocesses are covered by test_export_predict/test_predict_errors
@pytest.mark.parametrize("layout,fmt,subprocess", [("NCHW", "pdmodel", False), ("NCHW", "json", False)])
def test_onnxruntime_matches_dynamic_model(tmp_path, capsys, layout, fmt, subprocess):
    cap = None if subprocess else capsys
    cfg = tiny_config(layout)
    cfg_path = write_config(tmp_path / "cfg.yaml", cfg)
    weights = save_random_weights(tmp_path / "w.pdparams", cfg, seed=3)
    code, out, err = call_tool("export_model.py", ["-c", cfg_path, "-p", weights, "-o", tmp_path / "m",
                                                   "--format", fmt, "--onnx"], cap)
    assert code == 0, err[-2000:]
    onnx_file = tmp_path / "m" / "tinytsm.onnx"
    assert f"wrote {onnx_file}" in out and onnx_file.stat().st_size > 10000

    listing = tmp_path / "inputs.txt"
    listing.write_text("".join(p + "\n" for p, _, _ in MEDIA))
    jsonl = tmp_path / "o.jsonl"
    code, out, err = call_tool("predict.py", ["-i", listing, "-c", cfg_path, "--backend", "onnxruntime",
                                              "--onnx_file", onnx_file, "--top_k", NUM_CLASSES,
                                              "--output", jsonl], cap)
    assert code == 0, err[-2000:]
    ref = dynamic_probabilities(cfg, weights, MEDIA)
    records = read_jsonl(jsonl)
    assert [r["input"] for r in records] == [p for p, _, _ in MEDIA]
    for record in records:
        assert max_rel_diff(probs_from_record(record), ref[record["input"]]) < 1e-4
    check_same_interface(tmp_path / "m" / f"tinytsm.{fmt}", onnx_file)


def check_same_interface(model_file, onnx_file):
    """Both engines are Predictors: same input/output description, same scores from run([x])."""
    import numpy as np
    from paddlevideo_tsm.inference import Predictor
    from paddlevideo_tsm.inference.model_file import params_file_for
    from paddlevideo_tsm.inference.onnx import OnnxRuntimePredictor
    from paddlevideo_tsm.inference.predictor import PaddlePredictor

    engines = [PaddlePredictor(str(model_file), params_file_for(str(model_file)), cpu_threads=1),
               OnnxRuntimePredictor(str(onnx_file), cpu_threads=1)]
    x = np.random.default_rng(5).standard_normal([1, 8, 3, 64, 64]).astype("float32")
    outs = []
    for engine in engines:
        assert isinstance(engine, Predictor)
        assert engine.input_shapes == [[1, 8, 3, 64, 64]] and engine.num_classes == NUM_CLASSES
        (scores,) = engine.run([x])
        assert scores.shape == (1, NUM_CLASSES)
        outs.append(scores)
    assert max_rel_diff(outs[1], outs[0]) < 1e-4


def test_onnx_export_of_nhwc_refused(tmp_path, capsys):
    # paddle2onnx aborts the process on NHWC convs: the exporter must stop before calling it
    cfg_path = write_config(tmp_path / "cfg.yaml", tiny_config("NHWC"))
    code, _, err = call_tool("export_model.py", ["-c", cfg_path, "-o", tmp_path / "m", "--onnx"], capsys)
    assert code == 2
    assert error_lines(err) == ["error: --onnx: paddle2onnx cannot convert NHWC convolutions; export with "
                                "-o MODEL.backbone.data_format=NCHW (the same weights load)"]
    assert not (tmp_path / "m").exists()


def test_onnx_backend_needs_existing_file(tmp_path, capsys):
    cfg_path = write_config(tmp_path / "cfg.yaml", tiny_config())
    code, _, err = call_tool("predict.py", ["-i", tmp_path, "-c", cfg_path, "--backend", "onnxruntime",
                                            "--onnx_file", tmp_path / "x.onnx"], capsys)
    assert code == 2
    assert error_lines(err) == [f"error: {tmp_path / 'x.onnx'}: ONNX file not found"]
