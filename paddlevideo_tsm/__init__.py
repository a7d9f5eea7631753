"""paddlevideo_tsm: TSM (Temporal Shift Module) video recognition on PaddlePaddle."""
import warnings

# paddle's import warns about a missing compiler cache used only for custom C++ ops
warnings.filterwarnings("ignore", message="No ccache found")

__version__ = "0.1.0"
