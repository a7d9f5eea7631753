"""Run a training launch again after a worker dies, until training finishes.

    python tools/launch_restart.py --max_restart 3 --nproc_per_node 8 main.py -c CFG --validate --resume auto

Everything after ``--max_restart N`` is passed to ``python -m paddle.distributed.launch``. Paddle's
launcher restarts failed workers itself only in elastic mode (``--master etcd://...``, an etcd
server); with its default master (one node, or ``--master IP:PORT`` across nodes) it stops the
node's workers at the first failure and exits, whatever its own ``--max_restart`` says. This runs
the launch again, up to N more times, and ``--resume auto`` in main.py's arguments (required) makes
each attempt continue from the last complete checkpoint of the output folder (the restarted rank 0
takes over the dead run's train.lock). It stops at the first attempt that ends with 0, or with 2 (a
user error on every rank: bad config, data or checkpoint, which a restart would meet again). On
several nodes run it on every node, with the same arguments as the launch it wraps.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm import cli_args  # noqa: E402
from paddlevideo_tsm.errors import ConfigError, run_cli  # noqa: E402

USER_ERROR_EXIT = 2  # errors.run_cli's exit code; the launcher passes it on when every rank stops with it


def resumes_auto(args):
    """True when the training script's arguments (after the first ``*.py``) contain --resume auto."""
    script = next((i for i, a in enumerate(args) if a.endswith(".py")), None)
    rest = args[script + 1:] if script is not None else []
    return any(a == "--resume=auto" or (a == "--resume" and rest[i + 1:i + 2] == ["auto"])
               for i, a in enumerate(rest))


def run(args):
    """Launch up to 1 + args.max_restart times -> the last launch's exit code."""
    if not resumes_auto(args.launch):
        raise ConfigError("launch_restart: the training arguments need --resume auto, or a restarted launch "
                          "would start afresh and refuse the output folder of the first")
    command = [sys.executable, "-m", "paddle.distributed.launch", *args.launch]
    for attempt in range(args.max_restart + 1):
        code = subprocess.call(command)
        if code in (0, USER_ERROR_EXIT):
            return code
        left = args.max_restart - attempt
        print(f"launch_restart: launch {attempt + 1} exited with {code}; "
              + (f"restarting from the last complete checkpoint ({left} restart{'s' * (left != 1)} left)"
                 if left else "no restarts left"), file=sys.stderr, flush=True)
    return code


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = cli_args.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     usage="%(prog)s --max_restart N LAUNCH_ARGS... main.py MAIN_ARGS...")
    parser.add_argument("--max_restart", type=cli_args.int_at_least(0), required=True,
                        help="launches after the first, at most (give it first)")
    args = parser.parse_args(argv[:2])  # the rest is the launcher's and main.py's, passed on unread
    args.launch = argv[2:]
    return run_cli(run, args)


if __name__ == "__main__":
    sys.exit(main())
