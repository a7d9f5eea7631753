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


class _TwoSlopes(__import__("paddle").nn.Layer):
    """Two leaky_relus with different slopes, so a slope written to the wrong ONNX node shows."""

    def forward(self, x):
        import paddle.nn.functional as F
        return F.leaky_relu(F.leaky_relu(x, 0.01) - 1.0, 0.2)


@pytest.mark.parametrize("fmt", ["pdmodel", "json"])
def test_onnx_keeps_leaky_relu_slopes(tmp_path, fmt):
    """paddle2onnx 2.1 + Paddle 3.3 lose leaky_relu's slope (docs/paddle_repro/p2o_leaky_relu_alpha.py);
    the converted graph must compute Paddle's numbers (PP-TSM's ResNet-vd is all leaky_relu)."""
    import numpy as np
    import onnxruntime as ort
    import paddle
    from paddlevideo_tsm.inference.export import save_static
    from paddlevideo_tsm.inference.model_file import leaky_relu_slopes
    from paddlevideo_tsm.inference.onnx import convert_to_onnx

    prefix = str(tmp_path / "m")
    save_static(_TwoSlopes(), [paddle.static.InputSpec([2, 3], "float32", "x")], prefix, fmt)
    model_file = f"{prefix}.{fmt}"
    assert np.allclose(leaky_relu_slopes(model_file), [0.01, 0.2])
    onnx_file = convert_to_onnx(model_file, prefix + ".pdiparams", prefix + ".onnx")
    x = np.array([[-3.0, -0.5, 0.0], [0.5, 1.5, 4.0]], dtype="float32")
    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    expected = np.where(x > 0, x, 0.01 * x) - 1.0
    expected = np.where(expected > 0, expected, 0.2 * expected)
    assert np.allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert np.allclose(_TwoSlopes()(paddle.to_tensor(x)).numpy(), expected, rtol=1e-6, atol=1e-7)
