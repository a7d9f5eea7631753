"""The conv + BatchNorm (+ activation) layer every backbone is built from.

Its sublayers are named ``_conv`` and ``_batch_norm`` as in PaddleVideo and PaddleClas, so their
checkpoints load without a key map; an optional 2x2 average pool before the conv (ResNet-vd's
shortcut) has no parameters and adds no keys.
"""
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr
from paddle.nn.initializer import Constant, KaimingNormal
from paddle.regularizer import L2Decay

# activation name -> function; leaky_relu has PaddleVideo's slope 0.01 (ResNet-vd), relu6 MobileNetV2's
ACTIVATIONS = {"relu": F.relu, "leaky_relu": F.leaky_relu, "relu6": F.relu6}


def check_activation(name):
    """``name`` if it is None or a key of ACTIVATIONS, else ValueError."""
    if name is not None and name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or None, got {name!r}")
    return name


def apply_activation(name, x):
    """x through activation ``name`` (None: unchanged)."""
    return x if name is None else ACTIVATIONS[name](x)


class ConvBNLayer(nn.Layer):
    """[2x2/2 ceil-mode avg pool] -> conv k x k (no bias, padding (k-1)//2) -> BN -> activation.

    ``groups``: conv groups (= channels for a depthwise conv); ``pool_first``: ResNet-vd's
    downsampling shortcut; ``bn_decay``: whether BN scale/shift take the optimizer's weight decay
    (PaddleVideo's ResNets exempt them, its MobileNetV2 does not).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, act=None, data_format="NCHW",
                 groups=1, pool_first=False, bn_decay=False):
        super().__init__()
        self.act = check_activation(act)
        self._pool = (nn.AvgPool2D(2, 2, 0, ceil_mode=True, data_format=data_format)
                      if pool_first else None)
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2, groups=groups, bias_attr=False,
                               weight_attr=ParamAttr(initializer=KaimingNormal()),
                               data_format=data_format)
        no_decay = None if bn_decay else L2Decay(0.0)
        self._batch_norm = nn.BatchNorm2D(
            out_channels, data_format=data_format,
            weight_attr=ParamAttr(initializer=Constant(1.0), regularizer=no_decay),
            bias_attr=ParamAttr(initializer=Constant(0.0), regularizer=no_decay))

    def forward(self, x):
        if self._pool is not None:
            x = self._pool(x)
        return apply_activation(self.act, self._batch_norm(self._conv(x)))
