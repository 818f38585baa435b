"""Every target a packaged lifter is held to, measured in one run (the default model's card quotes this script).

    python benchmarks/lifter_targets.py                                   # the packaged default model
    python benchmarks/lifter_targets.py --checkpoint runs/X/best.pt --baseline runs/MLP/best.pt
    python benchmarks/lifter_targets.py --no-speed                        # skip the timing (on a busy machine)
    python benchmarks/lifter_targets.py --device cuda --no-speed          # accuracy figures on a GPU, then
    python benchmarks/lifter_targets.py --speed-only                      # the speed on this CPU, added to them
    python benchmarks/lifter_targets.py --baseline-only --baseline runs/MLP/best.pt   # only the baseline, replaced

Test protocol (configs/lifter/default.yaml's data, test split): B2 through **every** camera of S9 and S11 (8 views of
each clip, ``data.test_views_per_action=8``), flip on, P1 / P2 mean over action groups (official protocol).

* ``plain``: projected ground-truth 2D, no noise.
* ``placed + bodies``: the same views with each view's body moved to 3-10 m anywhere in the image
  (``data.test_placement``) and given other proportions (``data.test_bone_scale``: the training config's ranges).
* ``detector-like``: 3 px noise, 2 % outliers of 25 px, 1 % missing-joint gaps of up to 12 frames (as
  docs/results.md's experiments).
* ``other viewpoints``: B2 through 40 cameras drawn from the range of phones and action cameras
  (``data.cameras: virtual``, seed 1000, which no training config uses; 8 per clip).
* ``bone CV``: mean over bones of the coefficient of variation of the lifter's raw bone lengths, on the plain test
  views and on the built-in sample (as benchmarks/bone_steadiness.py measures it).
* ``stability``: the largest joint displacement per frame when 0.5 px Gaussian noise is added to the 2D (built-in
  sample: 5 draws; test views: 1 draw), its 99.9th percentile and the share of frames moved more than 5 cm.
* ``speed``: ``Lifter.lift`` of 30,000 frames with flip, 2 threads, in a fresh process (median of 3), and that
  process's peak memory against the same for 10,000 frames (flat memory: about the same peak; both lengths fill
  several whole batches of ``Lifter``'s windows, so the peak is the batch's, not the sequence's).
* ``scale``: N-MPJPE beside P1 on the plain test (how far the model's own scale is off).

Writes benchmarks/results/targets_<name>.json and prints the table with each target and whether it is met.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CONFIG = "configs/lifter/default.yaml"
ALL_CAMERAS = ["data.test_views_per_action=8"]
CLEAN = ["data.noise_px=0", "data.outlier_prob=0", "data.missing_prob=0"]
VARIANTS = {
    "plain": CLEAN,
    "placed + bodies": CLEAN + ["data.test_placement={distance: [3.0, 10.0], offset: 1.0}"],  # bodies added below
    "detector-like": ["data.noise_px=3.0", "data.outlier_prob=0.02", "data.outlier_px=25.0", "data.missing_prob=0.01",
                      "data.missing_max_gap=12"],
    "other viewpoints": CLEAN + ["data.test_camera_subject=virtual", "data.virtual_cameras={count: 40, seed: 1000}"],
}
SPEED_FRAMES = (10_000, 30_000)
TARGETS = {"p1": 45.0, "p2": 33.0, "vs_baseline": 0.20, "robust": 0.10, "detector_p1": 55.0, "cv_test": 0.03,
           "cv_sample": 0.08, "viewpoint_p2": 0.15, "stable_mm": 50.0, "stable_share": 0.999, "speed_s": 30.0}


def load_model(checkpoint: str | None):
    from hotpose.video.infer import load_lifter

    return load_lifter(checkpoint).model.eval()


def config(overrides: list[str]):
    from hotpose.engine.config import load_config

    cfg = load_config(str(ROOT / CONFIG), ALL_CAMERAS + overrides)
    if not Path(cfg.data.root).is_absolute():
        cfg.data.root = str(ROOT / cfg.data.root)
    return cfg


def test_split(name: str):
    from hotpose.data.config import load_splits

    cfg = config(VARIANTS[name])
    if name == "placed + bodies":
        train_bodies = config([]).data.bone_scale
        if not train_bodies:
            raise SystemExit(f"{CONFIG} has no data.bone_scale to draw the test bodies from")
        cfg.data.test_bone_scale = train_bodies
    return load_splits(cfg.data, ["test"])["test"]


def score(model, seqs) -> dict:
    from hotpose.engine.distributed import Dist
    from hotpose.engine.evaluate import score_sequences, summarize
    from hotpose.metrics import n_mpjpe

    device = next(model.parameters()).device
    scores = score_sequences(model, seqs, Dist(device=device), flip=True, batch_size=256, keep_predictions=True,
                             seed=0)
    m = summarize(scores)["mean_over_actions"]
    sums = np.zeros(2)
    for s, sc in zip(seqs, scores):
        pred = torch.as_tensor(sc["pred"], dtype=torch.float64)
        gt = torch.as_tensor(s.targets, dtype=torch.float64)
        sums += [float(n_mpjpe(pred, gt)) * len(gt), len(gt)]
    return {"p1": m["p1"], "p2": m["p2"], "n_mpjpe_frames": sums[0] / sums[1] * 1000, "views": len(seqs),
            "preds": [sc["pred"] for sc in scores]}


def pixels(seqs) -> list[dict]:
    """Test views as pixel keypoints of their cameras' images (the inverse of the screen normalisation)."""
    from hotpose.data.cameras import load_cameras

    cams = {c.id: c for c in load_cameras().intrinsics}
    out = []
    for s in seqs:
        c = cams.get(s.camera.split(":")[-1])
        w, h = (c.res_w, c.res_h) if c is not None else (1000, 1000)
        out.append({"px": (s.inputs[..., :2].astype(np.float64) + np.array([1.0, h / w])) * w / 2, "size": (w, h)})
    return out


