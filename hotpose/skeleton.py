"""The 17-joint Human3.6M skeleton used throughout, and horizontal flipping.

Joint order: 0 pelvis (root), 1 R-hip, 2 R-knee, 3 R-ankle, 4 L-hip, 5 L-knee, 6 L-ankle, 7 spine, 8 thorax,
9 neck/nose, 10 head, 11 L-shoulder, 12 L-elbow, 13 L-wrist, 14 R-shoulder, 15 R-elbow, 16 R-wrist.
"""
from __future__ import annotations

import numpy as np
import torch

JOINT_NAMES = ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax", "neck",
               "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
LEFT = (4, 5, 6, 11, 12, 13)
RIGHT = (1, 2, 3, 14, 15, 16)
NUM_JOINTS = 17
# Bones named by body part, each bone given by its child joint (the bone runs from PARENTS[j] to j); left and right
# bones of a part share an entry, so that a body can be rescaled symmetrically.
BONE_GROUPS = {"hips": (1, 4), "thighs": (2, 5), "shanks": (3, 6), "spine": (7,), "chest": (8,), "neck": (9,),
               "head": (10,), "shoulders": (11, 14), "upper_arms": (12, 15), "forearms": (13, 16)}


def bone_length_series(poses, parents=PARENTS) -> np.ndarray:
    """(..., T, J, 3) joint positions -> (..., T, J - 1) length of every bone (child joints 1..J-1) in every frame."""
    p = np.asarray(poses, dtype=np.float64)
    return np.linalg.norm(p[..., 1:, :] - p[..., list(parents[1:]), :], axis=-1)


def bone_lengths(poses, symmetric: bool = False, parents=PARENTS) -> np.ndarray:
    """Median length of each bone over the sequence: (T, J, 3) -> (J,), entry j for the bone from parents[j] to j
    (0 for the root). symmetric: the left and right bones of a pair (LEFT / RIGHT) both get their mean."""
    lengths = np.concatenate([[0.0], np.median(bone_length_series(poses, parents), axis=0)])
    if symmetric:
        for a, b in zip(LEFT, RIGHT):
            lengths[a] = lengths[b] = (lengths[a] + lengths[b]) / 2
    return lengths


def normalise_bone_lengths(poses, lengths=None, parents=PARENTS) -> np.ndarray:
    """Poses (T, J, 3) with every bone rescaled to ``lengths`` (J,) (default: :func:`bone_lengths`), keeping each
    bone's direction and the root position: the joints below a bone move with it."""
    p = np.asarray(poses, dtype=np.float64)
    lengths = bone_lengths(p, parents=parents) if lengths is None else np.asarray(lengths, dtype=np.float64)
    out = p.copy()
    for j in range(1, len(parents)):
        d = p[:, j] - p[:, parents[j]]
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        out[:, j] = out[:, parents[j]] + lengths[j] * np.divide(d, n, out=np.zeros_like(d), where=n > 1e-12)
    return out


def fixed_skeleton(pose_3d, track_ranges=None) -> np.ndarray:
    """(T, 17, 3) poses -> float32, the same with fixed bone lengths per track (``track_ranges``: [(first, end)]
    frame ranges; None: the whole sequence is one track): each bone keeps its direction and takes the track's
    median length, left and right alike; frames outside every track take the longest track's lengths."""
    pose = np.asarray(pose_3d, np.float64)
    if not track_ranges:
        return normalise_bone_lengths(pose, bone_lengths(pose, symmetric=True)).astype(np.float32)
    a, b = max(track_ranges, key=lambda r: r[1] - r[0])
    out = normalise_bone_lengths(pose, bone_lengths(pose[a:b], symmetric=True))
    for a, b in track_ranges:
        out[a:b] = normalise_bone_lengths(pose[a:b], bone_lengths(pose[a:b], symmetric=True))
    return out.astype(np.float32)


# The standing chain: the bones between an ankle and the head point (leg bones averaged left/right, then pelvis ->
# spine -> thorax -> neck/nose -> head), as child joints.
STANDING_CHAIN = ((3, 6), (2, 5), (7,), (8,), (9,), (10,))
# Stature / standing-chain length. Measured on the motion-capture rig of ../shared/data/bandai: chain 1.43 m (its
# median bone lengths), about 1.6 m tall; upright, its head point is 0.956 chain lengths above the ankles, the ankles
# ~0.12 m above the floor and the crown ~0.1 m above the head point. One body's ratio: real people differ by a few
# percent (longer legs, another head point), which is the accuracy of a height given as ``height_m``.
STATURE_PER_CHAIN = 1.12
HEIGHT_RANGE_M = (0.5, 2.5)


def stature(poses) -> float:
    """The standing height (metres) of the body in ``poses`` (T, 17, 3): its standing chain (median bone lengths
    over the sequence) times :data:`STATURE_PER_CHAIN`. Independent of posture (bone lengths, not extents)."""
    lengths = bone_lengths(poses)
    return float(sum(np.mean([lengths[j] for j in part]) for part in STANDING_CHAIN) * STATURE_PER_CHAIN)


def scale_to_height(poses, height_m: float) -> np.ndarray:
    """``poses`` (T, 17, 3), root-relative, scaled about the root so that :func:`stature` is ``height_m`` metres
    (float32). Raises ValueError for a height outside :data:`HEIGHT_RANGE_M` or a body of zero size."""
    h = float(height_m)
    low, high = HEIGHT_RANGE_M
    if not low <= h <= high:
        raise ValueError(f"height must be the person's standing height in metres, {low}-{high}, got {height_m}")
    p = np.asarray(poses, dtype=np.float64)
    now = stature(p)
    if not now > 1e-6:
        raise ValueError("the poses have no size (every joint at one point): cannot scale them to a height")
    root = p[..., :1, :]
    return (root + (p - root) * (h / now)).astype(np.float32)


def rescale_bones(poses: np.ndarray, factors: dict, parents=PARENTS, groups=BONE_GROUPS) -> np.ndarray:
    """Change a body's proportions: (T, J, 3) joint positions -> (T, J, 3) with every bone of ``groups[name]``
    lengthened by ``factors[name]`` (bones not named keep their length). Each bone keeps its direction and the
    joints below it move with it; the root stays in place. ``parents`` must list parents before children."""
    scale = np.ones(len(parents))
    for name, f in factors.items():
        if name not in groups:
            raise KeyError(f"unknown bone group {name!r}; expected one of {sorted(groups)}")
        scale[list(groups[name])] = f
    poses = np.asarray(poses, dtype=np.float64)
    shift = np.zeros_like(poses)  # how far each joint moves: its parent's shift plus its own bone's change
    for j in range(1, len(parents)):
        p = parents[j]
        shift[:, j] = shift[:, p] + (scale[j] - 1.0) * (poses[:, j] - poses[:, p])
    return poses + shift


def flip_permutation(left=LEFT, right=RIGHT, joints: int = NUM_JOINTS) -> list[int]:
    """Joint permutation that swaps left and right."""
    perm = list(range(joints))
    for a, b in zip(left, right):
        perm[a], perm[b] = b, a
    return perm


FLIP_PERM = tuple(flip_permutation())


def flip_pose(x, perm=FLIP_PERM):
    """Mirror poses horizontally: negate x and swap left/right joints. x: (..., J, C>=1), numpy or torch."""
    y = x[..., list(perm), :]
    if isinstance(y, torch.Tensor):
        y = y.clone()
    else:
        y = np.array(y, copy=True)
    y[..., 0] = -y[..., 0]
    return y
