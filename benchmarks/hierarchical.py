"""Issue 17, items 3-4: the FLOPs / accuracy frontier of the hierarchical hourglass against one-step HoT.

    python benchmarks/hierarchical.py --seeds 3 --keep      # trains the frontier, writes docs/hierarchical.md + PNG
    python benchmarks/hierarchical.py --design-only         # only the schedule search and the full-size counts

The setup is that of benchmarks/experiments.py (docs/results.md): configs/experiments/base.yaml, its recipe, 27-frame
windows, C 64, MLP 128, 4 stages, trained and scored by ``experiments.run_one`` (imported, not copied), one record
per run in benchmarks/results/<run folder below runs/>.json, which ``--keep`` reuses or resumes.

Schedules at matched FLOPs. MixSTE of that size prunes from stage 1 on. For each target saving (``--targets``,
default 45, 55 and 65 % fewer paper-convention FLOPs than MixSTE of that size) the script takes the one-step point
closest to the target among those that prune before stage 1, as the experiments' HoT does (45 %: its 9 of 27), then the two- and three-step schedules whose FLOPs are closest to
that one-step point's: among the candidates within ``--tolerance`` percentage points of it, the most even pyramid
(the least spread of log(n_k / n_k+1) over 27, n_1, n_2, ...), then the nearest in FLOPs. Every candidate's FLOPs
come from ``count_flops``: a few hundred milliseconds per model is too slow for the ~3,600 candidates, so the script
counts a basis of schedules, fits the exact linear form of the paper convention in the frames each stage, each
pruner pooling and the recovery see, checks it to the FLOP on every counted schedule (a basis and held-out ones),
and counts every chosen schedule again with ``count_flops`` (both conventions). The search is printed.

Each hierarchical schedule recovers with one TRA from the deepest level ("at once"); the first target's (45 %) two-
and three-step schedules are also trained with ``stepwise_recovery`` (level by level): there the intermediate levels
hold the most frames, while at 55 % and 65 % the deeper levels keep 1 to 5 frames, too few for a level-by-level
recovery to mean much (``--no-stepwise``: not). MotionBERT: the
references ``motionbert_243`` and ``hot_motionbert_243`` (9 of 27 before level 1) come from the experiments pass;
one three-step schedule matched to ``hot_motionbert_243`` is trained (``--no-motionbert``: not).

The references ``mixste_243``, ``hot_mixste_243`` (the one-step point 9 of 27 before stage 1), ``motionbert_243``
and ``hot_motionbert_243`` are read from the experiments pass's records
(benchmarks/results/experiments/seed<s>/<name>.json) when their training config and model config equal what
experiments.py builds for the same epochs / steps / seed; otherwise they are trained under this script's ``--runs``
root like every other point. runs/experiments is only read.

Speed: batch-1, one-thread forward time of every point and of MixSTE of the same size, all measured in this process
after training, in ``--speed-rounds`` interleaved rounds; a point's figure is the median over the rounds of
(MixSTE's time / its time) in the same round. The same at the paper's full size (243 frames) for mixste_243,
hot_mixste_243, hhot_mixste_243 and the MotionBERT trio (``--no-full-speed``: not).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import experiments as X  # noqa: E402  (benchmarks/experiments.py: run_one, aggregate, the setup)

SIZE = dict(frames=27, dim=64, mlp_hidden=128, depth=4, drop_path=0.0)
MB_SIZE = {**SIZE, "dim_rep": 128}
MB_RECIPE = ["train.loss=motionbert", "train.lr=5e-4"]
EXP_RUNS = "runs/experiments"
DOC = "docs/hierarchical.md"
PLOT = "docs/hierarchical.png"
# full-size models whose counts (and, unless --no-full-speed, speed) the doc gives
FULL = [("mixste_243", "mixste_243"), ("hot_mixste_243", "mixste_243"), ("hhot_mixste_243", "mixste_243"),
        ("hhot_mixste_243_stepwise", "mixste_243"), ("motionbert_243", "motionbert_243"),
        ("hot_motionbert_243", "motionbert_243"), ("hhot_motionbert_243", "motionbert_243"),
        ("hhot_motionbert_243_stepwise", "motionbert_243")]
FULL_SPEED = ["mixste_243", "hot_mixste_243", "hhot_mixste_243", "motionbert_243", "hot_motionbert_243",
              "hhot_motionbert_243"]


# --- schedules and their FLOPs -----------------------------------------------------------------------------------

def yaml_args(d: dict) -> str:
    """A model.args override: ``{frames: 27, ..., schedule: [[1, 13], [2, 7]]}``."""
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in d.items()) + "}"


def schedule_name(schedule, stepwise: bool = False, family: str = "mixste") -> str:
    """``hhot3_mixste_s1k15_s2k8_s3k4`` (three steps), ``hot_mixste_s1k6`` (one step); ``_stepwise`` appended."""
    steps = "_".join(f"s{s}k{n}" for s, n in schedule)
    head = "hot" if len(schedule) == 1 else f"hhot{len(schedule)}"
    return f"{head}_{family}_{steps}" + ("_stepwise" if stepwise else "")


def build(family: str, schedule=None, stepwise: bool = False):
    """A model of the experiment size: the full backbone (schedule None) or an hourglass with ``schedule``."""
    from hotpose.registry import build_model

    size = MB_SIZE if family == "motionbert" else SIZE
    if schedule is None:
        return build_model(f"{family}_243", **size)
    kw = dict(schedule=[list(s) for s in schedule])
    if stepwise:
        kw["stepwise_recovery"] = True
    return build_model(f"hhot_{family}_243", **size, **kw)


def features(schedule, frames: int, first: int, stages: int) -> list[float]:
    """What the paper convention is linear in: a constant, the frames each prunable stage runs on, the frames every
    pruning step pools over (the pruner's mean over joints), the frames TRA's keys come from (the deepest level)."""
    present, at, pooled = frames, dict(schedule), 0
    per_stage = []
    for s in range(first, stages):
        if s in at:
            pooled += present
            present = at[s]
        per_stage.append(present)
    return [1.0, *map(float, per_stage), float(pooled), float(schedule[-1][1])]


def candidates(frames: int, first: int, stages: int, max_steps: int = 3):
    """Every schedule of 1 .. max_steps steps at stages >= first: kept frames strictly decreasing, 1 .. frames - 1."""
    for k in range(1, max_steps + 1):
        for at in itertools.combinations(range(first, stages), k):
            for kept in itertools.combinations(range(frames - 1, 0, -1), k):  # decreasing
                yield tuple(zip(at, kept))


class FlopModel:
    """Paper-convention FLOPs of any schedule of one backbone at the experiment size, from ``count_flops``: exact
    counts of a basis of schedules fit the linear form of :func:`features`; ``check`` then counts more schedules and
    requires the fit to give every one to the FLOP."""

    def __init__(self, family: str):
        import torch

        from hotpose.efficiency import count_flops

        self.family = family
        base = build(family)
        self.frames, self.first, self.stages = (base.backbone.frames, base.backbone.first_prunable_stage,
                                                base.backbone.num_stages)
        if family == "motionbert":  # hot_motionbert prunes before level 1: schedules start there, as it does
            self.first = max(self.first, 1)
        self.base = count_flops(base, "paper")
        F, f = self.frames, self.first
        basis = [((f, F - 1),), ((f, 2),), ((self.stages - 1, F // 2),), ((f, F // 3),)]
        basis += [((s, n),) for s in range(f + 1, self.stages) for n in (3, F - 2)]
        basis += [((f, F - 3), (self.stages - 1, 2)), ((f, 5), (f + 1, 4)), ((f, F // 2), (f + 1, F // 4), (f + 2, 3))]
        self.counted = {s: count_flops(build(family, s), "paper") for s in basis}
        A = torch.tensor([self.features(s) for s in self.counted], dtype=torch.float64)
        y = torch.tensor(list(self.counted.values()), dtype=torch.float64)
        self.coef = torch.linalg.lstsq(A, y[:, None], driver="gelsd").solution[:, 0]

    def features(self, schedule) -> list[float]:
        return features(schedule, self.frames, self.first, self.stages)

    def __call__(self, schedule) -> int:
        return int(round(float(sum(c * x for c, x in zip(self.coef.tolist(), self.features(schedule))))))

    def check(self, extra) -> int:
        """Count ``extra`` schedules too; raise unless the fit gives every counted schedule exactly. -> how many."""
        from hotpose.efficiency import count_flops

        for s in extra:
            if s not in self.counted:
                self.counted[s] = count_flops(build(self.family, s), "paper")
        wrong = {s: (self(s), c) for s, c in self.counted.items() if self(s) != c}
        if wrong:
            raise RuntimeError(f"{self.family}: the linear form of the paper convention misses {wrong} (fit, counted):"
                               " the counting conventions changed; the search needs another form")
        return len(self.counted)

    def saving(self, flops: float) -> float:
        return 100 * (1 - flops / self.base)


def evenness(schedule, frames: int) -> float:
    """The spread (population std) of the log ratios frames -> n_1 -> n_2 ...; 0 for one step."""
    n = [frames] + [k for _, k in schedule]
    r = [math.log(a / b) for a, b in zip(n, n[1:])]
    return statistics.pstdev(r) if len(r) > 1 else 0.0


def pick(fm: FlopModel, target_flops: float, steps: int, tolerance: float, pool=None):
    """The schedule of ``steps`` steps matched to ``target_flops``: the most even pyramid among those within
    ``tolerance`` percentage points of the backbone's FLOPs, then the nearest; the nearest when none is within.
    -> (schedule, the ranked list of (schedule, flops) looked at)."""
    pool = [s for s in (pool or candidates(fm.frames, fm.first, fm.stages)) if len(s) == steps]
    scored = [(s, fm(s)) for s in pool]
    tol = tolerance / 100 * fm.base
    near = [(s, f) for s, f in scored if abs(f - target_flops) <= tol]
    ranked = (sorted(near, key=lambda sf: (round(evenness(sf[0], fm.frames), 9), abs(sf[1] - target_flops), sf[0]))
              if near else sorted(scored, key=lambda sf: (abs(sf[1] - target_flops), sf[0])))
    return ranked[0][0], ranked


def search(targets: list[float], tolerance: float, motionbert: bool, log=print) -> dict:
    """The schedule search -> {"mixste": {...}, "motionbert": {...}}: per target the one-step point and the matched
    two- and three-step schedules, with the fit's check and the runners-up, for the printout and the doc."""
    out = {}
    fams = ["mixste"] + (["motionbert"] if motionbert else [])
    for fam in fams:
        t0 = time.perf_counter()
        fm = FlopModel(fam)
        pool = list(candidates(fm.frames, fm.first, fm.stages))
        log(f"{fam}: {len(pool)} candidate schedules (1-3 steps at stages {fm.first}..{fm.stages - 1}, "
            f"{fm.frames} frames); {fam}_243 of this size: {fm.base / 1e6:.2f} M paper FLOPs")
        picks = []
        fam_targets = targets if fam == "mixste" else [None]
        for target in fam_targets:
            if target is None:  # MotionBERT: matched to the experiments' one-step point, 9 of 27 before level 1
                one = ((1, 9),)
            else:
                # one-step points prune where the experiments' HoT does: the first prunable stage
                one, _ = pick(fm, fm.base * (1 - target / 100), 1, 0.0, [s for s in pool if s[0][0] == fm.first])
            f1 = fm(one)
            row = {"target": target, "one_step": one, "flops": f1, "saving": fm.saving(f1), "multi": {}}
            log(f"  target {'(hot_motionbert_243)' if target is None else f'{target:g} %'}: one-step "
                f"{list(map(list, one))} {f1 / 1e6:.2f} M ({fm.saving(f1):.1f} % fewer)")
            for k in (2, 3) if fam == "mixste" else (3,):
                s, ranked = pick(fm, f1, k, tolerance, pool)
                row["multi"][k] = s
                row.setdefault("ranked", {})[k] = [(list(map(list, r)), f, round(evenness(r, fm.frames), 3))
                                                   for r, f in ranked[:5]]
                for i, (r, f) in enumerate(ranked[:5]):
                    log(f"    {k} steps {'->' if i == 0 else '  '} {str(list(map(list, r))):<28} "
                        f"{f / 1e6:7.2f} M ({fm.saving(f):5.1f} % fewer, {100 * (f - f1) / fm.base:+.2f} pp from "
                        f"one-step), log-ratio spread {evenness(r, fm.frames):.3f}")
            picks.append(row)
        chosen = [p["one_step"] for p in picks] + [s for p in picks for s in p["multi"].values()]
        checked = fm.check(chosen)
        log(f"  fit checked against count_flops on {checked} schedules (the basis and every chosen one): exact "
            f"({time.perf_counter() - t0:.0f} s)")
        out[fam] = {"base": fm.base, "candidates": len(pool), "checked": checked, "picks": picks,
                    "floor": fm(((fm.first, 1),)),
                    "first": fm.first, "stages": fm.stages, "frames": fm.frames}
    return out


# --- the runs ------------------------------------------------------------------------------------------------------

def points(found: dict, a) -> list[dict]:
    """Every point of the frontier: name, family, registered model, model.args, schedule, recovery, target,
    whether it is an experiments.py reference."""
    P = []

    def add(name, fam, model, args, schedule, recovery, target, ref=False):
        if all(p["name"] != name for p in P):
            P.append(dict(name=name, family=fam, model=model, args=args, schedule=schedule, recovery=recovery,
                          target=target, ref=ref))

    exp_args = {n: args for n, args, _ in X.MODELS}
    add("mixste_243", "mixste", "mixste_243", exp_args["mixste_243"], None, "-", None, True)
    picks = found["mixste"]["picks"]
    for i, p in enumerate(picks):
        one = [list(s) for s in p["one_step"]]
        if one == [[1, 9]]:  # the experiments' hot_mixste_243 point
            add("hot_mixste_243", "mixste", "hot_mixste_243", exp_args["hot_mixste_243"], one, "at once",
                p["target"], True)
        else:
            add(schedule_name(one), "mixste", "hot_mixste_243", yaml_args({**SIZE, "keep": one[0][1],
                                                                           "prune_at": one[0][0]}),
                one, "at once", p["target"])
        for k, s in p["multi"].items():
            s = [list(x) for x in s]
            add(schedule_name(s), "mixste", "hhot_mixste_243", yaml_args({**SIZE, "schedule": s}), s, "at once",
                p["target"])
            if i == 0 and a.stepwise:
                add(schedule_name(s, True), "mixste", "hhot_mixste_243",
                    yaml_args({**SIZE, "schedule": s, "stepwise_recovery": True}), s, "stepwise", p["target"])
    if "motionbert" in found:
        add("motionbert_243", "motionbert", "motionbert_243", exp_args["motionbert_243"], None, "-", None, True)
        add("hot_motionbert_243", "motionbert", "hot_motionbert_243", exp_args["hot_motionbert_243"], [[1, 9]],
            "at once", None, True)
        for p in found["motionbert"]["picks"]:
            for s in p["multi"].values():
                s = [list(x) for x in s]
                add(schedule_name(s, family="motionbert"), "motionbert", "hhot_motionbert_243",
                    yaml_args({**MB_SIZE, "schedule": s}), s, "at once", None)
    return P


def overrides(p: dict, a, seed: int, runs: str | None = None) -> list[str]:
    """The training overrides of one point, as experiments.py writes them (a reference: exactly its own)."""
    if p["ref"]:
        ns = argparse.Namespace(runs=runs or a.runs, epochs=a.epochs, steps=a.steps, lr_decay=a.lr_decay,
                                train_subjects=a.train_subjects)
        return X.overrides_for(p["name"], p["args"], ns, seed=seed) + list(a.set)
    ov = [f"model.name={p['model']}", f"model.args={p['args']}", f"train.epochs={a.epochs}",
          f"train.steps_per_epoch={a.steps}", f"train.lr_decay={a.lr_decay}", f"train.seed={seed}",
          f"out={a.runs}/seed{seed}/{p['name']}"]
    ov += MB_RECIPE if p["family"] == "motionbert" else []
    if a.train_subjects:
        ov.append(f"data.train_subjects=[{a.train_subjects}]")
    return ov + list(a.set)


def experiments_record(p: dict, a, seed: int) -> dict | None:
    """The experiments pass's finished run of a reference at this seed, if its record was made with the config and
    model experiments.py builds now for the same budget; None otherwise (then it is trained here)."""
    from hotpose.engine.config import load_config

    rec = ROOT / "benchmarks" / "results" / "experiments" / f"seed{seed}" / f"{p['name']}.json"
    if not p["ref"] or a.set or not rec.exists():
        return None
    cfg = load_config(X.BASE, overrides(p, a, seed, runs=EXP_RUNS))
    stored = json.loads(rec.read_text())
    if stored["config"] != X.as_json(cfg.to_dict()) or stored["model_config"] != X.as_json(X.model_now(cfg)):
        print(f"{p['name']}@{seed}: {rec.relative_to(ROOT)} has another config or model; training it here", flush=True)
        return None
    return {**stored["result"], "key": f"{p['name']}@{seed}", "record": str(rec.relative_to(ROOT))}


# --- speed -----------------------------------------------------------------------------------------------------------

def speed_ratios(models: dict, base: dict, rounds: int, runs: int, warmup: int = 2) -> dict:
    """{name: (median over rounds of base time / its time, median seconds)}: batch 1, one thread, the models of a
    round timed one after the other, each against its own backbone's time in that round (``base``: name -> the
    name of its full backbone, itself in ``models``)."""
    import torch

    from hotpose.efficiency import measure_throughput

    torch.set_num_threads(1)
    secs = {n: [] for n in models}
    for r in range(rounds):
        for n, m in models.items():
            secs[n].append(measure_throughput(m, batch=1, runs=runs, warmup=warmup)["seconds"])
    out = {}
    for n in models:
        b = secs[base[n]]
        out[n] = (statistics.median(bt / t for bt, t in zip(b, secs[n])), statistics.median(secs[n]))
    return out


def full_size(a) -> list[dict]:
    """The full-size (243-frame) registered models: params, both FLOP conventions, and the speed ratio to their
    backbone unless --no-full-speed."""
    import torch

    from hotpose.efficiency import count_params, flop_counts
    from hotpose.registry import build_model

    rows, models = [], {}
    for n, base in FULL:
        torch.manual_seed(0)
        m = build_model(n).eval()
        c = flop_counts(m)
        rows.append({"name": n, "base": base, "params": count_params(m), "paper": c["paper"], "full": c["full"]})
        if a.full_speed and n in FULL_SPEED:
            models[n] = m
    if models:
        print(f"[{time.strftime('%H:%M:%S')}] full-size speed: {len(models)} models, {a.full_rounds} rounds of "
              f"{a.full_runs} forwards each (batch 1, one thread)", flush=True)
        sp = speed_ratios(models, {n: b for n, b in FULL}, a.full_rounds, a.full_runs, warmup=1)
        for r in rows:
            if r["name"] in sp:
                r["speedup"], r["seconds"] = sp[r["name"]]
    by = {r["name"]: r for r in rows}
    for r in rows:
        r["paper_saving"] = 100 * (1 - r["paper"] / by[r["base"]]["paper"])
        r["full_saving"] = 100 * (1 - r["full"] / by[r["base"]]["full"])
    return rows


# --- the doc --------------------------------------------------------------------------------------------------------

def design() -> str:
    """How schedules, levels and recovery work (hotpose/hourglass/model.py, config.py)."""
    return """## How the hierarchical hourglass works

- **Schedule.** `HourglassConfig.schedule` is a list of `[stage, kept frames]` steps, stages increasing and counts
  decreasing, e.g. `[[2, 121], [4, 61], [6, 27]]` (243 frames -> 121 before stage 2 -> 61 before stage 4 -> 27
  before stage 6). Left unset, the hourglass has the one step `[[prune_at, keep]]`; given, it sets `prune_at` to
  its first stage and `keep` to its last count. One code path serves both: a one-step model builds the same
  parameters and gives the same outputs as before the schedule existed, and its stored config does not mention
  the schedule.
- **Levels.** Before each step's stage, the pruner (TPC, uniform, attention or motion) chooses the step's count
  among the frames still present, from the backbone's pooled features of those frames; the kept positions are
  mapped back to frames of the input window, so each level is a subset of the level before it. With `centre`,
  the window's centre frame survives every step. A learnable rank embedding per step (`pos_embed_token` for the
  first, `level_pos_tokens` for the deeper ones) is added to the kept tokens.
- **keep_idx and levels.** `PoseOutput.keep_idx` is the deepest level (the frames the last stages ran on);
  `PoseOutput.levels` holds every level. Passing `levels` back as `keep_idx` (flip test-time augmentation) repeats
  every step's selection; a model of several steps refuses a single tensor, and the given levels must nest.
- **Recovery.** TRA (or nearest / linear interpolation) restores all frames after the backbone's final norm, either
  at once from the deepest level (one recoverer: the queries of every frame attend to the deepest level's tokens),
  or with `stepwise_recovery` level by level in reverse: level k -> the frames of level k - 1 (the queries of those
  frames only) -> ... -> all frames, one recoverer per step. Stepwise recovery costs one TRA per step, so it has
  more parameters and FLOPs than recovery at once.
- **Registered models.** `hhot_mixste_243` (243 -> 121 before stage 2 -> 61 before stage 4 -> 27 before stage 6)
  and `hhot_motionbert_243` (243 -> 121 before level 1 -> 61 before level 2 -> 27 before level 3), each also
  `_stepwise`. Any model takes `schedule=` and `stepwise_recovery=` as settings (`model.args` in a config).
"""


def full_table(rows: list[dict]) -> str:
    has_speed = any("speedup" in r for r in rows)
    L = ["| model | params | paper FLOPs | below its backbone | full FLOPs | below its backbone"
         + (" | CPU speed-up (batch 1, one thread) |" if has_speed else " |"),
         "|---|---|---|---|---|---" + ("|---|" if has_speed else "|")]
    for r in rows:
        sp = (f" | {r['speedup']:.2f}x ({r['seconds']:.2f} s / window) |" if "speedup" in r else " | - |") \
            if has_speed else " |"
        L.append(f"| `{r['name']}` | {r['params'] / 1e6:.2f} M | {r['paper'] / 1e9:.2f} G | "
                 f"{r['paper_saving']:.1f} % | {r['full'] / 1e9:.2f} G | {r['full_saving']:.1f} %" + sp)
    return "\n".join(L) + "\n"


def search_section(found: dict, tolerance: float) -> str:
    L = ["## The schedules at the experiment size (27 frames, C 64, MLP 128, 4 stages)\n",
         f"Found by the script's search: for each target saving the one-step point closest to it, then the two- and "
         f"three-step schedules within {tolerance:g} percentage point(s) of that point's FLOPs with the most even "
         "pyramid (least spread of the log ratios 27 -> n_1 -> n_2 ...), then the nearest. FLOPs: paper convention, "
         "per 27-frame window, from `count_flops` (the search fits the exact linear form of the convention on counted "
         "schedules and checks it to the FLOP; every schedule below was counted).\n",
         "| family | target | steps | schedule | paper FLOPs | below the backbone | runners-up (FLOPs M, log-ratio "
         "spread) |", "|---|---|---|---|---|---|---|"]
    for fam, f in found.items():
        base = f["base"]
        for p in f["picks"]:
            tgt = f"{p['target']:g} %" if p["target"] is not None else "hot_motionbert_243"
            L.append(f"| {fam} | {tgt} | 1 | `{list(map(list, p['one_step']))}` | {p['flops'] / 1e6:.2f} M | "
                     f"{p['saving']:.1f} % | |")
            for k, s in p["multi"].items():
                r0 = p["ranked"][k][0]
                others = "; ".join(f"`{r}` {fl / 1e6:.1f}, {e:.2f}" for r, fl, e in p["ranked"][k][1:3])
                L.append(f"| {fam} | {tgt} | {k} | `{list(map(list, s))}` | {r0[1] / 1e6:.2f} M | "
                         f"{100 * (1 - r0[1] / base):.1f} % | {others} |")
    for fam, f in found.items():
        deepest = [s[-1][1] for p in f["picks"] for s in [p["one_step"], *p["multi"].values()]]
        L.append(f"\n{fam}: at this size stage 0 always runs on all {f['frames']} frames, so no schedule saves more "
                 f"than {100 * (1 - f['floor'] / f['base']):.1f} % (1 frame kept before stage {f['first']}); the "
                 f"chosen schedules keep {min(deepest)} to {max(deepest)} frames at their deepest level.")
    return "\n".join(L) + "\n"


COLLAPSED_MM = 250.0  # a run whose validation P1 never fell below this never learned (a constant pose: ~360 mm)


def collapsed(r: dict) -> bool:
    """True for a run that collapsed to one pose for every input: its validation P1 stayed above COLLAPSED_MM in
    every epoch (a learning run is below 150 mm after its first epoch on this setup)."""
    vals = [h["val_p1_mm"] for h in r.get("history", []) if h.get("val_p1_mm") is not None]
    return bool(vals) and min(vals) > COLLAPSED_MM


def split_collapsed(per_seed: dict) -> tuple[dict, dict]:
    """(runs that learned, runs that collapsed). A point whose every seed collapsed keeps them (its mean is then
    the collapsed figure, and the doc says so)."""
    bad = {k: r for k, r in per_seed.items() if collapsed(r)}
    names = {k.rsplit("@", 1)[0] for k in per_seed if k not in bad}
    bad = {k: r for k, r in bad.items() if k.rsplit("@", 1)[0] in names}
    return {k: r for k, r in per_seed.items() if k not in bad}, bad


def collapsed_note(bad: dict) -> str:
    """The doc's line on the runs left out of the means."""
    if not bad:
        return ""
    runs = "; ".join(f"`{k.rsplit('@', 1)[0]}` seed {r['seed']} (validation P1 "
                     f"{min(h['val_p1_mm'] for h in r['history']):.0f}-{max(h['val_p1_mm'] for h in r['history']):.0f}"
                     f" mm over its {len(r['history'])} epochs, test P1 {r['p1']:.1f} mm)"
                     for k, r in sorted(bad.items()))
    return (f"Left out of the means and ranges above: {len(bad)} run(s) that collapsed to one pose for every input "
            f"(validation P1 above {COLLAPSED_MM:.0f} mm in every epoch): {runs}. The point's figures are over its "
            "other seeds.\n")


def frontier_rows(P: list[dict], R: dict, E: dict) -> list[str]:
    def rng(r, key, fmt):
        vals = [s[key] for s in r.get("by_seed", []) if s.get(key) is not None]
        return f" ({min(vals):{fmt}}-{max(vals):{fmt}})" if len(vals) > 1 else ""

    L = ["| point | family | schedule | recovery | params | paper FLOPs | below | full FLOPs | below | P1 mm | "
         "P2 mm | motion | CPU speed-up |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in sorted(P, key=lambda p: (p["family"] != "mixste", -E[p["name"]]["paper"])):
        r, e = R[p["name"]], E[p["name"]]
        motion = f"{r['split']['speed']:.2f}{rng(r, 'motion', '.2f')}" if "split" in r else "-"
        sched = f"`{p['schedule']}`" if p["schedule"] else "-"
        L.append(f"| `{p['name']}` | {p['family']} | {sched} | {p['recovery']} | {e['params'] / 1e3:.1f} k | "
                 f"{e['paper'] / 1e6:.1f} M | {e['paper_saving']:.1f} % | {e['full'] / 1e6:.1f} M | "
                 f"{e['full_saving']:.1f} % | **{r['p1']:.1f}**{rng(r, 'p1', '.1f')} | {r['p2']:.1f} | {motion} | "
                 f"{e['speedup']:.2f}x |")
    return L


def verdicts(P: list[dict], R: dict, E: dict) -> list[str]:
    """Where the hierarchical schedules beat one-step HoT and where not, from the figures."""
    seeds = len(R[P[0]["name"]].get("by_seed", [1]))
    L = []
    one = {p["target"]: p for p in P if p["family"] == "mixste" and p["schedule"] and len(p["schedule"]) == 1}
    wins = losses = ties = 0
    for p in P:
        if not p["schedule"] or len(p["schedule"]) == 1:
            continue
        ref = one.get(p["target"]) if p["family"] == "mixste" else next(
            q for q in P if q["name"] == "hot_motionbert_243")
        if ref is None:
            continue
        a, b = R[p["name"]], R[ref["name"]]
        d = a["p1"] - b["p1"]
        df = E[p["name"]]["paper_saving"] - E[ref["name"]]["paper_saving"]
        spread = X.beyond_spread(a, b)
        word = ("beats" if d < 0 else "trails") if (spread or seeds == 1) else "ties with"
        if seeds > 1:
            wins += word == "beats"
            losses += word == "trails"
            ties += word == "ties with"
        L.append(f"- `{p['name']}` ({len(p['schedule'])} steps, recovery {p['recovery']}) **{word}** "
                 f"`{ref['name']}`: P1 {a['p1']:.1f} vs {b['p1']:.1f} mm ({d:+.1f} mm"
                 + (", beyond the seed spread" if spread else (", within the seed spread" if seeds > 1 else
                                                                  ", one seed: spread not measured"))
                 + f") at {df:+.1f} pp of FLOP saving ({E[p['name']]['paper_saving']:.1f} vs "
                 f"{E[ref['name']]['paper_saving']:.1f} % below the backbone); CPU speed-up "
                 f"{E[p['name']]['speedup']:.2f}x vs {E[ref['name']]['speedup']:.2f}x.")
    head = (f"Of the hierarchical points, {wins} beat their matched one-step point beyond the seed spread, {losses} "
            f"trail it beyond the spread and {ties} are within it ({seeds} seeds; a difference counts only when "
            "the P1 ranges over the seeds do not overlap)." if seeds > 1 else
            "One seed per point: the differences below are not tested against a seed spread.")
    # the frontier itself: which points no other point of the family dominates (fewer or equal FLOPs, lower P1)
    front = []
    for fam in ("mixste", "motionbert"):
        fp = [p for p in P if p["family"] == fam]
        for p in fp:
            dominated = any(E[q["name"]]["paper"] <= E[p["name"]]["paper"] and R[q["name"]]["p1"] < R[p["name"]]["p1"]
                            and q is not p for q in fp)
            if not dominated:
                front.append(p["name"])
    return [head, ""] + L + ["", "On the measured frontier (no point of the same family has at most its FLOPs and a "
                                 "lower mean P1): " + ", ".join(f"`{n}`" for n in front) + "."]


def plot(P: list[dict], R: dict, E: dict, path: Path) -> None:
    """FLOPs (% below the backbone) vs P1, one panel per family, min-max bars over seeds. Pillow only."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        print("no plot: Pillow is missing (pip install pillow, or pip install -e '.[video]')", flush=True)
        return
    fams = [f for f in ("mixste", "motionbert") if any(p["family"] == f for p in P)]
    W, H, pad = 430, 360, dict(l=52, r=12, t=30, b=40)
    img = Image.new("RGB", (W * len(fams), H + 48), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    colours = {1: (31, 119, 180), 2: (214, 97, 20), 3: (44, 160, 44), 0: (0, 0, 0)}
    for i, fam in enumerate(fams):
        fp = [p for p in P if p["family"] == fam]
        xs = [E[p["name"]]["paper_saving"] for p in fp]
        ys = [v for p in fp for v in [s["p1"] for s in R[p["name"]].get("by_seed", [R[p["name"]]])]]
        x0, x1 = 5 * math.floor((min(xs) - 2) / 5), 5 * math.ceil((max(xs) + 2) / 5)
        y0, y1 = min(ys) - 2, max(ys) + 2
        ox = i * W

        def X_(v):
            return ox + pad["l"] + (v - x0) / (x1 - x0) * (W - pad["l"] - pad["r"])

        def Y_(v):
            return pad["t"] + (y1 - v) / (y1 - y0) * (H - pad["t"] - pad["b"])

        d.rectangle([X_(x0), Y_(y1), X_(x1), Y_(y0)], outline=(120, 120, 120))
        step = 5 if x1 - x0 <= 40 else 10
        for xv in range(x0, x1 + 1, step):
            d.text((X_(xv) - 6, Y_(y0) + 4), f"{xv}", fill="black", font=font)
        for k in range(6):
            yv = y0 + k * (y1 - y0) / 5
            d.text((ox + 8, Y_(yv) - 6), f"{yv:.1f}", fill="black", font=font)
        d.text((ox + pad["l"], H - 14), "% fewer paper FLOPs than the backbone", fill="black", font=font)
        d.text((ox + pad["l"], 8), f"{fam} family (27 frames): test P1 mm, min-max over seeds", fill="black",
               font=font)
        # lines through each kind's points, in order of FLOPs
        for kind in (1, 2, 3):
            pts = sorted((E[p["name"]]["paper_saving"], R[p["name"]]["p1"]) for p in fp
                         if p["schedule"] and len(p["schedule"]) == kind and p["recovery"] == "at once")
            if len(pts) > 1:
                d.line([(X_(x), Y_(y)) for x, y in pts], fill=colours[kind], width=1)
        for p in fp:
            kind = len(p["schedule"]) if p["schedule"] else 0
            x, y, c = X_(E[p["name"]]["paper_saving"]), Y_(R[p["name"]]["p1"]), colours[kind]
            vals = [s["p1"] for s in R[p["name"]].get("by_seed", [])]
            if len(vals) > 1:
                d.line([(x, Y_(min(vals))), (x, Y_(max(vals)))], fill=c, width=1)
            r = 4
            shape = [x - r, y - r, x + r, y + r]
            fill = None if p["recovery"] == "stepwise" else c
            if kind == 0:
                d.line([(x - r, y - r), (x + r, y + r)], fill=c, width=2)
                d.line([(x - r, y + r), (x + r, y - r)], fill=c, width=2)
            elif kind == 1:
                d.ellipse(shape, fill=fill, outline=c)
            elif kind == 2:
                d.rectangle(shape, fill=fill, outline=c)
            else:
                d.polygon([(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)], fill=fill, outline=c)
    # legend
    ly = H + 10
    items = [(0, "full backbone"), (1, "one step (HoT)"), (2, "two steps"), (3, "three steps"),
             (-1, "hollow: stepwise recovery")]
    lx = 10
    for kind, label in items:
        if kind >= 0:
            c = colours[kind]
            d.rectangle([lx, ly + 2, lx + 8, ly + 10], fill=c)
            lx += 12
        d.text((lx, ly), label, fill="black", font=font)
        lx += 8 + int(d.textlength(label, font=font))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)", flush=True)


def command(a, full: bool) -> str:
    if not full:
        return "python benchmarks/hierarchical.py --seeds 3 --keep"
    argv = [x for x in sys.argv[1:]]
    return "python benchmarks/hierarchical.py" + ("" if not argv else " " + " ".join(argv))


def render(a, found, full_rows, P=None, R=None, E=None, started="", total_s=0.0, bad=None) -> str:
    L = []
    w = L.append
    w("# The hierarchical hourglass: FLOPs / accuracy frontier (issue 17)\n")
    if P is None:
        w("Written by `python benchmarks/hierarchical.py --design-only` (" + started + "): the design, the "
          "full-size counts and the schedules the frontier trains; no training yet. The frontier (table, plot and "
          "verdict) is written by\n")
        w("```bash\n" + command(a, False) + "\n```\n")
        P0 = points(found, a)
        refs = [p["name"] for p in P0 if p["ref"]]
        w(f"which trains {len(P0) - len(refs)} points x 3 seeds on the setup of [docs/results.md](results.md), "
          f"reads the references {', '.join(f'`{n}`' for n in refs)} from the experiments pass's records (or "
          "trains them where the records are missing or do not match), and measures every point's CPU speed in the "
          "same run. The points trained: " + ", ".join(f"`{p['name']}`" for p in P0 if not p["ref"]) + ".\n")
    else:
        w("Written by `benchmarks/hierarchical.py` (" + started + "); every figure below is one it printed in that "
          "run (finished runs read back from their records with --keep).\n")
        w("```bash\n" + command(a, True) + "\n```\n")
    w(design())
    w("## Full size (243 frames): counts" + (" and CPU speed\n" if any("speedup" in r for r in full_rows) else "\n"))
    w("Paper convention: 2 x MACs of Linear / Conv calls (`hotpose.efficiency`); full: every matrix product, "
      "attention included; per 243-frame window at batch 1"
      + ("; speed-up: the backbone's batch-1 one-thread forward time over the model's, median over "
         f"{a.full_rounds} interleaved rounds of {a.full_runs} forwards each, measured in this script's run" if
         any("speedup" in r for r in full_rows) else "")
      + ".\n")
    w(full_table(full_rows))
    w(search_section(found, a.tolerance))
    if P is not None:
        nseeds = len(R[P[0]["name"]].get("seeds", [1]))
        from hotpose.engine.config import load_config

        tc = load_config(X.BASE).train
        w("## Frontier on real motion (27 frames)\n")
        w(f"Setup of [docs/results.md](results.md): `{X.BASE}`, AdamW lr {tc.lr:g} (MotionBERT family 5e-4, its "
          f"loss), x{a.lr_decay:g} per epoch, batch {tc.batch_size}, {a.epochs} epochs of {a.steps} steps"
          + (f", seeds {', '.join(map(str, R[P[0]['name']]['seeds']))} (P1 and motion: mean (min-max) over seeds)"
             if nseeds > 1 else f", seed {R[P[0]['name']]['seeds'][0]}")
          + ". P1 / P2: test split, flip on, mean over action groups; motion: frame_stats of experiments.py "
          "(predicted / ground-truth displacement between consecutive frames). Below: % fewer FLOPs than the "
          "family's full backbone of this size. CPU speed-up: the backbone's batch-1 one-thread forward time over "
          f"the point's, median over {a.speed_rounds} interleaved rounds of {a.speed_runs} forwards in this run"
          + f" ({platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores).")
        refs = [f"`{p['name']}`" for p in P if p["ref"] and all(
            s.get("record") for s in R[p["name"]].get("runs", []))]
        if refs:
            w("\nReferences read from the experiments pass's records: " + ", ".join(refs) + ".")
        w("")
        w("\n".join(frontier_rows(P, R, E)) + "\n")
        if bad:
            w(collapsed_note(bad))
        if Path(a.plot).exists():
            rel = os.path.relpath(Path(a.plot).resolve(), Path(a.doc).resolve().parent)
            w(f"![FLOPs vs P1]({rel})\n")
        w("## Where the hierarchical schedules beat one-step HoT, and where they do not\n")
        w("\n".join(verdicts(P, R, E)) + "\n")
        trained = sum(R[p["name"]]["train_s"] + R[p["name"]]["eval_s"] for p in P)
        w(f"Training and evaluation: {trained / 60:.0f} min of one-thread jobs per seed summed over the points "
          f"(the references' from their records); this pass of the script: {total_s / 60:.1f} min.\n")
        w("## Commands (each point, seed 1; the other seeds: `train.seed=<s>` and `seed<s>` in `out`)\n")
        w("```bash")
        for p in P:
            ov = overrides(p, a, R[p["name"]]["seeds"][0])
            w(f"hotpose train {X.BASE} {X.shell(ov)} --threads 1")
            w(f"hotpose evaluate {next(o.split('=', 1)[1] for o in ov if o.startswith('out='))} --threads 1")
        w("```\n")
    return "\n".join(L) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=100, help="optimiser steps per epoch (batch 32)")
    p.add_argument("--lr-decay", type=float, default=0.9)
    p.add_argument("--train-subjects", default="")
    p.add_argument("--seeds", type=int, default=1, help="seeds per point (1 .. N); the doc gives mean and min-max")
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once, one thread each")
    p.add_argument("--runs", default="runs/hierarchical", help="root of the run folders (<root>/seed<s>/<point>)")
    p.add_argument("--keep", action="store_true", help="reuse / resume finished runs and records that fit")
    p.add_argument("--targets", default="45,55,65", help="target savings, %% fewer paper FLOPs than MixSTE")
    p.add_argument("--tolerance", type=float, default=1.0,
                   help="percentage points of the backbone's FLOPs a matched schedule may be from the one-step point")
    p.add_argument("--no-stepwise", dest="stepwise", action="store_false",
                   help="do not train stepwise recovery (default: the first target's two- and three-step schedules)")
    p.add_argument("--no-motionbert", dest="motionbert", action="store_false")
    p.add_argument("--speed-rounds", type=int, default=7)
    p.add_argument("--speed-runs", type=int, default=20)
    p.add_argument("--no-full-speed", dest="full_speed", action="store_false",
                   help="skip the full-size (243-frame) speed measurement (counts only)")
    p.add_argument("--full-rounds", type=int, default=3)
    p.add_argument("--full-runs", type=int, default=3)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an extra training override for every run (a smoke test); references are then trained here")
    p.add_argument("--design-only", action="store_true",
                   help="no training: write the doc's design, full-size counts and schedule search only")
    p.add_argument("--doc", default=DOC)
    p.add_argument("--plot", default=PLOT)
    a = p.parse_args()
    os.chdir(ROOT)
    import torch

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    if a.seeds < 1:
        p.error("--seeds must be >= 1")
    targets = [float(t) for t in a.targets.split(",") if t]
    print(f"[{time.strftime('%H:%M:%S')}] schedule search", flush=True)
    found = search(targets, a.tolerance, a.motionbert)
    P = points(found, a)
    if a.design_only:
        a.full_speed = False
        Path(a.doc).write_text(render(a, found, full_size(a), started=started))
        print(f"wrote {a.doc} (design only; {len(P)} points would be trained)")
        return 0
    seeds = X.seeds(a)
    per_seed, jobs = {}, []
    for s in seeds:
        for q in P:
            r = experiments_record(q, a, s)
            if r is not None:
                print(f"{q['name']}@{s}: reusing {r['record']}", flush=True)
                per_seed[r["key"]] = r
            else:
                jobs.append((f"{q['name']}@{s}", overrides(q, a, s), a.keep))
    # the MotionBERT family first (the longest runs), seed by seed
    jobs.sort(key=lambda j: (int(j[0].rsplit("@", 1)[1]), "motionbert" not in j[0]))
    print(f"[{time.strftime('%H:%M:%S')}] {len(P)} points x {len(seeds)} seeds: {len(per_seed)} runs reused from "
          f"the experiments pass, {len(jobs)} to train or read back ({a.jobs} at a time, {a.epochs} epochs x "
          f"{a.steps} steps)", flush=True)
    if jobs:
        done = X.run_pool(jobs, a.jobs)
        if done is None:
            return 130
        per_seed.update(done)
    per_seed, bad = split_collapsed(per_seed)
    for k, r in sorted(bad.items()):
        print(f"{k}: collapsed (validation P1 never below {COLLAPSED_MM:.0f} mm): left out of the means", flush=True)
    R = X.aggregate(per_seed)
    for q in P:
        R[q["name"]]["runs"] = [{"seed": r["seed"], "record": r.get("record")} for k, r in per_seed.items()
                                if k.rsplit("@", 1)[0] == q["name"]]
    print(f"[{time.strftime('%H:%M:%S')}] counts and speed of every point (batch 1, one thread, "
          f"{a.speed_rounds} rounds)", flush=True)
    from hotpose.efficiency import count_params, flop_counts
    from hotpose.engine.config import load_config
    from hotpose.registry import build_model

    E, models, base_of = {}, {}, {}
    for q in P:
        cfg = load_config(X.BASE, overrides(q, a, seeds[0]))
        torch.manual_seed(0)
        m = build_model(cfg.model.name, **cfg.model.args).eval()
        c = flop_counts(m)
        E[q["name"]] = {"params": count_params(m), "paper": c["paper"], "full": c["full"]}
        models[q["name"]] = m
        base_of[q["name"]] = f"{q['family']}_243"
    for q in P:
        b = E[base_of[q["name"]]]
        E[q["name"]]["paper_saving"] = 100 * (1 - E[q["name"]]["paper"] / b["paper"])
        E[q["name"]]["full_saving"] = 100 * (1 - E[q["name"]]["full"] / b["full"])
    for n, (ratio, sec) in speed_ratios(models, base_of, a.speed_rounds, a.speed_runs).items():
        E[n]["speedup"], E[n]["ms"] = ratio, sec * 1000
    full_rows = full_size(a)
    total_s = time.perf_counter() - t_start
    for q in P:
        r, e = R[q["name"]], E[q["name"]]
        print(f"{q['name']:<40} {e['paper'] / 1e6:7.1f} M ({e['paper_saving']:5.1f} %) {e['full'] / 1e6:7.1f} M "
              f"P1 {r['p1']:6.1f}  P2 {r['p2']:6.1f}  speed-up {e['speedup']:.2f}x"
              + (f"  motion {r['split']['speed']:.2f}" if "split" in r else ""), flush=True)
    Path(a.runs).mkdir(parents=True, exist_ok=True)
    Path(a.runs, "results.json").write_text(json.dumps({"points": P, "results": R, "efficiency": E,
                                                        "full_size": full_rows}, indent=1, default=str) + "\n")
    plot(P, R, E, Path(a.plot))
    Path(a.doc).write_text(render(a, found, full_rows, P, R, E, started, total_s, bad))
    print(f"wrote {a.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
