"""2D keypoint formats: conversion to the 17 Human3.6M joints, and readers for files that other tools write.

Conversions take keypoints (T, K, 2|3|4) in pixels and optional scores (T, K). With 3 channels and no scores the
third channel is the score; with 4 (MediaPipe x, y, z, visibility) the fourth is. They return
(keypoints (T, 17, 2) float32, scores (T, 17) float32) in the H36M order of `hotpose.skeleton`.

Synthesised joints. COCO-17 follows the official HoT/MHFormer demo (SPEC §8) so the lifter sees what it was shown:
pelvis = mid-hips; thorax = mid-shoulders moved 1/3 toward the nose, then its y shifted by -2/3 (mean eye y - nose y);
spine = mean of shoulders and hips, with x pushed away from the pelvis/thorax mean (x2); neck = nose pulled 1/4
toward mid-shoulders; head x = mean of eyes and ears, head y = eye_y1 + eye_y2 - nose_y. BlazePose-33, OpenPose
BODY_25 / COCO-18 and the COCO part of COCO-WholeBody-133 are reordered to COCO-17 and mapped the same way.
Halpe-26 (and the body of Halpe-136) uses its own annotated joints: pelvis = "Hip", thorax = "Neck",
head = "Head" (top), spine = mid-point of pelvis and thorax, neck = nose pulled 1/4 toward the thorax.
Scores: a synthesised joint's score is the MEAN of its sources' scores, as in the official demo, which for COCO
takes pelvis = mean(hips), thorax = mean(shoulders), spine = mean(pelvis, thorax), head = mean(eyes, ears) and
neck = nose; for Halpe, spine = mean(Hip, Neck) and neck = mean(nose, Neck).

Missing keypoints: a keypoint exactly at (0, 0) with score 0 (OpenPose's and AlphaPose's "not found") becomes NaN,
and so does every frame without a person; the lifter interpolates NaNs.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np

from ..skeleton import NUM_JOINTS

__all__ = ["FORMATS", "to_h36m", "coco_to_h36m", "halpe_to_h36m", "blazepose_to_h36m", "body25_to_h36m",
           "load_keypoints", "select_people"]

# Number of keypoints of each supported format (h36m = already in our order).
FORMATS = {"coco": 17, "halpe": 26, "halpe136": 136, "wholebody": 133, "blazepose": 33, "body25": 25,
           "openpose18": 18, "h36m": 17}
_ALIASES = {"coco17": "coco", "coco-17": "coco", "halpe26": "halpe", "halpe-26": "halpe", "mediapipe": "blazepose",
            "blazepose33": "blazepose", "blazepose-33": "blazepose", "body_25": "body25", "openpose": "body25",
            "coco18": "openpose18", "h36m17": "h36m", "human36m": "h36m", "coco-wholebody": "wholebody",
            "halpe-136": "halpe136"}
_BY_COUNT = {17: "coco", 26: "halpe", 136: "halpe136", 133: "wholebody", 33: "blazepose", 25: "body25",
             18: "openpose18"}

# COCO-17 index of each H36M joint copied directly (H36M index -> COCO index).
_H36M_FROM_COCO = {1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 9: 0, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10}
# Source index, in each format, of the 17 COCO keypoints (nose, l/r eye, l/r ear, l/r shoulder, ..., l/r ankle).
_COCO_FROM = {
    "blazepose": [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28],
    "body25": [0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11],
    "openpose18": [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10],
    "wholebody": list(range(17)),
}


def canonical_format(fmt: str | None, num_keypoints: int | None = None) -> str:
    """Normalise a format name, or guess it from the keypoint count (17 is taken as COCO-17)."""
    if fmt is None:
        if num_keypoints not in _BY_COUNT:
            raise ValueError(f"cannot tell the keypoint format of {num_keypoints} keypoints; pass format= one of "
                             f"{', '.join(sorted(FORMATS))}")
        return _BY_COUNT[num_keypoints]
    name = _ALIASES.get(str(fmt).lower(), str(fmt).lower())
    if name not in FORMATS:
        raise ValueError(f"unknown keypoint format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    if num_keypoints is not None and num_keypoints != FORMATS[name]:
        raise ValueError(f"format {name!r} has {FORMATS[name]} keypoints, got {num_keypoints}")
    return name


def _split(keypoints, scores=None, num: int | None = None):
    """Validate and split into xy (T, K, 2) float64 and scores (T, K) float64."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3, 4):
        raise ValueError(f"keypoints must be (T, K, 2|3|4), got shape {kp.shape}")
    if num is not None and kp.shape[1] != num:
        raise ValueError(f"expected {num} keypoints, got {kp.shape[1]}")
    if scores is None:
        sc = kp[..., -1] if kp.shape[-1] in (3, 4) else np.ones(kp.shape[:2])
    else:
        sc = np.asarray(scores, dtype=np.float64).reshape(kp.shape[:2])
    xy = kp[..., :2].copy()
    xy[(xy == 0).all(-1) & ~(sc > 0)] = np.nan  # "(0, 0) with score 0" = not found
    return xy, sc.copy()


