"""The pruning ablation, crossed: each of its trained models scored with every pruner's kept frames.

    python benchmarks/pruner_swap.py            # after benchmarks/experiments.py, from its runs/experiments/seed<s>/

The pruning ablation of docs/results.md trains HoT w. MixSTE four times, once per pruner (TPC, uniform, attention,
motion). When one pruner's model scores better than another's, two things differ: the frames chosen at test time,
and the weights that training with those frames produced. Scoring every trained model with every pruner's frames
(``hotpose evaluate --pruner``; same test protocol, flip on, P1 mean over actions) separates the two: a row is one
training, a column one choice of frames at test time.

Writes benchmarks/results/pruner_swap.json (one entry per trained run, ``<model>@<seed>``, with the run's own P1 as
its experiments record holds it); benchmarks/experiments.py puts the table in docs/results.md from it, using only the
entries whose own-pruner P1 matches the record of the same run. ``--keep`` scores only the runs not in the file yet
(or whose record has changed since). One thread, about 15 s per score.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "pruner_swap.json"
# The pruning ablation's models and the pruner each was trained with (benchmarks/experiments.py's rows).
TRAINED = {"hot_mixste_243": "tpc", "hot_mixste_243_uniform": "uniform", "hot_mixste_243_attention": "attention",
           "hot_mixste_243_motion": "motion"}
PRUNERS = list(TRAINED.values())
sys.path.insert(0, str(Path(__file__).resolve().parent))
from experiments import SAME_RUN_MM  # noqa: E402  the tolerance the doc applies to the same entries


def record_p1(runs: Path, seed: int, name: str) -> float | None:
    """The test P1 the experiments pass recorded for this run (its result.json), None when it has not finished."""
    done = runs / f"seed{seed}" / name / "result.json"
    return json.loads(done.read_text())["p1"] if done.exists() else None


def score(run: Path, pruner: str) -> float:
    from hotpose.engine.evaluate import evaluate_path

    rep = evaluate_path(run, split="test", flip=True, device="cpu", progress=False, pruner=pruner)
    return rep["mean_over_actions"]["p1"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="runs/experiments", help="the experiments' run root (seed<s>/<model>/ below)")
    p.add_argument("--keep", action="store_true", help="score only the runs missing from the file (or changed)")
    a = p.parse_args()
    import torch

    torch.set_num_threads(1)
    runs = ROOT / a.runs
    old = json.loads(OUT.read_text())["rows"] if OUT.exists() else {}
    rows = dict(old) if a.keep else {}
    seeds = sorted(int(d.name[4:]) for d in runs.glob("seed*") if d.name[4:].isdigit())
    todo = [(s, n) for s in seeds for n in TRAINED if record_p1(runs, s, n) is not None]
    if not todo:
        print(f"no finished run of the pruning ablation in {runs}: run benchmarks/experiments.py first",
              file=sys.stderr)
        return 1
    scored = 0
    for i, (s, n) in enumerate(todo, 1):
        key, rec = f"{n}@{s}", record_p1(runs, s, n)
        if a.keep and key in rows and abs(rows[key]["record_p1"] - rec) < 1e-9:
            continue
        scored += 1
        t0 = time.perf_counter()
        p1 = {q: score(runs / f"seed{s}" / n, q) for q in PRUNERS}
        own = p1[TRAINED[n]]
        if abs(own - rec) > SAME_RUN_MM:
            print(f"warning: {key} scores {own:.2f} mm with its own pruner here, {rec:.2f} mm in its record; the "
                  f"doc will leave it out", file=sys.stderr)
        rows[key] = {"trained": TRAINED[n], "record_p1": rec, "p1": p1}
        print(f"[{i}/{len(todo)}] {key}: " + ", ".join(f"{q} {v:.1f}" for q, v in p1.items())
              + f" mm ({time.perf_counter() - t0:.0f} s)", flush=True)
        OUT.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                                   "runs": a.runs, "rows": rows}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({scored} runs scored, {len(rows)} in all)" if scored else
          f"{OUT.relative_to(ROOT)} already holds every finished run ({len(rows)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
