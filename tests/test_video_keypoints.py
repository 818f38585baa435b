"""Keypoint formats -> H36M-17, keypoint file readers, and the npz/JSON output writer."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hotpose.video.export import save_outputs
from hotpose.video.keypoints import (FORMATS, blazepose_to_h36m, body25_to_h36m, coco_to_h36m, halpe_to_h36m,
                                     load_keypoints, select_people, to_h36m)

# Source index of the 17 COCO keypoints in each format (written from each format's own documentation).
BLAZE = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
BODY25 = [0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11]
COCO18 = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]


def coco_person(frames: int = 5, seed: int = 0):
    """A plausible upright COCO-17 person (pixels, y down) with jitter, and scores in (0.3, 1)."""
    base = np.array([[320, 100], [330, 90], [310, 90], [340, 95], [300, 95], [360, 140], [280, 140], [375, 200],
                     [265, 200], [380, 255], [260, 255], [345, 260], [295, 260], [350, 350], [290, 350],
                     [352, 440], [288, 440]], dtype=float)
    rng = np.random.default_rng(seed)
    kp = base[None] + rng.normal(0, 3, (frames, 17, 2))
    return kp, rng.uniform(0.3, 1.0, (frames, 17))


def reference_coco(k, s):
    """SPEC §8's COCO->H36M steps, one frame at a time, written out literally."""
    out, sc = np.zeros((17, 2)), np.zeros(17)
    for h, c in zip([9, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3], [0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]):
        out[h], sc[h] = k[c], s[c]
    mid_sh = (k[5] + k[6]) / 2
    out[10] = [np.mean(k[1:5, 0]), k[1, 1] + k[2, 1] - k[0, 1]]
    out[8] = mid_sh + (k[0] - mid_sh) / 3
    out[0] = (k[11] + k[12]) / 2
    out[7] = (k[5] + k[6] + k[11] + k[12]) / 4
    out[9] -= (out[9] - mid_sh) / 4
    out[7, 0] += 2 * (out[7, 0] - (out[0, 0] + out[8, 0]) / 2)
    out[8, 1] -= (np.mean(k[1:3, 1]) - k[0, 1]) * 2 / 3
    sc[0], sc[8] = (s[11] + s[12]) / 2, (s[5] + s[6]) / 2
    sc[7], sc[10] = (sc[0] + sc[8]) / 2, np.mean(s[1:5])
    return out, sc


def test_coco_matches_spec():
    kp, s = coco_person()
    out, osc = coco_to_h36m(kp, s)
    assert out.shape == (5, 17, 2) and osc.shape == (5, 17) and out.dtype == np.float32
    for t in range(5):
        ref, ref_s = reference_coco(kp[t], s[t])
        np.testing.assert_allclose(out[t], ref, atol=1e-3)
        np.testing.assert_allclose(osc[t], ref_s, atol=1e-6)
    # the third channel is the score when no scores are given
    out3, osc3 = coco_to_h36m(np.concatenate([kp, s[..., None]], -1))
    np.testing.assert_array_equal(out3, out)
    np.testing.assert_array_equal(osc3, osc)
    # plausible anatomy: head above neck above thorax above spine above pelvis (y grows downward)
    y = out[..., 1].mean(0)
    assert y[10] < y[9] < y[8] < y[7] < y[0]


@pytest.mark.parametrize("fmt,index,size", [("blazepose", BLAZE, 33), ("body25", BODY25, 25),
                                            ("openpose18", COCO18, 18), ("wholebody", list(range(17)), 133)])
def test_formats_via_coco(fmt, index, size):
    kp, s = coco_person()
    big, big_s = np.full((5, size, 2), 1e4), np.full((5, size), 0.01)
    big[:, index], big_s[:, index] = kp, s
    expected = coco_to_h36m(kp, s)
    for got in (to_h36m(big, big_s, fmt), to_h36m(big, big_s)):
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
    if fmt == "blazepose":
        got = blazepose_to_h36m(np.concatenate([big, np.zeros((5, size, 1)), big_s[..., None]], -1))  # x y z vis
        np.testing.assert_array_equal(got[0], expected[0])
    if fmt == "body25":
        np.testing.assert_array_equal(body25_to_h36m(big, big_s)[0], expected[0])


