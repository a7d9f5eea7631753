"""Inference speed per clip: dynamic graph, Paddle Inference (oneDNN on/off), ONNX Runtime; test preprocessing per video.

The model is exported to a temporary folder (random init unless --weights), once per batch size
with that batch fixed (as tools/export_model.py does by default), and every engine runs the same
random clips at batch 1 and 8 with 1 thread and all threads; each cell is the median of
--repeat timed runs after --warmup untimed ones, divided by the batch (ms per clip). Preprocessing
is the config's test pipeline (the predictor's) on each video of --videos, median ms per video.
``--precisions fp32,bf16,int8`` adds rows for the oneDNN predictor in bf16 and int8 and for ONNX
Runtime in int8 (int8: the export quantized on random clips; bf16 only where the CPU runs it).
Example: python tools/benchmark.py inference --depth 50 --size 224 --num_seg 8 --json tsm_r50.json
"""
import importlib.util
import json
import os
import statistics
import tempfile
import time

import numpy as np

from .. import cli_args
from .low_precision import add_precision_args
from .model_configs import add_backbone_arg, model_section

SHARED_VIDEOS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             os.pardir, "shared", "data", "videos")
ENGINES = ("dynamic", "paddle_onednn", "paddle_plain", "onnxruntime")
# engines that run other precisions than fp32, and which
LOW_PRECISION_ENGINES = {"paddle_onednn": ("bf16", "int8"), "onnxruntime": ("int8",)}


def add_arguments(parser):
    a = parser.add_argument
    cli_args.add_config_args(parser, required=False)  # without -c: a --backbone TSM from --depth/--size/--num_seg
    from .model import DEPTHS

    positive = cli_args.int_at_least(1)
    a("--weights", default=None, help=".pdparams to load (default: random init)")
    add_backbone_arg(parser)
    a("--depth", type=int, choices=DEPTHS, default=50)
    a("--size", type=positive, default=224, help="input height = width")
    a("--num_seg", type=positive, default=8)
    a("--base_channels", type=positive, default=64, help="ResNet width (64 = standard)")
    a("--num_classes", type=positive, default=400)
    a("--shift_impl", default=None, help="MODEL.backbone.shift_impl to export (default: the config's)")
    a("--batches", type=cli_args.comma_list(positive), default="1,8", help="comma list of clips per run")
    a("--threads", type=cli_args.comma_list(positive), default=None,
      help="comma list of CPU thread counts (default: 1 and all cores)")
    a("--engines", type=cli_args.comma_list(choices=ENGINES), default=",".join(ENGINES),
      help=f"comma list of {', '.join(ENGINES)}")
    a("--repeat", type=positive, default=3, help="timed runs per cell (median reported)")
    a("--warmup", type=cli_args.int_at_least(0), default=1, help="untimed runs first")
    a("--videos", default=SHARED_VIDEOS, help="folder of videos for the preprocessing timing ('' = skip)")
    add_precision_args(parser)
    a("--json", default=None, help="also write the results to this JSON file")


