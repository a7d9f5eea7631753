"""Seconds per training step of TSM (default ResNet-50, batch 2 x 8 frames x 224 px, NCHW) and peak RSS.

The step is the trainer's own (forward, loss, backward, Momentum + L2 + global-norm clip update).
``--cpu_conv paddle,onednn`` times each convolution path (config key ``cpu_conv``) on its own
model (same initial weights, same data, same dropout masks), steps alternated in one process, so
that a busy machine slows them alike; process CPU time is reported next to wall time. The header
names the CPU and its flags, MKL's code-path setting and oneDNN's ISA.
paddlevideo_tsm.utils.threads must be imported before paddle (tools/benchmark.py does so) to see
the user's OMP_NUM_THREADS and set MKL's code path.
Example: python tools/benchmark.py train_step [--threads N] [--steps 3] [--depth 50] [--batch 2] [--num_seg 8]
         [--cpu_conv paddle,onednn]
"""
import os
import resource
import time

from .. import cli_args
from ..utils import threads as _threads  # noqa: F401  (reads the env before paddle)
from .model_configs import add_backbone_arg, describe, model_section


def add_arguments(parser):
    p = parser
    add_backbone_arg(p)
    p.add_argument("--threads", type=int, help="math library threads (default: as main.py: every usable core)")
    p.add_argument("--steps", type=int, default=3, help="timed steps (of each variant) after one warm-up step")
    p.add_argument("--depth", type=int, default=50)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--num_seg", type=int, default=8)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--data_format", default="NCHW", choices=["NCHW", "NHWC"])
    p.add_argument("--cpu_conv", type=cli_args.comma_list(), default=["paddle"],
                   help="comma-separated cpu_conv values to time against each other, e.g. paddle,onednn")


def build(args, cpu_conv):
    """(model in train mode, optimizer) of the benchmarked TSM, convolutions routed per ``cpu_conv``."""
    import paddle

    from ..modeling import build_model
    from ..modeling.cpu_conv import route_convs
    from ..solver import build_lr, build_optimizer

    paddle.seed(0)
    model = build_model(model_section(args.backbone, args.depth, args.num_seg, data_format=args.data_format))
    route_convs(model, cpu_conv)
    model.train()
    opt_cfg = {"name": "Momentum", "momentum": 0.9, "weight_decay": {"name": "L2", "value": 1e-4},
               "grad_clip": {"name": "ClipGradByGlobalNorm", "value": 20.0}}
    return model, build_optimizer(opt_cfg, build_lr(0.01, 1), model.parameters())


def run(args):
    import numpy as np
    import paddle

    from ..errors import ToolError
    from ..modeling.cpu_conv import CPU_CONV_CHOICES
    from ..modeling.ops import onednn_conv
    from ..tasks.amp import AmpState
    from ..tasks.train import train_one_step
    from ..utils.cpu_info import cpu_summary, mkl_report
    from ..utils.threads import MKL_NOTE, resolve_cpu_threads, set_cpu_threads

    variants = args.cpu_conv  # the choices live with the routing code, which imports paddle
    bad = [v for v in variants if v not in CPU_CONV_CHOICES]
    if bad:
        raise ToolError(f"--cpu_conv: {', '.join(bad)}: choose from {', '.join(CPU_CONV_CHOICES)}")
    threads, source = resolve_cpu_threads(args.threads)
    source = "--threads" if args.threads else source
    set_cpu_threads(threads)
    lib, reason = onednn_conv.library()
    print(cpu_summary())
    print(f"MKL: {mkl_report()}" + (f" ({MKL_NOTE})" if MKL_NOTE else ""))
    print(f"oneDNN: {lib.describe() if lib else reason}")
    models = {v: build(args, v) for v in variants}
    shape = ([args.batch, args.num_seg, 3, args.size, args.size] if args.data_format == "NCHW"
             else [args.batch, args.num_seg, args.size, args.size, 3])
    rng = np.random.default_rng(0)
    imgs = paddle.to_tensor(rng.normal(size=shape).astype("float32"))
    labels = paddle.to_tensor(rng.integers(0, 400, size=(args.batch, 1)))
    amp = AmpState()
    wall, cpu, losses = ({v: [] for v in variants} for _ in range(3))
    load_before = os.getloadavg()[0]
    for i in range(args.steps + 1):
        for v in variants:
            model, optimizer = models[v]
            paddle.seed(1000 + i)  # the same dropout mask for every variant
            t, c = time.perf_counter(), time.process_time()
            out = train_one_step(model.train_step, optimizer, [imgs, labels], amp)
            losses[v].append(out["loss"].item())
            wall[v].append(time.perf_counter() - t)
            cpu[v].append(time.process_time() - c)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    base = variants[0]
    for v in variants:
        timed, timed_cpu = wall[v][1:], cpu[v][1:]
        vs = "" if v == base else (f"; against {base}: x{np.mean(wall[base][1:]) / np.mean(timed):.2f} wall, "
                                   f"x{np.mean(cpu[base][1:]) / np.mean(timed_cpu):.2f} CPU")
        print(f"TSM {describe(args.backbone, args.depth)} {args.data_format} batch {args.batch} x {args.num_seg} x {args.size} cpu_conv={v}: "
              f"threads {threads} ({source}); warm-up {wall[v][0]:.2f} s; per step "
              f"mean {np.mean(timed):.2f} s, min {np.min(timed):.2f} s over {len(timed)} (process CPU time "
              f"{np.mean(timed_cpu):.2f} s per step: on a busy machine wall time overstates){vs}; "
              f"losses {' '.join(f'{x:.5f}' for x in losses[v])}")
    print(f"peak RSS {peak_mb:.0f} MB ({len(variants)} model(s) in this process); load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0