def _out(xy, sc):
    return xy.astype(np.float32), sc.astype(np.float32)


def coco_to_h36m(keypoints, scores=None):
    """COCO-17 (T, 17, 2|3) pixels -> H36M-17, as in the official demo (see module docstring)."""
    k, s = _split(keypoints, scores, 17)
    out = np.full((k.shape[0], NUM_JOINTS, 2), np.nan)
    osc = np.zeros((k.shape[0], NUM_JOINTS))
    for h, c in _H36M_FROM_COCO.items():
        out[:, h], osc[:, h] = k[:, c], s[:, c]
    mid_sh, mid_hip = k[:, 5:7].mean(1), k[:, 11:13].mean(1)
    out[:, 0] = mid_hip
    thorax = mid_sh + (k[:, 0] - mid_sh) / 3
    out[:, 7] = k[:, [5, 6, 11, 12]].mean(1)
    out[:, 7, 0] += 2 * (out[:, 7, 0] - (mid_hip[:, 0] + thorax[:, 0]) / 2)
    eye_minus_nose_y = k[:, 1:3, 1].mean(1) - k[:, 0, 1]
    thorax[:, 1] -= 2 / 3 * eye_minus_nose_y
    out[:, 8] = thorax
    out[:, 9] = k[:, 0] - (k[:, 0] - mid_sh) / 4
    out[:, 10, 0] = k[:, 1:5, 0].mean(1)
    out[:, 10, 1] = k[:, 1, 1] + k[:, 2, 1] - k[:, 0, 1]
    osc[:, 0] = s[:, [11, 12]].mean(1)
    osc[:, 8] = s[:, [5, 6]].mean(1)
    osc[:, 7] = (osc[:, 0] + osc[:, 8]) / 2
    osc[:, 10] = s[:, 1:5].mean(1)
    return _out(out, osc)


def halpe_to_h36m(keypoints, scores=None):
    """Halpe-26 (T, 26, 2|3) pixels -> H36M-17 using Halpe's own Head/Neck/Hip (see module docstring)."""
    k, s = _split(keypoints, scores, 26)
    out = np.full((k.shape[0], NUM_JOINTS, 2), np.nan)
    osc = np.zeros((k.shape[0], NUM_JOINTS))
    for h, c in _H36M_FROM_COCO.items():
        out[:, h], osc[:, h] = k[:, c], s[:, c]
    out[:, 0], osc[:, 0] = k[:, 19], s[:, 19]
    out[:, 8], osc[:, 8] = k[:, 18], s[:, 18]
    out[:, 10], osc[:, 10] = k[:, 17], s[:, 17]
    out[:, 7], osc[:, 7] = (k[:, 19] + k[:, 18]) / 2, (s[:, 19] + s[:, 18]) / 2
    out[:, 9] = k[:, 0] + (k[:, 18] - k[:, 0]) / 4
    osc[:, 9] = (s[:, 0] + s[:, 18]) / 2
    return _out(out, osc)


def _via_coco(name: str):
    def convert(keypoints, scores=None):
        k, s = _split(keypoints, scores, FORMATS[name])
        idx = _COCO_FROM[name]
        return coco_to_h36m(k[:, idx], s[:, idx])
    convert.__name__ = f"{name}_to_h36m"
    convert.__doc__ = f"{name} (T, {FORMATS[name]}, 2|3) pixels -> COCO-17 -> H36M-17 (see module docstring)."
    return convert


blazepose_to_h36m = _via_coco("blazepose")
body25_to_h36m = _via_coco("body25")


