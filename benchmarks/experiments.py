"""Issue 5, part 1: HoT's trade-off and ablations at small scale on real motion capture, with one command.

    python benchmarks/experiments.py                # trains + evaluates every model, writes docs/results.md

Every model is trained with the library's own engine (``hotpose.engine.train``) from configs/experiments/base.yaml
plus per-model ``key=value`` overrides (exactly what ``hotpose train`` takes), and scored with
``hotpose.engine.evaluate_path`` (what ``hotpose evaluate`` runs): B2 test split seen through the S9/S11 cameras,
flip on, each model's own readout. Params / FLOPs / throughput come from :mod:`hotpose.efficiency` (batch 1, one
thread). For the hourglass models the script also splits the test error into the frames TPC (or the ablated pruner)
kept and the frames it pruned, from one extra pass over the test windows with the engine's ``predict``.

Every model is trained with ``--seeds`` seeds (default 1: the base config's seed 1; N: seeds 1 .. N), each run in
runs/experiments/seed<s>/<model> (``--runs`` changes the root); the docs report the mean over seeds with the
min-max range, and say which differences exceed the seed spread (the ranges do not overlap). An existing run folder
is removed first; ``--keep`` reuses a finished run only if both its saved training config and the model config in
its checkpoint equal what the script builds now (so a run trained before ``tra_init`` existed, or with another
init, is trained again; ``tra_init`` is ignored where it changes nothing, in models without TRA). An interrupted
pass resumes with ``--keep``: finished runs are read back, an unfinished run whose folder is still there continues
from its last.pt (``train_s`` then sums every session's epochs, from the epoch times the engine records; a run
begun before those were recorded counts only the resumed part, ``train_s_partial``), the others train from
the start. Each finished run also
leaves a record in the repository, benchmarks/results/<run folder below runs/>.json (its training config, model
config and figures): runs/ is not tracked, so in a later checkout ``--keep`` reuses these records (under the same
config check) and a pass spread over several sessions loses only the runs that were still training.
Training runs in ``--jobs`` worker processes (default 2, one per core), each with one torch thread; throughput is
measured afterwards in this process alone, with one thread.
"""
from __future__ import annotations

import argparse
import functools
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
    ("hot_mixste_243_official_init", f"{{{SIZE}, {HG}, tra_init: official}}", "main"),
    ("tpc_mixste_243_81", f"{{{SIZE}, {HG}}}", "main"),
    ("motionbert_243", f"{{{SIZE}, {MB}}}", "main"),
    ("hot_motionbert_243", f"{{{SIZE}, {MB}, {HG}}}", "main"),
    ("hot_mixste_243_uniform", f"{{{SIZE}, {HG}}}", "pruning"),
    ("hot_mixste_243_attention", f"{{{SIZE}, {HG}}}", "pruning"),
    ("hot_mixste_243_motion", f"{{{SIZE}, {HG}}}", "pruning"),
    ("hot_mixste_243_nearest", f"{{{SIZE}, {HG}}}", "recovery"),
    ("hot_mixste_243_linear", f"{{{SIZE}, {HG}}}", "recovery"),
]
# Rows that are a registered model with other settings: row name -> registered model name.
MODEL_OF = {"hot_mixste_243_official_init": "hot_mixste_243"}
# The MotionBERT family trains with its own recipe's loss and learning rate (SPEC §4: MotionBERT lr 5e-4).
RECIPE = {n: ["train.loss=motionbert", "train.lr=5e-4"] for n in ("motionbert_243", "hot_motionbert_243")}
# Human3.6M's training set in the official MixSTE-family recipe (SPEC §4): about 1.56 M frames (S1 S5 S6 S7 S8, 4
# cameras) in non-overlapping 243-frame clips, 4 clips per batch, 160 epochs.
OFFICIAL_STEPS = round(1.56e6 / 243 / 4) * 160
# Trained again for --long-epochs (same sizes and recipe, the learning rate decayed to the same final value).
LONG = ["mixste_243", "hot_mixste_243", "hot_mixste_243_linear"]


def long_decay(a: argparse.Namespace) -> float:
    """Per-epoch decay of the long runs: the learning rate ends where the short runs' ends."""
    return round(a.lr_decay ** ((a.epochs - 1) / max(a.long_epochs - 1, 1)), 6)


def seeds(a: argparse.Namespace) -> list[int]:
    """The training seeds: the base config's seed and the N - 1 after it."""
    from hotpose.engine.config import load_config

    first = load_config(BASE).train.seed
    return list(range(first, first + a.seeds))


def overrides_for(name: str, args: str, a: argparse.Namespace, long: bool = False, seed: int | None = None
                  ) -> list[str]:
    seed = seeds(a)[0] if seed is None else seed
    root = f"{a.runs}/seed{seed}"
    epochs, decay, out = ((a.long_epochs, long_decay(a), f"{root}/long/{name}") if long
                          else (a.epochs, a.lr_decay, f"{root}/{name}"))
    ov = [f"model.name={MODEL_OF.get(name, name)}", f"model.args={args}", f"train.epochs={epochs}",
          f"train.steps_per_epoch={a.steps}", f"train.lr_decay={decay}", f"train.seed={seed}", f"out={out}"]
    ov += RECIPE.get(name, [])
    if a.train_subjects:
        ov.append(f"data.train_subjects=[{a.train_subjects}]")
    return ov


def shell(ov: list[str]) -> str:
    return " ".join(f"'{o}'" if any(c in o for c in " {}[],") else o for o in ov)


def comparable(model_config: dict) -> dict:
    """A model config as --keep compares it: a stored hourglass config without ``tra_init`` (written before the
    field existed) reads as the init it was trained with, and ``tra_init`` is dropped where it changes nothing (no
    TRA)."""
    from hotpose.hourglass.init import LEGACY

    mc = json.loads(json.dumps(model_config))
    hg = mc.get("hourglass")
    if hg is not None:
        hg.setdefault("tra_init", LEGACY)
        if hg.get("recoverer") != "tra":
            hg.pop("tra_init")
    return mc


def same_run(out: Path, cfg) -> bool:
    """True when the finished run in ``out`` was trained with ``cfg`` and the model ``cfg`` builds now."""
    from hotpose.engine import checkpoint as ckpt
    from hotpose.engine.config import load_config

    if load_config(out / "config.yaml").to_dict() != cfg.to_dict() or not (out / ckpt.BEST).exists():
        return False
    stored = ckpt.load_checkpoint(out / ckpt.BEST)["model_config"]
    return comparable(stored) == model_now(cfg)


def resumable(out: Path, cfg) -> bool:
    """True when ``out`` holds an unfinished run (its last.pt, written after every epoch) of ``cfg`` and of the model
    ``cfg`` builds now: --keep continues it instead of training from the start (a pass cut by a session's end loses
    at most the epoch in progress)."""
    from hotpose.engine import checkpoint as ckpt
    from hotpose.engine.config import load_config

    last = out / ckpt.LAST
    if not last.exists() or not (out / "config.yaml").exists():
        return False
    if load_config(out / "config.yaml").to_dict() != cfg.to_dict():
        return False
    return comparable(ckpt.load_checkpoint(last)["model_config"]) == model_now(cfg)


def as_json(d: dict) -> dict:
    """``d`` as it reads back from JSON (tuples become lists), for comparing with a stored record."""
    return json.loads(json.dumps(d))


def model_now(cfg) -> dict:
    """The model config ``cfg`` builds today, as --keep compares it."""
    from hotpose.registry import build_model

    return comparable(build_model(cfg.model.name, **cfg.model.args).config)


def record_path(out: Path) -> Path:
    """Where a finished run's figures and configs are kept in the repository (runs/ is not tracked, so a later
    checkout has only these): benchmarks/results/<the run folder below runs/>.json."""
    rel = out.resolve().relative_to((ROOT / "runs").resolve()) if out.resolve().is_relative_to(ROOT / "runs") \
        else Path(out.name)
    return ROOT / "benchmarks" / "results" / rel.with_suffix(".json")


