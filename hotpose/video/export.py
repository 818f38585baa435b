"""Per-video outputs: `<name>.npz` and its JSON twin.

Keys (both files): `keypoints_2d` (T, 17, 2) pixels, H36M order; `scores` (T, 17) in [0, 1]; `pose_3d` (T, 17, 3)
metres, camera convention (x right, y down, z away), as the lifter returns it; `fps` (float); `image_size` (width,
height) pixels; `joint_names` (17,) and `parents` (17,) of hotpose.skeleton; `units` {"keypoints_2d": "pixel",
"pose_3d": "metre"}. The JSON holds nested lists (T x 17 x C) with NaN written as null, plus `num_frames`.
`pose_3d_raw` (T, 17, 3), when given: the lifter's own output, where `pose_3d` is a fitted skeleton; `valid` (T,)
bool, when given: frames that are not inside a long gap without a person (both as ``hotpose infer`` writes them);
`source` (a string), when given: the path of the video.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..fileio import atomic_savez, atomic_write_bytes
from ..skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

__all__ = ["save_outputs"]

UNITS = {"keypoints_2d": "pixel", "pose_3d": "metre", "pose_3d_raw": "metre"}


def _nested(a: np.ndarray):
    """Array -> nested lists of floats with NaN/inf as None (JSON null)."""
    return [_nested(x) for x in a] if a.ndim else (float(a) if math.isfinite(a) else None)


def save_outputs(out_dir, name: str, keypoints_2d, scores, pose_3d, fps: float, image_size,
                 pose_3d_raw=None, valid=None, paths: tuple | None = None, source: str | None = None
                 ) -> tuple[Path, Path]:
    """Write DIR/<name>.npz and DIR/<name>.json (keys in the module docstring), each atomically (a temporary name,
    then renamed); returns both paths. ``paths``: (npz, json) file names to write instead (e.g. temporary names
    of a caller that renames them itself). ``source``: the video the keypoints came from (its path; ``hotpose
    view`` shows its frames)."""
    kp = np.asarray(keypoints_2d, dtype=np.float32)
    sc = np.asarray(scores, dtype=np.float32)
    p3 = np.asarray(pose_3d, dtype=np.float32)
    extra = {}  # optional keys, written after the others
    if pose_3d_raw is not None:
        extra["pose_3d_raw"] = np.asarray(pose_3d_raw, dtype=np.float32)
    if valid is not None:
        extra["valid"] = np.asarray(valid, dtype=bool)
    if source is not None:
        extra["source"] = np.array(str(source))
    t = kp.shape[0] if kp.ndim else 0
    if kp.shape != (t, NUM_JOINTS, 2) or sc.shape != (t, NUM_JOINTS) or p3.shape != (t, NUM_JOINTS, 3) or \
            extra.get("pose_3d_raw", p3).shape != p3.shape or extra.get("valid", np.zeros(t)).shape != (t,):
        raise ValueError(f"expected keypoints_2d (T,17,2), scores (T,17), pose_3d (T,17,3) (pose_3d_raw as "
                         f"pose_3d, valid (T,)) with one T, got {kp.shape}, {sc.shape}, {p3.shape}"
                         + "".join(f", {k} {v.shape}" for k, v in extra.items()))
    size = np.asarray(image_size, dtype=np.int64).reshape(-1)
    if size.shape != (2,) or (size <= 0).any():
        raise ValueError(f"image_size must be (width, height) > 0, got {image_size}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    if not name or Path(name).name != name:
        raise ValueError(f"name must be a plain file stem, got {name!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    npz, js = (Path(paths[0]), Path(paths[1])) if paths else (out / f"{name}.npz", out / f"{name}.json")
    atomic_savez(npz, dict(keypoints_2d=kp, scores=sc, pose_3d=p3, fps=np.float64(fps), image_size=size,
                           joint_names=np.array(JOINT_NAMES), parents=np.array(PARENTS), **extra), compressed=True)
    units = {k: v for k, v in UNITS.items() if k != "pose_3d_raw" or "pose_3d_raw" in extra}
    doc = {"name": name, "fps": float(fps), "image_size": [int(v) for v in size], "num_frames": t,
           "joint_names": list(JOINT_NAMES), "parents": list(PARENTS), "units": units,
           "keypoints_2d": _nested(kp), "scores": _nested(sc), "pose_3d": _nested(p3),
           **{k: [bool(b) for b in v] if k == "valid" else str(v) if k == "source" else _nested(v)
              for k, v in extra.items()}}
    atomic_write_bytes(js, json.dumps(doc, separators=(",", ":")).encode())
    return npz, js
