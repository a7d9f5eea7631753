"""Stream a video (or camera) frame by frame through an exported online TSM model.

    python tools/predict_online.py -c CFG --model_file M.pdmodel [--params_file M.pdiparams]
        (--input_file VIDEO | --camera INDEX) [--stride 1] [--interval 8] [--smooth A | --window K] [--top_k 5]
        [--label_map FILE] [--enable_benchmark] [--cpu_threads N] [--enable_mkldnn False] [--max_frames N]

Each frame is preprocessed with the config's PIPELINE.test transforms, run once through the
per-frame model (Paddle Inference; the shift caches are fed back) and the running top-k of the
smoothed scores is printed every --interval frames. Export the model with
``tools/export_model.py --online`` (or ``paddlevideo_tsm.online.export_online``).
"""
import contextlib
import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm import cli_args  # noqa: E402

WARMUP_FRAMES = 3  # first runs include oneDNN kernel creation; left out of the latency figures


def parse_args(argv=None):
    p = cli_args.ArgumentParser(description=__doc__.splitlines()[0])
    cli_args.add_config_args(p)
    cli_args.add_model_file_args(p, required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input_file", help="video file to stream")
    src.add_argument("--camera", type=cli_args.int_at_least(0), help="camera index to stream")
    p.add_argument("--interval", type=cli_args.int_at_least(0), default=8,
                   help="print the top-k every N frames (default 8; 0 = only at the end)")
    p.add_argument("--smooth", type=cli_args.float_in(0.0, 1.0), default=0.0,
                   help="exponential smoothing factor in [0, 1)")
    p.add_argument("--window", type=cli_args.int_at_least(1), default=1, help="moving-average window in frames")
    cli_args.add_class_args(p, top_k=5)
    cli_args.add_bool_arg(p, "--enable_benchmark", False, "report per-frame latency (median, p95)")
    cli_args.add_cpu_args(p)
    p.add_argument("--stride", type=cli_args.int_at_least(1), default=1,
                   help="run every N-th frame: match the frame spacing the model was trained with "
                        "(num_seg frames sampled from a clip of L frames: about L / num_seg)")
    p.add_argument("--max_frames", type=cli_args.int_at_least(1), default=None, help="stop after N model frames")
    p.add_argument("--save_video", metavar="OUT",
                   help="write the streamed frames with the running label and latency to OUT (.mp4; .gif without MP4)")
    return p.parse_args(argv)


def _report_latency(name, summary):
    if summary:
        print(f"latency {name}: median {summary['median']:.2f} ms, p95 {summary['p95']:.2f} ms, "
              f"mean {summary['mean']:.2f} ms per frame")


def run(args):
    from paddlevideo_tsm.errors import InferenceError
    from paddlevideo_tsm.inference.model_file import params_file_for
    from paddlevideo_tsm.inference.postprocess import read_class_names
    from paddlevideo_tsm.online.frame_source import camera_frames, video_frames
    from paddlevideo_tsm.online.predictor import OnlinePredictor
    from paddlevideo_tsm.online.preprocess import FramePreprocessor
    from paddlevideo_tsm.online.runner import latency_summary, run_stream
    from paddlevideo_tsm.online.smoothing import ScoreSmoother
    from paddlevideo_tsm.config import get_config
    from paddlevideo_tsm.utils.threads import available_cores

    if args.smooth and args.window > 1:
        raise InferenceError("--smooth and --window cannot be combined")
    cfg = get_config(args.config, args.override)
    preprocess = FramePreprocessor((cfg.get("PIPELINE") or {}).get("test"), f"{args.config}: PIPELINE.test")
    predictor = OnlinePredictor(args.model_file, args.params_file or params_file_for(args.model_file),
                                args.cpu_threads, args.enable_mkldnn)
    class_names = (read_class_names(args.label_map, predictor.num_classes, args.model_file)
                   if args.label_map else None)
    if args.input_file is not None:
        frames, source = video_frames(args.input_file), args.input_file
    else:
        frames, source = camera_frames(args.camera), f"camera {args.camera}"
    frames = itertools.islice(frames, 0, None, args.stride)
    video = None
    if args.save_video:
        from paddlevideo_tsm.visual.annotate import StreamVideo
        from paddlevideo_tsm.visual.video_io import DEFAULT_FPS, input_fps
        fps = input_fps(args.input_file, "video") if args.input_file is not None else DEFAULT_FPS
        video = StreamVideo(args.save_video, fps / args.stride, class_names)
    with video if video is not None else contextlib.nullcontext():
        result = run_stream(frames, preprocess, predictor.step, ScoreSmoother(args.smooth, args.window),
                            args.interval, args.top_k, class_names, print, args.max_frames, source,
                            on_frame=video.add if video is not None else None)
    print(f"{source}: {result['frames']} frames streamed" + (f" (every {args.stride})" if args.stride > 1 else ""))
    if video is not None:
        print(f"video: {video.path}")
    if args.enable_benchmark:
        skip = WARMUP_FRAMES if result["frames"] > 2 * WARMUP_FRAMES else 0
        print(f"benchmark over {result['frames'] - skip} frames (first {skip} left out as warm-up), "
              f"{args.cpu_threads or available_cores()} threads, oneDNN {'on' if args.enable_mkldnn else 'off'}")
        _report_latency("model", latency_summary(result["model_s"][skip:]))
        _report_latency("preprocess", latency_summary(result["preprocess_s"][skip:]))
    return 0


def main(argv=None):
    from paddlevideo_tsm.errors import run_cli
    return run_cli(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
