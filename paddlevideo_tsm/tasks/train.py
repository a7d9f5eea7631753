"""The training loop: epochs of iterations, logging, validation, checkpoints, resume, VisualDL."""
import contextlib
import datetime
import os
import time

import numpy as np
import paddle

from .. import errors
from ..errors import CheckpointError, ConfigError, UserError
from ..loader.bad_samples import check_bad_fraction, epoch_report
from ..metrics.scores import topk_correct
from ..modeling import load_pretrained
from ..modeling.sync_bn import setup_batch_norm
from ..solver import build_lr, build_optimizer, build_weight_decay, lr_batch_scale, trainable_summary
from ..utils import dist
from .amp import gpu_place_in_use, setup_amp
from .checkpoint import (checkpoint_prefix, find_latest, load_training_state, read_training_state,
                         remove_cut_checkpoints_before, resolve_prefix, save_checkpoint, save_or_fail,
                         write_training_state)
from .effective_batch import (EffectiveBatch, accumulation_steps, batch_line, check_resume_layout,
                              epoch_iterations, stop_iterations)
from .run_folder import (RUN_FILE, check_free_space, claim_output, new_run_id, read_run_id,
                         refuse_foreign_results, write_run_id)
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


class DataParallelTrainStep(paddle.nn.Layer):
    """``recognizer.train_step`` as a Layer's forward, so that paddle.DataParallel sees the forward
    pass and all-reduces the gradients of every rank."""

    def __init__(self, recognizer):
        super().__init__()
        self.recognizer = recognizer

    def forward(self, imgs, labels):
        return self.recognizer.train_step([imgs, labels])


def train_step_fn(recognizer, world):
    """-> (step: batch -> recognizer.train_step(batch), no_sync: a context in which a backward keeps
    its gradients on this rank). Through paddle.DataParallel when ``world`` > 1, which all-reduces
    (averages) the gradients of every rank at each backward outside ``no_sync``."""
    if world == 1:
        return recognizer.train_step, contextlib.nullcontext
    parallel = paddle.DataParallel(DataParallelTrainStep(recognizer))
    return (lambda batch: parallel(batch[0], batch[1])), parallel.no_sync


def train_one_step(step, optimizer, batch, amp, accum_steps=1, update=True, no_sync=contextlib.nullcontext):
    """``step(batch)`` (forward + loss: {'loss', 'top1', 'top5'}) and backward of loss / accum_steps, so
    that the gradients summed over ``accum_steps`` batches are their mean; with ``update`` the
    optimizer steps on them and clears them -> the outputs (the batch's own loss). Without
    ``update`` the gradients stay on this rank (``no_sync``): they are all-reduced with the last batch."""
    with contextlib.nullcontext() if update else no_sync():
        with amp.autocast():
            outputs = step(batch)
        loss = outputs["loss"] / accum_steps if accum_steps > 1 else outputs["loss"]
        if amp.scaler is not None:
            amp.scaler.scale(loss).backward()
        else:
            loss.backward()
    if not update:
        return outputs
    if amp.scaler is not None:
        amp.scaler.step(optimizer)
        amp.scaler.update()
    else:
        optimizer.step()
    optimizer.clear_grad(set_to_zero=False)  # free the gradients between steps instead of zeroing them
    return outputs


