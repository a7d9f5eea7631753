"""TSM vs its TSN twin (shift_div 0): seconds per clip batch and ratio TSM/TSN per shift_impl.

Paths: ``eval`` dynamic forward (no grad), ``train`` forward + backward + Momentum step,
``infer`` exported Paddle Inference predictor with oneDNN, ``onnx`` ONNX Runtime (when
paddle2onnx and onnxruntime are installed). TSN and every TSM impl are timed in turn within each
repeat, so machine load hits them alike; the median over repeats after warm-up is reported,
as wall seconds and as process CPU seconds (less distorted when other jobs share the cores).
``--precisions fp32,bf16,int8`` times the exported paths in each precision, all in the same
round robin (int8: the export quantized on random clips; bf16 only where the CPU runs it).
Example: python tools/benchmark.py model --depth 50 --size 224 --impls op,slice,pieces,auto
         python tools/benchmark.py model --paths infer,onnx --impls frames --precisions fp32,bf16,int8
"""
import importlib.util
import json
import os
import statistics
import tempfile
import time

from .. import cli_args
from .low_precision import add_precision_args
from .model_configs import add_backbone_arg, describe, model_section

PATHS = ("eval", "train", "infer", "onnx")
DEPTHS = (18, 34, 50, 101, 152)


def add_arguments(parser):
    from ..modeling.ops.temporal_shift import IMPLS

    positive = cli_args.int_at_least(1)
    add_backbone_arg(parser)
    parser.add_argument("--depth", type=int, choices=DEPTHS, default=50, help="ResNet depth")
    parser.add_argument("--size", type=positive, default=224, help="input height = width in pixels")
    parser.add_argument("--num_seg", type=positive, default=8, help="frames per clip (T)")
    parser.add_argument("--batch", type=positive, default=1, help="clips per batch (N)")
    parser.add_argument("--threads", type=positive, default=2, help="CPU math threads")
    parser.add_argument("--impls", type=cli_args.comma_list(choices=IMPLS), default="op,block,frames,pieces",
                        help="comma list of shift_impl values")
    parser.add_argument("--dynamic_batch", action="store_true",
                        help="export with a dynamic batch (-1) instead of a fixed one (--batch)")
    parser.add_argument("--paths", type=cli_args.comma_list(choices=PATHS), default=",".join(PATHS),
                        help=f"comma list of {', '.join(PATHS)}")
    parser.add_argument("--repeat", type=positive, default=5, help="timed repeats (median reported)")
    parser.add_argument("--warmup", type=cli_args.int_at_least(0), default=1, help="untimed runs first")
    parser.add_argument("--num_classes", type=positive, default=400)
    add_precision_args(parser)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def _median_times(fns, repeat, warmup):
    """{name: fn} -> {name: (median wall s, median CPU s)}; fns called round-robin in a rotating
    order so load is shared fairly."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeat):
        # rotate the order: the first run after another model pays for its memory churn
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = fns[name]
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in fns}


def _eval_fn(model, x):
    import paddle
    model.eval()

    def run():
        with paddle.no_grad():
            model(x).numpy()
    return run


def _train_fn(model, x, labels):
    import paddle
    model.train()
    opt = paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9, parameters=model.parameters())

    def run():
        loss = paddle.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
    return run


def variants(impls):
    """{name: (shift_div, shift_impl)}: the TSN twin, then TSM (the backbone's own shift_div) with
    each of ``impls``."""
    out = {"TSN": (0, "auto")}
    out.update({f"TSM[{impl}]": (None, impl) for impl in impls})
    return out


def variant_dir(tmp, name):
    """A folder name for variant ``name`` ('TSM[frames]' -> tmp/TSM_frames)."""
    return os.path.join(tmp, name.replace("[", "_").replace("]", ""))


def export_variant(model, out_dir, shape, dynamic_batch):
    """Export ``model`` for clips ``shape`` (batch fixed, or -1) -> (model file, params file)."""
    from ..inference.export import export_model
    model.eval()
    files = export_model(model, out_dir, "model", [-1 if dynamic_batch else shape[0]] + shape[1:],
                         fmt="pdmodel")
    return files[0], os.path.join(out_dir, "model.pdiparams")


def _paddle_infer_fn(model_file, params_file, x, threads, precision="fp32", calib_clips=2):
    """The project's own Paddle Inference predictor (oneDNN), as tools/predict.py runs it; int8:
    the export quantized on ``calib_clips`` random clips."""
    from ..inference.export import INPUT_NAME
    from ..inference.predictor import PaddlePredictor
    from .low_precision import clip_model_feeds, int8_model

    if precision == "int8":
        model_file, params_file = int8_model(model_file, params_file,
                                             clip_model_feeds(INPUT_NAME, list(x.shape), calib_clips))
    pred = PaddlePredictor(model_file, params_file, cpu_threads=threads, enable_mkldnn=True, precision=precision)
    return lambda: pred.run([x])


def _onnx_fn(model_file, params_file, x, threads, out_dir, precision="fp32", calib_clips=2):
    """Convert the export with paddle2onnx (int8: quantize it with ONNX Runtime on random clips)
    and run it with the project's ONNX Runtime predictor."""
    from ..inference.export import INPUT_NAME
    from ..inference.onnx import OnnxRuntimePredictor, convert_to_onnx
    from .low_precision import clip_model_feeds, int8_onnx

    if precision == "int8":
        onnx_file = int8_onnx(model_file, params_file, clip_model_feeds(INPUT_NAME, list(x.shape), calib_clips))
    else:
        onnx_file = convert_to_onnx(model_file, params_file, os.path.join(out_dir, "model.onnx"))
    pred = OnnxRuntimePredictor(onnx_file, cpu_threads=threads, precision=precision)
    return lambda: pred.run([x])


def _onnx_missing():
    missing = [m for m in ("paddle2onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    return ", ".join(missing)


def variant_key(name, precision):
    """'TSM[frames]' in fp32, 'TSM[frames] int8' in another precision."""
    return name if precision == "fp32" else f"{name} {precision}"


def _path_precisions(path, requested, results):
    """The precisions ``path`` runs of ``requested``: the exported paths those this CPU and engine
    run (the others are printed as skipped once and noted in ``results``), the dynamic ones fp32."""
    from .low_precision import unavailable

    if path in ("eval", "train"):
        return ["fp32"]
    runs = []
    for precision in requested:
        reason = unavailable(precision, "paddle" if path == "infer" else "onnxruntime")
        if reason:
            print(f"{path:6s} {precision} skipped: {reason}")
            results.setdefault("skipped", {})[f"{path} {precision}"] = reason
        else:
            runs.append(precision)
    return runs


def _ratios(times, precisions):
    """{key: (wall s, cpu s)} -> {key: seconds, ratio to the TSN twin in the same precision, the
    same for CPU time, and the speed-up over the same variant in fp32 where that was timed}."""
    row = {}
    for key, (wall, cpu) in times.items():
        name, _, precision = key.partition(" ")
        precision = precision or "fp32"
        base_wall, base_cpu = times[variant_key("TSN", precision)]
        row[key] = {"precision": precision, "seconds": wall, "ratio": wall / base_wall, "cpu_seconds": cpu,
                    "cpu_ratio": cpu / base_cpu}
        if precision != "fp32" and name in times:
            row[key].update(speedup_vs_fp32=times[name][0] / wall, cpu_speedup_vs_fp32=times[name][1] / cpu)
    return row


def _auto_runs_as(path, args):
    """What shift_impl 'auto' resolves to on this path (NCHW)."""
    from ..modeling.ops.temporal_shift import resolved_impl
    return resolved_impl("auto", dynamic=path in ("eval", "train"), fixed_batch=not args.dynamic_batch)


def run(args):
    import numpy as np
    import paddle
    from paddle.base import core

    from ..utils.cpu_info import cpu_summary
    from ..modeling import build_model

    impls, paths = args.impls, args.paths
    # Paddle 3.3.1 has no paddle.set_num_threads; the core setter drives the CPU math library
    core.set_num_threads(args.threads)
    print(f"threads: {args.threads} (paddle.base.core.set_num_threads; predictor: "
          f"set_cpu_math_library_num_threads; os cores {os.cpu_count()})")
    print(f"model: {describe(args.backbone, args.depth)} TSM vs TSN twin, input {args.batch}x{args.num_seg}x3x"
          f"{args.size}x{args.size}, repeat {args.repeat} (median), warm-up {args.warmup}, "
          f"exports with a {'dynamic' if args.dynamic_batch else 'fixed'} batch")
    cpu_line = cpu_summary()
    print(f"{cpu_line}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} at the start")

    rng = np.random.default_rng(0)
    shape = [args.batch, args.num_seg, 3, args.size, args.size]
    x_np = rng.standard_normal(shape).astype("float32")
    x = paddle.to_tensor(x_np)
    labels = paddle.to_tensor(rng.integers(0, args.num_classes, [args.batch]).astype("int64"))
    models = variants(impls)

    def fresh(name):
        paddle.seed(0)
        shift_div, impl = models[name]
        return build_model(model_section(args.backbone, args.depth, args.num_seg, shift_div, impl, args.num_classes))

    results = {"threads": args.threads, "backbone": args.backbone, "depth": args.depth, "size": args.size,
               "num_seg": args.num_seg, "batch": args.batch, "dynamic_batch": args.dynamic_batch,
               "cpu": cpu_line, "precisions": args.precisions, "paths": {}}
    for path in paths:
        if path == "onnx" and _onnx_missing():
            print(f"{path:6s} skipped: {_onnx_missing()} not installed")
            results["paths"][path] = {"skipped": f"{_onnx_missing()} not installed"}
            continue
        precisions = _path_precisions(path, args.precisions, results)
        with tempfile.TemporaryDirectory() as tmp:
            fns = {}
            for name in models:
                model = fresh(name)
                if path == "eval":
                    fns[name] = _eval_fn(model, x)
                elif path == "train":
                    fns[name] = _train_fn(model, x, labels)
                else:
                    out_dir = variant_dir(tmp, name)
                    model_file, params_file = export_variant(model, out_dir, shape, args.dynamic_batch)
                    for precision in precisions:
                        if path == "infer":
                            fn = _paddle_infer_fn(model_file, params_file, x_np, args.threads, precision,
                                                  args.calib_clips)
                        else:
                            fn = _onnx_fn(model_file, params_file, x_np, args.threads, out_dir, precision,
                                          args.calib_clips)
                        fns[variant_key(name, precision)] = fn
            times = _median_times(fns, args.repeat, args.warmup)
        row = _ratios(times, precisions)
        row["auto_runs_as"] = _auto_runs_as(path, args)
        row["load_avg_1min"] = os.getloadavg()[0]
        results["paths"][path] = row
        print(f"{path:6s} (load {row['load_avg_1min']:.1f}; auto runs as {row['auto_runs_as']})")
        for name, v in row.items():
            if isinstance(v, dict):
                speedup = (f"   {v['precision']} vs fp32: cpu x{v['cpu_speedup_vs_fp32']:.2f} faster"
                           if v["precision"] != "fp32" and v.get("cpu_speedup_vs_fp32") else "")
                print(f"    {name:19s} wall {v['seconds']:7.3f}s x{v['ratio']:.2f}   "
                      f"cpu {v['cpu_seconds']:7.3f}s x{v['cpu_ratio']:.2f}{speedup}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0