def run_one(job: tuple) -> dict:
    """Worker: train one model with the engine, then evaluate its best.pt on the test split (flip on). ``job``: (key,
    overrides, keep) on BASE, or (key, overrides, keep, config) on another config."""
    key, ov, keep, *base = job
    name, seed = key.rsplit("@", 1)
    import torch

    torch.set_num_threads(1)
    from hotpose.engine.config import load_config
    from hotpose.engine.evaluate import evaluate_path
    from hotpose.engine.train import TrainingInterrupted, train

    os.chdir(ROOT)
    cfg = load_config(base[0] if base else BASE, ov)
    out = Path(cfg.out)
    done = out / "result.json"
    rec = record_path(out)
    if keep and done.exists():
        if same_run(out, cfg):
            return {**json.loads(done.read_text()), "key": key}
        print(f"{key}: the finished run in {out} has another config or model; training again", flush=True)
    elif keep and rec.exists():  # the run folder is gone (another checkout): its tracked record, if it still fits
        stored = json.loads(rec.read_text())
        if stored["config"] == as_json(cfg.to_dict()) and stored["model_config"] == as_json(model_now(cfg)):
            print(f"{key}: reusing the record {rec.relative_to(ROOT)}", flush=True)
            return {**stored["result"], "key": key}
        print(f"{key}: the record {rec.relative_to(ROOT)} has another config or model; training again", flush=True)
    from hotpose.engine import checkpoint as ckpt

    resume = keep and not done.exists() and resumable(out, cfg)
    if resume:
        print(f"{key}: resuming the unfinished run in {out}", flush=True)
    elif out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    try:
        res = train(cfg, resume=resume, device="cpu", progress=False)
    except (TrainingInterrupted, KeyboardInterrupt):  # Ctrl-C: last.pt holds the run; --keep continues it
        return {"key": key, "interrupted": True}
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = evaluate_path(out, split="test", flip=True, device="cpu", progress=False)
    eval_s = time.perf_counter() - t0
    partial = resume and res.get("seconds") is None  # resumed, and the earlier sessions' epochs were not timed
    train_s = train_s if res.get("seconds") is None else res["seconds"]
    r = {"name": name, "key": key, "seed": int(seed), "train_s": train_s, "eval_s": eval_s, "best": res["best"],
         "history": res["history"], "resumed": resume, "train_s_partial": partial,
         "train_cpu_s": res.get("cpu_seconds"),
         "p1": rep["mean_over_actions"]["p1"], "p2": rep["mean_over_actions"]["p2"],
         "strict_p1": rep["mean_over_actions"]["strict_p1"], "mpjve": rep["mean_over_actions"]["mpjve"],
         "readout": rep["readout"], "views": rep["sequences"], "frames": rep["all_frames"]["frames"]}
    hg = ckpt.load_checkpoint(out / ckpt.BEST)["model_config"].get("hourglass")
    r["tra_init"] = hg.get("tra_init") if hg and hg.get("recoverer") == "tra" else None
    if r["readout"] == "seq2seq":
        t0 = time.perf_counter()
        r["split"] = frame_stats(out, cfg)
        r["split_s"] = time.perf_counter() - t0
    done.write_text(json.dumps(r, indent=1) + "\n")
    rec.parent.mkdir(parents=True, exist_ok=True)
    rec.write_text(json.dumps({"config": cfg.to_dict(), "model_config": model_now(cfg), "result": r}, indent=1)
                   + "\n")
    print(f"[{time.strftime('%H:%M:%S')}] {key}: train {train_s:.0f} s, P1 {r['p1']:.1f} mm, P2 {r['p2']:.1f} mm "
          f"({r['readout']}), eval {eval_s:.0f} s", flush=True)
    return r


def frame_stats(out: Path, cfg) -> dict:
    """Per-frame figures of a seq2seq model on the test split (strict protocol: each real frame once, centred
    non-overlapping windows, flip on, root at 0):

    * ``speed``: mean joint displacement between consecutive frames of a window, predicted / ground truth. Near 0:
      the model predicts about the same pose for every frame of a window (it has learnt the window's mean pose but
      not yet the motion inside it); 1: as much motion as the ground truth.
    * for hourglass models, MPJPE (mm) over all real frames, the frames the pruner kept (the selected tokens) and
      the frames it pruned (recovered by TRA / nearest / linear).
    TPC's random tie-break is drawn from a fixed seed, so the figures repeat (the global RNG is left as it was).
    """
    import torch

    from hotpose.data.config import load_splits
    from hotpose.data.windows import Windows
    from hotpose.engine import checkpoint as ckpt
    from hotpose.engine.evaluate import predict
    from hotpose.metrics import motion_sums

    model = ckpt.model_from_checkpoint(ckpt.load_checkpoint(out / ckpt.BEST)).eval()
    seqs = load_splits(cfg.data, ["test"])["test"]
    F = model.backbone.frames
    w = Windows(seqs, F, F, channels=model.backbone.in_channels)
    sums = torch.zeros(3, 2, dtype=torch.float64)  # all / selected / pruned: error sum, count
    speed = torch.zeros(2, dtype=torch.float64)  # predicted, ground-truth displacement sums over the same pairs
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for i in range(0, len(w), 256):
            which = torch.arange(i, min(i + 256, len(w)))
            x, _ = w.batch(which)
            pose, keep_idx = predict(model, x, flip=True)
            pose = pose.float().clone()
            pose[..., 0, :] = 0
            fidx, real = w.frame_index(which)
            target = w.targets[fidx].double()
            e = (pose.double() - target).norm(dim=-1).mean(-1)  # (B, F)
            speed += motion_sums(pose, target, real[:, 1:] & real[:, :-1])
            sel = torch.zeros_like(real)
            if keep_idx is not None:
                sel.scatter_(1, keep_idx, True)
            for k, m in enumerate((real, real & sel, real & ~sel)):
                sums[k] += torch.stack([(e * m).sum(), m.sum().double()])
    r = {"speed": float(speed[0] / speed[1])}
    if model.hourglass is not None:
        r.update({k: float(sums[i, 0] / sums[i, 1] * 1000) for i, k in enumerate(("all", "selected", "pruned"))})
    return r


TARGETS_FILE = "benchmarks/results/targets_default.json"


def default_model(path: Path | None = None) -> dict:
    """The packaged default model's figures as ``benchmarks/lifter_targets.py`` measured them (its result file,
    ``path`` or TARGETS_FILE): that script is the one place they are measured; this doc quotes them."""
    r = json.loads((path or ROOT / TARGETS_FILE).read_text())
    return {"p1": r["plain"]["p1"], "p2": r["plain"]["p2"], "views": r["plain"]["views"],
            "viewpoints_p1": r["other viewpoints"]["p1"], "viewpoints_p2": r["other viewpoints"]["p2"],
            "baseline_p1": (r.get("baseline") or {}).get("p1"),
            "baseline_training": run_training((r.get("baseline") or {}).get("checkpoint"),
                                              (r.get("baseline") or {}).get("training_config"))}


@functools.lru_cache(maxsize=1)
def presets() -> dict:
    """Every preset under configs/ (its path from the repository root -> its config as a dict), read once."""
    from hotpose.engine.config import load_config

    return {str(f.relative_to(ROOT)): load_config(f).to_dict() for f in sorted((ROOT / "configs").rglob("*.yaml"))}


def preset_where(match) -> str | None:
    """The first preset under configs/ whose config (a dict) ``match`` accepts, or None."""
    return next((name for name, cfg in presets().items() if match(cfg)), None)


def config_of_run(checkpoint: str | None) -> str | None:
    """The preset whose ``out`` is ``checkpoint``'s run folder (e.g. runs/lifter/framewise/best.pt ->
    configs/lifter/framewise.yaml), or None."""
    run = Path(checkpoint).parent.as_posix() if checkpoint else None
    return preset_where(lambda c: c["out"] == run) if run else None


def trained_with(preset: str, trained: dict) -> str:
    """"trained with `preset`", the overrides the run gave it (e.g. "and `train.epochs=12`"), and for a later stage
    (``train.init``: an earlier run's weights) "from the weights of `<that run's preset>`'s run"."""
    from hotpose.engine.config import as_overrides

    over = [o for o in as_overrides(presets()[preset], trained)
            if not o.startswith("data.root=")]  # where the data was read from, not how the run trained
    init = config_of_run((trained.get("train") or {}).get("init"))
    return (f"trained with `{preset}`" + "".join(f" and `{o}`" for o in over)
            + (f" from the weights of `{init}`'s run" if init else ""))