def test_halpe():
    kp, s = coco_person()
    head, neck, hip = np.array([320, 60.]), np.array([320, 135.]), np.array([320, 262.])
    extra = np.broadcast_to(np.concatenate([[head, neck, hip], np.full((6, 2), 5.)]), (5, 9, 2))
    halpe = np.concatenate([kp, extra], 1)
    hs = np.concatenate([s, np.full((5, 9), 0.5)], 1)
    out, osc = halpe_to_h36m(halpe, hs)
    np.testing.assert_allclose(out[:, 0], np.broadcast_to(hip, (5, 2)))
    np.testing.assert_allclose(out[:, 8], np.broadcast_to(neck, (5, 2)))
    np.testing.assert_allclose(out[:, 10], np.broadcast_to(head, (5, 2)))
    np.testing.assert_allclose(out[:, 7], np.broadcast_to((hip + neck) / 2, (5, 2)))
    np.testing.assert_allclose(out[:, 9], kp[:, 0] + (neck - kp[:, 0]) / 4, rtol=1e-6)
    np.testing.assert_allclose(out[:, [1, 4, 11, 14]], kp[:, [12, 11, 5, 6]], rtol=1e-6)
    np.testing.assert_allclose(osc[:, 9], (s[:, 0] + 0.5) / 2, rtol=1e-6)
    h136 = np.concatenate([halpe, np.zeros((5, 110, 2))], 1)
    np.testing.assert_array_equal(to_h36m(h136, np.concatenate([hs, np.ones((5, 110))], 1))[0], out)
    np.testing.assert_array_equal(to_h36m(halpe, hs)[0], out)


def test_missing_keypoints_and_errors():
    kp, s = coco_person(2)
    kp[1, 11] = 0
    s[1, 11] = 0
    out, _ = coco_to_h36m(kp, s)
    assert np.isnan(out[1, 4]).all() and np.isnan(out[1, 0]).all() and np.isfinite(out[0]).all()
    assert np.isfinite(out[1, [1, 2, 3, 5, 6, 8, 9, 10, 11]]).all()
    with pytest.raises(ValueError, match="format"):
        to_h36m(np.zeros((3, 19, 2)))
    with pytest.raises(ValueError, match="unknown keypoint format"):
        to_h36m(kp, s, "kinect")
    with pytest.raises(ValueError, match="has 33 keypoints"):
        to_h36m(kp, s, "blazepose")
    assert set(FORMATS) >= {"coco", "halpe", "blazepose", "body25", "h36m"}


def test_select_people():
    a, b = np.zeros((17, 3)), np.full((17, 3), 100.0)
    frames = [[(a, 0.9), (b, 0.5)], [], [(b + 1, 0.95), (a + 1, 0.6)]]
    assert select_people(frames, "score") == [0, None, 0]
    assert select_people(frames, "track") == [0, None, 1]


def _coco_results(kp, s, ids, extra=None):
    dets = []
    for t, i in enumerate(ids):
        flat = np.concatenate([kp[t], s[t, :, None]], -1).ravel()
        dets.append({"image_id": i, "category_id": 1, "keypoints": flat.tolist(), "score": 0.9})
    return dets + (extra or [])


def test_load_coco_json(tmp_path):
    kp, s = coco_person(4)
    far = kp[0] + 400
    distractor = {"image_id": 3, "category_id": 1, "score": 0.99,
                  "keypoints": np.concatenate([far, np.ones((17, 1))], -1).ravel().tolist()}
    dog = {"image_id": 0, "category_id": 18, "score": 1.0, "keypoints": [0.0] * 51}
    path = tmp_path / "res.json"
    path.write_text(json.dumps(_coco_results(kp, s, [0, 1, 3, 4], [distractor, dog])))  # no one in frame 2
    got, sc = load_keypoints(path)
    assert got.shape == (5, 17, 2) and sc.shape == (5, 17)
    assert np.isnan(got[2]).all() and (sc[2] == 0).all()
    expected = coco_to_h36m(kp, s)
    np.testing.assert_allclose(got[[0, 1, 3, 4]], expected[0], atol=1e-3)  # tracking ignores the distractor
    got_score, _ = load_keypoints(path, select="score")
    np.testing.assert_allclose(got_score[3], coco_to_h36m(far)[0][0], atol=1e-3)


def test_load_alphapose_halpe(tmp_path):
    kp, s = coco_person(3)
    halpe = np.concatenate([kp, np.broadcast_to(kp[:, :9].mean(1, keepdims=True), (3, 9, 2))], 1)
    hs = np.concatenate([s, np.full((3, 9), 0.7)], 1)
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(_coco_results(halpe, hs, ["0.jpg", "1.jpg", "2.jpg"])))
    got, sc = load_keypoints(path)
    ref = halpe_to_h36m(halpe, hs)
    np.testing.assert_allclose(got, ref[0], atol=1e-3)
    np.testing.assert_allclose(sc, ref[1], atol=1e-6)


