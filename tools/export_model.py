"""Export a TSM model for inference: ``python tools/export_model.py -c CFG -p W.pdparams -o OUT``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm.inference.export_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
