"""BVH export of 17-joint H36M poses, and a reader that re-imports them by forward kinematics.

The skeleton has fixed bone lengths: the median of each bone's length over the sequence. Its rest pose is a T-pose in
the file's frame (Y up, the person facing +Z, their left along +X). Rotations are solved from the positions:
- pelvis (root) and thorax take the rotation whose first axis maps the rest "up" bone (pelvis->spine, thorax->neck)
  exactly onto the observed one and whose second axis best maps the rest +X onto the observed left-minus-right line
  (hips for the pelvis, shoulders for the thorax): that line fixes the twist;
- every other joint with a child takes the smallest rotation (no twist relative to its parent) that turns its rest
  child direction, as carried by the parent, onto the observed child direction;
- the pelvis->hip and thorax->shoulder bones hang from zero-length joints ("r_pelvis", "l_pelvis", "r_collar",
  "l_collar", like the collar/hip joints of CMU mocap BVH) so each bone has its own rotation and every joint lands
  exactly on the bone-length-normalised input; leaves (head, wrists, ankles) keep their parent's rotation and end in
  a short End Site along their bone.
Channels: the root has Xposition Yposition Zposition, every joint Zrotation Xrotation Yrotation (degrees; the local
matrix is Rz @ Rx @ Ry, the usual BVH reading, which Blender follows).
Units: metres by default (Blender's BVH import keeps file units, so the person is ~1.7 Blender units tall);
unit="cm" writes centimetres. Input/output poses use the camera convention of the lifter (x right, y down, z away)
unless y_down=False; with y_down=True the file holds (x, -y, -z), a 180 degree turn about x, so it stands up.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fileio import atomic_write_bytes
from ..skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS, bone_lengths, normalise_bone_lengths

__all__ = ["write_bvh", "read_bvh", "bone_lengths", "normalise_bone_lengths", "euler_zxy", "rotation_zxy"]

_UNITS = {"m": 1.0, "cm": 100.0}
_FLIP = np.array([1.0, -1.0, -1.0])
_X, _Y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
# Rest direction (T-pose, file frame) of the bone ending at each H36M joint.
_REST_DIR = np.array([[0, 0, 0], [-1, 0, 0], [0, -1, 0], [0, -1, 0], [1, 0, 0], [0, -1, 0], [0, -1, 0],
                      [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0],
                      [-1, 0, 0], [-1, 0, 0], [-1, 0, 0]], dtype=np.float64)
# BVH joints in DFS order: (name, bvh parent index, H36M joint at its position, H36M child whose bone it orients).
_BRANCHES = {1: "r_pelvis", 4: "l_pelvis", 11: "l_collar", 14: "r_collar"}


def _hierarchy():
    joints = []

    def add(h, parent):
        joints.append((JOINT_NAMES[h], parent, h))
        me = len(joints) - 1
        for c in [c for c in range(NUM_JOINTS) if PARENTS[c] == h]:
            if c in _BRANCHES:
                joints.append((_BRANCHES[c], me, h))
                add(c, len(joints) - 1)
            else:
                add(c, me)

    add(0, -1)
    return joints


_JOINTS = _hierarchy()


def _unit(v, fallback):
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(n > 1e-9, v / np.maximum(n, 1e-300), fallback)


def _swing(u, v):
    """Smallest rotations (T, 3, 3) turning unit vectors u (T, 3) onto unit vectors v (T, 3)."""
    k = np.cross(u, v)
    c = np.einsum("ti,ti->t", u, v)
    kx = np.zeros(u.shape[:1] + (3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx -= kx.transpose(0, 2, 1)
    r = np.eye(3) + kx + kx @ kx / np.maximum(1 + c, 1e-12)[:, None, None]
    opposite = c < -1 + 1e-9
    if opposite.any():  # half turn about any axis perpendicular to u
        w = u[opposite]
        n = _unit(np.cross(w, np.where(np.abs(w[:, :1]) < 0.9, _X, _Y)), _Y)
        r[opposite] = 2 * n[:, :, None] * n[:, None, :] - np.eye(3)
    return r


def _frame(a, b):
    """Orthonormal frames (T, 3, 3), columns: a, the part of b orthogonal to a, their cross product."""
    e1 = _unit(a, _Y)
    b = b - np.einsum("ti,ti->t", b, e1)[:, None] * e1
    alt = np.cross(e1, np.where(np.abs(e1[:, :1]) < 0.9, _X, _Y))
    e2 = _unit(np.where(np.linalg.norm(b, axis=-1, keepdims=True) > 1e-9, b, alt), _X)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def euler_zxy(r) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> angles (..., 3) in degrees (z, x, y) with r = Rz @ Rx @ Ry."""
    r = np.asarray(r, dtype=np.float64)
    x = np.arcsin(np.clip(r[..., 2, 1], -1.0, 1.0))
    locked = np.abs(r[..., 2, 1]) > 1 - 1e-12
    z = np.where(locked, np.arctan2(r[..., 1, 0], r[..., 0, 0]), np.arctan2(-r[..., 0, 1], r[..., 1, 1]))
    y = np.where(locked, 0.0, np.arctan2(-r[..., 2, 0], r[..., 2, 2]))
    return np.degrees(np.stack([z, x, y], axis=-1))


