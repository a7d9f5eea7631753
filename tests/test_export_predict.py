"""Export then predict on the real clips: the predictor's probabilities equal the dynamic model's."""
import numpy as np
import pytest

from _deploy_helpers import (NUM_CLASSES, NUM_SEG, RAWFRAMES, SHARED_DATA, SIZE, VIDEOS,
                             call_tool, dynamic_probabilities, max_rel_diff, probs_from_record, read_jsonl,
                             save_random_weights, tiny_config, write_config)

pytestmark = pytest.mark.skipif(not (VIDEOS / "example.avi").is_file() or not RAWFRAMES.is_dir(),
                                reason=f"shared media not found in {SHARED_DATA}")

MEDIA = [(str(VIDEOS / "example.avi"), "video", None),
         (str(VIDEOS / "mmaction_test.avi"), "video", None),
         (str(RAWFRAMES), "frame", 10)]
_REFERENCE = {}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    cfg = tiny_config("NCHW")
    weights = save_random_weights(root / "w.pdparams", cfg)
    inputs = root / "inputs.txt"
    inputs.write_text("".join(path + "\n" for path, _, _ in MEDIA))
    return root, weights, str(inputs)


def reference(layout, weights):
    """Dynamic-model probabilities per medium for ``layout`` (computed once per module)."""
    if layout not in _REFERENCE:
        _REFERENCE[layout] = dynamic_probabilities(tiny_config(layout), weights, MEDIA)
    return _REFERENCE[layout]


# the CLIs run as subprocesses once (the real entry points); the other cases call their main()
# in this process, which saves two Paddle start-ups per case
@pytest.mark.parametrize("layout,fmt,subprocess", [("NCHW", "pdmodel", True), ("NCHW", "json", False),
                                                   ("NHWC", "pdmodel", False), ("NHWC", "json", False)])
def test_predictor_matches_dynamic_model(workdir, layout, fmt, subprocess, capsys):
    root, weights, inputs = workdir
    cap = None if subprocess else capsys
    cfg_path = write_config(root / f"{layout}.yaml", tiny_config(layout))
    out_dir = root / f"export_{layout}_{fmt}"
    code, out, err = call_tool("export_model.py", ["-c", cfg_path, "-p", weights, "-o", out_dir,
                                                   "--format", fmt], cap)
    assert code == 0, err[-2000:]
    model_file = out_dir / f"tinytsm.{fmt}"
    assert model_file.is_file() and (out_dir / "tinytsm.pdiparams").is_file()
    shape = [1, NUM_SEG, 3, SIZE, SIZE] if layout == "NCHW" else [1, NUM_SEG, SIZE, SIZE, 3]
    assert f"input shape: {shape} (float32, fixed batch)" in out
    assert "temporal shift: shift_impl=auto runs as 'frames'" in out

    jsonl = root / f"pred_{layout}_{fmt}.jsonl"
    code, out, err = call_tool("predict.py", ["-i", inputs, "-c", cfg_path, "--model_file", model_file,
                                              "--top_k", NUM_CLASSES, "--output", jsonl, "--cpu_threads", 1], cap)
    assert code == 0, err[-2000:]
    records = read_jsonl(jsonl)
    assert [r["input"] for r in records] == [m[0] for m in MEDIA]
    ref = reference(layout, weights)
    for record in records:
        got = probs_from_record(record)
        want = ref[record["input"]]
        assert abs(got.sum() - 1) < 1e-6
        assert max_rel_diff(got, want) < 1e-4, (record["input"], got, want)
        assert record["class_ids"][0] == int(np.argmax(want))
        top1 = f"input: {record['input']} top-1 class: {record['class_ids'][0]} score: "
        assert top1 in out


def test_nchw_and_nhwc_agree(workdir):
    # the two layouts run different kernels on the same weights: their probabilities must agree
    _, weights, _ = workdir
    a, b = reference("NCHW", weights), reference("NHWC", weights)
    for path, _, _ in MEDIA:
        assert max_rel_diff(b[path], a[path]) < 1e-4


