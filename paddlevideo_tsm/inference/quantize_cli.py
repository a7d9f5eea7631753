"""``tools/quantize.py``: an exported float model -> an int8 model, calibrated on clips of the config's
validation list (else its test list), for ``tools/predict.py`` / ``predict_online.py`` on CPU.

    python tools/quantize.py -c CFG --model_file M.pdmodel [--params_file M.pdiparams] --calib_clips 32 -o OUT
        [--onnx] [--eval_clips N]

Writes OUT/<name>_int8.pdmodel + .pdiparams (+ .online.json for an online export; + <name>_int8.onnx
with --onnx, for --backend onnxruntime) and never overwrites a file. As in tools/export_model.py,
``-o`` is the output folder and an ``-o KEY=VALUE`` sets a config key (``--override KEY=VALUE``).
``--eval_clips N`` then runs the float and the int8 model (and the float model in bf16 where the
CPU has AVX512-BF16/AMX) on N clips of the test list (else the validation list; -1 = all) and prints
top-1 of each, their top-1 agreement and the largest logit change.
"""
import os
import sys

import numpy as np

from .. import cli_args
from ..errors import InferenceError, run_cli

INT8_SUFFIX = "_int8"


def add_arguments(parser):
    a = parser.add_argument
    cli_args.add_config_args(parser, short_override=False)
    cli_args.add_model_file_args(parser, required=True)
    a("-o", "--output_path", dest="out_dir", required=True, help="output folder")
    a("--calib_clips", type=cli_args.int_at_least(1), default=32,
      help="calibration videos from DATASET.valid (else DATASET.test), shuffled (default 32)")
    a("--seed", type=int, default=0, help="shuffle seed of the calibration and check clips")
    a("--onnx", action="store_true", help="also write <name>_int8.onnx (ONNX Runtime static quantization)")
    a("--eval_clips", type=cli_args.int_at_least(0, -1), default=0,
      help="then compare float with int8 (and bf16 where the CPU has it) on N videos of DATASET.test "
           "(else valid); -1 = all, 0 = skip")
    a("--cpu_threads", type=cli_args.int_at_least(1), default=None, help="CPU math threads (default: all)")
    return parser


def _outputs(model_file, out_dir, online, onnx):
    """{role: path} of the files this run writes; InferenceError when one exists already."""
    stem = os.path.join(out_dir, os.path.splitext(os.path.basename(model_file))[0] + INT8_SUFFIX)
    paths = {"model": stem + ".pdmodel", "params": stem + ".pdiparams"}
    if online:
        from ..online.export import META_SUFFIX
        paths["meta"] = stem + META_SUFFIX
    if onnx:
        paths["onnx"] = stem + ".onnx"
    for path in paths.values():
        if os.path.exists(path):
            raise InferenceError(f"{path}: exists; tools/quantize.py never overwrites a file: remove it "
                                 f"or choose another -o folder")
    return paths


def _clip_scores(runner, views_list):
    """Mean logits over each video's views -> [N, K]."""
    return np.stack([np.asarray(runner(views), np.float64).mean(axis=0) for views in views_list])


def _runner(model_file, params_file, online, threads, onnx=False, precision=None):
    """views [V, T, ...] -> logits [V, K] of a float or quantized model in ``precision`` (None: the
    model's own); an online one streams each view's frames and averages their scores, the head's
    clip consensus."""
    from .predictor import PaddlePredictor, run_batched

    if onnx:
        from .onnx import OnnxRuntimePredictor
        pred = OnnxRuntimePredictor(model_file, threads)
        return lambda views: run_batched(pred, views)
    if online:
        from ..online.predictor import OnlinePredictor
        stream = OnlinePredictor(model_file, params_file, threads, precision=precision)

        def run(views):
            out = []
            for clip in views:
                stream.reset()
                out.append(np.mean([stream.step(frame[None]) for frame in clip], axis=0))
            return np.stack(out)
        return run
    pred = PaddlePredictor(model_file, params_file, cpu_threads=threads, precision=precision)
    return lambda views: run_batched(pred, views)


def compare(reference, scores, labels):
    """Float logits ``reference`` [N, K] vs ``scores`` [N, K] (labels [N] or None) -> dict of
    top1_ref, top1 (None without labels), agreement of the top-1 classes, max_logit_change (largest
    |difference| over the largest |reference logit|)."""
    ref_top, top = reference.argmax(1), scores.argmax(1)
    out = {"agreement": float((ref_top == top).mean()),
           "max_logit_change": float(np.abs(scores - reference).max() / max(np.abs(reference).max(), 1e-12)),
           "top1_ref": None, "top1": None}
    if labels is not None:
        labels = np.asarray(labels)
        out.update(top1_ref=float((ref_top == labels).mean()), top1=float((top == labels).mean()))
    return out


