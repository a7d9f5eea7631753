"""``tools/predict.py``: classify videos / frame folders with an exported model (Paddle Inference or ONNX Runtime)."""
import json
import os
import sys
import time

import numpy as np

from .. import cli_args
from ..errors import DeviceError, InferenceError, run_cli
from .paddle_config import PRECISIONS

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K400_LABELS = os.path.join(PROJECT_ROOT, "data", "k400", "label_list.txt")


def add_arguments(parser):
    """The predictor's command line options (PaddleVideo names)."""
    a = parser.add_argument
    a("-i", "--input_file", required=True,
      help="a video, a frame folder, a folder of videos/frame folders, or a .txt list of them")
    cli_args.add_config_args(parser)
    cli_args.add_model_file_args(parser)
    a("--backend", choices=tuple(BACKENDS), default="paddle")
    a("--onnx_file", help="model .onnx (onnxruntime backend)")
    cli_args.add_bool_arg(parser, "--use_gpu", False)
    cli_args.add_bool_arg(parser, "--use_tensorrt", False)
    a("--precision", choices=PRECISIONS, default=None,
      help="CPU: fp32, bf16 (AVX512-BF16/AMX CPUs) or int8 (a model from tools/quantize.py); TensorRT: "
           "fp32, fp16, int8 (default: int8 for a quantized model, else fp32)")
    a("--gpu_mem", type=cli_args.int_at_least(1), default=8000, help="initial GPU memory in MB")
    a("--batch_size", type=cli_args.int_at_least(1), default=1, help="videos per predictor run")
    cli_args.add_cpu_args(parser)
    cli_args.add_class_args(parser, top_k=1, label_map_default="data/k400/label_list.txt for 400 classes")
    a("--output", default=None, help="write one JSON line per predicted input to this file")
    cli_args.add_bool_arg(parser, "--enable_benchmark", False, "print per-stage median times")
    a("--save_video", metavar="DIR", default=None,
      help="write each input's frames with its top-k drawn to DIR/<input name>.mp4 (.gif without MP4)")
    return parser


def _paddle_predictor(args, layout, views):
    from .model_file import params_file_for
    from .predictor import PaddlePredictor

    params_file = args.params_file or (params_file_for(args.model_file) if args.model_file else None)
    return PaddlePredictor(args.model_file, params_file, trt_max_clips=args.batch_size * views,
                           use_gpu=args.use_gpu, use_tensorrt=args.use_tensorrt, precision=args.precision,
                           gpu_mem=args.gpu_mem, cpu_threads=args.cpu_threads,
                           enable_mkldnn=args.enable_mkldnn, data_format=layout)


def _onnx_predictor(args, layout, views):
    from ..utils.threads import available_cores
    from .onnx import OnnxRuntimePredictor

    if args.use_gpu or args.use_tensorrt:
        raise DeviceError("--backend onnxruntime runs on CPU here; drop --use_gpu/--use_tensorrt")
    return OnnxRuntimePredictor(args.onnx_file, args.cpu_threads or available_cores(), args.precision)


# --backend -> constructor(args, layout, views per video) of a predictor.Predictor
BACKENDS = {"paddle": _paddle_predictor, "onnxruntime": _onnx_predictor}


def build_predictor(args, num_seg, expected_shape, layout, views=1):
    """The backend's predictor for ``args``; its exported input shape checked against the config.

    ``views`` per video sizes TensorRT's batch range: one run holds batch_size x views clips.
    """
    from .paddle_config import check_device, check_precision, engine_name
    from .predictor import check_input_shape

    # before any file checks: the request itself is impossible
    if args.precision is not None and args.backend == "paddle":
        check_precision(args.precision, engine_name(args.use_gpu, args.use_tensorrt))
    check_device(args.use_gpu, args.use_tensorrt)
    predictor = BACKENDS[args.backend](args, layout, views)
    size = expected_shape[3] if layout == "NCHW" else expected_shape[2]
    check_input_shape(predictor.input_shapes[0], expected_shape, predictor.model_file,
                      f" (num_seg {num_seg}, size {size}, {layout})")
    return predictor


def _label_names(args, num_classes, model_file):
    """Class names of --label_map (Kinetics-400's for a 400-class model without one), checked
    against the model's ``num_classes``; None when there are none."""
    from .postprocess import read_class_names

    path = args.label_map
    if path is None and num_classes == 400 and os.path.isfile(K400_LABELS):
        path = K400_LABELS
    return read_class_names(path, num_classes, model_file) if path else None


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

    def fail(self, item, reason):
        """Report one failed input: 'error: <input as given>: <reason>'."""
        self.failed += 1
        if item.path and reason.startswith(item.path):
            # a loader error names the file itself (the input, or a frame in it): name it once, as given
            text = item.given + reason[len(item.path):]
        else:
            text = f"{item.given}: {reason}"
        print(f"error: {text}", file=sys.stderr, flush=True)

    def add(self, item, expected_shape):
        from ..errors import one_line
        from ..loader.bad_samples import LOAD_ERRORS

        if item.error:
            return self.fail(item, item.error)
        try:
            with self.timer.stage("preprocess"):
                views = self.preprocess(item.path, item.kind)
        except LOAD_ERRORS as exc:
            return self.fail(item, one_line(exc))
        if list(views.shape[1:]) != list(expected_shape[1:]):
            return self.fail(item, f"preprocessing gives views {list(views.shape)}, the model "
                                   f"input is {['B'] + list(expected_shape[1:])}; check PIPELINE.test")
        self.pending.append((item, views))
        if len(self.pending) >= self.args.batch_size:
            self.flush()

    def save_video(self, item, ids, labels, probs):
        from ..errors import one_line
        from ..loader.bad_samples import LOAD_ERRORS
        try:
            print(f"video: {self.videos.add(item.path, item.kind, ids, labels, probs)[0]}", flush=True)
        except LOAD_ERRORS as exc:
            self.fail(item, f"--save_video: {one_line(exc)}")

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
                self.fail(item, f"inference failed: {reason}")
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
    from ..config import get_config
    from ..modeling.recognizers import num_classes_of
    from .export import inference_settings, input_shape
    from .inputs import expand_inputs
    from .preprocess import Preprocessor, num_test_clips, views_per_video
    from .timing import StageTimer

    cfg = get_config(args.config, args.override)
    num_seg, img_size, data_format = inference_settings(cfg)
    expected = input_shape(num_seg, img_size, data_format)
    preprocess = Preprocessor(cfg.get("PIPELINE", {}).get("test"), num_test_clips(cfg))
    predictor = build_predictor(args, num_seg, expected, data_format, views_per_video(cfg))
    names = _label_names(args, predictor.num_classes or num_classes_of(cfg["MODEL"]), predictor.model_file)
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
                                f"({predictor.backend} {predictor.precision}, batch {args.batch_size})"):
            print(line)
    if state.failed:
        print(f"error: {state.failed} of {len(items)} inputs failed", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    parser = add_arguments(cli_args.ArgumentParser(description=__doc__))
    return run_cli(run, parser.parse_args(argv))
