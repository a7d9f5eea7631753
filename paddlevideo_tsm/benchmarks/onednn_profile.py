"""Where the exported predictor's time goes: oneDNN primitives of TSM vs its TSN twin.

Exports TSN (shift_div 0) and TSM with each --impls value (fixed batch), runs each with the
project's PaddlePredictor (oneDNN) in a child process with ONEDNN_VERBOSE=1, and sums the
reported execution times of the last run by primitive kind (convolution, reorder, concat, ...).
The rows that grow from TSN to TSM are the shift's cost; what oneDNN does not report (Paddle's own
kernels and per-op overhead) is the rest of the wall time. Verbose mode slows every primitive a
little, so compare rows with each other, not with `model` wall times.
``--precision int8`` profiles the exports quantized by Paddle's PTQ on random clips (bf16 where the
CPU runs it): where the int8 graph's reorders and the shift's concats go.
Example: python tools/benchmark.py onednn_profile --depth 50 --size 224 --impls frames,block
"""
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

from .. import cli_args
from .low_precision import BENCH_PRECISIONS
from .model_configs import add_backbone_arg

_CHILD = r"""
import json, sys, time
import numpy as np
from paddlevideo_tsm.inference.predictor import PaddlePredictor
model_file, params_file, shape, threads, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pred = PaddlePredictor(model_file, params_file, cpu_threads=threads, enable_mkldnn=True, precision=sys.argv[6])
x = np.random.default_rng(0).standard_normal(shape).astype("float32")
for i in range(runs):
    print("@@RUN", i, flush=True)
    start = time.perf_counter()
    pred.run([x])
    print("@@WALL", time.perf_counter() - start, flush=True)
"""


def add_arguments(parser):
    from ..modeling.ops.temporal_shift import IMPLS
    from .model import DEPTHS

    positive = cli_args.int_at_least(1)
    add_backbone_arg(parser)
    parser.add_argument("--depth", type=int, choices=DEPTHS, default=50)
    parser.add_argument("--size", type=positive, default=224)
    parser.add_argument("--num_seg", type=positive, default=8)
    parser.add_argument("--batch", type=positive, default=1, help="fixed export batch (clips)")
    parser.add_argument("--threads", type=positive, default=2)
    parser.add_argument("--impls", type=cli_args.comma_list(choices=IMPLS), default="frames",
                        help="comma list of shift_impl values for TSM")
    parser.add_argument("--runs", type=positive, default=3, help="predictor runs; the last one is summed")
    parser.add_argument("--precision", choices=BENCH_PRECISIONS, default="fp32",
                        help="fp32, bf16 (AVX512-BF16/AMX CPUs) or int8 (the exports quantized on random clips)")
    parser.add_argument("--calib_clips", type=positive, default=2, help="random clips calibrating an int8 model")
    parser.add_argument("--json", default=None, help="also write the table to this JSON file")


def parse_verbose(text):
    """ONEDNN_VERBOSE output of the child -> ({primitive kind: [count, ms]} of the last run, wall s)."""
    runs, wall = [], None
    for line in text.splitlines():
        if line.startswith("@@RUN"):
            runs.append(defaultdict(lambda: [0, 0.0]))
        elif line.startswith("@@WALL"):
            wall = float(line.split()[1])
        elif runs and line.startswith("onednn_verbose") and ",exec," in line:
            fields = line.split(",")
            try:
                kind, ms = fields[fields.index("exec") + 2], float(fields[-1])
            except (ValueError, IndexError):
                continue
            runs[-1][kind][0] += 1
            runs[-1][kind][1] += ms
    if not runs:
        raise RuntimeError("the predictor child printed no run markers")
    return {k: tuple(v) for k, v in runs[-1].items()}, wall


def _profile(model_file, params_file, shape, threads, runs, precision="fp32"):
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", _CHILD, model_file, params_file, json.dumps(shape),
                           str(threads), str(runs), precision], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"predictor child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return parse_verbose(proc.stdout)


def run(args):
    import paddle

    from ..errors import DeviceError
    from ..inference.export import INPUT_NAME
    from ..modeling import build_model
    from .low_precision import clip_model_feeds, int8_model, unavailable
    from .model import export_variant, variant_dir, variants
    from .model_configs import describe, model_section

    reason = unavailable(args.precision)
    if reason:
        raise DeviceError(reason)
    shape = [args.batch, args.num_seg, 3, args.size, args.size]
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (shift_div, impl) in variants(args.impls).items():
            paddle.seed(0)
            model = build_model(model_section(args.backbone, args.depth, args.num_seg, shift_div, impl))
            model_file, params_file = export_variant(model, variant_dir(tmp, name), shape, dynamic_batch=False)
            if args.precision == "int8":
                model_file, params_file = int8_model(model_file, params_file,
                                                     clip_model_feeds(INPUT_NAME, shape, args.calib_clips))
            table[name] = _profile(model_file, params_file, shape, args.threads, args.runs, args.precision)
    kinds = sorted({k for prims, _ in table.values() for k in prims},
                   key=lambda k: -max(p.get(k, (0, 0.0))[1] for p, _ in table.values()))
    names = list(table)
    print(f"{describe(args.backbone, args.depth)} {args.batch}x{args.num_seg}x{args.size} {args.precision}, {args.threads} threads, "
          f"ONEDNN_VERBOSE (ms in the last of {args.runs} runs; count in brackets)")
    print(f"{'primitive':14s}" + "".join(f"{n:>22s}" for n in names))
    for kind in kinds:
        cells = [table[n][0].get(kind, (0, 0.0)) for n in names]
        print(f"{kind:14s}" + "".join(f"{ms:14.2f} [{count:4d}]" for count, ms in cells))
    sums = [sum(ms for _, ms in table[n][0].values()) for n in names]
    print(f"{'oneDNN total':14s}" + "".join(f"{s:21.2f} " for s in sums))
    print(f"{'wall (verbose)':14s}" + "".join(f"{1000 * table[n][1]:21.2f} " for n in names))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({n: {"primitives": {k: {"count": c, "ms": ms} for k, (c, ms) in p.items()},
                           "wall_ms": 1000 * w} for n, (p, w) in table.items()}, f, indent=1)
    return 0
