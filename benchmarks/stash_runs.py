"""Carry unfinished training runs from one checkout to the next.

Run folders live under runs/, which git ignores, so a fresh checkout starts without them and an unfinished run of a
multi-session benchmark pass (benchmarks/experiments.py, backbones.py, hierarchical.py with ``--keep``) would train
again from its first step. ``save`` copies what resuming needs (last.pt, best.pt, config.yaml, environment.json,
history.json) of every unfinished run — a folder with last.pt and no result.json — to
benchmarks/results/unfinished/<the folder below runs/>, and drops the copies of runs that have finished since;
``restore`` puts them back where the run folder is missing or behind. Stop the pass first (Ctrl-C: each run writes
its epoch in progress into last.pt and resumes there). The copies are checkpoints with optimiser state (several MB
each), so they are not committed: they stay as uncommitted files, which a new checkout of unfinished work carries
over where it can; a checkout without them retrains those runs from the start.

    python benchmarks/stash_runs.py save       # at the end of a session, after stopping the pass
    python benchmarks/stash_runs.py restore    # at the start of the next, before `... --keep`
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"
STASH = ROOT / "benchmarks" / "results" / "unfinished"
FILES = ("last.pt", "best.pt", "config.yaml", "environment.json", "history.json")


def progress(folder: Path) -> tuple[int, int]:
    """(epoch, steps into the next epoch) that last.pt in ``folder`` holds."""
    import torch

    state = torch.load(folder / "last.pt", map_location="cpu", weights_only=False)
    partial = state.get("partial") or {}
    return int(state.get("epoch", 0)), int(partial.get("steps", 0))


def unfinished(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("last.pt") if not (p.parent / "result.json").exists())


def save() -> int:
    kept = set()
    for run in unfinished(RUNS):
        rel = run.relative_to(RUNS)
        dest = STASH / rel
        dest.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if (run / name).exists():
                shutil.copy2(run / name, dest / name)
        kept.add(dest)
        print(f"saved {rel} (epoch {progress(run)[0]}, {progress(run)[1]} steps into the next)")
    for old in unfinished(STASH) if STASH.exists() else []:
        rel = old.relative_to(STASH)
        record = ROOT / "benchmarks" / "results" / rel.with_suffix(".json")  # what run_one leaves when it finishes
        if old not in kept and ((RUNS / rel / "result.json").exists() or record.exists()):
            shutil.rmtree(old)
            print(f"dropped {rel} (finished)")
    return 0


def restore() -> int:
    if not STASH.exists():
        print("nothing stashed")
        return 0
    for saved in unfinished(STASH):
        rel = saved.relative_to(STASH)
        run = RUNS / rel
        if (run / "result.json").exists():
            print(f"skipped {rel}: the run has finished here")
            continue
        if (run / "last.pt").exists() and progress(run) >= progress(saved):
            print(f"skipped {rel}: the run here is as far or further")
            continue
        run.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if (saved / name).exists():
                shutil.copy2(saved / name, run / name)
        print(f"restored {rel} (epoch {progress(run)[0]})")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("save", "restore"))
    return save() if p.parse_args().action == "save" else restore()


if __name__ == "__main__":
    sys.exit(main())
