"""Any 3D motion in the VideoPose3D layout (``positions_3d``: {subject: {action: (T, 17 | 32, 3) world metres}},
Z up), seen by calibrated cameras: the 2D inputs are the projections of the 3D joints, optionally with
detector-like noise.

Motion captured elsewhere may leave the cameras' view (e.g. long walks), so the horizontal root motion can be
handled first (``root_motion``):

* ``"follow"``: remove the pelvis x/y of every frame (height kept) and stand the body at the cameras' capture
  centre, as if the cameras followed the person. The root-relative 3D targets keep the body's own motion.
* ``"centre"``: move each sequence so that its mean pelvis x/y is at the capture centre.
* ``"keep"``: use the positions as they are (Human3.6M mocap with its own cameras).

For motion of one body (mocap retargeted to one rig), ``bone_scale`` gives every training view a body of other
proportions: per view, each bone group of :data:`hotpose.skeleton.BONE_GROUPS` is lengthened by a factor drawn
uniformly from its ``[low, high]`` range (left and right alike), so that a model does not learn one body's
proportions as a fact.

``placement`` (also per training view) moves the body within the camera's view, so that a model sees people at
other distances and image positions than the capture centre gives (about 5 m away, near the image centre, for the
Human3.6M cameras), as people in real videos are: ``{"distance": [low, high], "offset": r}`` puts the view's mean
root position at a depth drawn log-uniformly from [low, high] metres, on the viewing ray through a point drawn
uniformly within +-r of the image centre in normalised screen coordinates (x, and y clipped to the image's
height). It is a translation in the camera's frame, so the root-relative 3D targets do not change; only the
projection does, with its true perspective.

Every projected point must lie at least ``min_depth`` metres in front of its camera; otherwise a DataError says how
many frame-views fail.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from hotpose.data.cameras import Camera, CameraSet, load_cameras
from hotpose.data.h36m import load_positions_3d
from hotpose.data.io import DataError
from hotpose.data.pose_aug import augment_pose, check_pose_aug
from hotpose.data.sequence import Sequence, filter_actions, root_relative
from hotpose.skeleton import BONE_GROUPS, rescale_bones

ROOT_MOTION = ("follow", "centre", "keep")


def place(world: np.ndarray, mode: str, centre: np.ndarray) -> np.ndarray:
    """(T, J, 3) world metres -> (T, J, 3) with the horizontal root motion handled as ``mode`` says."""
    if mode == "keep":
        return world
    if mode not in ROOT_MOTION:
        raise DataError(f"unknown root_motion {mode!r}; expected one of {ROOT_MOTION}")
    root_xy = world[:, :1, :2] if mode == "follow" else world[:, :1, :2].mean(axis=0, keepdims=True)
    out = world.astype(np.float64, copy=True)
    out[..., :2] += centre[:2] - root_xy
    return out


def detector_noise(shape: tuple, rng: np.random.Generator, noise_px: float, outlier_prob: float,
                   outlier_px: float) -> np.ndarray:
    """(..., 2) pixel offsets: Gaussian jitter (std ``noise_px``) on every keypoint plus, with probability
    ``outlier_prob`` per keypoint, a gross error (std ``outlier_px``), like a 2D detector's misses."""
    noise = rng.normal(0.0, noise_px, shape) if noise_px > 0 else np.zeros(shape)
    if outlier_prob > 0:
        hit = rng.random(shape[:-1] + (1,)) < outlier_prob
        noise = noise + hit * rng.normal(0.0, outlier_px, shape)
    return noise


