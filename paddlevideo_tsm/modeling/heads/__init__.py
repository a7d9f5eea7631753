from .tsm_head import TSMHead  # noqa: F401
