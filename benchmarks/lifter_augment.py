"""Issue 14, item 3: what each of the default lifter's data augmentations buys, and what it costs.

    python benchmarks/lifter_augment.py --keep                  # 4 variants, 1 seed, 2,000 steps each (~1.5 CPU-h)
    python benchmarks/lifter_augment.py --seeds 2 --keep        # a second seed for the spread
    python benchmarks/lifter_augment.py --render                # only rewrite the doc from the stored records

The variants add configs/lifter/default.yaml's augmentations one at a time, each on top of the one before, and
change nothing else (its data, noise, recipe and test split; ``model.args`` sets a smaller size, ``--model-args``):

1. ``h36m``: the 20 cameras of the Human3.6M training rigs only, the recorded bodies where they were recorded;
2. ``cameras``: + 40 virtual cameras drawn over the range phones and action cameras film people from;
3. ``bodies``: + each view's body moved to 2-15 m and anywhere in the image, and given other proportions;
4. ``poses``: + limb and trunk offsets within joint limits for half the views (= the default config's data).

Each run is trained by ``experiments.run_one`` (the engine's ``train``, resumable with ``--keep``: finished runs are
reused from their records in benchmarks/results/lifter_augment/, unfinished ones continue from last.pt) and then
scored by benchmarks/lifter_targets.py's protocols (B2 through every S9/S11 camera; projected ground truth, bodies
placed and reproportioned, detector-like 2D, 40 other cameras), the scores stored beside the run's record.
What an augmentation costs: P1 on the plain test against the variant before it, and training CPU time per 100 steps
(the epochs' ``epoch_cpu_s``). Writes docs/lifter_augmentation.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import experiments as X  # noqa: E402  (run_one, run_pool, record_path)

CONFIG = "configs/lifter/default.yaml"
DOC = "docs/lifter_augmentation.md"
SMALL = "{frames: 27, dim: 64, mlp_hidden: 128, depth: 4, keep: 9, prune_at: 1, drop_path: 0.0}"
H36M = "[S1, S5, S6, S7, S8]"
# (name, what it adds, overrides on CONFIG's data): each variant's overrides undo what the later ones add
VARIANTS = [
    ("h36m", "Human3.6M training cameras only", [f"data.camera_subject={H36M}", "data.virtual_cameras=null",
                                                 "data.placement=null", "data.bone_scale=null", "data.pose_aug=null"]),
    ("cameras", "+ 40 phone / action-camera viewpoints", ["data.placement=null", "data.bone_scale=null",
                                                        "data.pose_aug=null"]),
    ("bodies", "+ bodies placed at 2-15 m anywhere in the image, other proportions", ["data.pose_aug=null"]),
    ("poses", "+ limb and trunk offsets within joint limits (the default config)", []),
]
# lifter_targets' test protocols and the figure each is read by
PROTOCOLS = [("plain", "p1"), ("plain", "p2"), ("placed + bodies", "p1"), ("detector-like", "p1"),
             ("other viewpoints", "p2")]


def overrides(name: str, a: argparse.Namespace, seed: int) -> list[str]:
    ov = dict((n, o) for n, _, o in VARIANTS)[name]
    from hotpose.engine.config import load_config

    t = load_config(CONFIG).train
    decay = t.lr_decay ** (t.epochs / a.epochs)
    return ov + [f"model.args={a.model_args}", f"train.epochs={a.epochs}", f"train.steps_per_epoch={a.steps}",
                 f"train.lr_decay={decay:.6g}", f"train.seed={seed}", f"out={a.runs}/seed{seed}/{name}"]


def scores_path(out: Path) -> Path:
    return X.record_path(out).with_name(X.record_path(out).stem + "_scores.json")


def score_run(job: tuple) -> dict:
    """Worker: lifter_targets' test protocols on one finished run's best.pt; stored beside the run's record and
    reused while that record is the same (its SHA-256), so a later checkout without the run folder keeps them.
    Returns the scores with ``key`` (for ``experiments.run_pool``)."""
    key, out = job
    import torch

    torch.set_num_threads(1)
    os.chdir(ROOT)
    import lifter_targets as lt

    out = Path(out)
    rec = X.record_path(out)
    path = scores_path(out)
    digest = hashlib.sha256(rec.read_bytes()).hexdigest()
    if path.exists() and json.loads(path.read_text()).get("record_sha256") == digest:
        return {"key": key, **json.loads(path.read_text())}
    model = lt.load_model(str(out / "best.pt"))
    res = {"run": str(out), "record_sha256": digest}
    for proto in dict.fromkeys(p for p, _ in PROTOCOLS):
        r = lt.score(model, lt.test_split(proto))
        r.pop("preds")
        res[proto] = r
    path.write_text(json.dumps(res, indent=1) + "\n")
    print(f"[{time.strftime('%H:%M:%S')}] scored {out}: plain P1 {res['plain']['p1']:.1f} mm", flush=True)
    return {"key": key, **res}


def cpu_per_100(r: dict) -> float | None:
    """Training CPU seconds per 100 steps of one run's record (None when an epoch was not timed)."""
    from hotpose.engine.train import training_seconds

    h = r.get("history", [])
    cpu = training_seconds(h, "epoch_cpu_s")
    return None if cpu is None else cpu / h[-1]["step"] * 100


