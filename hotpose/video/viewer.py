"""An interactive viewer of a result: one self-contained HTML file that works offline in any browser.

The page (``viewer_assets/``: HTML, CSS and a small canvas-2D renderer written for this package, no library) shows
the 3D skeletons (left blue, right red, floor grid; drag to turn, wheel to zoom) beside the 2D keypoints over the
video's frames, with play/pause, a frame slider and the playback speed. Several people (several results, or a
result whose arrays carry a leading person axis) are shown together, each placed across the floor by the position
of its 2D root in the picture (scaled by its height in pixels against its height in metres), which can be turned
off. Everything is inside the file: the motion as JSON (millimetres, tenths of a pixel) and, when the video is
known, a strip of at most ``max_images`` low-resolution JPEG frames, evenly spaced (each is shown until the next).

3D: the camera-frame poses (x right, y down, z away) are turned upright as the rendered video does
(:func:`hotpose.video.render.upright_rotation`), then flipped to y up and z towards the camera, with the floor at
the lowest feet (1st percentile of the ankles' height over the sequence).
"""
from __future__ import annotations

import base64
import html as html_lib
import json
import math
import time
import warnings
from importlib import resources
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_bytes
from ..skeleton import LEFT, NUM_JOINTS, PARENTS, RIGHT
from .render import upright_rotation

__all__ = ["viewer_html", "write_viewer", "load_result", "frame_strip", "run_view", "MAX_IMAGES", "IMAGE_HEIGHT"]

MAX_IMAGES = 400  # video frames embedded at most (evenly spaced)
IMAGE_HEIGHT = 180  # their height in pixels
JPEG_QUALITY = 70
_ANKLES = (3, 6)


def _asset(name: str) -> str:
    return (resources.files("hotpose.video") / "viewer_assets" / name).read_text(encoding="utf-8")


def _flat(a: np.ndarray, scale: float) -> list:
    """Array -> flat list of ints (``a * scale`` rounded), None where not finite."""
    v = np.asarray(a, np.float64).reshape(-1) * scale
    ok = np.isfinite(v)
    out = np.where(ok, np.round(np.where(ok, v, 0)), 0).astype(np.int64).tolist()
    return [x if k else None for x, k in zip(out, ok.tolist())]


def _person(p: dict, image_size, index: int) -> dict:
    """One person's arrays -> the page's JSON (y up, floor at 0, x offset from the 2D position)."""
    pose = np.asarray(p["pose_3d"], np.float64)
    t = len(pose)
    valid = np.ones(t, bool) if p.get("valid") is None else np.asarray(p["valid"], bool)
    kp = None if p.get("keypoints_2d") is None else np.asarray(p["keypoints_2d"], np.float64)
    rot = upright_rotation(pose[valid] if valid.any() else pose)
    world = pose @ rot.T * np.array([1.0, -1.0, -1.0])  # y up, z towards the camera
    feet = world[:, list(_ANKLES), 1]
    feet = feet[np.isfinite(feet)]
    world[..., 1] -= float(np.percentile(feet, 1)) if len(feet) else 0.0
    offset = np.full(t, np.nan)
    if kp is not None:  # metres per pixel: the person's height in metres over its height in pixels
        with warnings.catch_warnings():  # all-NaN frames (no person) give NaN heights, left out below
            warnings.simplefilter("ignore", RuntimeWarning)
            h3 = np.nanmax(world[..., 1], 1) - np.nanmin(world[..., 1], 1)
            h2 = np.nanmax(kp[..., 1], 1) - np.nanmin(kp[..., 1], 1)
            ok = np.isfinite(h3) & np.isfinite(h2) & (h2 > 1)
            if ok.any():
                scale = float(np.median(h3[ok]) / np.median(h2[ok]))
                offset = (kp[:, 0, 0] - float(image_size[0]) / 2) * scale
    return {"name": str(p.get("name") or f"person {index + 1}"),
            "pose": _flat(world, 1000.0),
            "kp": None if kp is None else _flat(kp, 10.0),
            "valid": "".join("1" if v else "0" for v in valid.tolist()),
            "offset": _flat(offset, 1000.0)}


