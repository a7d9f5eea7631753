"""TSM backbones; what each provides (the contract) is written down in ``base.py``."""
from .base import ShiftUnit, TSMBackbone  # noqa: F401
from .resnet_tsm import ResNetTSM  # noqa: F401
from .resnet_tweaks_tsm import ResNetTweaksTSM  # noqa: F401
from .mobilenet_v2_tsm import PPTSM_MobileNetV2  # noqa: F401
from .mobileone_tsm import MobileOneTSM  # noqa: F401
