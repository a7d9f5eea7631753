"""Benchmarks: ``python tools/benchmark.py {loader,model,inference,online,train_step,pipelines,threads,onednn_profile} [options]``.

loader: data pipeline clips/s; model: TSM vs TSN twin (eval forward, train step, shift cost);
inference: exported Paddle Inference predictor / ONNX Runtime per clip;
online: per-frame online TSM latency vs its TSN twin;
train_step: seconds per TSM training step and peak RSS;
pipelines: per-step train/valid pipeline clips/s in one process;
threads: CPU kernel speed at each set_num_threads count;
onednn_profile: the exported predictor's oneDNN primitives, TSM vs TSN (where the shift's time goes).
"""
import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# before any mode module can import paddle: it snapshots OMP_NUM_THREADS, which importing paddle overwrites
from paddlevideo_tsm.utils import threads as _threads  # noqa: E402,F401
from paddlevideo_tsm import cli_args  # noqa: E402
from paddlevideo_tsm.errors import run_cli  # noqa: E402

MODES = ("loader", "model", "inference", "online", "train_step", "pipelines", "threads", "onednn_profile")


def main(argv=None):
    parser = cli_args.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in MODES:
        module = importlib.import_module(f"paddlevideo_tsm.benchmarks.{mode}")
        p = sub.add_parser(mode, help=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    return run_cli(args.run, args)


if __name__ == "__main__":
    sys.exit(main())
