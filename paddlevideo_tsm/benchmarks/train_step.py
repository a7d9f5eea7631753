"""Seconds per training step of TSM (default ResNet-50, batch 2 x 8 frames x 224 px, NCHW) and peak RSS.

The step is the trainer's own (forward, loss, backward, Momentum + L2 + global-norm clip update).
paddlevideo_tsm.utils.threads must be imported before paddle (tools/benchmark.py does so) to see
the user's OMP_NUM_THREADS.
Example: python tools/benchmark.py train_step [--threads N] [--steps 3] [--depth 50] [--batch 2] [--num_seg 8]
"""
import os
import resource
import time

from ..utils import threads as _threads  # noqa: F401  (reads the env before paddle)
from .model_configs import add_backbone_arg, describe, model_section


def add_arguments(parser):
    p = parser
    add_backbone_arg(p)
    p.add_argument("--threads", type=int, help="math library threads (default: as main.py: every usable core)")
    p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    p.add_argument("--depth", type=int, default=50)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--num_seg", type=int, default=8)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--data_format", default="NCHW", choices=["NCHW", "NHWC"])


def run(args):
    import numpy as np
    import paddle

    from ..modeling import build_model
    from ..solver import build_lr, build_optimizer
    from ..tasks.amp import AmpState
    from ..tasks.train import train_one_step
    from ..utils.threads import resolve_cpu_threads, set_cpu_threads

    threads, source = resolve_cpu_threads(args.threads)
    source = "--threads" if args.threads else source
    set_cpu_threads(threads)
    paddle.seed(0)
    model = build_model(model_section(args.backbone, args.depth, args.num_seg, data_format=args.data_format))
    model.train()
    opt_cfg = {"name": "Momentum", "momentum": 0.9, "weight_decay": {"name": "L2", "value": 1e-4},
               "grad_clip": {"name": "ClipGradByGlobalNorm", "value": 20.0}}
    optimizer = build_optimizer(opt_cfg, build_lr(0.01, 1), model.parameters())
    shape = ([args.batch, args.num_seg, 3, args.size, args.size] if args.data_format == "NCHW"
             else [args.batch, args.num_seg, args.size, args.size, 3])
    rng = np.random.default_rng(0)
    imgs = paddle.to_tensor(rng.normal(size=shape).astype("float32"))
    labels = paddle.to_tensor(rng.integers(0, 400, size=(args.batch, 1)))
    amp = AmpState()
    times, cpu = [], []
    for i in range(args.steps + 1):
        t, c = time.perf_counter(), time.process_time()
        out = train_one_step(model.train_step, optimizer, [imgs, labels], amp)
        out["loss"].item()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    timed = times[1:]
    print(f"TSM {describe(args.backbone, args.depth)} {args.data_format} batch {args.batch} x {args.num_seg} x "
          f"{args.size}: "
          f"threads {threads} ({source}); warm-up {times[0]:.2f} s; per step "
          f"mean {np.mean(timed):.2f} s, min {np.min(timed):.2f} s over {len(timed)} (process CPU time "
          f"{np.mean(cpu[1:]):.2f} s per step: on a busy machine wall time overstates); peak RSS {peak_mb:.0f} MB; "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0
