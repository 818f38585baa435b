"""Render a lifted sequence: the frame with its 2D skeleton beside the 3D skeleton, as mp4 or GIF.

Lines and discs are drawn anti-aliased by OpenCV when it is installed (the ``video`` extra; about 0.7 ms per
skeleton) and otherwise by the plain-numpy fallback below (about 5 ms), so rendering works without the extra; the two
differ only in anti-aliasing detail.

The 3D panel shows the pose from a fixed viewpoint: the camera-frame pose (x right, y down, z away) is turned upright
(the sequence's mean pelvis->thorax direction is rotated onto "up", which undoes a tilted camera), then seen from
``azimuth``/``elevation`` degrees with an orthographic projection whose scale and centre are fixed for the whole
sequence, above a 0.5 m floor grid at the lowest foot. Frames in a long gap without a person
(``valid`` False) are drawn with a grey skeleton and a red border.

Writers: ``.mp4`` through OpenCV (the extra); ``.gif`` through Pillow when installed, otherwise through the small
pure-Python GIF encoder below (fixed 3-3-2 colour palette, only the changed rectangle of each frame is encoded).
"""
from __future__ import annotations

import functools
import math
import struct
from pathlib import Path

import numpy as np

from ..skeleton import LEFT, PARENTS, RIGHT

__all__ = ["SequenceRenderer", "open_writer", "GifWriter", "draw_skeleton", "upright_rotation"]

BACKGROUND = (24, 24, 32)
COLOR_LEFT = (60, 160, 255)  # blue
COLOR_RIGHT = (255, 90, 60)  # red
COLOR_MID = (240, 240, 240)
COLOR_INVALID = (120, 120, 120)
COLOR_GRID = (70, 70, 85)
COLOR_BORDER = (220, 40, 40)


def _bone_colors(invalid: bool = False):
    if invalid:
        return [COLOR_INVALID] * len(PARENTS)
    return [COLOR_LEFT if j in LEFT else COLOR_RIGHT if j in RIGHT else COLOR_MID for j in range(len(PARENTS))]


# --------------------------------------------------------------------------------------------------- drawing
_SHIFT = 4  # OpenCV's fixed-point drawing: coordinates in 1/16 pixel


@functools.cache
def _cv2():
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def _fixed(p) -> tuple[int, int]:
    """(x, y) pixels, pixel centres at .5 as in the numpy drawing, to OpenCV's fixed point (centres at integers)."""
    return int(round((p[0] - 0.5) * (1 << _SHIFT))), int(round((p[1] - 0.5) * (1 << _SHIFT)))


def draw_line(img: np.ndarray, p0, p1, color, thickness: float = 2.0) -> None:
    """Anti-aliased thick segment p0 -> p1 (x, y pixels) drawn in place on an (H, W, 3) uint8 image."""
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    if not (np.isfinite(p0).all() and np.isfinite(p1).all()):
        return
    cv2 = _cv2()
    if cv2 is not None and np.abs(np.concatenate([p0, p1])).max() < 1e6:  # within OpenCV's int coordinates
        color = tuple(int(c) for c in color)
        if p0[0] == p1[0] and p0[1] == p1[1]:  # a disc; OpenCV's anti-aliased edge adds about half a pixel
            radius = int(round(max(thickness / 2 - 0.5, 0.5) * (1 << _SHIFT)))
            cv2.circle(img, _fixed(p0), radius, color, -1, cv2.LINE_AA, _SHIFT)
        else:  # OpenCV's anti-aliased lines are about 1.35, 3.4, 5.4, ... pixels wide for thickness 1, 2, 4, ...
            t = 1 if thickness < 2 else 2 * max(1, round((thickness - 1.4) / 2))
            cv2.line(img, _fixed(p0), _fixed(p1), color, t, cv2.LINE_AA, _SHIFT)
        return
    r = thickness / 2.0
    h, w = img.shape[:2]
    x0, x1 = int(max(0, math.floor(min(p0[0], p1[0]) - r - 1))), int(min(w, math.ceil(max(p0[0], p1[0]) + r + 2)))
    y0, y1 = int(max(0, math.floor(min(p0[1], p1[1]) - r - 1))), int(min(h, math.ceil(max(p0[1], p1[1]) + r + 2)))
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1]
    px, py = xs + 0.5 - p0[0], ys + 0.5 - p0[1]
    d = p1 - p0
    n = float(d @ d)
    t = np.clip((px * d[0] + py * d[1]) / n, 0.0, 1.0) if n > 0 else np.zeros_like(px, dtype=np.float64)
    dist = np.hypot(px - t * d[0], py - t * d[1])
    alpha = np.clip(r + 0.5 - dist, 0.0, 1.0)[..., None]
    region = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (region * (1 - alpha) + np.asarray(color, np.float32) * alpha + 0.5).astype(np.uint8)


