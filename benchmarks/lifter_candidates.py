"""Which sizes of the next default lifter fit the speed target: ``Lifter.lift`` of 30,000 frames with flip in at most
30 s on 2 cores (benchmarks/lifter_targets.py's measurement, on untrained weights: speed does not depend on them).

    python benchmarks/lifter_candidates.py          # every candidate, 3 runs each; run it on an otherwise idle machine

Writes benchmarks/results/lifter_candidates.json and prints a table. Accuracy is the other half of the choice: the
candidates that fit are trained with configs/lifter/default.yaml (``model.args=...``) and scored by
benchmarks/lifter_targets.py.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lifter_targets as lt  # noqa: E402

# (registry name, args): the packaged model today, 81-frame HoT w. MixSTE at three sizes, a wider 27-frame one, the
# frame-wise baseline, and larger 81-frame models that prune earlier or to fewer frames (C 80 / 96, 8 stages).
CANDIDATES = [
    ("hot_mixste_243_linear", dict(frames=27, dim=64, mlp_hidden=128, depth=6, keep=9, prune_at=2)),
    ("hot_mixste_243", dict(frames=81, dim=64, mlp_hidden=128, depth=6, keep=27, prune_at=2)),
    ("hot_mixste_243", dict(frames=81, dim=64, mlp_hidden=128, depth=8, keep=27, prune_at=2)),
    ("hot_mixste_243", dict(frames=81, dim=96, mlp_hidden=192, depth=6, keep=27, prune_at=2)),
    ("hot_mixste_243", dict(frames=27, dim=96, mlp_hidden=192, depth=6, keep=9, prune_at=2)),
    ("framewise_mlp", dict(frames=81)),
    ("hot_mixste_243", dict(frames=81, dim=80, mlp_hidden=160, depth=8, keep=27, prune_at=2)),
    ("hot_mixste_243", dict(frames=81, dim=96, mlp_hidden=192, depth=8, keep=27, prune_at=1)),
    ("hot_mixste_243", dict(frames=81, dim=96, mlp_hidden=192, depth=8, keep=16, prune_at=1)),
]


def main() -> int:
    load = os.getloadavg()[0]
    rows = []
    for name, args in CANDIDATES:
        r = lt.speed(None, model=(name, args), frames=(lt.SPEED_FRAMES[-1],))[lt.SPEED_FRAMES[-1]]
        rows.append({"model": name, "args": args, **r})
        print(f"{name} {args}: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    out = lt.ROOT / "benchmarks" / "results" / "lifter_candidates.json"
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_average": load,
                               "frames": lt.SPEED_FRAMES[-1], "target_s": lt.TARGETS["speed_s"], "rows": rows},
                              indent=1) + "\n")
    print(f"\n| model | args | s for {lt.SPEED_FRAMES[-1]:,} frames (flip, 2 threads) | fits {lt.TARGETS['speed_s']:g} s |"
          "\n|---|---|---|---|")
    for r in rows:
        print(f"| `{r['model']}` | {r['args']} | {r['seconds']:.1f} | {'yes' if r['seconds'] <= lt.TARGETS['speed_s'] else 'no'} |")
    print(f"(load average {load:.2f} at the start; wrote {out.relative_to(lt.ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
