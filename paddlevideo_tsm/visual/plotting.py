"""matplotlib for the plots, always with the headless Agg backend; a one-line error when missing."""
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
    """Write ``fig`` to ``path`` as a PNG through a temporary name (tasks.checkpoint.atomic_save), so a
    killed run never leaves half a PNG; closes the figure. Returns path."""
    from ..tasks.checkpoint import atomic_save
    try:
        atomic_save(fig, path, writer=lambda figure, tmp: figure.savefig(tmp, dpi=dpi, format="png"))
    finally:
        pyplot().close(fig)
    return path
