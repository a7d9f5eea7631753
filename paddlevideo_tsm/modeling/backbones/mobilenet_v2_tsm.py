"""MobileNetV2 with TSM: PaddleVideo's PP-TSM MobileNetV2 (``PPTSM_MobileNetV2``), classifier inside.

Layout and names as PaddleVideo's (and PaddleClas's MobileNetV2, whose ImageNet weights it starts
from): ``conv1`` (3x3/2, 32 x scale), groups ``conv2`` .. ``conv8`` of inverted residual units
(t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1), each
group a ``_first_block`` (stride s) then ``conv<i>_<j>`` (j = 2..n), ``conv9`` 1x1 to 1280, average
pool, and the classifier ``out``. Every unit has a 1x1 expansion conv (also for t = 1) -> 3x3
depthwise -> 1x1 linear conv, ReLU6 after the first two. The units with a shortcut (all but each
group's first) shift their input before the expansion conv, 1/num_seg of the channels each way;
the shortcut takes the unshifted input. Channels are int(c x scale) (truncated).

PaddleVideo averages over the T frames and classifies inside the backbone, with a parameter-free
head (MoViNetHead). Here the tail classifies each frame and ``forward`` averages the T frame
scores: the same numbers (the classifier is linear), and a per-frame step that online TSM can run.
Input ``[N*T, 3, H, W]`` (or NHWC); output scores ``[N, class_num]``.
"""
import paddle
import paddle.nn as nn

from ..ops import TemporalShift, resolve_shift_div
from ..registry import BACKBONES
from .base import ShiftUnit, TSMBackbone
from .conv_bn import ConvBNLayer

# (expansion t, channels c, units n, stride of the first unit s) of groups conv2 .. conv8
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1))
LAST_CHANNELS = 1280


class InvertedResidual(ShiftUnit):
    """[shift] -> 1x1 expand (ReLU6) -> 3x3 depthwise, stride (ReLU6) -> 1x1 linear; plus the input
    when the unit keeps its shape (stride 1, same channels), which is also when it shifts."""

    def __init__(self, in_channels, out_channels, stride, expansion, data_format, make_shift):
        has_shortcut = stride == 1 and in_channels == out_channels
        super().__init__(in_channels, stride, make_shift() if has_shortcut else None, "_expand_conv")
        self.has_shortcut = has_shortcut
        hidden = int(round(in_channels * expansion))
        # PaddleVideo's MobileNetV2 leaves BN to the optimizer's weight decay
        kw = dict(data_format=data_format, bn_decay=True)
        self._expand_conv = ConvBNLayer(in_channels, hidden, 1, act="relu6", **kw)
        self._bottleneck_conv = ConvBNLayer(hidden, hidden, 3, stride, act="relu6", groups=hidden, **kw)
        self._linear_conv = ConvBNLayer(hidden, out_channels, 1, **kw)

    def forward_shifted(self, x, shifted):
        y = self._linear_conv(self._bottleneck_conv(self._expand_conv(shifted)))
        return x + y if self.has_shortcut else y


@BACKBONES.register
class PPTSM_MobileNetV2(TSMBackbone):  # noqa: N801  (PaddleVideo's component name)
    """PP-TSM MobileNetV2; a TSMBackbone (see base.py) whose output is per clip: scores [N, class_num].

    Args: class_num (classes of the classifier ``out``); scale (width multiplier: 0.25, 0.5, 0.75,
    1.0 ...); num_seg (frames per clip, T); data_format NCHW|NHWC; pretrained (path, loaded by the
    recognizer: a PP-TSM checkpoint or PaddleClas's ImageNet MobileNetV2, whose 1000-class ``out``
    is skipped unless class_num is 1000); shift_div ('num_seg' or None = T, PaddleVideo's 1/T per
    direction; an int: fold = C // shift_div; 0 = TSN); shift_direction paddle|pytorch; shift_mode
    offline|online; shift_impl (see ops).
    """

    stem_stride = 2
    classifier_prefixes = ("out.",)  # ImageNet-sized in pretrained files: loaded only when it fits
    classes_arg = "class_num"
    cam_layer = "conv9"  # the last per-frame feature map (1280 channels), before pool and classifier

    def __init__(self, class_num=400, scale=1.0, num_seg=8, data_format="NCHW", pretrained=None,
                 shift_div=None, shift_direction="paddle", shift_mode="offline", shift_impl="auto"):
        super().__init__(num_seg, data_format, pretrained)
        if not scale > 0:
            raise ValueError(f"PPTSM_MobileNetV2 scale must be positive, got {scale!r}")
        shift_div = resolve_shift_div(shift_div, num_seg)
        self.class_num, self.scale, self.shift_div, self.shift_mode = class_num, scale, shift_div, shift_mode

        def make_shift():
            if not shift_div:
                return None
            return TemporalShift(num_seg, shift_div, data_format, shift_direction, shift_mode, shift_impl)

        in_c = int(32 * scale)
        self.conv1 = ConvBNLayer(3, in_c, 3, 2, act="relu6", data_format=data_format, bn_decay=True)
        self._units = []  # [(name, unit)]: the units live in the conv<g> LayerDicts (their keys)
        for g, (t, c, n, s) in enumerate(SETTINGS, start=2):
            c = int(c * scale)
            group = {}
            for j in range(1, n + 1):
                key = "_first_block" if j == 1 else f"conv{g}_{j}"
                group[key] = InvertedResidual(in_c, c, s if j == 1 else 1, t, data_format, make_shift)
                self._units.append((f"conv{g}.{key}", group[key]))
                in_c = c
            self.add_sublayer(f"conv{g}", nn.LayerDict(group))
        self.last_channels = int(LAST_CHANNELS * scale) if scale > 1.0 else LAST_CHANNELS
        self.conv9 = ConvBNLayer(in_c, self.last_channels, 1, act="relu6", data_format=data_format,
                                 bn_decay=True)
        self.pool2d_avg = nn.AdaptiveAvgPool2D(1, data_format=data_format)
        self.out = nn.Linear(self.last_channels, class_num)
        self.out_channels = class_num

    def forward_stem(self, x):
        return self.conv1(x)

    def units(self):
        return list(self._units)

    def forward_tail(self, x):
        """Per frame: conv9 -> average pool -> classifier; [N*T, ...] -> scores [N*T, class_num]."""
        return self.out(paddle.flatten(self.pool2d_avg(self.conv9(x)), 1))

    def forward(self, x):
        """Frames [N*T, 3, H, W] (or NHWC) -> clip scores [N, class_num], the mean over T."""
        scores = super().forward(x)
        return paddle.mean(paddle.reshape(scores, [-1, self.num_seg, self.class_num]), axis=1)
