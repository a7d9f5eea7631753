"""``cpu_conv: onednn`` keeps the trainer's semantics: the same losses, weights, BN statistics,
optimizer state, checkpoints, resume and test results as Paddle's convolutions, within float noise.

Tiny TSM (ResNet-18 layout, 16 base channels) on demo clips, Momentum + L2 (BN and fc bias exempt)
+ fc lr x5/x10 + global-norm clip + a piecewise lr per iteration, BN in train mode, dropout on,
same seed, same initial weights. The lr is small (1e-3): at a large lr the random-label loss climbs
and any two float paths drift apart, Paddle's own with one thread against two included.

Two measures: all parameters and BN statistics after 4 steps (relative norm; measured 8e-8, Paddle 1
against 2 threads 4e-8), and the convolution weights' own updates (final - initial), which the
first measure cannot see: the initial weights, the BN statistics and the fc's updates dwarf them,
so a 10 % error in every weight gradient moved it by only 2e-5. Measured on the updates: oneDNN
against Paddle 7e-5, Paddle 1 against 2 threads 2e-3, a 0.1 % error in the weight gradients 2.6e-3,
a 1 % error 1e-2.
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
PARAM_TOL = 1e-6        # relative norm of the parameter difference; measured 8e-8
CONV_UPDATE_TOL = 5e-3  # relative norm of the difference of the conv weights' updates; measured 7e-5
LOSS_TOL = 1e-5         # relative, per logged step


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


def conv_updates(model, start):
    """{name: final - initial} of the weights of ``model``'s nn.Conv2D layers; ``start`` a state()."""
    names = [f"{name}.weight" for name, layer in model.named_sublayers() if isinstance(layer, paddle.nn.Conv2D)]
    current = model.state_dict()
    return {k: current[k].numpy() - start[k] for k in names}


@pytest.fixture(scope="module")
def init(demo, tmp_path_factory):
    """(path, state) of the tiny model's initial weights, which every run below starts from."""
    paddle.seed(11)
    model = tasks.runtime.build_model_checked(config(demo, "paddle"))
    path = tmp_path_factory.mktemp("init") / "init.pdparams"
    paddle.save(model.state_dict(), str(path))
    return str(path), state(model)


def train(cfg, out, capsys, **kwargs):
    capsys.readouterr()
    result = tasks.train_model(cfg, validate=True, output=str(out), **kwargs)
    return result, capsys.readouterr().out


def assert_same_training(ref, fast, start):
    """``fast``'s model (a train() result) ends where ``ref``'s does: all parameters and BN
    statistics, and the convolution weights' updates from ``start``."""
    assert rel_diff(state(ref["model"]), state(fast["model"])) < PARAM_TOL
    ref_moves, fast_moves = conv_updates(ref["model"], start), conv_updates(fast["model"], start)
    assert len(ref_moves) == 20 and rel_diff(ref_moves, fast_moves) < CONV_UPDATE_TOL


@pytest.mark.parametrize("partial_bn", [False, True])
def test_training_matches_paddles_conv(demo, init, tmp_path, capsys, monkeypatch, partial_bn):
    weights, start = init
    ref, ref_log = train(config(demo, "paddle", partial_bn=partial_bn), tmp_path / "paddle", capsys, weights=weights)
    ran, conv2d = [], onednn_conv.conv2d
    monkeypatch.setattr(onednn_conv, "conv2d", lambda *a, **k: ran.append(conv2d(*a, **k)) or ran[-1])
    fast, fast_log = train(config(demo, "onednn", partial_bn=partial_bn), tmp_path / "onednn", capsys,
                           weights=weights)
    # 20 convolutions a step, 4 steps, 8 validation clips in batches of 4
    assert len(ran) == 20 * (4 + 2) and all(y is not None for y in ran)
    assert "cpu_conv" not in ref_log
    assert "cpu_conv: onednn: 20 of 20 Conv2D layers run oneDNN" in fast_log
    ref_losses, fast_losses = losses(ref_log), losses(fast_log)
    assert len(ref_losses) == 4 and np.allclose(fast_losses, ref_losses, rtol=LOSS_TOL, atol=0)
    assert_same_training(ref, fast, start)
    assert fast["best_top1"] == ref["best_top1"]
    ref_opt, fast_opt = (paddle.load(r["last_weights"].replace(".pdparams", ".pdopt")) for r in (ref, fast))
    assert sorted(ref_opt) == sorted(fast_opt)  # the same optimizer state (momentum per parameter, lr)


def test_resume_and_test_with_onednn(demo, init, tmp_path, capsys):
    """A run stopped after 2 iterations and resumed ends where an unbroken Paddle-conv run ends;
    testing its weights with oneDNN convs gives Paddle's scores."""
    weights, start = init
    ref, _ = train(config(demo, "paddle"), tmp_path / "paddle", capsys, weights=weights)
    cfg = config(demo, "onednn")
    stopped, _ = train(cfg, tmp_path / "onednn", capsys, max_iters=2, weights=weights)
    assert stopped["iters"] == 2
    resumed, log = train(cfg, tmp_path / "onednn", capsys, resume="auto")
    assert "continuing at epoch 1 after its iteration 2" in log and resumed["iters"] == 2
    assert_same_training(ref, resumed, start)

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