def synthetic_config(depth, size, num_seg, base_channels=64, num_classes=400, backbone="ResNetTSM"):
    """A TSM config like configs/tsm_k400_videos.yaml (Scale 256/224-ratio + CenterCrop test pipeline)."""
    scale = int(round(size * 256 / 224))
    return {
        "model_name": f"{backbone}_{depth}_{num_seg}x{size}",
        "MODEL": model_section(backbone, depth, num_seg, num_classes=num_classes, base_channels=base_channels,
                               pretrained=None),
        "DATASET": {"batch_size": 1, "test": {"num_clips": 1}},
        "PIPELINE": {"test": {
            "decode": {"name": "VideoDecoder", "backend": "decord"},
            "sample": {"name": "Sampler", "num_seg": num_seg, "seg_len": 1, "valid_mode": True},
            "transform": [{"Scale": {"short_size": scale}}, {"CenterCrop": {"target_size": size}},
                          {"Image2Array": None},
                          {"Normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]}},
        "INFERENCE": {"num_seg": num_seg, "target_size": size},
    }


def median_seconds(fn, repeat, warmup):
    """Median wall-clock seconds of ``fn()`` over ``repeat`` runs after ``warmup`` untimed runs."""
    return median_times(fn, repeat, warmup)[0]


def median_times(fn, repeat, warmup):
    """(median wall seconds, median process CPU seconds) of ``fn()`` after ``warmup`` untimed runs.

    CPU time (all threads of this process) shows the work done even when other processes load
    the machine; with one thread it is close to the wall time on an idle machine.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def _engine_runner(engine, cfg, files, threads, data_format, precision="fp32"):
    """A callable x -> scores for ``engine`` at ``threads`` CPU threads in ``precision`` (int8: the
    files' int8 models, see _add_int8_files); None when unavailable."""
    if engine == "dynamic":
        import paddle
        from ..utils.threads import set_cpu_threads

        model = files["dynamic_model"]
        set_cpu_threads(threads)

        def run(x):
            with paddle.no_grad():
                return model(paddle.to_tensor(x)).numpy()
        return run
    if engine.startswith("paddle_"):
        from ..inference.predictor import PaddlePredictor
        from ..utils.threads import set_cpu_threads

        set_cpu_threads(threads)
        model = "int8_" if precision == "int8" else ""
        pred = PaddlePredictor(files[model + "model_file"], files[model + "params_file"], cpu_threads=threads,
                               enable_mkldnn=(engine == "paddle_onednn"), data_format=data_format,
                               precision=precision)
        return lambda x: pred.run([x])[0]
    if engine == "onnxruntime":
        onnx_file = files.get("int8_onnx_file" if precision == "int8" else "onnx_file")
        if not onnx_file:
            return None
        from ..inference.onnx import OnnxRuntimePredictor
        pred = OnnxRuntimePredictor(onnx_file, cpu_threads=threads, precision=precision)
        return lambda x: pred.run([x])[0]
    raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")


def _prepare(cfg, weights, tmp, batch):
    """Export the model for a fixed ``batch``; returns {'model_file', 'params_file', 'onnx_file' or
    None, 'dynamic_model', 'note'}."""
    from ..inference.export import build_export_model, export_model, inference_settings, input_shape

    num_seg, size, data_format = inference_settings(cfg)
    shape = input_shape(num_seg, size, data_format, batch_size=batch)
    written = export_model(build_export_model(cfg, weights, num_seg), tmp, "bench", shape, "pdmodel")
    # a second instance for the dynamic graph (to_static converted the first one's forward); with
    # random init its weights differ from the export's, which does not change the timing
    model = build_export_model(cfg, weights, num_seg)
    files = {"model_file": written[0], "params_file": written[1], "onnx_file": None, "dynamic_model": model,
             "note": ""}
    have_onnx = all(importlib.util.find_spec(m) for m in ("paddle2onnx", "onnxruntime"))
    if not have_onnx:
        files["note"] = "onnxruntime/paddle2onnx not installed"
    elif data_format == "NHWC":
        files["note"] = "paddle2onnx cannot convert NHWC"
    else:
        from ..inference.onnx import convert_to_onnx
        files["onnx_file"] = convert_to_onnx(files["model_file"], files["params_file"],
                                             os.path.join(tmp, "bench.onnx"))
    return files, (num_seg, size, data_format)


def _add_int8_files(files, shape, engines, calib_clips):
    """Quantize the export of ``files`` (clips ``shape``) on random clips for the int8 rows of
    ``engines``: adds 'int8_model_file'/'int8_params_file' and 'int8_onnx_file'."""
    from ..inference.export import INPUT_NAME
    from .low_precision import clip_model_feeds, int8_model, int8_onnx

    feeds = clip_model_feeds(INPUT_NAME, shape, calib_clips)
    if "paddle_onednn" in engines:
        files["int8_model_file"], files["int8_params_file"] = int8_model(files["model_file"], files["params_file"],
                                                                       feeds)
    if "onnxruntime" in engines and files.get("onnx_file"):
        files["int8_onnx_file"] = int8_onnx(files["model_file"], files["params_file"], feeds)


def _rows(engines, precisions):
    """[(row name, engine, precision)]: each engine in fp32, the low-precision engines also in the
    other ``precisions`` this CPU runs (a skipped one is printed once, with why)."""
    from .low_precision import unavailable

    rows, said = [], set()
    for engine in engines:
        for precision in precisions:
            if precision != "fp32" and precision not in LOW_PRECISION_ENGINES.get(engine, ()):
                continue
            reason = unavailable(precision, "onnxruntime" if engine == "onnxruntime" else "paddle")
            if reason:
                if reason not in said:
                    print(f"  {engine} {precision} skipped: {reason}")
                    said.add(reason)
                continue
            rows.append((engine if precision == "fp32" else f"{engine} {precision}", engine, precision))
    return rows


def preprocessing_ms(cfg, videos_dir, repeat, warmup):
    """{video name: median ms} of the config's test pipeline (the predictor's) per video."""
    from ..inference.preprocess import Preprocessor, num_test_clips

    if not videos_dir or not os.path.isdir(videos_dir):
        return {}
    pre = Preprocessor(cfg["PIPELINE"]["test"], num_test_clips(cfg))
    out = {}
    for name in sorted(os.listdir(videos_dir)):
        path = os.path.join(videos_dir, name)
        if os.path.isfile(path):
            out[name] = 1000.0 * median_seconds(lambda: pre(path, "video"), repeat, warmup)
    return out


def _table(results, threads_list, batches):
    lines = []
    header = ["engine"] + [f"b{b} t{t}" for b in batches for t in threads_list]
    rows = []
    for engine, cells in results.items():
        rows.append([engine] + [f"{cells[f'{b}x{t}']:.1f}" if cells.get(f"{b}x{t}") is not None else "-"
                                for b in batches for t in threads_list])
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    fmt = "  ".join(("{:<%d}" if i == 0 else "{:>%d}") % w for i, w in enumerate(widths))
    lines += [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]
    return lines


def run(args):
    from ..config import get_config
    from ..utils.cpu_info import cpu_summary
    from ..utils.threads import available_cores

    if args.config:
        cfg = get_config(args.config, args.override)
    else:
        cfg = synthetic_config(args.depth, args.size, args.num_seg, args.base_channels, args.num_classes,
                               args.backbone)
    if args.shift_impl:
        cfg["MODEL"]["backbone"]["shift_impl"] = args.shift_impl
    batches, engines = args.batches, args.engines
    cores = available_cores()
    threads_list = args.threads or sorted({1, cores})
    with tempfile.TemporaryDirectory() as tmp:
        prepared = {b: _prepare(cfg, args.weights, os.path.join(tmp, f"b{b}"), b) for b in batches}
        files, (num_seg, size, data_format) = prepared[batches[0]]
        shape = lambda b: [b, num_seg, 3, size, size] if data_format == "NCHW" else [b, num_seg, size, size, 3]
        rows = _rows(engines, args.precisions)
        if any(precision == "int8" for _, _, precision in rows):
            for b in batches:
                _add_int8_files(prepared[b][0], shape(b), engines, args.calib_clips)
        rng = np.random.default_rng(0)
        results, cpu_ms = {}, {}
        for row, engine, precision in rows:
            results[row], cpu_ms[row] = {}, {}
            for threads in threads_list:
                for b in batches:
                    runner = _engine_runner(engine, cfg, prepared[b][0], threads, data_format, precision)
                    key = f"{b}x{threads}"
                    if runner is None:
                        results[row][key] = cpu_ms[row][key] = None
                        continue
                    x = rng.standard_normal(shape(b)).astype(np.float32)
                    wall, cpu = median_times(lambda: runner(x), args.repeat, args.warmup)
                    results[row][key] = 1000.0 * wall / b
                    cpu_ms[row][key] = 1000.0 * cpu / b
                    print(f"  {row:19s} batch {b} threads {threads}: {results[row][key]:.1f} ms/clip "
                          f"(cpu {cpu_ms[row][key]:.1f} ms/clip)", flush=True)
                    del runner
        pre = preprocessing_ms(cfg, args.videos, max(args.repeat, 3), 1)
    title = (f"{cfg.get('model_name')}: {num_seg}x{size} {data_format}, ms per clip (median of {args.repeat} "
             f"after {args.warmup} warm-up); columns b=batch t=threads; {cores} cores")
    print(title)
    cpu_line = cpu_summary()
    print(cpu_line)
    for line in _table(results, threads_list, batches):
        print(line)
    print("process CPU ms per clip (all threads; shows the work when other processes load the machine)")
    for line in _table(cpu_ms, threads_list, batches):
        print(line)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average (1 min) at the end: {load:.2f} on {cores} cores")
    if files["note"]:
        print(f"onnxruntime: {files['note']}")
    for name, ms in pre.items():
        print(f"preprocessing {name}: {ms:.1f} ms per video ({num_test_clips_of(cfg)} clip(s), test pipeline)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": cfg.get("model_name"), "num_seg": num_seg, "size": size, "cpu": cpu_line,
                       "data_format": data_format, "cores": cores, "ms_per_clip": results, "cpu_ms_per_clip": cpu_ms,
                       "load_average": load,
                       "preprocess_ms_per_video": pre, "repeat": args.repeat, "warmup": args.warmup}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


def num_test_clips_of(cfg):
    from ..inference.preprocess import num_test_clips
    return num_test_clips(cfg)
