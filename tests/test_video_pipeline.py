"""The overlapped ``hotpose infer`` (hotpose.video.pipeline): the same outputs as the sequential run, array for
array and byte for byte; errors in a thread stop the video with a clear message and leave no file behind.

Most tests use the stub detector and stand-in lifter of test_video_infer on a synthetic clip (OpenCV needed); one
runs MediaPipe on the real clip of HOTPOSE_TEST_VIDEO."""
from __future__ import annotations

import importlib.util
import os
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hotpose.cli import main
from hotpose.video.detect import read_video
from hotpose.video.infer import process_keypoints, process_video
from hotpose.video.pipeline import FrameReader, WorkerError, default_workers, ordered_map
from hotpose.video.render import SequenceRenderer

from test_video_infer import StandInLifter, StubDetector, keypoints_2d, write_clip

HAVE_CV2 = importlib.util.find_spec("cv2") is not None
HAVE_MP = HAVE_CV2 and importlib.util.find_spec("mediapipe") is not None
needs_cv2 = pytest.mark.skipif(not HAVE_CV2, reason="OpenCV (the video extra) not installed")


def npz_arrays(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def assert_same_outputs(a: Path, b: Path, name: str) -> None:
    """Every output of ``name`` in folders a and b is the same: npz arrays equal (NaN where NaN), other files
    byte for byte."""
    files_a = sorted(p.name for p in a.iterdir())
    assert files_a == sorted(p.name for p in b.iterdir())
    for f in files_a:
        if f.endswith(".npz"):
            x, y = npz_arrays(a / f), npz_arrays(b / f)
            assert x.keys() == y.keys()
            for k in x:
                np.testing.assert_array_equal(x[k], y[k], err_msg=k)
        else:
            assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_default_workers_is_every_core_this_process_may_use():
    assert 1 <= default_workers() <= (os.cpu_count() or 1)


@needs_cv2
@pytest.mark.parametrize("gif", [False, True], ids=["mp4", "gif"])
def test_frames_kept_from_the_2d_pass_render_as_the_decoded_ones(tmp_path, monkeypatch, gif):
    """The default keeps the scaled frames (the video is decoded once); with no budget for them the render pass
    decodes it again; the outputs are the same, in both runs."""
    import hotpose.video.detect as detect

    t = 24
    clip = write_clip(tmp_path / "walk.mp4", t=t, fps=20.0)
    opened = []
    real = detect.read_video
    monkeypatch.setattr(detect, "read_video", lambda path, timer=None: opened.append(path) or real(path, timer))
    outs = {}
    for cache, workers in ((None, 1), (0, 1), (None, 2), (0, 2)):
        opened.clear()
        outs[cache, workers] = tmp_path / f"c{cache}_w{workers}"
        process_video(clip, outs[cache, workers], StandInLifter(), StubDetector(t, [5, 6]), gif=gif,
                      progress=False, workers=workers, frame_cache=cache)
        assert len(opened) == (1 if cache is None else 2), (cache, workers)
    for key in outs:
        assert_same_outputs(outs[None, 1], outs[key], "walk")


@needs_cv2
def test_scaled_frames_drop_out_when_the_video_holds_more_or_other_frames():
    from hotpose.video.pipeline import ScaledFrames

    frame = np.zeros((240, 320, 3), np.uint8)
    s = ScaledFrames(2, (320, 240), 120)
    assert s.ok and s.panel == (160, 120)
    for _ in range(3):  # one more than the header said
        s.add(frame)
    assert not s.ok and s.array is None
    s = ScaledFrames(2, (320, 240), 120)
    s.add(np.zeros((200, 320, 3), np.uint8))  # another size
    assert not s.ok
    assert not ScaledFrames(1000, (320, 240), 120, budget=1000 * 160 * 120 * 3 - 1).ok
    s = ScaledFrames(1000, (320, 240), 120, budget=1000 * 160 * 120 * 3)
    s.add(frame)
    assert s.ok and len(list(s.frames())) == 1


@needs_cv2
def test_frame_reader_yields_the_frames_of_read_video(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", t=25)
    timer: dict = {}
    frames = list(FrameReader(clip, timer, depth=3))
    expected = list(read_video(clip))
    assert len(frames) == len(expected) == 25 and timer["decode"] > 0
    for f, e in zip(frames, expected):
        np.testing.assert_array_equal(f, e)
    reader = FrameReader(clip, depth=2)  # a consumer that stops early ends the thread
    next(iter(reader))
    reader.close()
    assert not reader._thread.is_alive()
    with pytest.raises(FileNotFoundError, match="no such video"):
        list(FrameReader(tmp_path / "missing.mp4"))


@needs_cv2
@pytest.mark.parametrize("gif", [False, True], ids=["mp4", "gif"])
def test_pipelined_video_equals_sequential(tmp_path, gif):
    """Stub detector with gaps (interpolated and a long one), the video's frames in the rendering; the GIF keeps
    every other frame, so frames are also skipped in the render pass."""
    t = 60
    clip = write_clip(tmp_path / "walk.mp4", t=t, fps=20.0)
    absent = list(range(10, 13)) + list(range(30, 55))
    outs = {}
    for workers in (1, 2):
        outs[workers] = tmp_path / f"w{workers}"
        r = process_video(clip, outs[workers], StandInLifter(), StubDetector(t, absent), gif=gif, progress=False,
                          workers=workers, html=True)
        assert r.num_frames == t and r.invalid == 25
    assert_same_outputs(outs[1], outs[2], "walk")
    assert (outs[2] / f"walk_3d.{'gif' if gif else 'mp4'}").stat().st_size > 1000


def test_render_without_video_equals_sequential(tmp_path):
    """The built-in sample's path: skeletons on a plain background (no decoding), GIF; 3 drawing threads."""
    kp, sc = keypoints_2d(40), np.ones((40, 17), np.float32)
    for name, workers in (("seq", 1), ("par", 4)):
        process_keypoints("walk", kp, sc, (320, 240), 20.0, tmp_path / name, StandInLifter(), gif=True,
                          progress=False, workers=workers)
    assert_same_outputs(tmp_path / "seq", tmp_path / "par", "walk")


def test_ordered_map_keeps_the_order_bounds_the_work_ahead_and_raises_at_the_failing_item():
    rng = random.Random(0)
    pulled = []

    def items():
        for i in range(40):
            pulled.append(i)
            yield i

    def slow_square(i):
        time.sleep(rng.random() * 0.003)  # finish out of order
        return i * i

    got = []
    for k, v in enumerate(ordered_map(slow_square, items(), threads=3, depth=5)):
        got.append(v)
        assert len(pulled) <= k + 1 + 5 + 1  # never more than depth items beyond the consumer
    assert got == [i * i for i in range(40)]
    assert list(ordered_map(slow_square, range(5), threads=0)) == [0, 1, 4, 9, 16]

    def fails_at_7(i):
        if i == 7:
            raise ValueError("seven")
        return i

    seen = []
    with pytest.raises(ValueError, match="seven"):
        for v in ordered_map(fails_at_7, range(100), threads=2):
            seen.append(v)
    assert seen == list(range(7))
    assert not [t for t in threading.enumerate() if t.name.startswith("hotpose-draw")]  # the threads ended


class FailingRenderer(SequenceRenderer):
    """Draws as SequenceRenderer, except frame 7."""

    def frame(self, i, image=None):
        if i == 7:
            raise ValueError(f"cannot draw frame {i}")
        return super().frame(i, image)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_draw_stops_the_video_and_leaves_nothing(tmp_path, monkeypatch, workers):
    import hotpose.video.render as render

    monkeypatch.setattr(render, "SequenceRenderer", FailingRenderer)
    out = tmp_path / "out"
    out.mkdir()
    (out / "walk.npz").write_text("earlier")
    kp, sc = keypoints_2d(30), np.ones((30, 17), np.float32)
    error, expected = ((WorkerError, r"drawing thread \(frame 7\): ValueError: cannot draw frame 7") if workers > 1
                       else (ValueError, "cannot draw frame 7"))
    with pytest.raises(error, match=expected):
        process_keypoints("walk", kp, sc, (320, 240), 20.0, out, StandInLifter(), progress=False, gif=True,
                          workers=workers, html=True)
    assert sorted(p.name for p in out.iterdir()) == ["walk.npz"] and (out / "walk.npz").read_text() == "earlier"


@needs_cv2
@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_decode_in_the_render_pass_leaves_nothing(tmp_path, workers):
    clip = write_clip(tmp_path / "walk.mp4", t=30)
    kp, sc = keypoints_2d(30), np.ones((30, 17), np.float32)

    def frames():
        for i, f in enumerate(read_video(clip)):
            if i == 12:
                raise OSError("the disk went away")
            yield f

    out = tmp_path / "out"
    with pytest.raises(OSError, match="the disk went away"):
        process_keypoints("walk", kp, sc, (320, 240), 20.0, out, StandInLifter(), frames=frames, progress=False,
                          workers=workers)
    assert list(out.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("hotpose-")]


@pytest.mark.parametrize("args, message", [
    (["--workers", "-1"], "must be 0 (every core) or more"),
    (["--workers", "two"], "expected a whole number"),
])
def test_infer_workers_option_is_checked(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(["infer", str(tmp_path), "--out", str(tmp_path / "o"), *args])
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(not HAVE_MP, reason="mediapipe / OpenCV (the video extra) not installed")
def test_real_clip_pipelined_equals_sequential(tmp_path):
    src = os.environ.get("HOTPOSE_TEST_VIDEO")
    if not src or not Path(src).is_file():
        pytest.skip("set HOTPOSE_TEST_VIDEO to a real video with one person (e.g. Sports2D/Demo/demo.mp4)")
    import cv2

    clip = tmp_path / "clip.mp4"  # its first 45 frames: the test stays short
    cap = cv2.VideoCapture(src)
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS),
                        (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))))
    for _ in range(45):
        ok, frame = cap.read()
        assert ok
        w.write(frame)
    w.release()
    cap.release()
    for workers in (1, 2):
        assert main(["infer", str(clip), "--out", str(tmp_path / f"w{workers}"), "--workers", str(workers),
                     "--no-render"]) == 0
    assert_same_outputs(tmp_path / "w1", tmp_path / "w2", "clip")
