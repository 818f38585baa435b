"""Plausibility checks on 2D keypoints before they are lifted: input that is probably a mistake gives a warning.

The lifter normalises pixel keypoints by the image size, so keypoints in the wrong units, an image size that is
not the video's (or width and height swapped) and empty detections all give a pose, just a wrong one. The checks
here catch what can be told from the numbers alone:

- the image size is outside :data:`IMAGE_SIZE_RANGE` pixels (an error on the command line, a warning in the API);
- every keypoint at (0, 0), or frames whose keypoints all sit at one point (no skeleton to lift; the command line
  refuses input without a skeleton in any frame, :func:`no_skeleton`);
- keypoints that look normalised (all within [-1.5, 1.5]) where pixels are expected;
- more than :data:`OUTSIDE_SHARE` of the keypoints outside the image by more than :data:`OUTSIDE_MARGIN` of its
  size (a wrong image size, width and height swapped, or coordinates in other units);
- an unlabelled 17-keypoint file whose geometry looks like the other of the COCO-17 / Human3.6M-17 orders
  (:func:`guess_17_order`).

Real detections of a person partly out of the frame stay well below these thresholds (the built-in sample, a
person walking across a 1768x994 clip detected by BlazePose, gives no warning).
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["IMAGE_SIZE_RANGE", "check_image_size", "keypoint_warnings", "check_keypoints", "no_skeleton",
           "guess_17_order", "check_17_order"]

IMAGE_SIZE_RANGE = (32, 16384)  # pixels, each of width and height
OUTSIDE_MARGIN = 0.10  # a keypoint this far (share of the image's width / height) outside the image is "outside"
OUTSIDE_SHARE = 0.10  # warn when more than this share of the keypoints is outside
NORMALISED_LIMIT = 1.5  # all coordinates within [-1.5, 1.5]: normalised, not pixels
DEGENERATE_PX = 1e-3  # a frame whose keypoints span less than this many pixels has no skeleton


def _two_numbers(image_size) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image size must be (width, height) in pixels, got {image_size!r}") from None
    return w, h


def check_image_size(image_size, what: str = "image size") -> tuple[float, float]:
    """(width, height) as floats if both are finite and within :data:`IMAGE_SIZE_RANGE` pixels; else ValueError
    naming ``what`` (e.g. ``--image-size``)."""
    w, h = _two_numbers(image_size)
    lo, hi = IMAGE_SIZE_RANGE
    if not all(np.isfinite(v) and lo <= v <= hi for v in (w, h)):
        raise ValueError(f"{what} {w:g} {h:g}: width and height must be video sizes in pixels, {lo} to {hi}")
    return w, h


def _frame_extent(xy: np.ndarray) -> np.ndarray:
    """(T, K, 2) with NaN -> (T,) the larger side of each frame's bounding box (NaN for frames without points)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames
        return np.nanmax(np.nanmax(xy, axis=1) - np.nanmin(xy, axis=1), axis=-1)


def keypoint_warnings(keypoints, image_size) -> list[str]:
    """The reasons to doubt that ``keypoints`` (T, K, 2) are pixels of a video of ``image_size`` = (width,
    height), one sentence each; empty when they look plausible. Input of another shape or type gives no message
    here (the lifter's own checks report it)."""
    try:
        kp = np.asarray(keypoints, dtype=np.float64)
        w, h = _two_numbers(image_size)
    except (TypeError, ValueError):
        return []
    if kp.ndim != 3 or kp.shape[-1] != 2 or kp.size == 0 or not (w > 0 and h > 0 and np.isfinite(w * h)):
        return []
    out = []
    lo, hi = IMAGE_SIZE_RANGE
    if not (lo <= w <= hi and lo <= h <= hi):
        out.append(f"image size {w:g}x{h:g} is not a video size in pixels ({lo} to {hi} each); the keypoints are "
                   f"scaled by it, so the pose will be wrong")
    xy = kp[..., :2].copy()
    xy[~np.isfinite(xy).all(-1)] = np.nan
    pts = xy[np.isfinite(xy).all(-1)]
    if not len(pts):
        return out
    size = f"{w:g}x{h:g}"
    if not np.any(pts):
        return out + ["every keypoint is at (0, 0): an empty detection, nothing to lift"]
    extent = _frame_extent(xy)
    flat = np.nonzero(extent < DEGENERATE_PX)[0]
    if np.abs(pts).max() <= NORMALISED_LIMIT:
        out.append(f"all keypoints lie within [-{NORMALISED_LIMIT}, {NORMALISED_LIMIT}]: they look normalised, "
                   f"but the lifter expects pixels of the {size} image; scale them to pixels first")
    elif len(flat):
        out.append(f"{len(flat)} of {len(xy)} frames have all their keypoints at one point (first: frame "
                   f"{flat[0]}): no skeleton to lift there")
    else:
        def outside(x, y, width, height):
            return (x < -OUTSIDE_MARGIN * width) | (x > width * (1 + OUTSIDE_MARGIN)) | \
                (y < -OUTSIDE_MARGIN * height) | (y > height * (1 + OUTSIDE_MARGIN))

        share = outside(pts[:, 0], pts[:, 1], w, h).mean()
        if share > OUTSIDE_SHARE:
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            msg = (f"{share:.0%} of the keypoints lie outside the {size} image by more than "
                   f"{OUTSIDE_MARGIN:.0%} of its size (x {x0:.4g} to {x1:.4g}, y {y0:.4g} to {y1:.4g} px)")
            if outside(pts[:, 0], pts[:, 1], h, w).mean() <= OUTSIDE_SHARE / 2:
                msg += f"; width and height look swapped: they fit a {h:g}x{w:g} image (width first)"
            else:
                msg += "; check the image size (width, then height, in pixels) and that the keypoints are pixels"
            out.append(msg)
    return out


