"""Why HoT with TRA trails its backbone in short training runs: the plateau at the start of TRA's training.

    python benchmarks/tra_plateau.py            # roughly 45 min on 2 cores; writes docs/tra_plateau.md

A synthetic task with nothing to memorise: every step draws new windows of smooth random joint trajectories
(per joint and axis a sinusoid of random frequency and phase, 27 frames), the input is their x, y (plus a little
noise), the target the 3D trajectory. The same small MixSTE is trained three ways with the same recipe (AdamW
1e-3, batch 32, plain MPJPE, seed 0): without pruning, as HoT (TPC keeps 9 frames before stage 1, TRA recovers 27),
and with the same pruning but linear-interpolation recovery. At regular steps the script prints the training MPJPE
and the *motion* of the predictions: the mean displacement between consecutive predicted frames over the ground
truth's (0: one pose for the whole window; 1: as much motion as the target).

TRA's queries are one learnt (1, F, C) tensor shared by every window, initialised to zero as in the official code;
the rank embedding of the kept frames and the temporal embedding also start at zero. At that start every output
frame reads the same mixture of the kept tokens, so the model predicts one pose per window; and nothing yet pulls
the queries toward addressing frames by time, because the keys carry no time signal until the positional
embeddings learn one, which they do only once the queries use it. Training has to drift off that saddle. The
models without learnt recovery do not start there: MixSTE computes output frame t from frame t's own token, and
linear interpolation places every kept frame at its own time.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = dict(frames=27, dim=64, mlp_hidden=128, depth=4, drop_path=0.0)
HG = dict(keep=9, prune_at=1)
MODELS = [("mixste_243", {}), ("hot_mixste_243", HG), ("hot_mixste_243_linear", HG)]


def trajectories(gen, batch: int, frames: int):
    """(B, F, 17, 2) inputs and (B, F, 17, 3) targets: smooth random trajectories, metres."""
    import torch

    t = torch.linspace(0, 1, frames)[None, :, None, None]
    freq = torch.rand(batch, 1, 17, 3, generator=gen) * 1.5
    phase = torch.rand(batch, 1, 17, 3, generator=gen)
    y = 0.2 * torch.sin(2 * torch.pi * (t * freq + phase))
    return y[..., :2] + 0.005 * torch.randn(batch, frames, 17, 2, generator=gen), y


def run(job) -> dict:
    name, extra, steps, every = job
    import torch

    import hotpose
    from hotpose.metrics import motion_sums

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = hotpose.build_model(name, **SIZE, **extra)
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=0.01)
    gen = torch.Generator().manual_seed(1)
    curve, t0 = [], time.perf_counter()
    loss_sum = motion_sum = 0.0
    for step in range(1, steps + 1):
        x, y = trajectories(gen, 32, SIZE["frames"])
        pred = model(x).pose
        loss = (pred - y).norm(dim=-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            loss_sum += loss.item()
            moved, target = motion_sums(pred, y)
            motion_sum += float(moved / target)
        if step % every == 0:
            curve.append({"step": step, "mpjpe_mm": loss_sum / every * 1000, "motion": motion_sum / every})
            loss_sum = motion_sum = 0.0
            print(f"{name:>22} step {step:5d}  MPJPE {curve[-1]['mpjpe_mm']:6.1f} mm  motion "
                  f"{curve[-1]['motion']:.3f}", flush=True)
    return {"name": name, "curve": curve, "seconds": time.perf_counter() - t0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--every", type=int, default=100, help="steps averaged per printed point")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--doc", default="docs/tra_plateau.md")
    a = p.parse_args()
    os.chdir(ROOT)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    with mp.get_context("spawn").Pool(a.jobs, maxtasksperchild=1) as pool:
        res = {r["name"]: r for r in pool.imap_unordered(run, [(n, e, a.steps, a.every) for n, e in MODELS])}
    Path("runs").mkdir(exist_ok=True)
    Path("runs/tra_plateau.json").write_text(json.dumps(res, indent=1) + "\n")
    names = [n for n, _ in MODELS]

    def plateau_end(curve):
        """First printed step after which the motion stays above 0.5 (None: never)."""
        for i, c in enumerate(curve):
            if all(d["motion"] > 0.5 for d in curve[i:]):
                return c["step"]
        return None

    L = ["# The TRA plateau (synthetic trajectories)\n",
         f"Written by `benchmarks/tra_plateau.py` in the run of {started}; every figure is one it printed.\n",
         "```bash\npython benchmarks/tra_plateau.py" + "".join(f" {x}" for x in sys.argv[1:]) + "\n```\n",
         __doc__.split("\n\n", 2)[2].strip() + "\n",
         f"Models: {', '.join(f'`{n}`' for n in names)} at frames 27, C = 64, MLP 128, 4 stages; {a.jobs} trained at "
         f"once, one thread each, on {os.cpu_count()} CPU cores ({platform.machine()}). Each point is the mean over "
         f"the {a.every} steps before it.\n",
         "| step | " + " | ".join(f"`{n}` MPJPE mm | motion" for n in names) + " |",
         "|---|" + "---|---|" * len(names)]
    for i, point in enumerate(res[names[0]]["curve"]):
        cells = " | ".join(f"{res[n]['curve'][i]['mpjpe_mm']:.1f} | {res[n]['curve'][i]['motion']:.2f}" for n in names)
        L.append(f"| {point['step']} | {cells} |")
    L.append("")
    for n in names:
        end = plateau_end(res[n]["curve"])
        last = res[n]["curve"][-1]
        L.append((f"- `{n}`: motion above 0.5 from step {end} on" if end else f"- `{n}`: motion never stays above 0.5")
                 + f"; last {a.every} steps: MPJPE {last['mpjpe_mm']:.1f} mm, motion {last['motion']:.2f}; "
                 f"{res[n]['seconds'] / 60:.1f} min")
    L.append("")
    Path(a.doc).write_text("\n".join(L) + "\n")
    print(f"wrote {a.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