def frame_strip(video, num_frames: int, max_images: int = MAX_IMAGES, height: int = IMAGE_HEIGHT,
                timer: dict | None = None) -> tuple[list[str], list[int]]:
    """At most ``max_images`` frames of ``video`` among its first ``num_frames``, evenly spaced, as JPEG data URLs
    ``height`` pixels high, and the frame index of each. Decoding time is added to ``timer["decode"]``."""
    from .detect import require

    cv2 = require("cv2")
    n = max(1, min(int(max_images), int(num_frames)))
    wanted = np.unique(np.round(np.linspace(0, num_frames - 1, n)).astype(np.int64)).tolist() if num_frames else []
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {video}")
    urls, frames = [], []
    try:
        k = 0
        for i in range(num_frames):
            if k >= len(wanted):
                break
            t0 = time.perf_counter()
            if i != wanted[k]:
                ok = cap.grab()
                bgr = None
            else:
                ok, bgr = cap.read()
            if timer is not None:
                timer["decode"] = timer.get("decode", 0.0) + time.perf_counter() - t0
            if not ok:
                break
            if bgr is None:
                continue
            w = max(2, int(round(bgr.shape[1] * height / bgr.shape[0])))
            small = cv2.resize(bgr, (w, height), interpolation=cv2.INTER_AREA)
            ok, jpg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if ok:
                urls.append("data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode("ascii"))
                frames.append(i)
            k += 1
    finally:
        cap.release()
    return urls, frames


def viewer_html(people: list[dict], fps: float, image_size, title: str = "hotpose", images=(),
                image_frames=()) -> str:
    """The page for ``people``: dicts with ``pose_3d`` (T, 17, 3) metres (camera frame), optional
    ``keypoints_2d`` (T, 17, 2) pixels, ``valid`` (T,) bool and ``name``; all of one length T. ``images``: JPEG
    data URLs showing frames ``image_frames`` (ascending) of the video."""
    if not people:
        raise ValueError("nothing to show: no person")
    lengths = {len(p["pose_3d"]) for p in people}
    if len(lengths) != 1:
        raise ValueError(f"the people have different frame counts {sorted(lengths)}; results shown together must "
                         f"come from one video")
    data = {"title": title, "fps": float(fps), "num_frames": lengths.pop(),
            "image_size": [int(image_size[0]), int(image_size[1])], "parents": list(PARENTS), "left": list(LEFT),
            "right": list(RIGHT), "people": [_person(p, image_size, i) for i, p in enumerate(people)],
            "images": list(images), "image_frames": [int(i) for i in image_frames]}
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    page = _asset("viewer.html")
    for key, value in (("/*__CSS__*/", _asset("viewer.css")), ("/*__JS__*/", _asset("viewer.js")),
                       ("__TITLE__", html_lib.escape(title)), ("__DATA__", text)):
        page = page.replace(key, value, 1)
    return page


def write_viewer(path, people: list[dict], fps: float, image_size, video=None, title: str | None = None,
                 max_images: int = MAX_IMAGES, image_height: int = IMAGE_HEIGHT, timer: dict | None = None) -> Path:
    """Write the viewer of ``people`` (see :func:`viewer_html`) to ``path`` atomically; with ``video``, its frame
    strip is embedded (``max_images`` 0: none)."""
    images, frames = ([], [])
    t = len(people[0]["pose_3d"]) if people else 0
    if video is not None and max_images > 0:
        images, frames = frame_strip(video, t, max_images, image_height, timer)
    title = title or ", ".join(str(p.get("name", "")) for p in people) or Path(path).stem
    atomic_write_bytes(path, viewer_html(people, fps, image_size, title, images, frames).encode("utf-8"))
    return Path(path)


def load_result(path) -> tuple[list[dict], float, tuple[int, int], str | None]:
    """Read a result npz (``hotpose infer``'s, ``hotpose lift``'s, or any with ``pose_3d`` (T, 17, 3) or
    (P, T, 17, 3) metres): -> (people, fps, image_size, source video or None). Missing ``fps`` is 30 and missing
    ``image_size`` is taken from the keypoints. Raises ValueError saying what is wrong with the file."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a result npz")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception:  # noqa: BLE001 - numpy raises several types for files that are no npz
        raise ValueError(f"{path} is not a readable npz file (expected a result of hotpose infer or lift)") \
            from None
    if "pose_3d" not in arrays:
        raise ValueError(f"{path} holds no pose_3d (it has {', '.join(sorted(arrays)) or 'no arrays'}); expected "
                         f"a result of hotpose infer or lift")
    pose = arrays["pose_3d"]
    if pose.ndim == 3:
        pose = pose[None]
    if pose.ndim != 4 or pose.shape[2:] != (NUM_JOINTS, 3) or pose.shape[1] == 0 or \
            not np.issubdtype(pose.dtype, np.number):
        raise ValueError(f"{path}: pose_3d has shape {arrays['pose_3d'].shape}; expected (T, 17, 3) or "
                         f"(P, T, 17, 3) with T > 0")
    if not np.isfinite(pose).any():
        raise ValueError(f"{path}: pose_3d holds no finite value")
    people_n, t = pose.shape[:2]
    kp = arrays.get("keypoints_2d")
    if kp is not None:
        kp = kp[None] if kp.ndim == 3 else kp
        if kp.shape != (people_n, t, NUM_JOINTS, 2):
            raise ValueError(f"{path}: keypoints_2d has shape {arrays['keypoints_2d'].shape}, which does not match "
                             f"pose_3d {arrays['pose_3d'].shape}")
    valid = arrays.get("valid")
    if valid is not None:
        valid = valid[None] if valid.ndim == 1 else valid
        if valid.shape != (people_n, t):
            raise ValueError(f"{path}: valid has shape {arrays['valid'].shape}; expected one flag per frame")
    fps = float(arrays["fps"]) if "fps" in arrays and np.size(arrays["fps"]) == 1 else 30.0
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"{path}: fps is {fps}; expected a positive number")
    if "image_size" in arrays and np.size(arrays["image_size"]) == 2:
        size = tuple(int(v) for v in np.asarray(arrays["image_size"]).reshape(-1))
    elif kp is not None and np.isfinite(kp).any():
        size = (int(np.nanmax(kp[..., 0])) + 1, int(np.nanmax(kp[..., 1])) + 1)
    else:
        size = (1920, 1080)
    source = str(arrays["source"]) if "source" in arrays and arrays["source"].ndim == 0 else None
    stem = path.stem
    people = [{"name": stem if people_n == 1 else f"{stem} #{i + 1}", "pose_3d": pose[i],
               "keypoints_2d": None if kp is None else kp[i], "valid": None if valid is None else valid[i]}
              for i in range(people_n)]
    return people, fps, size, source or None


def run_view(results, out=None, video=None, overwrite: bool = False, max_images: int | None = None) -> int:
    """``hotpose view``: write the viewer of one or more result npz files (shown together: people of one video).
    Everything the user can get wrong (the files, the output, the video) is checked before any work; a problem
    is a ValueError (exit status 2)."""
    import sys

    from ..fileio import check_output

    paths = [Path(r) for r in results]
    people, fps, size, source = [], None, None, None
    for p in paths:
        more, f, s, src = load_result(p)
        if people and len(more[0]["pose_3d"]) != len(people[0]["pose_3d"]):
            raise ValueError(f"{p} has {len(more[0]['pose_3d'])} frames, {paths[0]} {len(people[0]['pose_3d'])}: "
                             f"results shown together must come from one video")
        people += more
        fps, size, source = fps or f, size or s, source or src
    given = video is not None
    if given:
        if not Path(video).is_file():
            raise ValueError(f"--video {video}: " + ("is a folder, not a video" if Path(video).is_dir()
                                                      else "no such file"))
    elif source is not None and Path(source).is_file():
        video = source
    out = check_output(out or paths[0].with_suffix(".html"), tuple(paths) + ((video,) if video else ()), overwrite)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--out {out}: the viewer is an HTML page; give a name ending in .html")
    if video is not None:
        from .detect import require
        try:
            require("cv2")
        except ImportError as e:
            hint = str(e).split("Install it with: ")[-1]
            if given:
                raise ValueError(f"showing the frames of --video {video} needs OpenCV: {hint}") from None
            print(f"hotpose view: warning: the page shows no frames of {video} (the video of the result): that "
                  f"needs OpenCV: {hint}", file=sys.stderr)
            video = None
    n = MAX_IMAGES if max_images is None else max_images
    try:
        write_viewer(out, people, fps, size, video=video, max_images=n)
    except OSError as e:
        raise OSError(e.errno, f"cannot write it: {e.strerror or e}", str(out)) from None
    frames = len(people[0]["pose_3d"])
    what = f"{len(people)} {'person' if len(people) == 1 else 'people'}, {frames} frames"
    what += f", frames of {video}" if video is not None else ", no video frames"
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB; {what}): open it in a browser", file=sys.stderr)
    return 0