def _axis_rotation(axis: str, deg):
    a = np.radians(np.asarray(deg, dtype=np.float64))
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    m = {"X": [[i, o, o], [o, c, -s], [o, s, c]], "Y": [[c, o, s], [o, i, o], [-s, o, c]],
         "Z": [[c, -s, o], [s, c, o], [o, o, i]]}[axis]
    return np.stack([np.stack(row, axis=-1) for row in m], axis=-2)


def rotation_zxy(angles) -> np.ndarray:
    """Angles (..., 3) in degrees (z, x, y) -> rotation matrices Rz @ Rx @ Ry (..., 3, 3)."""
    a = np.asarray(angles, dtype=np.float64)
    return _axis_rotation("Z", a[..., 0]) @ _axis_rotation("X", a[..., 1]) @ _axis_rotation("Y", a[..., 2])


def _solve(pos):
    """Global rotation (T, 3, 3) of every BVH joint from file-frame positions pos (T, 17, 3)."""
    t = pos.shape[0]
    glob = np.zeros((len(_JOINTS), t, 3, 3))
    children = {i: [k for k, jt in enumerate(_JOINTS) if jt[1] == i] for i in range(len(_JOINTS))}
    for i, (name, parent, h) in enumerate(_JOINTS):
        if h in (0, 8) and name == JOINT_NAMES[h]:  # pelvis, thorax: up bone + left-right line
            up, (left, right) = (7, (4, 1)) if h == 0 else (9, (11, 14))
            f_obs = _frame(pos[:, up] - pos[:, h], pos[:, left] - pos[:, right])
            f_rest = _frame(np.repeat(_REST_DIR[up][None], t, 0), np.repeat(_X[None], t, 0))
            glob[i] = f_obs @ f_rest.transpose(0, 2, 1)
            continue
        g_parent = glob[parent] if parent >= 0 else np.repeat(np.eye(3)[None], t, 0)
        if not children[i]:
            glob[i] = g_parent
            continue
        c = children[i][0]
        child_h = _JOINTS[c][2]
        d_rest = np.einsum("tij,j->ti", g_parent, _REST_DIR[child_h])
        d_obs = _unit(pos[:, child_h] - pos[:, h], d_rest)
        glob[i] = _swing(d_rest, d_obs) @ g_parent
    return glob


