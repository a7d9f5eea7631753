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

from paddlevideo_tsm.errors import run_cli  # noqa: E402


def summarize(cfg):
    """cfg -> dict(params, macs, input_shape) for one clip at the INFERENCE size."""
    import paddle
    from paddlevideo_tsm.modeling import build_model

    model_cfg = cfg.MODEL
    model_cfg.backbone.pretrained = None
    model = build_model(model_cfg)
    model.eval()
    inf = cfg.get("INFERENCE") or {}
    num_seg = inf.get("num_seg", model_cfg.backbone.get("num_seg", 8))
    size = inf.get("target_size", 224)
    shape = [1, num_seg, 3, size, size] if model.data_format == "NCHW" else [1, num_seg, size, size, 3]
    params = sum(int(p.size) for p in model.parameters() if not p.stop_gradient)
    with contextlib.redirect_stdout(io.StringIO()):
        macs = paddle.flops(model, shape, print_detail=False)
    return {"params": params, "macs": int(macs), "input_shape": shape}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-o", "--override", action="append", default=[])
    args = parser.parse_args(argv)

    def body():
        from paddlevideo_tsm.utils import get_config
        cfg = get_config(args.config, args.override)
        s = summarize(cfg)
        backbone = cfg.MODEL.backbone
        size = "".join(f" {key} {backbone[key]}" for key in ("depth", "scale", "base_channels") if key in backbone)
        print(f"model: {cfg.model_name} ({backbone.name}{size}, "
              f"shift_div {backbone.get('shift_div', 'as the backbone defaults')})")
        print(f"input per clip: {s['input_shape']}")
        print(f"trainable parameters: {s['params']:,} ({s['params'] / 1e6:.2f} M)")
        print(f"multiply-accumulates per clip: {s['macs'] / 1e9:.2f} GMACs "
              f"({2 * s['macs'] / 1e9:.2f} GFLOPs); the temporal shift counts as zero")
    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
