"""How good is a lifter's own estimate of absolute scale, and what does a known height buy?

    python benchmarks/scale.py                       # the packaged default model on its own test protocol
    python benchmarks/scale.py --checkpoint runs/x   # a `hotpose train` run (its best.pt), on the same protocol

Protocol (configs/lifter/default.yaml's test split: B2 through 2 of the 8 cameras of S9 and S11 per
clip (its test_views_per_action), projected ground-truth
2D without noise, flip on). Per test view, with the root joint at 0:

* P1: MPJPE of the output as it is (its scale is the model's estimate from the 2D shape);
* N-MPJPE: MPJPE after the best single scale factor per frame (the error left if the scale were known exactly);
* P1 with height: MPJPE after ``scale_to_height(output, stature(ground truth))`` (:mod:`hotpose.skeleton`), i.e.
  what ``lift(..., height_m=...)`` gives a user who knows the person's height (the stature of the view's body, as
  the skeleton module measures it);
* the ratio of the output's stature to the ground truth's: its median and the 5-95 % range over the views.

Writes benchmarks/results/scale_<name>.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="a `hotpose train` run folder or checkpoint (default: the packaged model)")
    p.add_argument("--config", default="configs/lifter/default.yaml", help="whose test split to use")
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from hotpose.data.config import load_splits
    from hotpose.engine import checkpoint as ckpt
    from hotpose.engine.config import load_config
    from hotpose.engine.evaluate import score_sequences
    from hotpose.lifter import Lifter
    from hotpose.metrics import n_mpjpe
    from hotpose.skeleton import scale_to_height, stature

    torch.set_num_threads(1)
    cfg = load_config(ROOT / a.config, ["data.noise_px=0", "data.outlier_prob=0", "data.missing_prob=0"])
    if a.checkpoint:
        path = Path(a.checkpoint)
        model = ckpt.model_from_checkpoint(ckpt.load_checkpoint(path / ckpt.BEST if path.is_dir() else path))
        name = path.name if path.is_dir() else path.stem
    else:
        model, name = Lifter.from_pretrained("default").model, "default"
    import os

    os.chdir(ROOT)
    seqs = load_splits(cfg.data, ["test"])["test"]
    scores = score_sequences(model.eval(), seqs, flip=True, batch_size=256, keep_predictions=True, seed=0)
    err = {"p1": [], "n_mpjpe": [], "p1_height": []}
    ratios, frames = [], 0
    for s, sc in zip(seqs, scores):
        gt = np.asarray(s.targets, np.float64)
        gt = gt - gt[:, :1]
        pred = np.asarray(sc["pred"], np.float64)
        pred = pred - pred[:, :1]
        h = stature(gt)
        ratios.append(stature(pred) / h)
        scaled = scale_to_height(pred, h).astype(np.float64)
        n = len(gt)
        frames += n
        err["p1"].append(np.linalg.norm(pred - gt, axis=-1).mean() * n)
        err["n_mpjpe"].append(float(n_mpjpe(torch.from_numpy(pred), torch.from_numpy(gt))) * n)
        err["p1_height"].append(np.linalg.norm(scaled - gt, axis=-1).mean() * n)
    res = {k: float(np.sum(v) / frames * 1000) for k, v in err.items()}
    r = np.array(ratios)
    res.update({"stature_ratio_median": float(np.median(r)), "stature_ratio_p5": float(np.percentile(r, 5)),
                "stature_ratio_p95": float(np.percentile(r, 95)), "views": len(seqs), "frames": frames,
                "model": name, "config": a.config})
    out = ROOT / "benchmarks" / "results" / f"scale_{name}.json"
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"| model | P1 mm | N-MPJPE mm | P1 with the true height mm | output stature / true (median, 5-95 %) |\n"
          f"|---|---|---|---|---|\n"
          f"| {name} | {res['p1']:.1f} | {res['n_mpjpe']:.1f} | {res['p1_height']:.1f} | "
          f"{res['stature_ratio_median']:.3f} ({res['stature_ratio_p5']:.3f}-{res['stature_ratio_p95']:.3f}) |\n"
          f"({len(seqs)} views, {frames:,} frames, all frames weighted equally; wrote {out.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
