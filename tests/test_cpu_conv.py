"""``cpu_conv: onednn`` keeps the trainer's semantics: the same losses, weights, BN statistics,
optimizer state, checkpoints, resume and test results as Paddle's convolutions, within float noise.

Tiny TSM (ResNet-18 layout, 16 base channels) on demo clips, Momentum + L2 (BN and fc bias exempt)
+ fc lr x5/x10 + global-norm clip + a piecewise lr per iteration, BN in train mode, dropout on,
same seed. The lr is small (1e-3): at a large lr the random-label loss climbs and any two float
paths drift apart, Paddle's own with one thread against two included. Measured here: parameters
after 4 steps differ by 8e-8 (relative norm), Paddle 1 against 2 threads by 4e-8.
"""
import json
import re

import numpy as np
import paddle
import pytest

from _tiny_training import make_demo, run_main, tiny_config, write_config
from paddlevideo_tsm.modeling.ops import onednn_conv
from paddlevideo_tsm import tasks

pytestmark = pytest.mark.skipif(onednn_conv.library()[0] is None,
                                reason=f"oneDNN unavailable: {onednn_conv.library()[1]}")
PARAM_TOL = 1e-6  # relative norm of the parameter difference; measured 8e-8
LOSS_TOL = 1e-5   # relative, per logged step


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("demo"))


def config(demo, cpu_conv, **backbone):
    cfg = tiny_config(demo, epochs=1, cpu_conv=cpu_conv)
    cfg["OPTIMIZER"]["learning_rate"]["values"] = [0.001, 0.0001]
    cfg["MODEL"]["backbone"].update(backbone)
    return cfg


def losses(text):
    return [float(v) for v in re.findall(r"train iter:\d+/\d+ loss: ([0-9.]+)", text)]


def rel_diff(a, b):
    """||a - b|| / ||a|| over every tensor of two state dicts (numpy values) with the same keys."""
    assert list(a) == list(b)
    num = sum(float(((a[k] - b[k]) ** 2).sum()) for k in a)
    return (num / sum(float((a[k] ** 2).sum()) for k in a)) ** 0.5


def state(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def train(cfg, out, capsys, **kwargs):
    capsys.readouterr()
    result = tasks.train_model(cfg, validate=True, output=str(out), **kwargs)
    return result, capsys.readouterr().out


@pytest.mark.parametrize("partial_bn", [False, True])
def test_training_matches_paddles_conv(demo, tmp_path, capsys, monkeypatch, partial_bn):
    ref, ref_log = train(config(demo, "paddle", partial_bn=partial_bn), tmp_path / "paddle", capsys)
    ran, conv2d = [], onednn_conv.conv2d
    monkeypatch.setattr(onednn_conv, "conv2d", lambda *a, **k: ran.append(conv2d(*a, **k)) or ran[-1])
    fast, fast_log = train(config(demo, "onednn", partial_bn=partial_bn), tmp_path / "onednn", capsys)
    # 20 convolutions a step, 4 steps, 8 validation clips in batches of 4
    assert len(ran) == 20 * (4 + 2) and all(y is not None for y in ran)
    assert "cpu_conv" not in ref_log
    assert "cpu_conv: onednn: 20 of 20 Conv2D layers run oneDNN" in fast_log
    ref_losses, fast_losses = losses(ref_log), losses(fast_log)
    assert len(ref_losses) == 4 and np.allclose(fast_losses, ref_losses, rtol=LOSS_TOL, atol=0)
    assert rel_diff(state(ref["model"]), state(fast["model"])) < PARAM_TOL  # weights and BN statistics
    assert fast["best_top1"] == ref["best_top1"]
    ref_opt, fast_opt = (paddle.load(r["last_weights"].replace(".pdparams", ".pdopt")) for r in (ref, fast))
    assert sorted(ref_opt) == sorted(fast_opt)  # the same optimizer state (momentum per parameter, lr)


def test_resume_and_test_with_onednn(demo, tmp_path, capsys):
    """A run stopped after 2 iterations and resumed ends where an unbroken Paddle-conv run ends;
    testing its weights with oneDNN convs gives Paddle's scores."""
    ref, _ = train(config(demo, "paddle"), tmp_path / "paddle", capsys)
    cfg = config(demo, "onednn")
    stopped, _ = train(cfg, tmp_path / "onednn", capsys, max_iters=2)
    assert stopped["iters"] == 2
    resumed, log = train(cfg, tmp_path / "onednn", capsys, resume="auto")
    assert "continuing at epoch 1 after its iteration 2" in log and resumed["iters"] == 2
    assert rel_diff(state(ref["model"]), state(resumed["model"])) < PARAM_TOL

    scores = []
    for conv in ("paddle", "onednn"):
        out = tmp_path / f"scores_{conv}.jsonl"
        tasks.test_model(config(demo, conv), resumed["last_weights"], save_results=str(out))
        scores.append(np.array([json.loads(line)["scores"] for line in out.read_text().splitlines()]))
    assert scores[0].shape == (8, 8) and np.abs(scores[0] - scores[1]).max() < 1e-5


def test_main_takes_the_override(demo, tmp_path):
    cfg = write_config(tmp_path / "tiny.yaml", tiny_config(demo, epochs=1))
    out = run_main("-c", cfg, "-o", "cpu_conv=onednn", "--max_iters", "1", "--output", tmp_path / "run")
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"INFO cpu_conv: onednn: 20 of 20 Conv2D layers run oneDNN v3\.\d+\.\d+ \(ISA \w+\) "
                     r"convolutions in float32", out.stdout)
    bad = run_main("-c", cfg, "-o", "cpu_conv=mkldnn", "--output", tmp_path / "bad")
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("key 'cpu_conv' must be one of paddle, onednn, onednn_bf16, got 'mkldnn'")
