"""Issue 5, part 1: HoT's trade-off and ablations at small scale on real motion capture, with one command.

    python benchmarks/experiments.py                # trains + evaluates every model, writes docs/results.md

Every model is trained with the library's own engine (``hotpose.engine.train``) from configs/experiments/base.yaml
plus per-model ``key=value`` overrides (exactly what ``hotpose train`` takes), and scored with
``hotpose.engine.evaluate_path`` (what ``hotpose evaluate`` runs): B2 test split seen through the S9/S11 cameras,
flip on, each model's own readout. Params / FLOPs / throughput come from :mod:`hotpose.efficiency` (batch 1, one
thread). For the hourglass models the script also splits the test error into the frames TPC (or the ablated pruner)
kept and the frames it pruned, from one extra pass over the test windows with the engine's ``predict``.

Runs go to runs/experiments/<model>; an existing run folder is removed first (``--keep`` reuses finished runs).
Training runs in ``--jobs`` worker processes (default 2, one per core), each with one torch thread; throughput is
measured afterwards in this process alone, with one thread.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "configs/experiments/base.yaml"
SIZE = "frames: 27, dim: 64, mlp_hidden: 128, depth: 4, drop_path: 0.0"
HG = "keep: 9, prune_at: 1"
MB = "dim_rep: 128"

# (model name, model.args, group); the hourglass models prune before stage 1 (MixSTE's first prunable stage).
MODELS = [
    ("mixste_243", f"{{{SIZE}}}", "main"),
    ("hot_mixste_243", f"{{{SIZE}, {HG}}}", "main"),
    ("tpc_mixste_243_81", f"{{{SIZE}, {HG}}}", "main"),
    ("motionbert_243", f"{{{SIZE}, {MB}}}", "main"),
    ("hot_motionbert_243", f"{{{SIZE}, {MB}, {HG}}}", "main"),
    ("hot_mixste_243_uniform", f"{{{SIZE}, {HG}}}", "pruning"),
    ("hot_mixste_243_attention", f"{{{SIZE}, {HG}}}", "pruning"),
    ("hot_mixste_243_motion", f"{{{SIZE}, {HG}}}", "pruning"),
    ("hot_mixste_243_nearest", f"{{{SIZE}, {HG}}}", "recovery"),
    ("hot_mixste_243_linear", f"{{{SIZE}, {HG}}}", "recovery"),
]
LOSS = {"motionbert_243": "motionbert", "hot_motionbert_243": "motionbert"}  # the backbone's own loss


def overrides_for(name: str, args: str, a: argparse.Namespace) -> list[str]:
    ov = [f"model.name={name}", f"model.args={args}", f"train.epochs={a.epochs}",
          f"train.steps_per_epoch={a.steps}", f"out=runs/experiments/{name}"]
    if name in LOSS:
        ov.append(f"train.loss={LOSS[name]}")
    if a.train_subjects:
        ov.append(f"data.train_subjects=[{a.train_subjects}]")
    return ov


def shell(ov: list[str]) -> str:
    return " ".join(f"'{o}'" if any(c in o for c in " {}[],") else o for o in ov)


def run_one(job: tuple) -> dict:
    """Worker: train one model with the engine, then evaluate its best.pt on the test split (flip on)."""
    name, ov, keep = job
    import torch

    torch.set_num_threads(1)
    from hotpose.engine.config import load_config
    from hotpose.engine.evaluate import evaluate_path
    from hotpose.engine.train import train

    os.chdir(ROOT)
    cfg = load_config(BASE, ov)
    out = Path(cfg.out)
    done = out / "result.json"
    if keep and done.exists():
        return json.loads(done.read_text())
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    res = train(cfg, device="cpu", progress=False)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = evaluate_path(out, split="test", flip=True, device="cpu", progress=False)
    eval_s = time.perf_counter() - t0
    r = {"name": name, "train_s": train_s, "eval_s": eval_s, "best": res["best"], "history": res["history"],
         "p1": rep["mean_over_actions"]["p1"], "p2": rep["mean_over_actions"]["p2"],
         "strict_p1": rep["mean_over_actions"]["strict_p1"], "mpjve": rep["mean_over_actions"]["mpjve"],
         "readout": rep["readout"], "views": rep["sequences"], "frames": rep["all_frames"]["frames"]}
    if name.startswith("hot_"):
        t0 = time.perf_counter()
        r["split"] = kept_vs_pruned(out, cfg)
        r["split_s"] = time.perf_counter() - t0
    done.write_text(json.dumps(r, indent=1) + "\n")
    print(f"[{time.strftime('%H:%M:%S')}] {name}: train {train_s:.0f} s, P1 {r['p1']:.1f} mm, P2 {r['p2']:.1f} mm "
          f"({r['readout']}), eval {eval_s:.0f} s", flush=True)
    return r


def kept_vs_pruned(out: Path, cfg) -> dict:
    """MPJPE (mm) of a seq2seq hourglass model on the test split over all real frames, the frames its pruner kept
    (the selected tokens) and the frames it pruned (recovered by TRA / nearest / linear), flip on, root at 0: each
    real frame once (the strict protocol), centred non-overlapping windows."""
    import torch

    from hotpose.data.config import load_splits
    from hotpose.data.windows import Windows
    from hotpose.engine import checkpoint as ckpt
    from hotpose.engine.evaluate import predict

    model = ckpt.model_from_checkpoint(ckpt.load_checkpoint(out / ckpt.BEST)).eval()
    seqs = load_splits(cfg.data, ["test"])["test"]
    F = model.backbone.frames
    w = Windows(seqs, F, F, channels=model.backbone.in_channels)
    sums = torch.zeros(3, 2, dtype=torch.float64)  # all / selected / pruned: error sum, count
    for i in range(0, len(w), 256):
        which = torch.arange(i, min(i + 256, len(w)))
        x, _ = w.batch(which)
        pose, keep_idx = predict(model, x, flip=True)
        pose = pose.float().clone()
        pose[..., 0, :] = 0
        fidx, real = w.frame_index(which)
        e = (pose.double() - w.targets[fidx].double()).norm(dim=-1).mean(-1)  # (B, F)
        sel = torch.zeros_like(real)
        sel.scatter_(1, keep_idx, True)
        for k, m in enumerate((real, real & sel, real & ~sel)):
            sums[k] += torch.stack([(e * m).sum(), m.sum().double()])
    return {k: float(sums[i, 0] / sums[i, 1] * 1000) for i, k in enumerate(("all", "selected", "pruned"))}


def efficiency(name: str, ov: list[str]) -> dict:
    import torch

    from hotpose.efficiency import count_flops, count_params, measure_throughput
    from hotpose.engine.config import load_config
    from hotpose.registry import build_model

    cfg = load_config(BASE, ov)
    torch.manual_seed(0)
    m = build_model(cfg.model.name, **cfg.model.args).eval()
    thr = measure_throughput(m, batch=1, runs=30, warmup=5)
    return {"params": count_params(m), "flops_paper": count_flops(m, "paper"), "flops_full": count_flops(m, "full"),
            "fps": thr["fps"], "ms": thr["seconds"] * 1000, "seq2frame": bool(m.seq2frame)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--steps", type=int, default=50, help="optimiser steps per epoch (batch 32)")
    p.add_argument("--train-subjects", default="", help="e.g. B1,C1 (default: the base config's, B1)")
    p.add_argument("--jobs", type=int, default=2, help="models trained at once, one thread each")
    p.add_argument("--only", default="", help="comma-separated model names (a partial run; does not write docs)")
    p.add_argument("--keep", action="store_true", help="reuse finished runs in runs/experiments")
    p.add_argument("--doc", default="docs/results.md")
    a = p.parse_args()
    os.chdir(ROOT)
    import torch

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    models = [m for m in MODELS if not a.only or m[0] in a.only.split(",")]
    jobs = [(n, overrides_for(n, args, a), a.keep) for n, args, _ in models]
    order = sorted(jobs, key=lambda j: "motionbert" not in j[0])  # slowest first
    print(f"[{time.strftime('%H:%M:%S')}] training {len(jobs)} models, {a.jobs} at a time, "
          f"{a.epochs} epochs x {a.steps} steps", flush=True)
    with mp.get_context("spawn").Pool(a.jobs, maxtasksperchild=1) as pool:
        results = {r["name"]: r for r in pool.imap_unordered(run_one, order)}
    print(f"[{time.strftime('%H:%M:%S')}] measuring params / FLOPs / throughput (batch 1, one thread)", flush=True)
    for n, ov, _ in jobs:
        results[n].update(efficiency(n, ov))
    total_s = time.perf_counter() - t_start
    for n, _, g in models:
        r = results[n]
        print(f"{n:<26} {r['params'] / 1e3:8.1f} k {r['flops_paper'] / 1e6:8.1f} M {r['flops_full'] / 1e6:8.1f} M "
              f"{r['fps']:9.0f} fps  P1 {r['p1']:6.1f}  P2 {r['p2']:6.1f}  train {r['train_s']:5.0f} s"
              + (f"  all/sel/pruned {r['split']['all']:.1f}/{r['split']['selected']:.1f}/"
                 f"{r['split']['pruned']:.1f}" if "split" in r else ""))
    print(f"total {total_s:.0f} s")
    Path("runs/experiments/results.json").write_text(json.dumps(results, indent=1) + "\n")
    if a.only:
        print("partial run (--only): docs not written")
        return 0
    Path(a.doc).write_text(render(models, jobs, results, a, started, total_s))
    print(f"wrote {a.doc}")
    return 0


def render(models, jobs, R, a, started, total_s) -> str:
    from hotpose.paper import PAPER

    ov = {n: o for n, o, _ in jobs}
    L = []
    w = L.append
    argv = " ".join(sys.argv[1:])
    w("# Results: HoT at small scale on real motion capture (issue 5, part 1)\n")
    w("Written by `benchmarks/experiments.py`; every figure below is one it printed in the run of " + started + ".\n")
    w("```bash\npython benchmarks/experiments.py" + (f" {argv}" if argv else "") + "\n```\n")
    w(f"Whole run: {total_s / 60:.1f} min on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
      f"torch {__import__('torch').__version__}, {a.jobs} models trained at once with one thread each.\n")
    w("## Setup\n")
    subj = a.train_subjects or "B1"
    w(f"- Data: Bandai-Namco motion (`../shared/data/bandai`, CC BY-NC 4.0, read in place), 30 fps. Train: {subj} seen "
      "through the pooled cameras of the Human3.6M training subjects S1 S5 S6 S7 S8 (2 of 20 cameras drawn per "
      "clip), 10 % of the clips held out for validation (model selection: best validation P1). Test: B2 through the "
      "S9 and S11 cameras (2 of 8 per clip). 2D = projection with 3 px noise, 2 % outliers of 25 px and 1 % missing "
      "joints filled by interpolation, in every split; flip augmentation in training (`double`). "
      "Config: `configs/experiments/base.yaml`.\n")
    w(f"- Models: 27 frames, C = 64, MLP 128, 4 stages; hourglass models keep 9 of 27 frames before stage 1 "
      f"(MotionBERT: DSTformer with dim_rep 128). Recipe: AdamW lr 1e-3, wd 0.01, x0.8 per epoch, batch 32, "
      f"{a.epochs} epochs of at most {a.steps} steps (a whole B1 epoch is {R['mixste_243']['history'][0]['step']} steps: "
      f"{R['mixste_243']['history'][-1]['step']} steps in all), seed 1; MixSTE-family loss "
      "`mixste`, MotionBERT-family loss `motionbert`.\n")
    w("- P1 / P2: test split, flip on, mean over action groups, official protocol (`hotpose evaluate`); TPC w. "
      "MixSTE is read out seq2frame (one window per frame, its centre). FLOPs per 27-frame window at batch 1, both "
      "conventions of `hotpose.efficiency`; throughput: output frames/s at batch 1, one thread, measured after "
      "training with nothing else running (seq2frame: 1 output frame per window). Training time: wall clock of "
      f"`train()` including per-epoch validation, with {a.jobs} jobs sharing the {os.cpu_count()} cores.\n")

    def row(n):
        r = R[n]
        paper = PAPER.get(n)
        return (f"| `{n}` | {r['params'] / 1e3:.1f} k | {r['flops_paper'] / 1e6:.1f} M | {r['flops_full'] / 1e6:.1f} M "
                f"| {r['fps']:,.0f} | **{r['p1']:.1f}** | {r['p2']:.1f} | {r['train_s']:.0f} s | "
                f"{paper.mpjpe if paper and paper.mpjpe else '-'} |")

    head = ("| model | params | FLOPs (paper) | FLOPs (full) | CPU frames/s | P1 mm | P2 mm | training | paper P1 "
            "(H36M) |\n|---|---|---|---|---|---|---|---|---|")
    w("## MixSTE, HoT w. MixSTE, TPC w. MixSTE; MotionBERT, HoT w. MotionBERT\n")
    w(head)
    for n, _, g in models:
        if g == "main":
            w(row(n))
    w("")

    def split_table(group, extra):
        w("| model | params | FLOPs (paper) | FLOPs (full) | CPU frames/s | P1 mm | P2 mm | training | paper P1 (H36M) "
          "| MPJPE all | selected frames | pruned frames |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
        for n in extra + [m for m, _, g in models if g == group]:
            s = R[n]["split"]
            w(row(n)[:-1] + f"| {s['all']:.1f} | {s['selected']:.1f} | {s['pruned']:.1f} |")
        w("")

    note = ("MPJPE all / selected / pruned: strict protocol (every real test frame once, centred non-overlapping "
            "windows, flip on), split by whether the model's pruner kept the frame's token (selected) or dropped it "
            "(pruned, recovered by the recovery module); computed by the script from one extra pass with the "
            "engine's `predict`.\n")
    w("## Pruning ablation (TPC = `hot_mixste_243`, uniform sampling, attention pruning, motion pruning; TRA "
      "recovery)\n")
    w(note)
    split_table("pruning", ["hot_mixste_243"])
    w("## Recovery ablation (TRA = `hot_mixste_243`, nearest, linear interpolation; TPC pruning)\n")
    split_table("recovery", ["hot_mixste_243"])

    # the criterion
    base, hot = R["mixste_243"], R["hot_mixste_243"]
    dp1 = (hot["p1"] / base["p1"] - 1) * 100
    dfl = (1 - hot["flops_paper"] / base["flops_paper"]) * 100
    holds = dp1 <= 5 and dfl >= 35
    w("## The issue's criterion\n")
    w(f"HoT w. MixSTE vs MixSTE: P1 {hot['p1']:.1f} vs {base['p1']:.1f} mm ({dp1:+.1f} %), paper-convention FLOPs "
      f"{hot['flops_paper'] / 1e6:.1f} M vs {base['flops_paper'] / 1e6:.1f} M ({dfl:.1f} % fewer). "
      f"Within 5 % of P1 at >= 35 % fewer FLOPs: **{'holds' if holds else 'does not hold'}**.\n")
    mb, hmb = R["motionbert_243"], R["hot_motionbert_243"]
    w(f"HoT w. MotionBERT vs MotionBERT: P1 {hmb['p1']:.1f} vs {mb['p1']:.1f} mm "
      f"({(hmb['p1'] / mb['p1'] - 1) * 100:+.1f} %), FLOPs {(1 - hmb['flops_paper'] / mb['flops_paper']) * 100:.1f} % "
      "fewer.\n")

    still = [n for n, _, _ in models if len(R[n]["history"]) > 1
             and R[n]["history"][-1].get("val_p1_mm", 0) < R[n]["history"][-2].get("val_p1_mm", 0)]
    w(f"Training budget: {R['mixste_243']['history'][-1]['step']} optimiser steps per model; validation P1 still fell in the last epoch "
      f"for {len(still)} of {len(models)} models ({', '.join(f'`{n}`' for n in still) or 'none'}), so these are "
      "under-trained models; with one seed per model, the seed-to-seed spread was not measured, so differences of a "
      "few mm between them are not established.\n")
    if not holds:
        w("Where the criterion fails, the most likely reason is the training budget: the models are far from "
          "converged (see the validation curves below), and at this size HoT runs 3 of its 4 stages on 9 of 27 "
          "tokens (the paper: 5 of 8 stages on 81 of 243), so its recovery has to be learnt from very few steps; "
          "the comparison needs longer training (and several seeds) before it says anything about HoT itself.\n")
    w("## Orderings compared with the paper\n")
    for title, names in (("main (MixSTE family)", ["mixste_243", "hot_mixste_243", "tpc_mixste_243_81"]),
                         ("main (MotionBERT family)", ["motionbert_243", "hot_motionbert_243"]),
                         ("pruning", ["hot_mixste_243", "hot_mixste_243_uniform", "hot_mixste_243_attention",
                                      "hot_mixste_243_motion"]),
                         ("recovery", ["hot_mixste_243", "hot_mixste_243_nearest", "hot_mixste_243_linear"])):
        ours = " < ".join(f"`{n}` {R[n]['p1']:.1f}" for n in sorted(names, key=lambda n: R[n]["p1"]))
        paper = " < ".join(f"`{n}` {PAPER[n].mpjpe}" for n in sorted(names, key=lambda n: PAPER[n].mpjpe))
        same = [n for n in sorted(names, key=lambda n: R[n]["p1"])] == sorted(names, key=lambda n: PAPER[n].mpjpe)
        w(f"- {title}: here {ours}; paper {paper} — **{'same ordering' if same else 'ordering differs'}**.")
    w("")
    w("## Validation P1 by epoch (mm)\n")
    w("| model | " + " | ".join(f"epoch {i + 1}" for i in range(a.epochs)) + " |")
    w("|---|" + "---|" * a.epochs)
    for n, _, _ in models:
        w(f"| `{n}` | " + " | ".join(f"{h.get('val_p1_mm', float('nan')):.1f}" for h in R[n]["history"]) + " |")
    w("")
    w("## Commands (each model; what the script runs through the engine's functions)\n")
    w("```bash")
    for n, _, _ in models:
        w(f"hotpose train {BASE} {shell(ov[n])} --threads 1")
        w(f"hotpose evaluate runs/experiments/{n} --threads 1")
    w("```\n")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
