"""3D pose augmentation: limbs turned about their parent joints within limits, bone lengths exact."""
from __future__ import annotations

import numpy as np
import pytest

from hotpose.data.io import DataError
from hotpose.data.pose_aug import MAX_FLEXION_DEG, augment_pose, check_pose_aug
from hotpose.skeleton import bone_length_series

# A person standing upright facing +y (left is -x), arms hanging, swaying a little over 20 frames.
STAND = np.array([[0, 0, 1.0], [0.1, 0, 1.0], [0.1, 0, 0.55], [0.1, 0, 0.1], [-0.1, 0, 1.0], [-0.1, 0, 0.55],
                  [-0.1, 0, 0.1], [0, 0, 1.25], [0, 0, 1.5], [0, 0.05, 1.6], [0, 0, 1.75], [-0.2, 0, 1.45],
                  [-0.2, 0.02, 1.15], [-0.2, 0.05, 0.9], [0.2, 0, 1.45], [0.2, 0.02, 1.15], [0.2, 0.05, 0.9]])
CLIP = STAND[None] + np.linspace(0, 0.05, 20)[:, None, None] * np.array([1.0, 0.5, 0.0])
NONE = {"prob": 1.0, "knee": 0, "elbow": 0, "hip_flexion": [0, 0], "hip_abduction": [0, 0], "shoulder": 0,
        "bend": [0, 0], "tilt": 0}


def aug(seed=0, **only):
    return augment_pose(CLIP, check_pose_aug({**NONE, **only}), np.random.default_rng(seed))


def direction(p, a, b):
    d = p[:, b] - p[:, a]
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def test_bone_lengths_exact_and_seeded():
    spec = check_pose_aug({"prob": 1.0, "tilt": 90})
    for seed in range(5):
        out = augment_pose(CLIP, spec, np.random.default_rng(seed))
        np.testing.assert_allclose(bone_length_series(out), bone_length_series(CLIP), atol=1e-12)
        assert np.abs(out - CLIP).max() > 0.05
        np.testing.assert_array_equal(out, augment_pose(CLIP, spec, np.random.default_rng(seed)))
    np.testing.assert_array_equal(augment_pose(CLIP, check_pose_aug({"prob": 0.0}), np.random.default_rng(0)), CLIP)


def test_each_offset_turns_what_it_names_the_way_it_says():
    fwd, up, left = np.array([0, 1.0, 0]), np.array([0, 0, 1.0]), np.array([-1.0, 0, 0])
    out = aug(hip_flexion=[90, 90])  # both thighs straight forward, the upper body untouched
    assert (direction(out, 1, 2) @ fwd).min() > 0.99 and (direction(out, 4, 5) @ fwd).min() > 0.99
    np.testing.assert_array_equal(out[:, 7:], CLIP[:, 7:])
    out = aug(hip_abduction=[30, 30])  # each leg outwards: the left one to the left, the right one to the right
    assert (direction(out, 4, 5) @ left).min() == pytest.approx(np.sin(np.radians(30)), abs=1e-6)
    assert (direction(out, 1, 2) @ -left).min() == pytest.approx(np.sin(np.radians(30)), abs=1e-6)
    out = aug(knee=90, seed=3)  # shanks swing back: only the ankles move
    assert (direction(out, 2, 3) @ fwd).max() < -0.05
    np.testing.assert_array_equal(np.delete(out, [3, 6], axis=1), np.delete(CLIP, [3, 6], axis=1))
    out = aug(bend=[45, 45])  # the upper body leans forward by 45 degrees
    np.testing.assert_allclose(direction(out, 0, 8) @ fwd, np.sin(np.radians(45)), atol=0.05)
    np.testing.assert_array_equal(out[:, :7], CLIP[:, :7])
    out = aug(tilt=90, seed=1)  # the whole body turned about the pelvis
    np.testing.assert_array_equal(out[:, 0], CLIP[:, 0])
    assert (direction(out, 0, 8) @ up).max() < np.cos(np.radians(1)) + 1e-9


def test_flexion_capped():
    """However large the drawn extra flexion, no knee or elbow bends past the limit in any frame."""
    bent = CLIP.copy()
    bent[:, 3] = bent[:, 2] + [0, -0.45 * np.sin(np.radians(120)), -0.45 * np.cos(np.radians(120))]  # 120 deg
    spec = check_pose_aug({**NONE, "knee": MAX_FLEXION_DEG, "elbow": MAX_FLEXION_DEG})
    for seed in range(10):
        out = augment_pose(bent, spec, np.random.default_rng(seed))
        for a, b, c in ((1, 2, 3), (4, 5, 6), (11, 12, 13), (14, 15, 16)):
            u, v = direction(out, a, b), direction(out, b, c)
            assert np.degrees(np.arccos(np.clip((u * v).sum(-1), -1, 1))).max() <= MAX_FLEXION_DEG + 1e-6


@pytest.mark.parametrize("spec, words", [({"knees": 3}, "unknown key"), ({"bend": [50, 10]}, "degree ranges"),
                                         ({"knee": 170}, "<= 150"), ({"prob": 1.5}, "0 <= prob <= 1")])
def test_bad_specs(spec, words):
    with pytest.raises(DataError, match=words):
        check_pose_aug(spec)


def test_training_views_only(tmp_path):
    """data.pose_aug changes the training views' 3D, never the test split's; unset, it is not in stored configs."""
    from hotpose.data.config import load_splits
    from hotpose.engine.config import load_config

    np.savez(tmp_path / "m.npz", positions_3d={"A": {"walk": CLIP, "run": CLIP + 0.01}})
    base = [f"data.root={tmp_path}", "data.kind=motion", "data.file_3d=m.npz", "data.train_subjects=[A]",
            "data.test_subjects=[A]", "data.camera_subject=S1"]
    plain = load_splits(load_config(None, base).data, ["train", "test"])
    augd = load_splits(load_config(None, base + ["data.pose_aug={prob: 1.0}"]).data, ["train", "test"])
    assert any(not np.allclose(a.targets, b.targets) for a, b in zip(plain["train"], augd["train"]))
    assert all(np.array_equal(a.targets, b.targets) for a, b in zip(plain["test"], augd["test"]))
    assert "pose_aug" not in load_config(None, base).to_dict()["data"]