@paddle.no_grad()
def evaluate(raw_model, loader):
    """Whole-set loss/top1/top5 over every rank's share of a test-mode loader (items: views, label,
    index), each clip counted once; clips that failed to load (label < 0) are left out and counted
    -> {'loss', 'top1', 'top5' (nan when no clip loaded), 'count', 'failed'}."""
    raw_model.eval()
    rows = []
    for batch in loader:
        labels = batch[1].numpy().reshape(-1)
        loaded = labels >= 0
        safe = np.where(loaded, labels, 0)  # a failed clip's loss is computed, then dropped
        out = raw_model.val_step([batch[0], paddle.to_tensor(safe.reshape(-1, 1))])
        s = out["scores"].numpy()
        rows.append(np.stack([batch[2].numpy().reshape(-1).astype(np.float64), loaded, out["loss"].numpy(),
                              topk_correct(s, safe, 1), topk_correct(s, safe, 5)], axis=1))
    local = np.concatenate(rows, axis=0) if rows else np.zeros((0, 5))
    merged = dist.all_gather_rows(local)
    _, first = np.unique(merged[:, 0], return_index=True)  # a distributed sampler repeats samples to pad
    merged = merged[first]
    good = merged[merged[:, 1] > 0]
    raw_model.train()
    mean = (lambda col: float(good[:, col].mean())) if len(good) else (lambda col: float("nan"))
    return {"loss": mean(2), "top1": mean(3), "top5": mean(4), "count": int(len(good)),
            "failed": int(len(merged) - len(good))}


def log_parameter_groups(logger, model, opt_cfg):
    """One line: how many parameters get weight decay, and which get an lr multiplier."""
    decay = build_weight_decay(opt_cfg.get("weight_decay"))
    names = {p.name: n for n, p in model.named_parameters()}
    groups = trainable_summary(model.parameters(), decay)
    decayed = sum(1 for _, c, _ in groups if c > 0)
    mults = ", ".join(f"{names.get(n, n)} x{m:g}" for n, _, m in groups if m != 1.0)
    logger.info(f"optimizer {opt_cfg.get('name')}: {decayed} of {len(groups)} trainable tensors with L2 "
                f"{decay._coeff if decay else 0:g}, the rest (BN, fc bias) without; lr multipliers: {mults or 'none'}")


def choose_resume(resume, out_dir, model_name, logger):
    """-> (checkpoint prefix to resume or None, run id), as rank 0 decides them (on several nodes each
    node may have an output folder of its own); every rank must be able to read that checkpoint."""
    decision = None
    if dist.is_main():
        try:
            prefix, run_id = _choose_resume(resume, out_dir, model_name, logger)
            decision = {"prefix": prefix, "run_id": run_id}
        except UserError as e:  # raised on every rank, which all wait for the decision
            decision = {"error": type(e).__name__, "message": str(e)}
    decision = dist.broadcast_json(decision)
    if "error" in decision:
        raise getattr(errors, decision["error"], UserError)(decision["message"])
    prefix = decision["prefix"]
    if prefix is not None:
        blind = dist.ranks_where(not os.path.isfile(prefix + ".pdstate"))
        if blind:
            raise CheckpointError(f"{prefix}.pdstate: rank {', '.join(map(str, blind))} cannot read it (--resume); "
                                  f"to resume on several nodes, --output must be one folder every node shares")
    return prefix, decision["run_id"]


def _choose_resume(resume, out_dir, model_name, logger):
    """choose_resume's decision on rank 0. A fresh start needs a folder without another run's
    results; a resume continues the run of its checkpoint, which must be the folder's run."""
    if not resume:
        refuse_foreign_results(out_dir, model_name, "and this run starts afresh (no --resume)")
        return None, new_run_id()
    folder_run = read_run_id(out_dir)
    if resume == "auto":
        prefix = find_latest(out_dir, model_name)
        if prefix is None:
            logger.info(f"--resume auto: no complete checkpoint of {model_name} in {out_dir}, starting from epoch 1")
            return None, folder_run or new_run_id()
    else:
        prefix = resolve_prefix(resume)
        if not os.path.exists(prefix + ".pdstate"):
            raise CheckpointError(f"{prefix}.pdstate: checkpoint not found or incomplete (--resume)")
    run_id = read_training_state(prefix + ".pdstate").get("run_id")
    if folder_run is not None and run_id != folder_run:
        raise CheckpointError(f"{prefix}.pdstate: belongs to run {run_id}, but {out_dir} holds run {folder_run} "
                              f"({RUN_FILE}); resume that run's checkpoint, or use another --output")
    return prefix, run_id or new_run_id()


