"""Extract the frames of videos into folders of JPEGs (the FrameDataset layout).

    python tools/extract_rawframes.py SRC OUT [--list LIST] [--ext avi,mp4,...] [--workers N]
        [--short_side 256] [--backend cv2|decord] [--quality 95] [--class_dirs] [--frames_list FILE]

SRC is a folder searched recursively for videos, or with --list a list file `video_path [label]`
whose paths are relative to SRC. Video SRC/a/b.avi becomes OUT/a/b/img_00001.jpg ... (PaddleVideo's
layout). Only when two videos would share a folder (a/b.avi and a/b.mp4), or one video's folder
would hold another's (a.avi and a/b.avi), does each of them get its extension appended instead:
OUT/a/b_avi/, OUT/a/b_mp4/ (and OUT/a_avi/). Every folder stays inside OUT: a list line whose
folder would land outside it (an absolute path, ../) stops the run at start with `LIST:LINE: ...`.

The tool writes a `.extract_rawframes` file first into each folder it creates and deletes only what
it wrote: a folder that exists without that file (and is not empty) is left untouched and its video
counted as failed. A finished folder holds a `.done` file with its frame count and is skipped on the
next run, so a run can be interrupted and restarted; the frames of an unfinished one are redone.
When labels are known (from --list, or --class_dirs: the first folder level under SRC is the class,
indexed in sorted order) OUT/frames.txt (`dir num_frames label`, dir relative to OUT) is written at
the end. Failed videos are listed and make the exit code 1.
"""
import argparse
import os
import posixpath
import sys
import time
from multiprocessing import Pool

import cv2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm.errors import ToolError, run_cli  # noqa: E402
from paddlevideo_tsm.media import FRAME_TEMPLATE, VIDEO_EXTS, extension, frame_pattern  # noqa: E402

DONE_FILE = ".done"
OWNER_FILE = ".extract_rawframes"


def find_videos(src, exts):
    """Relative paths (sorted, '/' separated) of files under ``src`` with an extension in ``exts``."""
    found = []
    for dirpath, _, files in os.walk(src):
        for name in files:
            if extension(name) in exts:
                found.append(os.path.relpath(os.path.join(dirpath, name), src).replace(os.sep, "/"))
    return sorted(found)


def _parents(folder):
    """Every proper ancestor of a '/'-separated relative path: 'a/b/c' -> {'a', 'a/b'}."""
    parts = folder.split("/")
    return {"/".join(parts[:i]) for i in range(1, len(parts))}


def plan_folders(videos):
    """Frame folder (relative to OUT, '/'-separated) of each video path in ``videos``: a/b.avi -> a/b,
    or a/b_avi when another video would share a/b or a/b holds another video's folder (see the
    module docstring). ToolError when two videos still end up sharing or nesting folders."""
    norm = {v: posixpath.normpath(v.replace(os.sep, "/")) for v in videos}
    stem = {v: posixpath.splitext(n)[0] for v, n in norm.items()}
    sharing, nested = {}, set()
    for v in videos:
        sharing.setdefault(stem[v], set()).add(norm[v])
        nested |= _parents(stem[v])
    folders = {}
    for v in videos:
        clash = len(sharing[stem[v]]) > 1 or stem[v] in nested
        ext = extension(norm[v])
        folders[v] = f"{stem[v]}_{ext}" if clash and ext else stem[v]
    owners = {}
    for v, folder in folders.items():
        owners.setdefault(folder, set()).add(norm[v])
    holders = {p: f for f in owners for p in _parents(f)}  # an ancestor folder -> a folder inside it
    for folder, owned in owners.items():
        if len(owned) > 1:
            raise ToolError(f"videos {', '.join(sorted(owned))} would share the frame folder {folder}; "
                            "rename one of them")
        if folder in holders:
            inner = holders[folder]
            raise ToolError(f"the frame folder {folder} of {min(owned)} would hold {inner}, the one of "
                            f"{min(owners[inner])}; rename one of them")
    return folders


