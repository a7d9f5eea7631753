"""What a TSM backbone provides: the contract the recognizer, the heads and online TSM rely on.

A TSM backbone is a 2D network run on the N*T frames of N clips (``[N*T, 3, H, W]`` NCHW or
``[N*T, H, W, 3]`` NHWC), built as a chain

    stem -> unit 1 -> ... -> unit K -> tail

where every unit is *one shift point + the rest*: the temporal shift (or none) on the unit's
input, then everything else the unit computes (branch, shortcut, activation). ``forward`` runs
that chain on whole clips; online TSM (``online/frame_model.py``) runs the same pieces one frame
at a time, replacing each unit's shift by the cached per-frame shift. A backbone that follows this
contract therefore streams with no code of its own.

A subclass of ``TSMBackbone`` sets or overrides:

- ``num_seg`` (T, the clip length the shifts are built for), ``data_format`` ('NCHW'|'NHWC'),
  ``pretrained`` (a ``.pdparams`` path or None; ``build_model`` loads it into the built recognizer
  with ``weights.load_pretrained``: backbone keys with or without ``backbone.``) - all three via
  ``TSMBackbone.__init__``;
- ``out_channels``: channels of the output features (the head's ``in_channels`` when the config
  leaves it out);
- ``forward_stem(x)`` and ``stem_stride``: the layers before the first unit (they never shift);
- ``units()``: ``[(name, ShiftUnit)]`` in execution order, ``name`` being the unit's sublayer name;
- ``forward_tail(x)``: per-frame layers after the last unit (default: none). A backbone whose
  output is per clip (a classifier and the mean over T inside it) overrides ``forward`` to
  reduce after the tail; the per-frame step never reduces;
- ``classifier_prefixes``: prefixes (inside the backbone) of a classifier it holds itself, e.g.
  MobileNetV2's ``('out.',)``: ``pretrained`` files load them only when their shapes fit (an
  ImageNet classifier is skipped), as the head's (default: none);
- ``classes_arg``: for a backbone that classifies itself, its argument giving the number of
  classes (MobileNetV2's ``'class_num'``): read from a config when the head has no classifier
  (``recognizers.num_classes_of``; default: None);
- ``cam_layer``: the sublayer whose output is the last per-frame feature map, Grad-CAM's default
  layer (default None: the last unit);
- ``new_layer_prefixes``: prefixes (inside the backbone, ending in '.') of layers that a 2D
  pretrained network does not have, such as non-local blocks: ``pretrained`` files load them when
  they hold them, else they keep their initialisation (default: none);
- ``freeze_bns(partial_bn, norm_eval)`` at the end of ``__init__`` when it has those options; the
  trainer reads ``batch_stat_bns()`` (for SyncBN and the small-batch warning), so every backbone
  gets ``MODEL.backbone.sync_bn`` without an argument of its own;
- ``online_refusal``: None, or the reason the backbone cannot run frame by frame (a layer that
  mixes all T frames, such as a non-local block, needs future frames). Such a backbone should
  also refuse ``shift_mode: online`` when it is built.

Config arguments the tools rely on (MODEL.backbone): ``num_seg`` (export replaces it),
``data_format``, ``pretrained``, ``shift_div`` (0 = the TSN twin), ``shift_mode`` offline|online
(online TSM rebuilds the backbone with ``online``) and ``shift_impl``/``shift_direction`` (passed
to every TemporalShift; the exporter reports the implementation from them).

Spatial sizes: a stride s (of the stem or of a unit) maps a side v to ceil(v / s), which is what
k x k convs with padding (k - 1) // 2, a 3x3/2 max-pool with padding 1, strided 1x1 convs and
ceil-mode 2x2 average pools all give; online TSM computes its cache shapes from it.
"""
import paddle.nn as nn
from paddle.nn.layer.norm import _BatchNormBase

from ..ops.shift_impls import channel_axis


class ShiftUnit(nn.Layer):
    """One shift point + the rest: a block whose input may be temporally shifted.

    ``in_channels``: channels of the unit's input (where the shift sits); ``stride``: the unit's
    spatial stride; ``shift``: its TemporalShift or None; ``shift_target``: the sublayer the shift
    precedes ('' when the shifted input feeds the whole unit, shortcut included: in-place shift).
    A subclass registers its own layers after calling ``__init__`` and implements
    ``forward_shifted``.
    """

    def __init__(self, in_channels, stride=1, shift=None, shift_target=""):
        super().__init__()
        self.in_channels, self.stride, self.shift_target = in_channels, stride, shift_target
        self.shift = shift  # parameter-free: adds no state-dict keys

    def forward_shifted(self, x, shifted):
        """The unit's output from its input ``x`` and the shifted input (``x`` itself if unshifted)."""
        raise NotImplementedError

    def forward(self, x):
        shifted = x
        if self.shift is not None:
            shifted = self.shift(x)
        return self.forward_shifted(x, shifted)

    def cache_channels(self):
        """Channels of this unit's per-frame cache (the past fold of its input); 0 if nothing shifts."""
        return 0 if self.shift is None else self.shift.cache_shape(self.in_channels)


class TSMBackbone(nn.Layer):
    """Base class of the TSM backbones; see the module docstring for what a subclass provides."""

    stem_stride = 1
    online_refusal = None
    classifier_prefixes = ()
    classes_arg = None
    cam_layer = None
    new_layer_prefixes = ()

    def __init__(self, num_seg, data_format="NCHW", pretrained=None):
        super().__init__()
        channel_axis(data_format)  # rejects anything but NCHW / NHWC
        self.num_seg, self.data_format, self.pretrained = num_seg, data_format, pretrained
        self.out_channels = None
        self._frozen_bns = []

    def forward_stem(self, x):
        return x

    def units(self):
        """[(name, ShiftUnit)] in the order ``forward`` runs them."""
        raise NotImplementedError

    def forward_tail(self, x):
        return x

    def forward(self, x):
        if self.training:
            # Layer.train() flips every sublayer back to training; frozen BNs must stay in eval
            for bn in self._frozen_bns:
                bn.training = False
        x = self.forward_stem(x)
        for _, unit in self.units():
            x = unit(x)
        return self.forward_tail(x)

    def shift_sites(self):
        """[(unit name, sublayer its shift precedes, '' = the whole unit)] for every shifting unit."""
        return [(name, unit.shift_target) for name, unit in self.units() if unit.shift is not None]

    def batch_stat_bns(self):
        """The BatchNorm layers that normalise with the batch's statistics in training: all but those
        ``freeze_bns`` keeps in eval mode (SyncBN converts these; they want enough clips per batch)."""
        frozen = {id(bn) for bn in self._frozen_bns}
        return [m for m in self.sublayers() if isinstance(m, _BatchNormBase) and id(m) not in frozen]

    def freeze_bns(self, partial_bn=False, norm_eval=False, keep=()):
        """Call at the end of ``__init__``. partial_bn: every BN but the first keeps its running
        statistics and stops learning; norm_eval: every BN keeps its running statistics. BNs in
        ``keep`` (new layers, not pretrained) are left alone."""
        kept = {id(bn) for bn in keep}
        bns = [m for m in self.sublayers() if isinstance(m, nn.BatchNorm2D) and id(m) not in kept]
        self._frozen_bns = bns if norm_eval else (bns[1:] if partial_bn else [])
        if partial_bn:
            for bn in bns[1:]:
                for p in bn.parameters():
                    p.stop_gradient = True
