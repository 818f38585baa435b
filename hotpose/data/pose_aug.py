"""3D pose augmentation: poses a motion dataset lacks, made from its own clips by turning limbs about their parent
joints within joint limits, keeping every bone's length (in the spirit of PoseAug's bone-angle augmentation, done
here as fixed per-view offsets so the motion of the clip is kept).

For an augmented view every frame gets the same offsets, in the body's own frame (per frame: *left* from the right
to the left hip, *up* from the pelvis to the thorax made orthogonal to left, *forward* = left x up):

* ``knee``: extra knee flexion in [0, knee] degrees per leg (the shank and foot turn about the knee, about the
  body's left axis, so the ankle moves backwards), capped per frame so that the knee bends at most 150 degrees;
* ``elbow``: extra elbow flexion in [0, elbow] degrees per arm, about the axis normal to the upper arm and forearm
  (the left axis where the arm is straight), capped at 150 degrees of flexion;
* ``hip_flexion`` [low, high] degrees: each leg swings forward (positive) or back about the hip; ``hip_abduction``
  [low, high]: outwards (positive) or inwards: standing on one leg, kicking, sitting, crouching with ``knee``;
* ``shoulder``: each arm turns about the shoulder by up to that many degrees about a random axis;
* ``bend`` [low, high]: the upper body (spine and above) bends forward about the pelvis: reaching down;
* ``tilt``: the whole body turns about the pelvis by up to that many degrees about a random horizontal axis (90:
  up to lying).

Each view is augmented with probability ``prob``; every angle is drawn uniformly from its range, left and right
independently. Rotations are rigid turns of a joint's subtree about that joint, so bone lengths are exact.
"""
from __future__ import annotations

import numpy as np

from hotpose.data.io import DataError

POSE_AUG_DEFAULTS = {"prob": 0.5, "knee": 90.0, "elbow": 90.0, "hip_flexion": [-15.0, 90.0],
                     "hip_abduction": [-10.0, 35.0], "shoulder": 60.0, "bend": [-10.0, 50.0], "tilt": 0.0}
MAX_FLEXION_DEG = 150.0
_RANGES = ("hip_flexion", "hip_abduction", "bend")
# (hip, knee, ankle) and (shoulder, elbow, wrist) per side; the subtrees below each joint
LEGS = {"r": (1, 2, 3), "l": (4, 5, 6)}
ARMS = {"r": (14, 15, 16), "l": (11, 12, 13)}
UPPER_BODY = tuple(range(7, 17))


def check_pose_aug(spec: dict) -> dict:
    """The spec with defaults filled in (:data:`POSE_AUG_DEFAULTS`), or a DataError saying what is wrong."""
    unknown = sorted(set(spec) - set(POSE_AUG_DEFAULTS))
    if unknown:
        raise DataError(f"pose_aug: unknown key(s) {unknown}; expected some of {sorted(POSE_AUG_DEFAULTS)}")
    s = {**POSE_AUG_DEFAULTS, **spec}
    try:
        for key in _RANGES:
            low, high = (float(v) for v in s[key])
            if low > high:
                raise ValueError
            s[key] = [low, high]
        for key in ("prob", "knee", "elbow", "shoulder", "tilt"):
            s[key] = float(s[key])
    except (TypeError, ValueError):
        raise DataError(f"pose_aug: {', '.join(_RANGES)} are [low, high] degree ranges, the others numbers; "
                        f"got {spec}") from None
    if not 0 <= s["prob"] <= 1 or min(s["knee"], s["elbow"], s["shoulder"], s["tilt"]) < 0 \
            or max(s["knee"], s["elbow"]) > MAX_FLEXION_DEG or max(s["shoulder"], s["tilt"]) > 180:
        raise DataError(f"pose_aug: need 0 <= prob <= 1, 0 <= knee, elbow <= {MAX_FLEXION_DEG:g} and "
                        f"0 <= shoulder, tilt <= 180 degrees; got {spec}")
    return s