def test_load_openpose_folder(tmp_path):
    kp, s = coco_person(3)
    body = np.zeros((3, 25, 3))
    body[:, BODY25, :2], body[:, BODY25, 2] = kp, s
    folder = tmp_path / "openpose"
    folder.mkdir()
    for t in range(4):  # frame 3 has nobody; names as OpenPose writes them
        people = [] if t == 3 else [{"person_id": [-1], "pose_keypoints_2d": body[t].ravel().tolist()}]
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    got, sc = load_keypoints(folder)
    assert got.shape == (4, 17, 2) and np.isnan(got[3]).all()
    np.testing.assert_allclose(got[:3], coco_to_h36m(kp, s)[0], atol=1e-3)


def test_load_npz_and_own_outputs(tmp_path):
    kp, s = coco_person(6)
    np.savez(tmp_path / "k.npz", keypoints=kp, scores=s)
    got, sc = load_keypoints(tmp_path / "k.npz")
    np.testing.assert_allclose(got, coco_to_h36m(kp, s)[0], atol=1e-4)
    h36m, hsc = coco_to_h36m(kp, s)
    np.savez(tmp_path / "h.npz", keypoints=np.concatenate([h36m, hsc[..., None]], -1), format="h36m")
    got, sc = load_keypoints(tmp_path / "h.npz")
    np.testing.assert_array_equal(got, h36m)
    np.testing.assert_array_equal(sc, hsc)
    pose = np.random.default_rng(0).normal(size=(6, 17, 3)).astype(np.float32)
    npz, js = save_outputs(tmp_path / "out", "clip", h36m, hsc, pose, 29.97, (640, 480))
    got, sc = load_keypoints(npz)
    np.testing.assert_array_equal(got, h36m)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_keypoints(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "obj.json").write_text(json.dumps({"hello": 1}))
    (tmp_path / "k.txt").write_text("1 2 3")
    np.savez(tmp_path / "x.npz", points=np.zeros((2, 17, 2)))
    for name, pattern in [("bad.json", "not valid JSON"), ("obj.json", "not a list"), ("k.txt", "unknown layout"),
                          ("x.npz", "no 'keypoints'")]:
        with pytest.raises(ValueError, match=pattern) as info:
            load_keypoints(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value)
    (tmp_path / "odd.json").write_text(json.dumps([{"image_id": 0, "keypoints": [1.0] * 50}]))
    with pytest.raises(ValueError, match="multiple of 3"):
        load_keypoints(tmp_path / "odd.json")
    with pytest.raises(ValueError, match="unknown keypoint format"):
        load_keypoints(tmp_path / "x.npz", format="nope")


def test_save_outputs(tmp_path):
    kp, s = coco_to_h36m(*coco_person(4))
    kp[2] = np.nan
    pose = np.random.default_rng(1).normal(size=(4, 17, 3))
    npz, js = save_outputs(tmp_path, "walk", kp, s, pose, 30, (1920, 1080))
    z = np.load(npz)
    assert {"keypoints_2d", "scores", "pose_3d", "fps", "image_size", "joint_names", "parents"} <= set(z.files)
    assert z["pose_3d"].shape == (4, 17, 3) and float(z["fps"]) == 30 and list(z["image_size"]) == [1920, 1080]
    doc = json.loads(js.read_text())
    assert doc["num_frames"] == 4 and doc["image_size"] == [1920, 1080] and doc["units"]["pose_3d"] == "metre"
    assert doc["keypoints_2d"][2][0] == [None, None]
    np.testing.assert_allclose(np.array(doc["pose_3d"]), pose, rtol=1e-6)
    with pytest.raises(ValueError, match="expected keypoints_2d"):
        save_outputs(tmp_path, "x", kp[:3], s, pose, 30, (10, 10))
    with pytest.raises(ValueError, match="image_size"):
        save_outputs(tmp_path, "x", kp, s, pose, 30, (10,))
    with pytest.raises(ValueError, match="name"):
        save_outputs(tmp_path, "../x", kp, s, pose, 30, (10, 10))


def test_load_mmpose_predictions(tmp_path):
    kp, s = coco_person(3)
    preds = [{"frame_id": t, "instances": [] if t == 1 else
              [{"keypoints": kp[t].tolist(), "keypoint_scores": s[t].tolist(), "bbox_score": 0.8}]}
             for t in range(3)]
    (tmp_path / "mmpose.json").write_text(json.dumps(preds))
    got, sc = load_keypoints(tmp_path / "mmpose.json")
    assert np.isnan(got[1]).all()
    np.testing.assert_allclose(got[[0, 2]], coco_to_h36m(kp[[0, 2]], s[[0, 2]])[0], atol=1e-3)


