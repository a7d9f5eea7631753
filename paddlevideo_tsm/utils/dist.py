"""Process-group helpers that also work in a single process (world size 1: no communication)."""
import json

import numpy as np
import paddle
import paddle.distributed as dist


def world_size():
    return dist.get_world_size()


def rank():
    return dist.get_rank()


def is_main():
    return dist.get_rank() == 0


def init_if_launched():
    """init_parallel_env() when started by paddle.distributed.launch with several ranks; returns world size."""
    if dist.get_world_size() > 1 and not dist.is_initialized():
        dist.init_parallel_env()
    return dist.get_world_size()


def all_reduce_sum(values):
    """Sum a list of floats over all ranks -> list of floats (identity in one process)."""
    if dist.get_world_size() == 1:
        return [float(v) for v in values]
    t = paddle.to_tensor(np.asarray(values, dtype=np.float64))
    dist.all_reduce(t)
    return t.numpy().tolist()


def all_gather_rows(array):
    """Concatenate ``array`` [n_r, ...] of every rank along axis 0 (ranks may hold different n_r)."""
    array = np.asarray(array)
    n = dist.get_world_size()
    if n == 1:
        return array
    counts = []
    dist.all_gather(counts, paddle.to_tensor(np.array([array.shape[0]], dtype=np.int64)))
    counts = [int(c.numpy()[0]) for c in counts]
    if max(counts) == 0:
        return array
    padded = np.zeros((max(counts),) + array.shape[1:], dtype=array.dtype)
    padded[: array.shape[0]] = array
    parts = []
    dist.all_gather(parts, paddle.to_tensor(padded))
    return np.concatenate([p.numpy()[:c] for p, c in zip(parts, counts)], axis=0)


def barrier():
    if dist.get_world_size() > 1:
        dist.barrier()


def broadcast_json(obj):
    """Rank 0's ``obj`` (JSON values; the other ranks' argument is ignored) on every rank."""
    if dist.get_world_size() == 1:
        return obj
    mine = json.dumps(obj).encode("utf-8") if is_main() else b""
    return json.loads(all_gather_rows(np.frombuffer(mine, dtype=np.uint8)).tobytes().decode("utf-8"))


def ranks_where(flag):
    """The ranks on which ``flag`` is true (every rank calls it), sorted."""
    mine = np.array([rank()] if flag else [], dtype=np.int64)
    return sorted(int(r) for r in all_gather_rows(mine))