def run_training(checkpoint: str | None, trained: dict | None = None) -> str | None:
    """How the run that wrote ``checkpoint`` was trained (``trained``: its config, when known; else its preset's),
    in trained_with()'s words, or None when no preset made it."""
    preset = config_of_run(checkpoint)
    return trained_with(preset, trained or presets()[preset]) if preset else None


DEFAULT_HEADING = "## The packaged default model\n"
RECOVERY = {"tra": "TRA", "linear": "linear recovery", "nearest": "nearest recovery"}


def packaged_default(path: Path | None = None) -> str:
    """The packaged default model (or the packaged file ``path``) in words, read from the file itself (so that the
    doc follows a new default): e.g. "HoT w. MixSTE with TRA, 81-frame windows, trained with
    `configs/lifter/default.yaml`"."""
    from hotpose.engine import checkpoint as ckpt
    from hotpose.engine.config import config_from_dict
    from hotpose.paper import PAPER
    from hotpose.pretrained import pretrained_path

    blob = ckpt.load_checkpoint(path or pretrained_path(), packaged=True)
    c = blob["config"]
    words = PAPER[c["name"]].label if c["name"] in PAPER else f"`{c['name']}`"
    recoverer = (c.get("hourglass") or {}).get("recoverer")
    if recoverer in RECOVERY and RECOVERY[recoverer] not in words:
        words += f" with {RECOVERY[recoverer]}"
    words += f", {c['backbone_config']['frames']}-frame windows"
    trained = ckpt.training_config(blob)
    if not trained:
        return words
    trained = config_from_dict(trained).to_dict()
    # the preset it was trained with as it stands, else the one that writes its run folder (with overrides)
    same = preset_where(lambda c: c == trained) or preset_where(lambda c: c["out"] == trained["out"])
    return f"{words}, {trained_with(same, trained)}" if same else words


def default_section(d: dict) -> str:
    """The doc's section on the packaged default model, from default_model()'s figures."""
    return (DEFAULT_HEADING + "\n"
            "`hotpose.Lifter.from_pretrained(\"default\")` (hotpose/pretrained/default.pt: "
            f"{packaged_default()}; hotpose/pretrained/README.md gives the recipe and every target) on B2 through "
            f"all 8 cameras of S9 and S11 ({d['views']} views), projected "
            f"ground-truth 2D, flip on: **P1 {d['p1']:.1f} mm**, P2 {d['p2']:.1f} mm (mean over actions)"
            + (f"; the frame-wise baseline ({d.get('baseline_training') or 'trained with its own config'}) "
               f"{d['baseline_p1']:.1f} mm" if d.get("baseline_p1") else "")
            + f". Through 40 other cameras drawn from the range phones and action cameras film from: P1 "
            f"{d['viewpoints_p1']:.1f} mm, P2 {d['viewpoints_p2']:.1f} mm. Measured by "
            f"`python benchmarks/lifter_targets.py` ({TARGETS_FILE}).\n")


def refresh_default(doc: Path) -> None:
    """--default-only: rewrite only the default model's section of ``doc`` (and its entry of
    runs/experiments/results.json) from TARGETS_FILE, e.g. after a new default model was measured."""
    d = default_model()
    text = doc.read_text()
    start = text.index(DEFAULT_HEADING)
    end = text.find("\n## ", start + len(DEFAULT_HEADING))
    doc.write_text(text[:start] + default_section(d) + (text[end:] if end >= 0 else ""))
    res = Path("runs/experiments/results.json")
    if res.exists():
        results = json.loads(res.read_text())
        results["default_model"] = d
        res.write_text(json.dumps(results, indent=1) + "\n")
    print(f"default model: P1 {d['p1']:.1f} mm, P2 {d['p2']:.1f} mm; rewrote its section of {doc}")


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
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=100, help="optimiser steps per epoch (batch 32)")
    p.add_argument("--lr-decay", type=float, default=0.9, help="learning-rate factor per epoch")
    p.add_argument("--train-subjects", default="", help="e.g. B1,C1 (default: the base config's, B1,C1,C2,C3)")
    p.add_argument("--long-epochs", type=int, default=40,
                   help=f"also train {', '.join(LONG)} for this many epochs (0: not)")
    p.add_argument("--jobs", type=int, default=2, help="models trained at once, one thread each")
    p.add_argument("--only", default="", help="comma-separated model names (a partial run; does not write docs)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per model (1 .. N); the docs give mean and min-max")
    p.add_argument("--runs", default="runs/experiments", help="root of the run folders (runs/<root>/seed<s>/...)")
    p.add_argument("--keep", action="store_true",
                   help="reuse finished runs whose training config and model config equal today's")
    p.add_argument("--doc", default="docs/results.md")
    p.add_argument("--default-only", action="store_true",
                   help="only rewrite the packaged default model's section of --doc from " + TARGETS_FILE)
    a = p.parse_args()
    os.chdir(ROOT)
    import torch

    torch.set_num_threads(1)
    if a.default_only:
        refresh_default(Path(a.doc))
        return 0
    t_start = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    if a.seeds < 1:
        p.error("--seeds must be >= 1")
    models = [m for m in MODELS if not a.only or m[0] in a.only.split(",")]
    jobs = [(n, overrides_for(n, args, a), a.keep) for n, args, _ in models]
    args_of = {n: args for n, args, _ in MODELS}
    long_jobs = [(f"long/{n}", overrides_for(n, args_of[n], a, long=True), a.keep) for n in LONG
                 if not a.only or n in a.only.split(",")] if a.long_epochs else []
    runs = [(f"{n}@{s}", overrides_for(n.split("/")[-1], args_of[n.split("/")[-1]], a, long=n.startswith("long/"),
                                       seed=s), a.keep)
            for s in seeds(a) for n, _, _ in jobs + long_jobs]
    # the MotionBERT family and the long runs first (the longest jobs), seed by seed, so that an interrupted pass
    # leaves whole seeds behind
    order = sorted(runs, key=lambda j: (int(j[0].rsplit("@", 1)[1]), "motionbert" not in j[0],
                                        not j[0].startswith("long/")))
    print(f"[{time.strftime('%H:%M:%S')}] training {len(order)} runs ({len(jobs) + len(long_jobs)} models x "
          f"{a.seeds} seeds), {a.jobs} at a time, {a.epochs} epochs x {a.steps} steps"
          + (f" ({a.long_epochs} epochs for long/*)" if long_jobs else ""), flush=True)
    per_seed = run_pool(order, a.jobs)
    if per_seed is None:
        return 130
    results = aggregate(per_seed)
    print(f"[{time.strftime('%H:%M:%S')}] measuring params / FLOPs / throughput (batch 1, one thread)", flush=True)
    for n, ov, _ in jobs:
        results[n].update(efficiency(n, ov))
    for n, _, _ in long_jobs:  # the same models as the short runs: same counts and speed
        short = n.split("/", 1)[1]
        results[n].update({k: results[short][k] for k in ("params", "flops_paper", "flops_full", "fps", "ms",
                                                          "seq2frame") if short in results})
    if not a.only:
        results["default_model"] = default_model()
    total_s = time.perf_counter() - t_start
    for n in [m[0] for m in models] + [j[0] for j in long_jobs]:
        r = results[n]
        nan = float("nan")
        print(f"{n:<26} {r.get('params', nan) / 1e3:8.1f} k {r.get('flops_paper', nan) / 1e6:8.1f} M "
              f"{r.get('flops_full', nan) / 1e6:8.1f} M "
              f"{r.get('fps', float('nan')):9.0f} fps  P1 {r['p1']:6.1f}  P2 {r['p2']:6.1f}  train {r['train_s']:5.0f} s"
              + (f"  motion {r['split']['speed']:.2f}" if "split" in r else "")
              + (f"  all/sel/pruned {r['split']['all']:.1f}/{r['split']['selected']:.1f}/"
                 f"{r['split']['pruned']:.1f}" if "all" in r.get("split", {}) else ""))
    print(f"total {total_s:.0f} s")
    Path(a.runs).mkdir(parents=True, exist_ok=True)
    Path(a.runs, "results.json").write_text(json.dumps(results, indent=1) + "\n")
    if a.only:
        print("partial run (--only): docs not written")
        return 0
    Path(a.doc).write_text(render(models, jobs, results, a, started, total_s, long_jobs))
    print(f"wrote {a.doc}")
    return 0