def _unit(v: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    out = v / np.maximum(n, 1e-12)
    if fallback is not None:
        out = np.where(n > 1e-6, out, fallback)
    return out


def _turn(p: np.ndarray, joints, pivot: np.ndarray, axis: np.ndarray, angle) -> None:
    """Rotate joints ``joints`` of ``p`` (T, J, 3) in place about ``pivot`` (T, 3) and unit ``axis`` (T, 3) by
    ``angle`` radians (scalar or (T,)), Rodrigues' formula."""
    if not np.any(angle):
        return  # exactly nothing, not a rounding of it
    idx = list(joints)
    v = p[:, idx] - pivot[:, None]
    k = axis[:, None]
    a = np.broadcast_to(np.asarray(angle, np.float64), (p.shape[0],))[:, None, None]
    cos, sin = np.cos(a), np.sin(a)
    p[:, idx] = pivot[:, None] + v * cos + np.cross(k, v) * sin + k * (k * v).sum(-1, keepdims=True) * (1 - cos)


def _flexion(p: np.ndarray, a: int, b: int, c: int) -> np.ndarray:
    """(T,) angle in radians between bone a->b and bone b->c (0: straight)."""
    u, v = _unit(p[:, b] - p[:, a]), _unit(p[:, c] - p[:, b])
    return np.arccos(np.clip((u * v).sum(-1), -1.0, 1.0))


def body_frame(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (left, up, forward) unit vectors (T, 3) of poses (T, 17, 3)."""
    left = _unit(p[:, 4] - p[:, 1])
    up = p[:, 8] - p[:, 0]
    up = _unit(up - (up * left).sum(-1, keepdims=True) * left)
    return left, up, np.cross(left, up)


def augment_pose(world: np.ndarray, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """(T, 17, 3) poses -> the same clip with one draw of the offsets of ``spec`` (checked by
    :func:`check_pose_aug`), or unchanged when the draw says this view is not augmented."""
    s = spec
    if rng.random() >= s["prob"]:
        return world
    p = np.asarray(world, np.float64).copy()
    left, up, forward = body_frame(p)
    deg = np.radians
    # distal joints first, with axes from the unaugmented pose; the turns above then carry them rigidly
    for side, (hip, knee, ankle) in LEGS.items():
        extra = np.minimum(deg(rng.uniform(0, s["knee"])), deg(MAX_FLEXION_DEG) - _flexion(p, hip, knee, ankle))
        _turn(p, (ankle,), p[:, knee], left, np.maximum(extra, 0.0))
    for side, (shoulder, elbow, wrist) in ARMS.items():
        axis = _unit(np.cross(p[:, elbow] - p[:, shoulder], p[:, wrist] - p[:, elbow]), left)
        extra = np.minimum(deg(rng.uniform(0, s["elbow"])), deg(MAX_FLEXION_DEG) - _flexion(p, shoulder, elbow, wrist))
        _turn(p, (wrist,), p[:, elbow], axis, np.maximum(extra, 0.0))
    for side, (hip, knee, ankle) in LEGS.items():
        outward = 1.0 if side == "l" else -1.0
        _turn(p, (knee, ankle), p[:, hip], -left, deg(rng.uniform(*s["hip_flexion"])))
        _turn(p, (knee, ankle), p[:, hip], forward, outward * deg(rng.uniform(*s["hip_abduction"])))
    for side, (shoulder, elbow, wrist) in ARMS.items():
        axis = _unit(rng.normal(size=3))
        _turn(p, (elbow, wrist), p[:, shoulder], np.broadcast_to(axis, (len(p), 3)),
              deg(rng.uniform(0, s["shoulder"])))
    _turn(p, UPPER_BODY, p[:, 0], left, deg(rng.uniform(*s["bend"])))
    if s["tilt"] > 0:
        azimuth = rng.uniform(0, 2 * np.pi)
        axis = np.array([np.cos(azimuth), np.sin(azimuth), 0.0])
        _turn(p, range(1, 17), p[:, 0], np.broadcast_to(axis, (len(p), 3)), deg(rng.uniform(0, s["tilt"])))
    return p.astype(np.asarray(world).dtype)
