"""PP-TSM models downstream: export + predict (Paddle Inference, ONNX Runtime) equal to the dynamic
model; online MobileNetV2 (and ResNet-vd) streaming frame by frame equal to clip mode, dynamic and
exported; the benchmark modes run them. Narrow networks, small inputs."""
import copy
import importlib.util
import json
import re
import sys

import numpy as np
import paddle
import pytest

from _deploy_helpers import (NUM_CLASSES, RAWFRAMES, SHARED_DATA, VIDEOS, call_tool, dynamic_probabilities,
                             max_rel_diff, probs_from_record, read_jsonl, save_random_weights, tiny_config,
                             write_config)
import helpers
from helpers import randomize_bn_stats, rel_diff, to_nhwc
from paddlevideo_tsm.modeling import build_model, load_checkpoint
from paddlevideo_tsm.online import export_online
from paddlevideo_tsm.online.predictor import OnlinePredictor

MODELS = {
    "pptsm_r50": ({"name": "ResNetTweaksTSM", "depth": 50, "base_channels": 8, "shift_div": "num_seg"},
                  {"name": "ppTSMHead", "num_classes": NUM_CLASSES}),
    "pptsm_mv2": ({"name": "PPTSM_MobileNetV2", "class_num": NUM_CLASSES, "scale": 0.25,
                   "shift_div": "num_seg"}, {"name": "MoViNetHead"}),
}
MEDIA = [(str(VIDEOS / "mmaction_test.avi"), "video", None), (str(RAWFRAMES), "frame", 10)]
ONNX_MISSING = [m for m in ("paddle2onnx", "onnxruntime") if importlib.util.find_spec(m) is None]


def deploy_config(name, data_format="NCHW"):
    """The tiny export/predict config (8 frames, 64 px) with a PP-TSM model."""
    cfg = tiny_config(data_format)
    backbone, head = copy.deepcopy(MODELS[name])
    backbone.update(num_seg=cfg["MODEL"]["backbone"]["num_seg"], data_format=data_format, pretrained=None)
    cfg["MODEL"] = {"framework": "Recognizer2D", "backbone": backbone, "head": head}
    cfg["model_name"] = name
    return cfg


@pytest.mark.skipif(not (VIDEOS / "example.avi").is_file() or not RAWFRAMES.is_dir(),
                    reason=f"shared media not found in {SHARED_DATA}")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_export_predict_and_onnx_match_dynamic(name, tmp_path, capsys):
    cfg = deploy_config(name)
    cfg_path = write_config(tmp_path / "cfg.yaml", cfg)
    # well scaled: with raw random BN statistics this narrow R50's logits reach ~1e4 and ONNX Runtime
    # overflowed to NaN in one fresh environment
    weights = save_random_weights(tmp_path / "w.pdparams", cfg, seed=3, well_scaled=True)
    onnx = [] if ONNX_MISSING else ["--onnx"]
    code, out, err = call_tool("export_model.py", ["-c", cfg_path, "-p", weights, "-o", tmp_path / "m", *onnx],
                               capsys)
    assert code == 0, err[-2000:]
    assert "temporal shift: shift_impl=auto runs as 'frames'" in out
    listing = tmp_path / "inputs.txt"
    listing.write_text("".join(p + "\n" for p, _, _ in MEDIA))
    ref = dynamic_probabilities(cfg, weights, MEDIA)
    backends = [["--model_file", tmp_path / "m" / f"{name}.pdmodel"]]
    if not ONNX_MISSING:
        backends.append(["--backend", "onnxruntime", "--onnx_file", tmp_path / "m" / f"{name}.onnx"])
    for i, backend in enumerate(backends):
        jsonl = tmp_path / f"o{i}.jsonl"
        code, out, err = call_tool("predict.py", ["-i", listing, "-c", cfg_path, *backend, "--top_k",
                                                  NUM_CLASSES, "--output", jsonl, "--cpu_threads", 1], capsys)
        assert code == 0, err[-2000:]
        records = read_jsonl(jsonl)
        assert [r["input"] for r in records] == [p for p, _, _ in MEDIA]
        for record in records:
            assert max_rel_diff(probs_from_record(record), ref[record["input"]]) < 1e-4, backend


# ---- online (streaming) ----------------------------------------------------------------------------

T = 4
ONLINE = {"mv2": ({"name": "PPTSM_MobileNetV2", "class_num": 5, "scale": 0.5}, {"name": "MoViNetHead"}),
          "vd18": ({"name": "ResNetTweaksTSM", "depth": 18, "base_channels": 8},
                   {"name": "ppTSMHead", "num_classes": 5})}