def draw_disc(img: np.ndarray, c, radius: float, color) -> None:
    draw_line(img, c, c, color, 2 * radius)


def draw_skeleton(img: np.ndarray, pts, colors, thickness: float = 3.0, joints: bool = True) -> None:
    """Draw the 17-joint skeleton (pts (17, 2) pixels, NaN joints skipped) in place; colors: one per joint."""
    for j, p in enumerate(PARENTS):
        if p >= 0:
            draw_line(img, pts[p], pts[j], colors[j], thickness)
    if joints:
        for j in range(len(PARENTS)):
            draw_disc(img, pts[j], thickness * 0.9, colors[j])


def resize_image(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """``img`` scaled to (width, height). With OpenCV: shrunk 2x or more, area-averaged by the largest whole factor
    and then bilinear for the rest (about 3x faster than one area resize by a fractional factor, and alike to the
    eye); shrunk less, area-averaged; enlarged, bilinear. Without OpenCV: nearest neighbour in numpy."""
    cv2 = _cv2()
    if cv2 is None:
        ys = ((np.arange(height) + 0.5) * img.shape[0] / height).astype(np.int64).clip(0, img.shape[0] - 1)
        xs = ((np.arange(width) + 0.5) * img.shape[1] / width).astype(np.int64).clip(0, img.shape[1] - 1)
        return img[ys][:, xs]
    k = int(min(img.shape[1] / width, img.shape[0] / height))
    if k >= 2:
        img = cv2.resize(img, (img.shape[1] // k, img.shape[0] // k), interpolation=cv2.INTER_AREA)
    if (img.shape[1], img.shape[0]) == (width, height):
        return img
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if k == 1 else cv2.INTER_LINEAR)


# ------------------------------------------------------------------------------------------------ 3D viewing
def _rot(axis: str, deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # y


def upright_rotation(pose_3d: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) taking the sequence's mean pelvis->thorax direction onto camera "up" (0, -1, 0); identity
    when that direction is more than 60 degrees from up (e.g. a lying person), as the camera is then the better
    guess."""
    spine = pose_3d[:, 8] - pose_3d[:, 0]
    spine = spine[np.isfinite(spine).all(-1)]
    up = np.array([0.0, -1.0, 0.0])
    if not len(spine):
        return np.eye(3)
    u = spine.mean(0)
    if np.linalg.norm(u) < 1e-6:
        return np.eye(3)
    u = u / np.linalg.norm(u)
    c = float(u @ up)
    if c < 0.5:
        return np.eye(3)
    v = np.cross(u, up)
    s = np.linalg.norm(v)
    if s < 1e-9:
        return np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k * ((1 - c) / s ** 2)  # Rodrigues: rotates u onto up


def video_panel_size(image_size, height: int) -> tuple[int, int]:
    """(width, height) of the 2D panel of :class:`SequenceRenderer` for frames of ``image_size`` (w, h) rendered
    ``height`` pixels high (both even; the frame's aspect kept)."""
    h = int(height) // 2 * 2
    return max(2, int(round(int(image_size[0]) * h / int(image_size[1]))) // 2 * 2), h


class SequenceRenderer:
    """Render frame i of a lifted sequence as one RGB image: [video frame + 2D skeleton | 3D skeleton].

    keypoints_2d (T, 17, 2) px (NaN = none), pose_3d (T, 17, 3) m, valid (T,) bool, image_size (w, h) of the video;
    height: output height in pixels (the 2D panel keeps the video's aspect, the 3D panel is square);
    crop:   without video frames, show in the 2D panel only the square around the person's whole track."""

    def __init__(self, keypoints_2d, pose_3d, image_size, valid=None, height: int = 360,
                 azimuth: float = 35.0, elevation: float = 15.0, crop: bool = False):
        self.kp = np.asarray(keypoints_2d, np.float64)
        self.pose = np.asarray(pose_3d, np.float64)
        t = len(self.pose)
        self.valid = np.ones(t, bool) if valid is None else np.asarray(valid, bool)
        self.w, self.h = int(image_size[0]), int(image_size[1])
        self.origin2d = np.zeros(2)
        finite = self.kp[np.isfinite(self.kp).all(-1)]
        if crop and len(finite):  # no video frame to show: zoom the 2D panel onto the person's track
            lo, hi = finite.min(0), finite.max(0)
            side = max(float((hi - lo).max()) * 1.15, 16.0)
            centre = (lo + hi) / 2
            self.origin2d = centre - side / 2
            self.w = self.h = int(round(side))
        self.w2d, self.height = video_panel_size((self.w, self.h), height)
        self.w3d = self.height
        self.scale2d = self.height / self.h
        rot = upright_rotation(self.pose[self.valid] if self.valid.any() else self.pose)
        self.view = _rot("x", -elevation) @ _rot("y", azimuth) @ rot
        world = self.pose @ rot.T  # upright, camera-like axes (y down)
        finite = world[np.isfinite(world).all(-1)]
        floor_y = float(np.percentile(finite[:, 1], 99)) if len(finite) else 0.9
        g = np.arange(-1.0, 1.01, 0.5)
        self.grid = [(np.array([a, floor_y, -1.0]), np.array([a, floor_y, 1.0])) for a in g] + \
                    [(np.array([-1.0, floor_y, a]), np.array([1.0, floor_y, a])) for a in g]
        proj = (self.pose @ self.view.T)[..., :2].reshape(-1, 2)
        proj = proj[np.isfinite(proj).all(-1)]
        if len(proj):
            lo, hi = np.percentile(proj, 1, axis=0), np.percentile(proj, 99, axis=0)
        else:
            lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
        self.center = (lo + hi) / 2
        self.scale3d = 0.8 * self.w3d / max(float((hi - lo).max()), 0.5)
        self._template = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the rendered images."""
        return self.w2d + self.w3d, self.height

    def _project(self, pts: np.ndarray) -> np.ndarray:
        uv = (pts @ self.view.T)[..., :2]
        return (uv - self.center) * self.scale3d + np.array([self.w3d / 2, self.height / 2])

    def _blank(self) -> np.ndarray:
        """The parts of a frame that do not change: the background and the 3D panel's floor grid (drawn once)."""
        if self._template is None:
            out = np.empty((self.height, self.w2d + self.w3d, 3), np.uint8)
            out[:] = BACKGROUND
            right = out[:, self.w2d:]
            for a, b in self.grid:
                draw_line(right, self._project(a), self._project(b), COLOR_GRID, 1.0)
            self._template = out
        return self._template

    def frame(self, i: int, image: np.ndarray | None = None) -> np.ndarray:
        out = self._blank().copy()
        left = out[:, :self.w2d]
        if image is not None:
            left[:] = resize_image(np.asarray(image, np.uint8), self.w2d, self.height)
        ok = bool(self.valid[i])
        th = max(2.0, self.height / 150)
        draw_skeleton(left, (self.kp[i] - self.origin2d) * self.scale2d, _bone_colors(not ok), th)
        right = out[:, self.w2d:]
        if np.isfinite(self.pose[i]).all():
            draw_skeleton(right, self._project(self.pose[i]), _bone_colors(not ok), th * 1.2)
        right[:, :2] = (90, 90, 100)
        if not ok:
            b = max(3, self.height // 90)
            for region in (out[:b], out[-b:], out[:, :b], out[:, -b:]):
                region[:] = COLOR_BORDER
        return out


# ---------------------------------------------------------------------------------------------------- writers
def _palette332() -> np.ndarray:
    i = np.arange(256)
    r, g, b = (i >> 5) & 7, (i >> 2) & 7, i & 3
    return np.stack([r * 255 // 7, g * 255 // 7, b * 255 // 3], -1).astype(np.uint8)


def _lzw(indices: bytes, min_code: int = 8) -> bytes:
    """GIF LZW compression of palette indices (variable code width, reset when the table is full)."""
    clear, end = 1 << min_code, (1 << min_code) + 1
    table = {bytes([i]): i for i in range(clear)}
    nxt, width = end + 1, min_code + 1
    acc = nbits = 0
    out = bytearray()

    def emit(code):
        nonlocal acc, nbits
        acc |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 255)
            acc >>= 8
            nbits -= 8

    emit(clear)
    w = b""
    for i in range(len(indices)):
        c = indices[i:i + 1]
        wc = w + c
        if wc in table:
            w = wc
            continue
        emit(table[w])
        if nxt < 4096:
            table[wc] = nxt
            nxt += 1
            if nxt > (1 << width) and width < 12:
                width += 1
        else:
            emit(clear)
            table = {bytes([i]): i for i in range(clear)}
            nxt, width = end + 1, min_code + 1
        w = c
    if w:
        emit(table[w])
    emit(end)
    if nbits:
        out.append(acc & 255)
    return bytes(out)


class _PureGif:
    """Streaming GIF89a writer in pure Python: global 3-3-2 palette, looping, changed rectangle per frame."""

    def __init__(self, path, size, fps):
        self.f = open(path, "wb")
        w, h = size
        self.delay = max(2, int(round(100 / fps)))
        self.prev = None
        self.f.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, 0, 0) + _palette332().tobytes())
        self.f.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop forever

    def write(self, rgb: np.ndarray) -> None:
        r, g, b = (rgb[..., 0] >> 5), (rgb[..., 1] >> 5), (rgb[..., 2] >> 6)
        idx = ((r << 5) | (g << 2) | b).astype(np.uint8)
        if self.prev is None:
            y0, y1, x0, x1 = 0, idx.shape[0], 0, idx.shape[1]
        else:
            diff = idx != self.prev
            if not diff.any():
                diff[0, 0] = True
            rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
            y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        self.prev = idx
        f = self.f
        f.write(b"\x21\xf9\x04" + struct.pack("<BHBB", 4, self.delay, 0, 0))  # keep previous frame beneath
        f.write(b"\x2c" + struct.pack("<HHHHB", x0, y0, x1 - x0, y1 - y0, 0))
        data = _lzw(np.ascontiguousarray(idx[y0:y1, x0:x1]).tobytes())
        f.write(b"\x08")
        for i in range(0, len(data), 255):
            chunk = data[i:i + 255]
            f.write(bytes([len(chunk)]) + chunk)
        f.write(b"\x00")

    def close(self) -> None:
        self.f.write(b"\x3b")
        self.f.close()


class _PillowGif:
    def __init__(self, path, size, fps):
        from PIL import Image
        self.Image, self.path, self.frames = Image, path, []
        self.duration = int(round(1000 / fps))

    def write(self, rgb: np.ndarray) -> None:
        self.frames.append(self.Image.fromarray(rgb).quantize(colors=128, method=self.Image.Quantize.FASTOCTREE))

    def close(self) -> None:
        if self.frames:
            self.frames[0].save(self.path, save_all=True, append_images=self.frames[1:], duration=self.duration,
                                loop=0, optimize=False)


class GifWriter:
    """GIF writer: Pillow when installed, else the pure-Python encoder (``pure=True`` forces it)."""

    def __init__(self, path, size, fps, pure: bool | None = None):
        if pure is None:
            try:
                import PIL  # noqa: F401
                pure = False
            except ImportError:
                pure = True
        self.backend = "pure-python" if pure else "pillow"
        self._w = _PureGif(path, size, fps) if pure else _PillowGif(path, size, fps)

    def write(self, rgb):
        self._w.write(rgb)

    def close(self):
        self._w.close()


class _Mp4Writer:
    backend = "opencv"

    def __init__(self, path, size, fps):
        from .detect import require
        self.cv2 = require("cv2")
        self.w = self.cv2.VideoWriter(str(path), self.cv2.VideoWriter_fourcc(*"mp4v"), float(fps), tuple(size))
        if not self.w.isOpened():
            raise RuntimeError(f"OpenCV cannot write {path}")

    def write(self, rgb):
        self.w.write(self.cv2.cvtColor(rgb, self.cv2.COLOR_RGB2BGR))

    def close(self):
        self.w.release()


def open_writer(path, size: tuple[int, int], fps: float):
    """A writer with ``write(rgb)`` and ``close()`` for ``path`` (.mp4: OpenCV; .gif: Pillow or pure Python)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gif":
        return GifWriter(path, size, fps)
    if suffix in (".mp4", ".avi"):
        return _Mp4Writer(path, size, fps)
    raise ValueError(f"cannot write {suffix!r} animations; use .mp4 or .gif")
