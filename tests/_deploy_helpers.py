"""Shared pieces of the export/predict tests: a tiny TSM config, random weights, CLI runs, references."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
VIDEOS = SHARED_DATA / "videos"
RAWFRAMES = SHARED_DATA / "rawframes" / "img_sample"
NUM_SEG, SIZE, NUM_CLASSES = 8, 64, 8


def tiny_config(data_format="NCHW", num_seg=NUM_SEG, size=SIZE, num_clips=2, decoder="VideoDecoder"):
    """A ResNet-18 TSM (16 base channels, 3x3 stem) config dict with a Scale/CenterCrop test pipeline."""
    nhwc = data_format == "NHWC"
    return {
        "model_name": "tinytsm",
        "MODEL": {
            "framework": "Recognizer2D",
            "backbone": {"name": "ResNetTSM", "depth": 18, "num_seg": num_seg, "base_channels": 16,
                         "stem": "3x3", "data_format": data_format, "pretrained": None},
            "head": {"name": "TSMHead", "num_classes": NUM_CLASSES, "in_channels": 128, "drop_ratio": 0.5},
        },
        "DATASET": {"batch_size": 1,
                    "test": {"format": "VideoDataset", "file_path": "unused.txt", "num_clips": num_clips}},
        "PIPELINE": {"test": {
            "decode": {"name": decoder},
            "sample": {"name": "Sampler", "num_seg": num_seg, "seg_len": 1, "valid_mode": True},
            "transform": [
                {"Scale": {"short_size": size + size // 8}},
                {"CenterCrop": {"target_size": size}},
                {"Image2Array": {"transpose": not nhwc}},
                {"Normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                   "tensor_shape": [1, 1, 3] if nhwc else [3, 1, 1]}},
            ]}},
        "INFERENCE": {"num_seg": num_seg, "target_size": size},
    }


def write_config(path, cfg):
    Path(path).write_text(yaml.safe_dump(cfg))
    return str(path)


def save_random_weights(path, cfg, seed=0, well_scaled=False):
    """Random-init model of ``cfg`` saved as .pdparams; BN statistics randomised so eval BN matters.

    well_scaled: statistics from the model's own activations, moved at random (helpers.realistic_bn_stats),
    for deep models whose activations raw random statistics blow up past what float32 engines agree on."""
    import paddle
    from helpers import realistic_bn_stats
    from paddlevideo_tsm.modeling import build_model

    paddle.seed(seed)
    model = build_model(cfg["MODEL"])
    if well_scaled:
        size, t = cfg["INFERENCE"]["target_size"], model.backbone.num_seg
        shape = (2, t, 3, size, size) if model.backbone.data_format == "NCHW" else (2, t, size, size, 3)
        realistic_bn_stats(model, paddle.to_tensor(np.random.default_rng(seed).normal(size=shape).astype("float32")), seed)
    state = model.state_dict()
    rng = np.random.default_rng(seed)
    for k, v in state.items():
        if well_scaled and (k.endswith("_mean") or k.endswith("_variance")):
            continue
        if k.endswith("_mean"):
            state[k] = paddle.to_tensor(rng.normal(0, 0.1, v.shape).astype("float32"))
        elif k.endswith("_variance"):
            state[k] = paddle.to_tensor(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
        elif k == "head.fc.weight":  # the default std 0.001 makes every class ~1/K
            std = 0.0005 if well_scaled else 0.5  # well-scaled features: logits of a few units, no one-hot
            state[k] = paddle.to_tensor(rng.normal(0, std, v.shape).astype("float32"))
    paddle.save(state, str(path))
    return str(path)


def run_tool(tool, *args, timeout=300):
    """Run tools/<tool> as a subprocess from the project root; returns CompletedProcess (text)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(ROOT / "tools" / tool), *map(str, args)], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=timeout, env=env)


def call_tool(tool, args, capsys=None):
    """Run a tool: as a subprocess when ``capsys`` is None, else in this process through its main().

    Returns (exit code, stdout, stderr).
    """
    if capsys is None:
        res = run_tool(tool, *args)
        return res.returncode, res.stdout, res.stderr
    capsys.readouterr()
    try:
        code = _tool_main(tool)([str(a) for a in args])
    except SystemExit as exc:  # argparse rejected the command line
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _tool_main(tool):
    """The main(argv) of tools/<tool>."""
    if tool == "predict_online.py":  # the tool is its own module
        import importlib.util
        spec = importlib.util.spec_from_file_location("predict_online_tool", ROOT / "tools" / tool)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.main
    from paddlevideo_tsm.inference import export_cli, predict_cli
    return {"export_model.py": export_cli.main, "predict.py": predict_cli.main}[tool]


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def error_lines(stderr):
    """The 'error: ...' lines of a tool's stderr (Paddle's own warnings are other lines)."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def dynamic_probabilities(cfg, weights, media):
    """Reference: the dynamic model's test_step on each medium through the test-mode dataset.

    media: list of (path, 'video'|'frame', frames_len or None). Returns {path: probs [K]} with
    probs = softmax over classes of the mean of the view logits (numpy).
    """
    import copy
    import tempfile

    import paddle
    from paddlevideo_tsm.loader.datasets import build_dataset
    from paddlevideo_tsm.modeling import build_model, load_checkpoint

    model = build_model(cfg["MODEL"])
    load_checkpoint(model, weights)
    model.eval()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path, kind, frames_len in media:
            pipe = copy.deepcopy(cfg["PIPELINE"]["test"])
            pipe["decode"] = {"name": "VideoDecoder" if kind == "video" else "FrameDecoder"}
            list_file = os.path.join(tmp, "one.txt")
            with open(list_file, "w") as f:
                f.write(f"{path} 0\n" if kind == "video" else f"{path} {frames_len} 0\n")
            ds_cfg = {"format": "VideoDataset" if kind == "video" else "FrameDataset",
                      "file_path": list_file, "num_clips": cfg["DATASET"]["test"]["num_clips"]}
            dataset = build_dataset(ds_cfg, pipe, test_mode=True)
            views, label, _ = dataset[0]
            assert label[0] == 0, f"reference dataset failed to load {path}"
            with paddle.no_grad():
                logits = model.test_step([paddle.to_tensor(views[None])]).numpy()[0]  # [V, K]
            mean = logits.astype(np.float64).mean(axis=0)
            e = np.exp(mean - mean.max())
            out[str(path)] = e / e.sum()
    return out


def probs_from_record(record, num_classes=NUM_CLASSES):
    """A predict JSON line with all classes (top_k = K) -> probabilities [K] indexed by class id."""
    probs = np.zeros(num_classes)
    for i, p in zip(record["class_ids"], record["scores"]):
        probs[i] = p
    return probs


def max_rel_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
