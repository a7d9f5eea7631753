"""matplotlib for the plots, always with the headless Agg backend; a one-line error when missing."""
import os

from ..errors import MissingPackageError

INSTALL_HINT = "pip install -r requirements-vis.txt"


def pyplot():
    """matplotlib.pyplot set to the Agg backend; MissingPackageError when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise MissingPackageError(f"matplotlib is not installed, so no plot is drawn ({INSTALL_HINT})") from None
    matplotlib.use("Agg", force=True)  # no display needed, and never a GUI window from a training run
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi=100):
    """Write ``fig`` to ``path`` (a .png) through a temporary name, so a killed run never leaves half a PNG;
    closes the figure. Returns path."""
    plt = pyplot()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp.png")
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