def online_cfg(name, data_format="NCHW"):
    backbone, head = copy.deepcopy(ONLINE[name])
    backbone.update(num_seg=T, data_format=data_format, shift_mode="online")
    return {"framework": "Recognizer2D", "backbone": backbone, "head": head}


def online_pair(name, data_format="NCHW", seed=0):
    return helpers.online_pair(online_cfg(name, data_format), seed)


def clips(size, data_format, seed=0, n=2):
    x = np.random.default_rng(seed).normal(size=(n, T, 3) + size).astype("float32")
    return to_nhwc(x) if data_format == "NHWC" else x


def stream(frame_model, x, size):
    """Frames of x [N, T, ...] one by one from zero caches -> per-frame scores [N, T, K]; checks the
    caches' shapes against cache_shapes."""
    caches = frame_model.init_caches(x.shape[0], size)
    scores = []
    for t in range(x.shape[1]):
        out = frame_model(paddle.to_tensor(x[:, t]), caches)
        caches = out[1:]
        assert [list(c.shape) for c in caches] == frame_model.cache_shapes(x.shape[0], size)
        scores.append(out[0].numpy())
    return np.stack(scores, 1)


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
@pytest.mark.parametrize("name", sorted(ONLINE))
def test_online_stream_equals_clip_mode(name, data_format):
    """Per-frame scores from zero caches, averaged over the T frames, equal the clip-mode online
    model's clip score; frame t's score is the clip-mode score of the clip cut after frame t."""
    clip, frame = online_pair(name, data_format)
    size = (37, 45)  # odd sides: ceil-mode strides
    x = clips(size, data_format)
    scores = stream(frame, x, size)
    assert frame.num_caches == (10 if name == "mv2" else 8)
    assert rel_diff(scores.mean(1), clip(paddle.to_tensor(x)).numpy()) < 1e-5
    # causality: changing the last frame changes only the last frame's score
    y = x.copy()
    y[:, -1] += 1.0
    other = stream(frame, y, size)
    assert np.array_equal(other[:, :-1], scores[:, :-1]) and not np.allclose(other[:, -1], scores[:, -1])


def test_online_mobilenet_v2_exported_streams_like_dynamic(tmp_path):
    """export_online -> Paddle Inference frame by frame == the dynamic per-frame model == clip mode."""
    cfg = {"MODEL": online_cfg("mv2"), "INFERENCE": {"target_size": 32}}
    paddle.seed(1)
    model = build_model(cfg["MODEL"])
    randomize_bn_stats(model, 1)
    weights = str(tmp_path / "w.pdparams")
    paddle.save(model.state_dict(), weights)
    meta = export_online(cfg, weights, str(tmp_path), "mv2_online")
    assert meta["num_classes"] == 5 and meta["outputs"][0] == ("scores", [1, 5])
    assert len(meta["inputs"]) == 11  # the frame + one cache per shortcut unit
    clip, frame = online_pair("mv2")
    load_checkpoint(clip, weights)
    load_checkpoint(frame.recognizer, weights)
    x = clips((32, 32), "NCHW", seed=7, n=1)
    predictor = OnlinePredictor(meta["model_file"], meta["params_file"], cpu_threads=1)
    static = np.stack([predictor.step(x[:, t]) for t in range(T)])
    dynamic = stream(frame, x, (32, 32))[0]
    assert rel_diff(static, dynamic) < 1e-5
    assert rel_diff(static.mean(0), clip(paddle.to_tensor(x)).numpy()[0]) < 1e-5
    meta_file = json.loads((tmp_path / "mv2_online.online.json").read_text())
    assert meta_file["num_classes"] == 5


# ---- benchmark modes -------------------------------------------------------------------------------

def test_benchmark_modes_run_the_new_backbones(tmp_path, capsys):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tools"))
    import benchmark
    out_json = tmp_path / "online.json"
    assert benchmark.main(["online", "--backbone", "PPTSM_MobileNetV2", "--size", "32", "--frames", "2",
                           "--warmup", "0", "--threads", "1", "--json", str(out_json)]) == 0
    result = json.loads(out_json.read_text())
    assert result["backbone"] == "PPTSM_MobileNetV2" and result["online_tsm"]["median_ms"] > 0
    assert re.search(r"online_tsm +MobileNetV2 32px", capsys.readouterr().out)
    model_json = tmp_path / "model.json"
    assert benchmark.main(["model", "--backbone", "ResNetTweaksTSM", "--depth", "18", "--size", "32",
                           "--num_seg", "2", "--paths", "eval", "--impls", "frames", "--repeat", "1",
                           "--warmup", "0", "--threads", "1", "--json", str(model_json)]) == 0
    row = json.loads(model_json.read_text())["paths"]["eval"]
    assert set(row) >= {"TSN", "TSM[frames]"} and "ResNet-18-vd TSM vs TSN twin" in capsys.readouterr().out
