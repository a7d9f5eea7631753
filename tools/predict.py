"""Classify videos with an exported model: ``python tools/predict.py -i VIDEO -c CFG --model_file M``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm.inference.predict_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
