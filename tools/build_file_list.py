"""Write train/val list files (and a class-name map) for UCF101, Kinetics, Something-Something V2 or a class-folder tree.

    python tools/build_file_list.py ucf101 ROOT --splits_dir ucfTrainTestlist [--split 1] [--format videos|frames] [--out_dir D]
    python tools/build_file_list.py kinetics ROOT --train_csv train.csv [--val_csv validate.csv]
        [--label_map kinetics400_label_list.txt] [--class_dirs] [--format videos|frames] [--out_dir D]
    python tools/build_file_list.py ssv2 ROOT --labels_json something-something-v2-labels.json
        --train_json something-something-v2-train.json [--val_json something-something-v2-validation.json]
        [--format videos|frames] [--out_dir D]
    python tools/build_file_list.py tree ROOT [--val_fraction 0.2] [--seed 0] [--format videos|frames] [--out_dir D]

ROOT holds the videos (--format videos: lines `path label`) or the extracted frame folders
(--format frames: lines `dir num_frames label`, num_frames counted as the files img_00001.jpg..
in the folder, a folder with a gap counts as missing; the folder of video a/b.avi is a/b, or a/b_avi
where tools/extract_rawframes.py had to tell a/b.avi from a/b.mp4). Paths are relative to ROOT, so
use ROOT as the dataset's data_prefix. Writes OUT_DIR/{train,val}_{videos,frames}.txt and
OUT_DIR/classes.txt (`index name`, 0-based). UCF101 class ids (classInd.txt) are 1-based and
become 0-based. Kinetics CSV columns: label,youtube_id,time_start,time_end,split; the file
of a row is `<youtube_id>_<start:06d>_<end:06d>.mp4` (under `<label>/` with --class_dirs).
Something-Something V2: the labels JSON maps each class template to its index; a train/validation
entry {"id", "template", ...} names its class by its template with `[something]` brackets (the
video is `<id>.webm`, its frame folder `<id>`); the left/right class pairs a horizontal flip swaps
are printed for RandomFlip's flip_label_map.
Samples missing under ROOT are left out and counted; errors in split files name file:line.
"""
import argparse
import csv
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddlevideo_tsm.errors import DataError, ToolError, run_cli  # noqa: E402
from paddlevideo_tsm.media import FRAME_TEMPLATE, VIDEO_EXTS, count_frames, extension  # noqa: E402


def frame_count_or_zero(folder, suffix=FRAME_TEMPLATE):
    """Frames suffix.format(1..n) in ``folder`` (media.count_frames); 0 when it is missing, holds
    none or has a gap (the dataset would fail on it)."""
    try:
        return count_frames(folder, suffix)
    except (OSError, DataError):
        return 0


# --- UCF101 ----------------------------------------------------------------------------------
def read_ucf_classes(path):
    """classInd.txt (`1 ApplyEyeMakeup` per line) -> list of names, index 0 = class id 1."""
    ids = {}
    for lineno, text in _lines(path):
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ToolError(f"{path}:{lineno}: expected 'class_id class_name', got {text!r}")
        ids[int(parts[0])] = parts[1]
    if sorted(ids) != list(range(1, len(ids) + 1)):
        raise ToolError(f"{path}: class ids must be 1..{len(ids)} without gaps")
    return [ids[i] for i in range(1, len(ids) + 1)]


def read_ucf_split(path, classes):
    """trainlistNN.txt (`Class/v_x.avi id`) or testlistNN.txt (`Class/v_x.avi`) -> [(video, label 0-based)]."""
    index = {name: i for i, name in enumerate(classes)}
    samples = []
    for lineno, text in _lines(path):
        parts = text.split()
        video = parts[0]
        folder = video.split("/")[0]
        if len(parts) == 2:
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(classes):
                raise ToolError(f"{path}:{lineno}: class id {parts[1]!r} outside 1..{len(classes)}")
            label = int(parts[1]) - 1
        elif len(parts) == 1:
            if folder not in index:
                raise ToolError(f"{path}:{lineno}: class folder {folder!r} not in classInd.txt")
            label = index[folder]
        else:
            raise ToolError(f"{path}:{lineno}: expected 'Class/video.avi [class_id]', got {text!r}")
        samples.append((video, label))
    return samples


def ucf101_splits(args):
    classes = read_ucf_classes(_need(os.path.join(args.splits_dir, "classInd.txt")))
    train = read_ucf_split(_need(os.path.join(args.splits_dir, f"trainlist{args.split:02d}.txt")), classes)
    val = read_ucf_split(_need(os.path.join(args.splits_dir, f"testlist{args.split:02d}.txt")), classes)
    return classes, {"train": train, "val": val}


# --- Kinetics --------------------------------------------------------------------------------
def kinetics_name(youtube_id, start, end):
    """Kinetics clip file name: '<youtube_id>_<start:06d>_<end:06d>.mp4'."""
    return f"{youtube_id}_{int(start):06d}_{int(end):06d}.mp4"


