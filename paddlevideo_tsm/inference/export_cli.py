"""``tools/export_model.py``: a config + weights -> NAME.pdmodel/.json + NAME.pdiparams (+ optional .onnx)."""
import os
import sys

from .. import cli_args
from ..errors import InferenceError, run_cli


def add_arguments(parser):
    """The exporter's command line options (PaddleVideo names: -o is the output folder, and an
    -o KEY=VALUE is taken as --override KEY=VALUE)."""
    a = parser.add_argument
    cli_args.add_config_args(parser, short_override=False)
    a("-p", "--pretrained_params", dest="weights", default=None,
      help="trained .pdparams (strictly loaded); without it a random init is exported")
    a("-o", "--output_path", dest="out_dir", required=True, help="output folder")
    a("--num_seg", type=cli_args.int_at_least(1), default=None, help="frames per clip (default INFERENCE.num_seg)")
    a("--img_size", type=cli_args.int_at_least(1), default=None, help="input size (default INFERENCE.target_size)")
    a("--batch_size", type=cli_args.int_at_least(1, -1), default=1,
      help="clips per run, fixed (default 1: the fastest CPU shift); -1 = dynamic batch")
    a("--save_name", default=None, help="file name stem (default model_name)")
    a("--format", choices=("pdmodel", "json"), default="pdmodel", help="old-IR .pdmodel or PIR .json")
    a("--onnx", action="store_true", help="also write NAME.onnx with paddle2onnx")
    a("--online", action="store_true", help="export the online (streaming) TSM step model")
    return parser


def run(args):
    """Export per ``args``; prints the files and the input shape; returns the exit code."""
    from ..config import get_config
    from .export import export_from_config
    from .model_file import params_file_for

    cfg = get_config(args.config, args.override)
    save_name = args.save_name or cfg.get("model_name") or "model"
    if args.onnx and cfg["MODEL"]["backbone"].get("data_format", "NCHW") == "NHWC":
        # checked first: paddle2onnx 2.1 aborts the whole process on an NHWC conv2d
        raise InferenceError("--onnx: paddle2onnx cannot convert NHWC convolutions; export with "
                             "-o MODEL.backbone.data_format=NCHW (the same weights load)")
    if args.online:
        from ..online.export import META_SUFFIX, export_online

        try:
            meta = export_online(cfg, args.weights, args.out_dir, save_name, args.format, size=args.img_size)
        except ValueError as exc:  # a model the online runtime cannot step (e.g. another backbone)
            raise InferenceError(f"--online: {exc}") from None
        written, shape = [meta["model_file"], meta["params_file"],
                          os.path.join(args.out_dir, save_name + META_SUFFIX)], None
        (name, in_shape), caches = meta["inputs"][0], len(meta["inputs"]) - 1
        print(f"online input {name}: {list(in_shape)} (+ {caches} shift caches)")
    else:
        written, shape = export_from_config(cfg, args.weights, args.out_dir, save_name, args.num_seg,
                                            args.img_size, args.batch_size, args.format)
    if args.onnx:
        from .onnx import convert_to_onnx
        model_file = next(f for f in written if f.endswith((".pdmodel", ".json")))
        written = list(written) + [convert_to_onnx(model_file, params_file_for(model_file),
                                                   os.path.join(args.out_dir, save_name + ".onnx"))]
    for path in written or []:
        print(f"wrote {path}")
    if shape is not None:
        print(f"input shape: {shape} (float32, {'dynamic' if shape[0] == -1 else 'fixed'} batch)")
        print(shift_message(cfg["MODEL"]["backbone"], fixed_batch=shape[0] != -1))
    return 0


def shift_message(backbone, fixed_batch):
    """One line: which temporal shift implementation the exported graph contains, and why."""
    from ..modeling.ops import resolve_shift_div
    from ..modeling.ops.temporal_shift import resolved_impl

    impl = backbone.get("shift_impl", "auto")
    shift_div = resolve_shift_div(backbone.get("shift_div", 8), backbone.get("num_seg", 8))
    runs = resolved_impl(impl, shift_div, backbone.get("shift_direction", "paddle"),
                         backbone.get("shift_mode", "offline"), dynamic=False, fixed_batch=fixed_batch,
                         data_format=backbone.get("data_format", "NCHW"))
    if runs is None:
        return "temporal shift: none (shift_div 0: TSN)"
    why = {"op": "Paddle's temporal_shift op (GPU builds: its CUDA kernel, Paddle-TensorRT)",
           "frames": "split/concat on frames and channels (fixed batch; fastest with oneDNN on CPU)",
           "block": "reshape of the moving channels (dynamic batch; export with --batch_size N for "
                    "the faster 'frames')",
           "slice": "slice/concat on a time axis"}[runs]
    hint = "" if runs == "op" else "; for a GPU/TensorRT deployment export with -o MODEL.backbone.shift_impl=op"
    return f"temporal shift: shift_impl={impl} runs as '{runs}': {why}{hint}"


def main(argv=None):
    parser = add_arguments(cli_args.ArgumentParser(description=__doc__))
    argv = sys.argv[1:] if argv is None else argv
    return run_cli(run, parser.parse_args(cli_args.split_output_overrides(argv)))
