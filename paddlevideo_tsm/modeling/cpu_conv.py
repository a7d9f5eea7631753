"""Which kernels run a model's convolutions on CPU: the top-level config key ``cpu_conv``.

``paddle`` (default): Paddle's own (im2col + MKL GEMM in the dynamic graph). ``onednn``: every
eligible ``nn.Conv2D`` calls oneDNN's convolution primitives (modeling/ops/onednn_conv.py) in the
dynamic graph: same parameters, same state dict, same results within float noise; 1.17-1.25x less
CPU per TSM-R50 training step than Paddle's conv with MKL's AVX2 path on an AVX2 CPU, 2.6-2.9x
less than with MKL's generic path (docs/cpu_training.md). ``onednn_bf16``: the same
with bf16 inputs to the primitives and float32 results, where the CPU has bf16 convolutions
(AVX512-BF16 or AMX), else float32 with one warning.

A routed layer runs Paddle's conv wherever the oneDNN op cannot: static graphs (to_static, export),
a GPU or non-float32 tensor, a geometry oneDNN has no fast kernel for (one warning per geometry).
"""
import functools

import paddle
import paddle.nn as nn

from ..utils.logger import get_logger
from .ops import onednn_conv

CPU_CONV_CHOICES = ("paddle", "onednn", "onednn_bf16")
_ROUTED_ATTR = "_onednn_compute"  # set on a routed layer: 'f32' or 'bf16'


def layer_problem(layer):
    """None when ``layer``'s convolution can run in the oneDNN op, else why not (a few words)."""
    if type(layer) is not nn.Conv2D:
        return f"{type(layer).__name__} is not a plain nn.Conv2D"
    if layer._padding_mode != "zeros":
        return f"padding_mode {layer._padding_mode}"
    if layer._padding_algorithm not in ("EXPLICIT", "VALID"):
        return f"padding {layer._padding_algorithm}"
    if layer._data_format not in ("NCHW", "NHWC"):
        return f"data_format {layer._data_format}"
    if layer.weight.dtype != paddle.float32:
        return f"weights in {layer.weight.dtype}"
    return None


def padding_of(layer):
    """(top, bottom, left, right) of an nn.Conv2D with explicit or VALID padding."""
    pad = [int(p) for p in layer._updated_padding]
    return (pad[0], pad[0], pad[1], pad[1]) if len(pad) == 2 else tuple(pad)


@paddle.jit.not_to_static
def routed_forward(layer, x):
    """``layer(x)`` through oneDNN in the dynamic graph on a float32 CPU tensor, else Paddle's conv."""
    if paddle.in_dynamic_mode() and x.place.is_cpu_place() and x.dtype == paddle.float32:
        y = onednn_conv.conv2d(x, layer.weight, tuple(layer._stride), padding_of(layer), tuple(layer._dilation),
                               layer._groups, layer._data_format, getattr(layer, _ROUTED_ATTR))
        if y is not None:
            if layer.bias is not None:
                y = y + (layer.bias.reshape([1, -1, 1, 1]) if layer._data_format == "NCHW" else layer.bias)
            return y
        _warn_geometry(layer, x)
    return nn.Conv2D.forward(layer, x)


_WARNED = set()


def _warn_geometry(layer, x):
    """One warning per geometry that oneDNN cannot run fast."""
    key = (tuple(x.shape), tuple(layer.weight.shape), tuple(layer._stride), layer._groups, layer._data_format)
    if key in _WARNED:
        return
    _WARNED.add(key)
    _, reason = onednn_conv.plan_for(x.shape, layer.weight.shape, tuple(layer._stride), padding_of(layer),
                                     tuple(layer._dilation), layer._groups, layer._data_format,
                                     getattr(layer, _ROUTED_ATTR))
    get_logger().warning(f"cpu_conv: Paddle's conv runs input {list(x.shape)} x weight {list(layer.weight.shape)} "
                         f"stride {list(layer._stride)} groups {layer._groups}: {reason}")


def routed_layers(model):
    """The sublayers of ``model`` whose forward is the oneDNN route."""
    return [layer for layer in model.sublayers(include_self=True) if hasattr(layer, _ROUTED_ATTR)]


def route_convs(model, choice, on_gpu=False, logger=None):
    """Apply ``cpu_conv`` = ``choice`` (None = 'paddle') to ``model``'s nn.Conv2D layers in place;
    logs one line saying what runs where (and why not oneDNN) -> number of layers routed."""
    logger = logger or get_logger()
    choice = choice or "paddle"
    if choice not in CPU_CONV_CHOICES:
        raise ValueError(f"cpu_conv must be one of {', '.join(CPU_CONV_CHOICES)}, got {choice!r}")
    if choice == "paddle":
        return 0
    if on_gpu:
        logger.info(f"cpu_conv: {choice} applies on CPU only; this run is on a GPU: Paddle's convolutions run")
        return 0
    lib, reason = onednn_conv.library()
    if lib is None:
        logger.warning(f"cpu_conv: {choice} unavailable ({reason}): Paddle's convolutions run")
        return 0
    compute = "bf16" if choice == "onednn_bf16" else "f32"
    if compute == "bf16":
        problem = onednn_conv.bf16_problem()
        if problem:
            logger.warning(f"cpu_conv: onednn_bf16: {problem}; the convolutions run in oneDNN in float32")
            compute = "f32"
    convs = [layer for layer in model.sublayers(include_self=True) if isinstance(layer, nn.Conv2D)]
    left = {}
    for layer in convs:
        problem = layer_problem(layer)
        if problem:
            left[problem] = left.get(problem, 0) + 1
            continue
        setattr(layer, _ROUTED_ATTR, compute)
        layer.forward = functools.partial(routed_forward, layer)
    routed = len(convs) - sum(left.values())
    kept = "; ".join(f"{n} kept on Paddle's conv: {why}" for why, n in left.items())
    logger.info(f"cpu_conv: {choice}: {routed} of {len(convs)} Conv2D layers run {lib.describe()} convolutions "
                f"in {'bfloat16' if compute == 'bf16' else 'float32'} (dynamic graph; exports keep Paddle's conv)"
                + (f"; {kept}" if kept else ""))
    return routed

