"""Extract the frames of videos into folders of JPEGs (the FrameDataset layout).

    python tools/extract_rawframes.py SRC OUT [--list LIST] [--ext avi,mp4,...] [--workers N]
        [--short_side 256] [--backend cv2|decord] [--quality 95] [--class_dirs] [--frames_list FILE]

SRC is a folder searched recursively for videos, or with --list a list file `video_path [label]`
whose paths are relative to SRC. Video SRC/a/b.avi becomes OUT/a/b/img_00001.jpg ... A finished
folder holds a `.done` file with its frame count and is skipped on the next run, so a run can
be interrupted and restarted. When labels are known (from --list, or --class_dirs: the first
folder level under SRC is the class, indexed in sorted order) OUT/frames.txt (`dir num_frames label`,
dir relative to OUT) is written at the end. Failed videos are listed and make the exit code 1.
"""
import argparse
import os
import shutil
import sys
import time
from multiprocessing import Pool

import cv2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm.errors import ToolError, run_cli  # noqa: E402

DONE_FILE = ".done"
FRAME_NAME = "img_{:05}.jpg"
VIDEO_EXTS = ("avi", "mp4", "mkv", "webm", "mov", "mpeg", "mpg", "flv")



def find_videos(src, exts):
    """Relative paths (sorted, '/' separated) of files under ``src`` with an extension in ``exts``."""
    found = []
    for dirpath, _, files in os.walk(src):
        for name in files:
            if name.rsplit(".", 1)[-1].lower() in exts:
                found.append(os.path.relpath(os.path.join(dirpath, name), src).replace(os.sep, "/"))
    return sorted(found)


def read_video_list(path):
    """List file `video_path [label]` -> list of (relative path, label or None)."""
    items = []
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.rsplit(maxsplit=1)
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                items.append((parts[0], int(parts[1])))
            elif len(parts) == 2 and "." not in parts[1]:
                raise ToolError(f"{path}:{lineno}: label {parts[1]!r} is not an integer")
            else:
                items.append((text, None))
    if not items:
        raise ToolError(f"{path}: list is empty")
    return items


def frame_dir_for(rel_video):
    """'a/b.avi' -> 'a/b' (the frame folder, relative to OUT)."""
    return os.path.splitext(rel_video)[0]


def is_done(folder):
    """Frame count recorded by a finished extraction of ``folder``, or None."""
    try:
        with open(os.path.join(folder, DONE_FILE)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _resize(frame, short_side):
    if not short_side:
        return frame
    h, w = frame.shape[:2]
    scale = short_side / min(h, w)
    if scale == 1:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _bgr_frames(path, backend):
    """Yield the video's frames as BGR uint8 arrays (what cv2.imwrite expects)."""
    if backend == "decord":
        import decord
        reader = decord.VideoReader(path)
        for i in range(len(reader)):
            yield reader[i].asnumpy()[:, :, ::-1]
        return
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise OSError("cannot open video")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield frame
    finally:
        cap.release()


def extract_one(job):
    """(video path, out folder, short_side, backend, quality) -> (out folder, frame count, error or None)."""
    video, folder, short_side, backend, quality = job
    done = is_done(folder)
    if done is not None:
        return folder, done, None
    try:
        if not os.path.isfile(video):
            raise OSError("video file not found")
        if os.path.getsize(video) == 0:
            raise OSError("video file is empty (zero bytes)")
        if os.path.isdir(folder):  # a half-finished earlier run
            shutil.rmtree(folder)
        os.makedirs(folder)
        count = 0
        for frame in _bgr_frames(video, backend):
            count += 1
            name = os.path.join(folder, FRAME_NAME.format(count))
            if not cv2.imwrite(name, _resize(frame, short_side), [cv2.IMWRITE_JPEG_QUALITY, quality]):
                raise OSError(f"cannot write {name}")
        if count == 0:
            raise OSError("no readable frame")
        with open(os.path.join(folder, DONE_FILE), "w") as f:
            f.write(f"{count}\n")
        return folder, count, None
    except Exception as exc:  # one bad video must not stop the others
        return folder, 0, f"{video}: {' '.join(str(exc).split()) or type(exc).__name__}"


def progress(done, total, failed, start, stream=sys.stderr):
    """Draw a one-line progress bar: [#####.....] 5/10 videos, 1 failed, 3.2 videos/s."""
    width = 30
    filled = int(width * done / total) if total else width
    rate = done / max(time.time() - start, 1e-9)
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} videos, "
                 f"{failed} failed, {rate:.1f} videos/s")
    if done == total:
        stream.write("\n")
    stream.flush()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("src", help="folder of videos (searched recursively), or the --list paths' root")
    p.add_argument("out", help="output root of the frame folders")
    p.add_argument("--list", help="list file `video_path [label]` (paths relative to SRC)")
    p.add_argument("--ext", default=",".join(VIDEO_EXTS), help="video extensions when searching SRC")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--short_side", type=int, default=0, help="resize so the short side is this (0: keep)")
    p.add_argument("--backend", choices=("cv2", "decord"), default="cv2")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality")
    p.add_argument("--class_dirs", action="store_true",
                   help="labels from the first folder level under SRC (sorted class names)")
    p.add_argument("--frames_list", help="where to write the frames list (default OUT/frames.txt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def run(args):
    """Extract all videos; return the list of (frame dir relative to OUT, frame count, label) written."""
    if not os.path.isdir(args.src):
        raise ToolError(f"{args.src}: source folder not found")
    if args.list:
        if not os.path.isfile(args.list):
            raise ToolError(f"{args.list}: list file not found")
        items = read_video_list(args.list)
    else:
        items = [(rel, None) for rel in find_videos(args.src, {e.strip().lower() for e in args.ext.split(",")})]
        if not items:
            raise ToolError(f"{args.src}: no videos with extension {args.ext}")
    if args.class_dirs:
        classes = sorted({rel.split("/")[0] for rel, _ in items if "/" in rel})
        index = {c: i for i, c in enumerate(classes)}
        items = [(rel, index.get(rel.split("/")[0]) if "/" in rel else None) for rel, _ in items]
    jobs = [(os.path.join(args.src, rel), os.path.join(args.out, frame_dir_for(rel)),
             args.short_side, args.backend, args.quality) for rel, _ in items]
    os.makedirs(args.out, exist_ok=True)
    results, failures, start = {}, [], time.time()
    with Pool(max(1, args.workers)) as pool:
        for n, (folder, count, error) in enumerate(pool.imap_unordered(extract_one, jobs), 1):
            results[folder] = count
            if error:
                failures.append(error)
            if not args.quiet:
                progress(n, len(jobs), len(failures), start)
    rows = [(frame_dir_for(rel), results[job[1]], label)
            for (rel, label), job in zip(items, jobs) if results[job[1]] > 0]
    if rows and all(label is not None for _, _, label in rows):
        list_path = args.frames_list or os.path.join(args.out, "frames.txt")
        with open(list_path, "w", encoding="utf-8") as f:
            f.writelines(f"{d} {n} {label}\n" for d, n, label in rows)
        print(f"wrote {list_path} ({len(rows)} folders)")
    return rows, failures


def report(args):
    """Run and print the summary -> exit code (1 when some videos failed)."""
    rows, failures = run(args)
    print(f"{len(rows)} videos extracted into {args.out}")
    if failures:
        print(f"{len(failures)} videos failed:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    return run_cli(report, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
