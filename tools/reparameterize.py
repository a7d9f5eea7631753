"""Convert a training-form checkpoint of a reparameterizable backbone (MobileOneTSM) to its deploy form.

    python tools/reparameterize.py -c CFG -w TRAINED.pdparams -o OUT_DIR [--override KEY=VALUE ...]

Every MobileOne block's branches (k x k conv-BNs, 1x1 conv-BN, BN identity) are folded into one
biased conv with the checkpoint's BN running statistics. Writes OUT_DIR/<model_name>_deploy.pdparams
(the deploy model's state dict) and OUT_DIR/<model_name>_deploy.yaml (CFG with
MODEL.backbone.deploy: True), after checking on a random clip that the deploy model's logits equal
the training form's in eval mode (relative difference < 1e-4). Export and predict with the deploy
config and checkpoint. Existing output files are never overwritten.
"""
import argparse
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm import cli_args  # noqa: E402
from paddlevideo_tsm.errors import ToolError, run_cli  # noqa: E402

TOLERANCE = 1e-4
CHECK_SIZE = 64  # the check clip's side: the folding does not depend on the input size


def _plain(obj):
    """An AttrDict tree -> plain dicts and lists (for yaml.safe_dump)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def deploy_config(cfg):
    """cfg -> a plain-dict copy for the deploy form: backbone ``deploy: True``, no ``pretrained``,
    model_name '<name>_deploy'."""
    out = _plain(copy.deepcopy(cfg))
    out.pop("_path", None)
    out["model_name"] = f"{cfg.get('model_name') or 'model'}_deploy"
    out["MODEL"]["backbone"].update(deploy=True, pretrained=None)
    return out


def reparameterize(cfg, weights):
    """cfg (training form), checkpoint path -> (deploy state dict, deploy config dict, relative
    logit difference on a random clip). ToolError when the backbone has no deploy form."""
    import numpy as np
    import paddle

    from paddlevideo_tsm.inference.export import build_export_model
    from paddlevideo_tsm.modeling import BACKBONES, build_model, load_state_strict

    path, backbone_cfg = cfg.get("_path", "<config>"), cfg["MODEL"]["backbone"]
    try:
        backbone_cls = BACKBONES.get(backbone_cfg["name"])
    except KeyError as exc:
        raise ToolError(f"{path}: MODEL.backbone.name: {exc.args[0]}") from None
    if not hasattr(backbone_cls, "switch_to_deploy"):
        raise ToolError(f"{path}: MODEL.backbone.name: {backbone_cfg['name']} has no reparameterizable "
                        f"(deploy) form; MobileOneTSM has")
    if backbone_cfg.get("deploy"):
        raise ToolError(f"{path}: MODEL.backbone.deploy is already True: the config describes the deploy form")
    model = build_export_model(cfg, weights)  # eval mode, checkpoint strictly loaded
    num_seg = model.backbone.num_seg
    shape = ([1, num_seg, 3, CHECK_SIZE, CHECK_SIZE] if model.data_format == "NCHW"
             else [1, num_seg, CHECK_SIZE, CHECK_SIZE, 3])
    clip = paddle.to_tensor(np.random.default_rng(0).standard_normal(shape).astype("float32"))
    with paddle.no_grad():
        before = model(clip).numpy()
        model.backbone.switch_to_deploy()
        state = model.state_dict()
        target = deploy_config(cfg)
        deployed = build_model(target["MODEL"])
        load_state_strict(deployed, state, "the folded state")  # the keys of a model built with deploy: True
        deployed.eval()
        after = deployed(clip).numpy()
    diff = float(np.abs(after - before).max() / max(np.abs(before).max(), 1e-12))
    if not diff < TOLERANCE:
        raise ToolError(f"{weights}: the deploy model's logits differ from the training form's by {diff:.2e} "
                        f"(relative) on a random clip, more than {TOLERANCE:g}; nothing written")
    return state, target, diff


def run(args):
    import yaml

    from paddlevideo_tsm.config import get_config
    from paddlevideo_tsm.tasks.checkpoint import atomic_save, write_text

    cfg = get_config(args.config, args.override)
    name = f"{cfg.get('model_name') or 'model'}_deploy"
    params_path = os.path.join(args.output, name + ".pdparams")
    config_path = os.path.join(args.output, name + ".yaml")
    for path in (params_path, config_path):
        if os.path.exists(path):
            raise ToolError(f"{path}: already exists; remove it or choose another -o folder")
    state, target, diff = reparameterize(cfg, args.weights)
    header = (f"# Deploy form of {args.config} (tools/reparameterize.py from {args.weights}): every MobileOne\n"
              f"# block is one conv. Export: python tools/export_model.py -c {config_path} -p {params_path} -o OUT\n")
    atomic_save(state, params_path)
    atomic_save(header + yaml.safe_dump(target, sort_keys=False), config_path, writer=write_text)
    print(f"wrote {params_path}")
    print(f"wrote {config_path}")
    print(f"deploy vs training-form logits on a random {CHECK_SIZE}x{CHECK_SIZE} clip (eval): "
          f"relative difference {diff:.1e}")
    return 0


def main(argv=None):
    p = cli_args.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    cli_args.add_config_args(p, short_override=False)  # -o is the output folder, as in export_model.py
    p.add_argument("-w", "--weights", required=True, help="trained .pdparams of that config")
    p.add_argument("-o", "--output", required=True, help="folder for the deploy checkpoint and config")
    argv = sys.argv[1:] if argv is None else argv
    return run_cli(run, p.parse_args(cli_args.split_output_overrides(argv)))


if __name__ == "__main__":
    sys.exit(main())
