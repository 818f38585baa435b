"""Does a wider, deeper default lifter train at all, and what makes it? A short probe of the first optimiser steps.

    python benchmarks/warmup_probe.py                 # the three variants below, 60 steps each (about 10 min)
    python benchmarks/warmup_probe.py --steps 150     # longer

Each variant is ``hotpose train configs/lifter/default.yaml`` on a small slice of its data (subject B1, one view
per clip), batch 32, ``--steps`` optimiser steps in epochs of 10 (validation after each: the 1 % validation split),
seed 1, one thread, the config's lr (1e-3):

* ``C64 d6``: the packaged default's size (dim 64, MLP 128, depth 6), no warm-up;
* ``C96 d8``: dim 96, MLP 192, depth 8, no warm-up;
* ``C96 d8 + warm-up``: the same with ``train.warmup_steps=40``.

After the last step, *spread*: how much the model's output depends on its input, the mean distance (mm, over joints
and frames) of each window's prediction from the mean prediction over 64 training windows (drawn with seed 0). A run has
*collapsed* when its spread is below 5 mm: it gives one pose for every input (the ground truth's spread over the
same windows is printed beside it). Writes benchmarks/results/warmup_probe.json and prints the training MPJPE and
validation P1 of each epoch.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = "configs/lifter/default.yaml"
COLLAPSED_MM = 5.0  # output spread below this: one pose for every input
VARIANTS = {
    "C64 d6": [],
    "C96 d8": ["model.args.dim=96", "model.args.mlp_hidden=192", "model.args.depth=8"],
    "C96 d8 + warm-up": ["model.args.dim=96", "model.args.mlp_hidden=192", "model.args.depth=8",
                         "train.warmup_steps=40"],
}


def probe(extra: list[str], steps: int, out: Path) -> dict:
    import torch

    from hotpose.data.config import load_splits
    from hotpose.data.windows import Windows
    from hotpose.engine import checkpoint as ckpt
    from hotpose.engine.config import load_config
    from hotpose.engine.train import train

    torch.set_num_threads(1)
    cfg = load_config(str(ROOT / CONFIG),
                      ["data.train_subjects=[B1]", "data.views_per_action=1", "train.batch_size=32",
                       f"train.epochs={-(-steps // 10)}", "train.steps_per_epoch=10", "train.seed=1",
                       f"out={out}"] + extra)
    if not Path(cfg.data.root).is_absolute():
        cfg.data.root = str(ROOT / cfg.data.root)
    t0 = time.perf_counter()
    history = train(cfg, device="cpu", progress=False)["history"]
    seconds = time.perf_counter() - t0
    model = ckpt.model_from_checkpoint(ckpt.load_checkpoint(out / ckpt.LAST)).eval()
    windows = Windows(load_splits(cfg.data, ["train"])["train"], model.backbone.frames, model.backbone.frames,
                      channels=model.backbone.in_channels)
    x, y = windows.batch(torch.randperm(len(windows), generator=torch.Generator().manual_seed(0))[:64])
    with torch.inference_mode():
        pose = model(x).pose  # (B, F, J, 3): a seq2seq model, every frame

    def spread(p):
        return float((p - p.mean(0, keepdim=True)).norm(dim=-1).mean() * 1000)

    return {"overrides": extra, "train_mpjpe_mm": [round(h["train_mpjpe_mm"], 1) for h in history],
            "val_p1_mm": [round(h["val_p1_mm"], 1) for h in history], "spread_mm": round(spread(pose), 1),
            "truth_spread_mm": round(spread(y), 1), "collapsed": spread(pose) < COLLAPSED_MM,
            "seconds": round(seconds, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=60, help="optimiser steps per variant (epochs of 10)")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/warmup_probe.json"))
    a = p.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, extra) in enumerate(VARIANTS.items()):
            r = rows[name] = probe(extra, a.steps, Path(tmp) / str(i))
            print(f"{name:18s} train MPJPE by epoch {r['train_mpjpe_mm']}, validation P1 {r['val_p1_mm']}; output "
                  f"spread {r['spread_mm']:.1f} mm (truth {r['truth_spread_mm']:.1f})"
                  f"{': COLLAPSED' if r['collapsed'] else ''} ({r['seconds']:.0f} s)", flush=True)
    Path(a.out).write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": "python benchmarks/warmup_probe.py"
        + (f" --steps {a.steps}" if a.steps != 60 else ""), "config": CONFIG, "steps": a.steps,
        "collapsed_below_spread_mm": COLLAPSED_MM, "cpu": platform.processor() or platform.machine(), "variants": rows},
        indent=1) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
