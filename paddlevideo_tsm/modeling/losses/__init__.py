from .cross_entropy import CrossEntropyLoss  # noqa: F401
