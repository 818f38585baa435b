"""Video path: detector interface, infer pipeline, rendering, rank splitting, demo (issue 6, parts 1, 3, 4).

Fast tests use a stub detector and a stand-in lifter (no mediapipe needed); the tests that decode video need
OpenCV, and one runs the real MediaPipe detector on a short real clip given by HOTPOSE_TEST_VIDEO (e.g.
Sports2D/Demo/demo.mp4 from the sports2d wheel)."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from hotpose.skeleton import PARENTS
from hotpose.video.bvh import read_bvh
from hotpose.video.infer import (NoPersonError, bone_cv, identity_jumps, infer, list_videos, process_keypoints,
                                 process_video, shard, tracks, valid_frames)
from hotpose.video.render import GifWriter, SequenceRenderer

HAVE_CV2 = importlib.util.find_spec("cv2") is not None
HAVE_PIL = importlib.util.find_spec("PIL") is not None
HAVE_MP = importlib.util.find_spec("mediapipe") is not None

# a standing H36M-17 skeleton, metres, camera frame (y down), root at 0
REST = np.array([[0, 0, 0], [-.13, 0, 0], [-.13, .45, 0], [-.13, .9, 0], [.13, 0, 0], [.13, .45, 0], [.13, .9, 0],
                 [0, -.25, 0], [0, -.5, 0], [0, -.6, -.05], [0, -.7, 0], [.17, -.5, 0], [.17, -.22, 0],
                 [.17, 0, 0], [-.17, -.5, 0], [-.17, -.22, 0], [-.17, 0, 0]])


class StandInLifter:
    """Returns the rest pose turning about the vertical axis (fixed bone lengths); records its inputs."""

    def lift(self, keypoints, image_size, scores=None):
        self.seen = (np.asarray(keypoints).copy(), image_size)
        self.calls = getattr(self, "calls", []) + [self.seen]
        t = len(keypoints)
        a = np.linspace(0, np.pi, t)
        c, s = np.cos(a), np.sin(a)
        rot = np.zeros((t, 3, 3))
        rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1, -s, c
        return np.einsum("tij,kj->tki", rot, REST).astype(np.float32)


def keypoints_2d(t: int, w=320, h=240) -> np.ndarray:
    xy = REST[:, :2] * 100 + np.array([w / 2, h / 2])
    shift = np.stack([20 * np.sin(np.linspace(0, 6, t)), np.zeros(t)], -1)
    return (xy[None] + shift[:, None]).astype(np.float32)


class StubDetector:
    """COCO-17 keypoints from a fixed track; frames listed in ``absent`` hold no person."""

    format = "coco"

    def __init__(self, t, absent=(), w=320, h=240):
        from hotpose.video.keypoints import _H36M_FROM_COCO
        h36m = keypoints_2d(t, w, h)
        self.coco = np.zeros((t, 17, 2), np.float32)
        for hj, cj in _H36M_FROM_COCO.items():
            self.coco[:, cj] = h36m[:, hj]
        self.coco[:, 1:5] = h36m[:, None, 10]  # eyes and ears at the head
        self.i, self.absent = 0, set(absent)

    def detect(self, frame):
        i, self.i = self.i, self.i + 1
        if i in self.absent:
            return None
        return self.coco[i], np.full(17, 0.9, np.float32)


def write_clip(path, t=40, w=320, h=240, fps=20.0):
    import cv2
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(t):
        img = np.full((h, w, 3), 40 + 3 * i, np.uint8)
        cv2.circle(img, (w // 2 + i, h // 2), 20, (0, 0, 255), -1)
        vw.write(img)
    vw.release()
    return path


# ------------------------------------------------------------------------------------------------- pure parts
def test_valid_frames_marks_long_gaps_only():
    present = np.ones(100, bool)
    present[10:15] = False   # 5 frames = 0.25 s at 20 fps: interpolated, valid
    present[40:70] = False   # 1.5 s: invalid
    present[95:] = False     # short tail: valid
    valid = valid_frames(present, fps=20, max_gap=1.0)
    assert valid[10:15].all() and not valid[40:70].any() and valid[95:].all() and valid[:10].all()
    assert valid.sum() == 70


def test_shard_splits_by_rank_and_env(monkeypatch, tmp_path):
    for n in ("b.mp4", "a.MOV", "c.avi", "d.txt", "e.mkv"):
        (tmp_path / n).write_bytes(b"")
    videos = list_videos(tmp_path)
    assert [v.name for v in videos] == ["a.MOV", "b.mp4", "c.avi", "e.mkv"]
    parts = [shard(videos, r, 3) for r in range(3)]
    assert sorted(sum(parts, [])) == videos and [len(p) for p in parts] == [2, 1, 1]
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert shard(videos) == videos[1::2]
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError):
        shard(videos)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert shard(videos) == videos


def test_identity_jumps():
    kp = keypoints_2d(30)
    assert len(identity_jumps(kp)) == 0
    kp[20:] += 400.0  # another person, far away
    kp[18:20] = np.nan
    assert identity_jumps(kp).tolist() == [20]


def test_tracks_cut_at_switches_and_long_gaps():
    valid = np.ones(30, bool)
    valid[10:14] = False
    assert tracks(valid) == [(0, 10), (14, 30)]
    assert tracks(valid, [20]) == [(0, 10), (14, 20), (20, 30)]
    assert tracks(valid, [20], min_frames=8) == [(0, 10), (20, 30)]
    assert tracks(np.zeros(5, bool)) == [] and tracks(np.ones(5, bool), [0]) == [(0, 5)]


def test_each_person_is_lifted_on_its_own(tmp_path):
    """When the track jumps to another person, the frames of each are lifted separately (no window mixes the
    two), and bone_cv is taken within each track: two rigid bodies of different sizes give about 0."""
    t = 40
    kp = keypoints_2d(t)
    kp[25:] = kp[25:] * 0.5 + 150.0  # another, smaller person elsewhere in the image

    class TwoBodies(StandInLifter):
        def lift(self, keypoints, image_size, scores=None):
            pose = super().lift(keypoints, image_size, scores)
            return pose * (0.5 if np.nanmean(keypoints[..., 0]) > 200 else 1.0)  # the second body is smaller

    lifter = TwoBodies()
    r = process_keypoints("two", kp, np.full((t, 17), 0.8), (320, 240), 20.0, tmp_path, lifter, render=False,
                          progress=False)
    assert r.tracks == [(0, 25), (25, 40)]
    assert [len(c[0]) for c in lifter.calls] == [25, 15]  # each track on its own
    np.testing.assert_array_equal(lifter.calls[1][0], kp[25:])
    assert r.bone_cv < 1e-5
    pose = np.load(r.outputs["npz"])["pose_3d"]
    assert bone_cv(pose) > 0.1  # over both people together the bones change length at the switch


def test_bone_cv_zero_for_rigid_motion():
    pose = StandInLifter().lift(np.zeros((30, 17, 2)), (1, 1))
    assert bone_cv(pose) < 1e-6
    noisy = pose + np.random.default_rng(0).normal(0, 0.02, pose.shape)
    assert bone_cv(noisy) > 0.01


def test_process_keypoints_writes_all_outputs(tmp_path):
    t = 60
    kp = keypoints_2d(t)
    kp[5:8] = np.nan      # short gap
    kp[30:] = np.nan      # 1.5 s at 20 fps at the end: marked invalid
    lifter = StandInLifter()
    r = process_keypoints("clip", kp, np.full((t, 17), 0.8), (320, 240), 20.0, tmp_path, lifter, gif=True,
                          progress=False)
    assert set(r.outputs) == {"npz", "json", "bvh", "render"} and all(p.is_file() for p in r.outputs.values())
    f = np.load(r.outputs["npz"])
    assert f["pose_3d"].shape == (t, 17, 3) and f["keypoints_2d"].shape == (t, 17, 2)
    assert f["pose_3d_raw"].shape == (t, 17, 3)
    assert f["valid"].dtype == bool and f["valid"].sum() == 30 and not f["valid"][30:].any()
    assert json.loads(r.outputs["json"].read_text())["valid"][45] is False
    assert np.isfinite(lifter.calls[0][0][5:8]).sum() == 0  # NaN reach the lifter, which interpolates them
    assert r.bone_cv < 1e-5 and r.valid_fraction == 0.5 and r.tracks == [(0, 30)]
    assert {"lift", "write", "render"} <= set(r.timings)
    bvh_pos = read_bvh(r.outputs["bvh"])[0]
    assert np.abs(bvh_pos - f["pose_3d"]).max() < 0.005
    if HAVE_PIL:
        from PIL import Image
        im = Image.open(r.outputs["render"])
        # no video frames: a square 2D crop beside the square 3D panel
        assert im.n_frames == 60 // round(20 / 15) and im.size == (360 + 360, 360)


def test_outputs_hold_a_fixed_skeleton_per_track_and_the_raw_lift(tmp_path):
    """pose_3d keeps every bone's direction from the lifter but one length per track (left = right); the raw
    output is kept as pose_3d_raw and scored by bone_cv; with two tracks each gets its own BVH file, which
    re-imports to that track's pose_3d."""
    from hotpose.skeleton import LEFT, RIGHT, bone_length_series

    t = 60
    kp = keypoints_2d(t)
    kp[20:50] = np.nan  # 1.5 s at 20 fps: two tracks, (0, 20) and (50, 60)

    class Wobbly(StandInLifter):  # bones change length from frame to frame, as a real lifter's do
        def lift(self, keypoints, image_size, scores=None):
            pose = super().lift(keypoints, image_size, scores)
            return pose + np.random.default_rng(len(keypoints)).normal(0, 0.02, pose.shape).astype(np.float32)

    r = process_keypoints("clip", kp, np.full((t, 17), 0.8), (320, 240), 20.0, tmp_path, Wobbly(), render=False,
                          progress=False)
    assert r.tracks == [(0, 20), (50, 60)]
    f = np.load(r.outputs["npz"])
    raw, pose = f["pose_3d_raw"], f["pose_3d"]
    assert r.bone_cv > 0.02 and r.bone_cv == pytest.approx(
        (20 * bone_cv(raw[:20]) + 10 * bone_cv(raw[50:])) / 30)
    for a, b in r.tracks:
        lengths = bone_length_series(pose[a:b])  # (T, 16), bone k ends at joint k + 1
        assert lengths.std(0).max() < 1e-5 and bone_cv(pose[a:b]) < 1e-5
        np.testing.assert_allclose(lengths[0, [j - 1 for j in LEFT]], lengths[0, [j - 1 for j in RIGHT]],
                                   rtol=1e-5)
        d_raw, d_fit = (np.diff(x[a:b][:, [0, 1]], axis=1)[:, 0] for x in (raw, pose))  # pelvis -> r_hip
        np.testing.assert_allclose(d_fit / np.linalg.norm(d_fit, axis=-1, keepdims=True),
                                   d_raw / np.linalg.norm(d_raw, axis=-1, keepdims=True), atol=1e-5)
    assert set(r.outputs) == {"npz", "json", "bvh", "bvh_track1", "bvh_track2"}
    assert r.outputs["bvh"] == r.outputs["bvh_track1"] == tmp_path / "clip_track1.bvh"  # the longest track
    for (a, b), key in zip(r.tracks, ("bvh_track1", "bvh_track2")):
        back = read_bvh(r.outputs[key])[0]
        assert back.shape == (b - a, 17, 3) and np.abs(back - pose[a:b]).max() < 1e-3


