"""Non-local blocks: each mode against a direct numpy implementation on the 5D clip tensor, a new
block is the identity, their place in ResNetTSM, pretrained loading, partial BN, online refused."""
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from helpers import model_cfg, randomize_bn_stats, rel_diff, to_nhwc
from paddlevideo_tsm.errors import ConfigError
from paddlevideo_tsm.modeling import build_model
from paddlevideo_tsm.modeling.backbones.non_local import NonLocal3D
from paddlevideo_tsm.online import OnlineRecognizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from summary import count  # noqa: E402

N, C, T, H, W = 2, 16, 4, 6, 6
REFUSAL = "non-local blocks attend over all T frames of a clip, future ones included"
PATTERN = [[0, 0], [1, 0], [1, 1], [0, 0]]  # ResNet-18: two blocks per stage


def numpy_non_local(x5, sd, mode, use_scale=False, sub_sample=True):
    """x5 [N, C, T, H, W] (float64) and a block's state dict (numpy) -> the block's output, computed
    on the clip as 3D tensors: 1x1x1 convs, (1, 2, 2) max pool, attention over all T*H*W positions."""
    def conv(name, a):
        y = np.einsum("oc,ncthw->nothw", sd[name + ".weight"][:, :, 0, 0], a)
        bias = sd.get(name + ".bias")
        return y if bias is None else y + bias[None, :, None, None, None]

    def pool(a):
        n, c, t, h, w = a.shape
        return a[..., :h // 2 * 2, :w // 2 * 2].reshape(n, c, t, h // 2, 2, w // 2, 2).max(axis=(4, 6))

    n, c, t, h, w = x5.shape
    g = conv("g", x5)
    query, key = (x5, x5) if mode == "gaussian" else (conv("theta", x5), conv("phi", x5))
    if sub_sample:
        g, key = pool(g), pool(key)
    q = query.reshape(n, query.shape[1], -1).transpose(0, 2, 1)  # [n, THW, c']
    k = key.reshape(n, key.shape[1], -1)  # [n, c', keys]
    v = g.reshape(n, g.shape[1], -1).transpose(0, 2, 1)  # [n, keys, inter]
    f = q @ k
    if mode == "dot_product":
        f = f / f.shape[-1]
    else:
        if use_scale:
            f = f / np.sqrt(q.shape[-1])
        f = np.exp(f - f.max(-1, keepdims=True))
        f = f / f.sum(-1, keepdims=True)
    y = (f @ v).transpose(0, 2, 1).reshape(n, -1, t, h, w)
    z = np.einsum("oc,ncthw->nothw", sd["conv_out.weight"][:, :, 0, 0], y)
    scale = sd["bn.weight"] / np.sqrt(sd["bn._variance"] + 1e-5)
    z = (z - sd["bn._mean"][None, :, None, None, None]) * scale[None, :, None, None, None] \
        + sd["bn.bias"][None, :, None, None, None]
    return x5 + z


def randomized(block, seed=0):
    """Every parameter random (the init has zeros and 0.01s) and random BN statistics; eval mode."""
    rng = np.random.default_rng(seed)
    for p in block.parameters():
        p.set_value(rng.normal(0, 0.3, p.shape).astype("float32"))
    randomize_bn_stats(block, seed)
    block.eval()
    return block


@pytest.mark.parametrize("mode,use_scale,data_format,options", [
    ("dot_product", False, "NCHW", {}),
    ("gaussian", False, "NCHW", {}),
    ("embedded_gaussian", False, "NCHW", {}),
    ("embedded_gaussian", True, "NCHW", {}),
    ("embedded_gaussian", False, "NHWC", {}),
    ("dot_product", False, "NCHW", {"sub_sample": False, "reduction": 4}),
])
def test_block_matches_numpy(mode, use_scale, data_format, options):
    x = np.random.default_rng(1).normal(size=(N * T, C, H, W)).astype("float32")  # frames of 2 clips
    block = randomized(NonLocal3D(C, T, data_format, mode, use_scale=use_scale, **options))
    x_in = x if data_format == "NCHW" else to_nhwc(x[None])[0]
    with paddle.no_grad():
        got = block(paddle.to_tensor(x_in)).numpy()
    if data_format == "NHWC":
        got = got.transpose(0, 3, 1, 2)
    x5 = x.reshape(N, T, C, H, W).transpose(0, 2, 1, 3, 4).astype(np.float64)
    sd = {k: v.numpy().astype(np.float64) for k, v in block.state_dict().items()}
    want = numpy_non_local(x5, sd, mode, use_scale, options.get("sub_sample", True))
    got5 = got.reshape(N, T, C, H, W).transpose(0, 2, 1, 3, 4)
    assert rel_diff(got5 - x5, want - x5) < 1e-5  # the block's own term, not just the identity


@pytest.mark.parametrize("mode", ["dot_product", "gaussian", "embedded_gaussian"])
def test_new_block_is_the_identity_and_learns(mode):
    x = paddle.to_tensor(np.random.default_rng(2).normal(size=(N * T, C, H, W)).astype("float32"))
    block = NonLocal3D(C, T, mode=mode)
    block.eval()
    with paddle.no_grad():
        assert np.array_equal(block(x).numpy(), x.numpy())
    block.train()  # batch statistics: still zero scale and shift
    out = block(x)
    assert np.array_equal(out.numpy(), x.numpy())
    (out * paddle.to_tensor(np.random.default_rng(3).normal(size=x.shape).astype("float32"))).sum().backward()
    assert np.abs(block.bn.weight.grad.numpy()).max() > 0  # the zero scale is not stuck


def test_block_macs_count_the_attention_products():
    """tools/summary.py's count on one block = the closed form, attention products included
    (paddle.flops counts conv biases: +1 per output element of a biased conv)."""
    block = NonLocal3D(C, T, mode="embedded_gaussian")
    block.eval()
    params, macs = count(block, [N * T, C, H, W])
    inter, p, keys = C // 2, T * H * W, T * (H // 2) * (W // 2)
    convs = 3 * N * p * inter * (C + 1) + N * p * C * inter
    products = N * (p * inter * keys + p * keys * inter)
    assert macs == convs + products + 2 * N * C * p  # BN: 2 per element
    assert params == 3 * (C * inter + inter) + inter * C + 2 * C


def tiny(seed=0, **backbone):
    paddle.seed(seed)
    model = build_model(model_cfg(num_seg=T, **backbone))
    randomize_bn_stats(model, seed)
    model.eval()
    return model


def test_resnet_places_blocks_and_new_ones_change_nothing():
    cfg = {"non_local": PATTERN, "non_local_cfg": {"mode": "dot_product"}}
    model = tiny(**cfg)
    names = [name for name, _ in model.backbone.units()]
    assert names == ["res2a", "res2b", "res3a", "res3a_nonlocal", "res3b", "res4a", "res4a_nonlocal",
                     "res4b", "res4b_nonlocal", "res5a", "res5b"]
    assert model.backbone.new_layer_prefixes == ("res3a_nonlocal.", "res4a_nonlocal.", "res4b_nonlocal.")
    plain = tiny()
    plain_keys = set(plain.state_dict())
    assert plain_keys < set(model.state_dict())
    state = model.state_dict()
    state.update(plain.state_dict())
    model.set_state_dict(state)
    x = paddle.to_tensor(np.random.default_rng(4).normal(size=(2, T, 3, 32, 32)).astype("float32"))
    with paddle.no_grad():
        assert rel_diff(model(x).numpy(), plain(x).numpy()) < 1e-6


def test_non_local_sees_future_frames_so_online_is_refused():
    # the TSN twin with one trained-looking non-local block: frame 0's features change with frame 3
    model = tiny(shift_div=0, non_local=PATTERN)
    for name, unit in model.backbone.units():
        if name.endswith("_nonlocal"):
            unit.bn.weight.set_value(np.ones(unit.bn.weight.shape, "float32"))
    x = np.random.default_rng(5).normal(size=(T, 3, 32, 32)).astype("float32")
    y = x.copy()
    y[3] += 1.0
    with paddle.no_grad():
        a, b = (model.backbone(paddle.to_tensor(v)).numpy() for v in (x, y))
    assert not np.allclose(a[0], b[0])
    assert model.backbone.online_refusal == REFUSAL
    with pytest.raises(ConfigError, match=r"^MODEL.backbone.name: ResNetTSM cannot run online \(frame by frame\): "
                                          + REFUSAL + "$"):
        OnlineRecognizer(model)
    with pytest.raises(ValueError, match=r"^shift_mode online is refused with non_local blocks: " + REFUSAL + "$"):
        tiny(non_local=PATTERN, shift_mode="online")
    assert tiny(shift_mode="online").backbone.online_refusal is None


def test_online_export_and_training_config_refuse_in_one_line(tmp_path, capsys):
    import yaml
    from paddlevideo_tsm.inference import export_cli
    from paddlevideo_tsm.tasks.runtime import build_model_checked
    from paddlevideo_tsm.config import get_config

    cfg = {"model_name": "nl", "DATASET": {"batch_size": 1}, "INFERENCE": {"num_seg": T, "target_size": 32},
           "MODEL": model_cfg(num_seg=T, non_local=PATTERN)}
    path = tmp_path / "nl.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert export_cli.main(["-c", str(path), "-o", str(tmp_path / "out"), "--online"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert err == [f"error: --online: shift_mode online is refused with non_local blocks: {REFUSAL}"]
    with pytest.raises(ConfigError, match=rf"^{path}: MODEL: shift_mode online is refused with non_local blocks"):
        build_model_checked(get_config(str(path), ["MODEL.backbone.shift_mode=online"]))


def test_pretrained_2d_weights_load_and_new_blocks_keep_their_init(tmp_path, capsys):
    plain = tiny(seed=1)
    path = tmp_path / "imagenet.pdparams"
    paddle.save({k[len("backbone."):]: v for k, v in plain.state_dict().items() if k.startswith("backbone.")},
                str(path))
    model = build_model(model_cfg(num_seg=T, non_local=PATTERN, pretrained=str(path)))
    state = model.state_dict()
    for k, v in plain.state_dict().items():
        if k.startswith("backbone."):
            assert np.array_equal(state[k].numpy(), v.numpy()), k
    assert not state["backbone.res3a_nonlocal.bn.weight"].numpy().any()
    assert "tensors of new layers (res3a_nonlocal., res4a_nonlocal., res4b_nonlocal.) keep their " \
           "initialisation" in capsys.readouterr().out  # the package logger writes to stdout
    # the 2D layers must still all be there
    partial = {k: v for k, v in paddle.load(str(path)).items() if not k.startswith("res5b.")}
    paddle.save(partial, str(path))
    from paddlevideo_tsm.errors import CheckpointError
    with pytest.raises(CheckpointError, match="pretrained backbone does not fit the model; .* missing: backbone.res5b"):
        build_model(model_cfg(num_seg=T, non_local=PATTERN, pretrained=str(path)))


def test_partial_bn_and_norm_eval_leave_non_local_bns_training():
    model = build_model(model_cfg(num_seg=T, non_local=PATTERN, partial_bn=True, norm_eval=True))
    nl_bns = [unit.bn for name, unit in model.backbone.units() if name.endswith("_nonlocal")]
    frozen = {id(bn) for bn in model.backbone._frozen_bns}
    assert all(not bn.weight.stop_gradient and id(bn) not in frozen for bn in nl_bns)
    assert model.backbone.res2a.conv0._batch_norm.weight.stop_gradient  # the others are frozen


@pytest.mark.parametrize("backbone,message", [
    ({"non_local": [[0, 0], [1, 0], [1]]}, r"non_local must be 4 lists \(one per stage\) of 0/1 per block"),
    ({"non_local": [[0, 0], [1, 0, 1], [1, 0], [0, 0]]},
     r"non_local\[1\] must list 0 or 1 for each of the stage's 2 blocks, got \[1, 0, 1\]"),
    ({"non_local": PATTERN, "non_local_cfg": {"mode": "dot_product", "scale": True}},
     r"non_local_cfg: unknown key 'scale'; known: mode, reduction, sub_sample, use_scale"),
    ({"non_local": PATTERN, "non_local_cfg": {"mode": "gaussian", "use_scale": True}},
     r"non_local_cfg.use_scale scales the embedded_gaussian mode only, not gaussian"),
    ({"non_local": PATTERN, "non_local_cfg": {"mode": "concatenation"}},
     r"non_local_cfg.mode must be one of dot_product, gaussian, embedded_gaussian, got 'concatenation'"),
])
def test_bad_non_local_settings_are_one_line(backbone, message):
    with pytest.raises(ValueError, match="^" + message):
        build_model(model_cfg(num_seg=T, **backbone))