def to_h36m(keypoints, scores=None, format: str | None = None):
    """Any supported format (T, K, 2|3|4) -> (keypoints (T, 17, 2) float32, scores (T, 17) float32)."""
    kp = np.asarray(keypoints)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3:
        raise ValueError(f"keypoints must be (T, K, 2|3|4), got shape {kp.shape}")
    name = canonical_format(format, kp.shape[1])
    if name == "h36m":
        return _out(*_split(kp, scores, 17))
    if name == "coco":
        return coco_to_h36m(kp, scores)
    if name in ("halpe", "halpe136"):
        k, s = _split(kp, scores)
        return halpe_to_h36m(k[:, :26], s[:, :26])
    return _via_coco(name)(kp, scores)


# ----------------------------------------------------------------------------------------------------- readers

def select_people(frames: list[list[tuple[np.ndarray, float]]], rule: str = "track") -> list[int | None]:
    """Pick one person per frame. frames[t] = [(keypoints (K, 3), score), ...]. Returns an index or None per frame.

    rule "score": the highest score in each frame. rule "track" (default): the highest score in the first frame
    with anyone, then the person whose mean keypoint distance to the last chosen person is smallest."""
    if rule not in ("score", "track"):
        raise ValueError(f"unknown selection rule {rule!r}; use 'score' or 'track'")
    chosen, last = [], None
    for people in frames:
        if not people:
            chosen.append(None)
            continue
        if rule == "score" or last is None:
            i = int(np.argmax([p[1] for p in people]))
        else:
            dist = [np.nanmean(np.linalg.norm(p[0][:, :2] - last[:, :2], axis=-1))
                    if np.isfinite(p[0][:, :2] - last[:, :2]).any() else np.inf for p in people]
            i = int(np.argmin(dist))
        chosen.append(i)
        last = people[i][0]
    return chosen


def _frame_number(value, fallback: int) -> int | str:
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        nums = re.findall(r"\d+", Path(value).stem)
        return int(nums[-1]) if nums else value
    return fallback


def _stack(frames, fmt, rule):
    """frames: list (per frame) of [(flat or (K, C) keypoints, score)] -> H36M arrays, NaN where nobody."""
    people = [[(np.asarray(kp, dtype=np.float64), sc) for kp, sc in f] for f in frames]
    counts = {p[0].shape[0] for f in people for p in f}
    if not counts:
        raise ValueError("the file holds no person in any frame")
    if len(counts) > 1:
        raise ValueError(f"people with different keypoint counts in one file: {sorted(counts)}")
    k = counts.pop()
    for f in people:
        for i, (kp, sc) in enumerate(f):
            xy, s = _split(kp[None])
            f[i] = (np.concatenate([xy[0], s[0, :, None]], -1), sc)
    pick = select_people(people, rule)
    raw = np.full((len(frames), k, 3), np.nan)
    for t, i in enumerate(pick):
        if i is not None:
            raw[t] = people[t][i][0]
    sc = np.nan_to_num(raw[..., 2])
    kp, scores = to_h36m(raw[..., :2], sc, fmt)
    kp[[i is None for i in pick]] = np.nan
    scores[[i is None for i in pick]] = 0
    return kp, scores


def _flat_to_kc(values, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 1:
        if a.size % 3:
            raise ValueError(f"{what}: keypoint list of {a.size} values is not a multiple of 3 (x, y, score)")
        a = a.reshape(-1, 3)
    return a


def _read_coco_json(data, fmt, rule):
    """COCO/AlphaPose results (list of detections) or mmpose per-frame predictions (list of {frame_id, instances})."""
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ValueError("JSON is not a list of detection objects")
    by_frame: dict = {}
    for n, d in enumerate(data):
        if "instances" in d:  # mmpose: one entry per frame
            t = _frame_number(d.get("frame_id", d.get("frame", n)), n)
            for inst in d["instances"]:
                kp = np.asarray(inst["keypoints"], dtype=np.float64)
                s = np.asarray(inst.get("keypoint_scores", np.ones(len(kp))), dtype=np.float64)
                score = float(inst.get("bbox_score", np.mean(s)))
                by_frame.setdefault(t, []).append((np.concatenate([kp[:, :2], s[:, None]], -1), score))
            by_frame.setdefault(t, [])
            continue
        if "keypoints" not in d:
            raise ValueError(f"JSON entry {n} has no 'keypoints'")
        if d.get("category_id", 1) != 1:
            continue
        key = next((k for k in ("image_id", "frame_id", "frame", "frame_index", "frame_idx") if k in d), None)
        t = _frame_number(d[key], n) if key else n
        kp = _flat_to_kc(d["keypoints"], f"JSON entry {n}")
        score = float(d.get("score", np.nanmean(kp[:, 2])))
        by_frame.setdefault(t, []).append((kp, score))
    if not by_frame:
        raise ValueError("JSON holds no person detections")
    keys = list(by_frame)
    if all(isinstance(k, int) for k in keys):
        if min(keys) < 0:
            raise ValueError("negative frame numbers in JSON")
        frames = [by_frame.get(t, []) for t in range(max(keys) + 1)]
    else:  # names without numbers: natural sort
        keys.sort(key=lambda s: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(s))])
        frames = [by_frame[k] for k in keys]
    return _stack(frames, fmt, rule)


