"""``tools/visualize_cam.py``: Grad-CAM of one clip of a video or frame folder, as a grid PNG and a video.

    python tools/visualize_cam.py -c CFG -w WEIGHTS.pdparams -i VIDEO -o cam.png
        [--target_class K] [--layer NAME] [--label_map FILE] [--override KEY=VALUE] [--alpha A] [--fps F]

The clip is the config's PIPELINE.test clip (clip 0, first crop), all T frames through the model
at once; the maps are normalised by the clip's largest value, so frames compare. Writes OUT (.png,
the T frames in one grid, a cross at each frame's peak) and OUT's name with .mp4 (or .gif where
OpenCV cannot write MP4), one frame per sampled frame at --fps.
"""
import math
import os

import cv2

from .. import cli_args
from ..errors import ConfigError, DataError, ToolError, run_cli

DISPLAY_SIDE = 160  # tiles are enlarged to at least this many pixels a side


def add_arguments(parser):
    a = parser.add_argument
    cli_args.add_config_args(parser, short_override=False)  # -o is the output, as in tools/export_model.py
    a("-w", "--weights", required=True, help="trained .pdparams")
    a("-i", "--input", required=True, help="a video file or a frame folder")
    a("-o", "--output", required=True, help="the grid PNG to write (the video gets the same name, .mp4/.gif)")
    a("--target_class", type=cli_args.int_at_least(0), default=None,
      help="class whose score is explained (default: the predicted one)")
    a("--layer", default=None,
      help="sublayer whose output is mapped, e.g. backbone.res4b or res4b "
           "(default: the backbone's cam_layer, else its last unit)")
    a("--label_map", default=None, help="class names, 'index name' per line (default DATASET.test.label_map)")
    a("--alpha", type=float, default=0.45, help="heat map opacity in [0, 1]")
    a("--fps", type=cli_args.float_in(0.01, 1000.0), default=4.0, help="frame rate of the video")
    return parser


def _class_names(args, cfg, num_classes):
    from ..inference.postprocess import read_class_names
    path = args.label_map or ((cfg.get("DATASET") or {}).get("test") or {}).get("label_map")
    if not path or not (args.label_map or os.path.isfile(path)):
        return None
    return read_class_names(path, num_classes, args.weights)


def _name(names, k):
    from ..inference.postprocess import class_name

    name = class_name(names, k)
    return str(k) if name is None else f"{k} {name}"


def run(args):
    """Compute and write the CAM of ``args.input`` -> exit code."""
    from ..inference.inputs import classify_path
    from ..inference.preprocess import Preprocessor
    from ..modeling import load_checkpoint
    from ..tasks.runtime import build_model_checked
    from ..config import get_config
    from .cam import grad_cam, load_clip
    from .heatmap import blend, grid, mark, normalize, peaks
    from .video_io import VideoFile

    if not args.output.lower().endswith(".png"):
        raise ToolError(f"-o {args.output}: give the grid image's path, ending in .png")
    if not 0.0 <= args.alpha <= 1.0:
        raise ToolError(f"--alpha must be in [0, 1], got {args.alpha}")
    cfg = get_config(args.config, args.override)
    item = classify_path(args.input)
    if item.error:
        raise DataError(f"{args.input}: {item.error}")
    model = build_model_checked(cfg)
    load_checkpoint(model, args.weights)
    names = _class_names(args, cfg, model.num_classes)
    preprocess = Preprocessor((cfg.get("PIPELINE") or {}).get("test"))
    clip = load_clip(preprocess, item.path, item.kind, model.data_format)
    num_seg = getattr(model.backbone, "num_seg", len(clip.inputs))
    if len(clip.inputs) != num_seg:
        raise ConfigError(f"{args.config}: PIPELINE.test samples {len(clip.inputs)} frames, "
                          f"MODEL.backbone.num_seg is {num_seg}")
    result = grad_cam(model, clip.inputs, args.target_class, args.layer)

    maps = normalize(result.maps)
    t, h, w = clip.frames.shape[:3]
    scale = max(1, math.ceil(DISPLAY_SIDE / min(h, w)))
    tiles = mark(blend(clip.frames, maps, args.alpha, scale), peaks(maps, h, w), scale)
    titles = [f"t{i} frame {f + 1}" for i, f in enumerate(clip.frame_idx)]
    predicted = int(result.probs.argmax())
    header = [f"Grad-CAM for class {_name(names, result.target)} (p={result.probs[result.target]:.3f}); "
              f"predicted {_name(names, predicted)} (p={result.probs[predicted]:.3f})",
              f"layer {result.layer} ({result.maps.shape[1]}x{result.maps.shape[2]}), "
              f"{args.input}"]
    image = grid(tiles, titles, header=header)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    if not cv2.imwrite(args.output, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise ToolError(f"{args.output}: cannot write the image")
    with VideoFile(args.output, args.fps) as video:
        for tile, title in zip(tiles, titles):
            video.write(grid(tile[None], [title], header=header[:1], pad=0))
    print(f"class {_name(names, result.target)}: p={result.probs[result.target]:.4f} "
          f"(predicted {_name(names, predicted)}), layer {result.layer}")
    print(f"wrote {args.output}")
    print(f"wrote {video.path}")
    return 0


def main(argv=None):
    parser = add_arguments(cli_args.ArgumentParser(description=__doc__.splitlines()[0]))
    return run_cli(run, parser.parse_args(argv))