def drop_and_fill(uv: np.ndarray, rng: np.random.Generator, missing_prob: float, max_gap: int) -> np.ndarray:
    """(T, J, 2) pixels with simulated missing detections: each joint starts a gap of 1..``max_gap`` frames with
    probability ``missing_prob`` per frame; gap values are replaced by the linear interpolation over time between
    the frames around it (edge-held), as :class:`hotpose.Lifter` fills NaN keypoints."""
    t_len, joints = uv.shape[:2]
    if missing_prob <= 0 or t_len < 2:
        return uv
    start = rng.random((t_len, joints)) < missing_prob
    if not start.any():
        return uv
    gap = rng.integers(1, max_gap + 1, (t_len, joints))
    miss = np.zeros((t_len + 1, joints), np.int64)
    t, j = np.nonzero(start)
    np.add.at(miss, (t, j), 1)
    np.add.at(miss, (np.minimum(t + gap[t, j], t_len), j), -1)
    miss = np.cumsum(miss, axis=0)[:t_len] > 0
    out = uv.copy()
    frames = np.arange(t_len)
    for k in np.nonzero(miss.any(axis=0) & ~miss.all(axis=0))[0]:
        ok = ~miss[:, k]
        for c in range(uv.shape[-1]):
            out[miss[:, k], k, c] = np.interp(frames[miss[:, k]], frames[ok], uv[ok, k, c])
    return out


def draw_bone_factors(ranges: dict, rng: np.random.Generator) -> dict:
    """{bone group: factor} drawn uniformly from each group's ``[low, high]`` in ``ranges``."""
    out = {}
    for name in sorted(ranges):
        if name not in BONE_GROUPS:
            raise DataError(f"bone_scale: unknown bone group {name!r}; expected some of {sorted(BONE_GROUPS)}")
        low, high = (float(v) for v in ranges[name])
        if not 0 < low <= high:
            raise DataError(f"bone_scale.{name} must be [low, high] with 0 < low <= high, got {ranges[name]}")
        out[name] = rng.uniform(low, high)
    return out


def check_placement(placement: dict) -> tuple[float, float, float]:
    """``{"distance": [low, high], "offset": r}`` -> (low, high, r), or a DataError saying what is wrong."""
    unknown = sorted(set(placement) - {"distance", "offset"})
    if unknown:
        raise DataError(f"placement: unknown key(s) {unknown}; expected 'distance' and 'offset'")
    try:
        low, high = (float(v) for v in placement.get("distance"))
        offset = float(placement.get("offset", 0.0))
    except (TypeError, ValueError):
        raise DataError(f"placement must be {{distance: [low, high] metres, offset: r}}, got {placement}") from None
    if not 0 < low <= high or not 0 <= offset <= 1:
        raise DataError(f"placement needs 0 < distance low <= high and 0 <= offset <= 1, got {placement}")
    return low, high, offset


