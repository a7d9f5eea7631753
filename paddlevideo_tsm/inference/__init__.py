"""Deployment: static export, Paddle Inference / ONNX Runtime predictors, pre/post-processing."""
from .export import export_from_config, export_model, input_shape, inference_settings  # noqa: F401
from .postprocess import average_views, softmax, top_k, video_probabilities  # noqa: F401
from .paddle_config import check_device, make_config  # noqa: F401
from .predictor import PaddlePredictor, Predictor, run_batched  # noqa: F401