def test_accumulation_matches_paddles_conv(demo, init, tmp_path, capsys):
    """accum_steps 2 (16 clips, batch 4: 4 iterations, 2 optimizer steps on the mean gradient of two
    batches): the oneDNN path accumulates the same gradients as Paddle's conv."""
    weights, start = init
    runs = {}
    for conv in ("paddle", "onednn"):
        cfg = config(demo, conv)
        cfg["accum_steps"] = 2
        runs[conv] = train(cfg, tmp_path / conv, capsys, weights=weights)
    ref, fast = runs["paddle"][0], runs["onednn"][0]
    for _, log in runs.values():
        assert "effective batch: 8 clips per optimizer step (4 per process x 1 process x 2 accumulation steps)" in log
    assert "cpu_conv: onednn: 20 of 20" in runs["onednn"][1]
    ref_losses, fast_losses = losses(runs["paddle"][1]), losses(runs["onednn"][1])
    assert len(ref_losses) == 4 and np.allclose(fast_losses, ref_losses, rtol=LOSS_TOL, atol=0)
    assert_same_training(ref, fast, start)
    # the accumulated run differs from the plain one: the key took effect
    plain, _ = train(config(demo, "paddle"), tmp_path / "plain", capsys, weights=weights)
    assert rel_diff(conv_updates(ref["model"], start), conv_updates(plain["model"], start)) > 10 * CONV_UPDATE_TOL


def backbone_cfg(name):
    """Small backbones of every kind the trainer builds: MobileOne s0 (depthwise 3x3, 1x1, four
    k x k branches), ResNetTSM-18 with non-local blocks (1x1 embeddings with bias, 2x2 max-pool)."""
    if name == "mobileone":
        return {"name": "MobileOneTSM", "arch": "s0", "num_seg": 4}
    return {"name": "ResNetTSM", "depth": 18, "num_seg": 4, "base_channels": 16, "stem": "3x3",
            "non_local": [[0, 0], [1, 0], [1, 1], [0, 0]], "non_local_cfg": {"mode": "embedded_gaussian"}}


@pytest.mark.parametrize("name,steps", [("mobileone", 1), ("non_local", 3)])
def test_new_backbones_train_the_same(name, steps, monkeypatch, capsys):
    """Recognizer2D.train_step through the trainer's step (Momentum + L2 + clip, BN in train mode):
    every Conv2D of the backbone runs in oneDNN (none falls back) and the convolution weights move as
    Paddle's conv moves them, within CONV_UPDATE_TOL or Paddle's own spread: the same run with the
    input scaled by 1 + 1e-7. MobileOne s0 from random weights is chaotic (that 1e-7 moves Paddle's
    own weights by 4 % within 3 steps), so it is compared after one step; the non-local ResNet after
    three."""
    from paddlevideo_tsm.modeling import build_model
    from paddlevideo_tsm.modeling.cpu_conv import route_convs
    from paddlevideo_tsm.solver import build_lr, build_optimizer
    from paddlevideo_tsm.tasks.amp import AmpState
    from paddlevideo_tsm.tasks.train import train_one_step

    rng = np.random.default_rng(0)
    clips = rng.normal(size=(2, 4, 3, 32, 32)).astype("float32")
    labels = paddle.to_tensor(rng.integers(0, 5, size=(2, 1)))
    ran, conv2d = [], onednn_conv.conv2d
    monkeypatch.setattr(onednn_conv, "conv2d", lambda *a, **k: ran.append(conv2d(*a, **k)) or ran[-1])
    results = {}
    for conv, scale in (("paddle", 1.0), ("paddle", 1 + 1e-7), ("onednn", 1.0)):
        paddle.seed(3)
        model = build_model({"framework": "Recognizer2D", "backbone": backbone_cfg(name),
                             "head": {"name": "TSMHead", "num_classes": 5}})
        routed = route_convs(model, conv)
        convs = [layer for layer in model.sublayers() if isinstance(layer, paddle.nn.Conv2D)]
        assert routed == (len(convs) if conv == "onednn" else 0)
        model.train()
        opt = build_optimizer({"name": "Momentum", "momentum": 0.9, "weight_decay": {"name": "L2", "value": 1e-4},
                               "grad_clip": {"name": "ClipGradByGlobalNorm", "value": 20.0}},
                              build_lr(1e-3, 1), model.parameters())
        imgs = paddle.to_tensor(clips * np.float32(scale))
        start = state(model)
        step_losses = []
        for i in range(steps):
            paddle.seed(100 + i)  # the same dropout mask
            step_losses.append(float(train_one_step(model.train_step, opt, [imgs, labels], AmpState())["loss"]))
        results[(conv, scale)] = (step_losses, conv_updates(model, start))
    assert len(ran) == steps * len(convs) and all(y is not None for y in ran)
    assert "cpu_conv: Paddle's conv runs" not in capsys.readouterr().out  # no geometry fell back
    (ref_losses, ref), (_, nudged), (fast_losses, fast) = results.values()
    assert np.allclose(fast_losses[:1], ref_losses[:1], rtol=LOSS_TOL, atol=0)
    # measured: MobileOne 4.4e-4 (nudged 5.8e-3), non-local 6e-5 (nudged 5e-5)
    assert rel_diff(ref, fast) < max(CONV_UPDATE_TOL, rel_diff(ref, nudged))
    assert rel_diff(ref, fast) > 0  # the two runs took different kernels
