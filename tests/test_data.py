"""Cameras and readers: Human3.6M, MPI-INF-3DHP and projected motion, on tiny files in the exact layouts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hotpose.data import DataConfig, DataError, load_cameras, load_splits, read_3dhp_test, read_3dhp_train, \
    read_h36m, read_motion
from hotpose.data.cameras import default_camera_file, normalize_screen
from hotpose.data.h36m import load_positions_3d
from hotpose.data.mpi3dhp import FROM_3DHP
from hotpose.data.sequence import H36M_KEEP_32
from hotpose.data.synthetic import synthetic_motion, write_3dhp, write_h36m

from conftest import SHARED

Rotation = pytest.importorskip("scipy.spatial.transform").Rotation


@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    return write_h36m(tmp_path_factory.mktemp("h36m"), frames=40)


@pytest.fixture(scope="module")
def mpi(tmp_path_factory):
    return write_3dhp(tmp_path_factory.mktemp("3dhp"))


def test_packaged_cameras_are_the_published_ones():
    cams = load_cameras()
    assert [c.id for c in cams.intrinsics] == ["54138969", "55011271", "58860488", "60457274"]
    assert sorted(cams.subjects) == ["S1", "S11", "S5", "S6", "S7", "S8", "S9"]
    shared = SHARED / "data" / "h36m_cameras.json"
    if shared.exists():
        assert json.loads(default_camera_file().read_text()) == json.loads(shared.read_text())


def test_world_to_camera_and_projection_against_independent_formulas():
    cam = load_cameras().of("S9")[2]
    doc = json.loads(default_camera_file().read_text())
    ext = next(e for e in doc["extrinsics"]["S9"] if e["camera_id"] == cam.id)
    r_c2w = Rotation.from_quat(ext["orientation_wxyz"], scalar_first=True).as_matrix()
    x = np.random.default_rng(0).normal(size=(5, 3)) + [0, 0.3, 1]
    x_cam = cam.world_to_camera(x)
    np.testing.assert_allclose(x_cam, (x - np.array(ext["translation_mm"]) / 1000) @ r_c2w, atol=1e-9)
    on_axis = cam.translation + 4.0 * cam.rotation[:, 2]  # a point on the optical axis projects to the centre
    np.testing.assert_allclose(cam.project(cam.world_to_camera(on_axis)), cam.center, atol=1e-6)
    u = normalize_screen(np.array([[0.0, 0.0], [1000.0, 1002.0]]), 1000, 1002)
    np.testing.assert_allclose(u, [[-1, -1.002], [1, 1.002]], atol=1e-6)


def test_h36m_reader(h36m):
    seqs = read_h36m(h36m["3d"], h36m["2d"], ["S1", "S9"])
    assert len(seqs) == 2 * 2 * 4 and {s.camera for s in seqs} == {c.id for c in load_cameras().intrinsics}
    world = load_positions_3d(h36m["3d"], ["S9"])["S9"]["Walking"]
    raw = np.load(h36m["3d"], allow_pickle=True)["positions_3d"].item()["S9"]["Walking"]
    assert raw.shape[1] == 32 and world.shape == (47, 17, 3)
    np.testing.assert_array_equal(world, raw[:, list(H36M_KEEP_32)])
    s = next(q for q in seqs if q.subject == "S9" and q.action == "Walking" and q.camera == "58860488")
    cam = load_cameras().of("S9")[2]
    ref = cam.world_to_camera(world)
    np.testing.assert_allclose(s.targets, ref - ref[:, :1], atol=1e-5)
    assert len(s) == 47 and s.inputs.shape == (47, 17, 2)  # 2D cut to the mocap length
    assert np.abs(s.inputs).max() < 1.5 and s.group == "Walking"
    only = read_h36m(h36m["3d"], h36m["2d"], ["S1"], actions=["Directions"])
    assert {q.action for q in only} == {"Directions 1"}


def _rewrite(path, out, edit):
    z = dict(np.load(path, allow_pickle=True))
    z = {k: (v.item() if v.dtype == object and v.ndim == 0 else v) for k, v in z.items()}
    edit(z)
    np.savez(out, **z)
    return out


@pytest.mark.parametrize("case, match", [
    ("missing_key", "missing key"), ("joints", r"expected shape \(T, 17\|32, 3\)"), ("nan", "NaN"),
    ("short_2d", "fewer than"), ("subject", r"subject\(s\) \['S7'\] not found"),
    ("action", r"action\(s\) \['Eating'\] not found"), ("corrupt", "not a readable npz"),
    ("cameras", "camera views")])
def test_h36m_bad_inputs_give_one_clear_error(h36m, tmp_path, case, match):
    f3, f2, subjects, actions = h36m["3d"], h36m["2d"], ["S1"], None
    if case == "missing_key":
        f3 = _rewrite(f3, tmp_path / "a.npz", lambda z: z.update(poses=z.pop("positions_3d")))
    elif case == "joints":
        f3 = _rewrite(f3, tmp_path / "a.npz", lambda z: z["positions_3d"]["S1"].update(
            {"Walking": np.zeros((47, 20, 3))}))
    elif case == "nan":
        def put_nan(z):
            z["positions_3d"]["S1"]["Walking"][3, 2, 1] = np.nan
        f3 = _rewrite(f3, tmp_path / "a.npz", put_nan)
    elif case == "short_2d":
        def cut(z):
            z["positions_2d"]["S1"]["Walking"][1] = z["positions_2d"]["S1"]["Walking"][1][:10]
        f2 = _rewrite(f2, tmp_path / "b.npz", cut)
    elif case == "subject":
        subjects = ["S7"]
    elif case == "action":
        actions = ["Eating"]
    elif case == "corrupt":
        f3 = tmp_path / "a.npz"
        f3.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    elif case == "cameras":
        f2 = _rewrite(f2, tmp_path / "b.npz", lambda z: z["positions_2d"]["S1"]["Walking"].pop())
    with pytest.raises(DataError, match=match) as err:
        read_h36m(f3, f2, subjects, actions=actions)
    assert "\n" not in str(err.value)


def test_3dhp_reader_reorders_joints_and_normalises(mpi):
    train = read_3dhp_train(mpi["train"])
    assert [(s.subject, s.action, s.camera) for s in train] == [("S1", "Seq1", "0"), ("S1", "Seq1", "1"),
                                                                ("S2", "Seq1", "0"), ("S2", "Seq1", "1")]
    raw = np.load(mpi["train"], allow_pickle=True)["data"].item()["S2 Seq1"][0]["1"]
    s = train[3]
    ref = raw["data_3d"][:, list(FROM_3DHP)] / 1000
    np.testing.assert_allclose(s.targets, ref - ref[:, :1], atol=1e-6)
    np.testing.assert_allclose(s.inputs, raw["data_2d"][:, list(FROM_3DHP)] / 2048 * 2 - 1, atol=1e-6)
    assert s.valid is None and len(s) == 55
    test = read_3dhp_test(mpi["test"])
    raw = np.load(mpi["test"], allow_pickle=True)["data"].item()["TS5"]
    ts5 = test[1]
    assert ts5.subject == "TS5" and ts5.valid.dtype == bool and ts5.valid.sum() == (raw["valid"] > 0).sum()
    np.testing.assert_allclose(ts5.inputs[..., 1], raw["data_2d"][:, list(FROM_3DHP), 1] / 1920 * 2 - 1080 / 1920,
                               atol=1e-6)
    with pytest.raises(DataError, match=r"test sequence\(s\) \['TS9'\] not found"):
        read_3dhp_test(mpi["test"], ["TS9"])


def test_motion_reader_projects_and_keeps_bodies_in_view(tmp_path):
    rng = np.random.default_rng(0)
    walk = synthetic_motion(30, rng)
    walk[..., 0] += np.linspace(0, 9, 30)[:, None]  # walks 9 m across the stage
    np.savez(tmp_path / "m.npz", positions_3d={"A": {"walk 1": walk}, "B": {"walk 2": walk[::-1].copy()}})
    seqs = read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1")
    assert len(seqs) == 4 and np.abs(np.concatenate([s.inputs for s in seqs])).max() < 1
    np.testing.assert_allclose(seqs[0].targets[:, 0], 0)
    noisy = read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1", noise_px=3.0)
    both = read_motion(tmp_path / "m.npz", ["A", "B"], camera_subject="S1", noise_px=3.0)
    np.testing.assert_array_equal(noisy[0].inputs, both[0].inputs)  # noise fixed per view, not per split
    err = np.abs(noisy[0].inputs - seqs[0].inputs).mean() * 500  # normalised -> pixels (w = 1000)
    assert 1.5 < err < 3.5
    with pytest.raises(DataError, match="root_motion"):
        read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1", root_motion="keep", min_depth=4.0)
    with pytest.raises(DataError, match="no camera extrinsics for subject 'A'"):
        read_motion(tmp_path / "m.npz", ["A"])


def test_motion_reader_rescales_training_bodies(tmp_path):
    """bone_scale gives every training view a body of other proportions (fixed per view, left and right alike);
    the test split keeps the recorded body."""
    from hotpose.skeleton import BONE_GROUPS, bone_length_series, rescale_bones

    walk = synthetic_motion(30, np.random.default_rng(0))
    np.savez(tmp_path / "m.npz", positions_3d={"A": {"walk 1": walk}, "B": {"walk 2": walk.copy()}})

    def bones(seq):  # (T, 16) bone lengths of the root-relative camera-frame targets
        return bone_length_series(seq.targets)

    ranges = {"hips": [1.5, 2.0], "thighs": [0.8, 0.9]}
    plain = read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1")
    scaled = read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1", bone_scale=ranges)
    again = read_motion(tmp_path / "m.npz", ["A", "B"], camera_subject="S1", bone_scale=ranges)
    factors = []
    for p_, s_ in zip(plain, scaled):
        ratio = bones(s_) / bones(p_)
        np.testing.assert_allclose(ratio, ratio[:1].repeat(len(ratio), 0), rtol=1e-4)  # fixed over time
        f = ratio[0]
        hips, thighs = [j - 1 for j in BONE_GROUPS["hips"]], [j - 1 for j in BONE_GROUPS["thighs"]]
        assert 1.5 <= f[hips[0]] <= 2.0 and f[hips[0]] == pytest.approx(f[hips[1]], rel=1e-4)  # left = right
        assert 0.8 <= f[thighs[0]] <= 0.9
        others = [k for k in range(16) if k not in hips + thighs]
        np.testing.assert_allclose(f[others], 1, rtol=1e-4)
        factors.append(f[hips[0]])
    assert len(set(np.round(factors, 6))) == len(factors)  # a body per view
    np.testing.assert_array_equal(again[0].inputs, scaled[0].inputs)  # fixed per view, whatever else is loaded
    cfg = DataConfig(kind="motion", root=str(tmp_path), file_3d="m.npz", camera_subject="S1",
                     train_subjects=["A"], test_subjects=["A"], bone_scale=ranges)
    splits = load_splits(cfg, ["train", "test"])
    np.testing.assert_array_equal(splits["train"][0].inputs, scaled[0].inputs)
    np.testing.assert_array_equal(splits["test"][0].inputs, plain[0].inputs)

    moved = rescale_bones(walk, {"upper_arms": 2.0})
    np.testing.assert_array_equal(moved[:, :12], walk[:, :12])  # the root and the joints above the elbow stay
    np.testing.assert_allclose(moved[:, 13] - moved[:, 12], walk[:, 13] - walk[:, 12], atol=1e-12)  # forearm kept
    with pytest.raises(DataError, match="unknown bone group 'tail'"):
        read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1", bone_scale={"tail": [1, 2]})
    with pytest.raises(DataError, match="0 < low <= high"):
        read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1", bone_scale={"hips": [2, 1]})


def test_motion_reader_places_training_bodies(tmp_path):
    """placement moves each training view's body to a depth within the range and an image position within the
    offset (fixed per view); the root-relative targets are unchanged, the test split keeps the capture centre."""
    from hotpose.data.cameras import load_cameras

    walk = synthetic_motion(30, np.random.default_rng(0))
    np.savez(tmp_path / "m.npz", positions_3d={"A": {"walk 1": walk}})
    placement = {"distance": [8.0, 12.0], "offset": 0.5}
    plain = read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1")
    placed = read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1", placement=placement)
    cams = {c.id: c for c in load_cameras().of("S1")}
    roots = []
    for p_, q_ in zip(plain, placed):
        np.testing.assert_allclose(q_.targets, p_.targets, atol=1e-6)  # a translation: targets unchanged
        root = q_.inputs[:, 0].mean(0)
        assert np.all(np.abs(root) <= 0.5 + 0.05)  # near the drawn image point (the body moves about it)
        height = np.ptp(q_.inputs[..., 1], axis=-1).mean()
        cam = cams[q_.camera]
        # ~1.7 m body seen from 8-12 m: its height in normalised units is about 2 f / w * 1.7 / depth
        depth = 2 * cam.focal[1] / cam.res_w * np.ptp(walk[..., 2], axis=-1).mean() / height
        assert 7.0 < depth < 13.5
        roots.append(tuple(np.round(root, 4)))
    assert len(set(roots)) == len(roots)  # a placement per view
    cfg = DataConfig(kind="motion", root=str(tmp_path), file_3d="m.npz", camera_subject="S1",
                     train_subjects=["A"], test_subjects=["A"], placement=placement)
    splits = load_splits(cfg, ["train", "test"])
    np.testing.assert_array_equal(splits["train"][0].inputs, placed[0].inputs)
    np.testing.assert_array_equal(splits["test"][0].inputs, plain[0].inputs)
    for bad, msg in (({"distance": [5, 2]}, "0 < distance low <= high"), ({"offset": 0.2}, "distance: \\[low"),
                     ({"distance": [3, 9], "angle": 1}, "unknown key")):
        with pytest.raises(DataError, match=msg):
            read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1", placement=bad)


def test_splits_hold_out_whole_sequences(h36m):
    cfg = DataConfig(kind="h36m", root=str(h36m["3d"].parent), train_subjects=["S1", "S5"],
                     test_subjects=["S9"], val_fraction=0.3)
    splits = load_splits(cfg)
    train = {(s.subject, s.action) for s in splits["train"]}
    val = {(s.subject, s.action) for s in splits["val"]}
    assert len(val) == 1 and not train & val and len(splits["val"]) == 4
    assert {s.subject for s in splits["test"]} == {"S9"}
    assert len(load_splits(DataConfig(kind="h36m", root=cfg.root, max_sequences=3), ["test"])["test"]) == 3
    with pytest.raises(ValueError, match="not both"):
        DataConfig(val_subjects=["S8"], val_fraction=0.1)