def stability(lifter, clips: list[dict], draws: int) -> dict:
    moved = []
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        for c in clips:
            clean = lifter.lift(c["px"], c["size"])
            noisy = lifter.lift(c["px"] + 0.5 * rng.standard_normal(c["px"].shape), c["size"])
            moved.append(np.linalg.norm(noisy - clean, axis=-1).max(-1))
    d = np.concatenate(moved) * 1000
    return {"p999_mm": float(np.percentile(d, 99.9)), "max_mm": float(d.max()),
            "share_within_5cm": float((d <= 50).mean()), "frames": int(d.size)}


def speed(checkpoint: str | None, model: tuple[str, dict] | None = None, frames=SPEED_FRAMES) -> dict:
    """Seconds and peak RSS of Lifter.lift on N frames, each in a fresh process with 2 threads; ``model``: (registry
    name, args) of an untrained model instead of a checkpoint (speed does not depend on the weights)."""
    make = (f"from hotpose.registry import build_model; from hotpose.lifter import Lifter; "
            f"lifter = Lifter(build_model({model[0]!r}, **{model[1]!r}).eval()); " if model else
            f"from hotpose.video.infer import load_lifter; lifter = load_lifter({checkpoint!r}); ")
    code = ("import resource, sys, time, numpy as np, torch; torch.set_num_threads(2); sys.path.insert(0, %r); "
            + make.replace("%", "%%") +
            "n = int(sys.argv[1]); t = np.arange(n)[:, None, None]; "
            "kp = 500 + 80 * np.sin(t / 15 + np.arange(17)[None, :, None]) + np.arange(17)[None, :, None] * [3, 20]; "
            "lifter.lift(kp[:300], (1000, 1000)); "
            "t0 = time.perf_counter(); lifter.lift(kp, (1000, 1000)); s = time.perf_counter() - t0; "
            "print(s, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)") % (str(ROOT),)
    out = {}
    for n in frames:
        runs = [subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True, check=True)
                for _ in range(3 if n == frames[-1] else 1)]
        vals = [tuple(map(float, r.stdout.split())) for r in runs]
        out[n] = {"seconds": float(np.median([v[0] for v in vals])), "peak_rss_mb": float(max(v[1] for v in vals))}
    return out