def _read_openpose_dir(folder: Path, fmt, rule):
    """OpenPose --write_json folder: one <video>_<000000000012>_keypoints.json per frame."""
    files = sorted(folder.glob("*.json"), key=lambda p: _frame_number(p.name.replace("_keypoints", ""), 0))
    if not files:
        raise ValueError(f"no .json files in folder {folder}")
    frames = []
    for f in files:
        try:
            people = _read_json(f)["people"]
        except ValueError as e:
            raise ValueError(f"{f.name}: {e}") from None
        except (KeyError, TypeError) as e:
            raise ValueError(f"{f.name} is not an OpenPose keypoint file ({e.__class__.__name__})") from None
        dets = []
        for p in people:
            kp = _flat_to_kc(p["pose_keypoints_2d"], f.name)
            if kp.size:
                dets.append((kp, float(np.mean(kp[:, 2]))))
        frames.append(dets)
    return _stack(frames, fmt, rule)


def _open_npz(path: Path):
    """np.load of an npz, with a plain reason when the file is not one (empty, text, a lone .npy, damaged)."""
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise ValueError("empty file")
    if head.startswith(b"\x93NUMPY"):
        raise ValueError("not an npz archive (it is a single .npy array; save with np.savez(name, keypoints=...))")
    if not head.startswith(b"PK"):
        kind = "it starts like text" if all(32 <= c < 127 or c in b"\t\r\n" for c in head) else \
            f"it starts with bytes {head[:4]!r}, not a zip header"
        raise ValueError(f"not an npz archive ({kind})")
    try:
        return np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"not an npz archive (damaged zip: {e})") from None


