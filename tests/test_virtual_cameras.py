"""Virtual cameras: viewpoints and lenses drawn from the range phones and action cameras film people from."""
from __future__ import annotations

import numpy as np
import pytest

from hotpose.data.cameras import FULL_FRAME_DIAGONAL_MM, check_virtual, virtual_cameras
from hotpose.data.io import DataError


def test_drawn_within_the_range():
    spec = {"count": 300, "elevation": [-30, 45], "roll": 15, "portrait": 0.5, "focal_mm": [20, 35],
            "distance": [2, 15], "target": [0.5, -1.0, 1.0], "seed": 3}
    cams = virtual_cameras(spec)
    target = np.array(spec["target"])
    elev, roll, focal_mm, dist = [], [], [], []
    for c in cams:
        R = c.rotation
        np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
        # aimed at the target: it projects to the image centre, in front of the camera
        assert c.world_to_camera(target)[2] > 0
        np.testing.assert_allclose(c.project(c.world_to_camera(target)), [c.res_w / 2, c.res_h / 2], atol=1e-6)
        off = c.translation - target
        dist.append(np.linalg.norm(off))
        elev.append(np.degrees(np.arcsin(off[2] / np.linalg.norm(off))))
        # the world vertical through the target, seen in the image: tilted by the roll only
        d = c.project(c.world_to_camera(target + [0, 0, 0.3])) - c.project(c.world_to_camera(target))
        roll.append(np.degrees(np.arctan2(d[0], -d[1])))
        focal_mm.append(c.focal[0] / np.hypot(c.res_w, c.res_h) * FULL_FRAME_DIAGONAL_MM)
        assert {c.res_w, c.res_h} == {1080, 1920}
    for values, (low, high) in ((elev, (-30, 45)), (roll, (-15, 15)), (focal_mm, (20, 35)), (dist, (2, 15))):
        v = np.array(values)
        assert low - 1e-6 <= v.min() and v.max() <= high + 1e-6
        assert v.min() < low + 0.1 * (high - low) and v.max() > high - 0.1 * (high - low)  # the range is covered
    portrait = np.mean([c.res_h > c.res_w for c in cams])
    assert 0.4 < portrait < 0.6
    assert [c.id for c in cams[:3]] == ["v0", "v1", "v2"]


def test_seeded():
    a, b = virtual_cameras({"count": 4, "seed": 1}), virtual_cameras({"count": 4, "seed": 1})
    c = virtual_cameras({"count": 4, "seed": 2})
    assert all(np.array_equal(x.rotation, y.rotation) for x, y in zip(a, b))
    assert not np.allclose(a[0].translation, c[0].translation)


@pytest.mark.parametrize("spec, words", [
    ({"cout": 3}, "unknown key"),
    ({"elevation": [-95, 10]}, "within -89..89"),
    ({"focal_mm": [0, 20]}, "0 < low <= high"),
    ({"portrait": 2}, "portrait <= 1"),
    ({"elevation": "high"}, "[low, high] pairs"),
])
def test_bad_specs(spec, words):
    with pytest.raises(DataError, match=words.replace("[", r"\[").replace(".", r"\.")):
        check_virtual(spec)


def test_config_rig(tmp_path):
    """``camera_subject: virtual`` films the motion through the drawn cameras; an unset spec is not written into
    stored configs (runs stored before the option existed compare equal)."""
    from hotpose.data.config import load_splits
    from hotpose.engine.config import load_config

    rng = np.random.default_rng(0)
    T = 40
    pose = np.zeros((T, 17, 3))
    parents = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    offs = rng.normal(0, 0.15, (17, 3))
    for j, p in enumerate(parents):
        pose[:, j] = pose[:, p] + offs[j] if p >= 0 else np.array([0, 0, 1.0])
    np.savez(tmp_path / "m.npz", positions_3d={"A": {"walk": pose, "run": pose + 0.01}})
    cfg = load_config(None, [f"data.root={tmp_path}", "data.kind=motion", "data.file_3d=m.npz",
                             "data.train_subjects=[A]", "data.test_subjects=[A]", "data.camera_subject=virtual",
                             "data.virtual_cameras={count: 5, seed: 2}", "data.views_per_action=2"])
    seqs = load_splits(cfg.data, ["train"])["train"]
    assert len(seqs) == 4 and all(s.camera.startswith("v") for s in seqs)
    assert load_config(None).to_dict()["data"].get("virtual_cameras", "absent") == "absent"
