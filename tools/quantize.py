"""Quantize an exported model to int8 for CPU inference: ``python tools/quantize.py -c CFG --model_file M -o OUT``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm.inference.quantize_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
