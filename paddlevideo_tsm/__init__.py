"""paddlevideo_tsm: TSM (Temporal Shift Module) video recognition on PaddlePaddle."""
__version__ = "0.1.0"