def run_pool(jobs: list, processes: int, worker=None) -> dict | None:
    """Run ``worker`` (default ``run_one``; a module-level function returning a dict with ``key``) over ``jobs`` in
    ``processes`` worker processes: {key: result}, or None when the pass was stopped (Ctrl-C reaches every process;
    the runs in progress write last.pt, the pool is ended so that no other run starts, and ``--keep`` continues
    where it stopped)."""
    out = {}
    pool = mp.get_context("spawn").Pool(processes, maxtasksperchild=1)
    try:
        for r in pool.imap_unordered(worker or run_one, jobs):
            if r.get("interrupted"):
                raise KeyboardInterrupt
            out[r["key"]] = r
    except KeyboardInterrupt:
        pool.terminate()
        pool.join()
        print(f"[{time.strftime('%H:%M:%S')}] stopped: {len(out)} of {len(jobs)} jobs finished in this pass; "
              "training runs in progress hold their state in last.pt (a scoring job starts again); run again "
              "with --keep to continue (and benchmarks/stash_runs.py save to carry them to another checkout)",
              flush=True)
        return None
    pool.close()
    pool.join()
    return out


def _mean(values: list):
    """The mean of matching structures (numbers averaged; dicts and lists element by element; others: the first)."""
    v0 = values[0]
    if isinstance(v0, bool) or not isinstance(v0, (int, float, dict, list)) or all(v == v0 for v in values):
        return v0
    if isinstance(v0, dict):
        return {k: _mean([v[k] for v in values]) for k in v0 if all(isinstance(v, dict) and k in v for v in values)}
    if isinstance(v0, list):
        n = min(len(v) for v in values)
        return [_mean([v[i] for v in values]) for i in range(n)]
    return sum(values) / len(values)


def aggregate(per_seed: dict) -> dict:
    """{"<model>@<seed>": result} -> {"<model>": mean over seeds, with ``seeds`` (the seeds) and ``by_seed`` (P1 and
    motion of each seed)}."""
    groups: dict[str, list] = {}
    for key, r in sorted(per_seed.items(), key=lambda kv: int(kv[0].rsplit("@", 1)[1])):
        groups.setdefault(key.rsplit("@", 1)[0], []).append(r)
    out = {}
    for name, rs in groups.items():
        m = _mean(rs)
        m["name"], m["seeds"] = name, [r["seed"] for r in rs]
        m["by_seed"] = [{"seed": r["seed"], "p1": r["p1"], "p2": r["p2"],
                         "motion": r["split"]["speed"] if "split" in r else None,
                         "partial_time": r.get("train_s_partial", r.get("resumed", False))} for r in rs]
        out[name] = m
    return out


def p1_range(r: dict) -> tuple[float, float]:
    p1 = [s["p1"] for s in r.get("by_seed", [r])]
    return min(p1), max(p1)


def beyond_spread(a: dict, b: dict) -> bool:
    """True when the two models' P1 ranges over seeds do not overlap (only meaningful with several seeds)."""
    (a0, a1), (b0, b1) = p1_range(a), p1_range(b)
    return len(a.get("by_seed", [])) > 1 and len(b.get("by_seed", [])) > 1 and (a1 < b0 or b1 < a0)


def spread_word(a: dict, b: dict, inner: bool = False) -> str:
    """" (beyond the seed spread)" or " (within the seed spread)"; inside brackets already (``inner``): ", beyond
    the seed spread". "" with one seed."""
    if len(a.get("by_seed", [])) < 2:
        return ""
    word = "beyond the seed spread" if beyond_spread(a, b) else "within the seed spread"
    return f", {word}" if inner else f" ({word})"


def seed_by_seed(a: dict, b: dict) -> str:
    """How ``a`` fares against ``b`` seed by seed, over the seeds both have: "; seed by seed, lower on 3 of 3 (by
    0.8-1.1 mm)". At one seed the pruning ablation's models start from the same weights (the recovery ablation's
    too, except the temporal embedding, which TRA's init sets), so a sign that holds on every seed says more than
    overlapping ranges do. "" with fewer than two shared seeds."""
    pa = {s["seed"]: s["p1"] for s in a.get("by_seed", [])}
    pb = {s["seed"]: s["p1"] for s in b.get("by_seed", [])}
    d = [pb[k] - pa[k] for k in sorted(pa.keys() & pb.keys())]
    if len(d) < 2:
        return ""
    lower = [x for x in d if x > 0]
    if len(lower) in (0, len(d)):
        side = "lower" if lower else "higher"
        return (f"; seed by seed, {side} on {len(d)} of {len(d)} (by {min(map(abs, d)):.1f}-{max(map(abs, d)):.1f} "
                f"mm)")
    return f"; seed by seed, lower on {len(lower)} of {len(d)}, higher on the others"


# The targets an hourglass model is held to against its backbone (mean over seeds): P1 no more than TOL_P1 % above,
# at least MIN_SAVING % fewer paper-convention FLOPs, in-window motion within MOTION_GAP of the backbone's; HoT w.
# MotionBERT's motion above MIN_MOTION.
TOL_P1, MIN_SAVING, MOTION_GAP, MIN_MOTION = 3.0, 35.0, 0.1, 0.3


def verdict(base: dict, hot: dict) -> tuple[float, float, bool]:
    """One pair of results against the P1 and FLOPs targets: (P1 change %, paper-FLOP saving %, both met)."""
    dp1 = (hot["p1"] / base["p1"] - 1) * 100
    dfl = (1 - hot["flops_paper"] / base["flops_paper"]) * 100
    return dp1, dfl, dp1 <= TOL_P1 and dfl >= MIN_SAVING


def motion(r: dict) -> float:
    """The motion figure of one result (frame_stats' "speed"); NaN for seq2frame models."""
    return r["split"]["speed"] if "split" in r else float("nan")


def seed_range(r: dict, key: str, fmt: str) -> str:
    """" (lo-hi)": the min-max of ``key`` ("p1", "motion") over the seeds of ``r``; "" with fewer than two."""
    vals = [s[key] for s in r.get("by_seed", []) if s.get(key) is not None]
    lo, hi = (f"{min(vals):{fmt}}", f"{max(vals):{fmt}}") if vals else ("", "")
    return f" ({lo}-{hi})" if len(vals) > 1 and lo != hi else " (each seed)" if len(vals) > 1 else ""


def _mm(r: dict) -> str:
    """P1 with its min-max over seeds: "45.1 (44.0-46.3) mm"."""
    return f"{r['p1']:.1f}{seed_range(r, 'p1', '.1f')} mm"


def train_time(r: dict) -> str:
    """The training column: mean seconds over the seeds, ">= " when a seed's time counts only its last session (a
    run resumed from before the engine timed its epochs)."""
    part = any(s.get("partial_time") for s in r.get("by_seed", [])) or r.get("train_s_partial", False)
    return f"{'>= ' if part else ''}{r['train_s']:.0f} s"


def _motion_range(r: dict) -> str:
    return f"{motion(r):.2f}{seed_range(r, 'motion', '.2f')}"


def order_line(R: dict, names: list) -> str:
    """The models by mean P1, each with its range over seeds."""
    return " < ".join(f"`{n.split('/', 1)[-1]}` {_mm(R[n])}" for n in sorted(names, key=lambda n: R[n]["p1"]))