def write_bvh(path, pose_3d, fps: float, unit: str = "m", y_down: bool = True) -> Path:
    """Write poses (T, 17, 3) in metres as a BVH file with fixed (median) bone lengths (atomically: a temporary
    name, then renamed); returns the path."""
    pose = np.asarray(pose_3d, dtype=np.float64)
    if pose.ndim != 3 or pose.shape[1:] != (NUM_JOINTS, 3) or pose.shape[0] < 1:
        raise ValueError(f"pose_3d must be (T, 17, 3) with T >= 1, got shape {pose.shape}")
    if not np.isfinite(pose).all():
        raise ValueError("pose_3d holds NaN or inf; interpolate missing frames before writing BVH")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {sorted(_UNITS)}, got {unit!r}")
    pos = pose * _UNITS[unit] * (_FLIP if y_down else 1.0)
    lengths = bone_lengths(pos)
    glob = _solve(pos)
    lines, motion = ["HIERARCHY"], [pos[:, 0]]
    depth_of = {}
    for i, (name, parent, h) in enumerate(_JOINTS):
        depth = 0 if parent < 0 else depth_of[parent] + 1
        depth_of[i] = depth
        ind = "  " * depth
        if i > 0:  # close the blocks of finished subtrees
            prev_depth = depth_of[i - 1]
            for d in range(prev_depth, depth - 1, -1):
                lines.append("  " * d + "}")
        offset = np.zeros(3) if parent < 0 or _JOINTS[parent][2] == h else lengths[h] * _REST_DIR[h]
        lines += [f"{ind}{'ROOT' if parent < 0 else 'JOINT'} {name}", ind + "{",
                  f"{ind}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}",
                  f"{ind}  CHANNELS " + ("6 Xposition Yposition Zposition " if parent < 0 else "3 ")
                  + "Zrotation Xrotation Yrotation"]
        if not any(jt[1] == i for jt in _JOINTS):
            end = 0.25 * lengths[h] * _REST_DIR[h] if h else np.zeros(3)
            lines += [f"{ind}  End Site", ind + "  {", f"{ind}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}",
                      ind + "  }"]
        local = glob[i] if parent < 0 else glob[parent].transpose(0, 2, 1) @ glob[i]
        motion.append(euler_zxy(local))
    for d in range(depth_of[len(_JOINTS) - 1], -1, -1):
        lines.append("  " * d + "}")
    data = np.concatenate(motion, axis=1)
    lines += ["MOTION", f"Frames: {len(pos)}", f"Frame Time: {1.0 / fps:.10f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in data]
    path = Path(path)
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def _parse(text: str):
    """BVH text -> (joints [(name, parent, offset, channels)], frame time, motion (T, C))."""
    tok = text.split()
    if not tok or tok[0] != "HIERARCHY":
        raise ValueError("not a BVH file (no HIERARCHY)")
    joints, stack, i = [], [], 1
    while tok[i] != "MOTION":
        w = tok[i]
        if w in ("ROOT", "JOINT"):
            joints.append([tok[i + 1], stack[-1] if stack else -1, None, []])
            i += 2
        elif w == "End":  # End Site: a leaf without channels, skipped by reading past its block
            j = tok.index("}", i)
            i = j + 1
            continue
        elif w == "{":
            stack.append(len(joints) - 1)
            i += 1
        elif w == "}":
            stack.pop()
            i += 1
        elif w == "OFFSET":
            joints[-1][2] = np.array([float(v) for v in tok[i + 1:i + 4]])
            i += 4
        elif w == "CHANNELS":
            n = int(tok[i + 1])
            joints[-1][3] = tok[i + 2:i + 2 + n]
            i += 2 + n
        else:
            raise ValueError(f"unexpected token {w!r} in BVH hierarchy")
    if tok[i + 1] != "Frames:" or tok[i + 3:i + 5] != ["Frame", "Time:"]:
        raise ValueError("BVH MOTION header is malformed")
    frames, frame_time = int(tok[i + 2]), float(tok[i + 5])
    n_ch = sum(len(j[3]) for j in joints)
    values = np.array(tok[i + 6:], dtype=np.float64)
    if values.size != frames * n_ch:
        raise ValueError(f"BVH motion has {values.size} values, expected {frames} frames x {n_ch} channels")
    return joints, frame_time, values.reshape(frames, n_ch)


def read_bvh(path, unit: str = "m", y_down: bool = True):
    """Read a BVH written by write_bvh (or any BVH naming the 17 H36M joints) by forward kinematics.

    Returns positions (T, 17, 3) in metres (camera convention when y_down, as write_bvh) and fps (float)."""
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {sorted(_UNITS)}, got {unit!r}")
    try:
        joints, frame_time, motion = _parse(Path(path).read_text())
    except (IndexError, ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read BVH {path}: {e}") from None
    names = [j[0] for j in joints]
    missing = [n for n in JOINT_NAMES if n not in names]
    if missing:
        raise ValueError(f"BVH {path} lacks the H36M joints {missing}")
    t = motion.shape[0]
    glob, pos, col = [], [], 0
    for name, parent, offset, channels in joints:
        rot, trans = np.repeat(np.eye(3)[None], t, 0), np.zeros((t, 3))
        for ch in channels:
            v = motion[:, col]
            col += 1
            if ch.endswith("rotation"):
                rot = rot @ _axis_rotation(ch[0].upper(), v)
            elif ch.endswith("position"):
                trans[:, "XYZ".index(ch[0].upper())] = v
            else:
                raise ValueError(f"unknown BVH channel {ch!r}")
        local = (offset if offset is not None else np.zeros(3)) + trans
        if parent < 0:
            glob.append(rot)
            pos.append(local)
        else:
            glob.append(glob[parent] @ rot)
            pos.append(pos[parent] + np.einsum("tij,tj->ti", glob[parent], local))
    out = np.stack([pos[names.index(n)] for n in JOINT_NAMES], axis=1) / _UNITS[unit]
    if y_down:
        out = out * _FLIP
    return out, round(1.0 / frame_time, 6)