def check_inside(out, folder, where):
    """ToolError naming ``where`` unless OUT/``folder`` lies strictly inside OUT (symlinks resolved)."""
    root = os.path.realpath(out)
    target = os.path.realpath(os.path.join(out, folder))
    if target == root or os.path.commonpath([root, target]) != root:
        raise ToolError(f"{where}: its frames would go to {target}, outside the output folder {out}")


def is_done(folder):
    """Frame count recorded by a finished extraction of ``folder``, or None."""
    try:
        with open(os.path.join(folder, DONE_FILE)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def claim_folder(folder, video):
    """Make ``folder`` ready for the frames of ``video``: create it, or clear the frames an earlier
    run of this tool left in it; OSError (nothing touched) when it exists and is not the tool's."""
    if os.path.isdir(folder):
        names = os.listdir(folder)
        if names and OWNER_FILE not in names:
            raise OSError(f"{folder} exists and was not made by extract_rawframes.py (no {OWNER_FILE} "
                          "in it): left untouched; move it away to extract this video")
        frame_name = frame_pattern(FRAME_TEMPLATE)
        for name in names:
            if name == DONE_FILE or frame_name.match(name):
                os.remove(os.path.join(folder, name))
    else:
        os.makedirs(folder)
    with open(os.path.join(folder, OWNER_FILE), "w", encoding="utf-8") as f:
        f.write(f"frames of {video}, written by tools/extract_rawframes.py\n")


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
        claim_folder(folder, video)
        count = 0
        for frame in _bgr_frames(video, backend):
            count += 1
            name = os.path.join(folder, FRAME_TEMPLATE.format(count))
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
    """Extract all videos; return (rows (frame dir relative to OUT, frame count, label) written, failures)."""
    if not os.path.isdir(args.src):
        raise ToolError(f"{args.src}: source folder not found")
    if args.list:
        from paddlevideo_tsm.loader.datasets.list_file import read_list  # imports paddle: only when needed

        # (video path relative to SRC, label or None, where an error about it points)
        items = [(e.path, e.label, f"{args.list}:{e.line}")
                 for e in read_list(args.list, "video", label_optional=True)]
    else:
        exts = {e.strip().lower().lstrip(".") for e in args.ext.split(",")}
        items = [(rel, None, os.path.join(args.src, rel)) for rel in find_videos(args.src, exts)]
        if not items:
            raise ToolError(f"{args.src}: no videos with extension {args.ext}")
    if args.class_dirs:
        classes = sorted({rel.split("/")[0] for rel, _, _ in items if "/" in rel})
        index = {c: i for i, c in enumerate(classes)}
        items = [(rel, index.get(rel.split("/")[0]) if "/" in rel else None, where) for rel, _, where in items]
    folders = plan_folders([rel for rel, _, _ in items])
    for rel, _, where in items:
        check_inside(args.out, folders[rel], where)
    jobs = {}  # one job per folder: a video listed twice is extracted once
    for rel, _, _ in items:
        folder = os.path.join(args.out, folders[rel])
        jobs.setdefault(folder, (os.path.join(args.src, rel), folder, args.short_side, args.backend, args.quality))
    os.makedirs(args.out, exist_ok=True)
    results, failures, start = {}, [], time.time()
    pool = Pool(max(1, args.workers))
    try:
        for n, (folder, count, error) in enumerate(pool.imap_unordered(extract_one, jobs.values()), 1):
            results[folder] = count
            if error:
                failures.append(error)
            if not args.quiet:
                progress(n, len(jobs), len(failures), start)
        pool.close()  # let the workers exit on their own: paddle (imported with the list reader)
        pool.join()  # prints a fatal-error report in a worker that is terminated
    finally:
        pool.terminate()
    rows = [(folders[rel], results[os.path.join(args.out, folders[rel])], label) for rel, label, _ in items]
    rows = [row for row in rows if row[1] > 0]
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