def test_no_person_is_one_clear_error(tmp_path):
    kp = np.full((10, 17, 2), np.nan, np.float32)
    with pytest.raises(NoPersonError, match="no person was detected in any of its 10 frames"):
        process_keypoints("empty", kp, np.zeros((10, 17)), (320, 240), 25.0, tmp_path, StandInLifter(),
                          progress=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(importlib.util.find_spec("cv2") is None, reason="OpenCV (the video extra) is not installed")
def test_opencv_and_numpy_drawing_agree(monkeypatch):
    """The OpenCV drawing path covers the same pixels as the numpy fallback: lines (thick and thin, subpixel ends)
    and discs, on a view with a row stride as the renderer's panels are; only anti-aliased edges may differ."""
    from hotpose.video import render

    def draw(use_cv2: bool) -> np.ndarray:
        monkeypatch.setattr(render, "_cv2", render._cv2 if use_cv2 else (lambda: None))
        img = np.zeros((120, 300, 3), np.uint8)
        panel = img[:, 100:]  # strided view
        render.draw_line(panel, (10.3, 20.7), (150.2, 90.1), (255, 90, 60), 3.0)
        render.draw_line(panel, (5.0, 100.0), (190.0, 100.0), (70, 70, 85), 1.0)
        render.draw_disc(panel, (60.5, 40.25), 4.0, (60, 160, 255))
        render.draw_line(panel, (np.nan, 1.0), (5.0, 5.0), (255, 0, 0), 3.0)  # skipped
        assert not img[:, :100].any()
        return img[:, 100:].max(-1)

    a, b = draw(True), draw(False)
    solid_a, solid_b = a >= 128, b >= 128
    ink_a, ink_b = a.sum() / 255, b.sum() / 255  # covered area in pixels, anti-aliased edges counted by weight
    assert ink_b > 500 and abs(ink_a - ink_b) < 0.2 * ink_b
    # every pixel drawn solid by one path is drawn (at least faintly) by the other
    assert (b[solid_a] > 0).all() and (a[solid_b] > 0).all()


@pytest.mark.parametrize("pure", [True, False])
def test_gif_writers_decode(tmp_path, pure):
    if not pure and not HAVE_PIL:
        pytest.skip("Pillow not installed")
    rnd = SequenceRenderer(keypoints_2d(6), StandInLifter().lift(np.zeros((6, 17, 2)), (1, 1)), (320, 240),
                           valid=[1, 1, 0, 0, 1, 1], height=120)
    frames = [rnd.frame(i) for i in range(6)]
    assert frames[2][0, 0].tolist() == [220, 40, 40]  # invalid frames get a red border
    w = GifWriter(tmp_path / "a.gif", rnd.size, 10, pure=pure)
    for fr in frames:
        w.write(fr)
    w.close()
    data = (tmp_path / "a.gif").read_bytes()
    assert data[:6] == b"GIF89a" and data[-1:] == b";"
    if HAVE_PIL:
        from PIL import Image
        im = Image.open(tmp_path / "a.gif")
        assert im.n_frames == 6
        if pure:  # lossless up to the 3-3-2 palette
            im.seek(4)
            got = np.asarray(im.convert("RGB")).astype(int)
            assert np.abs(got - frames[4]).max() <= 64


def test_demo_sample_runs_without_extras(tmp_path, capsys):
    from hotpose.video.demo import load_sample, run_demo

    s = load_sample()
    assert s["keypoints_2d"].shape[1:] == (17, 2) and len(s["keypoints_2d"]) > 100
    assert run_demo(tmp_path, runs=1) == 0
    assert (tmp_path / "sports2d_demo.npz").is_file() and (tmp_path / "sports2d_demo_3d.gif").is_file()
    out = capsys.readouterr().out
    assert "full backbone" in out and "median of 1 interleaved runs" in out


# --------------------------------------------------------------------------------------------- needs OpenCV
@pytest.mark.skipif(not HAVE_CV2, reason="OpenCV (the video extra) not installed")
def test_process_video_with_stub_detector(tmp_path):
    clip = write_clip(tmp_path / "walk.mp4", t=40)
    det = StubDetector(40, absent=range(10, 35))  # 25 frames > 1 s at 20 fps
    r = process_video(clip, tmp_path / "out", StandInLifter(), det, progress=False)
    assert r.num_frames == 40 and r.image_size == (320, 240) and abs(r.fps - 20) < 0.1
    assert {"decode", "2d", "lift", "render", "write"} <= set(r.timings)
    assert r.outputs["render"].suffix == ".mp4" and r.outputs["render"].stat().st_size > 1000
    f = np.load(r.outputs["npz"])
    assert f["valid"].sum() == 15 and np.isnan(f["keypoints_2d"][10:35]).all()
    assert np.allclose(f["keypoints_2d"][0, [1, 2, 3, 13]], keypoints_2d(40)[0, [1, 2, 3, 13]])  # COCO -> H36M
    import cv2
    cap = cv2.VideoCapture(str(r.outputs["render"]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 40


@pytest.mark.skipif(not HAVE_CV2, reason="OpenCV (the video extra) not installed")
def test_folder_no_person_and_ranks(tmp_path, caplog):
    folder = tmp_path / "videos"
    folder.mkdir()
    for n in ("a", "b", "c"):
        write_clip(folder / f"{n}.mp4", t=8)

    class Nobody:
        format = "coco"

        def detect(self, frame):
            return None

    res = infer(folder, tmp_path / "out", StandInLifter(), Nobody(), progress=False, rank=0, world_size=2)
    assert len(res) == 2 and all(isinstance(e, NoPersonError) for e in res)
    assert "a: no person was detected in any of its 8 frames" in caplog.text
    res = infer(folder, tmp_path / "out", StandInLifter(), StubDetector(8), progress=False, rank=1,
                world_size=2, render=False)
    assert [r.name for r in res] == ["b"] and (tmp_path / "out" / "b.bvh").is_file()


@pytest.mark.skipif(not (HAVE_CV2 and HAVE_MP), reason="mediapipe / OpenCV (the video extra) not installed")
def test_mediapipe_on_real_clip(tmp_path):
    src = os.environ.get("HOTPOSE_TEST_VIDEO")
    if not src or not Path(src).is_file():
        pytest.skip("set HOTPOSE_TEST_VIDEO to a real video with one person (e.g. Sports2D/Demo/demo.mp4)")
    import cv2

    from hotpose.video.detect import BlazePoseDetector, read_video, video_info

    info = video_info(src)
    clip = tmp_path / "real.mp4"  # the first 45 frames, halved in size
    w, h = info["width"] // 2, info["height"] // 2
    vw = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), info["fps"], (w, h))
    for i, fr in enumerate(read_video(src)):
        if i == 45:
            break
        vw.write(cv2.cvtColor(cv2.resize(fr, (w, h)), cv2.COLOR_RGB2BGR))
    vw.release()
    with BlazePoseDetector() as det:
        r = process_video(clip, tmp_path / "out", StandInLifter(), det, progress=False)
    f = np.load(r.outputs["npz"])
    kp, sc = f["keypoints_2d"], f["scores"]
    found = np.isfinite(kp).all(-1).all(-1)
    assert found.mean() > 0.8, f"BlazePose found a person in only {found.mean():.0%} of the frames"
    assert (kp[found] >= -0.05 * w).all() and (kp[found, :, 0] <= 1.05 * w).all()
    assert sc[found].mean() > 0.5
    # bones in 2D: the H36M skeleton from BlazePose must be a plausible human (limbs not degenerate)
    bones = np.linalg.norm(kp[found][:, 1:] - kp[found][:, list(PARENTS)[1:]], axis=-1)
    assert np.median(bones) > 3
    assert r.outputs["render"].stat().st_size > 1000


@pytest.mark.skipif(not HAVE_CV2, reason="OpenCV (the video extra) not installed")
def test_truncated_video_warns_and_a_bad_file_does_not_stop_the_folder(tmp_path, caplog):
    import cv2

    folder = tmp_path / "videos"
    folder.mkdir()
    path = folder / "a_cut.avi"  # AVI: the header (frame count) comes first, so a cut file still opens
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (320, 240))
    for i in range(40):
        w.write(np.full((240, 320, 3), 3 * i, np.uint8))
    w.release()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    (folder / "b_broken.mp4").write_bytes(os.urandom(3000))
    write_clip(folder / "c_fine.mp4", t=8)
    res = infer(folder, tmp_path / "out", StandInLifter(), StubDetector(40), progress=False, render=True)
    cut, broken, fine = res
    assert 0 < cut.num_frames < 40 and cut.header_frames == 40
    assert f"a_cut.avi: decoded {cut.num_frames} frames, but its header announces 40" in caplog.text
    assert np.load(cut.outputs["npz"])["pose_3d"].shape[0] == cut.num_frames
    assert isinstance(broken, OSError) and broken.video.name == "b_broken.mp4"
    assert fine.num_frames == 8 and fine.header_frames is None and fine.detected == 8
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{n}{s}" for n in ("a_cut", "c_fine") for s in (".npz", ".json", ".bvh", "_3d.mp4"))


def test_a_failed_video_leaves_no_file_and_replaces_none(tmp_path, monkeypatch):
    """The outputs of a video are written under temporary names and renamed together at the end."""
    infer_module = importlib.import_module("hotpose.video.infer")  # hotpose.video.infer is also the function

    out = tmp_path / "out"
    out.mkdir()
    (out / "walk.npz").write_text("earlier")
    kp, sc = keypoints_2d(30), np.ones((30, 17), np.float32)  # Human3.6M order

    def broken_bvh(path, pose, fps):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(infer_module, "write_bvh", broken_bvh)
    with pytest.raises(OSError, match="No space"):
        process_keypoints("walk", kp, sc, (320, 240), 20.0, out, StandInLifter(), render=False, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["walk.npz"] and (out / "walk.npz").read_text() == "earlier"
