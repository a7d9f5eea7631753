"""Resume equivalence: 2 epochs straight == 1 epoch, stop, --resume auto, 1 more epoch (main.py runs).

(A missing --resume checkpoint is checked with the other user errors in test_main_smoke.py.)
"""
import numpy as np
import paddle
import pytest

from _tiny_training import make_demo, run_main, tiny_config, write_config


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("demo"))


def test_stop_and_resume_gives_identical_weights(demo, tmp_path):
    # dropout, random crops/flips and shuffling all draw random numbers: the resumed run must restore them
    cfg = write_config(tmp_path / "tiny.yaml", tiny_config(demo, epochs=2, drop_ratio=0.5))
    straight = run_main("-c", cfg, "--output", tmp_path / "straight", "--seed", 3)
    assert straight.returncode == 0, straight.stderr[-2000:]

    first = run_main("-c", cfg, "--output", tmp_path / "split", "--seed", 3, "--max_iters", 4)
    assert first.returncode == 0, first.stderr[-2000:]
    assert not (tmp_path / "split" / "tiny_tsm_epoch_00002.pdparams").exists()
    second = run_main("-c", cfg, "--output", tmp_path / "split", "--seed", 3, "--resume", "auto")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "continuing at epoch 2" in second.stdout
    assert "epoch:[  1/2]" not in second.stdout

    a = paddle.load(str(tmp_path / "straight" / "tiny_tsm_epoch_00002.pdparams"))
    b = paddle.load(str(tmp_path / "split" / "tiny_tsm_epoch_00002.pdparams"))
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)
    # and training did move the weights (the comparison is not between two untouched inits)
    e1 = paddle.load(str(tmp_path / "split" / "tiny_tsm_epoch_00001.pdparams"))
    assert not np.array_equal(e1["head.fc.weight"].numpy(), a["head.fc.weight"].numpy())