def targets(R: dict, long_jobs=()) -> str:
    """The targets table: each target, what was measured (means over seeds, ranges in brackets) and whether it is
    met. Only the rows whose models are in R are written."""
    rows = []

    def add(target, measured, met):
        rows.append(f"| {target} | {measured} | **{'met' if met else 'missed'}** |")

    def steps(n):
        return R[n]["history"][-1]["step"]

    for prefix in ("", "long/"):
        base, hot = R.get(prefix + "mixste_243"), R.get(prefix + "hot_mixste_243")
        if base is None or hot is None:
            continue
        at = f"{steps(prefix + 'mixste_243'):,} steps"
        dp1, dfl, _ = verdict(base, hot)
        add(f"HoT w. MixSTE within {TOL_P1:g} % of MixSTE's P1, {at}",
            f"{_mm(hot)} vs {_mm(base)}: {dp1:+.1f} %{spread_word(hot, base)}", dp1 <= TOL_P1)
        if not prefix:
            add(f"HoT w. MixSTE: at least {MIN_SAVING:g} % fewer FLOPs (paper convention)",
                f"{hot['flops_paper'] / 1e6:.1f} M vs {base['flops_paper'] / 1e6:.1f} M: {dfl:.1f} % fewer",
                dfl >= MIN_SAVING)
        gap = motion(hot) - motion(base)
        add(f"HoT w. MixSTE's motion within {MOTION_GAP:g} of MixSTE's, {at}",
            f"{_motion_range(hot)} vs {_motion_range(base)}: {gap:+.2f} (velocity error, MPJVE: "
            f"{hot.get('mpjve', float('nan')):.1f} vs {base.get('mpjve', float('nan')):.1f} mm)",
            abs(gap) <= MOTION_GAP)
    mb, hmb = R.get("motionbert_243"), R.get("hot_motionbert_243")
    if mb and hmb:
        dp1 = verdict(mb, hmb)[0]
        add(f"HoT w. MotionBERT within {TOL_P1:g} % of MotionBERT's P1, {steps('motionbert_243'):,} steps",
            f"{_mm(hmb)} vs {_mm(mb)}: {dp1:+.1f} %{spread_word(hmb, mb)}", dp1 <= TOL_P1)
        add(f"HoT w. MotionBERT's motion above {MIN_MOTION:g}",
            f"{_motion_range(hmb)} (MotionBERT {_motion_range(mb)})", motion(hmb) > MIN_MOTION)
    pruners = [n for n in ("hot_mixste_243", "hot_mixste_243_uniform", "hot_mixste_243_attention",
                           "hot_mixste_243_motion") if n in R]
    if len(pruners) > 1:
        first = min(pruners, key=lambda n: R[n]["p1"])
        tpc = R["hot_mixste_243"]
        if first == "hot_mixste_243":
            runner = min((n for n in pruners if n != first), key=lambda n: R[n]["p1"])
            said = (f"TPC first, {R[runner]['p1'] - tpc['p1']:.1f} mm ahead of `{runner}`"
                    f"{spread_word(tpc, R[runner])}{seed_by_seed(tpc, R[runner])}")
        else:
            rank = sorted(pruners, key=lambda n: R[n]["p1"]).index("hot_mixste_243") + 1
            said = (f"TPC {('second', 'third', 'fourth')[rank - 2]} of {len(pruners)}, "
                    f"{tpc['p1'] - R[first]['p1']:.1f} mm behind `{first}`{spread_word(tpc, R[first])}"
                    f"{seed_by_seed(tpc, R[first])}; why: *The pruners* below")
        add("Pruning ablation: TPC first (TRA recovery)", f"{order_line(R, pruners)}; {said}",
            first == "hot_mixste_243")
    for prefix in ("", "long/"):
        tra, lin = R.get(prefix + "hot_mixste_243"), R.get(prefix + "hot_mixste_243_linear")
        if tra is None or lin is None:
            continue
        within = len(tra.get("by_seed", [])) > 1 and not beyond_spread(tra, lin)
        add(f"Recovery: TRA within the seed spread of linear interpolation or better, "
            f"{steps(prefix + 'hot_mixste_243'):,} steps",
            f"TRA {_mm(tra)} vs linear {_mm(lin)}: {tra['p1'] - lin['p1']:+.1f} mm"
            f"{spread_word(tra, lin)}{seed_by_seed(tra, lin)}", tra["p1"] <= lin["p1"] or within)
    nseeds = max(len(r.get("by_seed", [r])) for r in R.values() if isinstance(r, dict) and "p1" in r)
    head = ["## Targets\n",
            f"Each figure is the mean over {nseeds} seed{'s' if nseeds > 1 else ''}"
            + (", with the min-max over the seeds in brackets; a difference is beyond the seed spread when the two "
               "ranges do not overlap" if nseeds > 1 else "") + ". Motion: see the note above the first table.\n",
            "| target | measured | |", "|---|---|---|"]
    return "\n".join(head + rows) + "\n"


