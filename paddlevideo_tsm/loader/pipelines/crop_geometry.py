"""Crop boxes as (x, y, w, h) in pixels: output sizes and offsets, no image data touched."""


def scale_size(w, h, short_size, fixed_ratio=True, keep_ratio=None, do_round=False):
    """Output (w, h) of Scale for a w x h image.

    fixed_ratio: short side -> short_size, long side -> int(short_size * 4/3).
    keep_ratio False (fixed_ratio off): square short_size x short_size.
    otherwise: the aspect ratio is kept, long side int(long*short_size/short) (+0.5 if do_round).
    """
    short, long = (w, h) if w <= h else (h, w)
    if fixed_ratio:
        new_long = int(short_size * 4.0 / 3.0)
    elif keep_ratio is False:
        new_long = short_size
    else:
        exact = long * short_size / short
        new_long = int(exact + 0.5) if do_round else int(exact)
    return (short_size, new_long) if w <= h else (new_long, short_size)


def center_box(w, h, tw, th, do_round=True):
    """Box of size tw x th centred in a w x h image."""
    if do_round:
        return int(round((w - tw) / 2.0)), int(round((h - th) / 2.0)), tw, th
    return (w - tw) // 2, (h - th) // 2, tw, th


def fixed_offsets(w, h, cw, ch, more_fix_crop=True):
    """TSN fixed crop corners on a 4x4 step grid: 5 (corners, centre) or 13 offsets (x, y)."""
    ws, hs = (w - cw) // 4, (h - ch) // 4
    grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)]
    if more_fix_crop:
        grid += [(0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]
    return [(gx * ws, gy * hs) for gx, gy in grid]


def multiscale_sizes(w, h, target_w, target_h, scales, max_distort):
    """Allowed (crop_w, crop_h) pairs: sides int(min(w,h)*scale), snapped to the target within 3 px,
    paired when their scale indices differ by at most ``max_distort``."""
    base = min(w, h)
    sizes = [int(base * s) for s in scales]
    crop_w = [target_w if abs(s - target_w) < 3 else s for s in sizes]
    crop_h = [target_h if abs(s - target_h) < 3 else s for s in sizes]
    return [(cw, chh) for i, chh in enumerate(crop_h) for j, cw in enumerate(crop_w)
            if abs(i - j) <= max_distort]


def three_crop_boxes(w, h, tw, th):
    """Three tw x th boxes along the longer side: start, middle, end (centred on the other side)."""
    if w >= h:
        y = (h - th) // 2
        return [(x, y, tw, th) for x in (0, (w - tw) // 2, w - tw)]
    x = (w - tw) // 2
    return [(x, y, tw, th) for y in (0, (h - th) // 2, h - th)]


def five_crop_boxes(w, h, tw, th):
    """Four corner boxes and the centre box, each tw x th."""
    return [(0, 0, tw, th), (w - tw, 0, tw, th), (0, h - th, tw, th), (w - tw, h - th, tw, th),
            ((w - tw) // 2, (h - th) // 2, tw, th)]
