"""MobileOneTSM: the deploy (one conv per block) form equals the multi-branch training form in eval
mode; a shift in front of every block; tools/reparameterize.py; frame-by-frame streaming."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest
import yaml

from helpers import realistic_bn_stats, rel_diff
from paddlevideo_tsm.modeling import build_model
from paddlevideo_tsm.online import OnlineRecognizer
from paddlevideo_tsm.config import get_config

TOOLS = Path(__file__).resolve().parents[1] / "tools"
spec = importlib.util.spec_from_file_location("reparameterize", TOOLS / "reparameterize.py")
reparameterize = importlib.util.module_from_spec(spec)
sys.modules.setdefault("reparameterize", reparameterize)
spec.loader.exec_module(reparameterize)

T, K = 4, 5


def mobileone_cfg(arch="s0", num_seg=T, data_format="NCHW", **backbone):
    bb = {"name": "MobileOneTSM", "arch": arch, "num_seg": num_seg, "data_format": data_format}
    bb.update(backbone)
    return {"framework": "Recognizer2D", "backbone": bb,
            "head": {"name": "TSMHead", "num_classes": K, "data_format": data_format}}


def clip(size=32, data_format="NCHW", seed=0, n=1):
    x = np.random.default_rng(seed).standard_normal((n, T, 3, size, size)).astype("float32")
    return paddle.to_tensor(x if data_format == "NCHW" else x.transpose(0, 1, 3, 4, 2).copy())


@pytest.mark.parametrize("arch,data_format", [("s0", "NCHW"), ("s0", "NHWC"), ("s4", "NCHW")])
def test_deploy_form_equals_training_form(arch, data_format):
    """s0: four k x k branches per block; s4: one, plus squeeze-excitation; both: the 1x1 and the BN
    identity branches. Folded with random BN statistics, the one-conv model gives the same logits."""
    paddle.seed(1)
    x = clip(32, data_format)
    model = realistic_bn_stats(build_model(mobileone_cfg(arch, data_format=data_format)), x, seed=2)
    frames = x.reshape([-1] + x.shape[2:])
    with paddle.no_grad():
        logits, feats = model(x).numpy(), model.backbone(frames).numpy()
    assert np.abs(logits).max() > 1e-3  # the check below compares something
    model.backbone.switch_to_deploy()
    deploy = build_model(mobileone_cfg(arch, data_format=data_format, deploy=True))
    state = model.state_dict()
    assert [(k, v.shape) for k, v in state.items()] == [(k, v.shape) for k, v in deploy.state_dict().items()]
    assert not [k for k in state if "branch_conv_list" in k or "branch_norm" in k or "branch_scale" in k]
    deploy.set_state_dict(state)
    deploy.eval()
    with paddle.no_grad():
        assert rel_diff(deploy.backbone(frames).numpy(), feats) < 1e-4
        assert rel_diff(deploy(x).numpy(), logits) < 1e-4


def test_a_dropped_branch_breaks_the_equality():
    """Control for the test above: the same comparison fails when one branch is left out of a fold."""
    paddle.seed(1)
    x = clip(32)
    model = realistic_bn_stats(build_model(mobileone_cfg("s0")), x, seed=2)
    with paddle.no_grad():
        logits = model(x).numpy()
    unit = dict(model.backbone.units())["stage2.4"]
    unit.branch_norm = None  # its identity branch is not folded
    model.backbone.switch_to_deploy()
    with paddle.no_grad():
        assert rel_diff(model(x).numpy(), logits) > 1e-3


@pytest.mark.parametrize("fmt", ["pdmodel", "json"])
def test_squeeze_excitation_exports(tmp_path, fmt):
    """s4's squeeze-excitation blocks (no s0 block has one) through both export formats and the
    Paddle Inference predictor (F.sigmoid cannot be traced into a .pdmodel in Paddle 3.3.1)."""
    from paddlevideo_tsm.inference.export import export_model
    from paddlevideo_tsm.inference.predictor import PaddlePredictor
    from paddlevideo_tsm.modeling.backbones.mobileone_tsm import MobileOneBlock

    paddle.seed(0)
    block = MobileOneBlock(16, 16, 3, groups=16, se=True)
    x = np.random.default_rng(0).standard_normal((2, 16, 6, 6)).astype("float32")
    realistic_bn_stats(block, paddle.to_tensor(x))
    with paddle.no_grad():
        want = block(paddle.to_tensor(x)).numpy()
    files = export_model(block, str(tmp_path), "se", [2, 16, 6, 6], fmt)
    got = PaddlePredictor(files[0], str(tmp_path / "se.pdiparams"), cpu_threads=1).run([x])[0]
    assert rel_diff(got, want) < 1e-5


def test_shift_before_every_block_and_tsn_twin():
    model = build_model(mobileone_cfg("s0"))
    sites = model.backbone.shift_sites()
    names = [name for name, _ in model.backbone.units()]
    # stage0 sees RGB: 3 // 8 = 0 channels to shift; every other block shifts its whole input
    assert names[0] == "stage0" and len(names) == 1 + 2 * (2 + 8 + 10 + 1)
    assert sites == [(name, "") for name in names[1:]]
    assert model.backbone.out_channels == 1024 and dict(model.backbone.units())["stage3.19"].se is None

    paddle.seed(0)
    tsn = build_model(mobileone_cfg("s0", shift_div=0))
    tsn.eval()
    assert tsn.backbone.shift_sites() == []
    x = clip(32)
    y = x.numpy().copy()
    y[:, 1] += 1.0
    with paddle.no_grad():
        a = tsn.backbone(x.reshape([T, 3, 32, 32])).numpy()
        b = tsn.backbone(paddle.to_tensor(y).reshape([T, 3, 32, 32])).numpy()
    # without shifts a frame's features depend on that frame only
    assert [np.array_equal(a[t], b[t]) for t in range(T)] == [True, False, True, True]


def test_streams_frame_by_frame_in_both_forms():
    """shift_mode online: the per-frame stream equals the clip-mode online model, before and after
    reparameterization (the shift stays in front of the folded conv)."""
    paddle.seed(3)
    x = clip(32, seed=5)
    model = realistic_bn_stats(build_model(mobileone_cfg("s0", shift_mode="online")), x, seed=4)

    def stream():
        frame = OnlineRecognizer(model)
        caches = frame.init_caches(1, 32)
        scores = []
        for t in range(T):
            out = frame(x[:, t], caches)
            scores.append(out[0].numpy())
            caches = out[1:]
        return np.stack(scores, 1).mean(1)

    with paddle.no_grad():
        clip_scores, streamed = model(x).numpy(), stream()
        assert rel_diff(streamed, clip_scores) < 1e-4
        model.backbone.switch_to_deploy()
        assert rel_diff(stream(), clip_scores) < 1e-4


@pytest.fixture
def trained(tmp_path):
    """A small MobileOne config file and a checkpoint with random BN statistics."""
    cfg = {"model_name": "tinymo", "MODEL": mobileone_cfg("s0"), "DATASET": {"batch_size": 1},
           "INFERENCE": {"num_seg": T, "target_size": 32}}
    cfg_path = tmp_path / "mo.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    paddle.seed(7)
    model = realistic_bn_stats(build_model(cfg["MODEL"]), clip(32, seed=1), seed=8)
    weights = tmp_path / "mo.pdparams"
    paddle.save(model.state_dict(), str(weights))
    return tmp_path, str(cfg_path), str(weights), model


def test_reparameterize_tool_writes_deploy_checkpoint_and_config(trained, capsys):
    tmp_path, cfg_path, weights, model = trained
    out = tmp_path / "deploy"
    assert reparameterize.main(["-c", cfg_path, "-w", weights, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    params, config = out / "tinymo_deploy.pdparams", out / "tinymo_deploy.yaml"
    assert f"wrote {params}" in printed and f"wrote {config}" in printed
    assert "relative difference" in printed
    deploy_cfg = get_config(str(config))
    assert deploy_cfg.MODEL.backbone.deploy is True and deploy_cfg.model_name == "tinymo_deploy"
    # the written pair, loaded as export does, on another clip size than the tool's own check
    from paddlevideo_tsm.inference.export import build_export_model
    deployed = build_export_model(deploy_cfg, str(params))
    x = clip(48, seed=9)
    with paddle.no_grad():
        assert rel_diff(deployed(x).numpy(), model(x).numpy()) < 1e-4

    # never overwrites, and refuses what has no deploy form or is one already
    before = params.read_bytes()
    assert reparameterize.main(["-c", cfg_path, "-w", weights, "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {params}: already exists; remove it or choose another -o folder\n"
    assert params.read_bytes() == before
    assert reparameterize.main(["-c", str(config), "-w", str(params), "-o", str(tmp_path / "again")]) == 2
    assert capsys.readouterr().err == (f"error: {config}: MODEL.backbone.deploy is already True: the config "
                                       f"describes the deploy form\n")
    resnet = tmp_path / "r.yaml"
    resnet.write_text(yaml.safe_dump({"model_name": "r", "DATASET": {"batch_size": 1}, "MODEL": {
        "framework": "Recognizer2D", "backbone": {"name": "ResNetTSM", "depth": 18},
        "head": {"name": "TSMHead", "num_classes": K}}}))
    assert reparameterize.main(["-c", str(resnet), "-w", weights, "-o", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (f"error: {resnet}: MODEL.backbone.name: ResNetTSM has no "
                                       f"reparameterizable (deploy) form; MobileOneTSM has\n")
    assert not (tmp_path / "again").exists() and not (tmp_path / "r").exists()


def test_bad_arch_is_one_line():
    with pytest.raises(ValueError, match=r"^MobileOneTSM arch must be one of s0, s1, s2, s3, s4, got 's9'$"):
        build_model(mobileone_cfg("s9"))
