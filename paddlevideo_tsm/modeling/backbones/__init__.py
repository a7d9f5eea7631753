from .resnet_tsm import ResNetTSM  # noqa: F401
