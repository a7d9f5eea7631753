"""build_dataloader: seeded shuffling and augmentation, reproducible across runs and worker counts."""
import numpy as np
import pytest

from _dataset_media import write_frames, write_text
from paddlevideo_tsm.loader.dataloader import EpochSampler, build_dataloader
from paddlevideo_tsm.loader.datasets import VideoDataset, build_dataset


class RandomValues:
    """Stub pipeline: imgs [2,1,1,1] = (label, one draw from results['rng'] or the global RNG)."""

    def __call__(self, results):
        rng = results.get("rng")
        draw = rng.random() if rng is not None else np.random.random()
        results["imgs"] = np.array([results["labels"], draw], np.float32).reshape(2, 1, 1, 1)
        return results


def _dataset(tmp_path, n=10):
    lst = write_text(tmp_path / "v.txt", "".join(f"c{i}.avi {i}\n" for i in range(n)))
    return VideoDataset(lst, RandomValues())


def _epochs(loader, epochs=(0, 1)):
    out = []
    for e in epochs:
        loader.set_epoch(e)
        out.append([[t.numpy() for t in batch] for batch in loader])
    return out


def _flat(run):
    return [np.concatenate([b[k] for b in epoch]) for epoch in run for k in range(2)]


def test_shuffle_order_is_the_seeded_permutation(tmp_path):
    ds = _dataset(tmp_path)
    loader = build_dataloader(ds, batch_size=3, shuffle=True, seed=7)
    run = _epochs(loader)
    for epoch, batches in enumerate(run):
        labels = np.concatenate([b[1].ravel() for b in batches])
        np.testing.assert_array_equal(labels, np.random.default_rng([7, epoch]).permutation(10))
        assert [len(b[1]) for b in batches] == [3, 3, 3, 1]
        # augmentation draws come from Generator(seed, epoch, index)
        draws = np.concatenate([b[0][:, 1].ravel() for b in batches])
        np.testing.assert_allclose(draws, [np.random.default_rng([7, epoch, i]).random() for i in labels],
                                   rtol=1e-6)
    drop = build_dataloader(ds, batch_size=3, shuffle=True, seed=7, drop_last=True)
    assert len(list(drop)) == 3


@pytest.mark.parametrize("num_workers", [0, 2])
def test_fixed_seed_reproduces_batches(tmp_path, num_workers):
    ds = _dataset(tmp_path)
    first = _flat(_epochs(build_dataloader(ds, 4, num_workers=num_workers, shuffle=True, seed=3)))
    second = _flat(_epochs(build_dataloader(ds, 4, num_workers=num_workers, shuffle=True, seed=3)))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # epochs differ in order and draws; another seed differs too
    assert not np.array_equal(first[0], first[2]) and not np.array_equal(first[1], first[3])
    other = _flat(_epochs(build_dataloader(ds, 4, num_workers=num_workers, shuffle=True, seed=4)))
    assert not np.array_equal(first[0], other[0])


def test_worker_count_does_not_change_batches(tmp_path):
    ds = _dataset(tmp_path)
    zero = _flat(_epochs(build_dataloader(ds, 4, num_workers=0, shuffle=True, seed=11)))
    two = _flat(_epochs(build_dataloader(ds, 4, num_workers=2, shuffle=True, seed=11)))
    for a, b in zip(zero, two):
        np.testing.assert_array_equal(a, b)


def test_distributed_ranks_split_the_data(tmp_path):
    ds = _dataset(tmp_path, n=9)
    seen = []
    for rank in range(2):
        loader = build_dataloader(ds, 2, shuffle=True, seed=0, world_size=2, rank=rank)
        loader.set_epoch(1)
        seen.append(np.concatenate([b[1].numpy().ravel() for b in loader]))
    # paddle pads the 9 samples to 10 so both ranks get 5
    assert [len(s) for s in seen] == [5, 5]
    assert set(np.concatenate(seen).tolist()) == set(range(9))


def test_epoch_sampler_without_shuffle_and_unseeded():
    assert list(EpochSampler(4)) == [0, 1, 2, 3]
    s = EpochSampler(50, shuffle=True)
    assert sorted(s) == list(range(50)) and len(s) == 50


def test_real_train_pipeline_reproducible_with_workers(tmp_path):
    root = tmp_path / "f"
    for i in range(4):
        write_frames(root / f"v{i}", 12, h=40, w=48, seed=i)
    lst = write_text(tmp_path / "f.txt", "".join(f"v{i} 12 {i}\n" for i in range(4)))
    pipe = {"decode": {"name": "FrameDecoder"},
            "sample": {"name": "Sampler", "num_seg": 4, "seg_len": 1, "valid_mode": False},
            "transform": [{"Scale": {"short_size": 40}}, {"MultiScaleCrop": {"target_size": 40}},
                          {"RandomCrop": {"target_size": 32}}, {"RandomFlip": None}, {"Image2Array": None},
                          {"Normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]}
    ds = build_dataset({"format": "FrameDataset", "file_path": lst, "data_prefix": str(root)}, pipe)
    runs = [_flat(_epochs(build_dataloader(ds, 2, num_workers=w, shuffle=True, seed=5), (0, 1)))
            for w in (0, 2, 2)]
    assert runs[0][0].shape == (4, 4, 3, 32, 32)
    for run in runs[1:]:
        for a, b in zip(runs[0], run):
            np.testing.assert_array_equal(a, b)
    # the same sample in two epochs gets other augmentations (frames, crops, flips)
    by_label = [dict(zip(run_labels.ravel().tolist(), imgs)) for imgs, run_labels in
                [(runs[0][0], runs[0][1]), (runs[0][2], runs[0][3])]]
    assert any(not np.array_equal(by_label[0][k], by_label[1][k]) for k in range(4))
