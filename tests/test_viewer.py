"""``hotpose view`` and the viewer page (hotpose.video.viewer): one self-contained HTML file; clear refusals of bad
input; and, in headless Chromium (skipped with the reason where none is installed), a page that runs without
JavaScript errors, draws, and redraws the skeleton when the slider moves or the view is turned."""
from __future__ import annotations

import importlib.util
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from hotpose.cli import main
from hotpose.video.viewer import load_result, viewer_html, write_viewer

from browser import browser_missing, canvas_stats, errors, load, open_browser
from test_video_infer import REST, StandInLifter, StubDetector, keypoints_2d, write_clip

HAVE_CV2 = importlib.util.find_spec("cv2") is not None


def walking(t: int = 40, shift: float = 0.0) -> dict:
    """A person: the stand-in lifter's turning rest pose and a 2D track moving sideways."""
    kp = keypoints_2d(t) + np.array([shift, 0], np.float32)
    return {"name": f"p{shift:g}", "keypoints_2d": kp, "pose_3d": StandInLifter().lift(kp, (320, 240)),
            "valid": np.ones(t, bool)}


def page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="hotpose-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def save(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def text_file(path: Path) -> Path:
    path.write_text("hello, not an npz")
    return path


# ------------------------------------------------------------------------------------------------ the page
def test_page_is_one_self_contained_file():
    html = viewer_html([walking()], 20.0, (320, 240), title="a </script> title")
    assert "<script src" not in html and "<link" not in html and not re.search(r"https?://", html)
    assert "/*__JS__*/" not in html and "__DATA__" not in html and "hotposeViewer" in html
    data = page_data(html)
    assert data["num_frames"] == 40 and len(data["people"]) == 1 and data["title"] == "a </script> title"
    person = data["people"][0]
    pose = np.array(person["pose"], float).reshape(40, 17, 3) / 1000
    assert np.nanmin(pose[:, (3, 6), 1]) == pytest.approx(0.0, abs=0.02)  # the feet on the floor, y up
    assert pose[0, 10, 1] > pose[0, 0, 1] > 0  # head above pelvis above the floor
    bones = np.linalg.norm(pose[:, 1:] - pose[:, [0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]], axis=-1)
    rest = np.linalg.norm(REST[1:] - REST[[0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(rest, bones.shape), atol=0.003)  # rounding to mm only


def test_people_are_placed_by_their_2d_position():
    html = viewer_html([walking(shift=-80), walking(shift=80)], 20.0, (320, 240))
    a, b = (np.array(p["offset"], float) / 1000 for p in page_data(html)["people"])
    # 160 px apart; the rest pose is ~1.6 m tall and ~160 px high in the stand-in's 2D track: ~1.6 m
    assert 1.2 < np.median(b - a) < 2.0


def test_missing_joints_and_frames_become_null():
    p = walking(10)
    p["pose_3d"][3] = np.nan
    p["keypoints_2d"][4, 2] = np.nan
    person = page_data(viewer_html([p], 20.0, (320, 240)))["people"][0]
    assert person["pose"][3 * 51] is None and person["kp"][4 * 34 + 4] is None and person["pose"][0] is not None


# ------------------------------------------------------------------------------------------------- the CLI
def run(args, capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = int(e.code)
    return code, capsys.readouterr().err


def result(tmp_path: Path, name: str = "walk", t: int = 40) -> Path:
    p = walking(t)
    return save(tmp_path / f"{name}.npz", pose_3d=p["pose_3d"], keypoints_2d=p["keypoints_2d"], fps=20.0,
                image_size=np.array([320, 240]), valid=p["valid"])


BAD = [
    ("missing", lambda d: d / "nope.npz", "no such file"),
    ("folder", lambda d: d, "is a folder"),
    ("text", lambda d: text_file(d / "t.npz"), "not a readable npz"),
    ("no-pose", lambda d: save(d / "k.npz", keypoints_2d=np.zeros((5, 17, 2))), "holds no pose_3d"),
    ("bad-shape", lambda d: save(d / "s.npz", pose_3d=np.zeros((5, 16, 3))), "expected (T, 17, 3)"),
    ("mismatch", lambda d: save(d / "m.npz", pose_3d=np.zeros((5, 17, 3)), keypoints_2d=np.zeros((6, 17, 2))),
     "does not match"),
    ("all-nan", lambda d: save(d / "n.npz", pose_3d=np.full((5, 17, 3), np.nan)), "no finite value"),
]


@pytest.mark.parametrize("what, make, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, what, make, message):
    src = make(tmp_path)
    code, err = run(["view", src, "--out", tmp_path / "v.html"], capsys)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert len([ln for ln in err.strip().splitlines() if ln.startswith("hotpose view:")]) == 1, err
    assert not (tmp_path / "v.html").exists() and not list(tmp_path.glob(".*.tmp.*"))


def test_output_rules(tmp_path, capsys):
    src = result(tmp_path)
    code, err = run(["view", src], capsys)  # default: beside the result, .html for .npz
    out = tmp_path / "walk.html"
    assert code == 0 and out.is_file() and str(out) in err and "MB" in err
    out.write_text("earlier")
    code, err = run(["view", src], capsys)
    assert code == 2 and "exists; pass --overwrite" in err and out.read_text() == "earlier"
    code, err = run(["view", src, "--overwrite"], capsys)
    assert code == 0 and "hotposeViewer" in out.read_text()
    for args, message in ((["--out", src], "is the input file"), (["--out", tmp_path / "v.txt"], "ending in .html"),
                          (["--video", tmp_path / "none.mp4"], "--video"), (["--max-images", "-1"], "or more")):
        code, err = run(["view", src, *args], capsys)
        assert code == 2 and message in err and "Traceback" not in err, err


def test_several_results_and_a_person_axis_are_shown_together(tmp_path, capsys):
    a, b = result(tmp_path, "a"), result(tmp_path, "b")
    code, err = run(["view", a, b, "--out", tmp_path / "ab.html"], capsys)
    assert code == 0 and "2 people" in err
    assert [p["name"] for p in page_data((tmp_path / "ab.html").read_text())["people"]] == ["a", "b"]
    p = walking(30)
    both = save(tmp_path / "both.npz", pose_3d=np.stack([p["pose_3d"]] * 3),
                keypoints_2d=np.stack([p["keypoints_2d"]] * 3))
    people, fps, size, source = load_result(both)
    assert len(people) == 3 and fps == 30.0 and source is None
    short = result(tmp_path, "short", t=20)
    code, err = run(["view", a, short, "--out", tmp_path / "x.html"], capsys)
    assert code == 2 and "must come from one video" in err


@pytest.mark.skipif(not HAVE_CV2, reason="OpenCV (the video extra) not installed")
def test_infer_html_and_view_embed_the_video_frames(tmp_path, capsys):
    from hotpose.video.infer import process_video

    clip = write_clip(tmp_path / "walk.mp4", t=30)
    r = process_video(clip, tmp_path / "o", StandInLifter(), StubDetector(30), render=False, progress=False,
                      html=True)
    data = page_data(r.outputs["html"].read_text())
    assert len(data["images"]) == 30 and data["image_frames"] == list(range(30))
    assert data["images"][0].startswith("data:image/jpeg;base64,")
    people, *_, source = load_result(r.outputs["npz"])
    assert source == str(clip.resolve())  # view finds the video through the npz
    code, err = run(["view", r.outputs["npz"], "--out", tmp_path / "v.html", "--max-images", "7"], capsys)
    data = page_data((tmp_path / "v.html").read_text())
    assert code == 0 and len(data["images"]) == 7 and data["image_frames"][0] == 0 and \
        data["image_frames"][-1] == 29


# ----------------------------------------------------------------------------------------------- a browser
@pytest.fixture(scope="module")
def browser():
    why = browser_missing()
    if why:
        pytest.skip(f"no browser test: {why}")
    driver = open_browser(1100, 600)
    yield driver
    driver.quit()


def wait_for(predicate, timeout: float = 5.0):
    end = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > end:
            return value
        time.sleep(0.05)


def test_page_runs_draws_and_follows_the_slider_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    video = write_clip(tmp_path / "walk.mp4", t=40) if HAVE_CV2 else None
    page = write_viewer(tmp_path / "v.html", [walking(shift=-60), walking(shift=60)], 20.0, (320, 240),
                        video=video)
    load(browser, page)
    assert errors(browser) == []
    assert browser.execute_script("return window.hotposeViewer.numFrames") == 40
    lit3, hash3, area3 = wait_for(lambda: (s := canvas_stats(browser, "view3d"))[0] > 0 and s)
    assert 0.002 * area3 < lit3 < 0.5 * area3  # a grid and two skeletons, on a background
    lit2, _, area2 = canvas_stats(browser, "view2d")
    if video is not None:  # the frame strip fills the 2D panel's picture
        lit2, _, area2 = wait_for(lambda: (s := canvas_stats(browser, "view2d"))[0] > 0.3 * s[2] and s)
        assert lit2 > 0.3 * area2
    else:
        assert lit2 > 0.001 * area2

    slider = browser.find_element(By.ID, "slider")
    ActionChains(browser).move_to_element_with_offset(slider, slider.size["width"] // 4, 0).click().perform()
    frame = wait_for(lambda: browser.execute_script("return window.hotposeViewer.frame"))
    assert 20 <= frame <= 39
    # the label is redrawn on the next animation frame, not when the slider sets the frame
    shown = f"frame {frame + 1} / 40"
    assert wait_for(lambda: browser.find_element(By.ID, "frame").text.startswith(shown)), \
        browser.find_element(By.ID, "frame").text
    moved = wait_for(lambda: canvas_stats(browser, "view3d")[1] != hash3)
    assert moved, "the 3D skeleton did not change when the slider moved"

    _, before, _ = canvas_stats(browser, "view3d")
    canvas = browser.find_element(By.ID, "view3d")
    ActionChains(browser).click_and_hold(canvas).move_by_offset(120, 30).release().perform()
    assert wait_for(lambda: canvas_stats(browser, "view3d")[1] != before), "dragging did not turn the view"
    assert browser.execute_script("return window.hotposeViewer.frame") == frame

    browser.find_element(By.ID, "play").click()
    assert wait_for(lambda: browser.execute_script("return window.hotposeViewer.frame") != frame, 3.0)
    assert errors(browser) == []


def test_sample_demo_page_in_chromium(browser, tmp_path):
    """The page `make demo` writes (no video frames: the 2D panel zooms onto the keypoints)."""
    from hotpose.video.demo import load_sample

    s = load_sample()
    t = len(s["keypoints_2d"])
    page = write_viewer(tmp_path / "demo.html", [{"name": "sample", "keypoints_2d": s["keypoints_2d"],
                                                  "pose_3d": StandInLifter().lift(s["keypoints_2d"], (1, 1))}],
                        s["fps"], s["image_size"])
    load(browser, page)
    assert browser.execute_script("return window.hotposeViewer.numFrames") == t
    assert wait_for(lambda: canvas_stats(browser, "view2d")[0] > 100) and canvas_stats(browser, "view3d")[0] > 100
    assert errors(browser) == []


def test_without_opencv_the_recorded_video_is_left_out_with_a_warning(tmp_path, capsys, monkeypatch):
    import hotpose.video.detect as detect

    def missing(module):
        raise ImportError(f"{module} is needed for video input but is not installed. Install it with: pip ...")

    monkeypatch.setattr(detect, "require", missing)
    p = walking(20)
    (tmp_path / "walk.mp4").write_bytes(b"not read")
    src = save(tmp_path / "walk.npz", pose_3d=p["pose_3d"], keypoints_2d=p["keypoints_2d"],
               source=np.array(str(tmp_path / "walk.mp4")))
    code, err = run(["view", src], capsys)
    assert code == 0 and "warning: the page shows no frames" in err
    assert page_data((tmp_path / "walk.html").read_text())["images"] == []
    code, err = run(["view", src, "--video", tmp_path / "walk.mp4", "--out", tmp_path / "b.html"], capsys)
    assert code == 2 and "needs OpenCV" in err and not (tmp_path / "b.html").exists()
