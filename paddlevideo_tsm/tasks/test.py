"""Testing: every view of every test video through the model, scores averaged per video."""
import json
import os

import numpy as np
import paddle

from ..errors import ConfigError
from ..loader.bad_samples import epoch_report
from ..metrics import build_metric
from ..modeling import load_checkpoint
from ..utils import dist
from .checkpoint import atomic_save, write_text
from .run_folder import probe_folder
from .runtime import batch_size, build_model_checked, data_api, dataset_section, route_model_convs, setup_runtime


@paddle.no_grad()
def test_model(cfg, weights, save_results=None, seed=None, output=None):
    """Evaluate ``weights`` on DATASET.test -> metric dict (top1, top5, mean_class_acc, count, failed).
    Videos that fail to load are named, counted and left out of the metric, however many. The test
    report (visual/report.py) goes to ``output``, else the folder of ``weights``."""
    if save_results and dist.is_main():
        if os.path.isdir(save_results):
            raise ConfigError(f"{save_results}: is a folder; --save_results takes a file name")
        probe_folder(os.path.dirname(os.path.abspath(save_results)), "--save_results")
    if output and dist.is_main():
        probe_folder(output, "--output")  # the test report's folder
    logger, world, rank, seed = setup_runtime(cfg, seed)
    model = build_model_checked(cfg)
    load_checkpoint(model, weights)
    route_model_convs(cfg, model, logger)
    model.eval()

    build_dataset, build_dataloader = data_api()
    ds_cfg, pipe_cfg = dataset_section(cfg, "test")
    # DATASET.test.num_clips x the crops of PIPELINE.test = views per video
    dataset = build_dataset(ds_cfg, pipe_cfg, test_mode=True, max_bad_fraction=None)
    loader = build_dataloader(dataset, batch_size(cfg, "test"),
                              num_workers=int(cfg["DATASET"].get("num_workers", 0)),
                              shuffle=False, drop_last=False, seed=seed)
    try:
        metric = build_metric(cfg.get("METRIC"), data_size=len(dataset), batch_size=batch_size(cfg, "test"))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{cfg.get('_path', '<config>')}: METRIC: {exc.args[0] if exc.args else exc}") from None
    log_interval = int(cfg.get("log_interval", 10))
    dataset.reset_bad_samples()
    for i, batch in enumerate(loader):
        imgs, labels, index = batch[0], batch[1], batch[2]
        scores = model.test_step([imgs])  # [N, V, K]
        metric.update(scores.numpy(), labels.numpy(), index.numpy())
        if (i + 1) % log_interval == 0:
            logger.info(f"[TEST] batch {i + 1}/{len(loader)}")
    report = epoch_report(dataset, "test")
    if report:
        logger.warning(report)

    idx, labels, scores = metric.arrays()
    if world > 1:
        rows = dist.all_gather_rows(np.concatenate([idx[:, None], labels[:, None], scores], axis=1))
        metric.reset()
        metric.add_videos(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2:])
    res = metric.accumulate()
    logger.info(f"[TEST] top1: {res['top1']:.4f} top5: {res['top5']:.4f} "
                f"mean_class_acc: {res['mean_class_acc']:.4f} ({res['count']} videos"
                + (f", {res['failed']} failed to load and counted out)" if res["failed"] else ")"))
    if save_results and dist.is_main():
        write_results(save_results, metric, dataset)
        logger.info(f"per-video scores written to {save_results}")
    if dist.is_main():
        from ..visual.report import report_test_run
        report_test_run(metric, dataset.class_names, output or os.path.dirname(os.path.abspath(weights)), logger)
    return res


def write_results(path, metric, dataset):
    """JSON lines {index, filename, label, scores} per video (loaded ones; failed: scores null),
    written to a temporary file and renamed; ConfigError naming ``path`` when that fails."""
    idx, labels, scores = metric.arrays()
    lines = []
    for i, label, row in zip(idx.tolist(), labels.tolist(), scores):
        entry = dataset.entries[i]
        lines.append(json.dumps({"index": i, "filename": entry.path,
                                 "label": int(entry.label) if label < 0 else label,
                                 "scores": None if label < 0 else [float(v) for v in row]}) + "\n")
    try:
        atomic_save("".join(lines), path, writer=write_text)
    except OSError as e:
        raise ConfigError(f"{path}: cannot write the results ({e.strerror or e}) (--save_results)") from None