def test_fixed_batch_export_pads_last_chunk(workdir, capsys):
    # export batch fixed at 4; predict batch 3 videos x 2 views = 6 rows -> runs of 4 and 2 + 2 padding
    root, weights, inputs = workdir
    cfg_path = write_config(root / "fixed.yaml", tiny_config("NCHW"))
    out_dir = root / "export_fixed"
    code, out, err = call_tool("export_model.py", ["-c", cfg_path, "-p", weights, "-o", out_dir,
                                                   "--batch_size", 4, "--save_name", "fixed4"], capsys)
    assert code == 0, err[-2000:]
    assert f"input shape: [4, {NUM_SEG}, 3, {SIZE}, {SIZE}]" in out
    jsonl = root / "pred_fixed.jsonl"
    code, out, err = call_tool("predict.py", ["-i", inputs, "-c", cfg_path, "--model_file", out_dir / "fixed4.pdmodel",
                                              "--top_k", NUM_CLASSES, "--output", jsonl, "--batch_size", 3,
                                              "--enable_benchmark", "True"], capsys)
    assert code == 0, err[-2000:]
    ref = reference("NCHW", weights)
    records = read_jsonl(jsonl)
    assert len(records) == len(MEDIA)
    for record in records:
        assert max_rel_diff(probs_from_record(record), ref[record["input"]]) < 1e-4
    # the benchmark table names the three stages with a median over the 3 inputs
    for stage in ("preprocess", "inference", "postprocess"):
        assert any(line.split()[:1] == [stage] and line.split()[-1] == "3" for line in out.splitlines())


def test_export_names_the_shift_it_contains():
    from paddlevideo_tsm.inference.export_cli import shift_message
    assert "runs as 'frames'" in shift_message({"shift_impl": "auto"}, fixed_batch=True)
    dynamic = shift_message({"shift_impl": "auto"}, fixed_batch=False)
    assert "runs as 'block'" in dynamic and "--batch_size" in dynamic
    assert "runs as 'op'" in shift_message({"shift_impl": "op"}, fixed_batch=False)
    # the op has no pytorch direction: the export holds the slice shift instead, and says so
    assert "runs as 'slice'" in shift_message({"shift_impl": "op", "shift_direction": "pytorch"}, True)
    assert shift_message({"shift_div": 0}, fixed_batch=True) == "temporal shift: none (shift_div 0: TSN)"


def test_kinetics_label_names_by_default(tmp_path, capsys):
    # 400 classes -> names from data/k400/label_list.txt ('index name' lines), unless --label_map
    from _deploy_helpers import ROOT
    cfg = tiny_config("NCHW")
    cfg["MODEL"]["head"]["num_classes"] = 400
    cfg_path = write_config(tmp_path / "k400.yaml", cfg)
    code, _, err = call_tool("export_model.py", ["-c", cfg_path, "-o", tmp_path / "m"], capsys)
    assert code == 0, err
    jsonl = tmp_path / "o.jsonl"
    code, out, err = call_tool("predict.py", ["-i", RAWFRAMES, "-c", cfg_path, "--model_file",
                                              tmp_path / "m" / "tinytsm.pdmodel", "--top_k", 5, "--output", jsonl],
                               capsys)
    assert code == 0, err
    names = dict(line.split(" ", 1) for line in (ROOT / "data" / "k400" / "label_list.txt").read_text().splitlines())
    (record,) = read_jsonl(jsonl)
    assert record["class_names"] == [names[str(i)] for i in record["class_ids"]]
    assert f"top-1 class: {record['class_ids'][0]} {record['class_names'][0]} score: " in out


def _shift_impls():
    import importlib  # the package re-exports a function of the module's name
    module = importlib.import_module("paddlevideo_tsm.modeling.ops.temporal_shift")
    return [i for i in module.IMPLS if i != "auto"]


@pytest.mark.parametrize("impl", _shift_impls())
def test_export_with_shift_impl_override(workdir, capsys, impl):
    # every shift implementation traces to a static graph that computes the same clip scores
    root, weights, _ = workdir
    cfg_path = write_config(root / "impl.yaml", tiny_config("NCHW"))
    out_dir = root / f"impl_{impl}"
    code, _, err = call_tool("export_model.py", ["-c", cfg_path, "-p", weights, "-o", out_dir,
                                                 "-o", f"MODEL.backbone.shift_impl={impl}"], capsys)
    assert code == 0, err
    jsonl = root / f"impl_{impl}.jsonl"
    code, _, err = call_tool("predict.py", ["-i", RAWFRAMES, "-c", cfg_path, "--model_file", out_dir / "tinytsm.pdmodel",
                                            "--top_k", NUM_CLASSES, "--output", jsonl], capsys)
    assert code == 0, err
    (record,) = read_jsonl(jsonl)
    assert max_rel_diff(probs_from_record(record), reference("NCHW", weights)[str(RAWFRAMES)]) < 1e-4