def no_skeleton(keypoints) -> str | None:
    """Why there is nothing to lift, when no frame of ``keypoints`` (T, K, 2+) holds a skeleton (every keypoint
    at (0, 0), or each frame's keypoints at one point); None otherwise. The command line refuses such input."""
    try:
        kp = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[-1] < 2 or kp.size == 0:
        return None
    xy = np.where(np.isfinite(kp[..., :2]).all(-1, keepdims=True), kp[..., :2], np.nan)
    pts = xy[np.isfinite(xy).all(-1)]
    if not len(pts):
        return None  # all missing: the lifter says so
    if not np.any(pts):
        return "every keypoint is at (0, 0): an empty detection, nothing to lift"
    extent = _frame_extent(xy)
    if not (extent[np.isfinite(extent)] >= DEGENERATE_PX).any():
        return "in every frame all keypoints are at one point: no skeleton, nothing to lift"
    return None


def check_keypoints(keypoints, image_size, stacklevel: int = 2) -> list[str]:
    """Warn (UserWarning) once per reason of :func:`keypoint_warnings`; returns the messages."""
    msgs = keypoint_warnings(keypoints, image_size)
    for m in msgs:
        warnings.warn(m, UserWarning, stacklevel=stacklevel + 1)
    return msgs


# Joints 1-4 seen from joint 0: COCO-17's eyes and ears around the nose (close), Human3.6M-17's right hip, knee,
# ankle and left hip around the pelvis (the ankle about half the body's height away).
_NEAR, _FAR = 0.12, 0.2


def guess_17_order(keypoints) -> str | None:
    """"coco" or "h36m" when the geometry of 17 keypoints (T, 17, 2+) tells their order clearly, else None.

    The median over frames of the farthest of joints 1-4 from joint 0, as a share of the skeleton's extent: below
    0.12 they are COCO's eyes and ears around the nose; above 0.2 Human3.6M's hips, knee and ankle around the
    pelvis. Crouching or foreshortened poses fall in between and give None."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[1] != 17 or kp.shape[-1] < 2:
        return None
    xy = kp[..., :2]
    extent = _frame_extent(np.where(np.isfinite(xy).all(-1, keepdims=True), xy, np.nan))
    far = np.linalg.norm(xy[:, 1:5] - xy[:, :1], axis=-1).max(-1)
    ok = np.isfinite(far) & np.isfinite(extent) & (extent > DEGENERATE_PX)
    if not ok.any():
        return None
    r = float(np.median(far[ok] / extent[ok]))
    return "coco" if r < _NEAR else "h36m" if r > _FAR else None


_NAMES = {"coco": "COCO-17 (nose, eyes, ears, shoulders, ...)", "h36m": "Human3.6M-17 (pelvis, hips, knees, ...)"}


def check_17_order(keypoints, assumed: str, source: str = "", stacklevel: int = 2) -> str | None:
    """Warn when 17 keypoints read as ``assumed`` ("coco" or "h36m") look like the other order; returns the
    message or None."""
    seen = guess_17_order(keypoints)
    if seen is None or seen == assumed or assumed not in _NAMES:
        return None
    why = ("joints 1-4 lie far from joint 0, like hips, knees and an ankle around the pelvis" if seen == "h36m" else
           "joints 1-4 sit right next to joint 0, like eyes and ears around the nose")
    msg = (f"{source + ': ' if source else ''}17 keypoints without a named format are read in "
           f"{_NAMES[assumed]} order, but they look like {_NAMES[seen]} order ({why}); if they are, pass "
           f"format=\"{seen}\"")
    warnings.warn(msg, UserWarning, stacklevel=stacklevel + 1)
    return msg
