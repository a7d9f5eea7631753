"""``tools/predict.py``: classify videos / frame folders with an exported model (Paddle Inference or ONNX Runtime)."""
import argparse
import json
import os
import sys
import time

import numpy as np

from ..errors import DeviceError, InferenceError, run_cli

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K400_LABELS = os.path.join(PROJECT_ROOT, "data", "k400", "label_list.txt")


def str2bool(text):
    """'True'/'false'/'1'/'no'... -> bool (argparse type for PaddleVideo-style ``--flag True``)."""
    value = str(text).strip().lower()
    if value in ("true", "t", "yes", "y", "1", "on"):
        return True
    if value in ("false", "f", "no", "n", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def add_arguments(parser):
    """The predictor's command line options (PaddleVideo names)."""
    a = parser.add_argument
    a("-i", "--input_file", required=True,
      help="a video, a frame folder, a folder of videos/frame folders, or a .txt list of them")
    a("-c", "--config", required=True, help="the model's YAML config (test pipeline, num_seg, size)")
    a("-o", "--override", action="append", default=[], help="config override KEY=VALUE (repeatable)")
    a("--model_file", help="exported NAME.pdmodel or NAME.json (paddle backend)")
    a("--params_file", help="NAME.pdiparams (default: next to --model_file)")
    a("--backend", choices=("paddle", "onnxruntime"), default="paddle")
    a("--onnx_file", help="model .onnx (onnxruntime backend)")
    a("--use_gpu", type=str2bool, nargs="?", const=True, default=False)
    a("--use_tensorrt", type=str2bool, nargs="?", const=True, default=False)
    a("--precision", choices=("fp32", "fp16", "int8"), default="fp32")
    a("--gpu_mem", type=int, default=8000, help="initial GPU memory in MB")
    a("--batch_size", type=int, default=1, help="videos per predictor run")
    a("--cpu_threads", type=int, default=None, help="CPU math threads (default: all cores)")
    a("--enable_mkldnn", type=str2bool, nargs="?", const=True, default=True, help="oneDNN on CPU")
    a("--top_k", type=int, default=1)
    a("--label_map", default=None,
      help="class names ('index name' per line); default data/k400/label_list.txt for 400 classes")
    a("--output", default=None, help="write one JSON line per predicted input to this file")
    a("--enable_benchmark", type=str2bool, nargs="?", const=True, default=False,
      help="print per-stage median times")
    a("--save_video", metavar="DIR", default=None,
      help="write each input's frames with its top-k drawn to DIR/<input name>.mp4 (.gif without MP4)")
    return parser


def _label_names(args, cfg):
    from ..loader.datasets.list_file import read_label_map

    path = args.label_map
    if path is None and cfg["MODEL"]["head"].get("num_classes") == 400 and os.path.isfile(K400_LABELS):
        path = K400_LABELS
    return read_label_map(path) if path else None


def build_predictor(args, num_seg, expected_shape, layout, views=1):
    """The backend's predictor for ``args``; its exported input shape checked against the config.

    ``views`` per video sizes TensorRT's batch range: one run holds batch_size x views clips.
    """
    from ..utils.threads import available_cores
    from .predictor import PaddlePredictor, check_device, check_input_shape

    check_device(args.use_gpu, args.use_tensorrt)  # before any file checks: the request itself is impossible
    cpu_threads = args.cpu_threads or available_cores()
    if args.backend == "onnxruntime":
        if args.use_gpu or args.use_tensorrt:
            raise DeviceError("--backend onnxruntime runs on CPU here; drop --use_gpu/--use_tensorrt")
        from .onnx import OnnxRuntimePredictor
        predictor = OnnxRuntimePredictor(args.onnx_file, cpu_threads)
        model_file = args.onnx_file
    else:
        from .model_file import params_file_for
        model_file = args.model_file
        params_file = args.params_file or (params_file_for(model_file) if model_file else None)
        predictor = PaddlePredictor(
            model_file, params_file, use_gpu=args.use_gpu, use_tensorrt=args.use_tensorrt,
            precision=args.precision, gpu_mem=args.gpu_mem, batch_size=max(args.batch_size, 1) * views,
            num_seg=num_seg, cpu_threads=cpu_threads, enable_mkldnn=args.enable_mkldnn,
            data_format=layout)
    size = expected_shape[3] if layout == "NCHW" else expected_shape[2]
    check_input_shape(predictor.input_shape, expected_shape, model_file, f" (num_seg {num_seg}, size {size}, {layout})")
    return predictor


class _Run:
    """State of one predict run: preprocessing, predictor, outputs and failures."""

    def __init__(self, args, cfg, preprocess, predictor, names, out_file, timer):
        self.args, self.cfg, self.preprocess, self.predictor = args, cfg, preprocess, predictor
        self.names, self.out_file, self.timer = names, out_file, timer
        self.failed = 0
        self.pending = []  # (item, views) waiting for a batch
        self.videos = None
        if getattr(args, "save_video", None):
            from ..visual.annotate import PredictionVideos
            self.videos = PredictionVideos(args.save_video)

    def fail(self, given, reason):
        self.failed += 1
        print(f"error: {given}: {reason}", file=sys.stderr, flush=True)

    def add(self, item, expected_shape):
        from ..errors import one_line
        from ..loader.bad_samples import LOAD_ERRORS

        if item.error:
            return self.fail(item.given, item.error)
        try:
            with self.timer.stage("preprocess"):
                views = self.preprocess(item.path, item.kind)
        except LOAD_ERRORS as exc:
            return self.fail(item.given, one_line(exc))
        if list(views.shape[1:]) != list(expected_shape[1:]):
            return self.fail(item.given, f"preprocessing gives views {list(views.shape)}, the model "
                                         f"input is {['B'] + list(expected_shape[1:])}; check PIPELINE.test")
        self.pending.append((item, views))
        if len(self.pending) >= max(self.args.batch_size, 1):
            self.flush()

    def save_video(self, item, ids, labels, probs):
        from ..errors import one_line
        from ..loader.bad_samples import LOAD_ERRORS
        try:
            print(f"video: {self.videos.add(item.path, item.kind, ids, labels, probs)[0]}", flush=True)
        except LOAD_ERRORS as exc:
            self.fail(item.given, f"--save_video: {one_line(exc)}")

    def flush(self):
        from .postprocess import class_name, top_k, video_probabilities
        from .predictor import run_batched

        if not self.pending:
            return
        batch = np.concatenate([v for _, v in self.pending], axis=0)
        counts = [len(v) for _, v in self.pending]
        t0 = time.perf_counter()
        try:
            scores = run_batched(self.predictor, batch)
        except Exception as exc:  # an engine error on this batch: report its inputs, go on with the rest
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            for item, _ in self.pending:
                self.fail(item.given, f"inference failed: {reason}")
            self.pending = []
            return
        per_video = (time.perf_counter() - t0) / len(self.pending)
        start = 0
        for (item, _), n in zip(self.pending, counts):
            self.timer.add("inference", per_video)
            with self.timer.stage("postprocess"):
                ids, probs = top_k(video_probabilities(scores[start:start + n]), self.args.top_k)
                labels = [class_name(self.names, i) for i in ids]
                record = {"input": item.given, "class_ids": ids, "class_names": labels, "scores": probs}
            start += n
            name = f" {labels[0]}" if labels[0] is not None else ""
            print(f"input: {item.given} top-1 class: {ids[0]}{name} score: {probs[0]:.6f}", flush=True)
            if self.videos is not None:
                self.save_video(item, ids, labels, probs)
            if self.out_file is not None:
                self.out_file.write(json.dumps(record) + "\n")
                self.out_file.flush()
        self.pending = []


def run(args):
    """Predict every input of ``args``; returns the exit code (0 ok, 1 some input failed, 2 setup error)."""
    from ..utils.config import get_config
    from .export import inference_settings, input_shape
    from .inputs import expand_inputs
    from .preprocess import Preprocessor, num_test_clips, views_per_video
    from .timing import StageTimer

    cfg = get_config(args.config, args.override)
    num_seg, img_size, data_format = inference_settings(cfg)
    expected = input_shape(num_seg, img_size, data_format)
    names = _label_names(args, cfg)
    preprocess = Preprocessor(cfg.get("PIPELINE", {}).get("test"), num_test_clips(cfg))
    predictor = build_predictor(args, num_seg, expected, data_format, views_per_video(cfg))
    if not os.path.exists(args.input_file):
        raise InferenceError(f"{args.input_file}: input file not found")
    items = expand_inputs(args.input_file)
    try:
        out_file = open(args.output, "w", encoding="utf-8") if args.output else None
    except OSError as exc:
        raise InferenceError(f"{args.output}: cannot write the output ({exc.strerror})") from None
    timer = StageTimer()
    state = _Run(args, cfg, preprocess, predictor, names, out_file, timer)
    try:
        for item in items:
            state.add(item, expected)
        state.flush()
    finally:
        if out_file is not None:
            out_file.close()
    if args.enable_benchmark:
        for line in timer.table(f"per-input time, median over {len(items) - state.failed} inputs "
                                f"({predictor.backend}, batch {args.batch_size})"):
            print(line)
    if state.failed:
        print(f"error: {state.failed} of {len(items)} inputs failed", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    parser = add_arguments(argparse.ArgumentParser(description=__doc__))
    return run_cli(run, parser.parse_args(argv))