def why(R, long_jobs) -> str:
    """What explains the targets' outcomes: the argument is written here, every figure in it comes from R (means
    over seeds; the ranges and "beyond / within the seed spread" as in the targets table)."""
    def m(n):
        return motion(R[n])

    def moves(n):
        return ("it gives about one pose to the whole window" if m(n) < 0.1 else
                f"inside a window its predictions move {m(n):.0%} as much as the ground truth")

    def vel(n):
        return R[n].get("mpjve", float("nan"))

    hot, lin, base = R["hot_mixste_243"], R["hot_mixste_243_linear"], R["mixste_243"]
    sp = hot["split"]
    init = hot.get("tra_init") or "official"
    behind = hot["p1"] > base["p1"] * (1 + TOL_P1 / 100)
    t = [f"### What the figures say{' about why HoT w. MixSTE trails MixSTE' if behind else ''}\n",
         f"- **The pruning.** The same hourglass (TPC keeps 9 of 27 frames before stage 1) with linear-interpolation "
         f"recovery scores {_mm(lin)} against MixSTE's {_mm(base)} ({verdict(base, lin)[0]:+.1f} %"
         f"{spread_word(lin, base, inner=True)}) at the same budget; its motion is {_motion_range(lin)} (MixSTE "
         f"{_motion_range(base)}).",
         f"- **{'TRA at the start of its training' if init == 'official' else 'TRA and its init'}.** HoT w. "
         f"MixSTE's motion is {_motion_range(hot)}: {moves('hot_mixste_243')}; its error on the frames TPC kept "
         f"({sp['selected']:.1f} mm) is "
         + (f"as large as on the frames it pruned ({sp['pruned']:.1f} mm)" if abs(sp["selected"] - sp["pruned"])
            < 0.03 * sp["pruned"] else
            f"{'below' if sp['selected'] < sp['pruned'] else 'above'} that on the frames it pruned "
            f"({sp['pruned']:.1f} mm)")
         + (", so the recovered sequence ignores time even where the token of that very frame was kept. "
            if m("hot_mixste_243") < 0.1 else ". ")
         + (f"It is built with `tra_init={init}` (hotpose/hourglass/init.py): TRA's query of frame t and the temporal "
            "embedding of frame t start at the same fixed sinusoidal code of t, so every output frame starts "
            "distinct and the queries and keys share one code of time. " if init != "official" else "")
         + "With the official init, TRA's queries are one learnt (1, F, C) tensor shared by every window and "
         "initialised to zero, as in the official code; the rank embedding of the kept tokens and the temporal "
         "embedding also start at zero. At that start every output frame reads the same mixture of the kept tokens, "
         "and the keys carry no time signal for the queries to address until the positional embeddings learn one, "
         "which they only do once the queries use it: a symmetric start that training must drift away from.",
    ]
    if "hot_mixste_243_official_init" in R and "split" in R["hot_mixste_243_official_init"]:
        off = R["hot_mixste_243_official_init"]
        t[-1] += (f" The same model with that official init (`hot_mixste_243_official_init`): P1 {_mm(off)}, "
                  f"motion {_motion_range(off)}, against {_mm(hot)} and motion {_motion_range(hot)} with "
                  f"`{init}` ({hot['p1'] - off['p1']:+.1f} mm{spread_word(hot, off, inner=True)}).")
    if (ROOT / "docs/tra_plateau.md").exists():
        t[-1] += (" `python benchmarks/tra_plateau.py` (docs/tra_plateau.md) follows the inits on a synthetic task "
                  "that draws new trajectories at every step, where nothing can be memorised.")
    gaps = [p for p in ("", "long/") if p + "hot_mixste_243" in R and p + "mixste_243" in R
            and m(p + "mixste_243") - m(p + "hot_mixste_243") > MOTION_GAP]
    if gaps:
        p = gaps[-1]
        h, b, li = p + "hot_mixste_243", p + "mixste_243", p + "hot_mixste_243_linear"
        at = f"{R[b]['history'][-1]['step']:,} steps"
        smoother = vel(h) < vel(b)
        t.append(f"- **Less motion than MixSTE{' is not less accuracy' if smoother else ''}.** At {at} HoT w. "
                 f"MixSTE moves {m(h):.2f} of the ground truth's motion inside a window, MixSTE {m(b):.2f}"
                 + (f" and the hourglass with linear recovery {m(li):.2f}" if li in R else "")
                 + ". The motion figure counts every displacement between consecutive predicted frames, jitter "
                 "included: a model that follows the 2D's noise (3 px, outliers, gaps) frame by frame moves more, "
                 "not better. The velocity error says which: MPJVE "
                 f"{vel(h):.1f} mm for HoT w. MixSTE against {vel(b):.1f} mm for MixSTE"
                 + (f" ({vel(li):.1f} mm with linear recovery)" if li in R else "")
                 + (f": HoT's velocity error is {1 - vel(h) / vel(b):.0%} lower, so the motion it lacks is mostly "
                    "MixSTE's jitter, which rebuilding the window from 9 of its 27 tokens smooths away."
                    if smoother else
                    f": HoT's velocity error is {vel(h) / vel(b) - 1:.0%} higher, so it misses motion that MixSTE "
                    "follows.")
                 + "".join(f" At {R[q + 'mixste_243']['history'][-1]['step']:,} steps: motion "
                           f"{m(q + 'hot_mixste_243'):.2f} vs {m(q + 'mixste_243'):.2f}, MPJVE "
                           f"{vel(q + 'hot_mixste_243'):.1f} vs {vel(q + 'mixste_243'):.1f} mm." for q in gaps[:-1])
                 + (" The target (within 0.1 of MixSTE's motion) was set to catch a model stuck on the plateau, "
                    "where the motion is near 0; it is missed here for the opposite reason." if smoother else ""))
    if long_jobs and "split" in R.get("long/hot_mixste_243", {}):
        lh, lb = R["long/hot_mixste_243"], R["long/mixste_243"]
        h, hb = lh["history"], lb["history"]
        k = min(10, len(h) - 1)

        def fall(hist):
            return min(e["val_p1_mm"] for e in hist[-k - 1:-k]) - min(e["val_p1_mm"] for e in hist[-k:])

        t.append(f"- **Longer training{' moves it off the plateau, slowly' if init == 'official' else ''}.** After "
                 f"{h[-1]['step']:,} steps HoT w. MixSTE's motion is {_motion_range(lh)} "
                 f"({hot['history'][-1]['step']:,} steps: {m('hot_mixste_243'):.2f}) and its P1 {verdict(lb, lh)[0]:+.1f} % against MixSTE's "
                 f"({verdict(base, hot)[0]:+.1f} % at {hot['history'][-1]['step']:,} steps)"
                 + (f"; over the last {k} epochs its validation P1 fell by {fall(h):.1f} mm (to "
                    f"{lh['best']['score']:.1f} mm), MixSTE's by {fall(hb):.1f} mm" if 0 < k < len(hb) else "")
                 + f". The official recipe trains for about {OFFICIAL_STEPS:,} steps (160 epochs of ~"
                 f"{OFFICIAL_STEPS // 160:,} batches of 4 clips on Human3.6M); the runs here are "
                 f"{R['mixste_243']['history'][-1]['step']:,} and {h[-1]['step']:,} steps, so the targets measure "
                 "HoT on a small training budget, not the trade-off of fully trained models that the paper reports.")
    tra = [n for n in ("hot_mixste_243", "hot_mixste_243_uniform", "hot_mixste_243_attention",
                       "hot_mixste_243_motion") if n in R and "split" in R[n]]
    if len(tra) > 1:
        p1 = [R[n]["p1"] for n in tra]
        if all(m(n) < 0.1 for n in tra):
            t.append(f"- **The pruning ablation cannot rank the pruners at this budget.** All {len(tra)} of its "
                     f"models recover with TRA and all sit on that plateau (motion {max(m(n) for n in tra):.2f} or "
                     f"less), so their P1 lie within {max(p1) - min(p1):.1f} mm of each other ({min(p1):.1f}-"
                     f"{max(p1):.1f} mm): each predicts about the window's mean pose whichever frames it keeps. The "
                     "recovery ablation's order (linear and nearest ahead of TRA) is the plateau again, not a "
                     "verdict on TRA.")
        else:
            apart = [(x, y) for i, x in enumerate(tra) for y in tra[i + 1:] if beyond_spread(R[x], R[y])]
            seeds = len(hot.get("by_seed", []))
            t.append(f"- **The pruners.** All {len(tra)} recover with TRA"
                     + (" and have left the plateau" if all(m(n) >= 0.1 for n in tra) else "")
                     + f" (motion {min(m(n) for n in tra):.2f}-{max(m(n) for n in tra):.2f}); their P1 span "
                     f"{max(p1) - min(p1):.1f} mm ({min(p1):.1f}-{max(p1):.1f} mm) and "
                     + (f"{len(apart)} of the {len(tra) * (len(tra) - 1) // 2} pairs differ beyond the seed spread "
                        f"({', '.join(f'`{x}` / `{y}`' for x, y in apart)})." if apart else
                        f"no pair differs beyond the seed spread: with {seeds} seeds, the choice of the 9 kept frames "
                        "changes P1 less than the seed does at this budget." if seeds > 1 else
                        "one seed per model, so no difference between them is established.")
                     + " The paper's pruners differ by 0.4-1.8 mm on Human3.6M after full training (41.0-42.8 mm).")
            t[-1] += swap_said(R)
    mb, hmb = R["motionbert_243"], R["hot_motionbert_243"]
    ahead = hmb["p1"] < mb["p1"]
    t.append(f"- **MotionBERT.** HoT w. MotionBERT ({_mm(hmb)}, motion {_motion_range(hmb)}) "
             f"{'is ahead of' if ahead else 'trails'} MotionBERT ({_mm(mb)}, motion {_motion_range(mb)}"
             f"{spread_word(hmb, mb, inner=True)})"
             + (" although it, too, predicts about one pose per window" if ahead and m("hot_motionbert_243") < 0.1
                else "")
             + ": both are far from trained at this budget (validation P1 at the last epoch: MotionBERT "
             f"{mb['history'][-1]['val_p1_mm']:.1f} mm, HoT w. MotionBERT {hmb['history'][-1]['val_p1_mm']:.1f} mm)"
             + (", and a window's mean pose is a good part of the answer." if ahead and m("hot_motionbert_243") < 0.1
                else "."))
    return "\n".join(t) + "\n"


SWAP = ROOT / "benchmarks" / "results" / "pruner_swap.json"
# A run's own-pruner P1 in pruner_swap.json and in its record: the same evaluation, equal but for float rounding on
# another CPU (TPC's near-ties can flip a few windows' kept frames).
SAME_RUN_MM = 0.05


def pruner_swap(R: dict, path: Path | None = None) -> dict:
    """benchmarks/pruner_swap.py's scores of the pruning ablation's models with every pruner's kept frames, averaged
    over the seeds of R whose run it scored (an entry counts only if its own-pruner P1 is the one R holds for that
    seed): {model: {"trained": pruner, "seeds": [...], "p1": {test pruner: mean P1}}}; {} without the file."""
    path = path or SWAP
    if not path.exists():
        return {}
    rows = json.loads(path.read_text())["rows"]
    out = {}
    for name, r in R.items():
        got = {}
        for s in r.get("by_seed", []):
            e = rows.get(f"{name}@{s['seed']}")
            if e and abs(e["p1"][e["trained"]] - s["p1"]) <= SAME_RUN_MM:
                got[s["seed"]] = e
        if got:
            out[name] = {"trained": next(iter(got.values()))["trained"], "seeds": len(got),
                         "p1": _mean([e["p1"] for e in got.values()]),
                         "by_seed": {k: e["p1"] for k, e in got.items()}}
    return out