def test_unlabelled_17_is_coco_and_the_other_order_warns(tmp_path):
    """A 17-keypoint npz or JSON list without a format is COCO-17 (as `hotpose lift` reads it too); when its
    geometry says Human3.6M order, a warning says to name the format, and naming it silences the check."""
    import warnings

    from hotpose.video.checks import guess_17_order

    kp, s = coco_person(8)
    h36m = coco_to_h36m(kp, s)[0]
    assert guess_17_order(kp) == "coco" and guess_17_order(h36m) == "h36m"
    np.savez(tmp_path / "coco.npz", keypoints=kp)
    np.savez(tmp_path / "h36m.npz", keypoints=h36m)
    (tmp_path / "h36m.json").write_text(json.dumps(h36m.tolist()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(load_keypoints(tmp_path / "coco.npz")[0], coco_to_h36m(kp)[0], atol=1e-4)
        np.testing.assert_allclose(load_keypoints(tmp_path / "h36m.npz", format="h36m")[0], h36m, atol=1e-4)
    for name in ("h36m.npz", "h36m.json"):
        with pytest.warns(UserWarning, match=rf'{name}: .*look like Human3.6M.*format="h36m"'):
            load_keypoints(tmp_path / name)
    with pytest.warns(UserWarning, match="look like COCO-17"):
        load_keypoints(tmp_path / "coco.npz", unlabelled_17="h36m")


def test_unreadable_files_say_why(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    np.save(tmp_path / "lone.npy", np.zeros((3, 17, 2)))
    (tmp_path / "lone.npy").rename(tmp_path / "lone.npz")
    np.savez(tmp_path / "cut.npz", keypoints=np.zeros((30, 17, 2)))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "cut.npz").read_bytes()[:200])
    np.savez(tmp_path / "obj.npz", keypoints=np.array([{"a": 1}], dtype=object))
    (tmp_path / "empty.json").write_text("  \n")
    (tmp_path / "bad.json").write_text('[\n  [[1, 2], [3, 4]],\n  [[1, 2], [3 4]]\n]\n')
    (tmp_path / "latin.json").write_bytes(b'["\xe9"]')
    for name, pattern in [("empty.npz", "empty file"), ("text.npz", r"not an npz archive \(it starts like text\)"),
                          ("lone.npz", "single .npy array"), ("cut.npz", "not an npz archive"),
                          ("obj.npz", "Python objects"), ("empty.json", "empty file"),
                          ("bad.json", "not valid JSON \\(line 3 column"), ("latin.json", "not UTF-8")]:
        with pytest.raises(ValueError, match=pattern) as info:
            load_keypoints(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value)


def test_plausibility_checks():
    """keypoint_warnings: the sample and plausible keypoints give nothing; each kind of nonsense one sentence."""
    from hotpose.video.checks import check_image_size, keypoint_warnings, no_skeleton

    sample, _ = load_keypoints(Path(__file__).parents[1] / "hotpose/video/sample/sports2d_demo.npz")
    assert keypoint_warnings(sample, (1768, 994)) == [] and no_skeleton(sample) is None
    kp = coco_to_h36m(*coco_person(30))[0]
    assert keypoint_warnings(kp, (640, 480)) == []
    assert "outside" in keypoint_warnings(kp - 5000, (640, 480))[0]
    assert "outside" in keypoint_warnings(kp * 1e7, (640, 480))[0]
    right = kp + [1300, 0]  # a person on the right of a 1920x1080 frame, given as 1080x1920
    assert keypoint_warnings(right, (1920, 1080)) == []
    assert "swapped" in keypoint_warnings(right, (1080, 1920))[0]
    assert "normalised" in keypoint_warnings(kp / 640, (640, 480))[0]
    assert "normalised" in keypoint_warnings(kp / 320 - 1, (640, 480))[0]
    assert "not a video size" in keypoint_warnings(kp, (1e9, 1e9))[0]
    flat = kp.copy()
    flat[3] = 7.0
    assert "1 of 30 frames" in keypoint_warnings(flat, (640, 480))[0] and no_skeleton(flat) is None
    assert "(0, 0)" in no_skeleton(np.zeros((5, 17, 2))) and "one point" in no_skeleton(np.full((5, 17, 2), 3.0))
    assert keypoint_warnings(np.zeros((5, 17, 3)), (640, 480)) == []  # not the lifter's shape: its error says so
    for bad in [(17, 9), (1e9, 1e9), (-640, 480), (float("nan"), 480), (640,)]:
        with pytest.raises(ValueError, match="image size"):
            check_image_size(bad)
    assert check_image_size((1920, 1080)) == (1920.0, 1080.0)
