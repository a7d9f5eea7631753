"""A tiny TSM training set-up for the training/testing tests: demo clips + a ResNet-18/16 config."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_demo(out, train=2, val=1, test=1, frames=8, size=40):
    """Generate the 8-class demo clips into ``out`` (skipped when already complete); returns out."""
    out = Path(out)
    if not (out / "DEMO_COMPLETE.json").exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "make_demo_data.py"), "--out", str(out),
                        "--train_per_class", str(train), "--val_per_class", str(val),
                        "--test_per_class", str(test), "--frames", str(frames), "--size", str(size),
                        "--workers", "1"], check=True, capture_output=True)
    return out


def _pipeline(mode, size, nhwc=False):
    transform = [{"Scale": {"short_size": size}}]
    if mode == "train":
        transform += [{"RandomCrop": {"target_size": size - 8}}, {"RandomFlip": None}]
    else:
        transform += [{"CenterCrop": {"target_size": size - 8}}]
    transform += [{"Image2Array": {"transpose": not nhwc}},
                  {"Normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                                     "tensor_shape": [1, 1, 3] if nhwc else [3, 1, 1]}}]
    return {"decode": {"name": "FrameDecoder"},
            "sample": {"name": "Sampler", "num_seg": 4, "seg_len": 1, "valid_mode": mode != "train"},
            "transform": transform}


def tiny_config(demo, epochs=2, batch_size=4, drop_ratio=0.5, size=40, **top):
    """Config dict: TSM ResNet-18 with 16 base channels, 3x3 stem, 4 segments, 8 classes."""
    split = lambda name: {"format": "FrameDataset", "data_prefix": str(demo),  # noqa: E731
                          "file_path": str(Path(demo) / f"{name}_frames.list"), "suffix": "img_{:05}.jpg"}
    cfg = {
        "model_name": "tiny_tsm", "epochs": epochs, "log_interval": 1, "save_interval": 1,
        "val_interval": 1, "seed": 7, "cpu_threads": 1,
        "MODEL": {"framework": "Recognizer2D",
                  "backbone": {"name": "ResNetTSM", "depth": 18, "num_seg": 4, "base_channels": 16,
                               "stem": "3x3", "shift_div": 8},
                  "head": {"name": "TSMHead", "num_classes": 8, "in_channels": 128,
                           "drop_ratio": drop_ratio}},
        "DATASET": {"batch_size": batch_size, "num_workers": 0, "test_batch_size": 2,
                    "train": split("train"), "valid": split("val"), "test": split("test")},
        "PIPELINE": {"train": _pipeline("train", size), "valid": _pipeline("valid", size),
                     "test": _pipeline("test", size)},
        "OPTIMIZER": {"name": "Momentum", "momentum": 0.9,
                      "learning_rate": {"name": "PiecewiseDecay", "boundaries": [1], "values": [0.05, 0.005],
                                        "iter_step": True},
                      "weight_decay": {"name": "L2", "value": 1e-4},
                      "grad_clip": {"name": "ClipGradByGlobalNorm", "value": 20.0}},
        "METRIC": {"name": "CenterCropMetric"},
        "INFERENCE": {"num_seg": 4, "target_size": size - 8},
    }
    cfg.update(top)
    return cfg


def write_config(path, cfg):
    Path(path).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return str(path)


def run_main(*args, cwd=None, env=None, timeout=600):
    """python main.py ARGS in a subprocess -> CompletedProcess (text stdout/stderr)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=cwd or ROOT,
                          env=full_env, capture_output=True, text=True, timeout=timeout)
