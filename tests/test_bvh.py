"""BVH export round trip: write_bvh -> read_bvh reproduces the (bone-length-normalised) joint positions."""
from __future__ import annotations

import numpy as np
import pytest

from hotpose.skeleton import JOINT_NAMES, PARENTS
from hotpose.video.bvh import (bone_lengths, euler_zxy, normalise_bone_lengths, read_bvh, rotation_zxy,
                               write_bvh)

from conftest import SHARED

BANDAI = SHARED / "data" / "bandai" / "data_3d_bandai.npz"
# Rough H36M bone lengths (m) and rest directions in camera convention (x right, y down), facing the camera.
_LEN = np.array([0, .13, .45, .44, .13, .45, .44, .23, .25, .11, .11, .15, .28, .25, .15, .28, .25])
_DIR = np.array([[0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, -1, 0],
                 [0, -1, 0], [0, -1, 0], [0, -1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [-1, 0, 0], [-1, 0, 0],
                 [-1, 0, 0]], dtype=float)


def _build(dirs, lengths, root):
    """Positions (T, 17, 3) from bone directions (T, 17, 3), lengths (T, 17) and root (T, 3)."""
    pos = np.zeros(dirs.shape)
    pos[:, 0] = root
    for j in range(1, 17):
        d = dirs[:, j] / np.linalg.norm(dirs[:, j], axis=-1, keepdims=True)
        pos[:, j] = pos[:, PARENTS[j]] + lengths[:, j, None] * d
    return pos


def synthetic_motion(frames: int = 120, seed: int = 0) -> np.ndarray:
    """Smooth random motion with +-3% bone-length jitter, plus hard frames: rest pose, a thigh pointing straight
    forward (Euler lock at 90 degrees), a forearm folded back on itself (half-turn swing), a leg pointing up."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 30.0
    w, ph = rng.uniform(0.5, 3, (1, 17, 3)), rng.uniform(0, 2 * np.pi, (1, 17, 3))
    dirs = _DIR[None] + 0.9 * np.sin(2 * np.pi * w * t + ph)
    dirs[:, 0] = 0
    lengths = _LEN[None] * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(1, 4, (1, 17)) * t[:, :, 0]))
    root = np.stack([np.sin(t[:, 0, 0]), 0.1 * np.cos(3 * t[:, 0, 0]), 4 + 0.5 * t[:, 0, 0]], -1)
    dirs[0] = _DIR
    dirs[1] = _DIR
    dirs[1, 2] = [0, 0, -1]      # right thigh straight toward the camera
    dirs[2] = _DIR
    dirs[2, 13] = [-1, 0, 0]     # left forearm folded back onto the upper arm
    dirs[3] = _DIR
    dirs[3, 5] = [0, -1, 0]      # left thigh pointing up
    return _build(dirs, lengths, root)


def _chain_bound_mm(pose):
    """Per joint (T, 17): the sum along its chain of |bone length - median| (mm), which bounds the raw error that
    fixing the bone lengths can cause."""
    dev = np.abs(np.linalg.norm(pose - pose[:, list(PARENTS)], axis=-1) - bone_lengths(pose)) * 1000
    bound = np.zeros(dev.shape)
    for j in range(1, 17):
        bound[:, j] = bound[:, PARENTS[j]] + dev[:, j]
    return bound


def _errors_mm(pose, fps, tmp_path, **kw):
    path = write_bvh(tmp_path / "motion.bvh", pose, fps, **kw)
    back, fps_back = read_bvh(path, **kw)
    assert back.shape == pose.shape and fps_back == pytest.approx(fps, rel=1e-6)
    norm = np.linalg.norm(back - normalise_bone_lengths(pose), axis=-1) * 1000
    raw = np.linalg.norm(back - pose, axis=-1) * 1000
    return norm, raw


@pytest.mark.parametrize("unit,y_down", [("m", True), ("cm", True), ("m", False)])
def test_roundtrip_synthetic(tmp_path, unit, y_down):
    pose = synthetic_motion()
    norm, raw = _errors_mm(pose, 25.0, tmp_path, unit=unit, y_down=y_down)
    print(f"synthetic {unit} y_down={y_down}: normalised max {norm.max():.4f} mm, raw mean {raw.mean():.2f} "
          f"max {raw.max():.2f} mm")
    assert norm.max() < 0.01
    assert (raw <= _chain_bound_mm(pose) + 0.01).all()


def test_roundtrip_fixed_lengths_is_exact(tmp_path):
    """With constant bone lengths the raw error itself is below 0.01 mm."""
    pose = synthetic_motion(60, seed=3)
    fixed = normalise_bone_lengths(pose)
    _, raw = _errors_mm(fixed, 30.0, tmp_path)
    assert raw.max() < 0.01


def test_roundtrip_bandai(tmp_path):
    if not BANDAI.exists():
        pytest.skip(f"real motion not found at {BANDAI} (it lives in ../shared, outside the repository)")
    data = np.load(BANDAI, allow_pickle=True)["positions_3d"].item()
    norm_max, raw_all, clips = 0.0, [], 0
    for subject in sorted(data):
        actions = sorted(data[subject])
        for action in {actions[i * (len(actions) - 1) // 3] for i in range(4)}:  # 4 clips spread per subject
            pose = np.asarray(data[subject][action], dtype=np.float64)[:300]
            norm, raw = _errors_mm(pose, 30.0, tmp_path)
            assert (raw <= _chain_bound_mm(pose) + 0.01).all(), f"{subject}/{action}"
            norm_max, raw_all, clips = max(norm_max, norm.max()), raw_all + [raw.ravel()], clips + 1
    raw = np.concatenate(raw_all)
    print(f"bandai ({clips} clips): normalised max {norm_max:.4f} mm, raw mean {raw.mean():.2f} "
          f"max {raw.max():.2f} mm")
    assert norm_max < 0.01
    assert raw.mean() < 3  # the data's own bone lengths vary by up to ~2 cm (neck, shoulders)


def test_file_structure(tmp_path):
    pose = synthetic_motion(10)
    path = write_bvh(tmp_path / "s.bvh", pose, 50.0)
    text = path.read_text()
    for name in JOINT_NAMES:
        assert f" {name}\n" in text
    assert "Frames: 10" in text and "Frame Time: 0.02" in text
    rows = text.split("Frame Time:")[1].strip().splitlines()[1:]
    assert len(rows) == 10 and len(rows[0].split()) == 6 + 3 * 20
    offsets = [np.array(line.split()[1:], float) for line in text.splitlines() if "OFFSET" in line]
    lengths = sorted(np.round([np.linalg.norm(o) for o in offsets if np.linalg.norm(o) > 0], 5))
    expected = bone_lengths(pose)[1:]
    assert all(np.isclose(lengths, np.round(x, 5), atol=2e-6).any() for x in expected)


def test_file_stands_up(tmp_path):
    """Camera-convention input (y down) is written Y-up: the head is above the ankles in the file."""
    pose = synthetic_motion(5)
    path = write_bvh(tmp_path / "s.bvh", pose, 30.0)
    file_frame, _ = read_bvh(path, y_down=False)
    assert (file_frame[:, 10, 1] > file_frame[:, 3, 1]).all()


def test_euler_zxy_roundtrip():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-180, 180, (200, 3))
    angles[:20, 1] = 90.0
    angles[20:40, 1] = -90.0
    r = rotation_zxy(angles)
    assert np.allclose(rotation_zxy(euler_zxy(r)), r, atol=1e-9)


def test_validation(tmp_path):
    pose = synthetic_motion(4)
    bad = pose.copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_bvh(tmp_path / "a.bvh", bad, 30)
    with pytest.raises(ValueError, match="T, 17, 3"):
        write_bvh(tmp_path / "a.bvh", pose[:, :16], 30)
    with pytest.raises(ValueError, match="fps"):
        write_bvh(tmp_path / "a.bvh", pose, 0)
    with pytest.raises(ValueError, match="unit"):
        write_bvh(tmp_path / "a.bvh", pose, 30, unit="mm")
    (tmp_path / "junk.bvh").write_text("hello")
    with pytest.raises(ValueError, match="cannot read BVH"):
        read_bvh(tmp_path / "junk.bvh")
    path = write_bvh(tmp_path / "t.bvh", pose, 30)
    (tmp_path / "cut.bvh").write_text(path.read_text()[:-40])
    with pytest.raises(ValueError, match="motion has"):
        read_bvh(tmp_path / "cut.bvh")