def _array(z, key: str) -> np.ndarray:
    try:
        return z[key]
    except ValueError as e:
        if "pickle" in str(e):
            raise ValueError(f"array {key!r} holds Python objects, not numbers (save numeric arrays)") from None
        raise ValueError(f"array {key!r} cannot be read: {e}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f"array {key!r} cannot be read (damaged archive: {e})") from None


def _read_npz(path: Path, fmt, unlabelled_17: str):
    """npz with `keypoints` (T, K, 2|3) [+ `scores` (T, K), `format`], or hotpose's own `keypoints_2d` (H36M)."""
    with _open_npz(path) as z:
        if "keypoints_2d" in z and "keypoints" not in z:
            kp, sc, fmt = _array(z, "keypoints_2d"), _array(z, "scores") if "scores" in z else None, fmt or "h36m"
        elif "keypoints" in z:
            kp, sc = _array(z, "keypoints"), _array(z, "scores") if "scores" in z else None
            if fmt is None and "format" in z:
                fmt = str(_array(z, "format"))
        else:
            raise ValueError(f"npz has no 'keypoints' or 'keypoints_2d' array (keys: {sorted(z.files)})")
    return _plain(kp, sc, fmt, unlabelled_17, path.name)


def _plain(kp, sc, fmt, unlabelled_17: str, source: str = ""):
    """Keypoints given frame by frame (T, K, 2|3), null / NaN where missing -> H36M; a 17-keypoint array whose
    format is not given is taken to be ``unlabelled_17``, with a warning when its geometry looks like the other
    17-keypoint order."""
    if isinstance(kp, list):
        kp = [[[np.nan, np.nan] if q is None else q for q in f] for f in kp]
    kp = np.asarray(kp, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[0] < 1:
        raise ValueError(f"keypoints must have shape (T, K, 2|3) with T >= 1, got {kp.shape}")
    if sc is not None:
        sc = np.array(sc, dtype=np.float64)  # null scores -> NaN
    if fmt is None and kp.shape[1] == 17:
        fmt = canonical_format(unlabelled_17, 17)
        from .checks import check_17_order
        check_17_order(kp, fmt, source, stacklevel=4)
    return to_h36m(kp, sc, fmt)


def _read_plain_json(data, fmt, unlabelled_17: str, source: str = ""):
    """A list of frames of [x, y] pairs (null: missing), or an object holding one under `keypoints` (+ `scores`,
    `format`) or `keypoints_2d` (the JSON twin that `hotpose infer` writes, H36M order)."""
    if isinstance(data, list):
        return _plain(data, None, fmt, unlabelled_17, source)
    key = "keypoints" if "keypoints" in data else "keypoints_2d"
    fmt = fmt or data.get("format") or ("h36m" if key == "keypoints_2d" else None)
    return _plain(data[key], data.get("scores"), fmt, unlabelled_17, source)


def _read_json(path: Path):
    """Parse a JSON file; errors name the line and column."""
    text = path.read_bytes()
    if not text.strip():
        raise ValueError("empty file")
    try:
        return json.loads(text.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ValueError("not valid JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON (line {e.lineno} column {e.colno}: {e.msg})") from None


def load_keypoints(path, format: str | None = None, select: str = "track", unlabelled_17: str = "coco"):
    """Read a keypoint file and convert it to H36M-17.

    path: a COCO-style / AlphaPose results JSON (list of {"image_id", "keypoints": [x, y, s, ...], "score",
    "category_id"}; the frame is the number in image_id, e.g. "12.jpg" -> 12, frames 0..max), an mmpose predictions
    JSON (list of {"frame_id", "instances"}), an OpenPose per-frame JSON folder (BODY_25 or COCO-18
    "pose_keypoints_2d"), an npz (`keypoints` (T, K, 2|3), optional `scores` (T, K) and `format`; or the
    `keypoints_2d` of `hotpose infer`'s outputs), or a plain JSON: a list of frames of [x, y] pairs (null for a
    missing keypoint), or an object with that list under `keypoints` (optional `scores`, `format`) or
    `keypoints_2d`.
    format: keypoint format override (see FORMATS); by default the file's own `format`, else guessed from the
    keypoint count.
    select: "track" or "score", how one person is picked per frame (see `select_people`).
    unlabelled_17: what a 17-keypoint npz or plain JSON that does not name its format is taken to be: "coco" (the
    usual detector output, and what `hotpose lift` assumes too); a UserWarning says so when the geometry looks like
    the other order (Human3.6M's pelvis, hips, knees and ankles instead of COCO's nose, eyes and ears; see
    `hotpose.video.checks.guess_17_order`). COCO-style results and OpenPose folders are always COCO / OpenPose
    layouts; hotpose's own `keypoints_2d` is Human3.6M order.
    Returns keypoints (T, 17, 2) float32 pixels and scores (T, 17) float32; frames without a person are NaN.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"keypoint file not found: {p}")
    if format is not None:
        canonical_format(format)
    canonical_format(unlabelled_17, 17)
    try:
        if p.is_dir():
            return _read_openpose_dir(p, format, select)
        if p.suffix.lower() == ".npz":
            return _read_npz(p, format, unlabelled_17)
        if p.suffix.lower() == ".json":
            data = _read_json(p)
            if isinstance(data, dict) and "people" in data:
                return _stack([[(_flat_to_kc(q["pose_keypoints_2d"], p.name), 1.0) for q in data["people"]]],
                              format, select)
            if ((isinstance(data, list) and data and (data[0] is None or isinstance(data[0], list)))
                    or (isinstance(data, dict) and ({"keypoints", "keypoints_2d"} & set(data)))):
                return _read_plain_json(data, format, unlabelled_17, p.name)
            return _read_coco_json(data, format, select)
    except (ValueError, KeyError, TypeError, OSError) as e:
        msg = f"missing key {e.args[0]!r}" if isinstance(e, KeyError) and e.args else e
        raise ValueError(f"cannot read keypoints from {p}: {msg}") from None
    raise ValueError(f"cannot read keypoints from {p}: unknown layout (expected .json, .npz or an OpenPose folder)")
