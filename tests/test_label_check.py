"""Labels of every list file are checked against MODEL.head.num_classes at start (issue 13 item 6)."""
import copy

import paddle
import pytest

import main as main_py
from _tiny_training import tiny_config, write_config
from paddlevideo_tsm.errors import ListFileError


def lists(tmp_path, bad_split, bad_label=8):
    """Frame lists train/val/test of 3 lines each; line 2 of ``bad_split`` has ``bad_label``."""
    cfg = tiny_config(tmp_path, batch_size=1)
    for split, name in (("train", "train"), ("valid", "val"), ("test", "test")):
        path = tmp_path / f"{name}_frames.list"
        label = bad_label if split == bad_split else 7
        path.write_text(f"clip_a 8 0\nclip_b 8 {label}\nclip_c 8 3\n")
        cfg["DATASET"][split]["file_path"] = str(path)
    return cfg


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_dataset_of_a_split_checks_labels_against_the_head(tmp_path, split):
    from paddlevideo_tsm.loader import build_dataset
    from paddlevideo_tsm.tasks.runtime import dataset_section

    cfg = lists(tmp_path, split)
    with pytest.raises(ListFileError) as err:
        build_dataset(*dataset_section(cfg, split))
    assert str(err.value) == f"{cfg['DATASET'][split]['file_path']}:2: label 8 >= num_classes 8"
    ok = copy.deepcopy(cfg)
    ok["MODEL"]["head"]["num_classes"] = 9
    assert len(build_dataset(*dataset_section(ok, split))) == 3


def test_training_stops_at_start_on_a_label_out_of_range(tmp_path, capsys):
    cfg = lists(tmp_path, "valid")
    path = write_config(tmp_path / "cfg.yaml", cfg)
    rc = main_py.main(["-c", path, "--validate", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0] == f"error: {tmp_path / 'val_frames.list'}:2: label 8 >= num_classes 8"
    assert not list((tmp_path / "out").glob("*.pdparams"))


def test_testing_stops_at_start_on_a_label_out_of_range(tmp_path, capsys):
    """Before: a label >= num_classes was scored silently in --test."""
    from paddlevideo_tsm.modeling import build_model

    cfg = lists(tmp_path, "test", bad_label=12)
    path = write_config(tmp_path / "cfg.yaml", cfg)
    weights = tmp_path / "w.pdparams"
    paddle.save(build_model(cfg["MODEL"]).state_dict(), str(weights))
    rc = main_py.main(["-c", path, "--test", "-w", str(weights)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0] == f"error: {tmp_path / 'test_frames.list'}:2: label 12 >= num_classes 8"


def test_test_after_train_reads_the_test_list_at_start(tmp_path, capsys):
    """A run that ends with testing checks the test list before it trains, not a training later."""
    cfg = lists(tmp_path, "test")
    cfg["test_after_train"] = True
    path = write_config(tmp_path / "cfg.yaml", cfg)
    rc = main_py.main(["-c", path, "--output", str(tmp_path / "out")])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0] == f"error: {tmp_path / 'test_frames.list'}:2: label 8 >= num_classes 8"
    assert "epoch:" not in captured.out and not (tmp_path / "out").exists()


def test_a_classifying_backbone_gives_the_classes(tmp_path):
    """PP-TSM MobileNetV2 has its classifier in the backbone (class_num) and a MoViNetHead without
    num_classes: the labels are checked against class_num (before: not checked at all)."""
    from paddlevideo_tsm.loader import build_dataset
    from paddlevideo_tsm.modeling import build_model
    from paddlevideo_tsm.modeling.recognizers import num_classes_of
    from paddlevideo_tsm.tasks.runtime import dataset_section

    cfg = lists(tmp_path, "train")
    cfg["MODEL"] = {"framework": "Recognizer2D", "head": {"name": "MoViNetHead"},
                    "backbone": {"name": "PPTSM_MobileNetV2", "num_seg": 4, "scale": 0.25, "class_num": 8}}
    with pytest.raises(ListFileError, match=r"train_frames.list:2: label 8 >= num_classes 8$"):
        build_dataset(*dataset_section(cfg, "train"))
    assert num_classes_of(cfg["MODEL"]) == build_model(cfg["MODEL"]).num_classes == 8
    del cfg["MODEL"]["backbone"]["class_num"]  # the backbone's default, 400 (Kinetics)
    assert num_classes_of(cfg["MODEL"]) == build_model(cfg["MODEL"]).num_classes == 400
    assert len(build_dataset(*dataset_section(cfg, "train"))) == 3
    assert num_classes_of({"head": {"name": "TSMHead", "num_classes": 7},
                           "backbone": {"name": "ResNetTSM"}}) == 7
