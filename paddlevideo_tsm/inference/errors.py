"""Exceptions of export and inference; every message is one line naming the file or option."""


class InferenceError(RuntimeError):
    """A model, option or input the deployment tools cannot use."""


class DeviceError(InferenceError):
    """A requested device or engine (GPU, TensorRT) that this Paddle build cannot provide."""
