"""Grad-CAM over a whole clip: one backward pass of the clip's class score into a per-frame layer.

The clip's T frames go through the model together, so the gradient that reaches frame t's
features includes what flows back through the temporal shifts from the other frames' features;
a frame fed on its own (as a 2D image) misses exactly that part. For each frame t the channel
weights are the spatial mean of the gradient in that frame, and the map is
ReLU(sum_c weight[t, c] * feature[t, c]) at the layer's resolution.
"""
from typing import List, NamedTuple

import numpy as np
import paddle

from ..errors import ConfigError
from ..loader.pipelines.compose import Compose
from ..loader.pipelines.to_array import Normalization
from ..metrics.scores import softmax


class CamResult(NamedTuple):
    """maps float [T, h, w] (>= 0, unnormalised), target class, probs float [K] of the clip,
    layer (the full sublayer name)."""
    maps: np.ndarray
    target: int
    probs: np.ndarray
    layer: str


def default_layer(model):
    """Full name of the default CAM layer: the last per-frame feature map of a TSMBackbone (its
    ``cam_layer``, else its last unit), else the whole backbone."""
    backbone = model.backbone
    if getattr(backbone, "cam_layer", None):
        return f"backbone.{backbone.cam_layer}"
    units = getattr(backbone, "units", None)
    try:
        last = units()[-1][0] if units else None
    except NotImplementedError:
        last = None
    return f"backbone.{last}" if last else "backbone"


def layer_names(model):
    """Every sublayer name of ``model`` a CAM can use, in definition order."""
    return [name for name, _ in model.named_sublayers() if name]


def resolve_layer(model, name=None):
    """``name`` (a full sublayer name, or one inside the backbone: 'res4b' = 'backbone.res4b';
    None = default_layer) -> (full name, layer). ConfigError naming --layer when there is none."""
    name = name or default_layer(model)
    layers = dict(model.named_sublayers())
    layers["backbone"] = model.backbone
    for full in (name, f"backbone.{name}"):
        if full in layers:
            return full, layers[full]
    units = [f"backbone.{n}" for n, _ in model.backbone.units()] if hasattr(model.backbone, "units") else []
    hint = f"; the backbone's units: {', '.join(units)}" if units else ""
    raise ConfigError(f"--layer {name}: the model has no such sublayer{hint} "
                      f"(any name of model.named_sublayers() works, e.g. backbone.res4a.conv1)")


def grad_cam(model, clip, target=None, layer=None):
    """Grad-CAM of one clip: ``clip`` float32 [T, C, H, W] (NHWC model: [T, H, W, C]) as the model's
    input; ``target`` a class index (None = the predicted class); ``layer`` a name for
    resolve_layer. The model is put in eval mode. -> CamResult with maps [T, h, w]."""
    name, sublayer = resolve_layer(model, layer)
    model.eval()
    captured = []

    def keep_output(_layer, _inputs, output):
        captured.append(output)

    handle = sublayer.register_forward_post_hook(keep_output)
    try:
        with paddle.set_grad_enabled(True):
            scores = model(paddle.to_tensor(np.asarray(clip, dtype="float32")[None]))  # [1, K]
            probs = softmax(scores.numpy()[0])
            k = int(np.argmax(probs)) if target is None else int(target)
            if not 0 <= k < probs.shape[0]:
                raise ConfigError(f"--target_class {k}: the model has classes 0..{probs.shape[0] - 1}")
            feats = captured[-1] if captured else None
            if not isinstance(feats, paddle.Tensor) or feats.ndim != 4 or feats.shape[0] != len(clip):
                shape = list(feats.shape) if isinstance(feats, paddle.Tensor) else type(feats).__name__
                raise ConfigError(f"--layer {name}: its output {shape} is not one feature map per frame "
                                  f"([{len(clip)}, C, h, w] or NHWC); choose a backbone layer")
            grads = paddle.grad([scores[0, k]], [feats], allow_unused=True)[0]
    finally:
        handle.remove()
    if grads is None:
        raise ConfigError(f"--layer {name}: the class score does not depend on this layer's output")
    a, g = feats.numpy(), grads.numpy()
    if model.data_format == "NHWC":
        a, g = a.transpose(0, 3, 1, 2), g.transpose(0, 3, 1, 2)
    weights = g.mean(axis=(2, 3))  # [T, C]: per frame, since each frame has its own features
    maps = np.maximum(np.einsum("tc,tchw->thw", weights, a), 0.0)
    return CamResult(maps.astype(np.float32), k, probs, name)


class Clip(NamedTuple):
    """One clip of an input as the model sees it: ``inputs`` float32 [T, ...] (the network input),
    ``frames`` uint8 [T, H, W, 3] (the same crops before normalisation, RGB) and ``frame_idx``
    (0-based indices of the sampled frames in the input)."""
    inputs: np.ndarray
    frames: np.ndarray
    frame_idx: List[int]


def _split_at_normalization(pipeline):
    steps = list(pipeline.steps)
    cut = next((i for i, s in enumerate(steps) if isinstance(s, Normalization)), len(steps))
    return Compose(steps[:cut]), Compose(steps[cut:])


def load_clip(preprocessor, path, kind, data_format="NCHW"):
    """Clip 0 (of one) of a video or frame folder through ``preprocessor``'s test pipeline
    (inference.preprocess.Preprocessor), first crop of a multi-crop -> Clip."""
    before, after = _split_at_normalization(preprocessor.pipeline(kind))
    results = before({"filename": path, "clip_idx": 0, "num_clips": 1})
    shown = np.asarray(results["imgs"])
    inputs = np.asarray(after(results)["imgs"], dtype=np.float32)
    if inputs.ndim == 5:  # [crops, T, ...]
        inputs, shown = inputs[0], shown[0]
    if data_format == "NCHW":
        shown = shown.transpose(0, 2, 3, 1)
    frames = np.clip(np.rint(shown), 0, 255).astype(np.uint8)
    return Clip(inputs, np.ascontiguousarray(frames), [int(i) for i in np.asarray(results["frame_idx"]).reshape(-1)])
