"""The training loop: epochs of iterations, logging, validation, checkpoints, resume, VisualDL."""
import datetime
import os
import time

import numpy as np
import paddle
import paddle.nn.functional as F

from ..loader.bad_samples import check_bad_fraction, epoch_report
from ..modeling import load_pretrained
from ..errors import CheckpointError
from ..solver import build_lr, build_optimizer, build_weight_decay, lr_batch_scale, trainable_summary
from ..utils import dist
from ..errors import ConfigError
from ..utils.checkpoint import (atomic_save, checkpoint_prefix, find_latest, load_training_state,
                                resolve_prefix, save_checkpoint)
from .amp import setup_amp
from .runtime import (batch_size, build_model_checked, data_api, dataset_section, output_dir, require,
                      setup_runtime)


class Averager:
    """Running sums of named floats: ``add(**values)``, ``mean(name)``."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def add(self, **values):
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def mean(self, name):
        return self.sums.get(name, 0.0) / max(1, self.counts.get(name, 0))


class VdlWriter:
    """visualdl.LogWriter in ``<output>/vdl`` on rank 0, or a no-op."""

    def __init__(self, logdir, enabled):
        self.writer = None
        if enabled and dist.is_main():
            from visualdl import LogWriter
            self.writer = LogWriter(logdir=logdir)

    def scalars(self, prefix, step, **values):
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(tag=f"{prefix}/{k}", value=float(v), step=int(step))

    def close(self):
        if self.writer is not None:
            self.writer.close()


def format_eta(seconds):
    return str(datetime.timedelta(seconds=int(max(0.0, seconds))))


def train_one_step(model, raw_model, optimizer, batch, amp):
    """Forward (through the DataParallel wrapper when there is one), backward, update -> outputs dict."""
    imgs, labels = batch[0], batch[1]
    with amp.autocast():
        scores = model(imgs)
        outputs = raw_model.head.loss(scores, labels)
    if amp.scaler is not None:
        amp.scaler.scale(outputs["loss"]).backward()
        amp.scaler.step(optimizer)
        amp.scaler.update()
    else:
        outputs["loss"].backward()
        optimizer.step()
    optimizer.clear_grad(set_to_zero=False)  # free the gradients between steps instead of zeroing them
    return outputs


@paddle.no_grad()
def evaluate(raw_model, loader):
    """Whole-set loss/top1/top5 over every rank's share, each sample counted once -> dict."""
    raw_model.eval()
    order = [i for batch in loader.batch_sampler for i in batch]  # this rank's dataset indices, in order
    rows, pos = [], 0
    for batch in loader:
        imgs, labels = batch[0], batch[1]
        scores = raw_model(imgs)
        labels = paddle.reshape(labels, [-1]).astype("int64")
        loss = F.cross_entropy(scores, labels, reduction="none").numpy().reshape(-1)
        s, y = scores.numpy(), labels.numpy()
        k = min(5, s.shape[1])
        top = np.argsort(-s, axis=1, kind="stable")[:, :k]
        n = len(y)
        rows.append(np.stack([np.asarray(order[pos:pos + n], dtype=np.float64), loss,
                              top[:, 0] == y, (top == y[:, None]).any(axis=1)], axis=1))
        pos += n
    local = np.concatenate(rows, axis=0) if rows else np.zeros((0, 4))
    merged = dist.all_gather_rows(local)
    _, first = np.unique(merged[:, 0], return_index=True)  # a distributed sampler repeats samples to pad
    merged = merged[first]
    raw_model.train()
    return {"loss": float(merged[:, 1].mean()), "top1": float(merged[:, 2].mean()),
            "top5": float(merged[:, 3].mean()), "count": int(len(merged))}


def log_parameter_groups(logger, model, opt_cfg):
    """One line: how many parameters get weight decay, and which get an lr multiplier."""
    decay = build_weight_decay(opt_cfg.get("weight_decay"))
    names = {p.name: n for n, p in model.named_parameters()}
    groups = trainable_summary(model.parameters(), decay)
    decayed = sum(1 for _, c, _ in groups if c > 0)
    mults = ", ".join(f"{names.get(n, n)} x{m:g}" for n, _, m in groups if m != 1.0)
    logger.info(f"optimizer {opt_cfg.get('name')}: {decayed} of {len(groups)} trainable tensors with L2 "
                f"{decay._coeff if decay else 0:g}, the rest (BN, fc bias) without; lr multipliers: {mults or 'none'}")


