from .temporal_shift import TemporalShift, online_shift_step, temporal_shift  # noqa: F401
