"""Online TSM: per-frame streaming recognition with the shifted folds cached between frames."""
from .export import export_online  # noqa: F401
from .frame_model import OnlineRecognizer, build_online_model, online_model_config  # noqa: F401