def draw_placement(placement: tuple[float, float, float], camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """A camera-frame position (3,) metres for a view's mean root, drawn as the module docstring says;
    ``placement`` is :func:`check_placement`'s (low, high, offset)."""
    low, high, offset = placement
    depth = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    aspect = camera.res_h / camera.res_w
    sx = rng.uniform(-offset, offset)
    sy = rng.uniform(-min(offset, aspect), min(offset, aspect))
    pixel = (np.array([sx + 1.0, sy + aspect]) * camera.res_w / 2)  # inverse of normalize_screen
    ray = (pixel - camera.center) / camera.focal  # undistorted; the projection below applies the distortion
    return np.array([ray[0] * depth, ray[1] * depth, depth])


def view(world: np.ndarray, camera: Camera, min_depth: float, what: str,
         root_at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(T, J, 3) world metres -> pixels (T, J, 2) and root-relative camera-frame targets (T, J, 3).
    root_at: camera-frame position (3,) to translate the mean root position to (None: as the world places it)."""
    cam = camera.world_to_camera(world)
    if root_at is not None:
        cam = cam + (np.asarray(root_at, np.float64) - cam[:, 0].mean(axis=0))
    bad = (cam[..., 2] < min_depth).any(axis=1)
    if bad.any():
        raise DataError(f"{what}: {int(bad.sum())} of {len(bad)} frames put a joint less than {min_depth} m in "
                        f"front of camera {camera.id}; use root_motion='follow' (or 'centre'), or other cameras")
    return camera.project(cam), root_relative(cam)


def read_motion(path: str | Path, subjects=None, cameras: CameraSet | None = None, camera_subject: str | None = None,
                actions=None, root_motion: str = "follow", noise_px: float = 0.0, outlier_prob: float = 0.0,
                outlier_px: float = 0.0, noise_seed: int = 0, min_depth: float = 1.0,
                camera_ids=None, views_per_action: int | None = None, missing_prob: float = 0.0,
                missing_max_gap: int = 10, bone_scale: dict | None = None,
                placement: dict | None = None, pose_aug: dict | None = None) -> list[Sequence]:
    """One :class:`Sequence` per (subject, action, camera) with projected (and optionally noisy) 2D inputs.

    cameras:        camera set (None: the packaged Human3.6M cameras).
    camera_subject: whose extrinsics to use for every subject (None: each subject's own, as for Human3.6M); a list
                    of subjects pools their cameras (view camera names then read "<rig>:<camera id>").
    camera_ids:     keep only these camera ids (None: all of them).
    views_per_action: keep this many of the (pooled) cameras per (subject, action), drawn from ``noise_seed``
                    (None: all of them).
    missing_prob, missing_max_gap: simulated missing joints, filled by interpolation (see :func:`drop_and_fill`).
    bone_scale:     {bone group: [low, high]}: every view gets a body rescaled by factors drawn from these ranges
                    (see the module docstring); None: the bodies as recorded.
    placement:      {"distance": [low, high], "offset": r}: every view's body is moved within its camera's view
                    (see the module docstring); None: where ``root_motion`` puts it.
    pose_aug:       every view's clip gets, with some probability, fixed limb and trunk offsets within joint
                    limits (:mod:`hotpose.data.pose_aug`); None: the poses as recorded.
    The noise is drawn once per view from ``noise_seed`` and the view's name (a fixed "detector output", not an
    augmentation; the same whichever split loads the view).
    """
    if root_motion not in ROOT_MOTION:
        raise DataError(f"unknown root_motion {root_motion!r}; expected one of {ROOT_MOTION}")
    cameras = cameras or load_cameras()
    placement = check_placement(placement) if placement else None
    pose_aug = check_pose_aug(pose_aug) if pose_aug else None
    pos = load_positions_3d(path, subjects)
    out = []
    multi = isinstance(camera_subject, (list, tuple))
    for s in pos:
        rigs = list(camera_subject) if multi else [camera_subject or s]
        views = []  # (rig, camera, name)
        for rig in rigs:
            cams = cameras.of(rig)
            if camera_ids is not None:
                known = [c.id for c in cams]
                missing = [str(c) for c in camera_ids if str(c) not in known]
                if missing:
                    raise DataError(f"camera id(s) {missing} not among {known}")
                cams = tuple(c for c in cams if c.id in {str(i) for i in camera_ids})
            views += [(rig, c, f"{rig}:{c.id}" if multi else c.id) for c in cams]
        centres = {rig: cameras.capture_centre(rig) for rig in rigs}
        for a in filter_actions(sorted(pos[s]), actions, f"{path}: subject {s}"):
            chosen = views
            if views_per_action is not None and views_per_action < len(views):
                pick = np.random.default_rng([noise_seed, zlib.crc32(f"{s}/{a}".encode())]).choice(
                    len(views), views_per_action, replace=False)
                chosen = [views[i] for i in sorted(pick)]
            for rig, cam, name in chosen:
                world = pos[s][a]
                if bone_scale:
                    body_rng = np.random.default_rng([noise_seed, zlib.crc32(f"{s}/{a}/{name}/body".encode())])
                    world = rescale_bones(world, draw_bone_factors(bone_scale, body_rng))
                if pose_aug:
                    world = augment_pose(world, pose_aug, np.random.default_rng(
                        [noise_seed, zlib.crc32(f"{s}/{a}/{name}/pose".encode())]))
                world = place(world, root_motion, centres[rig])
                root_at = None
                if placement:
                    root_at = draw_placement(placement, cam, np.random.default_rng(
                        [noise_seed, zlib.crc32(f"{s}/{a}/{name}/placement".encode())]))
                uv, target = view(world, cam, min_depth, f"{path}: {s}/{a}", root_at)
                rng = np.random.default_rng([noise_seed, zlib.crc32(f"{s}/{a}/{name}".encode())])
                uv = uv + detector_noise(uv.shape, rng, noise_px, outlier_prob, outlier_px)
                uv = drop_and_fill(uv, rng, missing_prob, missing_max_gap)
                out.append(Sequence(s, a, name, cam.normalize(uv), target))
    return out