def score_baseline(checkpoint: str, seqs, device: str) -> dict:
    """The frame-wise baseline's P1 / P2 / N-MPJPE on the plain test views, which checkpoint gave them and the
    config of the run that trained it (its preset and overrides are named in docs/results.md)."""
    from hotpose.engine import checkpoint as ckpt

    res = {k: v for k, v in score(load_model(checkpoint).to(device), seqs).items() if k != "preds"}
    trained = ckpt.training_config(ckpt.load_checkpoint(ckpt.resolve_checkpoint(checkpoint), packaged=True))
    return {**res, "checkpoint": checkpoint, "training_config": trained}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="a `hotpose train` checkpoint (default: the packaged default model)")
    p.add_argument("--baseline", help="the frame-wise baseline's checkpoint, for the 20 %% target")
    p.add_argument("--name", help="name of the result file (default: the checkpoint's run folder, or 'default')")
    p.add_argument("--no-speed", action="store_true", help="skip the timing")
    p.add_argument("--device", default="cpu", help="where the accuracy, bone and stability figures are computed "
                   "(cpu, cuda); the speed is always measured on the CPU")
    p.add_argument("--speed-only", action="store_true",
                   help="measure only the speed and add it to the result file of an earlier run (e.g. one with "
                        "--device cuda --no-speed)")
    p.add_argument("--baseline-only", action="store_true",
                   help="score only --baseline and put it in the result file of an earlier run (e.g. after the "
                        "baseline trained on)")
    a = p.parse_args()
    torch.set_num_threads(1)  # the accuracy figures; the speed runs in its own processes with 2 threads
    os.chdir(ROOT)
    from hotpose.video.infer import bone_cv, load_lifter

    name = a.name or (Path(a.checkpoint).parent.name if a.checkpoint else "default")
    out = ROOT / "benchmarks" / "results" / f"targets_{name}.json"
    if a.speed_only and a.baseline_only:
        raise SystemExit("--speed-only and --baseline-only: choose one")
    if a.baseline_only and not a.baseline:
        raise SystemExit("--baseline-only needs --baseline")
    if a.speed_only or a.baseline_only:  # one part, added to the result file of an earlier run
        if not out.is_file():
            raise SystemExit(f"{'--speed-only' if a.speed_only else '--baseline-only'} adds to "
                             f"{out.relative_to(ROOT)}, which does not exist: run without it first")
        res = json.loads(out.read_text())
        if a.speed_only:
            res["speed"] = speed(a.checkpoint)
        else:
            res["baseline"] = score_baseline(a.baseline, test_split("plain"), a.device)
        return write(out, res)
    lifter = load_lifter(a.checkpoint)
    lifter.model.to(a.device)
    model = lifter.model
    res: dict = {"model": name, "checkpoint": a.checkpoint, "config": CONFIG, "device": a.device}
    t0 = time.perf_counter()
    seqs = {}
    for v in VARIANTS:
        seqs[v] = test_split(v)
        r = score(model, seqs[v])
        preds = r.pop("preds")
        if v == "plain":
            res["cv_test"] = float(np.mean([bone_cv(x) for x in preds]))
            res["cv_test_ground_truth"] = float(np.mean([bone_cv(s.targets) for s in seqs[v]]))
        res[v] = r
        print(f"{v}: P1 {r['p1']:.1f} mm, P2 {r['p2']:.1f} mm ({r['views']} views)", flush=True)
    if a.baseline:
        res["baseline"] = score_baseline(a.baseline, seqs["plain"], a.device)
    from hotpose.video.demo import load_sample
    from hotpose.video.infer import lift_tracks

    s = load_sample()
    res["cv_sample"] = bone_cv(lift_tracks(lifter, s["keypoints_2d"], s["image_size"]))
    sample = [{"px": s["keypoints_2d"].astype(np.float64), "size": tuple(s["image_size"])}]
    res["stability_sample"] = stability(lifter, sample, draws=5)
    res["stability_test"] = stability(lifter, pixels(seqs["plain"]), draws=1)
    res["measure_s"] = time.perf_counter() - t0
    if not a.no_speed:
        res["speed"] = speed(a.checkpoint)
    return write(out, res)


