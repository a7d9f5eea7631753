"""Annotated videos (paddlevideo_tsm/visual/annotate.py, video_io.py): frame count, size, rate, drawn label."""
import os

import cv2
import numpy as np
import pytest

from paddlevideo_tsm.errors import DataError, MissingPackageError
from paddlevideo_tsm.visual import video_io
from paddlevideo_tsm.visual.annotate import (StreamVideo, annotate_input, draw_lines, label_text, stream_lines,
                                             text_layout)
from paddlevideo_tsm.visual.video_io import VideoFile, input_frames


def moving_square(n=12, h=72, w=96):
    """RGB uint8 [n, h, w, 3]: a white square moving right over a grey ramp (its bottom half is text-free)."""
    frames = np.empty((n, h, w, 3), np.uint8)
    frames[:] = np.linspace(40, 160, w, dtype=np.uint8)[None, None, :, None]
    for i in range(n):
        frames[i, h - 24:h - 8, 4 + 6 * i:20 + 6 * i] = 255
    return frames


def read_video(path):
    """(the file's stated frame count, size and rate, its decoded frames RGB [n, H, W, 3])."""
    cap = cv2.VideoCapture(str(path))
    meta = {"frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), "fps": cap.get(cv2.CAP_PROP_FPS)}
    cap.release()
    return meta, np.stack(list(input_frames(str(path), "video")))


def closest_label(frame, original, candidates, rows=None):
    """(index, errors): the candidate line list whose drawing onto ``original`` is nearest to ``frame``
    within its text box (only the first ``rows`` text lines' height when given: the rest is unknown)."""
    errors = []
    for lines in candidates:
        drawn, (x0, y0, x1, y1) = draw_lines(original, lines)
        if rows is not None:
            y1 = min(y1, rows * text_layout(lines, *original.shape[1::-1])[2])
        errors.append(np.abs(drawn[y0:y1, x0:x1].astype(float) - frame[y0:y1, x0:x1]).mean())
    return int(np.argmin(errors)), errors


def test_draw_lines_changes_only_its_box():
    frame = moving_square()[0]
    out, (x0, y0, x1, y1) = draw_lines(frame, ["move_right 0.997", "move_left 0.002"])
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert (x0, y0) == (0, 0) and 0 < x1 <= frame.shape[1] and 0 < y1 < frame.shape[0]
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], frame[outside])
    assert np.abs(out[y0:y1, x0:x1].astype(int) - frame[y0:y1, x0:x1]).mean() > 20
    assert not np.array_equal(draw_lines(frame, ["move_left 0.997"])[0], out)
    assert label_text(3, "grow", 0.91234) == "grow 0.912" and label_text(3, None, 0.5) == "class 3 0.500"


@pytest.mark.parametrize("kind", ["video", "frame"])
def test_annotated_input_keeps_frame_count_size_rate_and_shows_the_label(tmp_path, kind):
    frames = moving_square()
    if kind == "video":
        src = str(tmp_path / "in.avi")
        writer = cv2.VideoWriter(src, cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (96, 72))
        for f in frames:
            writer.write(f[..., ::-1])
        writer.release()
    else:
        src = str(tmp_path / "in_frames")
        os.makedirs(src)
        for i, f in enumerate(frames):
            cv2.imwrite(os.path.join(src, f"img_{i + 1:05d}.jpg"), f[..., ::-1])
    originals = np.stack(list(input_frames(src, kind)))
    lines = [label_text(1, "move_right", 0.9966), label_text(0, "move_left", 0.0031)]
    path, count = annotate_input(src, kind, lines, str(tmp_path / "out" / "in.whatever"))
    assert path == str(tmp_path / "out" / "in.mp4") and count == 12
    meta, back = read_video(path)
    assert meta == {"frames": 12, "width": 96, "height": 72, "fps": 12.0 if kind == "video" else 25.0}
    assert back.shape == (12, 72, 96, 3)
    box = draw_lines(originals[0], lines)[1]
    for t in (0, 11):
        # outside the text box the frame is the input's (up to the MP4 codec), inside it changed a lot
        assert np.abs(back[t, 40:].astype(float) - originals[t, 40:]).mean() < 3
        region = (slice(box[1], box[3]), slice(box[0], box[2]))
        assert np.abs(back[t][region].astype(float) - originals[t][region]).mean() > 20
        wrong = [[label_text(0, "move_left", 0.9966), label_text(1, "move_right", 0.0031)],
                 [label_text(4, "grow", 0.9966), label_text(0, "move_left", 0.0031)]]
        best, errors = closest_label(back[t], originals[t], [lines] + wrong)
        assert best == 0 and min(errors[1:]) > 1.5 * errors[0], errors


def test_gif_when_mp4_cannot_be_written(tmp_path, monkeypatch):
    frames = moving_square(5)
    with VideoFile(str(tmp_path / "a.mp4"), fps=10, allow_mp4=False) as video:
        for f in frames:
            video.write(f)
    assert video.path == str(tmp_path / "a.gif") and not (tmp_path / "a.mp4").exists()
    ok, anim = cv2.imreadanimation(video.path) if hasattr(cv2, "imreadanimation") else (None, None)
    if ok:
        assert len(anim.frames) == 5 and anim.frames[0].shape[:2] == (72, 96)
    # an OpenCV without MP4 and GIF writers falls back to Pillow, and without Pillow says what to install
    monkeypatch.delattr(cv2, "imwriteanimation", raising=False)
    pil = pytest.importorskip("PIL.Image")
    with VideoFile(str(tmp_path / "b"), fps=10, allow_mp4=False) as video:
        for f in frames:
            video.write(f)
    with pil.open(video.path) as img:
        assert img.n_frames == 5 and img.size == (96, 72)
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)
    with pytest.raises(MissingPackageError, match=r"c.part.gif: this OpenCV writes neither MP4 nor GIF; install Pillow"):
        video_io._write_gif(str(tmp_path / ".c.part.gif"), list(frames), 10)


def test_video_file_refuses_a_frame_of_another_size_and_leaves_no_file(tmp_path):
    frames = moving_square(2)
    with pytest.raises(DataError, match=r"x.mp4: frame 2 is 48x72, the video is 96x72"):
        with VideoFile(str(tmp_path / "x.mp4"), 5) as video:
            video.write(frames[0])
            video.write(frames[1][:, :48])
    assert os.listdir(tmp_path) == []


def test_stream_video_draws_the_running_label_and_latency(tmp_path):
    frames = moving_square(6)
    names = ["left", "right"]
    tops = [[(0, 0.6)], [(0, 0.55)], [(1, 0.7)], [(1, 0.8)], [(1, 0.9)], [(1, 0.95)]]
    with StreamVideo(str(tmp_path / "s.mp4"), 8.0, names) as video:
        for f, top in zip(frames, tops):
            video.add(f, top, 0.0123)
    path = video.path
    meta, back = read_video(path)
    assert (meta["frames"], meta["width"], meta["height"], meta["fps"]) == (6, 96, 72, 8.0)
    assert stream_lines(tops[3], names, 12.3) == ["right 0.800", "12.3 ms"]
    for t in (1, 4):
        other = [(1 - tops[t][0][0], tops[t][0][1])]
        best, errors = closest_label(back[t], frames[t], [stream_lines(tops[t], names, 12.3),
                                                          stream_lines(other, names, 12.3)])
        assert best == 0 and min(errors[1:]) > 1.5 * errors[0], errors
