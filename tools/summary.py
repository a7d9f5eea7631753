"""Print a config's model size: trainable parameters and multiply-accumulates per clip.

    python tools/summary.py -c configs/tsm_k400_frames.yaml [-o KEY=VALUE ...]

MACs are counted by ``paddle.flops`` (which reports multiply-accumulates under the name FLOPs);
the temporal shift is a copy and counts as zero; attention products (non-local blocks) count
through ``modeling/ops/matmul.py``. A backbone with a one-conv deploy form (MobileOneTSM) is
reported in both forms: the training (multi-branch) form, then the deploy form that
``tools/reparameterize.py`` writes.
"""
import argparse
import contextlib
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm import cli_args  # noqa: E402
from paddlevideo_tsm.errors import run_cli  # noqa: E402


def count(model, shape):
    """model (eval), input shape -> (trainable parameters, MACs of one forward)."""
    import paddle
    from paddlevideo_tsm.modeling.ops.matmul import MAC_COUNTERS

    params = sum(int(p.size) for p in model.parameters() if not p.stop_gradient)
    with contextlib.redirect_stdout(io.StringIO()):
        macs = paddle.flops(model, shape, custom_ops=MAC_COUNTERS, print_detail=False)
    return params, int(macs)


def summarize(cfg):
    """cfg -> dict(params, macs, input_shape, backbone (a description), shift_div (as the backbone
    resolved it)) for one clip at the INFERENCE size; with a reparameterizable backbone in its
    training form also ``deploy``: dict(params, macs)."""
    from paddlevideo_tsm.inference.settings import inference_settings, input_shape
    from paddlevideo_tsm.modeling import build_model

    model_cfg = cfg.MODEL
    model_cfg.backbone.pretrained = None
    model = build_model(model_cfg)
    model.eval()
    shape = input_shape(*inference_settings(cfg), batch_size=1)
    params, macs = count(model, shape)
    out = {"params": params, "macs": macs, "input_shape": shape, "backbone": _describe(model.backbone),
           "shift_div": getattr(model.backbone, "shift_div", model_cfg.backbone.get("shift_div"))}
    if hasattr(model.backbone, "switch_to_deploy") and not model.backbone.deploy:
        model.backbone.switch_to_deploy()
        deploy_params, deploy_macs = count(model, shape)
        out["deploy"] = {"params": deploy_params, "macs": deploy_macs}
    return out


def _describe(backbone):
    """'ResNetTSM depth 50' / 'MobileOneTSM arch s4' / 'PPTSM_MobileNetV2 scale 0.25', plus the
    number of non-local blocks."""
    from paddlevideo_tsm.modeling.backbones.non_local import NonLocal3D

    text = type(backbone).__name__
    for attr in ("depth", "arch", "scale"):
        if hasattr(backbone, attr):
            text += f" {attr} {getattr(backbone, attr)}"
    n = sum(isinstance(unit, NonLocal3D) for _, unit in backbone.units())
    return text + (f", {n} non-local blocks" if n else "")


def main(argv=None):
    parser = cli_args.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli_args.add_config_args(parser)
    args = parser.parse_args(argv)

    def body():
        from paddlevideo_tsm.config import get_config
        cfg = get_config(args.config, args.override)
        s = summarize(cfg)
        print(f"model: {cfg.model_name} ({s['backbone']}, shift_div {s['shift_div']})")
        print(f"input per clip: {s['input_shape']}")
        form = " (training form, multi-branch)" if "deploy" in s else ""
        print(f"trainable parameters{form}: {s['params']:,} ({s['params'] / 1e6:.2f} M)")
        print(f"multiply-accumulates per clip{form}: {s['macs'] / 1e9:.2f} GMACs "
              f"({2 * s['macs'] / 1e9:.2f} GFLOPs); the temporal shift counts as zero")
        if "deploy" in s:
            d = s["deploy"]
            print(f"deploy form (tools/reparameterize.py): {d['params']:,} parameters ({d['params'] / 1e6:.2f} M), "
                  f"{d['macs'] / 1e9:.2f} GMACs per clip")
    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