def write(out: Path, res: dict) -> int:
    """Write the result file and print its table."""
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(table(res))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


def table(r: dict) -> str:
    T = TARGETS
    plain = r["plain"]

    def ok(flag) -> str:
        return "met" if flag else "**not met**"

    rows = [("P1, projected ground truth", f"{plain['p1']:.1f} mm", f"<= {T['p1']:g} mm", ok(plain["p1"] <= T["p1"])),
            ("P2, projected ground truth", f"{plain['p2']:.1f} mm", f"<= {T['p2']:g} mm", ok(plain["p2"] <= T["p2"]))]
    if "baseline" in r:
        gain = 1 - plain["p1"] / r["baseline"]["p1"]
        rows.append(("P1 below the frame-wise baseline's", f"{gain:.1%} ({r['baseline']['p1']:.1f} mm)",
                     f">= {T['vs_baseline']:.0%}", ok(gain >= T["vs_baseline"])))
    rob = r["placed + bodies"]["p1"] / plain["p1"] - 1
    rows.append(("P1, bodies placed at 3-10 m anywhere, other proportions", f"{r['placed + bodies']['p1']:.1f} mm "
                 f"({rob:+.1%})", f"<= +{T['robust']:.0%}", ok(rob <= T["robust"])))
    det = r["detector-like"]["p1"]
    rows.append(("P1, detector-like 2D", f"{det:.1f} mm", f"<= {T['detector_p1']:g} mm", ok(det <= T["detector_p1"])))
    vp = r["other viewpoints"]["p2"] / plain["p2"] - 1
    rows.append(("P2, other viewpoints (40 drawn cameras)", f"{r['other viewpoints']['p2']:.1f} mm ({vp:+.1%})",
                 f"<= +{T['viewpoint_p2']:.0%}", ok(vp <= T["viewpoint_p2"])))
    rows.append(("bone-length CV, test views", f"{r['cv_test']:.3f} (ground truth {r['cv_test_ground_truth']:.3f})",
                 f"<= {T['cv_test']:g}", ok(r["cv_test"] <= T["cv_test"])))
    rows.append(("bone-length CV, built-in sample", f"{r['cv_sample']:.3f}", f"<= {T['cv_sample']:g}",
                 ok(r["cv_sample"] <= T["cv_sample"])))
    for key, label in (("stability_sample", "built-in sample"), ("stability_test", "test views")):
        st = r[key]
        rows.append((f"0.5 px noise, {label}: frames moved <= 5 cm", f"{st['share_within_5cm']:.2%} (99.9th pct "
                     f"{st['p999_mm']:.1f} mm, max {st['max_mm']:.1f} mm)", f">= {T['stable_share']:.1%}",
                     ok(st["share_within_5cm"] >= T["stable_share"])))
    if "speed" in r:
        big, small = r["speed"][str(SPEED_FRAMES[-1])] if str(SPEED_FRAMES[-1]) in r["speed"] else \
            r["speed"][SPEED_FRAMES[-1]], r["speed"].get(str(SPEED_FRAMES[0]), r["speed"].get(SPEED_FRAMES[0]))
        rows.append((f"Lifter.lift, {SPEED_FRAMES[-1]:,} frames, flip, 2 threads", f"{big['seconds']:.1f} s (peak RSS "
                     f"{big['peak_rss_mb']:.0f} MB; {SPEED_FRAMES[0]:,} frames: {small['peak_rss_mb']:.0f} MB)",
                     f"<= {T['speed_s']:g} s", ok(big["seconds"] <= T["speed_s"])))
    rows.append(("scale: N-MPJPE (all frames) beside P1", f"{plain['n_mpjpe_frames']:.1f} mm", "-", "-"))
    lines = [f"Model `{r['model']}`, test: B2 through all S9/S11 cameras ({plain['views']} views), flip on.\n",
             "| target | measured | goal | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
