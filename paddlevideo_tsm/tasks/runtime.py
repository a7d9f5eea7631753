"""Set-up shared by training and testing: process group, threads, seeds, data builders."""
import os
import random

import numpy as np
import paddle

from ..errors import ConfigError
from ..modeling.cpu_conv import CPU_CONV_CHOICES, route_convs
from ..utils import dist
from ..utils.config_schema import Value
from ..utils.logger import get_logger
from ..utils.threads import MKL_NOTE, resolve_cpu_threads, set_cpu_threads
from .effective_batch import BATCH_KEYS

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The top-level keys of a config: what each takes (null = the default). Consumed here, in
# train.py, test.py, main.py and effective_batch.py: search the key. PaddleVideo's keys this project ignores: IGNORED_KEYS.
RUN_KEYS = {
    "model_name": Value(str),
    "epochs": Value(int, min=1),
    "log_interval": Value(int, min=1),
    "save_interval": Value(int, min=1),
    "val_interval": Value(int, min=1),
    "log_level": Value(str, choices=LOG_LEVELS, ignore_case=True, null=True),
    "output_dir": Value(str, null=True),
    "use_visualdl": Value(bool, null=True),
    "seed": Value(int, min=0, null=True),
    "cpu_threads": Value(int, min=1, null=True),
    "max_bad_fraction": Value(float, min=0, max=1, null=True),
    "amp": Value(bool, null=True),
    "amp_level": Value(str, choices=("O1", "O2"), null=True),
    "test_after_train": Value(bool, null=True),
    "cpu_conv": Value(str, choices=CPU_CONV_CHOICES, null=True),
    **BATCH_KEYS,  # accum_steps, GRADIENT_ACCUMULATION
}
IGNORED_KEYS = {
    "PRECISEBN": "precise BN statistics are not implemented",
    "MIX": "mixup is not implemented",
    "resume_epoch": "use --resume",
    "to_static": "training runs in dynamic graph mode",
    "use_npu": "CPU and GPU only", "use_xpu": "CPU and GPU only",
}
# DATASET keys besides its train/valid/test splits (batch_size(), train.py, test.py)
DATASET_KEYS = {
    "batch_size": Value(int, min=1),
    "valid_batch_size": Value(int, min=1, null=True),
    "test_batch_size": Value(int, min=1, null=True),
    "num_workers": Value(int, min=0),
}
DATASET_IGNORED_KEYS = {"valid_num_workers": "num_workers serves every split",
                        "test_num_workers": "num_workers serves every split"}


def setup_runtime(cfg, seed=None):
    """Init the process group (when launched), CPU threads and seeds -> (logger, world, rank, seed)."""
    world = dist.init_if_launched()
    logger = get_logger()
    if cfg.get("log_level"):
        level = cfg["log_level"].upper() if dist.is_main() else "WARNING"
        logger.setLevel(level)
    if not paddle.device.get_device().startswith("gpu"):
        threads, source = resolve_cpu_threads(cfg.get("cpu_threads"))
        set_cpu_threads(threads)
        logger.info(f"CPU threads: {threads} ({source})" + (f"; {MKL_NOTE}" if MKL_NOTE else ""))
    seed = cfg.get("seed") if seed is None else seed
    if seed is not None:
        np.random.seed(seed)
        random.seed(seed)
        paddle.seed(seed)
    return logger, world, dist.rank(), seed


def route_model_convs(cfg, model, logger):
    """Config ``cpu_conv`` (default paddle): which kernels run ``model``'s convolutions on CPU
    (modeling/cpu_conv.py; one log line when not Paddle's) -> number of layers routed to oneDNN."""
    return route_convs(model, cfg.get("cpu_conv"), on_gpu=paddle.device.get_device().startswith("gpu"),
                       logger=logger)


def output_dir(cfg, output=None):
    """--output, else config output_dir, else output/<model_name>."""
    return output or cfg.get("output_dir") or os.path.join("output", cfg["model_name"])


def data_api():
    """(build_dataset, build_dataloader) from the loader package."""
    from ..loader import build_dataloader, build_dataset
    return build_dataset, build_dataloader


def dataset_section(cfg, split):
    """(DATASET.<split>, PIPELINE.<split>), or a ConfigError naming the missing key. The top-level
    ``max_bad_fraction`` applies to every split that does not set its own; the list's labels are
    checked against the model's num_classes."""
    ds = cfg.get("DATASET") or {}
    if not isinstance(ds.get(split), dict):
        raise ConfigError(f"{cfg.get('_path', '<config>')}: missing section 'DATASET.{split}'")
    pipe = (cfg.get("PIPELINE") or {}).get(split)
    if pipe is None:
        raise ConfigError(f"{cfg.get('_path', '<config>')}: missing section 'PIPELINE.{split}'")
    split_cfg = dict(ds[split])
    if cfg.get("max_bad_fraction") is not None:
        split_cfg.setdefault("max_bad_fraction", cfg["max_bad_fraction"])
    split_cfg.setdefault("num_classes", num_classes(cfg))  # the list's labels are checked against it
    return split_cfg, pipe


def check_split_list(cfg, split):
    """Read DATASET.<split>'s list file now (its lines and labels are checked): ListFileError or
    ConfigError at start instead of when the split is first used."""
    build_dataset, _ = data_api()
    build_dataset(*dataset_section(cfg, split))


def num_classes(cfg):
    """The classes the model of ``cfg`` scores (recognizers.num_classes_of: MODEL.head.num_classes,
    or a classifying backbone's); None when the config does not say."""
    from ..modeling.recognizers import num_classes_of

    return num_classes_of(require(cfg, "MODEL"))


def batch_size(cfg, split):
    """DATASET.batch_size for train; valid_batch_size / test_batch_size (default batch_size) otherwise."""
    ds = cfg["DATASET"]
    key = {"train": "batch_size", "valid": "valid_batch_size", "test": "test_batch_size"}[split]
    value = ds.get(key, ds["batch_size"])
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"{cfg.get('_path', '<config>')}: DATASET.{key} must be a positive int, got {value!r}")
    return value


def require(cfg, key):
    """cfg[key] for a mandatory section, or a ConfigError naming it."""
    if not isinstance(cfg.get(key), dict):
        raise ConfigError(f"{cfg.get('_path', '<config>')}: missing section '{key}'")
    return cfg[key]


def build_model_checked(cfg):
    """build_model(cfg.MODEL) with registry/argument mistakes turned into one-line ConfigErrors."""
    from ..modeling import build_model
    try:
        return build_model(require(cfg, "MODEL"))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        msg = exc.args[0] if exc.args else str(exc)
        raise ConfigError(f"{cfg.get('_path', '<config>')}: MODEL: {msg}") from None