def read_kinetics_csv(path):
    """Annotation CSV -> list of (line, label name, youtube_id, start, end)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"label", "youtube_id", "time_start", "time_end"} - set(reader.fieldnames or [])
        if missing:
            raise ToolError(f"{path}:1: CSV header lacks column(s) {sorted(missing)}")
        for row in reader:
            line = reader.line_num
            try:
                start, end = int(float(row["time_start"])), int(float(row["time_end"]))
            except (TypeError, ValueError):
                raise ToolError(f"{path}:{line}: time_start/time_end must be numbers, got "
                                f"{row['time_start']!r}, {row['time_end']!r}") from None
            rows.append((line, row["label"].strip(), row["youtube_id"].strip(), start, end))
    return rows


def kinetics_splits(args):
    train_rows = read_kinetics_csv(_need(args.train_csv))
    val_rows = read_kinetics_csv(_need(args.val_csv)) if args.val_csv else []
    if args.label_map:
        classes = [n for _, n in _index_names(_need(args.label_map))]
    else:
        classes = sorted({label for _, label, *_ in train_rows})
    # the published class list writes 'air_drumming' where the CSV says 'air drumming'
    index = {name.replace(" ", "_"): i for i, name in enumerate(classes)}
    splits = {}
    for split, rows, path in (("train", train_rows, args.train_csv), ("val", val_rows, args.val_csv)):
        samples = []
        for line, label, yid, start, end in rows:
            key = label.replace(" ", "_")
            if key not in index:
                raise ToolError(f"{path}:{line}: label {label!r} is not a known class")
            name = kinetics_name(yid, start, end)
            samples.append((f"{key}/{name}" if args.class_dirs else name, index[key]))
        if samples:
            splits[split] = samples
    return classes, splits


# --- Something-Something V2 -----------------------------------------------------------------
def read_json(path):
    """A JSON file -> its value; ToolError naming the file and line when it is not JSON."""
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ToolError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def read_ssv2_classes(path):
    """something-something-v2-labels.json ({template: "index"}) -> class names by index (0-based)."""
    labels = read_json(path)
    if not isinstance(labels, dict) or not labels:
        raise ToolError(f"{path}: expected a JSON object of class template -> index")
    names = {}
    for name, index in labels.items():
        if not str(index).isdigit() or int(index) in names:
            raise ToolError(f"{path}: class {name!r} has index {index!r}; indices must be 0..{len(labels) - 1}, "
                            f"each once")
        names[int(index)] = name
    if sorted(names) != list(range(len(names))):
        raise ToolError(f"{path}: class indices must be 0..{len(names) - 1} without gaps")
    return [names[i] for i in range(len(names))]


def read_ssv2_split(path, index, labels_path):
    """-train.json / -validation.json ([{"id", "template", ...}]) -> [(video '<id>.webm', label)]."""
    entries = read_json(path)
    if not isinstance(entries, list):
        raise ToolError(f"{path}: expected a JSON list of videos")
    samples = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
            raise ToolError(f"{path}: entry {i} lacks 'id' or 'template': {str(entry)[:80]}")
        name = entry["template"].replace("[", "").replace("]", "")
        if name not in index:
            raise ToolError(f"{path}: entry {i} (id {entry['id']}): template {entry['template']!r} "
                            f"is not a class of {labels_path}")
        samples.append((f"{entry['id']}.webm", index[name]))
    return samples


def flip_pairs(classes):
    """{label: label} for the classes a horizontal flip turns into each other ('left' <-> 'right')."""
    index = {name: i for i, name in enumerate(classes)}
    pairs = {}
    for i, name in enumerate(classes):
        words = name.split()
        mirrored = " ".join({"left": "right", "right": "left"}.get(w, w) for w in words)
        if mirrored != name and mirrored in index:
            pairs[i] = index[mirrored]
    return pairs


def ssv2_splits(args):
    classes = read_ssv2_classes(_need(args.labels_json))
    index = {name: i for i, name in enumerate(classes)}
    splits = {"train": read_ssv2_split(_need(args.train_json), index, args.labels_json)}
    if args.val_json:
        splits["val"] = read_ssv2_split(_need(args.val_json), index, args.labels_json)
    return classes, splits


# --- class-folder tree -----------------------------------------------------------------------
def tree_splits(args):
    """ROOT/class/video (or ROOT/class/frame_dir) -> random train/val split per class."""
    classes = sorted(d for d in os.listdir(args.root) if os.path.isdir(os.path.join(args.root, d)))
    if not classes:
        raise ToolError(f"{args.root}: no class folders")
    rng = random.Random(args.seed)
    splits = {"train": [], "val": []}
    for label, cls in enumerate(classes):
        entries = sorted(os.listdir(os.path.join(args.root, cls)))
        if args.format == "videos":
            items = [f"{cls}/{e}" for e in entries if extension(e) in VIDEO_EXTS]
        else:
            items = [f"{cls}/{e}" for e in entries if os.path.isdir(os.path.join(args.root, cls, e))]
        rng.shuffle(items)
        n_val = int(round(len(items) * args.val_fraction))
        splits["val"] += [(v, label) for v in sorted(items[:n_val])]
        splits["train"] += [(v, label) for v in sorted(items[n_val:])]
    return classes, splits


# --- writing ---------------------------------------------------------------------------------
def list_lines(samples, root, fmt, suffix, tree_frames=False):
    """[(video, label)] -> (lines of the list, list of missing paths) checked against ``root``."""
    lines, missing = [], []
    for video, label in samples:
        # tree items in frames format are folders already (their names may contain dots)
        if fmt == "videos":
            if not os.path.isfile(os.path.join(root, video)):
                missing.append(video)
                continue
            lines.append(f"{video} {label}\n")
        else:
            folder = video if tree_frames else os.path.splitext(video)[0]
            found, n = folder, frame_count_or_zero(os.path.join(root, folder), suffix)
            if n == 0 and not tree_frames and extension(video):
                found = f"{folder}_{extension(video)}"  # extract_rawframes.py's name on a clash
                n = frame_count_or_zero(os.path.join(root, found), suffix)
            if n == 0:
                missing.append(folder)
                continue
            lines.append(f"{found} {n} {label}\n")
    return lines, missing


def write_lists(classes, splits, args):
    """Write the class map and one list per split; return {split: (path, written, missing)}."""
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "classes.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{i} {name}\n" for i, name in enumerate(classes))
    report = {}
    for split, samples in splits.items():
        lines, missing = list_lines(samples, args.root, args.format, args.suffix,
                                    tree_frames=args.dataset == "tree")
        path = os.path.join(args.out_dir, f"{split}_{args.format}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
        report[split] = (path, len(lines), missing)
    return report


def _lines(path):
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            text = raw.strip()
            if text:
                yield lineno, text


def _index_names(path):
    out = []
    for lineno, text in _lines(path):
        parts = text.split(maxsplit=1)
        out.append((lineno, parts[1] if len(parts) == 2 and parts[0].isdigit() else text))
    return out


def _need(path):
    if not path or not os.path.isfile(path):
        raise ToolError(f"{path}: file not found")
    return path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("dataset", choices=("ucf101", "kinetics", "ssv2", "tree"))
    p.add_argument("root", help="folder of the videos or frame folders (the lists' data_prefix)")
    p.add_argument("--format", choices=("videos", "frames"), default="videos")
    p.add_argument("--out_dir", default=".", help="where the lists and classes.txt go")
    p.add_argument("--suffix", default=FRAME_TEMPLATE, help="frame file names (frames format)")
    p.add_argument("--splits_dir", help="UCF101: folder of classInd.txt, trainlist0N.txt, testlist0N.txt")
    p.add_argument("--split", type=int, default=1, choices=(1, 2, 3), help="UCF101 split")
    p.add_argument("--train_csv", help="Kinetics training annotations")
    p.add_argument("--val_csv", help="Kinetics validation annotations")
    p.add_argument("--label_map", help="Kinetics class list (`index name` or `name` per line)")
    p.add_argument("--class_dirs", action="store_true", help="Kinetics videos sit in <label>/ folders")
    p.add_argument("--labels_json", help="SSv2: something-something-v2-labels.json")
    p.add_argument("--train_json", help="SSv2: something-something-v2-train.json")
    p.add_argument("--val_json", help="SSv2: something-something-v2-validation.json")
    p.add_argument("--val_fraction", type=float, default=0.2, help="tree: share of each class for val")
    p.add_argument("--seed", type=int, default=0, help="tree: seed of the train/val split")
    return p.parse_args(argv)


def run(args):
    """Build and write the lists of ``args``; prints what was written."""
    if not os.path.isdir(args.root):
        raise ToolError(f"{args.root}: folder not found")
    if args.dataset == "ucf101":
        if not args.splits_dir:
            raise ToolError("ucf101 needs --splits_dir (the folder of classInd.txt)")
        classes, splits = ucf101_splits(args)
    elif args.dataset == "kinetics":
        if not args.train_csv:
            raise ToolError("kinetics needs --train_csv")
        classes, splits = kinetics_splits(args)
    elif args.dataset == "ssv2":
        if not args.labels_json or not args.train_json:
            raise ToolError("ssv2 needs --labels_json and --train_json")
        classes, splits = ssv2_splits(args)
    else:
        classes, splits = tree_splits(args)
    report = write_lists(classes, splits, args)
    print(f"wrote {os.path.join(args.out_dir, 'classes.txt')} ({len(classes)} classes)")
    for split, (path, written, missing) in report.items():
        extra = f", {len(missing)} missing under {args.root} (first: {missing[0]})" if missing else ""
        print(f"wrote {path} ({written} samples{extra})")
    if args.dataset == "ssv2":
        print(f"left/right classes a flip swaps (RandomFlip flip_label_map): {flip_pairs(classes)}")
    return 0


def main(argv=None):
    return run_cli(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
