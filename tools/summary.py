"""Print a config's model size: trainable parameters and multiply-accumulates per clip.

    python tools/summary.py -c configs/tsm_k400_frames.yaml [-o KEY=VALUE ...]

MACs are counted by ``paddle.flops`` (which reports multiply-accumulates under the name FLOPs);
the temporal shift is a copy and counts as zero.
"""
import argparse
import contextlib
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm import cli_args  # noqa: E402
from paddlevideo_tsm.errors import run_cli  # noqa: E402


def summarize(cfg):
    """cfg -> dict(params, macs, input_shape) for one clip at the INFERENCE size."""
    import paddle
    from paddlevideo_tsm.inference.settings import inference_settings, input_shape
    from paddlevideo_tsm.modeling import build_model

    model_cfg = cfg.MODEL
    model_cfg.backbone.pretrained = None
    model = build_model(model_cfg)
    model.eval()
    shape = input_shape(*inference_settings(cfg), batch_size=1)
    params = sum(int(p.size) for p in model.parameters() if not p.stop_gradient)
    with contextlib.redirect_stdout(io.StringIO()):
        macs = paddle.flops(model, shape, print_detail=False)
    return {"params": params, "macs": int(macs), "input_shape": shape}


def main(argv=None):
    parser = cli_args.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli_args.add_config_args(parser)
    args = parser.parse_args(argv)

    def body():
        from paddlevideo_tsm.config import get_config
        cfg = get_config(args.config, args.override)
        s = summarize(cfg)
        print(f"model: {cfg.model_name} ({cfg.MODEL.backbone.name} depth {cfg.MODEL.backbone.get('depth', 50)}, "
              f"shift_div {cfg.MODEL.backbone.get('shift_div', 8)})")
        print(f"input per clip: {s['input_shape']}")
        print(f"trainable parameters: {s['params']:,} ({s['params'] / 1e6:.2f} M)")
        print(f"multiply-accumulates per clip: {s['macs'] / 1e9:.2f} GMACs "
              f"({2 * s['macs'] / 1e9:.2f} GFLOPs); the temporal shift counts as zero")
    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
