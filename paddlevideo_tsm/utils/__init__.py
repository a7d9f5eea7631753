from .config import AttrDict, read_config  # noqa: F401
from .registry import Registry, check_kwargs  # noqa: F401
from .logger import get_logger  # noqa: F401
