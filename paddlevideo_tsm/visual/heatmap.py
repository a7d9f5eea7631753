"""Heat maps drawn over frames with OpenCV: upsampling, colour map, blending, one grid image."""
import math

import cv2
import numpy as np

from .annotate import draw_lines, text_layout


def normalize(maps):
    """float [T, h, w] >= 0 -> [0, 1] by the clip's largest value (frames stay comparable); all-zero stays zero."""
    top = float(np.max(maps)) if np.size(maps) else 0.0
    return np.asarray(maps, np.float32) / top if top > 0 else np.zeros_like(maps, dtype=np.float32)


def upsample(maps, height, width):
    """float [T, h, w] -> [T, height, width], bilinear with pixel centres aligned (cv2.resize)."""
    return np.stack([cv2.resize(m.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
                     for m in maps])


def peaks(maps, height, width):
    """float [T, h, w] -> float [T, 2]: (x, y) in a height x width image of each frame's peak, the
    weighted centre of its hottest region: the connected pixels of the upsampled map at >= half the
    frame's maximum that hold the maximum. (A coarse map's maximum alone can only fall on its cell
    grid.) A frame without a positive value gives the image centre."""
    out = np.empty((len(maps), 2))
    for t, up in enumerate(upsample(maps, height, width)):
        top = float(up.max())
        if top <= 0:
            out[t] = ((width - 1) / 2.0, (height - 1) / 2.0)
            continue
        _, regions = cv2.connectedComponents(np.uint8(up >= 0.5 * top), connectivity=8)
        y, x = np.unravel_index(up.argmax(), up.shape)
        ys, xs = np.nonzero(regions == regions[y, x])
        weights = up[ys, xs]
        out[t] = ((xs * weights).sum() / weights.sum(), (ys * weights).sum() / weights.sum())
    return out


def blend(frames, maps, alpha=0.45, scale=1):
    """RGB uint8 frames [T, H, W, 3] and maps in [0, 1] [T, h, w] -> RGB uint8 [T, H*scale, W*scale, 3]:
    each frame enlarged by ``scale`` with its map (upsampled, jet colours) laid over it at ``alpha``."""
    t, h, w = frames.shape[:3]
    out_h, out_w = h * scale, w * scale
    heat = upsample(maps, out_h, out_w)
    out = np.empty((t, out_h, out_w, 3), np.uint8)
    for i in range(t):
        frame = cv2.resize(frames[i], (out_w, out_h), interpolation=cv2.INTER_CUBIC) if scale != 1 else frames[i]
        colour = cv2.cvtColor(cv2.applyColorMap(np.uint8(np.rint(heat[i] * 255)), cv2.COLORMAP_JET),
                              cv2.COLOR_BGR2RGB)
        out[i] = cv2.addWeighted(colour, alpha, frame, 1.0 - alpha, 0)
    return out


def mark(images, points, scale=1):
    """Copies of RGB uint8 [T, H, W, 3] with a white cross at each (x, y) of ``points`` (input pixels, times ``scale``)."""
    out = images.copy()
    size = max(5, images.shape[1] // 12)
    for img, (x, y) in zip(out, points):
        centre = (int(round((x + 0.5) * scale - 0.5)), int(round((y + 0.5) * scale - 0.5)))
        cv2.drawMarker(img, centre, (255, 255, 255), cv2.MARKER_CROSS, size, 1, cv2.LINE_AA)
    return out


def grid(images, titles=None, cols=None, header=None, pad=4, header_scale=0.45):
    """RGB uint8 [T, H, W, 3] -> one RGB image: the T images in rows of ``cols`` (default up to 8),
    each with its title drawn on it, ``header`` lines drawn above them, ``pad`` px of white between."""
    t, h, w = images.shape[:3]
    cols = cols or min(t, 8)
    rows = math.ceil(t / cols)
    width = cols * (w + pad) + pad
    top = pad
    if header:
        band_h = text_layout(header, width, 10 ** 4, header_scale)[3][3]
        band, box = draw_lines(np.full((band_h, width, 3), 255, np.uint8), header, header_scale)
        top += box[3]
    canvas = np.full((top + rows * (h + pad), width, 3), 255, np.uint8)
    if header:
        canvas[:box[3]] = band[:box[3]]
    for i in range(t):
        r, c = divmod(i, cols)
        y, x = top + r * (h + pad), pad + c * (w + pad)
        tile = draw_lines(images[i], [titles[i]])[0] if titles else images[i]
        canvas[y:y + h, x:x + w] = tile
    return canvas
