"""MPI-INF-3DHP in the P-STMO npz layout (SPEC section 10), reordered to the Human3.6M joint order.

``data_train_3dhp.npz``: key ``data`` = {"S1 Seq1": [{camera: {"data_2d": (T, 17, 2) px, "data_3d": (T, 17, 3) mm}},
fps], ...}. ``data_test_3dhp.npz``: key ``data`` = {"TS1": {"data_2d", "data_3d", "valid": (T,)}, ...}.

The files use the 3DHP "relevant" order (root = 14). Readers reorder to the Human3.6M order of
:mod:`hotpose.skeleton` (3DHP neck -> H36M thorax, 3DHP head -> H36M neck/nose, 3DHP head_top -> H36M head), so
flipping, root handling, losses and metrics are the same for every dataset. Units become metres.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hotpose.data.cameras import normalize_screen
from hotpose.data.io import DataError, check_poses, load_npz, need_dict, pick
from hotpose.data.sequence import Sequence, root_relative

# H36M joint i is 3DHP joint FROM_3DHP[i].
FROM_3DHP = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
TO_3DHP = tuple(int(i) for i in np.argsort(FROM_3DHP))
# The 14 joints scored by PCK/AUC (3DHP: all but pelvis, spine and head), in the Human3.6M order.
PCK_JOINTS = tuple(i for i in range(17) if FROM_3DHP[i] not in (14, 15, 16))

TRAIN_SUBJECTS = tuple(f"S{i}" for i in range(1, 9))
TEST_SEQUENCES = tuple(f"TS{i}" for i in range(1, 7))


def image_size(name: str) -> tuple[int, int]:
    """(w, h) in pixels: 2048 x 2048 for training cameras and TS1-TS4, 1920 x 1080 for the outdoor TS5, TS6."""
    return (1920, 1080) if name in ("TS5", "TS6") else (2048, 2048)


def _sequence(subject: str, action: str, camera: str, d2: np.ndarray, d3: np.ndarray, what: str,
              valid=None) -> Sequence:
    d2 = check_poses(d2, f"{what}: data_2d", (2, 3))
    d3 = check_poses(d3, f"{what}: data_3d", 3)
    if d2.shape[0] != d3.shape[0]:
        raise DataError(f"{what}: data_2d has {d2.shape[0]} frames, data_3d {d3.shape[0]}")
    order = list(FROM_3DHP)
    x = d2[:, order].copy()
    x[..., :2] = normalize_screen(x[..., :2], *image_size(subject))
    y = root_relative(d3[:, order] / 1000)
    if valid is not None:
        valid = np.asarray(valid).reshape(-1)
        if valid.shape[0] != d3.shape[0]:
            raise DataError(f"{what}: valid has {valid.shape[0]} entries for {d3.shape[0]} frames")
        valid = valid.astype(bool)
        if not valid.any():
            raise DataError(f"{what}: no valid frame")
    return Sequence(subject, action, camera, x, y, valid)


def read_3dhp_train(path: str | Path, subjects=None, cameras=None) -> list[Sequence]:
    """Training sequences {"S1 Seq1": [{camera: {...}}, fps]} -> one Sequence per (subject, sequence, camera);
    ``subjects`` like "S1" (None: all), ``cameras`` like "0" (None: all)."""
    data = need_dict(load_npz(path, ("data",))["data"], f"{path}: data")
    by_subject: dict[str, list[str]] = {}
    for key in data:
        if len(str(key).split(" ")) != 2:
            raise DataError(f"{path}: key {key!r} is not '<subject> <sequence>' (e.g. 'S1 Seq1')")
        by_subject.setdefault(str(key).split(" ")[0], []).append(key)
    out = []
    for s in pick(by_subject, subjects, f"{path}: subject(s)"):
        for key in sorted(by_subject[s]):
            entry = data[key]
            views = entry[0] if isinstance(entry, (list, tuple)) and entry else entry
            views = need_dict(views, f"{path}: {key} (expected [camera dict, fps])")
            for cam in (sorted(views) if cameras is None else [str(c) for c in cameras if str(c) in views]):
                v = views[cam]
                if not isinstance(v, dict) or "data_2d" not in v or "data_3d" not in v:
                    raise DataError(f"{path}: {key}/camera {cam}: expected a dict with data_2d and data_3d")
                out.append(_sequence(s, key.split(" ")[1], str(cam), v["data_2d"], v["data_3d"],
                                     f"{path}: {key}/camera {cam}"))
    return out


def read_3dhp_test(path: str | Path, sequences=None) -> list[Sequence]:
    """Test sequences {"TS1": {data_2d, data_3d, valid}} -> one Sequence each (subject = action = "TS1")."""
    data = need_dict(load_npz(path, ("data",))["data"], f"{path}: data")
    out = []
    for name in pick(data, sequences, f"{path}: test sequence(s)"):
        v = data[name]
        if not isinstance(v, dict) or any(k not in v for k in ("data_2d", "data_3d", "valid")):
            raise DataError(f"{path}: {name}: expected a dict with data_2d, data_3d and valid")
        out.append(_sequence(name, name, "0", v["data_2d"], v["data_3d"], f"{path}: {name}", v["valid"]))
    return out
