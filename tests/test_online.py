"""Online TSM: per-frame streaming with cached shifts against the clip-mode online model."""
import copy
import subprocess
import sys

import numpy as np
import paddle
import pytest

import helpers
from helpers import model_cfg, randomize_bn_stats, rel_diff, to_nhwc
from paddlevideo_tsm.modeling import build_model, load_checkpoint
from paddlevideo_tsm.online import build_online_model, export_online
from paddlevideo_tsm.errors import InferenceError
from paddlevideo_tsm.online.predictor import OnlinePredictor
from paddlevideo_tsm.online.preprocess import FramePreprocessor
from paddlevideo_tsm.online.runner import run_stream
from paddlevideo_tsm.online.smoothing import ScoreSmoother, softmax, top_k
from paddlevideo_tsm.errors import ConfigError

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
T = 4
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def online_pair(seed=0, **kw):
    """(clip-mode online Recognizer2D, per-frame OnlineRecognizer) sharing random weights + BN stats."""
    return helpers.online_pair(model_cfg(num_seg=T, shift_mode="online", **kw), seed)


def clip_input(n, size, data_format, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, T, 3) + size).astype("float32")
    return to_nhwc(x) if data_format == "NHWC" else x


def stream_features(frame_model, x, size):
    """Feed x [N, T, ...] frame by frame from zero caches -> (features [N, T, ...], scores [N, T, K])."""
    caches = frame_model.init_caches(x.shape[0], size)
    feats, scores = [], []
    for t in range(x.shape[1]):
        f, new_caches = frame_model.features(paddle.to_tensor(x[:, t]), caches)
        out = frame_model(paddle.to_tensor(x[:, t]), caches)
        assert rel_diff(out[1 + len(new_caches) - 1].numpy(), new_caches[-1].numpy()) == 0
        caches = out[1:]
        feats.append(f.numpy())
        scores.append(out[0].numpy())
    return np.stack(feats, 1), np.stack(scores, 1)


def clip_features(clip_model, x):
    """Clip-mode backbone features of x [N, T, ...] -> [N, T, ...]."""
    n = x.shape[0]
    f = clip_model.backbone(paddle.to_tensor(x.reshape((n * T,) + x.shape[2:]))).numpy()
    return f.reshape((n, T) + f.shape[1:])


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
@pytest.mark.parametrize("arch", [dict(depth=18), dict(depth=50, shift_place="inplace", base_channels=8),
                                  dict(depth=18, n_round=2, stem="7x7")])
def test_stream_equals_clip_mode(data_format, arch):
    """Frames one by one from zero caches: same per-frame features and (averaged) clip scores."""
    clip, frame = online_pair(data_format=data_format, **arch)
    size = (40, 40) if arch.get("stem") != "7x7" else (45, 37)
    x = clip_input(2, size, data_format)
    feats, scores = stream_features(frame, x, size)
    assert rel_diff(feats, clip_features(clip, x)) < 1e-5
    assert rel_diff(scores.mean(1), clip(paddle.to_tensor(x)).numpy()) < 1e-5