def state_bytes(model):
    """Bytes of ``model``'s parameters and buffers: the size of its .pdparams, about."""
    return sum(int(np.prod(t.shape)) * t.element_size() for t in model.state_dict().values())


def train_model(cfg, weights=None, validate=False, amp=False, amp_level="O1", max_iters=None,
                output=None, resume=None, use_visualdl=False, seed=None, gpu_available=None):
    """Train ``cfg``'s model; returns {'best_top1', 'epochs_run', 'iters', 'output', 'model',
    'best_weights', 'last_weights'} (the weights are .pdparams paths, None when not written).

    The output folder is checked for writing and held (rank 0) before anything else is built.
    """
    logger, world, rank, seed = setup_runtime(cfg, seed)
    out_dir = output_dir(cfg, output)
    with claim_output(out_dir, logger) if dist.is_main() else contextlib.nullcontext():
        return _train(cfg, out_dir, logger, world, seed, weights, validate, amp, amp_level, max_iters,
                      resume, use_visualdl, gpu_available)


def _train(cfg, out_dir, logger, world, seed, weights, validate, amp, amp_level, max_iters, resume,
           use_visualdl, gpu_available):
    """train_model's work once the output folder is held (arguments as train_model's)."""
    name = cfg["model_name"]
    epochs = int(cfg.get("epochs", 1))
    log_interval = int(cfg.get("log_interval", 10))
    save_interval = int(cfg.get("save_interval", 1))
    val_interval = int(cfg.get("val_interval", 1))
    resume_prefix, run_id = choose_resume(resume, out_dir, name, logger)

    model = build_model_checked(cfg)
    if weights:
        load_pretrained(model, weights)
    if dist.is_main():
        check_free_space(out_dir, state_bytes(model))

    build_dataset, build_dataloader = data_api()
    num_workers = int(cfg["DATASET"].get("num_workers", 0))
    train_ds = build_dataset(*dataset_section(cfg, "train"))
    bs = batch_size(cfg, "train")
    accum = accumulation_steps(cfg, bs, world)
    effective = EffectiveBatch(bs, world, accum)
    train_loader = build_dataloader(train_ds, bs, num_workers=num_workers, shuffle=True,
                                    drop_last=True, seed=seed)
    iters_per_epoch, left_out = epoch_iterations(len(train_loader), accum)  # iterations per process
    if iters_per_epoch == 0:
        raise ConfigError(f"{train_ds.file_path}: {len(train_ds)} samples give no full effective batch of "
                          f"{effective.describe()}")
    if left_out:
        logger.info(f"accum_steps {accum}: an epoch uses {iters_per_epoch} of its {len(train_loader)} batches "
                    f"per process, {iters_per_epoch // accum} optimizer steps (the rest cannot fill a step)")
    val_loader = None
    if validate:
        # test mode: a clip that fails to load is left out of the metric and counted, never replaced
        val_ds = build_dataset(*dataset_section(cfg, "valid"), test_mode=True, num_clips=1, max_bad_fraction=None)
        val_loader = build_dataloader(val_ds, batch_size(cfg, "valid"), num_workers=num_workers,
                                      shuffle=False, drop_last=False, seed=seed)

    setup_batch_norm(model, cfg["MODEL"], bs, world, gpu_place_in_use(), logger)
    opt_cfg = require(cfg, "OPTIMIZER")
    scale = lr_batch_scale(opt_cfg, effective.total)
    lr = build_lr(opt_cfg.get("learning_rate"), iters_per_epoch // accum, scale)
    optimizer = build_optimizer(opt_cfg, lr, model.parameters())
    log_parameter_groups(logger, model, opt_cfg)
    logger.info(batch_line(opt_cfg, effective, scale))
    amp_kwargs = {} if gpu_available is None else {"gpu_available": gpu_available}
    model, optimizer, amp_state = setup_amp(model, optimizer, amp or bool(cfg.get("amp")),
                                            amp_level or cfg.get("amp_level") or "O1", logger, **amp_kwargs)

    start_epoch, skip, best = 1, 0, None
    best_path = os.path.join(out_dir, f"{name}_best.pdparams")
    best_weights = last_weights = None
    if resume_prefix is not None:
        state = load_training_state(resume_prefix, model, optimizer)
        changed = check_resume_layout(state, resume_prefix, effective)
        start_epoch, skip, best = state["epoch"] + 1, int(state["iters"]), state.get("best")
        # the schedule's position in this run's optimizer steps (a checkpoint of another layout counted others)
        steps_done = (start_epoch - 1) * (iters_per_epoch // accum) + skip // accum
        lr.last_epoch = steps_done if lr.by_iteration else start_epoch - 1
        lr.last_lr = lr.get_lr()
        if changed:
            logger.info(changed)
        last_weights = resume_prefix + ".pdparams"
        if best is not None and os.path.isfile(best_path):
            best_weights = best_path  # the run before the resume wrote it
        where = f"epoch {start_epoch}" + (f" after its iteration {skip}" if skip else "")
        logger.info(f"resumed from {resume_prefix} (run {run_id}); continuing at {where}")

    from ..visual.curves import TrainingCurves
    curves = TrainingCurves(out_dir, start_epoch, dist.is_main(), logger)
    if dist.is_main():
        write_run_id(out_dir, run_id, name)
    step, no_sync = train_step_fn(model, world)
    vdl = VdlWriter(os.path.join(out_dir, "vdl"), use_visualdl or bool(cfg.get("use_visualdl")))
    total_iters = iters_per_epoch * (epochs - start_epoch + 1) - skip
    if max_iters:
        stop = stop_iterations(max_iters, accum)
        if stop != int(max_iters):
            logger.info(f"--max_iters {max_iters} rounded up to {stop}: a stop falls on an optimizer step "
                        f"(accum_steps {accum})")
        total_iters = min(total_iters, stop)
    done, epochs_run = 0, 0
    global_step = (start_epoch - 1) * iters_per_epoch + skip
    train_start = time.time()
    model.train()

    for epoch in range(start_epoch, epochs + 1):
        if done >= total_iters:
            break
        it = skip if epoch == start_epoch else 0  # iterations of this epoch done so far
        train_loader.set_epoch(epoch, first_batch=it)
        train_ds.reset_bad_samples()
        stats, window = Averager(), Averager()
        tic = time.time()
        for batch in train_loader:
            reader_cost = time.time() - tic
            update = (it + 1) % accum == 0
            outputs = train_one_step(step, optimizer, batch, amp_state, accum, update, no_sync)
            cur_lr = optimizer.get_lr()
            if update and lr.by_iteration:
                lr.step()
            values = {k: v.item() for k, v in outputs.items()}
            batch_cost = time.time() - tic
            done += 1
            it += 1
            global_step += 1
            stats.add(batch_cost=batch_cost, reader_cost=reader_cost, **values)
            window.add(batch_cost=batch_cost, reader_cost=reader_cost)
            if it % log_interval == 0 or it == iters_per_epoch or done == total_iters:
                avg_cost = window.mean("batch_cost")
                ips = bs / avg_cost if avg_cost > 0 else 0.0
                eta = (total_iters - done) * stats.mean("batch_cost")
                logger.info(
                    f"epoch:[{epoch:3d}/{epochs}] train iter:{it}/{iters_per_epoch} "
                    f"loss: {values['loss']:.5f} top1: {values['top1']:.5f} top5: {values['top5']:.5f} "
                    f"lr: {cur_lr:.6g} batch_cost: {avg_cost:.4f} s reader_cost: "
                    f"{window.mean('reader_cost'):.4f} s ips: {ips:.3f} clips/s ETA: {format_eta(eta)}")
                vdl.scalars("train", global_step, lr=cur_lr, ips=ips, **values)
                window = Averager()
            tic = time.time()
            if done >= total_iters or it == iters_per_epoch:
                break
        epochs_run += 1
        complete = it == iters_per_epoch
        if complete and not lr.by_iteration:
            lr.step()
        n = stats.counts.get("loss", 0)
        logger.info(
            f"END epoch:{epoch} train loss_avg: {stats.mean('loss'):.5f} top1_avg: {stats.mean('top1'):.5f} "
            f"top5_avg: {stats.mean('top5'):.5f} avg_batch_cost: {stats.mean('batch_cost'):.4f} s "
            f"avg_reader_cost: {stats.mean('reader_cost'):.4f} s iters: {n} "
            f"avg_ips: {bs / max(stats.mean('batch_cost'), 1e-9):.3f} clips/s"
            + ("" if complete else f" (stopped by --max_iters after iteration {it} of {iters_per_epoch}; "
                                   f"--resume continues this epoch)"))
        curves.add_epoch(epoch, stats.mean("loss"), stats.mean("top1"), cur_lr)
        report = epoch_report(train_ds, epoch)
        if report:
            logger.warning(report)
        check_bad_fraction(train_ds)

        # saved before validating: a failing validation cannot lose the epoch; a run stopped by
        # --max_iters saves where it stopped, inside an epoch under a name of its own
        stopped = done >= total_iters and (epoch < epochs or not complete)
        prefix = None
        if epoch % save_interval == 0 or stopped:
            prefix = checkpoint_prefix(out_dir, name, epoch, 0 if complete else it)
            saved_epoch = epoch if complete else epoch - 1  # complete epochs in the checkpoint
            progress = {"iters": 0 if complete else it, "run_id": run_id, "model_name": name,
                        "global_step": global_step, "seed": seed, "layout": effective.layout()}
            last_weights = prefix + ".pdparams"
            if dist.is_main():
                save_checkpoint(prefix, model, optimizer, saved_epoch, best, progress)
                remove_cut_checkpoints_before(prefix)
                logger.info(f"saved {prefix}.pdparams/.pdopt/.pdstate")

        if val_loader is not None and epoch % val_interval == 0:
            res = evaluate(model, val_loader)
            report = epoch_report(val_loader.dataset, epoch)
            if report:
                logger.warning("valid " + report)
            vdl.scalars("val", epoch, loss=res["loss"], top1=res["top1"], top5=res["top5"])
            curves.add_val(epoch, res["loss"], res["top1"])
            curves.save()
            improved = res["count"] > 0 and (best is None or res["top1"] > best)
            failed = f", {res['failed']} failed to load and counted out" if res["failed"] else ""
            logger.info(f"[VALID] epoch:{epoch} loss: {res['loss']:.5f} top1: {res['top1']:.5f} "
                        f"top5: {res['top5']:.5f} over {res['count']} clips{failed}"
                        + (" (best so far)" if improved else f" (best {best:.5f})" if best is not None else ""))
            if improved:
                best = res["top1"]
                best_weights = best_path
                if dist.is_main():
                    save_or_fail(model.state_dict(), best_path)
            if prefix is not None and dist.is_main():
                write_training_state(prefix, dict(progress, epoch=saved_epoch, best=best))  # RNGs as after validation
        dist.barrier()
    vdl.close()
    if curves.save():
        logger.info(f"training curves: {curves.png_path}")
    if validate and best is not None:
        logger.info(f"best val top1: {best:.5f}")
    logger.info(f"training done: {epochs_run} epochs, {done} iterations, {time.time() - train_start:.1f} s")
    return {"best_top1": best, "epochs_run": epochs_run, "iters": done, "output": out_dir, "model": model,
            "best_weights": best_weights, "last_weights": last_weights}
