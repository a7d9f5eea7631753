"""Train or test a TSM model from a PaddleVideo-style config.

  python main.py -c configs/tsm_k400_frames.yaml --validate
  (a config with test_after_train: True then tests the best checkpoint on DATASET.test)
  python main.py -c CFG --test -w output/tsm/tsm_best.pdparams [--save_results scores.jsonl]
  python -m paddle.distributed.launch --nproc_per_node 2 main.py -c CFG --validate
"""
import argparse
import sys

# before anything imports paddle, which overwrites an unset OMP_NUM_THREADS with 1
import paddlevideo_tsm.utils.threads  # noqa: F401
from paddlevideo_tsm import cli_args


def parse_args(argv=None):
    p = cli_args.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli_args.add_config_args(p)
    p.add_argument("--validate", action="store_true", help="validate every val_interval epochs")
    p.add_argument("--test", action="store_true", help="test the weights given by -w on DATASET.test")
    p.add_argument("-w", "--weights", help="weights to test, or to initialise training from")
    p.add_argument("--amp", action="store_true", help="automatic mixed precision (needs a GPU)")
    p.add_argument("--amp_level", choices=["O1", "O2"], help="AMP level (default: config amp_level, else O1)")
    p.add_argument("--seed", type=int, help="random seed (overrides the config's seed)")
    p.add_argument("--resume", metavar="PATH|auto",
                   help="continue training from a checkpoint (prefix or file), or 'auto' = the latest in --output")
    p.add_argument("--max_iters", type=int,
                   help="stop training after this many iterations (saved where it stopped; --resume continues)")
    p.add_argument("--output", help="output folder (default output/<model_name>; --test: the weights' folder, "
                                    "where the test report goes)")
    p.add_argument("--use_visualdl", action="store_true", help="write VisualDL scalars to <output>/vdl")
    p.add_argument("--save_results", metavar="FILE", help="--test: write per-video scores as JSON lines")
    return p.parse_args(argv)


def run(args):
    """Train (with --validate, test_after_train) or test per ``args`` -> exit code."""
    from paddlevideo_tsm.errors import ConfigError
    if args.test and not args.weights:
        raise ConfigError("--test needs the weights to test: -w PATH.pdparams")
    if args.save_results and not args.test:
        raise ConfigError("--save_results only applies with --test")
    from paddlevideo_tsm.config import get_config
    cfg = get_config(args.config, overrides=args.override)
    if args.test:
        from paddlevideo_tsm.tasks import test_model
        test_model(cfg, args.weights, save_results=args.save_results, seed=args.seed, output=args.output)
        return 0
    from paddlevideo_tsm.tasks import test_model, train_model
    if cfg.get("test_after_train"):
        from paddlevideo_tsm.tasks.runtime import check_split_list
        check_split_list(cfg, "test")  # the list tested at the end: its errors now, not after training
    result = train_model(cfg, weights=args.weights, validate=args.validate, amp=args.amp,
                         amp_level=args.amp_level, max_iters=args.max_iters, output=args.output,
                         resume=args.resume, use_visualdl=args.use_visualdl, seed=args.seed)
    if cfg.get("test_after_train"):
        weights = result["best_weights"] or result["last_weights"]
        if weights is None:
            raise ConfigError("test_after_train: no checkpoint was written (no validation, and the last "
                              "epoch is not a multiple of save_interval); not tested")
        print(f"test_after_train: testing {weights}")
        test_model(cfg, weights, seed=args.seed, output=result["output"])
    return 0


def main(argv=None):
    from paddlevideo_tsm.errors import run_cli
    return run_cli(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
