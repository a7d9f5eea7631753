from .tsm_head import TSMHead  # noqa: F401
from .pptsm_head import ppTSMHead  # noqa: F401
from .movinet_head import MoViNetHead  # noqa: F401