def _resume_prefix(resume, out_dir, model_name, logger):
    if resume == "auto":
        prefix = find_latest(out_dir, model_name)
        if prefix is None:
            logger.info(f"--resume auto: no complete checkpoint in {out_dir}, starting from epoch 1")
        return prefix
    prefix = resolve_prefix(resume)
    if not os.path.exists(prefix + ".pdstate"):
        raise CheckpointError(f"{prefix}.pdstate: checkpoint not found or incomplete (--resume)")
    return prefix


def train_model(cfg, weights=None, validate=False, amp=False, amp_level="O1", max_iters=None,
                output=None, resume=None, use_visualdl=False, seed=None, gpu_available=None):
    """Train ``cfg``'s model; returns {'best_top1', 'epochs_run', 'iters', 'output', 'model',
    'best_weights', 'last_weights'} (the weights are .pdparams paths, None when not written)."""
    logger, world, rank, seed = setup_runtime(cfg, seed)
    name = cfg["model_name"]
    out_dir = output_dir(cfg, output)
    if dist.is_main():
        os.makedirs(out_dir, exist_ok=True)
    epochs = int(cfg.get("epochs", 1))
    log_interval = int(cfg.get("log_interval", 10))
    save_interval = int(cfg.get("save_interval", 1))
    val_interval = int(cfg.get("val_interval", 1))

    model = build_model_checked(cfg)
    if weights:
        load_pretrained(model, weights)

    build_dataset, build_dataloader = data_api()
    num_workers = int(cfg["DATASET"].get("num_workers", 0))
    train_ds = build_dataset(*dataset_section(cfg, "train"))
    bs = batch_size(cfg, "train")
    train_loader = build_dataloader(train_ds, bs, num_workers=num_workers, shuffle=True,
                                    drop_last=True, seed=seed)
    iters_per_epoch = len(train_loader)
    if iters_per_epoch == 0:
        raise ConfigError(
            f"{train_ds.file_path}: {len(train_ds)} samples give no full batch of {bs} x {world} ranks")
    val_loader = None
    if validate:
        val_ds = build_dataset(*dataset_section(cfg, "valid"))
        val_loader = build_dataloader(val_ds, batch_size(cfg, "valid"), num_workers=num_workers,
                                      shuffle=False, drop_last=False, seed=seed)

    opt_cfg = require(cfg, "OPTIMIZER")
    scale = lr_batch_scale(opt_cfg, bs * world)
    lr = build_lr(opt_cfg.get("learning_rate"), iters_per_epoch, scale)
    optimizer = build_optimizer(opt_cfg, lr, model.parameters())
    log_parameter_groups(logger, model, opt_cfg)
    if scale != 1.0:
        logger.info(f"lr scaled by {scale:g} for total batch {bs * world} "
                    f"(base {opt_cfg['lr_scale_by_batch']['base_batch_size']})")
    amp_kwargs = {} if gpu_available is None else {"gpu_available": gpu_available}
    model, optimizer, amp_state = setup_amp(model, optimizer, amp or bool(cfg.get("amp")),
                                            amp_level or cfg.get("amp_level") or "O1", logger, **amp_kwargs)

    start_epoch, best = 1, None
    best_path = os.path.join(out_dir, f"{name}_best.pdparams")
    best_weights = last_weights = None
    if resume:
        prefix = _resume_prefix(resume, out_dir, name, logger)
        if prefix is not None:
            state = load_training_state(prefix, model, optimizer)
            start_epoch, best = int(state["epoch"]) + 1, state.get("best")
            last_weights = prefix + ".pdparams"
            if best is not None and os.path.isfile(best_path):
                best_weights = best_path  # the run before the resume wrote it
            logger.info(f"resumed from {prefix} (epoch {state['epoch']}); continuing at epoch {start_epoch}")

    from ..visual.curves import TrainingCurves
    curves = TrainingCurves(out_dir, start_epoch, dist.is_main(), logger)
    raw_model = model
    if world > 1:
        model = paddle.DataParallel(model)
    vdl = VdlWriter(os.path.join(out_dir, "vdl"), use_visualdl or bool(cfg.get("use_visualdl")))
    total_iters = iters_per_epoch * (epochs - start_epoch + 1)
    if max_iters:
        total_iters = min(total_iters, int(max_iters))
    done, epochs_run = 0, 0
    global_step = (start_epoch - 1) * iters_per_epoch
    train_start = time.time()
    model.train()

    for epoch in range(start_epoch, epochs + 1):
        if done >= total_iters:
            break
        train_loader.set_epoch(epoch)
        train_ds.reset_bad_samples()
        stats, window = Averager(), Averager()
        tic = time.time()
        for i, batch in enumerate(train_loader):
            reader_cost = time.time() - tic
            outputs = train_one_step(model, raw_model, optimizer, batch, amp_state)
            cur_lr = optimizer.get_lr()
            if lr.by_iteration:
                lr.step()
            values = {k: v.item() for k, v in outputs.items()}
            batch_cost = time.time() - tic
            done += 1
            global_step += 1
            stats.add(batch_cost=batch_cost, reader_cost=reader_cost, **values)
            window.add(batch_cost=batch_cost, reader_cost=reader_cost)
            if (i + 1) % log_interval == 0 or i + 1 == iters_per_epoch or done == total_iters:
                avg_cost = window.mean("batch_cost")
                ips = bs / avg_cost if avg_cost > 0 else 0.0
                eta = (total_iters - done) * stats.mean("batch_cost")
                logger.info(
                    f"epoch:[{epoch:3d}/{epochs}] train iter:{i + 1}/{iters_per_epoch} "
                    f"loss: {values['loss']:.5f} top1: {values['top1']:.5f} top5: {values['top5']:.5f} "
                    f"lr: {cur_lr:.6g} batch_cost: {avg_cost:.4f} s reader_cost: "
                    f"{window.mean('reader_cost'):.4f} s ips: {ips:.3f} clips/s ETA: {format_eta(eta)}")
                vdl.scalars("train", global_step, lr=cur_lr, ips=ips, **values)
                window = Averager()
            tic = time.time()
            if done >= total_iters:
                break
        epochs_run += 1
        if not lr.by_iteration:
            lr.step()
        n = stats.counts.get("loss", 0)
        logger.info(
            f"END epoch:{epoch} train loss_avg: {stats.mean('loss'):.5f} top1_avg: {stats.mean('top1'):.5f} "
            f"top5_avg: {stats.mean('top5'):.5f} avg_batch_cost: {stats.mean('batch_cost'):.4f} s "
            f"avg_reader_cost: {stats.mean('reader_cost'):.4f} s iters: {n} "
            f"avg_ips: {bs / max(stats.mean('batch_cost'), 1e-9):.3f} clips/s")
        curves.add_epoch(epoch, stats.mean("loss"), stats.mean("top1"), cur_lr)
        report = epoch_report(train_ds, epoch)
        if report:
            logger.warning(report)
        check_bad_fraction(train_ds)

        if val_loader is not None and epoch % val_interval == 0:
            val_loader.dataset.reset_bad_samples()
            res = evaluate(raw_model, val_loader)
            report = epoch_report(val_loader.dataset, epoch)
            if report:
                logger.warning("valid " + report)
            vdl.scalars("val", epoch, loss=res["loss"], top1=res["top1"], top5=res["top5"])
            curves.add_val(epoch, res["loss"], res["top1"])
            curves.save()
            improved = best is None or res["top1"] > best
            logger.info(f"[VALID] epoch:{epoch} loss: {res['loss']:.5f} top1: {res['top1']:.5f} "
                        f"top5: {res['top5']:.5f} over {res['count']} clips"
                        + (" (best so far)" if improved else f" (best {best:.5f})"))
            if improved:
                best = res["top1"]
                best_weights = best_path
                if dist.is_main():
                    atomic_save(raw_model.state_dict(), best_path)
        if epoch % save_interval == 0:
            prefix = checkpoint_prefix(out_dir, name, epoch)
            last_weights = prefix + ".pdparams"
            if dist.is_main():
                save_checkpoint(prefix, raw_model, optimizer, epoch, best,
                                {"global_step": global_step, "seed": seed})
                logger.info(f"saved {prefix}.pdparams/.pdopt/.pdstate")
        dist.barrier()
    vdl.close()
    if curves.save():
        logger.info(f"training curves: {curves.png_path}")
    if validate and best is not None:
        logger.info(f"best val top1: {best:.5f}")
    logger.info(f"training done: {epochs_run} epochs, {done} iterations, {time.time() - train_start:.1f} s")
    return {"best_top1": best, "epochs_run": epochs_run, "iters": done, "output": out_dir, "model": raw_model,
            "best_weights": best_weights, "last_weights": last_weights}
