from .temporal_shift import TemporalShift, online_shift_step, temporal_shift  # noqa: F401
from .shift_plan import resolve_shift_div  # noqa: F401
