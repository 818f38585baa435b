"""`hotpose lift` and `hotpose models` as a user runs them, one row per case of issue 12.

Each row names the files to create, the arguments, the exit code, what stderr must say (and must not), and the files
there must be afterwards. Every row also checks what holds for all of them: the inputs are unchanged byte for byte,
no other file appeared (no temporary file, no partial output, no `.npz` appended to a name), an error is one line
and nothing is a traceback. The runs call `hotpose.cli.main` in this process (the packaged default model, loaded
once); two run as real processes to show what a user's terminal shows.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from hotpose import Lifter
from hotpose.cli import main
from hotpose.video.keypoints import coco_to_h36m

pytestmark = pytest.mark.usefixtures("one_thread")

T = 30  # frames: short, the lifter is not what is tested here
ROOT = Path(__file__).resolve().parents[1]


def person(frames: int = T) -> np.ndarray:
    """A plausible upright COCO-17 person in a 640x480 image (pixels, y down), jittering."""
    base = np.array([[320, 100], [330, 90], [310, 90], [340, 95], [300, 95], [360, 140], [280, 140], [375, 200],
                     [265, 200], [380, 255], [260, 255], [345, 260], [295, 260], [350, 350], [290, 350],
                     [352, 440], [288, 440]], dtype=float)
    return base + np.random.default_rng(0).normal(0, 2, (frames, 17, 2))


def npz(**arrays):
    def write(path: Path):
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return write


def text(content: str | bytes):
    def write(path: Path):
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return write


def official_checkpoint(path: Path) -> None:
    torch.save({"blocks.0.weight": torch.zeros(2, 2)}, path)


def packaged_model(path: Path) -> None:
    """A tiny untrained hourglass model in the packaged format (`hotpose export`'s)."""
    from hotpose.engine.checkpoint import PACKAGED
    from hotpose.registry import build_model

    torch.manual_seed(0)
    m = build_model("hot_mixste_243", frames=9, dim=16, mlp_hidden=32, depth=2, keep=3, prune_at=1,
                    pruner="uniform")
    torch.save({"config": m.config, "state_dict": m.state_dict(), "format": PACKAGED}, path)


COCO = person()
H36M = coco_to_h36m(COCO)[0]
FILES = {
    "good.npz": npz(keypoints=COCO, scores=np.full((T, 17), 0.9)),
    "good.json": text(json.dumps(COCO.tolist())),
    "h36m.npz": npz(keypoints=H36M),  # Human3.6M order without saying so
    "far.npz": npz(keypoints=COCO - 5000),
    "huge.npz": npz(keypoints=COCO * 1e7),
    "zeros.npz": npz(keypoints=np.zeros((T, 17, 2))),
    "unit.npz": npz(keypoints=COCO / 640),  # normalised to [0, 1]
    "centred.npz": npz(keypoints=COCO / 320 - 1),  # normalised to [-1, 1]
    "right.npz": npz(keypoints=COCO + [1300, 0]),  # a person on the right of a 1920x1080 frame
    "empty.npz": text(b""),
    "text.npz": text("frame,x,y\n0,1,2\n"),
    "broken.json": text('[\n  [[1, 2], [3, 4]],\n  [[1, 2], [3 4]]\n]\n'),
    "k40.npz": npz(keypoints=np.random.default_rng(1).uniform(100, 400, (T, 40, 2))),
    "notckpt.pt": text("these are not weights\n"),
    "official.pt": official_checkpoint,
    "packaged.pt": packaged_model,
    "good_3d.npz": text(b"an earlier result"),
    "out_dir/keep": text(b""),
}


@dataclass
class Case:
    id: str
    args: list[str]  # {d}: the folder of the run
    files: list[str]  # made from FILES before the run
    code: int
    err: list[str] = field(default_factory=list)  # substrings stderr must hold
    not_err: list[str] = field(default_factory=list)  # ... and must not
    new: dict[str, tuple] = field(default_factory=dict)  # files the run writes: name -> pose_3d shape
    changed: list[str] = field(default_factory=list)  # inputs the run may replace (with --overwrite)
    model_loaded: bool | None = None  # None: not checked


SIZE = ["--image-size", "640", "480"]
CASES = [
    # 1. the input is never the output; an existing output is replaced only with --overwrite
    Case("out-is-input", ["lift", "{d}/good.npz", *SIZE, "--out", "{d}/good.npz"], ["good.npz"], 2,
         ["--out", "is the input file"], model_loaded=False),
    Case("out-is-input-other-spelling", ["lift", "{d}/good.npz", *SIZE, "--out", "{d}/out_dir/../good.npz"],
         ["good.npz", "out_dir/keep"], 2, ["is the input file"]),
    Case("out-exists", ["lift", "{d}/good.npz", *SIZE], ["good.npz", "good_3d.npz"], 2,
         ["good_3d.npz exists; pass --overwrite"], model_loaded=False),
    Case("json-default-collides-with-npz", ["lift", "{d}/good.json", *SIZE], ["good.json", "good_3d.npz"], 2,
         ["good_3d.npz exists; pass --overwrite"]),
    Case("overwrite", ["lift", "{d}/good.npz", *SIZE, "--overwrite"], ["good.npz", "good_3d.npz"], 0,
         ["wrote"], new={"good_3d.npz": (T, 17, 3)}, changed=["good_3d.npz"]),
    Case("default-name-json", ["lift", "{d}/good.json", *SIZE], ["good.json"], 0, ["wrote", "good_3d.npz"],
         ["warning"], new={"good_3d.npz": (T, 17, 3)}),
    Case("out-is-folder", ["lift", "{d}/good.npz", *SIZE, "--out", "{d}/out_dir"], ["good.npz", "out_dir/keep"], 2,
         ["is a folder"]),
    Case("out-folder-missing", ["lift", "{d}/good.npz", *SIZE, "--out", "{d}/nope/o.npz"], ["good.npz"], 2,
         ["folder", "does not exist"]),
    Case("height-nonsense", ["lift", "{d}/good.npz", *SIZE, "--height", "175"], ["good.npz"], 2,
         ["--height 175", "metres, 0.5-2.5"], model_loaded=False),
    Case("height", ["lift", "{d}/good.npz", *SIZE, "--height", "1.8"], ["good.npz"], 0, ["wrote"],
         new={"good_3d.npz": (T, 17, 3)}),
    # 2. nonsense image sizes are refused, implausible keypoints warned about
    Case("image-size-huge", ["lift", "{d}/good.npz", "--image-size", "1e9", "1e9"], ["good.npz"], 2,
         ["--image-size", "32 to 16384"]),
    Case("image-size-tiny", ["lift", "{d}/good.npz", "--image-size", "17", "9"], ["good.npz"], 2, ["--image-size"]),
    Case("image-size-negative", ["lift", "{d}/good.npz", "--image-size", "-640", "480"], ["good.npz"], 2,
         ["--image-size"]),
    Case("far-outside", ["lift", "{d}/far.npz", *SIZE], ["far.npz"], 0, ["warning: 100% of the keypoints lie "
         "outside the 640x480 image"], new={"far_3d.npz": (T, 17, 3)}),
    Case("times-1e7", ["lift", "{d}/huge.npz", *SIZE], ["huge.npz"], 0, ["warning:", "outside the 640x480 image"],
         new={"huge_3d.npz": (T, 17, 3)}),
    Case("all-zero", ["lift", "{d}/zeros.npz", *SIZE], ["zeros.npz"], 2, ["every keypoint is at (0, 0)",
         "nothing to lift"], model_loaded=False),
    Case("normalised-0-1", ["lift", "{d}/unit.npz", *SIZE], ["unit.npz"], 0, ["warning:", "look normalised"],
         new={"unit_3d.npz": (T, 17, 3)}),
    Case("normalised-minus1-1", ["lift", "{d}/centred.npz", *SIZE], ["centred.npz"], 0, ["look normalised"],
         new={"centred_3d.npz": (T, 17, 3)}),
    Case("width-height-swapped", ["lift", "{d}/right.npz", "--image-size", "1080", "1920"], ["right.npz"], 0,
         ["warning:", "width and height look swapped"], new={"right_3d.npz": (T, 17, 3)}),
    Case("plausible-no-warning", ["lift", "{d}/right.npz", "--image-size", "1920", "1080"], ["right.npz"], 0,
         ["wrote"], ["warning"], new={"right_3d.npz": (T, 17, 3)}),
    # 3. an unlabelled 17-keypoint file is COCO-17 (as load_keypoints reads it), and the other order is noticed
    Case("h36m-order-unlabelled", ["lift", "{d}/h36m.npz", *SIZE], ["h36m.npz"], 0,
         ["warning: h36m.npz: 17 keypoints without a named format", "look like Human3.6M", "--format h36m"],
         ["format="], new={"h36m_3d.npz": (T, 17, 3)}),
    Case("h36m-order-named", ["lift", "{d}/h36m.npz", *SIZE, "--format", "h36m"], ["h36m.npz"], 0, ["wrote"],
         ["warning"], new={"h36m_3d.npz": (T, 17, 3)}),
    # 4. the output is written at exactly the name given; devices are refused
    Case("out-without-suffix", ["lift", "{d}/good.npz", *SIZE, "--out", "{d}/ro"], ["good.npz"], 0, ["wrote {d}/ro:"],
         new={"ro": (T, 17, 3)}),
    Case("out-dev-full", ["lift", "{d}/good.npz", *SIZE, "--out", "/dev/full"], ["good.npz"], 2,
         ["/dev/full is not a regular file"], model_loaded=False),
    # 9. unreadable inputs say why, in one line
    Case("empty-npz", ["lift", "{d}/empty.npz", *SIZE], ["empty.npz"], 2, ["empty.npz: empty file"]),
    Case("text-as-npz", ["lift", "{d}/text.npz", *SIZE], ["text.npz"], 2, ["text.npz: not an npz archive"],
         ["pickle"]),
    Case("broken-json", ["lift", "{d}/broken.json", *SIZE], ["broken.json"], 2,
         ["broken.json: not valid JSON (line 3 column"]),
    Case("missing-input", ["lift", "{d}/nope.npz", *SIZE], [], 2, ["keypoint file not found"]),
    # 10. flags are named as flags, and --arch / --checkpoint go together
    Case("format-named-as-flag", ["lift", "{d}/k40.npz", *SIZE], ["k40.npz"], 2, ["40 keypoints", "pass --format"],
         ["format="]),
    Case("arch-without-checkpoint", ["lift", "{d}/good.npz", *SIZE, "--arch", "hot_mixste"], ["good.npz"], 2,
         ["--arch", "--checkpoint"], model_loaded=False),
    Case("checkpoint-without-arch", ["lift", "{d}/good.npz", *SIZE, "--checkpoint", "{d}/notckpt.pt"],
         ["good.npz", "notckpt.pt"], 2, ["--checkpoint {d}/notckpt.pt: {d}/notckpt.pt is a text file",
                                         "expected a `hotpose train` checkpoint"]),
    Case("official-checkpoint-without-arch", ["lift", "{d}/good.npz", *SIZE, "--checkpoint", "{d}/official.pt"],
         ["good.npz", "official.pt"], 2, ["official or third-party checkpoint?", "pass --arch"]),
    Case("packaged-checkpoint", ["lift", "{d}/good.npz", *SIZE, "--checkpoint", "{d}/packaged.pt", "--out",
                                 "{d}/o.npz"], ["good.npz", "packaged.pt"], 0, [], new={"o.npz": (T, 17, 3)},
         model_loaded=False),
    Case("checkpoint-missing", ["lift", "{d}/good.npz", *SIZE, "--arch", "hot_mixste", "--checkpoint",
                                "{d}/nope.pt"], ["good.npz"], 2, ["nope.pt: no such file"]),
    Case("checkpoint-not-weights", ["lift", "{d}/good.npz", *SIZE, "--arch", "hot_mixste", "--checkpoint",
                                    "{d}/notckpt.pt"], ["good.npz", "notckpt.pt"], 2,
         ["notckpt.pt is a text file, not a PyTorch checkpoint"]),
    Case("checkpoint-is-npz", ["lift", "{d}/good.npz", *SIZE, "--arch", "hot_mixste", "--checkpoint",
                               "{d}/good.npz", "--out", "{d}/o.npz"], ["good.npz"], 2,
         ["is a zip archive that is not a complete PyTorch file", "expected an official hot_mixste checkpoint"]),
    Case("unknown-arch", ["lift", "{d}/good.npz", *SIZE, "--arch", "nope", "--checkpoint", "{d}/notckpt.pt"],
         ["good.npz", "notckpt.pt"], 2, ["--arch nope: unknown", "hot_mixste"]),
    Case("checkpoint-checked-after-output", ["lift", "{d}/good.npz", *SIZE, "--arch", "hot_mixste",
                                             "--checkpoint", "{d}/notckpt.pt"], ["good.npz", "notckpt.pt",
                                                                                 "good_3d.npz"], 2,
         ["exists; pass --overwrite"], model_loaded=False),
]


@pytest.fixture(scope="module")
def default_lifter():
    try:
        return Lifter.from_pretrained("default")
    except FileNotFoundError:
        pytest.skip("packaged default weights not present")


@pytest.fixture
def loads(monkeypatch, default_lifter):
    """The packaged model, loaded once for the module; counts how often the command asks for it."""
    calls = []

    def from_pretrained(cls, name="default", **kw):
        calls.append(name)
        return default_lifter

    monkeypatch.setattr(Lifter, "from_pretrained", classmethod(from_pretrained))
    return calls


def make(folder: Path, names) -> dict[str, bytes]:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        FILES[name](folder / name)
    return snapshot(folder)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).digest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def check_outcome(case: Case, folder: Path, before: dict, code: int, err: str):
    err_d = err.replace(str(folder), "{d}")
    assert code == case.code, err
    assert "Traceback" not in err
    for s in case.err:
        assert s in err_d, f"{s!r} not in {err!r}"
    for s in case.not_err:
        assert s not in err_d, f"{s!r} in {err!r}"
    if code:
        lines = err.strip().splitlines()
        assert len([x for x in lines if "warning:" not in x]) == 1, err  # one message
    after = snapshot(folder)
    for name, digest in before.items():  # inputs untouched (bar an output the user said to replace)
        assert name in after and (after[name] == digest or name in case.changed), name
    assert set(after) == set(before) | set(case.new), f"files afterwards: {sorted(after)}"
    for name, shape in case.new.items():
        with np.load(folder / name) as z:
            assert z["pose_3d"].shape == shape and np.isfinite(z["pose_3d"]).all()
        if name not in before:
            assert f"wrote {folder / name}:" in err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_lift(case, tmp_path, capsys, loads):
    if "/dev/full" in case.args and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    before = make(tmp_path, case.files)
    code = main([a.replace("{d}", str(tmp_path)) for a in case.args])
    out, err = capsys.readouterr()
    check_outcome(case, tmp_path, before, code, err)
    if case.model_loaded is not None:
        assert bool(loads) == case.model_loaded, "the output and flags are checked before the model is loaded"
    assert not Path("/dev/full.npz").exists()


