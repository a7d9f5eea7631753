"""Does paddle.base.core.set_num_threads change CPU kernel speed?

Wall and process CPU time of a conv forward+backward and a matmul at each thread count,
interleaved to share the machine's load.

Example: python tools/benchmark.py threads [--counts 1 2] [--rounds 3]
"""
import os
import time


def add_arguments(parser):
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)


def run(args):
    import numpy as np
    import paddle

    from ..utils.threads import set_cpu_threads

    paddle.seed(0)
    conv = paddle.nn.Conv2D(64, 64, 3, padding=1)
    x = paddle.randn([8, 64, 56, 56])
    x.stop_gradient = False
    a = paddle.randn([1024, 1024])

    def conv_step():
        conv(x).sum().backward()

    def matmul_step():
        paddle.matmul(a, a).sum().item()

    results = {(n, k): [] for n in args.counts for k in ("conv", "matmul")}
    for _ in range(args.rounds):
        for n in args.counts:
            set_cpu_threads(n)
            for name, fn in (("conv", conv_step), ("matmul", matmul_step)):
                fn()  # warm-up at this thread count
                t, c = time.perf_counter(), time.process_time()
                for _ in range(3):
                    fn()
                results[(n, name)].append(((time.perf_counter() - t) / 3, (time.process_time() - c) / 3))
    for (n, name), vals in results.items():
        wall = np.array([v[0] for v in vals])
        cpu = np.array([v[1] for v in vals])
        print(f"{name:6s} threads {n}: wall min {wall.min():.3f} s median {np.median(wall):.3f} s; "
              f"CPU/wall {np.median(cpu / wall):.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} usable cores")
    return 0
