"""Image transforms on a clip: ``results['imgs']`` is a list of T RGB uint8 HxWx3 arrays.

One random decision per clip (every frame gets the same box and flip) so motion is preserved.
Crops are slices; resizing is cv2.resize INTER_LINEAR. ThreeCrop/TenCrop end the per-frame
stage: they turn ``imgs`` into one uint8 array [views, T, H, W, 3].
"""
import cv2
import numpy as np

from ..registry import PIPELINES
from . import crop_geometry as geo
from .random_source import randint, uniform


def _size_pair(size, what):
    """``size`` as (w, h): an int means a square; a [w, h] pair is taken as is."""
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size, size
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size):
        return int(size[0]), int(size[1])
    raise ValueError(f"{what} target_size must be a positive int or [w, h], got {size!r}")


def _frames(results, what):
    imgs = results.get("imgs")
    if imgs is None:
        raise ValueError(f"{what} needs results['imgs'] (run a Sampler first)")
    if isinstance(imgs, np.ndarray) and imgs.ndim == 5:
        raise ValueError(f"{what} cannot follow a multi-crop (ThreeCrop/TenCrop): put it before")
    if len(imgs) == 0:
        raise ValueError(f"{what} got an empty clip")
    return imgs


def _hw(frame):
    return frame.shape[0], frame.shape[1]


def _crop(imgs, box):
    x, y, w, h = box
    return [img[y:y + h, x:x + w] for img in imgs]


def _resize(imgs, w, h):
    if _hw(imgs[0]) == (h, w):
        return list(imgs)
    return [cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) for img in imgs]


@PIPELINES.register
class Scale:
    """Resize every frame so its short side is ``short_size`` (long side: see crop_geometry.scale_size).

    Frames whose short side already equals short_size are kept as they are (as PaddleVideo does).
    backend 'pillow' is accepted for PaddleVideo configs; resizing is always cv2 INTER_LINEAR.
    """

    def __init__(self, short_size, fixed_ratio=True, keep_ratio=None, do_round=False, backend="cv2"):
        if not isinstance(short_size, int) or isinstance(short_size, bool) or short_size < 1:
            raise ValueError(f"Scale short_size must be a positive int, got {short_size!r}")
        if fixed_ratio and keep_ratio:
            raise ValueError("Scale: fixed_ratio and keep_ratio cannot both be true")
        if backend not in ("cv2", "pillow"):
            raise ValueError(f"Scale backend must be 'cv2' or 'pillow', got {backend!r}")
        self.short_size = short_size
        self.fixed_ratio = fixed_ratio
        self.keep_ratio = keep_ratio
        self.do_round = do_round

    def __call__(self, results):
        imgs = _frames(results, "Scale")
        h, w = _hw(imgs[0])
        if min(w, h) == self.short_size:
            results["imgs"] = list(imgs)
            return results
        ow, oh = geo.scale_size(w, h, self.short_size, self.fixed_ratio, self.keep_ratio, self.do_round)
        results["imgs"] = _resize(imgs, ow, oh)
        return results


@PIPELINES.register
class RandomCrop:
    """Crop one random ``target_size`` box (the same for all frames)."""

    def __init__(self, target_size):
        self.tw, self.th = _size_pair(target_size, "RandomCrop")

    def sample_box(self, w, h, rng=None):
        """Random (x, y, tw, th) inside a w x h image."""
        if w < self.tw or h < self.th:
            raise ValueError(f"RandomCrop target {self.tw}x{self.th} is larger than the frame {w}x{h}")
        x = randint(rng, 0, w - self.tw + 1)
        y = randint(rng, 0, h - self.th + 1)
        return x, y, self.tw, self.th

    def __call__(self, results):
        imgs = _frames(results, "RandomCrop")
        h, w = _hw(imgs[0])
        results["imgs"] = _crop(imgs, self.sample_box(w, h, results.get("rng")))
        return results


@PIPELINES.register
class CenterCrop:
    """Crop the centred ``target_size`` box; do_round rounds the half-pixel offset.

    backend is accepted for PaddleVideo configs; cropping is numpy slicing either way.
    """

    def __init__(self, target_size, do_round=True, backend="cv2"):
        if backend not in ("cv2", "pillow"):
            raise ValueError(f"CenterCrop backend must be 'cv2' or 'pillow', got {backend!r}")
        self.tw, self.th = _size_pair(target_size, "CenterCrop")
        self.do_round = do_round

    def __call__(self, results):
        imgs = _frames(results, "CenterCrop")
        h, w = _hw(imgs[0])
        if w < self.tw or h < self.th:
            raise ValueError(f"CenterCrop target {self.tw}x{self.th} is larger than the frame {w}x{h}")
        results["imgs"] = _crop(imgs, geo.center_box(w, h, self.tw, self.th, self.do_round))
        return results


