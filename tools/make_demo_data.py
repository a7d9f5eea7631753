"""Generate the synthetic temporal demo data set (see paddlevideo_tsm/demo_data.py).

    python tools/make_demo_data.py [--out data/demo] [--seed 0] [--train_per_class 100]
        [--val_per_class 20] [--test_per_class 20] [--frames 16] [--size 80] [--workers N] [--force]

Idempotent: a complete output made with the same parameters is left alone (exit 0 at once);
one made with other parameters is only replaced with --force, and so is a non-empty folder the
tool did not make. Only the generator's own files are ever deleted or overwritten.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm import demo_data  # noqa: E402
from paddlevideo_tsm.errors import ToolError, run_cli  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="data/demo", help="output folder (default data/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train_per_class", type=int, default=100)
    p.add_argument("--val_per_class", type=int, default=20)
    p.add_argument("--test_per_class", type=int, default=20)
    p.add_argument("--frames", type=int, default=16, help="frames per clip (>= 2)")
    p.add_argument("--size", type=int, default=80, help="frame side in pixels (>= 16)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all CPUs)")
    p.add_argument("--force", action="store_true",
                   help="regenerate over a complete output, or write into a non-empty folder the tool did not make")
    return p.parse_args(argv)


def _describe(params):
    pc = params["per_class"]
    return (f"seed={params['seed']} frames={params['frames']} size={params['size']} "
            f"per class train/val/test={pc['train']}/{pc['val']}/{pc['test']}")


def run(args):
    """Generate (or keep) the demo data of ``args``; ToolError on bad options or a foreign folder."""
    per_split = {"train": args.train_per_class, "val": args.val_per_class, "test": args.test_per_class}
    problems = [f"--{s}_per_class must be >= 0, got {n}" for s, n in per_split.items() if n < 0]
    if args.frames < 2:
        problems.append(f"--frames must be >= 2, got {args.frames}")
    if args.size < 16:
        problems.append(f"--size must be >= 16, got {args.size}")
    if args.workers is not None and args.workers < 1:
        problems.append(f"--workers must be >= 1, got {args.workers}")
    if problems:
        raise ToolError("; ".join(problems))
    wanted = demo_data.generation_params(args.seed, per_split, args.frames, args.size)
    existing = demo_data.read_marker(args.out)
    marker = os.path.join(args.out, demo_data.MARKER_NAME)
    if existing is not None and not args.force:
        if existing == wanted:
            print(f"{args.out}: demo data already complete ({_describe(existing)}); nothing to do")
            return 0
        described = _describe(existing) if isinstance(existing.get("per_class"), dict) else "unknown parameters"
        raise ToolError(f"{marker} records {described}, not the requested {_describe(wanted)}; "
                        "pass --force to regenerate")
    try:
        done = demo_data.generate(args.out, args.seed, per_split, args.frames, args.size, args.workers,
                                  force=args.force)
    except OSError as e:
        raise ToolError(f"{args.out}: cannot write the demo data ({e})") from None
    total = sum(per_split.values()) * len(demo_data.CLASS_NAMES)
    print(f"{args.out}: wrote {total} clips ({_describe(done)}) in {done['seconds']:.1f} s")
    return 0


def main(argv=None):
    return run_cli(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
