"""Small synthetic datasets written in the exact Human3.6M (VideoPose3D) and MPI-INF-3DHP (P-STMO) file layouts,
for tests and for trying the pipeline without the real data. The motion is a smooth, plausible 17-joint body
(swaying, turning, bending its limbs) near the centre of the Human3.6M capture volume; it is not real motion.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hotpose.data.cameras import load_cameras
from hotpose.data.mpi3dhp import TO_3DHP
from hotpose.data.sequence import H36M_KEEP_32

# A standing body in the Human3.6M order, world metres, Z up.
REST_POSE = np.array([
    [0, 0, .95], [-.12, 0, .95], [-.12, .02, .52], [-.12, 0, .10], [.12, 0, .95], [.12, .02, .52], [.12, 0, .10],
    [0, 0, 1.18], [0, 0, 1.45], [0, -.06, 1.55], [0, 0, 1.66], [.17, 0, 1.42], [.20, 0, 1.15], [.22, -.02, .90],
    [-.17, 0, 1.42], [-.20, 0, 1.15], [-.22, -.02, .90]])
_LIMBS = (2, 3, 5, 6, 12, 13, 15, 16, 9, 10)  # joints that get their own swing


def synthetic_motion(frames: int, rng: np.random.Generator) -> np.ndarray:
    """(frames, 17, 3) world metres: the rest pose turning, swaying and swinging its limbs, smoothly."""
    t = np.arange(frames)[:, None]
    w = rng.uniform(0.05, 0.2, (1, 4))
    phase = rng.uniform(0, 2 * np.pi, (1, 4))
    yaw = 0.8 * np.sin(w[:, 0] * t[:, 0] + phase[0, 0]) + rng.uniform(-np.pi, np.pi)
    pose = np.repeat(REST_POSE[None], frames, axis=0)
    swing = np.zeros_like(pose)
    for j in _LIMBS:
        a, f, p = rng.uniform(0.03, 0.12, 3), rng.uniform(0.05, 0.3, 3), rng.uniform(0, 2 * np.pi, 3)
        swing[:, j] = a * np.sin(f * t + p)
    pose = pose + swing
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.stack([np.stack([c, -s, 0 * c], -1), np.stack([s, c, 0 * c], -1),
                    np.stack([0 * c, 0 * c, 1 + 0 * c], -1)], -2)  # (T, 3, 3) about Z
    pose = np.einsum("tij,tkj->tki", rot, pose)
    root = np.stack([0.4 * np.sin(w[0, 1] * t[:, 0] + phase[0, 1]), 0.3 + 0.4 * np.sin(w[0, 2] * t[:, 0]),
                     0.03 * np.sin(w[0, 3] * t[:, 0])], -1)
    return (pose + root[:, None]).astype(np.float32)


def to_32_joints(pose17: np.ndarray) -> np.ndarray:
    """(T, 17, 3) -> (T, 32, 3) in the Human3.6M mocap layout (the 15 dropped joints copy their parent)."""
    out = np.repeat(pose17[:, :1], 32, axis=1)
    out[:, list(H36M_KEEP_32)] = pose17
    return out


def write_h36m(folder: str | Path, subjects=("S1", "S5", "S9", "S11"), actions=("Directions 1", "Walking"),
               frames: int = 60, joints: int = 32, noise_px: float = 1.0, extra_2d_frames: int = 3,
               seed: int = 0) -> dict[str, Path]:
    """Write ``data_3d_h36m.npz`` and ``data_2d_h36m_cpn_ft_h36m_dbb.npz`` (2D = projection + noise, a few frames
    longer than the mocap as real detections can be). Action i has ``frames + 7 i`` frames. Returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cams = load_cameras()
    pos3d, pos2d = {}, {}
    for s in subjects:
        pos3d[s], pos2d[s] = {}, {}
        for i, a in enumerate(actions):
            world = synthetic_motion(frames + 7 * i + extra_2d_frames, rng)
            pos3d[s][a] = (to_32_joints(world) if joints == 32 else world)[:frames + 7 * i]
            pos2d[s][a] = [(c.project(c.world_to_camera(world)) + rng.normal(0, noise_px, world.shape[:2] + (2,)))
                           .astype(np.float32) for c in cams.of(s)]
    paths = {"3d": folder / "data_3d_h36m.npz", "2d": folder / "data_2d_h36m_cpn_ft_h36m_dbb.npz"}
    np.savez_compressed(paths["3d"], positions_3d=pos3d)
    meta = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13],
                                                                            [1, 2, 3, 14, 15, 16]]}
    np.savez_compressed(paths["2d"], positions_2d=pos2d, metadata=meta)
    return paths


def _pinhole(cam_pose: np.ndarray, w: int, h: int) -> np.ndarray:
    """(T, 17, 3) camera-frame metres -> pixels with a plain pinhole (f = w)."""
    return cam_pose[..., :2] / cam_pose[..., 2:] * w + np.array([w / 2, h / 2])


def write_3dhp(folder: str | Path, subjects=("S1", "S2"), sequences=("Seq1",), cameras=("0", "1"),
               test=("TS1", "TS5"), frames: int = 50, seed: int = 0) -> dict[str, Path]:
    """Write ``data_train_3dhp.npz`` and ``data_test_3dhp.npz`` in the P-STMO layout (3DHP joint order, 2D in
    pixels, 3D in millimetres, camera frame; test sequences with a ``valid`` mask). Returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def view(w: int, h: int, n: int) -> dict:
        body = synthetic_motion(n, rng)[..., [0, 2, 1]] * np.array([1, -1, 1])  # Z up -> y down, facing camera
        cam = body + np.array([0, 1.0, 4.0])
        order = list(TO_3DHP)
        return {"data_2d": _pinhole(cam, w, h)[:, order].astype(np.float32),
                "data_3d": (cam[:, order] * 1000).astype(np.float32)}

    train = {f"{s} {q}": [{c: view(2048, 2048, frames + 5 * i) for c in cameras}, 25]
             for i, s in enumerate(subjects) for q in sequences}
    tests = {}
    for name in test:
        w, h = (1920, 1080) if name in ("TS5", "TS6") else (2048, 2048)
        v = view(w, h, frames)
        v["valid"] = (rng.random(frames) > 0.2).astype(np.float32)
        tests[name] = v
    paths = {"train": folder / "data_train_3dhp.npz", "test": folder / "data_test_3dhp.npz"}
    np.savez_compressed(paths["train"], data=train)
    np.savez_compressed(paths["test"], data=tests)
    return paths