def render(a: argparse.Namespace, runs: dict, scores: dict) -> str:
    """runs, scores: {(variant, seed): record / scores}."""
    seeds = sorted({s for _, s in runs})
    L = ["# What the default lifter's augmentations buy (issue 14, item 3)\n",
         f"Written by `benchmarks/lifter_augment.py` ({time.strftime('%Y-%m-%d %H:%M:%S %Z')}); every figure is one "
         f"it computed from the runs' records in {X.record_path(ROOT / a.runs / 'x').parent.relative_to(ROOT)}/.\n",
         "```bash\npython benchmarks/lifter_augment.py" + (f" --seeds {len(seeds)}" if len(seeds) > 1 else "")
         + " --keep\n```\n",
         f"Each variant is `{CONFIG}` (data, 2D noise, recipe, test split) with `model.args={a.model_args}` "
         f"(HoT w. MixSTE, TPC + TRA), {a.epochs} epoch{'s' if a.epochs > 1 else ''} of {a.steps} steps (the learning rate decayed to where the "
         f"default config's ends), seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}; each adds one "
         "augmentation to the one above it. Scored by `benchmarks/lifter_targets.py`'s protocols: B2 through every "
         "S9/S11 camera, flip on, mean over action groups; *placed + bodies*: each view's body moved to 3-10 m "
         "anywhere in the image and given other proportions; *detector-like*: 3 px noise, 2 % outliers, 1 % gaps; "
         "*other viewpoints*: B2 through 40 cameras drawn from the phone / action-camera range with a seed no "
         "training config uses. Δ: against the plain test of the same model. CPU: the training process's CPU time "
         "per 100 steps (one thread).\n"]
    if len(seeds) > 1:
        L.append("Figures are means over the seeds, the min-max in brackets.\n")
    L += ["| variant | adds | P1 plain | P2 plain | P1 placed + bodies (Δ) | P1 detector-like | P2 other viewpoints (Δ) "
          "| CPU s / 100 steps |", "|---|---|---|---|---|---|---|---|"]

    def fig(name, proto, key):
        vals = [scores[(name, s)][proto][key] for s in seeds if (name, s) in scores]
        if not vals:
            return None, "-"
        m = statistics.mean(vals)
        return m, f"{m:.1f}" + (f" ({min(vals):.1f}-{max(vals):.1f})" if len(vals) > 1 else "")

    means = {}
    for name, adds, _ in VARIANTS:
        if not any((name, s) in scores for s in seeds):
            continue
        cells = {}
        for proto, key in PROTOCOLS:
            means[(name, proto, key)], cells[(proto, key)] = fig(name, proto, key)
        p1, p2 = means[(name, "plain", "p1")], means[(name, "plain", "p2")]
        cpu = [c for c in (cpu_per_100(runs[(name, s)]) for s in seeds if (name, s) in runs) if c is not None]
        L.append(f"| `{name}` | {adds} | **{cells[('plain', 'p1')]}** | {cells[('plain', 'p2')]} | "
                 f"{cells[('placed + bodies', 'p1')]} ({means[(name, 'placed + bodies', 'p1')] / p1 - 1:+.0%}) | "
                 f"{cells[('detector-like', 'p1')]} | {cells[('other viewpoints', 'p2')]} "
                 f"({means[(name, 'other viewpoints', 'p2')] / p2 - 1:+.0%}) | "
                 + (f"{statistics.mean(cpu):.0f} |" if cpu else "- |"))
    L.append("")
    done = [n for n, _, _ in VARIANTS if (n, "plain", "p1") in means]
    if len(done) > 1:
        L.append("## What each step changes\n")
        for prev, cur in zip(done, done[1:]):
            d = {k: means[(cur, *k)] - means[(prev, *k)] for k in [(p, f) for p, f in PROTOCOLS]}
            L.append(f"- `{prev}` -> `{cur}`: plain P1 {d[('plain', 'p1')]:+.1f} mm, placed + bodies P1 "
                     f"{d[('placed + bodies', 'p1')]:+.1f} mm, detector-like P1 {d[('detector-like', 'p1')]:+.1f} mm, "
                     f"other viewpoints P2 {d[('other viewpoints', 'p2')]:+.1f} mm.")
        L.append("")
        if len(seeds) == 1:
            L.append("One seed: a difference of a few mm between two variants is not established (the experiments' "
                     "seed spread, docs/results.md, is the yardstick).\n")
    return "\n".join(L) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps", type=int, default=100, help="optimiser steps per epoch")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--model-args", default=SMALL, help="model.args of every variant (default: %(default)s)")
    p.add_argument("--only", default="", help="comma-separated variants (a partial run)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--runs", default="runs/lifter_augment")
    p.add_argument("--keep", action="store_true", help="reuse finished runs, continue unfinished ones")
    p.add_argument("--render", action="store_true", help="only rewrite the doc from the stored records")
    p.add_argument("--doc", default=DOC)
    a = p.parse_args()
    os.chdir(ROOT)
    names = [n for n, _, _ in VARIANTS if not a.only or n in a.only.split(",")]
    unknown = set(a.only.split(",")) - {n for n, _, _ in VARIANTS} if a.only else set()
    if unknown:
        p.error(f"--only: unknown variants {sorted(unknown)}; choose from {[n for n, _, _ in VARIANTS]}")
    jobs = [(f"{n}@{s}", overrides(n, a, s), a.keep or a.render, CONFIG) for s in range(1, a.seeds + 1) for n in names]
    outs = {(k.rsplit("@", 1)[0], int(k.rsplit("@", 1)[1])): Path(next(o[4:] for o in ov if o.startswith("out=")))
            for k, ov, _, _ in jobs}
    if a.render:
        runs = {k: json.loads(X.record_path(o).read_text())["result"] for k, o in outs.items()
                if X.record_path(o).exists()}
        scores = {k: json.loads(scores_path(o).read_text()) for k, o in outs.items() if scores_path(o).exists()}
    else:
        print(f"[{time.strftime('%H:%M:%S')}] training {len(jobs)} runs, {a.jobs} at a time", flush=True)
        res = X.run_pool(jobs, a.jobs)
        if res is None:
            return 130
        runs = {(k.rsplit("@", 1)[0], int(k.rsplit("@", 1)[1])): r for k, r in res.items()}
        got = X.run_pool([(k, str(outs[k])) for k in runs], a.jobs, worker=score_run)
        if got is None:
            return 130
        scores = {k: got[k] for k in runs}
    if not scores:
        print("no scored runs yet: train them first (without --render)")
        return 1
    Path(a.doc).write_text(render(a, runs, scores))
    print(f"wrote {a.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