def test_cache_shapes_follow_the_network():
    """cache_shapes (closed form) equal the shapes step() returns, for odd sizes and both stems."""
    for stem, size in (("7x7", (45, 37)), ("3x3", (33, 50))):
        _, frame = online_pair(stem=stem, depth=50, base_channels=8)
        caches = frame.init_caches(3, size)
        out = frame(paddle.zeros([3, 3, *size]), caches)
        assert [list(c.shape) for c in out[1:]] == frame.cache_shapes(3, size)
        assert len(out) - 1 == 16 == frame.num_caches  # every bottleneck block of R50 shifts
        # fold = block input channels // shift_div: the stem's 8, then the bottleneck's 8 * 4
        assert [s[1] for s in frame.cache_shapes(3, size)[:2]] == [8 // 8, 8 * 4 // 8]


@pytest.mark.parametrize("mode", ["online", "offline"])
def test_clip_mode_causality(mode):
    """Changing frame t+1 leaves frames <= t unchanged online (exactly); offline it reaches back."""
    paddle.seed(0)
    model = build_model(model_cfg(num_seg=T, shift_mode=mode))
    randomize_bn_stats(model)
    model.eval()
    x = clip_input(1, (32, 32), "NCHW")
    t = 1
    y = x.copy()
    y[:, t + 1] += np.random.default_rng(1).normal(size=y[:, t + 1].shape).astype("float32")
    fx, fy = clip_features(model, x), clip_features(model, y)
    unchanged = [np.array_equal(fx[:, i], fy[:, i]) for i in range(T)]
    if mode == "online":
        assert unchanged == [True] * (t + 1) + [False] * (T - t - 1)
    else:  # the future fold carries frame t+1 back to t (and, block after block, further)
        assert not unchanged[t] and not any(unchanged[t + 1:])


def test_stream_causality_and_memory():
    """Per-frame model: frame t+1 cannot change frame t, but frame t changes frame t+1 (via caches)."""
    _, frame = online_pair()
    x = clip_input(1, (32, 32), "NCHW")
    y = x.copy()
    y[:, 2] += 1.0
    fx, _ = stream_features(frame, x, (32, 32))
    fy, _ = stream_features(frame, y, (32, 32))
    assert np.array_equal(fx[:, :2], fy[:, :2])
    assert not np.array_equal(fx[:, 3], fy[:, 3])  # frame 3 differs only through frame 2's caches


def test_offline_weights_load_into_online(tmp_path):
    """Offline checkpoints load strictly into the online models (same keys, same shapes)."""
    paddle.seed(0)
    offline = build_model(model_cfg(num_seg=T, shift_mode="offline"))
    randomize_bn_stats(offline)
    path = str(tmp_path / "offline.pdparams")
    paddle.save(offline.state_dict(), path)
    clip, frame = online_pair(seed=5)
    assert load_checkpoint(clip, path) == len(offline.state_dict())
    assert load_checkpoint(frame.recognizer, path) == len(offline.state_dict())
    assert sorted(frame.state_dict()) == sorted("recognizer." + k for k in offline.state_dict())
    offline.eval()
    x = clip_input(1, (32, 32), "NCHW")
    # the future fold is no longer shifted, so without fine-tuning the scores move
    assert rel_diff(clip(paddle.to_tensor(x)).numpy(), offline(paddle.to_tensor(x)).numpy()) > 1e-3
    _, scores = stream_features(frame, x, (32, 32))
    assert rel_diff(scores.mean(1), clip(paddle.to_tensor(x)).numpy()) < 1e-5


def full_cfg(data_format="NCHW", size=32, **kw):
    cfg = {"MODEL": model_cfg(num_seg=T, data_format=data_format, shift_mode="online", **kw),
           "PIPELINE": {"test": {"transform": [
               {"Scale": {"short_size": size}}, {"CenterCrop": {"target_size": size}},
               {"Image2Array": {"transpose": data_format == "NCHW"}},
               {"Normalization": {"mean": MEAN, "std": STD,
                                  "tensor_shape": [3, 1, 1] if data_format == "NCHW" else [1, 1, 3]}}]}}}
    return cfg


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Tiny online models (NCHW and NHWC) with random weights, exported as .pdmodel."""
    out = {}
    root = tmp_path_factory.mktemp("online_export")
    for fmt in ("NCHW", "NHWC"):
        cfg = full_cfg(fmt)
        paddle.seed(3)
        model = build_model(cfg["MODEL"])
        randomize_bn_stats(model, 3)
        weights = str(root / f"w_{fmt}.pdparams")
        paddle.save(model.state_dict(), weights)
        meta = export_online(cfg, weights, str(root), f"online_{fmt}")
        out[fmt] = (cfg, weights, meta)
    return out


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
def test_exported_stream_matches_dynamic(exported, data_format):
    """Paddle Inference, frame by frame with caches fed back == dynamic per-frame and clip models."""
    cfg, weights, meta = exported[data_format]
    names = [n for n, _ in meta["inputs"]]
    assert names[0] == "frame" and len(names) == 9 and meta["frame_size"] == [32, 32]
    clip = build_model(cfg["MODEL"])
    load_checkpoint(clip, weights)
    clip.eval()
    frame = build_online_model(cfg["MODEL"])
    load_checkpoint(frame.recognizer, weights)
    x = clip_input(1, (32, 32), data_format, seed=7)
    predictor = OnlinePredictor(meta["model_file"], meta["params_file"], cpu_threads=1)
    static = np.stack([predictor.step(x[:, t]) for t in range(T)])
    _, dynamic = stream_features(frame, x, (32, 32))
    assert rel_diff(static, dynamic[0]) < 1e-5
    assert rel_diff(static.mean(0), clip(paddle.to_tensor(x)).numpy()[0]) < 1e-5
    predictor.reset()  # a new stream starts from zero caches: frame 0 again gives frame 0's scores
    assert rel_diff(predictor.step(x[:, 0]), dynamic[0, 0]) < 1e-5


def test_pir_json_export_matches_dynamic(exported, tmp_path):
    """fmt='json' (PIR program) streams like the .pdmodel export."""
    cfg, weights, meta = exported["NCHW"]
    meta_json = export_online(cfg, weights, str(tmp_path), "online_pir", fmt="json")
    assert meta_json["model_file"].endswith("online_pir.json")
    x = clip_input(1, (32, 32), "NCHW", seed=9)
    a = OnlinePredictor(meta["model_file"], meta["params_file"], cpu_threads=1)
    b = OnlinePredictor(meta_json["model_file"], meta_json["params_file"], cpu_threads=1)
    sa = np.stack([a.step(x[:, t]) for t in range(T)])
    sb = np.stack([b.step(x[:, t]) for t in range(T)])
    assert rel_diff(sb, sa) < 1e-5


def test_predictor_errors(exported, tmp_path):
    _, _, meta = exported["NCHW"]
    with pytest.raises(InferenceError, match="missing.pdmodel: model file not found"):
        OnlinePredictor(str(tmp_path / "missing.pdmodel"), meta["params_file"])
    predictor = OnlinePredictor(meta["model_file"], meta["params_file"], cpu_threads=1)
    with pytest.raises(InferenceError, match=r"frame shape \[1, 3, 16, 16\] does not match the model input \[1, 3, 32, 32\]"):
        predictor.step(np.zeros((1, 3, 16, 16), "float32"))


def synthetic_frames(n, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_frame_preprocessing_matches_by_hand():
    """Scale + CenterCrop + normalise of one frame against a cv2/numpy computation."""
    import cv2
    frame = synthetic_frames(1, 48, 64)[0]
    out = FramePreprocessor(full_cfg()["PIPELINE"]["test"])(frame)
    # short side 48 -> 32: 64 x 48 -> 42 x 32 (w x h); centre crop 32 from x = 5
    ref = cv2.resize(frame, (42, 32), interpolation=cv2.INTER_LINEAR)[:, 5:37].astype(np.float64)
    ref = ((ref / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None]
    assert out.shape == (1, 3, 32, 32) and out.dtype == np.float32
    assert rel_diff(out, ref) < 1e-5


def test_frame_preprocessing_config_checks():
    test = full_cfg()["PIPELINE"]["test"]
    three = copy.deepcopy(test)
    three["transform"][1] = {"ThreeCrop": {"target_size": 32}}
    frame = synthetic_frames(1, 48, 64)[0]
    assert np.array_equal(FramePreprocessor(three)(frame), FramePreprocessor(test)(frame))
    bad = copy.deepcopy(test)
    bad["transform"].insert(1, {"RandomFlip": None})
    with pytest.raises(ConfigError, match=r"PIPELINE.test.transform\[1\]: RandomFlip is a training augmentation"):
        FramePreprocessor(bad)


def test_smoothing_against_closed_forms():
    xs = np.random.default_rng(0).normal(size=(6, 5))
    exp = ScoreSmoother(smooth=0.75)
    got = [exp(x) for x in xs][-1]
    ref = 0.75 ** 5 * xs[0] + sum(0.25 * 0.75 ** (5 - i) * xs[i] for i in range(1, 6))
    assert np.allclose(got, ref)
    win = ScoreSmoother(window=4)
    got = [win(x) for x in xs][-1]
    assert np.allclose(got, xs[2:].mean(0))
    assert np.allclose(softmax(xs[0]), np.exp(xs[0]) / np.exp(xs[0]).sum())
    assert [i for i, _ in top_k(xs[0], 3)] == list(np.argsort(-xs[0])[:3])
    with pytest.raises(ValueError, match="either exponential smoothing or a moving window"):
        ScoreSmoother(smooth=0.5, window=3)


def test_run_stream_window_is_the_clip_score(exported):
    """--window T over the first T frames of a stream gives the clip-mode online model's softmax."""
    cfg, weights, meta = exported["NCHW"]
    frames = synthetic_frames(T + 3)
    pre = FramePreprocessor(cfg["PIPELINE"]["test"])
    predictor = OnlinePredictor(meta["model_file"], meta["params_file"], cpu_threads=1)
    lines = []
    result = run_stream(frames, pre, predictor.step, ScoreSmoother(window=T), interval=2, k=3,
                        emit=lines.append, max_frames=T)
    assert result["frames"] == T and [ln.split(":")[0] for ln in lines] == ["frame 2", "frame 4"]
    clip = build_model(cfg["MODEL"])
    load_checkpoint(clip, weights)
    clip.eval()
    x = np.concatenate([pre(f) for f in frames[:T]])[None]
    ref = softmax(clip(paddle.to_tensor(x)).numpy()[0].astype(np.float64))
    assert [i for i, _ in result["top"]] == list(np.argsort(-ref)[:3])
    assert np.allclose([p for _, p in result["top"]], np.sort(ref)[::-1][:3], rtol=1e-4)


def write_cfg(tmp_path, cfg):
    import yaml
    text = dict(model_name="TSM_online", DATASET={"batch_size": 1}, **copy.deepcopy(cfg))
    path = tmp_path / "online.yaml"
    path.write_text(yaml.safe_dump(text))
    return str(path)


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "predict_online.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_predict_online_cli_on_real_video(exported, shared_data, tmp_path):
    """The CLI streams a real video; its last top-1 equals the dynamic model's on the same frames."""
    cfg, weights, meta = exported["NCHW"]
    video = str(shared_data / "videos" / "example.avi")
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"{i} class_{i}\n" for i in range(8)))
    r = run_cli("-c", write_cfg(tmp_path, cfg), "--model_file", meta["model_file"], "--params_file",
                meta["params_file"], "--input_file", video, "--interval", "5", "--max_frames", "12", "--stride", "2",
                "--top_k", "2", "--label_map", str(labels), "--enable_benchmark", "--cpu_threads", "1")
    assert r.returncode == 0, r.stderr
    tops = [ln for ln in r.stdout.splitlines() if ln.startswith("frame ")]
    assert [ln.split(":")[0] for ln in tops] == ["frame 5", "frame 10", "frame 12"]
    assert "latency model: median" in r.stdout and "latency preprocess: median" in r.stdout
    assert "12 frames streamed (every 2)" in r.stdout
    # reference: the dynamic per-frame model on every 2nd of the first 24 decoded frames (cv2)
    import cv2
    cap = cv2.VideoCapture(video)
    frames = [cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB) for _ in range(24)][::2]
    cap.release()
    pre = FramePreprocessor(cfg["PIPELINE"]["test"])
    frame = build_online_model(cfg["MODEL"])
    load_checkpoint(frame.recognizer, weights)
    x = np.stack([pre(f) for f in frames], 1)
    _, scores = stream_features(frame, x, (32, 32))
    best = int(np.argmax(scores[0, -1]))
    assert tops[-1].startswith(f"frame 12: {best} class_{best} ")


