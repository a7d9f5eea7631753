"""Small builders shared by the tests."""
import numpy as np
import paddle

from paddlevideo_tsm.modeling import build_model


def model_cfg(depth=18, num_seg=4, num_classes=8, data_format="NCHW", base_channels=16, stem="3x3",
              **backbone):
    """A MODEL section for a small TSM (ResNet-18 layout, 16 base channels by default)."""
    width = base_channels * (8 if depth < 50 else 32)
    bb = {"name": "ResNetTSM", "depth": depth, "num_seg": num_seg, "data_format": data_format,
          "base_channels": base_channels, "stem": stem}
    bb.update(backbone)
    return {"framework": "Recognizer2D", "backbone": bb,
            "head": {"name": "TSMHead", "num_classes": num_classes, "in_channels": width,
                     "data_format": data_format}}


def tiny_model(seed=0, **kw):
    paddle.seed(seed)
    return build_model(model_cfg(**kw))


def online_pair(cfg, seed=0):
    """(clip-mode online Recognizer2D, per-frame OnlineRecognizer) of MODEL section ``cfg`` (its
    backbone with shift_mode online), sharing random weights and BN statistics, in eval mode."""
    from paddlevideo_tsm.online import build_online_model
    paddle.seed(seed)
    clip = build_model(cfg)
    randomize_bn_stats(clip, seed)
    clip.eval()
    frame = build_online_model(cfg)
    frame.recognizer.set_state_dict(clip.state_dict())
    return clip, frame


def randomize_bn_stats(model, seed=0):
    """Give every BatchNorm non-trivial running statistics so eval-mode tests exercise them."""
    rng = np.random.default_rng(seed)
    for name, t in model.state_dict().items():
        if name.endswith("_mean"):
            t.set_value(rng.normal(0, 0.1, t.shape).astype("float32"))
        elif name.endswith("_variance"):
            t.set_value(rng.uniform(0.5, 2.0, t.shape).astype("float32"))


def realistic_bn_stats(model, x, seed=0):
    """Random but well-scaled BN state: the statistics of the activations of input x (one train-mode
    pass with momentum 0), moved at random, with random scales and shifts; returns model in eval.
    Deep models with raw random statistics blow their activations up until float32 cannot compare."""
    rng = np.random.default_rng(seed)
    bns = [m for m in model.sublayers() if isinstance(m, paddle.nn.BatchNorm2D)]
    momenta = [bn._momentum for bn in bns]
    for bn in bns:
        bn._momentum = 0.0
    model.train()
    with paddle.no_grad():
        model(x)
    for bn, momentum in zip(bns, momenta):
        bn._momentum = momentum
        c = bn.weight.shape[0]
        var = bn._variance.numpy()
        bn._mean.set_value(bn._mean.numpy() + rng.normal(0, 0.3, c).astype("float32") * np.sqrt(var))
        bn._variance.set_value(var * rng.uniform(0.5, 2.0, c).astype("float32"))
        bn.weight.set_value(rng.uniform(0.5, 1.5, c).astype("float32"))
        bn.bias.set_value(rng.uniform(-0.3, 0.3, c).astype("float32"))
    model.eval()
    return model


def to_nhwc(x):
    """[N, T, C, H, W] numpy -> [N, T, H, W, C]."""
    return np.ascontiguousarray(np.transpose(x, (0, 1, 3, 4, 2)))


def rel_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def reference_keys(path):
    """[(key, [shape])] from a ../shared/reference key list."""
    out = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        key, shape = line.split()
        out.append((key, [int(s) for s in shape.split("x")]))
    return out
