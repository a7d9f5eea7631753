"""The synthetic models the benchmarks time: ``--backbone`` picks the network, TSM or its TSN twin.

ResNetTSM + TSMHead and ResNetTweaksTSM (PP-TSM ResNet-vd) + ppTSMHead take ``--depth``;
PPTSM_MobileNetV2 (width 1.0, classifier inside) + MoViNetHead takes none.
"""

BACKBONES = ("ResNetTSM", "ResNetTweaksTSM", "PPTSM_MobileNetV2")
_HEADS = {"ResNetTSM": "TSMHead", "ResNetTweaksTSM": "ppTSMHead", "PPTSM_MobileNetV2": "MoViNetHead"}


def add_backbone_arg(parser):
    parser.add_argument("--backbone", choices=BACKBONES, default="ResNetTSM",
                        help="network (ResNetTweaksTSM: PP-TSM ResNet-vd, --depth; PPTSM_MobileNetV2: "
                             "PP-TSM MobileNetV2, --depth ignored)")


def describe(backbone, depth):
    """A short name for messages: 'ResNet-50', 'ResNet-50-vd', 'MobileNetV2'."""
    names = {"ResNetTSM": f"ResNet-{depth}", "ResNetTweaksTSM": f"ResNet-{depth}-vd"}
    return names.get(backbone, "MobileNetV2")


def model_section(backbone, depth, num_seg, shift_div=None, impl="auto", num_classes=400, **options):
    """MODEL section of ``backbone`` with its head. ``shift_div``: None = the backbone's TSM default
    (ResNetTSM 8, the PP-TSM ones num_seg), 0 = the TSN twin; ``options``: more backbone keys
    (shift_mode, data_format, base_channels ...). The head's in_channels come from the backbone."""
    bb = dict({"name": backbone, "num_seg": num_seg, "shift_impl": impl}, **options)
    if shift_div is not None:
        bb["shift_div"] = shift_div
    head = {"name": _HEADS[backbone]}
    if backbone == "PPTSM_MobileNetV2":
        bb["class_num"] = num_classes
        bb.pop("base_channels", None)
    else:
        bb["depth"] = depth
        head["num_classes"] = num_classes
    return {"framework": "Recognizer2D", "backbone": bb, "head": head}
