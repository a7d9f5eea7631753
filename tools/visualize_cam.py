"""Grad-CAM of a clip: ``python tools/visualize_cam.py -c CFG -w W.pdparams -i VIDEO -o cam.png``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm.visual.cam_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
