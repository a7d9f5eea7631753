"""Loading PaddleVideo-layout checkpoints strictly, pretrained backbones leniently, and the errors."""
import numpy as np
import paddle
import pytest

from paddlevideo_tsm.errors import CheckpointError
from paddlevideo_tsm.modeling import build_model, load_checkpoint, load_pretrained
from helpers import reference_keys, tiny_model


def pv_model(depth, data_format="NCHW", num_classes=10):
    return build_model({"framework": "Recognizer2D",
                        "backbone": {"name": "ResNetTSM", "depth": depth, "data_format": data_format},
                        "head": {"name": "TSMHead", "num_classes": num_classes, "in_channels": 2048}})


def state_from_reference(path, seed=0):
    """A random-valued state dict in PaddleVideo's layout, made from the reference key list."""
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=shape).astype("float32") for k, shape in reference_keys(path)}


@pytest.mark.parametrize("depth", [50, 101])
def test_keys_and_shapes_equal_paddlevideo(depth, shared_reference):
    ref = reference_keys(shared_reference / f"paddlevideo_tsm_r{depth}_keys.txt")
    mine = [(k, list(v.shape)) for k, v in pv_model(depth).state_dict().items()]
    assert mine == ref


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
@pytest.mark.parametrize("depth", [50, 101])
def test_paddlevideo_state_dict_loads_strictly(depth, data_format, shared_reference, tmp_path):
    state = state_from_reference(shared_reference / f"paddlevideo_tsm_r{depth}_keys.txt")
    path = str(tmp_path / "TSM_pv.pdparams")
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, path)
    model = pv_model(depth, data_format)
    assert load_checkpoint(model, path) == len(state)
    got = model.state_dict()
    for key in ("backbone.conv._conv.weight", "backbone.res4a.short._batch_norm._variance", "head.fc.weight"):
        np.testing.assert_array_equal(got[key].numpy(), state[key])


def test_strict_load_lists_missing_unexpected_and_mismatched(tmp_path):
    model = tiny_model(depth=18)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    for k in [k for k in state if k.startswith("backbone.res5")][:12]:
        del state[k]
    state["backbone.extra.weight"] = np.zeros(3, "float32")
    state["head.fc.weight"] = np.zeros((128, 5), "float32")
    path = str(tmp_path / "bad.pdparams")
    paddle.save(state, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(model, path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(path)
    assert "12 missing: backbone.res5a" in msg and "(+2 more)" in msg
    assert "1 unexpected: backbone.extra.weight" in msg
    assert "1 shape mismatch: head.fc.weight [128, 5] vs model [128, 8]" in msg


@pytest.mark.parametrize("content, fragment", [(None, "weights file not found"), (b"", "weights file is empty"),
                                               (b"not a pickle at all", "cannot read weights")])
def test_unreadable_checkpoint(tmp_path, content, fragment):
    path = tmp_path / "w.pdparams"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=fragment) as e:
        load_checkpoint(tiny_model(), str(path))
    assert "\n" not in str(e.value)


def test_pretrained_without_prefix_skips_other_classifier(tmp_path, caplog):
    src = tiny_model(seed=1, num_classes=5)
    state = {k[len("backbone."):]: v for k, v in src.state_dict().items() if k.startswith("backbone.")}
    state["fc.weight"] = paddle.zeros([128, 1000])  # an ImageNet classifier the model does not have
    path = str(tmp_path / "imagenet.pdparams")
    paddle.save(state, path)
    dst = tiny_model(seed=2, num_classes=8)
    n = load_pretrained(dst, path)
    assert n == len(state) - 1
    np.testing.assert_array_equal(dst.backbone.res3a.conv0._conv.weight.numpy(),
                                  src.backbone.res3a.conv0._conv.weight.numpy())

    # a whole recognizer of another class count: backbone loads, the head is skipped with a warning
    full = str(tmp_path / "k400.pdparams")
    paddle.save(src.state_dict(), full)
    dst2 = tiny_model(seed=3, num_classes=8)
    head_before = dst2.head.fc.weight.numpy().copy()
    import logging
    logger = logging.getLogger("paddlevideo_tsm")
    logger.propagate = True
    try:
        with caplog.at_level(logging.WARNING, logger="paddlevideo_tsm"):
            load_pretrained(dst2, full)
    finally:
        logger.propagate = False
    assert "skipped 2 classifier tensors of another shape: head.fc.weight [128, 5] vs model [128, 8]" in caplog.text
    np.testing.assert_array_equal(dst2.head.fc.weight.numpy(), head_before)

    # same class count: the head loads too
    dst3 = tiny_model(seed=4, num_classes=5)
    load_pretrained(dst3, full)
    np.testing.assert_array_equal(dst3.head.fc.weight.numpy(), src.head.fc.weight.numpy())


def test_pretrained_of_another_depth_fails(tmp_path):
    path = str(tmp_path / "r34.pdparams")
    paddle.save(tiny_model(depth=34).state_dict(), path)
    with pytest.raises(CheckpointError, match="pretrained backbone does not fit the model; .*shape mismatch|unexpected|missing"):
        load_pretrained(tiny_model(depth=50), path)


def test_backbone_pretrained_key_in_config(tmp_path):
    src = tiny_model(seed=1)
    path = str(tmp_path / "p.pdparams")
    paddle.save(src.state_dict(), path)
    dst = tiny_model(seed=2, pretrained=path)
    np.testing.assert_array_equal(dst.backbone.conv._conv.weight.numpy(), src.backbone.conv._conv.weight.numpy())