def swap_said(R: dict) -> str:
    """What the crossed table says about TPC against the pruner that beat it (if one did): how much of the gap the
    frames chosen at test time explain, and how much the training with them. "" without the table's figures."""
    S = pruner_swap(R)
    pruners = [n for n in S if n in R]
    if "hot_mixste_243" not in pruners or len(pruners) < 2:
        return ""
    first = min(pruners, key=lambda n: R[n]["p1"])
    if first == "hot_mixste_243":
        return ""
    common = sorted(S["hot_mixste_243"]["by_seed"].keys() & S[first]["by_seed"].keys())
    if not common:
        return ""
    q = S[first]["trained"]
    t, f = (_mean([S[n]["by_seed"][k] for k in common]) for n in ("hot_mixste_243", first))
    frames = t[q] - t["tpc"]  # TPC's weights: the other pruner's frames instead of its own
    training = t[q] - f[q]  # the same (the other pruner's) frames: TPC's weights against the other's
    return (f" Why TPC trails `{first}` (the crossed table below the pruning ablation): on TPC's weights, {q} frames "
            f"instead of TPC's change P1 by {frames:+.1f} mm ({t['tpc']:.1f} -> {t[q]:.1f} mm); on the same "
            f"{q} frames, TPC's weights score {training:+.1f} mm against `{first}`'s ({t[q]:.1f} vs {f[q]:.1f} mm). "
            + ("So the gap is in what training gave the weights, not in the frames TPC keeps at test time"
               if abs(frames) < abs(training) / 2 else
               "So the frames TPC keeps at test time explain most of the gap" if abs(training) < abs(frames) / 2 else
               "The frames and the training each explain part of the gap")
            + (f": with the {q} pruner the kept token of each rank is the same frame in every window (frames 1, 4, "
               "..., 25), so the rank embedding added to it also names its time, while with TPC the same rank "
               "names different frames in different windows, a likely reason." if q == "uniform" and
               abs(frames) < abs(training) / 2 else ".")
            + (f" Means over the {len(common)} seeds both were scored on." if len(common) > 1 else " One seed."))


