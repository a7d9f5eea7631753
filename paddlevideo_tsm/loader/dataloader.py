"""paddle.io.DataLoader with epoch-seeded shuffling, seeded workers that die with their parent,
per-sample RNGs, and an epoch that can start at a given batch (a resumed mid-epoch checkpoint)."""
import itertools
import os
import random

import numpy as np
import paddle
from paddle.io.dataloader.collate import default_collate_fn

from ..errors import BadDataLimitError, DataError, ListFileError
from ..utils.processes import die_with_parent

# errors a dataset may raise in a worker, re-raised by type in the main process
_ERRORS_BY_NAME = {e.__name__: e for e in (DataError, BadDataLimitError, ListFileError, ValueError,
                                            KeyError, TypeError, IndexError, OSError)}


def _to_tensors(batch):
    """Collated numpy arrays (nested in lists/tuples/dicts) -> paddle Tensors, like DataLoader does."""
    if isinstance(batch, np.ndarray):
        return paddle.to_tensor(batch)
    if isinstance(batch, (list, tuple)):
        return [_to_tensors(b) for b in batch]
    if isinstance(batch, dict):
        return {k: _to_tensors(v) for k, v in batch.items()}
    return batch


class EpochSampler(paddle.io.Sampler):
    """Indices 0..n-1, shuffled per epoch from (seed, epoch) when ``shuffle``; fresh randomness if seed is None."""

    def __init__(self, num_samples, shuffle=False, seed=None):
        super().__init__()
        self.num_samples = int(num_samples)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __iter__(self):
        if not self.shuffle:
            return iter(range(self.num_samples))
        rng = np.random.default_rng(None if self.seed is None else [int(self.seed), self.epoch])
        return iter(rng.permutation(self.num_samples).tolist())

    def __len__(self):
        return self.num_samples


class RankBatchSampler(paddle.io.BatchSampler):
    """Rank ``rank``'s batches when ``world`` processes train together: the run's step t takes the
    samples a single process with batch ``batch_size x world`` would take at step t (the
    EpochSampler order, cut into whole steps; an incomplete last step is dropped), and rank r reads
    its slice ``[r * batch_size, (r + 1) * batch_size)`` of them. So how the batch is split over
    processes does not change which samples form a step."""

    def __init__(self, num_samples, batch_size, world, rank, shuffle=True, seed=None):
        super().__init__(sampler=EpochSampler(num_samples, shuffle=shuffle, seed=seed), batch_size=batch_size,
                         drop_last=True)
        self.world, self.rank = int(world), int(rank)

    def __iter__(self):
        order = list(self.sampler)
        step = self.batch_size * self.world
        for t in range(len(self)):
            start = t * step + self.rank * self.batch_size
            yield order[start:start + self.batch_size]

    def __len__(self):
        return len(self.sampler) // (self.batch_size * self.world)


class WorkerInit:
    """worker_init_fn: ties worker ``worker_id`` to the process that built the loader (killed with
    it, even by SIGKILL), then seeds numpy/random/paddle from (seed, epoch, worker_id).

    The seeds cover code that uses the global RNGs; the datasets' own per-sample Generators do
    not depend on the worker, so batches are equal for any ``num_workers``.
    """

    def __init__(self, dataset, seed):
        self.dataset = dataset
        self.seed = seed
        self.parent_pid = os.getpid()

    def __call__(self, worker_id):
        die_with_parent(self.parent_pid)
        if self.seed is None:
            return
        epoch = getattr(self.dataset, "epoch", 0)
        state = np.random.SeedSequence([int(self.seed), int(epoch), int(worker_id)]).generate_state(1)[0]
        np.random.seed(int(state))
        random.seed(int(state))
        paddle.seed(int(state))


class _BatchesFrom:
    """A batch sampler's batches from number ``first`` on (the ones before are not read)."""

    def __init__(self, batch_sampler, first):
        self.batch_sampler, self.first = batch_sampler, int(first)

    def __iter__(self):
        return itertools.islice(iter(self.batch_sampler), self.first, None)

    def __len__(self):
        return max(0, len(self.batch_sampler) - self.first)


