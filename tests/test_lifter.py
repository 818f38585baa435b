"""hotpose.Lifter and `hotpose lift`: windowing of any length, NaN filling, flip, seq2frame and 3-channel models, CLI."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import hotpose
from hotpose import Lifter
from hotpose.cli import main
from hotpose.registry import build_model, tiny_overrides

W, H = 1000, 1002


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(name: str = "hot_mixste_243", **kw):
    torch.manual_seed(0)
    return build_model(name, **{**tiny_overrides(name), **kw}).eval()


@pytest.fixture(scope="module")
def lifter():
    return Lifter(tiny(), batch_size=8)


def walk(T: int, seed: int = 0) -> np.ndarray:
    """(T, 17, 2) plausible pixel keypoints: a fixed skeleton drifting and jittering."""
    rng = np.random.default_rng(seed)
    base = np.array([[500, 500], [470, 500], [470, 600], [470, 700], [530, 500], [530, 600], [530, 700],
                     [500, 450], [500, 400], [500, 380], [500, 350], [540, 400], [560, 450], [570, 500],
                     [460, 400], [440, 450], [430, 500]], np.float64)
    t = np.arange(T)[:, None, None]
    return base + 5 * np.sin(t / 10.0) + rng.normal(0, 1, (T, 17, 2))


@pytest.mark.parametrize("T", [1, 5, None, 2000])
def test_shapes_any_length(lifter, T):
    T = T or lifter.frames + 1
    pose = lifter.lift(walk(T), image_size=(W, H))
    assert pose.shape == (T, 17, 3) and pose.dtype == np.float32
    assert np.isfinite(pose).all()
    assert (pose[:, 0] == 0).all()


def test_matches_direct_model_call(lifter):
    F = lifter.frames
    kp = walk(F)
    x = torch.as_tensor(hotpose.data.cameras.normalize_screen(kp, W, H))[None]
    torch.manual_seed(0)  # TPC's tie-break draw, as lift() seeds it
    with torch.no_grad():
        ref = lifter.model(x).pose[0].numpy()
    ref[:, 0] = 0
    np.testing.assert_allclose(lifter.lift(kp, (W, H), flip=False), ref, atol=1e-5)


def test_stride_reads_each_frame_from_the_window_around_it(lifter):
    """stride s: each window gives its s centre frames. With s = 1 frame t comes from the window centred on t
    (edge-padded at the ends); s = F is the default (non-overlapping windows). (A model without pruning: TPC's
    random tie-break is drawn per batch of windows, so a pruning model's window alone may break ties otherwise.)"""
    model = tiny("mixste_243")
    F, T = lifter.frames, 40
    kp = walk(T)
    dense = Lifter(model, stride=1, flip=False).lift(kp, (W, H))
    x = torch.as_tensor(hotpose.data.cameras.normalize_screen(kp, W, H))
    c = (F - 1) // 2
    for t in (0, 7, T - 1):
        window = x[np.clip(np.arange(t - c, t - c + F), 0, T - 1)][None]
        with torch.no_grad():
            ref = model(window).pose[0, c].numpy()
        ref[0] = 0
        np.testing.assert_allclose(dense[t], ref, atol=1e-5)
    np.testing.assert_array_equal(Lifter(lifter.model, stride=F).lift(kp, (W, H)), lifter.lift(kp, (W, H)))
    assert Lifter(lifter.model, stride=F // 3).lift(kp, (W, H)).shape == (T, 17, 3)
    with pytest.raises(ValueError, match="stride"):
        Lifter(lifter.model, stride=F + 1)


def test_flip_switch(lifter):
    kp = walk(30)
    a, b = lifter.lift(kp, (W, H), flip=True), lifter.lift(kp, (W, H), flip=False)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(lifter.lift(kp, (W, H)), a)  # deterministic
    np.testing.assert_array_equal(Lifter(lifter.model, flip=False).lift(kp, (W, H)), b)


def test_nan_filled_with_warning(lifter):
    kp = walk(40)
    full = lifter.lift(kp, (W, H))
    gap = kp.copy()
    gap[10:13, 5] = np.nan
    gap[0, 2] = np.nan
    with pytest.warns(UserWarning, match="4 missing keypoints"):
        pose = lifter.lift(gap, (W, H))
    assert pose.shape == (40, 17, 3) and np.isfinite(pose).all()
    assert np.abs(pose - full).max() < 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lifter.lift(kp, (W, H))  # no warning without NaN


def test_all_nan_errors(lifter):
    kp = walk(10)
    kp[:, 3] = np.nan
    with pytest.raises(ValueError, match=r"joint\(s\) \[3\]"):
        lifter.lift(kp, (W, H))
    with pytest.raises(ValueError, match="every keypoint is NaN"):
        lifter.lift(np.full((4, 17, 2), np.nan), (W, H))


@pytest.mark.filterwarnings("ignore:every keypoint is at")
@pytest.mark.parametrize("bad", [np.zeros((5, 16, 2)), np.zeros((5, 17, 3)), np.zeros((0, 17, 2)),
                                 np.zeros((17, 2))])
def test_bad_shapes(lifter, bad):
    with pytest.raises(ValueError, match="shape"):
        lifter.lift(bad, (W, H))


def test_bad_image_size(lifter):
    with pytest.raises(ValueError, match="image_size"):
        lifter.lift(walk(3), (0, 100))
    with pytest.raises(ValueError, match="image_size"):
        lifter.lift(walk(3), 100)


def test_seq2frame_model():
    model = tiny("tpc_mixste_243")
    assert model.seq2frame
    lifter = Lifter(model, batch_size=16)
    for T in (1, 7, lifter.frames + 3):
        pose = lifter.lift(walk(T), (W, H))
        assert pose.shape == (T, 17, 3) and np.isfinite(pose).all() and (pose[:, 0] == 0).all()
    # frame t is the centre readout of the window centred on t
    F, kp = lifter.frames, walk(lifter.frames + 3)
    x = torch.as_tensor(hotpose.data.cameras.normalize_screen(kp[1:1 + F], W, H))[None]
    torch.manual_seed(0)
    with torch.no_grad():
        out = model(x)
    at = int((out.keep_idx[0] == (F - 1) // 2).nonzero())
    ref = out.pose[0, at].numpy()
    ref[0] = 0
    # (not bit-equal: TPC's tie-break draw differs with the batch composition)
    np.testing.assert_allclose(lifter.lift(kp, (W, H), flip=False)[1 + (F - 1) // 2], ref, atol=1e-2)


def test_three_channel_scores():
    model = tiny("hot_motionbert_243")
    assert model.backbone.in_channels == 3
    lifter = Lifter(model)
    kp = walk(12)
    ones = lifter.lift(kp, (W, H), flip=False)
    np.testing.assert_allclose(lifter.lift(kp, (W, H), scores=np.ones((12, 17)), flip=False), ones, atol=1e-6)
    low = lifter.lift(kp, (W, H), scores=np.full((12, 17, 1), 0.1), flip=False)
    assert low.shape == (12, 17, 3) and not np.allclose(low, ones)
    with pytest.raises(ValueError, match="scores"):
        lifter.lift(kp, (W, H), scores=np.ones((11, 17)))


def test_from_pretrained_default():
    try:
        lifter = Lifter.from_pretrained("default")
    except FileNotFoundError:
        pytest.skip("packaged default weights not present")
    pose = lifter.lift(walk(50), (W, H))
    assert pose.shape == (50, 17, 3) and np.isfinite(pose).all()
    # a standing figure of about 1.6-1.8 m: the head is 0.4-1.2 m from the pelvis
    assert 0.3 < np.linalg.norm(pose[:, 10], axis=-1).mean() < 1.2
    with pytest.raises(KeyError):
        Lifter.from_pretrained("nope")


@pytest.fixture
def cli_model(monkeypatch, lifter):
    monkeypatch.setattr(Lifter, "from_pretrained", classmethod(lambda cls, name="default", **kw: lifter))


def test_cli_npz_round_trip(tmp_path, cli_model, lifter):
    kp = walk(33)
    np.savez(tmp_path / "kp.npz", keypoints_2d=kp, scores=np.ones((33, 17)))
    assert main(["lift", str(tmp_path / "kp.npz"), "--image-size", str(W), str(H), "--out",
                 str(tmp_path / "o.npz")]) == 0
    pose = np.load(tmp_path / "o.npz")["pose_3d"]
    np.testing.assert_allclose(pose, lifter.lift(kp, (W, H)), atol=1e-6)
    assert main(["lift", str(tmp_path / "kp.npz"), "--image-size", str(W), str(H), "--no-flip"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "kp_3d.npz")["pose_3d"], lifter.lift(kp, (W, H), flip=False),
                               atol=1e-6)
    assert main(["lift", str(tmp_path / "kp.npz"), "--image-size", str(W), str(H), "--fixed-bones",
                 "--overwrite"]) == 0
    f = np.load(tmp_path / "kp_3d.npz")
    from hotpose.skeleton import bone_length_series
    np.testing.assert_allclose(f["pose_3d_raw"], lifter.lift(kp, (W, H)), atol=1e-6)
    assert bone_length_series(f["pose_3d_raw"]).std(0).max() > 1e-4  # the lifter's bones change length ...
    assert bone_length_series(f["pose_3d"]).std(0).max() < 1e-5  # ... the fitted skeleton's do not


def test_cli_json_round_trip(tmp_path, cli_model, lifter, capsys):
    kp = walk(9)
    frames = kp.tolist()
    frames[4][7] = None  # a missing detection
    (tmp_path / "a.json").write_text(json.dumps(frames))
    (tmp_path / "b.json").write_text(json.dumps({"keypoints": frames}))
    for name in ("a", "b"):
        assert main(["lift", str(tmp_path / f"{name}.json"), "--image-size", str(W), str(H)]) == 0
        assert "hotpose lift: warning: 1 missing keypoints (NaN)" in capsys.readouterr().err
        pose = np.load(tmp_path / f"{name}_3d.npz")["pose_3d"]
        assert pose.shape == (9, 17, 3)


@pytest.mark.parametrize("content, message", [
    (b"not json", "not valid JSON"),
    (json.dumps([[[1, 2]] * 16]).encode(), "16 keypoints"),
    (json.dumps({"points": []}).encode(), "not a list"),
])
def test_cli_bad_files(tmp_path, cli_model, capsys, content, message):
    (tmp_path / "bad.json").write_bytes(content)
    assert main(["lift", str(tmp_path / "bad.json"), "--image-size", "100", "100"]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad.json" in err and len(err.strip().splitlines()) == 1


def test_cli_reads_detector_outputs_and_our_own(tmp_path, cli_model, lifter):
    """`hotpose lift` reads what `hotpose.video.load_keypoints` reads: a COCO-17 results JSON (named by --format or
    by its layout) and the JSON twin of `hotpose infer`; an unlabelled 17-keypoint list is COCO-17 in both."""
    from hotpose.video.export import save_outputs
    from hotpose.video.keypoints import coco_to_h36m, load_keypoints

    rng = np.random.default_rng(0)
    coco = rng.uniform(100, 500, size=(12, 17, 2))
    (tmp_path / "coco.json").write_text(json.dumps(
        [{"image_id": t, "category_id": 1, "score": 0.9,
          "keypoints": np.concatenate([coco[t], np.ones((17, 1))], -1).ravel().tolist()} for t in range(12)]))
    assert main(["lift", str(tmp_path / "coco.json"), "--image-size", str(W), str(H)]) == 0
    h36m = coco_to_h36m(coco)[0]
    np.testing.assert_allclose(np.load(tmp_path / "coco_3d.npz")["pose_3d"], lifter.lift(h36m, (W, H)), atol=1e-5)
    (tmp_path / "plain.json").write_text(json.dumps(coco.tolist()))
    assert main(["lift", str(tmp_path / "plain.json"), "--image-size", str(W), str(H), "--format", "coco"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "plain_3d.npz")["pose_3d"], lifter.lift(h36m, (W, H)), atol=1e-5)
    assert main(["lift", str(tmp_path / "plain.json"), "--image-size", str(W), str(H), "--out",
                 str(tmp_path / "default.npz")]) == 0  # unlabelled: COCO-17, as load_keypoints reads it
    np.testing.assert_allclose(np.load(tmp_path / "default.npz")["pose_3d"], lifter.lift(h36m, (W, H)), atol=1e-5)
    with pytest.warns(UserWarning, match="look like Human3.6M"):  # random points: not a face around joint 0
        np.testing.assert_allclose(load_keypoints(tmp_path / "plain.json")[0], h36m, atol=1e-4)
    assert main(["lift", str(tmp_path / "plain.json"), "--image-size", str(W), str(H), "--format", "h36m",
                 "--out", str(tmp_path / "as_h36m.npz")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "as_h36m.npz")["pose_3d"], lifter.lift(coco, (W, H)), atol=1e-5)
    kp = walk(10)
    _, js = save_outputs(tmp_path, "clip", kp, np.ones((10, 17)), np.zeros((10, 17, 3)), 30.0, (W, H))
    assert main(["lift", str(js), "--image-size", str(W), str(H)]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "clip_3d.npz")["pose_3d"], lifter.lift(kp, (W, H)), atol=1e-5)


def test_cli_bad_npz(tmp_path, cli_model, capsys):
    np.savez(tmp_path / "k.npz", poses=np.zeros((3, 17, 2)))
    assert main(["lift", str(tmp_path / "k.npz"), "--image-size", "100", "100"]) == 2
    assert "keypoints_2d" in capsys.readouterr().err
    assert main(["lift", str(tmp_path / "missing.npz"), "--image-size", "100", "100"]) == 2
    assert "not found" in capsys.readouterr().err


def test_motion_reader_pools_cameras_and_simulates_missing_joints(tmp_path):
    """The data options the default model trains with: several subjects' cameras, a few views per clip, and
    missing joints filled by interpolation."""
    from hotpose.data.motion import drop_and_fill, read_motion
    from hotpose.data.synthetic import synthetic_motion

    walk3d = synthetic_motion(40, np.random.default_rng(0))
    np.savez(tmp_path / "m.npz", positions_3d={"A": {"walk 1": walk3d, "run 1": walk3d[::-1].copy()}})
    pooled = read_motion(tmp_path / "m.npz", ["A"], camera_subject=["S1", "S5"])
    assert len(pooled) == 16 and {s.camera.split(":")[0] for s in pooled} == {"S1", "S5"}
    some = read_motion(tmp_path / "m.npz", ["A"], camera_subject=["S1", "S5"], views_per_action=3)
    assert len(some) == 6 and {s.camera for s in some} <= {s.camera for s in pooled}
    plain = read_motion(tmp_path / "m.npz", ["A"], camera_subject="S1")
    by_name = {(s.action, s.camera): s for s in pooled}
    for s in plain:  # the S1 views of the pool are the single-rig views
        np.testing.assert_array_equal(by_name[(s.action, f"S1:{s.camera}")].inputs, s.inputs)
    assert ":" not in plain[0].camera  # one rig: camera ids as before

    uv = np.cumsum(np.random.default_rng(1).normal(size=(200, 17, 2)), axis=0)
    filled = drop_and_fill(uv, np.random.default_rng(2), 0.05, 5)
    changed = (filled != uv).any(-1)
    assert 0 < changed.mean() < 0.5 and np.isfinite(filled).all()
    t, j = np.argwhere(changed)[0]
    lo, hi = t - 1, t + 1
    while hi < 199 and changed[hi, j]:
        hi += 1
    if lo >= 0 and not changed[hi, j]:  # an inner gap: on the line between its neighbours
        w = (t - lo) / (hi - lo)
        np.testing.assert_allclose(filled[t, j], (1 - w) * uv[lo, j] + w * uv[hi, j], rtol=1e-6)
    np.testing.assert_array_equal(drop_and_fill(uv, np.random.default_rng(2), 0.0, 5), uv)


def test_from_official_matches_the_model():
    from test_official import official_state

    model = tiny("mixste_243")
    lifter = Lifter.from_official("mixste", official_state(model, "mixste"), flip=False, batch_size=4)
    assert not lifter.flip and lifter.batch_size == 4
    kp = walk(lifter.frames + 2)
    np.testing.assert_allclose(lifter.lift(kp, (W, H)), Lifter(model, flip=False).lift(kp, (W, H)), atol=1e-5)


def test_height_sets_the_stature_and_keeps_the_shape():
    """``height_m`` scales the lifted body about its root to that stature; the pose's shape (Procrustes-aligned,
    scale removed) is unchanged, and nonsense heights (centimetres) are refused."""
    from hotpose.skeleton import STATURE_PER_CHAIN, scale_to_height, stature

    rng = np.random.default_rng(0)
    kp = np.stack([np.array([[320 + 40 * np.sin(j), 120 + 20 * j] for j in range(17)]) for _ in range(30)])
    kp = kp + rng.normal(0, 2, kp.shape)
    lifter = Lifter.from_pretrained("default")
    plain = lifter.lift(kp, image_size=(640, 480))
    tall = lifter.lift(kp, image_size=(640, 480), height_m=1.9)
    assert stature(tall) == pytest.approx(1.9, rel=1e-5)
    ratio = np.linalg.norm(tall[:, 1:], axis=-1) / np.linalg.norm(plain[:, 1:], axis=-1)
    np.testing.assert_allclose(ratio, 1.9 / stature(plain), rtol=1e-4)  # one factor for every joint and frame
    assert (tall[:, 0] == 0).all()
    # the stature is the standing chain's length times the ratio, from bone lengths only (posture-free)
    bone = np.zeros((5, 17, 3))
    for j, p in enumerate((-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)):
        if p >= 0:
            bone[:, j] = bone[:, p] + [0, 0, 0.1]
    assert stature(bone) == pytest.approx(0.6 * STATURE_PER_CHAIN)
    np.testing.assert_allclose(stature(scale_to_height(bone, 1.2)), 1.2, rtol=1e-6)
    for bad in (175, 0.1, 3.0):
        with pytest.raises(ValueError, match="standing height in metres"):
            lifter.lift(kp, image_size=(640, 480), height_m=bad)
    with pytest.raises(ValueError, match="no size"):
        scale_to_height(np.zeros((3, 17, 3)), 1.7)