def swap_lines(S: dict) -> list[str]:
    """The crossed table: a row per trained model, a column per pruner at test time (mean P1 over seeds)."""
    cols = list(next(iter(S.values()))["p1"])
    lines = ["Each model scored with every pruner's kept frames (`python benchmarks/pruner_swap.py`, then this "
             "script; `hotpose evaluate --pruner`): a row is one training, a column the frames chosen at test time; "
             "P1 mm, mean over the seeds scored, the model's own pruner in bold.\n",
             "| trained with | seeds | " + " | ".join(f"{q} frames" for q in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for n, r in S.items():
        lines.append(f"| {r['trained']} (`{n}`) | {r['seeds']} | " + " | ".join(
            f"**{v:.1f}**" if q == r["trained"] else f"{v:.1f}" for q, v in r["p1"].items()) + " |")
    return lines + [""]


def ordering_line(title: str, names: list, R: dict) -> str:
    """Our P1 order of ``names`` against the paper's; with several seeds, whether the pairs that the two orders
    disagree on differ beyond the seed spread."""
    from hotpose.paper import PAPER

    ours = sorted(names, key=lambda n: R[n]["p1"])
    paper = sorted(names, key=lambda n: PAPER[n].mpjpe)
    here = " < ".join(f"`{n}` {R[n]['p1']:.1f}" for n in ours)
    there = " < ".join(f"`{n}` {PAPER[n].mpjpe}" for n in paper)
    line = f"- {title}: here {here}; paper {there} — **{'same ordering' if ours == paper else 'ordering differs'}**"
    swapped = [(x, y) for i, x in enumerate(ours) for y in ours[i + 1:] if paper.index(y) < paper.index(x)]
    if swapped and all(len(R[n].get("by_seed", [])) > 1 for n in names):
        beyond = [f"`{x}` < `{y}`" for x, y in swapped if beyond_spread(R[x], R[y])]
        rest = "; the other pairs in the other order within it" if len(beyond) < len(swapped) else ""
        line += (f" ({', '.join(beyond)} beyond the seed spread{rest})" if beyond else
                 " (every pair in the other order differs within the seed spread)")
    return line + "."


def render(models, jobs, R, a, started, total_s, long_jobs=()) -> str:
    from hotpose.paper import PAPER

    ov = {n: o for n, o, _ in list(jobs) + list(long_jobs)}
    L = []
    w = L.append
    argv = " ".join(x for x in sys.argv[1:] if x != "--keep")
    w("# Results: HoT at small scale on real motion capture (issue 5, part 1)\n")
    w("Written by `benchmarks/experiments.py`; every figure below is one it printed in the run of " + started
      + (" (the training and test figures of finished runs read back from their `result.json`, which the runs "
         "wrote when they finished; a run is reused only if its saved config equals the one the script builds)"
         if a.keep else "") + ".\n")
    w("```bash\npython benchmarks/experiments.py" + (f" {argv}" if argv else "") + "\n```\n")
    trained = sum((R[n]["train_s"] + R[n]["eval_s"]) * len(R[n].get("seeds", [1])) for n in ov)
    nseeds = len(R["mixste_243"].get("seeds", [1]))
    w(f"Training and evaluation: {trained / 60:.0f} min of one-thread jobs summed over the models, "
      f"{a.jobs} at a time on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), torch "
      f"{__import__('torch').__version__}" + (f"; this pass of the script: {total_s / 60:.1f} min"
                                              + (" (finished runs reused with --keep)" if a.keep else "")) + ".\n")
    w("## Setup\n")
    from hotpose.engine.config import load_config

    cfg = load_config(BASE, [f"data.train_subjects=[{a.train_subjects}]"] if a.train_subjects else [])
    dc, tc = cfg.data, cfg.train
    w(f"- Data: Bandai-Namco motion (`../shared/data/bandai`, CC BY-NC 4.0, read in place), 30 fps. Train: "
      f"{', '.join(dc.train_subjects)} seen through the pooled cameras of the Human3.6M training subjects "
      f"{' '.join(dc.camera_subject)} ({dc.views_per_action} cameras drawn per clip), {dc.val_fraction:.0%} of the "
      f"clips held out for validation (model selection: best validation P1). Test: {', '.join(dc.test_subjects)} "
      f"through the {' and '.join(dc.test_camera_subject)} cameras ({dc.views_per_action} per clip). 2D = "
      f"projection with {dc.noise_px:g} px noise, {dc.outlier_prob:.0%} outliers of {dc.outlier_px:g} px and "
      f"{dc.missing_prob:.0%} missing joints filled by interpolation, in every split; flip augmentation in training. "
      f"Config: `{BASE}`.\n")
    w(f"- Models: 27 frames, C = 64, MLP 128, 4 stages; hourglass models keep 9 of 27 frames before stage 1 "
      f"(MotionBERT: DSTformer with dim_rep 128). Recipe: AdamW lr {tc.lr:g}, wd {tc.weight_decay:g}, "
      f"x{a.lr_decay:g} per epoch, batch {tc.batch_size}, {a.epochs} epochs of {a.steps} steps "
      f"({R['mixste_243']['history'][-1]['step']} steps in all), "
      + (f"seed {tc.seed}" if nseeds == 1 else f"seeds {', '.join(map(str, R['mixste_243']['seeds']))} (each figure "
         "the mean over the seeds, P1 and motion with their min-max range over the seeds in brackets)")
      + f"; MixSTE-family loss `{tc.loss}`; "
      "the MotionBERT family uses its own recipe's loss (`motionbert`) and learning rate (5e-4).\n")
    w("- P1 / P2: test split, flip on, mean over action groups, official protocol (`hotpose evaluate`); TPC w. "
      "MixSTE is read out seq2frame (one window per frame, its centre). FLOPs per 27-frame window at batch 1, both "
      "conventions of `hotpose.efficiency`; throughput: output frames/s at batch 1, one thread, measured after "
      "training with nothing else running (seq2frame: 1 output frame per window). Training time: wall clock of "
      f"`train()` including per-epoch validation, with {a.jobs} jobs sharing the {os.cpu_count()} cores, summed over "
      "the sessions of a resumed run (\">=\": a run resumed from before the engine timed its epochs, which counts "
      "only its last session).\n")

    def rng(n, key, fmt):
        return seed_range(R[n], key, fmt)

    def row(n):
        r = R[n]
        paper = PAPER.get(n)
        speed = f"{r['split']['speed']:.2f}{rng(n, 'motion', '.2f')}" if "split" in r else "-"
        return (f"| `{n}` | {r['params'] / 1e3:.1f} k | {r['flops_paper'] / 1e6:.1f} M | {r['flops_full'] / 1e6:.1f} M "
                f"| {r['fps']:,.0f} | **{r['p1']:.1f}**{rng(n, 'p1', '.1f')} | {r['p2']:.1f} | {speed} | "
                f"{r['mpjve']:.1f} | "
                f"{train_time(r)} | "
                f"{paper.mpjpe if paper and paper.mpjpe else '-'} |")

    head = ("| model | params | FLOPs (paper) | FLOPs (full) | CPU frames/s | P1 mm | P2 mm | motion | MPJVE mm | "
            "training | paper P1 (H36M) |\n|---|---|---|---|---|---|---|---|---|---|---|")
    w("- Motion: mean joint displacement between consecutive frames inside a window, predicted / ground truth "
      "(strict protocol, flip on). Near 0 means the model gives about the same pose to every frame of its window "
      "(the window's mean pose); 1 means as much motion as the ground truth. Not defined for seq2frame models "
      "(one frame per window). Jitter counts as motion: a model that follows the 2D's noise frame by frame moves "
      "more, not better. MPJVE: the velocity error (mean over joints and frame pairs of the difference between the "
      "predicted and the true displacement between consecutive frames, mm per frame, official protocol), which separates the "
      "two: low when the predicted motion is the true one.\n")
    w("## MixSTE, HoT w. MixSTE, TPC w. MixSTE; MotionBERT, HoT w. MotionBERT\n")
    w(head)
    for n, _, g in models:
        if g == "main":
            w(row(n))
    w("")

    def split_table(group, extra):
        w("| model | params | FLOPs (paper) | FLOPs (full) | CPU frames/s | P1 mm | P2 mm | motion | MPJVE mm | "
          "training | paper P1 (H36M) | MPJPE all | selected frames | pruned frames |\n|---|---|---|---|---|---|---|---|"
          "---|---|---|---|---|---|")
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
    S = pruner_swap(R)
    if S:
        for line in swap_lines(S):
            w(line)
    w("## Recovery ablation (TRA = `hot_mixste_243`, nearest, linear interpolation; TPC pruning)\n")
    split_table("recovery", ["hot_mixste_243"])

    # the issue's criterion, at every training budget run
    def steps(n):
        return R[n]["history"][-1]["step"]

    w(targets(R, long_jobs))
    still = [n for n in ov if len(R[n]["history"]) > 1
             and R[n]["history"][-1].get("val_p1_mm", 0) < R[n]["history"][-2].get("val_p1_mm", 0)]
    w(f"Validation P1 (mean over seeds) still fell in the last epoch for {len(still)} of {len(ov)} models "
      f"({', '.join(f'`{n}`' for n in still) or 'none'})"
      + ("; one seed per model, so the seed-to-seed spread was not measured and differences of a few mm between "
         "models are not established.\n" if nseeds == 1 else
         f"; {nseeds} seeds per model: a difference is called beyond the seed spread when the two models' P1 ranges "
         "over the seeds do not overlap.\n"))
    if nseeds > 1:
        w("### Differences against the seed spread\n")
        pairs = [("hot_mixste_243", "mixste_243"), ("hot_mixste_243", "hot_mixste_243_official_init"),
                 ("tpc_mixste_243_81", "mixste_243"), ("hot_motionbert_243", "motionbert_243")]
        pairs += [(n, "hot_mixste_243") for n in ("hot_mixste_243_uniform", "hot_mixste_243_attention",
                                                  "hot_mixste_243_motion", "hot_mixste_243_nearest",
                                                  "hot_mixste_243_linear")]
        pairs += [(f"long/{n}", "long/mixste_243") for n in LONG if n != "mixste_243"]
        for x, y in pairs:
            if x in R and y in R:
                (x0, x1), (y0, y1) = p1_range(R[x]), p1_range(R[y])
                w(f"- `{x}` {R[x]['p1']:.1f} ({x0:.1f}-{x1:.1f}) vs `{y}` {R[y]['p1']:.1f} ({y0:.1f}-{y1:.1f}) mm: "
                  f"{R[x]['p1'] - R[y]['p1']:+.1f} mm, "
                  + ("**beyond the seed spread**" if beyond_spread(R[x], R[y]) else "within the seed spread"))
        w("")
    w(why(R, long_jobs))
    d = R.get("default_model")
    if d:
        w(default_section(d))
    if long_jobs:
        w(f"## Longer training: {', '.join(f'`{n}`' for n in LONG)}\n")
        w(f"The same models and recipe for {a.long_epochs} epochs of at most {a.steps} steps "
          f"({steps('long/mixste_243')} steps), the learning rate decayed by {long_decay(a):g} per epoch so that it ends "
          f"where the short runs' ends.\n")
        w("| model | steps | P1 mm | P2 mm | motion | MPJVE mm | MPJPE all | selected frames | pruned frames | "
          "training |\n|---|---|---|---|---|---|---|---|---|---|")
        for n, _, _ in long_jobs:
            r, sp = R[n], R[n].get("split", {})
            cells = " | ".join(f"{sp[k]:.1f}" if k in sp else "-" for k in ("all", "selected", "pruned"))
            w(f"| `{n.split('/', 1)[1]}` | {steps(n)} | **{r['p1']:.1f}**{seed_range(r, 'p1', '.1f')} | "
              f"{r['p2']:.1f} | "
              f"{motion(R[n]):.2f}{seed_range(r, 'motion', '.2f')} | {r['mpjve']:.1f} | {cells} | {train_time(r)} |")
        w("")
    w("## Orderings compared with the paper\n")
    for title, names in (("main (MixSTE family)", ["mixste_243", "hot_mixste_243", "tpc_mixste_243_81"]),
                         ("main (MotionBERT family)", ["motionbert_243", "hot_motionbert_243"]),
                         ("pruning", ["hot_mixste_243", "hot_mixste_243_uniform", "hot_mixste_243_attention",
                                      "hot_mixste_243_motion"]),
                         ("recovery", ["hot_mixste_243", "hot_mixste_243_nearest", "hot_mixste_243_linear"])):
        w(ordering_line(title, names, R))
    w("")
    w("## Validation P1 by epoch (mm)\n")
    w("| model | " + " | ".join(f"epoch {i + 1}" for i in range(a.epochs)) + " |")
    w("|---|" + "---|" * a.epochs)
    for n, _, _ in models:
        w(f"| `{n}` | " + " | ".join(f"{h.get('val_p1_mm', float('nan')):.1f}" for h in R[n]["history"]) + " |")
    if long_jobs:
        every = max(1, a.long_epochs // 12)
        marks = [e for e in range(every - 1, a.long_epochs, every)]
        w("\nLong runs, " + (f"every {every} epochs" if every > 1 else "every epoch") + ":\n")
        w("| model | " + " | ".join(f"epoch {e + 1}" for e in marks) + " |")
        w("|---|" + "---|" * len(marks))
        for n, _, _ in long_jobs:
            h = R[n]["history"]
            w(f"| `{n}` | " + " | ".join(f"{h[e].get('val_p1_mm', float('nan')):.1f}" for e in marks if e < len(h))
              + " |")
    w("")
    w("## Commands (each model; what the script runs through the engine's functions)\n")
    w("```bash")
    for n in ov:
        out = next(o.split("=", 1)[1] for o in ov[n] if o.startswith("out="))
        w(f"hotpose train {BASE} {shell(ov[n])} --threads 1")
        w(f"hotpose evaluate {out} --threads 1")
    w("```\n")
    if nseeds > 1:
        w(f"The other seeds: the same commands with `train.seed=<s>` and `seed<s>` in `out`, for s in "
          f"{', '.join(map(str, R['mixste_243']['seeds'][1:]))}.\n")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
