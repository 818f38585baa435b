"""The commands run as a user runs them, on what users get wrong: each case is one row (arguments, setup, expected
exit status, a piece of the expected message, files expected afterwards). Every failure must be one line on stderr,
with a non-zero status, no traceback and no partial file; the cases run in-process through ``hotpose.cli.main``,
and a few in a real subprocess (Ctrl-C during training, an error without a traceback).

Video cases need the video extra (OpenCV, MediaPipe); those on a real clip also HOTPOSE_TEST_VIDEO (e.g.
Sports2D/Demo/demo.mp4 of the sports2d 0.8.34 wheel, as .ci/run fetches it); they skip with the reason otherwise.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from hotpose.cli import main
from hotpose.data.synthetic import write_h36m
from hotpose.engine.checkpoint import load_checkpoint

from test_train import ROOT, tiny_config, without_times

pytestmark = pytest.mark.usefixtures("one_thread")

HAVE_VIDEO = all(__import__("importlib").util.find_spec(m) is not None for m in ("cv2", "mediapipe"))
CLIP = os.environ.get("HOTPOSE_TEST_VIDEO")
NEEDS = {
    "video": (not HAVE_VIDEO, "the video extra (OpenCV + MediaPipe) is not installed"),
    "clip": (not (HAVE_VIDEO and CLIP and Path(CLIP).is_file()),
             "needs the video extra and HOTPOSE_TEST_VIDEO (a real clip with one person, e.g. Sports2D/Demo/demo.mp4)"),
    "no-cuda": (torch.cuda.is_available(), "this machine has a CUDA device"),
}


# ------------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """Tiny data, a config and a finished one-epoch run, and files of the wrong kind."""
    base = tmp_path_factory.mktemp("cli")
    write_h36m(base / "data", frames=40)
    cfg = tiny_config(base, base / "data", train={"epochs": 1, "steps_per_epoch": 2})
    run = base / "run"
    assert main(["train", str(cfg), "--out", str(run), "--device", "cpu", "--threads", "1", "--no-progress"]) == 0
    (base / "text.pt").write_text("hello, not a checkpoint\n")
    (base / "random.pt").write_bytes(np.random.default_rng(0).integers(128, 256, 3000, dtype=np.uint8).tobytes())
    torch.save({"blocks.0.weight": torch.zeros(2, 2), "head.bias": torch.zeros(2)}, base / "official.pt")
    (base / "a_file").write_text("x")
    return {"base": base, "cfg": cfg, "run": run}


@pytest.fixture()
def place(world, tmp_path) -> dict:
    """Placeholders of the case arguments: {tmp} (this case's folder), {cfg}, {run} (a copy of the finished run),
    {base} (the shared files), {clip} (the real clip)."""
    shutil.copytree(world["run"], tmp_path / "run")
    return {"tmp": str(tmp_path), "cfg": str(world["cfg"]), "run": str(tmp_path / "run"), "base": str(world["base"]),
            "clip": str(CLIP)}


def truncated_clip(tmp: Path, name: str = "cut.mp4", fraction: float = 1 / 8) -> Path:
    """The real clip cut to its first ``fraction`` of bytes: its header still announces every frame."""
    data = Path(CLIP).read_bytes()
    path = tmp / name
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def no_person_video(path: Path) -> Path:
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(20):
        w.write(np.full((48, 64, 3), 40 + i, np.uint8))
    w.release()
    return path


def folder_of_three(tmp: Path) -> None:
    """A folder with a readable (truncated) clip, a file that is no video and a video without a person."""
    src = tmp / "videos"
    src.mkdir()
    truncated_clip(src, "a_good.mp4")
    (src / "b_broken.mp4").write_bytes(os.urandom(4000))
    no_person_video(src / "c_empty.avi")


def old_outputs(tmp: Path) -> None:
    (tmp / "out").mkdir()
    (tmp / "out" / "cut.npz").write_text("old")
    truncated_clip(tmp)


# -------------------------------------------------------------------------------------------------------- cases
@dataclass
class Case:
    id: str
    args: list[str]
    code: int
    err: str  # a piece of stderr
    setup: Callable[[Path], None] | None = None
    exist: tuple[str, ...] = ()  # paths (relative to the case's folder) that must exist afterwards
    absent: tuple[str, ...] = ()  # ... and must not
    unchanged: dict[str, str] = field(default_factory=dict)  # path -> content it must still have
    needs: str = ""


CASES = [
    # train
    Case("train-out-is-a-file", ["train", "{cfg}", "--out", "{base}/a_file"], 2, "is a file; training writes a folder"),
    Case("train-cuda-without-gpu", ["train", "{cfg}", "--out", "{tmp}/r", "--device", "cuda"], 2, "no CUDA device:",
         absent=("r",), needs="no-cuda"),
    Case("train-negative-threads", ["train", "{cfg}", "--threads", "-1"], 2, "must be 0 (torch's choice) or more"),
    Case("train-resume-without-last", ["train", "{cfg}", "--out", "{tmp}/new", "--resume", "--device", "cpu",
                                       "--no-progress"], 0, "no last.pt in", exist=("new/last.pt", "new/best.pt")),
    Case("train-resume-says-the-epoch", ["train", "{cfg}", "--out", "{run}", "--resume", "--device", "cpu",
                                         "--no-progress"], 0, "resuming from epoch 1 of 1"),
    Case("train-resume-restores-best", ["train", "{cfg}", "--out", "{run}", "--resume", "--device", "cpu",
                                        "--no-progress"], 0, "resuming from epoch 1 of 1",
         setup=lambda t: (t / "run" / "best.pt").unlink(), exist=("run/best.pt",)),
    Case("train-without-resume-refuses", ["train", "{cfg}", "--out", "{run}"], 2, "exists: pass --resume"),
    # evaluate
    Case("evaluate-batch-size-0", ["evaluate", "{run}", "--batch-size", "0"], 2, "--batch-size: must be 1 or more"),
    Case("evaluate-batch-size-negative", ["evaluate", "{run}", "--batch-size", "-4"], 2, "must be 1 or more"),
    Case("evaluate-negative-threads", ["evaluate", "{run}", "--threads", "-2"], 2, "must be 0 (torch's choice)"),
    Case("evaluate-cuda-without-gpu", ["evaluate", "{run}", "--device", "cuda"], 2, "no CUDA device:",
         needs="no-cuda"),
    Case("evaluate-unknown-pruner", ["evaluate", "{run}", "--pruner", "densest"], 2,
         "unknown pruner 'densest'; expected one of"),
    Case("evaluate-text-file", ["evaluate", "{base}/text.pt"], 2, "is a text file, not a PyTorch checkpoint"),
    Case("evaluate-random-bytes", ["evaluate", "{base}/random.pt"], 2, "not a PyTorch file"),
    Case("evaluate-official-checkpoint", ["evaluate", "{base}/official.pt"], 2,
         "is a bare state dict of 2 tensors (an official or third-party checkpoint?), not a checkpoint written by "
         "`hotpose train`"),
    Case("evaluate-folder-without-checkpoint", ["evaluate", "{tmp}"], 2, "without best.pt or last.pt"),
    Case("evaluate-json-exists", ["evaluate", "{run}", "--json", "{tmp}/r.json"], 2,
         "--json {tmp}/r.json exists; pass --overwrite", setup=lambda t: (t / "r.json").write_text("mine"),
         unchanged={"r.json": "mine"}),
    Case("evaluate-json-folder-missing", ["evaluate", "{run}", "--json", "{tmp}/no/r.json"], 2,
         "folder {tmp}/no does not exist", absent=("no",)),
    Case("evaluate-json-unwritable", ["evaluate", "{run}", "--json", "/proc/hotpose_report.json"], 2,
         "--json /proc/hotpose_report.json"),
    Case("evaluate-predictions-in-a-file", ["evaluate", "{run}", "--save-predictions", "{base}/a_file/p.npz"], 2,
         "--save-predictions"),
    Case("evaluate-writes-json-and-predictions", ["evaluate", "{run}", "--json", "{tmp}/r.json",
                                                  "--save-predictions", "{tmp}/preds", "--no-progress"], 0, "",
         exist=("r.json", "preds"), absent=("preds.npz",)),
    # export
    Case("export-writes", ["export", "{run}", "{tmp}/m.pt", "--pruner", "uniform"], 0, "", exist=("m.pt",)),
    Case("export-exists", ["export", "{run}", "{tmp}/m.pt"], 2, "OUT {tmp}/m.pt exists; pass --overwrite",
         setup=lambda t: (t / "m.pt").write_text("mine"), unchanged={"m.pt": "mine"}),
    Case("export-unknown-pruner", ["export", "{run}", "{tmp}/m.pt", "--pruner", "densest"], 2,
         "unknown pruner 'densest'; expected one of", absent=("m.pt",)),
    Case("export-text-file", ["export", "{base}/text.pt", "{tmp}/m.pt"], 2, "is a text file, not a PyTorch checkpoint",
         absent=("m.pt",)),
    Case("export-folder-without-checkpoint", ["export", "{tmp}", "{tmp}/m.pt"], 2, "without best.pt or last.pt",
         absent=("m.pt",)),
    Case("export-onto-its-input", ["export", "{run}/best.pt", "{run}/best.pt", "--overwrite"], 2, "is the input file"),
    # bench
    Case("bench-runs-0", ["bench", "--runs", "0"], 2, "--runs: must be 1 or more"),
    Case("bench-negative-threads", ["bench", "--threads", "-1"], 2, "must be 0 (torch's choice) or more"),
    Case("bench-cuda-without-gpu", ["bench", "hot_mixste_243", "--device", "cuda"], 2, "no CUDA device:",
         needs="no-cuda"),
    Case("bench-counts-only", ["bench", "hot_mixste_243", "--no-speed", "--threads", "1"], 0, "Measuring 1 models"),
    # infer / demo: checked before any decoding
    Case("infer-arch-without-checkpoint", ["infer", "{tmp}/x.mp4", "--out", "{tmp}/o", "--arch", "hot_mixste"], 2,
         "--arch names the model of an official --checkpoint; pass --checkpoint too", absent=("o",), needs="video"),
    Case("demo-video-arch-without-checkpoint", ["demo", "{tmp}/x.mp4", "--out", "{tmp}/o", "--arch", "hot_mixste"],
         2, "pass --checkpoint too", absent=("o",), needs="video"),
    Case("demo-sample-arch", ["demo", "--arch", "hot_mixste", "--out", "{tmp}/o"], 2, "only with a VIDEO",
         absent=("o",)),
    Case("infer-missing-source", ["infer", "{tmp}/nothing.mp4", "--out", "{tmp}/o"], 2, "no such video or folder",
         absent=("o",), needs="video"),
    Case("infer-out-is-a-file", ["infer", "{clip}", "--out", "{base}/a_file"], 2, "is a file; infer writes a folder",
         needs="clip"),
    Case("infer-text-checkpoint", ["infer", "{clip}", "--out", "{tmp}/o", "--checkpoint", "{base}/text.pt"], 2,
         "is a text file, not a PyTorch checkpoint", absent=("o",), needs="clip"),
    Case("infer-train-checkpoint-with-arch", ["infer", "{clip}", "--out", "{tmp}/o", "--checkpoint",
                                              "{run}/best.pt", "--arch", "hot_mixste"], 2, "leave out --arch",
         absent=("o",), needs="clip"),
    Case("infer-cuda-without-gpu", ["infer", "{clip}", "--out", "{tmp}/o", "--device", "cuda"], 2, "no CUDA device:",
         absent=("o",), needs="clip"),
    Case("infer-existing-outputs", ["infer", "{tmp}/cut.mp4", "--out", "{tmp}/out", "--no-render"], 2,
         "already holds outputs of 1 of the 1 video(s) (cut.npz); pass --overwrite", setup=old_outputs,
         unchanged={"out/cut.npz": "old"}, absent=("out/cut.json",), needs="clip"),
    # infer on real video
    Case("infer-truncated-warns", ["infer", "{tmp}/cut.mp4", "--out", "{tmp}/out", "--no-render"], 0,
         "frames its header announces (truncated or damaged file?)", setup=truncated_clip,
         exist=("out/cut.npz", "out/cut.json"), needs="clip"),
    Case("infer-overwrite-replaces", ["infer", "{tmp}/cut.mp4", "--out", "{tmp}/out", "--no-render", "--overwrite"],
         0, "1 of 1 videos done", setup=old_outputs, exist=("out/cut.json",), needs="clip"),
    Case("infer-folder-goes-on", ["infer", "{tmp}/videos", "--out", "{tmp}/out", "--no-render"], 1,
         "2 of 3 videos failed", setup=folder_of_three,
         exist=("out/a_good.npz", "out/a_good.json", "out/a_good.bvh"),
         absent=("out/b_broken.npz", "out/c_empty.npz", "out/c_empty.json"), needs="clip"),
]


def run_main(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as e:  # argparse's usage errors
        return int(e.code)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_case(case: Case, place, tmp_path, capsys):
    skip, why = NEEDS.get(case.needs, (False, ""))
    if skip:
        pytest.skip(why)
    if case.setup is not None:
        case.setup(tmp_path)
    capsys.readouterr()
    code = run_main([a.format(**place) for a in case.args])
    err = capsys.readouterr().err
    assert code == case.code, err[-3000:]
    assert case.err.format(**place) in err, err[-3000:]
    assert "Traceback" not in err
    if code == 2:  # a refusal is one line (argparse's usage lines aside)
        lines = [ln for ln in err.strip().splitlines() if ln.startswith("hotpose ")]
        assert len(lines) == 1, err
    for rel in case.exist:
        assert (tmp_path / rel).exists(), rel
    for rel in case.absent:
        assert not (tmp_path / rel).exists(), rel
    for rel, content in case.unchanged.items():
        assert (tmp_path / rel).read_text() == content, rel
    for folder in [tmp_path, *[p for p in tmp_path.rglob("*") if p.is_dir()]]:
        assert not list(folder.glob(".*.tmp.*")), f"temporary files left in {folder}"


def test_infer_folder_reports_every_failed_file(place, tmp_path, capsys):
    if NEEDS["clip"][0]:
        pytest.skip(NEEDS["clip"][1])
    folder_of_three(tmp_path)
    assert run_main(["infer", str(tmp_path / "videos"), "--out", str(tmp_path / "out"), "--no-render"]) == 1
    tail = capsys.readouterr().err.split("videos failed")[-1]
    assert "b_broken.mp4: cannot open video" in tail and "c_empty: no person was detected" in tail


def test_evaluate_gives_the_same_figures_every_run_and_leaves_the_rng_alone(place, capsys):
    before = torch.get_rng_state()
    reports = []
    for _ in range(3):
        assert run_main(["evaluate", place["run"], "--format", "json", "--no-progress"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0] == reports[1] == reports[2]
    assert torch.equal(torch.get_rng_state(), before)


def test_evaluate_with_another_pruner(place, capsys):
    """--pruner scores a TPC-trained model with the uniform pruner's frames, and says so; naming the trained pruner
    changes nothing."""
    reports = {}
    for extra in ([], ["--pruner", "tpc"], ["--pruner", "uniform"]):
        assert run_main(["evaluate", place["run"], "--format", "json", "--no-progress", *extra]) == 0
        reports[tuple(extra)] = json.loads(capsys.readouterr().out)
    assert reports[()] == reports[("--pruner", "tpc")]
    assert reports[()]["pruner"] == reports[()]["trained_pruner"] == "tpc"
    assert (reports[("--pruner", "uniform")]["pruner"], reports[("--pruner", "uniform")]["trained_pruner"]) == \
        ("uniform", "tpc")
    assert run_main(["evaluate", place["run"], "--no-progress", "--pruner", "uniform"]) == 0
    assert "| pruner uniform (trained with tpc) |" in capsys.readouterr().out


def test_export_reports_gpu_runs_in_hours_on_that_gpu():
    """A GPU run's CPU time is the feeding process's, so export reports its wall-clock hours on the GPU instead."""
    from hotpose.engine.cli import _trained_for

    gpu = _trained_for({"device": "NVIDIA H200", "wall_hours": 0.128, "cpu_hours": 0.127, "epochs_trained": 100})
    assert gpu == "; 0.13 h on NVIDIA H200 over 100 epochs"
    cpu = _trained_for({"device": "cpu", "wall_hours": 2.0, "cpu_hours": 3.68, "epochs_trained": 38})
    assert cpu == "; 3.7 CPU-hours over 38 epochs"
    assert _trained_for({"epoch": 1}) == ""  # a checkpoint without history.json


def test_exported_model_evaluates_and_lifts_as_its_checkpoint(place, capsys):
    """`hotpose export --pruner uniform` gives a packaged file that evaluates to the checkpoint's figures with the
    uniform pruner, reports the trained pruner, records what trained it, and lifts as the checkpoint does."""
    from hotpose.lifter import Lifter
    from hotpose.video.infer import load_lifter

    out = Path(place["tmp"]) / "m.pt"
    assert run_main(["export", place["run"], str(out), "--pruner", "uniform"]) == 0
    assert "pruner uniform (trained with tpc)" in capsys.readouterr().out
    blob = torch.load(out, weights_only=True)
    state = load_checkpoint(Path(place["run"]) / "best.pt")
    assert blob["format"] == "hotpose-pretrained-1" and blob["trained_pruner"] == "tpc"
    assert blob["config"]["hourglass"]["pruner"] == "uniform" and state["model_config"]["hourglass"]["pruner"] == "tpc"
    assert blob["training"]["epoch"] == state["epoch"] and blob["training"]["steps"] == 2
    assert blob["training"]["epochs_trained"] == 1 and blob["training"]["cpu_hours"] > 0
    assert blob["training"]["device"] == "cpu"
    assert all(torch.equal(blob["state_dict"][k], v) for k, v in state["model"].items())
    reports = []
    for args in ([place["run"], "--pruner", "uniform"], [str(out)]):
        assert run_main(["evaluate", *args, "--format", "json", "--no-progress"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["mean_over_actions"] == reports[1]["mean_over_actions"]
    assert (reports[1]["pruner"], reports[1]["trained_pruner"]) == ("uniform", "tpc")
    kp = np.random.default_rng(0).uniform(100, 900, (30, 17, 2))
    packaged, trained = load_lifter(str(out)), Lifter(load_lifter(place["run"] + "/best.pt").model)
    trained.model.hourglass.pruner = packaged.model.hourglass.pruner
    np.testing.assert_array_equal(packaged.lift(kp, (1000, 1000)), trained.lift(kp, (1000, 1000)))


# ---------------------------------------------------------------------------------------------------- subprocess
def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def test_error_in_a_subprocess_is_one_line_without_traceback(world):
    r = subprocess.run([sys.executable, "-m", "hotpose.cli", "evaluate", str(world["base"] / "text.pt")], cwd=ROOT,
                       env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"hotpose evaluate: {world['base'] / 'text.pt'} is a text file, not a "
                                             f"PyTorch checkpoint; expected a `hotpose train` checkpoint (a PyTorch "
                                             f".pt/.pth file)"]


def test_ctrl_c_saves_last_pt_says_how_to_resume_and_resumes_exactly(world, tmp_path):
    cfg = tiny_config(tmp_path, world["base"] / "data", train={"epochs": 3, "batch_size": 8})

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "hotpose.cli", "train", str(cfg), "--out", str(out), "--device", "cpu",
                "--threads", "1", "--no-progress"]

    r = subprocess.run(command(tmp_path / "ref"), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # the uninterrupted run, in a process of its own as the others
    out = tmp_path / "stopped"
    cmd = command(out)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("epoch=1 ")  # the first epoch's record: the run is in epoch 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "hotpose train: interrupted: stopped " in err and f"--out {out} --resume" in err
    state = load_checkpoint(out / "last.pt")  # readable, and where the message says
    assert state["epoch"] >= 1
    r = subprocess.run(cmd + ["--resume"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"resuming from epoch {state['epoch']} of 3" in r.stderr
    final, ref = load_checkpoint(out / "last.pt"), load_checkpoint(tmp_path / "ref" / "last.pt")
    assert without_times(final["history"]) == without_times(ref["history"]), (state.get("partial"), err)
    if state.get("partial"):  # the stopped epoch's time counts the part run before the stop
        assert final["history"][state["epoch"]]["epoch_s"] >= state["partial"]["seconds"] > 0
        assert final["history"][state["epoch"]]["epoch_cpu_s"] >= state["partial"]["cpu_seconds"]
    assert "training time: " in r.stdout and " CPU-hours, summed over every session" in r.stdout
    assert all(torch.equal(final["model"][k], v) for k, v in ref["model"].items())
    assert load_checkpoint(out / "best.pt")["epoch"] == load_checkpoint(tmp_path / "ref" / "best.pt")["epoch"]
