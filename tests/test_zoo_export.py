"""Export and predict for the non-local ResNet and the reparameterized MobileOne (small sizes): the
predictor's probabilities on a real video equal the dynamic (training-form) model's."""
import copy
import importlib.util
import sys

import numpy as np
import paddle
import pytest

from _deploy_helpers import (NUM_CLASSES, NUM_SEG, ROOT, SHARED_DATA, SIZE, VIDEOS, call_tool,
                             dynamic_probabilities, max_rel_diff, probs_from_record, read_jsonl, tiny_config,
                             write_config)
from helpers import realistic_bn_stats
from paddlevideo_tsm.modeling import build_model

pytestmark = pytest.mark.skipif(not (VIDEOS / "example.avi").is_file(), reason=f"shared media not found in {SHARED_DATA}")

spec = importlib.util.spec_from_file_location("reparameterize", ROOT / "tools" / "reparameterize.py")
reparameterize = importlib.util.module_from_spec(spec)
sys.modules.setdefault("reparameterize", reparameterize)
spec.loader.exec_module(reparameterize)

MEDIA = [(str(VIDEOS / "example.avi"), "video", None)]


def model_config(kind):
    cfg = tiny_config()  # ResNet-18 layout, 16 base channels, 8 frames at 64 px, 2 test clips
    if kind == "non_local":
        cfg["MODEL"]["backbone"].update(non_local=[[0, 0], [1, 0], [1, 1], [0, 0]],
                                        non_local_cfg={"mode": "embedded_gaussian"})
    else:
        cfg["MODEL"]["backbone"] = {"name": "MobileOneTSM", "arch": "s0", "num_seg": NUM_SEG, "pretrained": None}
        del cfg["MODEL"]["head"]["in_channels"]  # the backbone's (1024)
    return cfg


def save_weights(path, cfg, seed=0):
    """Random weights with well-scaled random BN statistics, trained-looking non-local blocks (their
    BN scale away from 0) and a spread-out classifier."""
    paddle.seed(seed)
    model = build_model(copy.deepcopy(cfg["MODEL"]))
    x = paddle.to_tensor(np.random.default_rng(seed).standard_normal((2, NUM_SEG, 3, SIZE, SIZE)).astype("float32"))
    realistic_bn_stats(model, x, seed)
    rng = np.random.default_rng(seed + 1)
    for name, p in model.named_parameters():
        if name.endswith("_nonlocal.bn.weight"):
            p.set_value(rng.uniform(0.5, 1.5, p.shape).astype("float32"))
        elif name == "head.fc.weight":
            p.set_value(rng.normal(0, 0.5, p.shape).astype("float32"))
    paddle.save(model.state_dict(), str(path))
    return str(path)


@pytest.mark.parametrize("kind", ["non_local", "mobileone"])
def test_export_and_predict(kind, tmp_path, capsys):
    cfg = model_config(kind)
    cfg_path = write_config(tmp_path / f"{kind}.yaml", cfg)
    weights = save_weights(tmp_path / "w.pdparams", cfg)
    export_cfg, export_weights, name = cfg_path, weights, "tinytsm"
    if kind == "mobileone":  # export and predict run the deploy form
        assert reparameterize.main(["-c", cfg_path, "-w", weights, "-o", str(tmp_path / "deploy")]) == 0
        name = "tinytsm_deploy"
        export_cfg = str(tmp_path / "deploy" / f"{name}.yaml")
        export_weights = str(tmp_path / "deploy" / f"{name}.pdparams")
    out_dir = tmp_path / "export"
    code, out, err = call_tool("export_model.py", ["-c", export_cfg, "-p", export_weights, "-o", out_dir], capsys)
    assert code == 0, err[-2000:]
    assert f"input shape: [1, {NUM_SEG}, 3, {SIZE}, {SIZE}]" in out
    jsonl = tmp_path / "pred.jsonl"
    code, out, err = call_tool("predict.py", ["-i", MEDIA[0][0], "-c", export_cfg, "--model_file",
                                              out_dir / f"{name}.pdmodel", "--top_k", NUM_CLASSES,
                                              "--output", jsonl, "--cpu_threads", 1], capsys)
    assert code == 0, err[-2000:]
    got = probs_from_record(read_jsonl(jsonl)[0])
    want = dynamic_probabilities(cfg, weights, MEDIA)[MEDIA[0][0]]  # the training-form model
    assert want.max() - want.min() > 0.05  # the classes are told apart: the comparison means something
    assert max_rel_diff(got, want) < 1e-4, (got, want)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from _tiny_training import make_demo
    return make_demo(tmp_path_factory.mktemp("zoo") / "demo")


@pytest.mark.parametrize("kind", ["non_local", "mobileone"])
def test_train_validate_test(kind, demo, tmp_path):
    """main.py trains (2 iterations), validates and tests each new backbone; the trained non-local
    blocks have left the identity, and the trained MobileOne folds into its deploy form."""
    from _tiny_training import run_main, tiny_config as training_config, write_config as write_cfg

    cfg = training_config(demo, epochs=1, test_after_train=True)
    backbone = model_config(kind)["MODEL"]["backbone"]
    backbone.update(num_seg=4)
    if kind == "non_local":
        backbone.update(base_channels=16)
    cfg["MODEL"]["backbone"] = backbone
    cfg["MODEL"]["head"].pop("in_channels")
    path = write_cfg(tmp_path / f"{kind}.yaml", cfg)
    proc = run_main("-c", path, "--validate", "--output", tmp_path / "out", "--max_iters", 2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[VALID] epoch:1" in proc.stdout and "[TEST] top1:" in proc.stdout
    best = tmp_path / "out" / "tiny_tsm_best.pdparams"
    state = paddle.load(str(best))
    if kind == "non_local":
        assert np.abs(state["backbone.res3a_nonlocal.bn.weight"].numpy()).max() > 0
    else:
        assert reparameterize.main(["-c", path, "-w", str(best), "-o", str(tmp_path / "deploy")]) == 0