@PIPELINES.register
class MultiScaleCrop:
    """TSN multi-scale crop: a random allowed (w, h) crop at a random (or fixed) place, resized to target.

    scales default [1, .875, .75, .66] of the short side; max_distort bounds the aspect change;
    fix_crop picks among 13 (more_fix_crop) or 5 grid offsets; allow_duplication False drops offsets
    that coincide (small margins) so each distinct box is equally likely.
    """

    def __init__(self, target_size, scales=None, max_distort=1, fix_crop=True, more_fix_crop=True,
                 allow_duplication=False, backend="cv2"):
        self.tw, self.th = _size_pair(target_size, "MultiScaleCrop")
        self.scales = list(scales) if scales is not None else [1, 0.875, 0.75, 0.66]
        if not self.scales or any(not isinstance(s, (int, float)) or s <= 0 for s in self.scales):
            raise ValueError(f"MultiScaleCrop scales must be positive numbers, got {scales!r}")
        if backend not in ("cv2", "pillow"):
            raise ValueError(f"MultiScaleCrop backend must be 'cv2' or 'pillow', got {backend!r}")
        self.max_distort = int(max_distort)
        self.fix_crop = fix_crop
        self.more_fix_crop = more_fix_crop
        self.allow_duplication = allow_duplication

    def sample_box(self, w, h, rng=None):
        """Random crop box (x, y, cw, ch) inside a w x h image (before the resize to target)."""
        pairs = geo.multiscale_sizes(w, h, self.tw, self.th, self.scales, self.max_distort)
        cw, ch = pairs[randint(rng, 0, len(pairs))]
        # snapping to the target may exceed a small frame: never crop outside it
        cw, ch = min(cw, w), min(ch, h)
        if not self.fix_crop:
            return randint(rng, 0, w - cw + 1), randint(rng, 0, h - ch + 1), cw, ch
        offsets = geo.fixed_offsets(w, h, cw, ch, self.more_fix_crop)
        if not self.allow_duplication:
            offsets = list(dict.fromkeys(offsets))
        x, y = offsets[randint(rng, 0, len(offsets))]
        return x, y, cw, ch

    def __call__(self, results):
        imgs = _frames(results, "MultiScaleCrop")
        h, w = _hw(imgs[0])
        box = self.sample_box(w, h, results.get("rng"))
        results["imgs"] = _resize(_crop(imgs, box), self.tw, self.th)
        return results


def _map_label(label, table):
    if isinstance(table, dict):
        return table.get(label, label)
    if not 0 <= label < len(table):
        raise ValueError(f"RandomFlip flip_label_map (a list of {len(table)}) has no entry for label {label}")
    return table[label]


@PIPELINES.register
class RandomFlip:
    """Mirror the whole clip left-right with probability p (one decision per clip).

    flip_label_map (dict label -> label, or a list indexed by label) relabels flipped clips, for
    classes whose meaning flips (e.g. 'swiping left' <-> 'swiping right'); unmapped dict labels stay.
    Sets results['flipped'].
    """

    def __init__(self, p=0.5, flip_label_map=None):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"RandomFlip p must be in [0, 1], got {p!r}")
        if flip_label_map is not None and not isinstance(flip_label_map, (dict, list, tuple)):
            raise ValueError(f"RandomFlip flip_label_map must be a dict or a list, got {flip_label_map!r}")
        self.p = float(p)
        self.flip_label_map = flip_label_map

    def __call__(self, results):
        imgs = results.get("imgs")
        if imgs is None:
            raise ValueError("RandomFlip needs results['imgs'] (run a Sampler first)")
        flip = uniform(results.get("rng")) < self.p
        results["flipped"] = flip
        if not flip:
            return results
        if isinstance(imgs, np.ndarray):
            results["imgs"] = np.ascontiguousarray(imgs[..., ::-1, :])
        else:
            results["imgs"] = [cv2.flip(img, 1) for img in imgs]
        if self.flip_label_map is not None and results.get("labels") is not None:
            labels = results["labels"]
            if isinstance(labels, np.ndarray):
                results["labels"] = np.array([_map_label(int(v), self.flip_label_map) for v in labels.reshape(-1)],
                                             dtype=labels.dtype).reshape(labels.shape)
            else:
                results["labels"] = _map_label(int(labels), self.flip_label_map)
        return results


def _stack_views(imgs, boxes):
    return np.stack([np.stack(_crop(imgs, box)) for box in boxes])


@PIPELINES.register
class ThreeCrop:
    """Three target_size crops along the longer side; imgs -> uint8 [3, T, th, tw, 3]."""

    def __init__(self, target_size):
        self.tw, self.th = _size_pair(target_size, "ThreeCrop")

    def __call__(self, results):
        imgs = _frames(results, "ThreeCrop")
        h, w = _hw(imgs[0])
        if w < self.tw or h < self.th:
            raise ValueError(f"ThreeCrop target {self.tw}x{self.th} is larger than the frame {w}x{h}")
        results["imgs"] = _stack_views(imgs, geo.three_crop_boxes(w, h, self.tw, self.th))
        return results


@PIPELINES.register
class TenCrop:
    """Four corners and centre, then the same five mirrored; imgs -> uint8 [10, T, th, tw, 3]."""

    def __init__(self, target_size):
        self.tw, self.th = _size_pair(target_size, "TenCrop")

    def __call__(self, results):
        imgs = _frames(results, "TenCrop")
        h, w = _hw(imgs[0])
        if w < self.tw or h < self.th:
            raise ValueError(f"TenCrop target {self.tw}x{self.th} is larger than the frame {w}x{h}")
        five = _stack_views(imgs, geo.five_crop_boxes(w, h, self.tw, self.th))
        results["imgs"] = np.concatenate([five, five[..., ::-1, :]])
        return results