class EpochDataLoader(paddle.io.DataLoader):
    """A DataLoader with ``set_epoch(epoch, first_batch=0)`` (reshuffle, reseed, and start the
    epoch's iteration at batch ``first_batch``; call it before each epoch). ``len()`` stays the
    whole epoch's batch count.

    Errors keep their type and message: paddle 3.3.1 hangs when a dataset raises with
    num_workers=0 (its reader thread dies) and turns a worker's exception into "Blocking
    queue is killed". So with 0 workers batches are read in this process, and with workers
    the dataset's recorded error (``dataset.fatal_error()``) is raised again.
    """

    first_batch = 0

    def _batches(self):
        return _BatchesFrom(self.batch_sampler, self.first_batch) if self.first_batch else self.batch_sampler

    def __iter__(self):
        if self.num_workers == 0:
            return self._iter_in_process()
        return self._iter_workers()

    def _iter_in_process(self):
        collate = self.collate_fn or default_collate_fn
        for indices in self._batches():
            batch = collate([self.dataset[i] for i in indices])
            yield _to_tensors(batch)

    def _iter_workers(self):
        whole = self.batch_sampler
        self.batch_sampler = self._batches()  # paddle's iterator reads it once, when it is made
        try:
            batches = super().__iter__()
        finally:
            self.batch_sampler = whole
        try:
            yield from batches
        except Exception:
            # stop the workers now: a traceback that keeps the iterator alive made the
            # interpreter hang at exit waiting for them
            _shutdown(batches)
            recorded = self.dataset.fatal_error() if hasattr(self.dataset, "fatal_error") else None
            if recorded is None:
                raise
            name, message = recorded
            raise _ERRORS_BY_NAME.get(name, RuntimeError)(message) from None
        finally:
            if not self._persistent_workers:
                _shutdown(batches)

    def set_epoch(self, epoch, first_batch=0):
        """Pass ``epoch`` to the batch sampler (shuffle order) and the dataset (per-sample seeds);
        the epoch's iteration starts at batch ``first_batch`` of that order."""
        self.epoch = int(epoch)
        self.first_batch = int(first_batch)
        sampler = getattr(self.batch_sampler, "sampler", None)
        for obj in (self.batch_sampler, sampler, self.dataset):
            if obj is not None and hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)


def _shutdown(batches):
    """Stop a paddle multi-process iterator's workers and reader thread (no-op once done)."""
    stop = getattr(batches, "_try_shutdown_all", None)
    if stop is not None:
        stop(5)


def build_dataloader(dataset, batch_size, num_workers=0, shuffle=False, drop_last=False, seed=None,
                     use_shared_memory=True, world_size=None, rank=None, collate_fn=None):
    """Wrap ``dataset`` in an EpochDataLoader yielding lists of batched tensors.

    With ``world_size`` (default paddle.distributed.get_world_size()) > 1 each rank reads its
    share: training (``drop_last``) through RankBatchSampler, the one-process order split by rank;
    evaluation through paddle.io.DistributedBatchSampler (which pads with repeats). Otherwise an
    EpochSampler seeded by (seed, epoch). ``seed`` is also handed to the dataset
    (``dataset.seed``) so each sample gets its own numpy Generator in results['rng'].
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if world_size is None:
        world_size = paddle.distributed.get_world_size()
    if rank is None:
        rank = paddle.distributed.get_rank()
    if seed is not None and hasattr(dataset, "seed"):
        dataset.seed = seed
    if world_size > 1 and drop_last:
        batch_sampler = RankBatchSampler(len(dataset), batch_size, world_size, rank, shuffle=shuffle, seed=seed)
    elif world_size > 1:
        batch_sampler = paddle.io.DistributedBatchSampler(
            dataset, batch_size=batch_size, num_replicas=world_size, rank=rank,
            shuffle=shuffle, drop_last=drop_last)
    else:
        batch_sampler = paddle.io.BatchSampler(
            sampler=EpochSampler(len(dataset), shuffle=shuffle, seed=seed),
            batch_size=batch_size, drop_last=drop_last)
    return EpochDataLoader(
        dataset, batch_sampler=batch_sampler, num_workers=num_workers,
        use_shared_memory=use_shared_memory, collate_fn=collate_fn, return_list=True,
        worker_init_fn=WorkerInit(dataset, seed) if num_workers > 0 else None)
