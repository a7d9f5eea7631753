"""Video metrics vs hand-computed view averages, top-k and per-class accuracy."""
import numpy as np
import pytest

from paddlevideo_tsm.metrics import CenterCropMetric, MultiCropMetric, build_metric


def slow_metrics(video_scores, labels):
    """Top-1/top-5/mean class accuracy with plain loops: the reference."""
    top1 = top5 = 0
    per_class = {}
    for row, y in zip(video_scores, labels):
        order = sorted(range(len(row)), key=lambda k: -row[k])
        top1 += order[0] == y
        top5 += y in order[:5]
        per_class.setdefault(y, []).append(order[0] == y)
    n = len(labels)
    return top1 / n, top5 / n, sum(sum(v) / len(v) for v in per_class.values()) / len(per_class)


def test_multicrop_averages_views_like_a_loop():
    rng = np.random.default_rng(0)
    n, v, k = 12, 6, 9
    scores = rng.normal(size=(n, v, k))
    labels = rng.integers(0, 4, size=n)
    metric = build_metric({"name": "MultiCropMetric", "num_ensemble_views": 2, "num_spatial_crops": 3})
    assert isinstance(metric, MultiCropMetric)
    metric.update(scores[:5], labels[:5], np.arange(5))  # two batches
    metric.update(scores[5:], labels[5:], np.arange(5, n))
    averaged = [[sum(scores[i, j, c] for j in range(v)) / v for c in range(k)] for i in range(n)]
    _, _, got_scores = metric.arrays()
    np.testing.assert_allclose(got_scores, averaged, rtol=1e-12)
    res = metric.accumulate()
    want = slow_metrics(averaged, labels.tolist())
    assert (res["top1"], res["top5"], res["mean_class_acc"]) == pytest.approx(want)
    assert res["count"] == n and res["failed"] == 0


def test_hand_worked_example():
    # video 0: views average to [1, 2, 0] -> class 1 (correct); video 1: [3, 0, 0] -> 0 (label 2, wrong)
    scores = np.array([[[2, 2, 0], [0, 2, 0]], [[3, 0, 1], [3, 0, -1]]], dtype=float)
    metric = MultiCropMetric()
    metric.update(scores, np.array([1, 2]), np.array([0, 1]))
    res = metric.accumulate()
    assert res["top1"] == 0.5
    assert res["top5"] == 1.0  # k capped at 3 classes
    assert res["mean_class_acc"] == 0.5  # class 1: 1/1, class 2: 0/1


def test_softmax_averaging_differs_and_matches_numpy():
    scores = np.array([[[30.0, 0.0], [0.0, 2.0], [0.0, 2.0]]])  # one confident view outvotes two on raw scores
    plain, soft = MultiCropMetric(), MultiCropMetric(softmax=True)
    for m in (plain, soft):
        m.update(scores, np.array([1]), np.array([0]))
    e = np.exp(scores[0] - scores[0].max(axis=1, keepdims=True))
    probs = (e / e.sum(axis=1, keepdims=True)).mean(axis=0)
    np.testing.assert_allclose(soft.arrays()[2][0], probs)
    assert plain.accumulate()["top1"] == 0.0 and soft.accumulate()["top1"] == 1.0


def test_failed_videos_counted_out_and_padding_counted_once():
    metric = CenterCropMetric()
    scores = np.array([[[0.0, 1.0]], [[1.0, 0.0]], [[0.0, 0.0]]])
    metric.update(scores, np.array([1, 1, -1]), np.array([0, 1, 2]))  # video 2 failed to load
    metric.update(scores[:1], np.array([1]), np.array([0]))           # a sampler repeating video 0
    res = metric.accumulate()
    assert res["count"] == 2 and res["failed"] == 1
    assert res["top1"] == 0.5


def test_center_crop_rejects_several_views():
    with pytest.raises(ValueError, match="MultiCropMetric"):
        CenterCropMetric().update(np.zeros((1, 3, 4)), np.array([0]), np.array([0]))


def test_center_crop_takes_2d_scores():
    rng = np.random.default_rng(3)
    s, y = rng.normal(size=(7, 5)), rng.integers(0, 5, size=7)
    metric = CenterCropMetric()
    metric.update(s, y, np.arange(7))
    res = metric.accumulate()
    assert (res["top1"], res["top5"], res["mean_class_acc"]) == pytest.approx(slow_metrics(s.tolist(), y.tolist()))


def test_unknown_metric_lists_known_ones():
    with pytest.raises(KeyError, match="CenterCropMetric"):
        build_metric({"name": "NoSuchMetric"})
