"""A project config: ``get_config`` reads the YAML file and checks every key before anything runs.

The schema is assembled from where each key is consumed, so adding a key is a change there:
top-level and DATASET keys next to the run set-up (tasks/runtime.py RUN_KEYS, DATASET_KEYS); a
component's keys are its registered class's arguments (MODEL.framework/backbone/head, DATASET
splits by ``format``, PIPELINE steps, METRIC: utils.config_schema.Component); OPTIMIZER from
solver/optimizer.py and solver/lr.py; INFERENCE from inference/settings.py; a pipeline section
from loader/pipelines/compose.py. Beyond single keys, the clip length of every pipeline and of
INFERENCE must be the backbone's.
"""
from .errors import ConfigError
from .inference.settings import INFERENCE_SCHEMA
from .loader.pipelines.compose import SECTION_SCHEMA as PIPELINE_SECTION_SCHEMA
from .loader.registry import DATASETS, PIPELINES
from .metrics import METRICS
from .modeling import BACKBONES, HEADS, RECOGNIZERS
from .modeling.sync_bn import BACKBONE_KEYS
from .solver.optimizer import OPTIMIZER_SCHEMA
from .tasks.runtime import DATASET_IGNORED_KEYS, DATASET_KEYS, IGNORED_KEYS, RUN_KEYS
from .utils.config import read_config
from .utils.config_schema import Component, Section, Value, check, signature_default

SPLITS = ("train", "valid", "test")
_DATASET_SPLIT = Component(DATASETS, tag="format", skip=("pipeline",))  # the loader passes the pipeline
SCHEMA = Section(dict(
    RUN_KEYS,
    # a head's in_channels may be left out: modeling.head_config takes the backbone's out_channels
    MODEL=Component(RECOGNIZERS, tag="framework",
                    args={"backbone": Component(BACKBONES, common=Section(BACKBONE_KEYS)),
                          "head": Component(HEADS, filled=("in_channels",))}),
    DATASET=Section(dict(DATASET_KEYS, **{s: _DATASET_SPLIT for s in SPLITS}), required=("batch_size",),
                    ignored=DATASET_IGNORED_KEYS),
    PIPELINE=Section({s: PIPELINE_SECTION_SCHEMA for s in SPLITS}),
    OPTIMIZER=OPTIMIZER_SCHEMA,
    METRIC=Component(METRICS),
    INFERENCE=INFERENCE_SCHEMA,
), required=("model_name", "MODEL", "DATASET"), ignored=IGNORED_KEYS)
_CLIP_PART = Value(int, min=1)


def get_config(path, overrides=None):
    """Read config ``path`` with ``overrides`` (['A.B=value']) -> checked AttrDict (``_path`` = path).

    ConfigError (one line: the file and the key) at the first unknown key (with the closest known
    one), missing mandatory key, value of the wrong type or range, or clip length that differs
    from the backbone's; a PaddleVideo key this project ignores is a one-line warning.
    """
    cfg = read_config(path, overrides)
    check_config(cfg)
    return cfg


def check_config(cfg):
    """Check a read config (see get_config); returns None or raises ConfigError."""
    source = cfg.get("_path")
    check(SCHEMA, {k: v for k, v in cfg.items() if k != "_path"}, source=source)
    check_clip_lengths(cfg, source)


def check_clip_lengths(cfg, source=None):
    """The frames per clip of each PIPELINE.<split>.sample (num_seg x seg_len), a head's num_seg and
    INFERENCE.num_seg equal MODEL.backbone.num_seg (or the backbone's default): its temporal shift
    is built for that length, and other clips would mix frames of different clips."""
    backbone = cfg["MODEL"]["backbone"]
    expected = backbone.get("num_seg")
    named = f"MODEL.backbone.num_seg is {expected}"
    if expected is None:
        expected = signature_default(BACKBONES, backbone["name"], "num_seg")
        if expected is None:  # a backbone without a fixed clip length
            return
        named = f"MODEL.backbone.num_seg is {expected} ({backbone['name']}'s default)"
    prefix = f"{source}: " if source else ""
    clips = []
    for split in SPLITS:
        sample = ((cfg.get("PIPELINE") or {}).get(split) or {}).get("sample") or {}
        if sample.get("num_seg") is None:
            continue
        key = f"PIPELINE.{split}.sample"
        seg_len = sample.get("seg_len", signature_default(PIPELINES, sample.get("name"), "seg_len") or 1)
        check(_CLIP_PART, sample["num_seg"], f"{key}.num_seg", source)
        check(_CLIP_PART, seg_len, f"{key}.seg_len", source)
        what = (f"{key}.num_seg is {sample['num_seg']}" if seg_len == 1 else
                f"{key}.num_seg x seg_len is {sample['num_seg']} x {seg_len} = {sample['num_seg'] * seg_len}")
        clips.append((what, sample["num_seg"] * seg_len))
    for key, value in (("MODEL.head.num_seg", cfg["MODEL"]["head"].get("num_seg")),
                       ("INFERENCE.num_seg", (cfg.get("INFERENCE") or {}).get("num_seg"))):
        if value is not None:
            clips.append((f"{key} is {value}", value))
    for what, frames in clips:
        if frames != expected:
            raise ConfigError(f"{prefix}{what} but {named}: a clip must have the backbone's number of frames")