def _evaluate(cfg, args, paths, params_file, online):
    from ..errors import DeviceError
    from .calibration import load_list_clips
    from .paddle_config import check_bf16_cpu

    clips = load_list_clips(cfg, None if args.eval_clips == -1 else args.eval_clips, ("test", "valid"),
                            args.seed)
    print(f"check: {len(clips.views)} videos of DATASET.{clips.split} ({clips.file})")
    reference = _clip_scores(_runner(args.model_file, params_file, online, args.cpu_threads), clips.views)
    models = {"paddle int8": (paths["model"], paths["params"], False, None)}
    if "onnx" in paths:
        models["onnxruntime int8"] = (paths["onnx"], None, True, None)
    try:  # the float model in bf16 needs no calibration: checked too where the CPU has it
        check_bf16_cpu()
        models["paddle bf16"] = (args.model_file, params_file, False, "bf16")
    except DeviceError as exc:
        print(f"paddle bf16 skipped: {exc}")
    for name, (model, params, onnx, precision) in models.items():
        scores = _clip_scores(_runner(model, params, online, args.cpu_threads, onnx, precision), clips.views)
        r = compare(reference, scores, clips.labels)
        top1 = (f"top-1 fp32 {r['top1_ref']:.4f}, {name} {r['top1']:.4f}; " if r["top1"] is not None else "")
        print(f"{name}: {top1}top-1 agreement with fp32 {r['agreement']:.4f}; "
              f"largest logit change {100 * r['max_logit_change']:.2f} % of the largest fp32 logit")


def run(args):
    from ..config import get_config
    from .calibration import load_list_clips
    from .model_file import check_model_files, params_file_for
    from .predictor import check_input_shape
    from .quantize import check_onnx_quantization, clip_feeds, quantize_onnx, quantize_paddle, stream_feeds
    from .settings import inference_settings, input_shape

    cfg = get_config(args.config, args.override)
    model_file = args.model_file
    params_file = args.params_file or params_file_for(model_file)
    if not model_file.endswith(".pdmodel"):
        raise InferenceError(f"{model_file}: tools/quantize.py needs a .pdmodel export (Paddle's "
                             f"quantization reads the old program format): export with --format pdmodel")
    program = check_model_files(model_file, params_file)
    if program.quantized:
        raise InferenceError(f"{model_file}: already quantized ({program.quant_ops} quantization ops); "
                             f"quantize the float export")
    num_seg, size, data_format = inference_settings(cfg)
    if data_format == "NHWC":
        raise InferenceError(f"{args.config}: an NHWC model runs without oneDNN on CPU, so never in int8; "
                             f"export with -o MODEL.backbone.data_format=NCHW (the same weights load)")
    online = any(name == "frame" for name, _ in program.inputs)
    if args.onnx:
        if online:
            raise InferenceError(f"--onnx: {model_file} is an online export; those run on Paddle Inference "
                                 f"(tools/predict_online.py): leave out --onnx")
        check_onnx_quantization()
    paths = _outputs(model_file, args.out_dir, online, args.onnx)
    if not online:
        name, declared = program.inputs[0]
        check_input_shape(declared, input_shape(num_seg, size, data_format), model_file,
                          f" (num_seg {num_seg}, size {size})")

    calib = load_list_clips(cfg, args.calib_clips, ("valid", "test"), args.seed)
    clips = np.concatenate(calib.views)
    print(f"calibration: {len(calib.views)} videos ({len(clips)} clips) of DATASET.{calib.split} ({calib.file})")
    if online:
        feeds = stream_feeds(model_file, params_file, clips, args.cpu_threads)
    else:
        feeds = clip_feeds(name, declared[0] if declared else 1, clips)
        if not feeds:
            raise InferenceError(f"{model_file}: exported for batches of {declared[0]} clips, but only "
                                 f"{len(clips)} calibration clips; give --calib_clips >= {declared[0]}")
    written = quantize_paddle(model_file, params_file, feeds, paths["model"])
    if args.onnx:
        written.append(quantize_onnx(model_file, params_file, feeds, paths["onnx"]))
    for path in written:
        print(f"wrote {path}")
    if args.eval_clips:
        _evaluate(cfg, args, paths, params_file, online)
    return 0


def main(argv=None):
    parser = add_arguments(cli_args.ArgumentParser(description=__doc__.splitlines()[0]))
    argv = sys.argv[1:] if argv is None else argv
    return run_cli(run, parser.parse_args(cli_args.split_output_overrides(argv)))