def test_predict_online_cli_errors(exported, tmp_path):
    cfg, _, meta = exported["NCHW"]
    path = write_cfg(tmp_path, cfg)
    common = ["-c", path, "--model_file", meta["model_file"], "--params_file", meta["params_file"]]
    r = run_cli(*common, "--camera", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error: camera 0: ")
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli(*common, "--input_file", str(tmp_path / "nope.avi"))
    assert r.returncode == 2 and r.stderr.strip() == f"error: {tmp_path / 'nope.avi'}: video file not found"
    r = run_cli(*common, "--input_file", "x.avi", "--smooth", "0.5", "--window", "4")
    assert r.returncode == 2 and "--smooth and --window cannot be combined" in r.stderr


# ---- a second backbone streams by implementing the TSMBackbone contract, with no online code ----

from paddlevideo_tsm.modeling.backbones import ShiftUnit, TSMBackbone  # noqa: E402
from paddlevideo_tsm.modeling.heads import TSMHead  # noqa: E402
from paddlevideo_tsm.modeling.ops import TemporalShift  # noqa: E402
from paddlevideo_tsm.modeling.recognizers import Recognizer2D  # noqa: E402
from paddlevideo_tsm.online import OnlineRecognizer  # noqa: E402


def _conv_bn(cin, cout, k, stride, fmt, groups=1, act=True):
    layers = [paddle.nn.Conv2D(cin, cout, k, stride, (k - 1) // 2, groups=groups, data_format=fmt),
              paddle.nn.BatchNorm2D(cout, data_format=fmt)]
    return paddle.nn.Sequential(*(layers + [paddle.nn.ReLU6()] if act else layers))


class ToyInvertedResidual(ShiftUnit):
    """MobileNetV2's unit: 1x1 expand -> 3x3 depthwise (stride) -> 1x1 project; with a shortcut
    (stride 1, same channels) the shift sits before the expansion conv, residual place."""

    def __init__(self, cin, cout, stride, fmt, make_shift):
        short = stride == 1 and cin == cout
        super().__init__(cin, stride, make_shift() if short else None, "expand")
        self.short = short
        self.expand = _conv_bn(cin, 2 * cin, 1, 1, fmt)
        self.dw = _conv_bn(2 * cin, 2 * cin, 3, stride, fmt, groups=2 * cin)
        self.project = _conv_bn(2 * cin, cout, 1, 1, fmt, act=False)

    def forward_shifted(self, x, shifted):
        y = self.project(self.dw(self.expand(shifted)))
        return x + y if self.short else y


class ToyInPlaceBlock(ShiftUnit):
    """MobileOne's placement: the shift in place before the whole block (one conv here)."""

    def __init__(self, cin, cout, stride, fmt, make_shift):
        super().__init__(cin, stride, make_shift(), "")
        self.conv = _conv_bn(cin, cout, 3, stride, fmt)

    def forward_shifted(self, x, shifted):
        return self.conv(shifted)


class ToyBackbone(TSMBackbone):
    """stem 3x3/2 -> in place 8 -> IR 8 -> IR 8->16 /2 (no shortcut, no shift) -> IR 16 -> in place 16 /2."""

    stem_stride = 2

    def __init__(self, num_seg, data_format="NCHW", shift_mode="online"):
        super().__init__(num_seg, data_format)
        def make_shift():
            return TemporalShift(num_seg, 4, data_format, mode=shift_mode)
        fmt = data_format
        self.stem = _conv_bn(3, 8, 3, 2, fmt)
        self.b0 = ToyInPlaceBlock(8, 8, 1, fmt, make_shift)
        self.b1 = ToyInvertedResidual(8, 8, 1, fmt, make_shift)
        self.b2 = ToyInvertedResidual(8, 16, 2, fmt, make_shift)
        self.b3 = ToyInvertedResidual(16, 16, 1, fmt, make_shift)
        self.b4 = ToyInPlaceBlock(16, 16, 2, fmt, make_shift)
        self.out_channels = 16

    def forward_stem(self, x):
        return self.stem(x)

    def units(self):
        return [(n, getattr(self, n)) for n in ("b0", "b1", "b2", "b3", "b4")]


def toy_recognizer(data_format="NCHW", backbone_cls=ToyBackbone, seed=0):
    paddle.seed(seed)
    model = Recognizer2D(backbone_cls(T, data_format), TSMHead(5, 16, data_format=data_format))
    randomize_bn_stats(model, seed)
    model.eval()
    return model


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
def test_second_backbone_streams_through_the_contract(data_format):
    """A MobileNetV2/MobileOne-style backbone written only against TSMBackbone: its per-frame
    stream equals its clip-mode online forward, and its cache shapes are the ones stepped."""
    clip = toy_recognizer(data_format)
    frame = OnlineRecognizer(clip)
    assert clip.backbone.shift_sites() == [("b0", ""), ("b1", "expand"), ("b3", "expand"), ("b4", "")]
    size = (23, 30)
    assert [s[1 if data_format == "NCHW" else 3] for s in frame.cache_shapes(2, size)] == [2, 2, 4, 4]
    x = clip_input(2, size, data_format, seed=4)
    out = frame(paddle.to_tensor(x[:, 0]), frame.init_caches(2, size))
    assert [list(c.shape) for c in out[1:]] == frame.cache_shapes(2, size)
    feats, scores = stream_features(frame, x, size)
    ref = clip_features(clip, x)
    assert rel_diff(feats, ref) < 1e-5
    assert rel_diff(scores.mean(1), clip(paddle.to_tensor(x)).numpy()) < 1e-5
    y = x.copy()
    y[:, 1] += 1.0  # the shifts carry frame 1 into frames 2 and 3, never back into frame 0
    other = clip_features(clip, y)
    assert [np.array_equal(other[:, t], ref[:, t]) for t in range(T)] == [True, False, False, False]


@pytest.fixture
def toy_registered():
    """ToyBackbone in the backbone registry for one test (export builds from a config)."""
    from paddlevideo_tsm.modeling import BACKBONES
    BACKBONES.register(ToyBackbone)
    try:
        yield
    finally:
        del BACKBONES["ToyBackbone"]


def test_second_backbone_exports_and_streams(toy_registered, tmp_path):
    """export_online and the predictor work for the toy backbone as for ResNetTSM (the head's
    in_channels taken from the backbone); exported stream == dynamic stream == clip mode."""
    cfg = {"MODEL": {"framework": "Recognizer2D", "backbone": {"name": "ToyBackbone", "num_seg": T},
                     "head": {"name": "TSMHead", "num_classes": 5}},
           "INFERENCE": {"target_size": 32}}
    paddle.seed(2)
    clip = build_model(cfg["MODEL"])
    randomize_bn_stats(clip, 2)
    clip.eval()
    weights = str(tmp_path / "toy.pdparams")
    paddle.save(clip.state_dict(), weights)
    meta = export_online(cfg, weights, str(tmp_path), "toy")
    assert [shape for _, shape in meta["inputs"][1:]] == [[1, 2, 16, 16], [1, 2, 16, 16], [1, 4, 8, 8], [1, 4, 8, 8]]
    predictor = OnlinePredictor(meta["model_file"], meta["params_file"], cpu_threads=1)
    x = clip_input(1, (32, 32), "NCHW", seed=6)
    static = np.stack([predictor.step(x[:, t]) for t in range(T)])
    _, dynamic = stream_features(OnlineRecognizer(clip), x, (32, 32))
    assert rel_diff(static, dynamic[0]) < 1e-5
    assert rel_diff(static.mean(0), clip(paddle.to_tensor(x)).numpy()[0]) < 1e-5


def test_backbones_that_cannot_stream_are_refused():
    class NonLocalToy(ToyBackbone):
        online_refusal = "a non-local block mixes all T frames of a clip, future ones included"

    with pytest.raises(ConfigError, match=r"^MODEL.backbone.name: NonLocalToy cannot run online \(frame by frame\): "
                                          r"a non-local block mixes all T frames"):
        OnlineRecognizer(toy_recognizer(backbone_cls=NonLocalToy))
    plain = Recognizer2D(paddle.nn.Conv2D(3, 16, 3), TSMHead(5, 16))
    with pytest.raises(ConfigError, match=r"^MODEL.backbone.name: Conv2D is not a TSMBackbone"):
        OnlineRecognizer(plain)
