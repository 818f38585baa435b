"""Human3.6M in the VideoPose3D layout (SPEC section 5).

``data_3d_h36m.npz``: key ``positions_3d`` = {subject: {action: (T, 32 | 17, 3) world metres}}.
``data_2d_h36m_<keypoints>.npz``: key ``positions_2d`` = {subject: {action: [4 x (T', 17, 2 | 3) pixels]}} in the
camera order of the camera file, plus optional ``metadata`` with ``keypoints_symmetry``. Detections longer than the
mocap are cut to its length. The ground-truth 2D file (``data_2d_h36m_gt.npz``) is read only when it is the chosen
input (``keypoints="gt"``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hotpose.data.cameras import CameraSet, load_cameras
from hotpose.data.io import DataError, check_poses, load_npz, need_dict, pick
from hotpose.data.sequence import Sequence, camera_targets, filter_actions, to_17_joints
from hotpose.skeleton import LEFT, RIGHT

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")


def load_positions_3d(path: str | Path, subjects=None) -> dict[str, dict[str, np.ndarray]]:
    """{subject: {action: (T, 17, 3) float32 world metres}} for ``subjects`` (None: all) from a VideoPose3D-layout
    3D file; 32-joint mocap is reduced to the 17 joints."""
    data = need_dict(load_npz(path, ("positions_3d",))["positions_3d"], f"{path}: positions_3d")
    out = {}
    for s in pick(data, subjects, f"{path}: subject(s)"):
        actions = need_dict(data[s], f"{path}: positions_3d[{s!r}]")
        out[s] = {a: to_17_joints(check_poses(v, f"{path}: {s}/{a}", 3, (17, 32))) for a, v in actions.items()}
    return out


def load_positions_2d(path: str | Path, subjects=None) -> dict[str, dict[str, list[np.ndarray]]]:
    """{subject: {action: [per camera (T', 17, 2 | 3) float32 pixels]}} from a VideoPose3D-layout 2D file."""
    z = load_npz(path, ("positions_2d",), optional=("metadata",))
    meta = z.get("metadata", {})
    sym = meta.get("keypoints_symmetry") if isinstance(meta, dict) else None
    if sym is not None and (list(sym[0]) != list(LEFT) or list(sym[1]) != list(RIGHT)):
        raise DataError(f"{path}: keypoints_symmetry {[list(sym[0]), list(sym[1])]} is not the Human3.6M "
                        f"17-joint order (left {list(LEFT)}, right {list(RIGHT)})")
    data = need_dict(z["positions_2d"], f"{path}: positions_2d")
    out = {}
    for s in pick(data, subjects, f"{path}: subject(s)"):
        out[s] = {}
        for a, views in need_dict(data[s], f"{path}: positions_2d[{s!r}]").items():
            if not isinstance(views, (list, tuple)) and not (isinstance(views, np.ndarray) and views.ndim == 4):
                raise DataError(f"{path}: {s}/{a}: expected a list of per-camera arrays, found {type(views).__name__}")
            out[s][a] = [check_poses(v, f"{path}: {s}/{a}/camera {i}", (2, 3)) for i, v in enumerate(views)]
    return out


def read_h36m(file_3d: str | Path, file_2d: str | Path, subjects, cameras: CameraSet | None = None,
              actions=None) -> list[Sequence]:
    """One :class:`Sequence` per (subject, action, camera): 2D detections normalised per camera, 3D targets in the
    camera frame, root-relative metres."""
    cameras = cameras or load_cameras()
    pos3d = load_positions_3d(file_3d, subjects)
    pos2d = load_positions_2d(file_2d, subjects)
    out = []
    for s in pos3d:
        cams = cameras.of(s)
        for a in filter_actions(sorted(pos3d[s]), actions, f"{file_3d}: subject {s}"):
            if a not in pos2d[s]:
                raise DataError(f"{file_2d}: {s}/{a} is in the 3D file but has no 2D keypoints")
            views, world = pos2d[s][a], pos3d[s][a]
            if len(views) != len(cams):
                raise DataError(f"{file_2d}: {s}/{a} has {len(views)} camera views, the camera file has "
                                f"{len(cams)} cameras for {s}")
            for cam, kp in zip(cams, views):
                if kp.shape[0] < world.shape[0]:
                    raise DataError(f"{file_2d}: {s}/{a}/camera {cam.id} has {kp.shape[0]} frames, fewer than "
                                    f"the {world.shape[0]} mocap frames")
                kp = kp[:world.shape[0]].copy()
                kp[..., :2] = cam.normalize(kp[..., :2])
                out.append(Sequence(s, a, cam.id, kp, camera_targets(world, cam)))
    return out