@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_full_disk_leaves_no_partial_file(tmp_path, capsys, loads, monkeypatch, existing):
    """A write that fails half-way (here: numpy's writer hits ENOSPC after some bytes) leaves no output and no
    temporary file, and an output being replaced keeps its old content."""
    def savez_then_full(file, *args, **kw):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    names = ["good.npz"] + (["good_3d.npz"] if existing else [])
    before = make(tmp_path, names)
    monkeypatch.setattr(np, "savez", savez_then_full)
    code = main(["lift", str(tmp_path / "good.npz"), *SIZE] + (["--overwrite"] if existing else []))
    err = capsys.readouterr().err
    case = Case("full", [], names, 2, ["good_3d.npz: cannot write it: No space left on device"])
    check_outcome(case, tmp_path, before, code, err)


def test_models_prints_whole_first_sentences(capsys):
    from hotpose.registry import MODELS

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(MODELS)
    for line in lines:
        assert line.endswith("."), line  # a whole sentence, never cut
    assert any(line.split()[0] == "hot_mhformer_351" and line.endswith("recovers all 351.") for line in lines)
    assert any(line.split()[0] == "hot_mixste_243" and "HoT w. MixSTE:" in line for line in lines)  # "w." goes on


def run_user(args: list[str], cwd: Path, prelude: str = "") -> subprocess.CompletedProcess:
    code = f"{prelude}\nimport sys\nfrom hotpose.cli import main\nsys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=120)


def test_as_a_process_no_traceback(tmp_path):
    """What a user's terminal shows: one line and exit 2 for a broken input and for a full disk (the second with
    numpy's writer failing as on a full disk), the input unchanged, no file left behind."""
    before = make(tmp_path, ["empty.npz", "good.npz"])
    r = subprocess.run([sys.executable, "-m", "hotpose.cli", "lift", "empty.npz", *SIZE], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
    assert (r.returncode, r.stderr) == (2, "hotpose lift: cannot read keypoints from empty.npz: empty file\n")
    full = ("import errno, os, numpy\n"
            "def full(f, *a, **k):\n"
            "    f.write(b'PK half')\n"
            "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
            "numpy.savez = full")
    r = run_user(["lift", "good.npz", *SIZE], tmp_path, full)
    assert (r.returncode, r.stderr) == (2, "hotpose lift: good_3d.npz: cannot write it: No space left on device\n")
    assert snapshot(tmp_path) == before
