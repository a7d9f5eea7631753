"""tools/summary.py on the configs of mmaction2's TSM table rows: parameters within 0.5 % and MACs
per clip within 2 % of the table.

Counting a 224 px clip means running it, so most rows are counted on one frame and multiplied by
the clip's frames: these networks (and their per-frame fc) cost the same for every frame, the
shift costs nothing (tests/test_summary.py checks the linearity). Non-local blocks attend across
frames, so their rows are counted at their real size: the dot-product model as a whole, and every
row as trunk + its five blocks at their real input shapes, which the whole-model count equals.
"""
import sys
from pathlib import Path

import pytest

from paddlevideo_tsm.modeling.backbones.non_local import NonLocal3D
from paddlevideo_tsm.config import get_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from summary import count, summarize  # noqa: E402

# config, frames per clip, table parameters (M) or None ("-"), table GMACs per 224 clip
ROWS = [
    ("tsm_nl_dot_product_k400_frames.yaml", 8, 31.68, 61.30),
    ("tsm_nl_gaussian_k400_frames.yaml", 8, 28.00, 59.06),
    ("tsm_nl_embedded_gaussian_k400_frames.yaml", 8, 31.68, 61.30),
    ("tsm_k400_16f_frames.yaml", 16, None, 65.75),
    ("tsm_k400_dense_frames.yaml", 8, None, 32.88),
    ("tsm_mobileone_s4_k400_16f_frames.yaml", 16, 13.72, 48.65),
    ("tsm_ssv2_videos.yaml", 8, None, 32.88),
    ("tsm_ssv2_16f_videos.yaml", 16, None, 65.75),
    ("tsm_r101_ssv2_videos.yaml", 8, 42.86, 62.66),
]
NON_LOCAL_INPUTS = [(512, 28), (512, 28), (1024, 14), (1024, 14), (1024, 14)]  # (channels, side) at 224


def summary(config, *overrides):
    return summarize(get_config(str(ROOT / "configs" / config), list(overrides)))


def per_frame(config, *overrides):
    """summarize() of ``config`` on one 224 px frame."""
    one_frame = [f"PIPELINE.{split}.sample.num_seg=1" for split in ("train", "valid", "test")]
    return summary(config, "MODEL.backbone.num_seg=1", "INFERENCE.num_seg=1", "INFERENCE.target_size=224",
                   *one_frame, *overrides)


def close(value, table, tolerance):
    return abs(value - table) <= tolerance * table


@pytest.mark.parametrize("config,frames,params,gmacs", ROWS, ids=[r[0].split(".")[0] for r in ROWS])
def test_row_parameters_and_per_frame_macs(config, frames, params, gmacs):
    s = per_frame(config)
    if params is not None:
        assert close(s["params"] / 1e6, params, 0.005), s["params"]
    if "nl_" not in config:
        assert close(s["macs"] * frames / 1e9, gmacs, 0.02), s["macs"] * frames
    if "mobileone" in config:
        # the table's 13.72 M / 48.65 G are the training form; the deploy form folds the branches:
        # 13.61 M and 47.67 G by mmaction2's rules (which do not count conv biases; paddle.flops does)
        assert s["params"] == 13_721_848 and s["deploy"]["params"] == 13_608_952
        assert close(s["deploy"]["macs"] * frames / 1e9, 47.67, 0.02)


def test_non_local_rows_at_their_real_size():
    trunk = per_frame("tsm_nl_dot_product_k400_frames.yaml", "MODEL.backbone.non_local=null")["macs"] * 8
    whole = summary("tsm_nl_dot_product_k400_frames.yaml")
    assert whole["input_shape"] == [1, 8, 3, 224, 224]
    for mode, gmacs in (("dot_product", 61.30), ("gaussian", 59.06), ("embedded_gaussian", 61.30)):
        blocks = 0
        for channels, side in NON_LOCAL_INPUTS:
            block = NonLocal3D(channels, 8, mode=mode)
            block.eval()
            blocks += count(block, [8, channels, side, side])[1]
        assert close((trunk + blocks) / 1e9, gmacs, 0.02), (mode, trunk + blocks)
        if mode == "dot_product":
            assert whole["macs"] == trunk + blocks  # the decomposition is the whole model's count
            assert blocks > 28e9  # the attention products are counted (the convs alone are ~16 G)


def test_frames_and_videos_twins_are_one_model():
    for frames_cfg in sorted((ROOT / "configs").glob("tsm_*k400*_frames.yaml")):
        videos_cfg = frames_cfg.with_name(frames_cfg.name.replace("_frames", "_videos"))
        if "nl_" not in frames_cfg.name and "16f" not in frames_cfg.name and "dense" not in frames_cfg.name:
            continue
        a, b = get_config(str(frames_cfg)), get_config(str(videos_cfg))
        assert a.MODEL == b.MODEL and a.INFERENCE == b.INFERENCE and a.METRIC == b.METRIC, frames_cfg.name
