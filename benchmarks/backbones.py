"""PoseFormer, Strided Transformer, P-STMO and STCFormer: the efficiency table at paper size, and a short accuracy run
of each at small size, with and without its hourglass, on the real-motion setup of benchmarks/experiments.py.

    python benchmarks/backbones.py                    # 8 training runs + both sections -> docs/backbones.md
    python benchmarks/backbones.py --keep             # reuse finished runs / records, resume unfinished ones
    python benchmarks/backbones.py --efficiency-only  # only the efficiency section (no training; seconds)

Efficiency: :func:`hotpose.bench.efficiency_rows` (speed off) over every registered model that has a row in the
paper's table (:data:`hotpose.paper.PAPER`) or is a hourglass variant of one of the four backbones, with a note on
each row where our count and the table's differ, every figure in the note counted by this script.

Accuracy: each model is trained and scored by :func:`experiments.run_one` (imported, not copied), from the same base
config (configs/experiments/base.yaml) and budget as the experiments' models (10 epochs x 100 steps, batch 32) with
one seed (1), at 27 frames and widths that give ~0.15-0.35 M parameters like the experiments' ~0.3 M models. So each
finished run leaves runs/<root>/seed1/<model>/result.json and the tracked record
benchmarks/results/<root below runs>/seed1/<model>.json, which ``--keep`` reuses in a later checkout (only if the
run's training config and model config equal today's), and an unfinished run resumes from its last.pt. MixSTE and
HoT w. MixSTE appear as reference rows read from the experiments' records
(benchmarks/results/experiments/seed1/{mixste_243,hot_mixste_243}.json) when those exist; they are not retrained.
Training runs in ``--jobs`` worker processes (default 2), one torch thread each.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import experiments as ex  # noqa: E402  (benchmarks/experiments.py: run_one, overrides_for, BASE, ROOT)

ROOT = ex.ROOT
DOC = "docs/backbones.md"
EFFICIENCY_HEADING = "## Efficiency at paper size\n"
ACCURACY_HEADING = "## Short accuracy runs on real motion capture\n"
FAMILIES = ("poseformer", "strided", "pstmo", "stcformer")  # the backbones (registry names) this page covers
REFERENCES = ("mixste_243", "hot_mixste_243")  # read from the experiments' seed-1 records, not retrained


def flow(args: dict) -> str:
    """``args`` as the YAML flow mapping that ``model.args=...`` takes: {frames: 27, strides: [1, 3, 3]}."""
    def val(v):
        return "[" + ", ".join(map(str, v)) + "]" if isinstance(v, (list, tuple)) else str(v)

    return "{" + ", ".join(f"{k}: {val(v)}" for k, v in args.items()) + "}"


_HG = {"keep": 9, "prune_at": 1}
# (model, model.args, backbone label, size as the doc states it). Every window is 27 frames; the hourglass rows keep
# 9 of them. Strided / P-STMO: with 9 tokens after pruning the STE needs strides [1, 3, 3] (9 -> 9 -> 3 -> 1), as
# tpc_strided_351 sets [1, 9, 13] for 117 of 351; the plain models keep the official 27-frame strides [3, 3, 3].
MODELS = [
    ("stcformer_l_243", {"frames": 27, "dim": 64, "depth": 6}, "STCFormer",
     "C = 64, 6 STC blocks, 8 heads per half, MLP 256"),
    ("hot_stcformer_l_243", {"frames": 27, "dim": 64, "depth": 6, "keep": 9, "prune_at": 2}, "STCFormer",
     "as STCFormer; TPC keeps 9 before block 2, TRA recovers 27"),
    ("poseformer_27", {"frames": 27, "joint_dim": 6, "heads": 2, "depth": 4, "drop_path": 0.0}, "PoseFormer",
     "c = 6 per joint (C = 102), 4 spatial + 4 temporal blocks, 2 heads, MLP x2"),
    ("tpc_poseformer_81", {"frames": 27, "joint_dim": 6, "heads": 2, "depth": 4, "drop_path": 0.0, **_HG},
     "PoseFormer", "as PoseFormer; TPC keeps 9 before temporal block 1 (centre forced)"),
    ("strided_27", {"frames": 27, "dim": 64, "ffn_hidden": 128}, "Strided",
     "C = 64, FFN 128, 3 VTE layers, STE strides [3, 3, 3]"),
    ("tpc_strided_351", {"frames": 27, "dim": 64, "ffn_hidden": 128, "strides": [1, 3, 3], **_HG}, "Strided",
     "as Strided; TPC keeps 9 before VTE layer 1 (centre forced), STE strides [1, 3, 3]"),
    ("pstmo_243", {"frames": 27, "dim": 64, "ffn_hidden": 128}, "P-STMO",
     "C = 64, FFN 128, FC block 128, 4 VTE layers, STE strides [3, 3, 3]"),
    ("tpc_pstmo_243", {"frames": 27, "dim": 64, "ffn_hidden": 128, "strides": [1, 3, 3], **_HG}, "P-STMO",
     "as P-STMO; TPC keeps 9 before VTE layer 1 (centre forced), STE strides [1, 3, 3]"),
]
# Each family's own loss (the engine's): MPJPE (centre frame; TPC: the kept frames; STCFormer: every output frame),
# and for Strided / P-STMO the full-sequence VTE loss at train.aux_weight's default 1. STCFormer is read out seq2seq
# (all frames of non-overlapping windows, as MixSTE here): its centre readout takes one window per test frame.
RECIPE = {n: ["train.loss=mpjpe"] for n, *_ in MODELS}
for _n in ("stcformer_l_243", "hot_stcformer_l_243"):
    RECIPE[_n] = RECIPE[_n] + ["eval.readout=seq2seq"]

# What each family's own recipe (configs/h36m/<family>.yaml) does that these runs do not, and what they keep.
RECIPE_NOTES = {
    "PoseFormer": "kept: MPJPE on the centre frame (TPC: on the kept frames). Dropped: AdamW lr 1e-4, wd 0.1, x0.99 "
                  "per epoch, batch 512, one window per frame; drop_path 0.1 (0 here, as for the experiments' "
                  "models).",
    "Strided": "kept: MPJPE on the centre frame plus the full-sequence VTE loss at weight 1 (`train.aux_weight`, its "
               "default; TPC: on the kept frames), the architecture's dropout (0.1, embedding 0.25). Dropped: Adam "
               "(amsgrad) lr 1e-3, wd 0, x0.95 per epoch and x0.5 every 5th, batch 256, one window per frame; the "
               "optional refine stage.",
    "P-STMO": "kept: as Strided (centre + VTE loss, dropout 0.1). Dropped: the stage-I masked-pose pre-training, "
              "every 2nd frame (`data.frame_step` 2), Adam (amsgrad) lr 1e-3, x0.97 per epoch, batch 160, one window "
              "per frame.",
    "STCFormer": "kept: MPJPE over every output frame, the architecture's dropout (0.1, part embedding 0.5). "
                 "Dropped: every 3rd frame (`data.frame_step` 3), Adam (amsgrad) lr 1e-3, x0.96 per epoch, 42 "
                 "windows per step at stride 3; the centre-frame readout (read out seq2seq here: the centre readout "
                 "scores one whole window per test frame, 27 times the windows, which at this model's CPU speed "
                 "would cost more than its training).",
}


def run_args(a: argparse.Namespace) -> argparse.Namespace:
    """The namespace experiments.overrides_for reads: our budget, one seed, the base config's training subjects."""
    return argparse.Namespace(runs=a.runs, epochs=a.epochs, steps=a.steps, lr_decay=a.lr_decay, train_subjects="",
                              seeds=1, long_epochs=0)


@functools.lru_cache(maxsize=None)
def _base_seed() -> int:
    return ex.seeds(argparse.Namespace(seeds=1))[0]


def seed_of(a: argparse.Namespace) -> int:
    """The one training seed: the base config's (1)."""
    return _base_seed()


def overrides(name: str, args: dict, a: argparse.Namespace) -> list[str]:
    """What ``hotpose train`` gets for one run: the experiments' overrides, then the family's loss (and readout),
    then ``--set`` extras."""
    return ex.overrides_for(name, flow(args), run_args(a), seed=seed_of(a)) + RECIPE.get(name, []) + list(a.set)


# --- efficiency at paper size ---------------------------------------------------------------------------------

def efficiency_names() -> list[str]:
    """Registered models listed in hotpose/paper.py (its order), then any hourglass variant of the four backbones
    that is not."""
    from hotpose.bench import paper_models
    from hotpose.registry import build_model, list_models

    names = paper_models()
    for n in list_models():
        if n not in names:
            c = build_model(n).config
            if c["backbone"] in FAMILIES and c["hourglass"] is not None:
                names.append(n)
    return names


def _hooked_count(model, kinds, per_call) -> int:
    """Sum of ``per_call(module, input, output)`` over the calls of modules of ``kinds`` in one forward pass on
    one window (shapes only: the arithmetic is skipped as efficiency.count_flops skips it)."""
    import torch

    from hotpose import efficiency

    total = 0

    def hook(m, i, o):
        nonlocal total
        total += per_call(m, i, o)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad(), efficiency.ShapesOnly():
            model.eval()(efficiency.example_input(model))
    finally:
        for h in handles:
            h.remove()
    return total


def layernorm_flops(model) -> int:
    """FLOPs of every nn.LayerNorm as thop's normalisation hook counts them: 2 x (4 MACs per element with the
    affine scale and shift, 2 without)."""
    from torch import nn

    return 2 * _hooked_count(model, nn.LayerNorm,
                             lambda m, i, o: (4 if m.elementwise_affine else 2) * i[0].numel())


def grouped_conv_bias_flops(model) -> int:
    """FLOPs of the bias additions of grouped (depthwise) convolutions, 2 per output element, which the paper
    convention leaves out with every other bias."""
    from torch import nn

    return 2 * _hooked_count(model, (nn.Conv1d, nn.Conv2d),
                             lambda m, i, o: o.numel() if m.bias is not None and m.groups > 1 else 0)


def _factory_doc(name: str) -> str:
    """The registered factory's docstring on one line (what the model is, for rows the paper does not have)."""
    from hotpose.registry import MODELS as FACTORIES

    return " ".join((FACTORIES[name].__doc__ or "").split())


def row_note(r: dict) -> str:
    """Why our figures and the table's differ for this row (every number counted here), or what the row is when
    the paper has none; "" when they agree."""
    from hotpose import efficiency
    from hotpose.paper import PAPER
    from hotpose.registry import build_model

    name = r["model"]
    if r["paper_flops_g"] is None and r["paper_params_m"] is None:
        return _factory_doc(name) or "ours: not in the paper"
    params_ok = r["paper_params_m"] is None or round(r["params_m"], 2) == r["paper_params_m"]
    flops_ok = r["paper_flops_g"] is None or round(r["flops_paper_g"], 2) == r["paper_flops_g"]
    if params_ok and flops_ok:
        return "" if PAPER[name].params is not None else "the paper lists no parameters for this ablation row"
    model = build_model(name)
    ours = r["flops_paper_g"]
    if name == "poseformer_81":
        ln = layernorm_flops(model) / 1e9
        return (f"our count leaves out the norms, as for every other row ({ours:.4f} G); counting every LayerNorm "
                f"as thop's normalisation hook does (4 MACs per element) adds {ln:.4f} G: {ours + ln:.4f} G, the "
                f"table's {r['paper_flops_g']:.2f}. The convention is not changed for one row.")
    if name == "pstmo_243":
        bn = efficiency.count_flops(model, "paper", batchnorm=True) / 1e9
        return (f"P-STMO's own figure counts BatchNorm (thop: 2 per element, 4 with the affine): "
                f"`count_flops(..., batchnorm=True)` gives {bn:.4f} G, the table's {r['paper_flops_g']:.2f}; "
                f"without it, as for every other row, {ours:.4f} G.")
    if name == "stcformer_l_243":
        cb = grouped_conv_bias_flops(model) / 1e9
        return (f"the table's {r['paper_flops_g']:.2f} G came from another counter; ours {ours:.4f} G. The bias "
                f"additions of the depthwise convolutions, which our convention leaves out with every other bias, "
                f"are {cb:.4f} G; with them {ours + cb:.4f} G, still {r['paper_flops_g'] - ours - cb:.3f} G short, so "
                f"they are at most part of the difference. No counting rule is added for it.")
    if name == "tpc_motionbert_243":
        return (f"absent from the official code; the build is inferred (121 frames kept before depth level 2, "
                f"centre forced, no recovery; see `hotpose/zoo/motionbert.py`). It counts {ours:.3f} G, which the "
                f"table prints as {r['paper_flops_g']:.2f}.")
    return "differs from the table; not explained here"


def efficiency_section(rows: list[dict]) -> str:
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    L = [EFFICIENCY_HEADING,
         "`hotpose.bench.efficiency_rows(speed=False)` over every registered model listed in `hotpose/paper.py` "
         "(the paper's rows, and our variants beside them) or a hourglass variant of PoseFormer, Strided "
         "Transformer, P-STMO or STCFormer; "
         "`hotpose bench --no-speed --all` prints every registered model. Params in M; FLOPs in G per input window "
         "at batch 1: *paper* = 2 x the MACs of Linear / Conv layers, bias and norms excluded (how the table's "
         "figures were made, see `hotpose/efficiency.py`), *full* = every matrix product, attention included. "
         "Counts, not timings: they do not depend on the machine.\n",
         "| model | row | F | kept | params (ours) | params (table) | FLOPs paper (ours) | FLOPs (table) | "
         "FLOPs full | note |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        L.append(f"| `{r['model']}` | {r['label']} | {r['frames']} | {num(r['kept'], 'd')} | {r['params_m']:.2f} | "
                 f"{num(r['paper_params_m'], '.2f')} | {r['flops_paper_g']:.2f} | {num(r['paper_flops_g'], '.2f')} | "
                 f"{r['flops_full_g']:.2f} | {r['note']} |")
    same = [r for r in rows if r["paper_flops_g"] is not None
            and round(r["flops_paper_g"], 2) == r["paper_flops_g"]
            and (r["paper_params_m"] is None or round(r["params_m"], 2) == r["paper_params_m"])]
    with_paper = [r for r in rows if r["paper_flops_g"] is not None]
    L.append("")
    L.append(f"{len(same)} of the {len(with_paper)} rows with the table's FLOPs reproduce its params and FLOPs to "
             "two decimals; the notes say why the others differ. Rows marked *ours* are hourglass variants that "
             "neither the paper nor the backbones' own code has; the note quotes the docstring of the registered "
             "factory (more in the module docstrings of `hotpose/zoo/`). PoseFormer, Strided and P-STMO predict one "
             "frame per window, so their hourglass is TPC without recovery (seq2frame); STCFormer has both (HoT: "
             "TPC + TRA, and TPC).\n")
    return "\n".join(L) + "\n"


def efficiency_table() -> list[dict]:
    from hotpose.bench import efficiency_rows

    rows = efficiency_rows(efficiency_names(), speed=False)
    for r in rows:
        r["note"] = row_note(r)
    return rows


# --- the short runs ---------------------------------------------------------------------------------------------

def measure(name: str, ov: list[str]) -> dict:
    """Params and FLOPs (both conventions) per 27-frame window of the model a run trains."""
    import torch

    from hotpose.efficiency import count_params, flop_counts
    from hotpose.engine.config import load_config
    from hotpose.registry import build_model

    cfg = load_config(ex.BASE, ov)
    torch.manual_seed(0)
    m = build_model(cfg.model.name, **cfg.model.args)
    f = flop_counts(m)
    return {"params": count_params(m), "flops_paper": f["paper"], "flops_full": f["full"],
            "frames": m.backbone.frames, "kept": m.hourglass.keep if m.hourglass else None}


def reference(name: str, ours_cfg: dict) -> dict | None:
    """A reference row from the experiments' seed-1 record of ``name`` (None if there is none), with the settings
    in which its config differs from ours (model, loss, output folder and readout aside)."""
    rec = ROOT / "benchmarks" / "results" / "experiments" / "seed1" / f"{name}.json"
    if not rec.exists():
        return None
    stored = json.loads(rec.read_text())
    cfg = stored["config"]
    diffs = []
    for section in ("data", "train"):
        keys = sorted(set(cfg[section]) | set(ours_cfg[section]))
        for k in keys:
            if section == "train" and k in ("loss", "aux_weight"):
                continue
            if cfg[section].get(k) != ours_cfg[section].get(k):
                diffs.append(f"{section}.{k} {cfg[section].get(k)} (ours {ours_cfg[section].get(k)})")
    from hotpose.efficiency import count_params, flop_counts
    from hotpose.registry import build_model

    m = build_model(cfg["model"]["name"], **cfg["model"]["args"])
    f = flop_counts(m)
    return {**stored["result"], "params": count_params(m), "flops_paper": f["paper"], "flops_full": f["full"],
            "frames": m.backbone.frames, "kept": m.hourglass.keep if m.hourglass else None,
            "record": str(rec.relative_to(ROOT)), "diffs": diffs, "loss": cfg["train"]["loss"]}


def placeholder(a: argparse.Namespace) -> str:
    """The accuracy section before the runs: the command that writes it and the models it trains (their counts
    only)."""
    L = [ACCURACY_HEADING,
         "Not run in this checkout yet. This section is written by\n",
         "```bash\npython benchmarks/backbones.py --keep\n```\n",
         f"which trains the {len(MODELS)} models below through the engine (each backbone at small size, with and "
         f"without its hourglass; the base config of docs/results.md, {a.epochs} epochs x {a.steps} steps, batch 32, "
         "one seed), scores them on the test split and rewrites this page; `--keep` reuses finished runs and their "
         "tracked records (benchmarks/results/backbones/seed1/) and resumes unfinished ones. Params and FLOPs per "
         "27-frame window of the models it trains (counted now):\n",
         "| model | backbone | size | params | FLOPs / window (paper) | FLOPs / window (full) |",
         "|---|---|---|---|---|---|"]
    for n, args, fam, size in MODELS:
        m = measure(n, overrides(n, args, a))
        L.append(f"| `{n}` | {fam} | {size} | {m['params'] / 1e3:.1f} k | {m['flops_paper'] / 1e6:.1f} M | "
                 f"{m['flops_full'] / 1e6:.1f} M |")
    return "\n".join(L) + "\n"


def accuracy_section(R: dict, refs: dict, a: argparse.Namespace, started: str, total_s: float) -> str:
    from hotpose.engine.config import load_config

    cfg = load_config(ex.BASE, list(a.set))
    dc, tc = cfg.data, cfg.train
    L = [ACCURACY_HEADING]
    w = L.append
    argv = " ".join(x for x in sys.argv[1:] if x != "--keep")
    w(f"Written by `benchmarks/backbones.py` in the run of {started}"
      + (" (finished runs read back from their `result.json` or tracked record, reused only where the run's "
         "training and model configs equal the ones the script builds)" if a.keep else "") + ":\n")
    w("```bash\npython benchmarks/backbones.py" + (f" {argv}" if argv else "") + "\n```\n")
    trained = sum(R[n]["train_s"] + R[n]["eval_s"] for n, *_ in MODELS)
    w(f"Training and evaluation: {trained / 60:.0f} min of one-thread jobs summed over the models, {a.jobs} at a "
      f"time on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), torch "
      f"{__import__('torch').__version__}; this pass of the script: {total_s / 60:.1f} min.\n")
    w("### Setup\n")
    w(f"- Data and test protocol: those of docs/results.md (`{ex.BASE}`): Bandai-Namco motion, train "
      f"{', '.join(dc.train_subjects)}, test {', '.join(dc.test_subjects)} through the "
      f"{' and '.join(dc.test_camera_subject)} cameras, noisy projected 2D; P1 / P2 on the test split, flip on, mean "
      "over action groups (`hotpose evaluate`).")
    w(f"- Recipe for every model: the base config's AdamW lr {tc.lr:g}, wd {tc.weight_decay:g}, x{a.lr_decay:g} per "
      f"epoch, batch {tc.batch_size}, {a.epochs} epoch{'s' if a.epochs != 1 else ''} of {a.steps} steps, "
      "training windows of 27 frames at the base config's positions (the same windows, in the same order, for "
      f"every model), **one seed ({tc.seed})**; each family with its own recipe's loss (the engine's `mpjpe`, "
      "Strided and P-STMO with the full-sequence VTE loss at `train.aux_weight` 1). What else each recipe does and "
      "these runs do not:")
    for fam, note in RECIPE_NOTES.items():
        w(f"  - {fam}: {note}")
    from hotpose.efficiency import count_params
    from hotpose.registry import build_model

    mixste_args = load_config(ex.BASE, [f"model.args={{{ex.SIZE}}}"]).model.args  # the experiments' MixSTE size
    mixste = count_params(build_model("mixste_243", **mixste_args))
    w("- Sizes: 27-frame windows and widths that bring each model near the experiments' ~0.3 M parameters (their "
      f"MixSTE: C = 64, 4 stages, {mixste / 1e6:.2f} M); each hourglass keeps 9 of the 27 frames, where the zoo's "
      "paper-size variant prunes (PoseFormer, Strided, P-STMO: before block / VTE layer 1; STCFormer: before block "
      "2 of 6, a third of the way in as `hot_stcformer_l_243`). The registered names are the models' factories; "
      "`model.args` sets the size (see the commands below).")
    w("- FLOPs per 27-frame window at batch 1 (both conventions of `hotpose.efficiency`); *per output frame*: "
      "divided by the frames a window yields under the readout used (seq2frame: 1, its centre; seq2seq: 27). "
      "Training: wall clock of `train()` including the per-epoch validation (seq2frame models validate one window "
      f"per frame), {a.jobs} job{'s' if a.jobs != 1 else ''} sharing the cores. Motion (seq2seq readouts only): "
      "mean joint displacement between consecutive frames, predicted / ground truth, as in docs/results.md.\n")
    w("| model | backbone | size | params | FLOPs / window (paper) | FLOPs / window (full) | FLOPs / output frame "
      "(paper) | readout | P1 mm | P2 mm | motion | training |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def row(n, fam, size, r):
        per = r["flops_paper"] / (1 if r["readout"] == "seq2frame" else r["frames"])
        mo = f"{r['split']['speed']:.2f}" if "split" in r else "-"
        return (f"| `{n}` | {fam} | {size} | {r['params'] / 1e3:.1f} k | {r['flops_paper'] / 1e6:.1f} M | "
                f"{r['flops_full'] / 1e6:.1f} M | {per / 1e6:.2f} M | {r['readout']} | **{r['p1']:.1f}** | "
                f"{r['p2']:.1f} | {mo} | {r['train_s']:.0f} s |")

    for n, _, fam, size in MODELS:
        w(row(n, fam, size, R[n]))
    for n in REFERENCES:
        if refs.get(n):
            label = "MixSTE (reference)" if n == "mixste_243" else "HoT w. MixSTE (reference)"
            w(row(n, label, "C = 64, MLP 128, 4 stages" + ("; TPC keeps 9 before stage 1, TRA" if "hot" in n else ""),
                  refs[n]))
    w("")
    missing = [n for n in REFERENCES if not refs.get(n)]
    if missing:
        w(f"Reference rows not shown: no record of {', '.join(f'`{n}`' for n in missing)} in "
          "benchmarks/results/experiments/seed1/ yet (written when the experiments' pass trains them; run this "
          "script again with `--keep` to add them without retraining anything).\n")
    shown = [n for n in REFERENCES if refs.get(n)]
    if shown:
        w("The reference rows are read from " + ", ".join(f"`{refs[n]['record']}`" for n in shown)
          + " (seed 1 of the experiments' pass, not retrained; loss "
          + ", ".join(sorted({refs[n]['loss'] for n in shown})) + ", `tra_init` "
          + ", ".join(str(refs[n].get("tra_init")) for n in shown if "hot" in n) + " for HoT). "
          + ("Their data and training settings equal these runs'." if not any(refs[n]["diffs"] for n in shown)
             else "They differ from these runs in: " + "; ".join(f"`{n}`: " + ", ".join(refs[n]["diffs"])
                                                                for n in shown if refs[n]["diffs"]) + ".")
          + "\n")
    w("### With and without the hourglass (one seed)\n")
    for fam in dict.fromkeys(f for _, _, f, _ in MODELS):
        plain, hg = [n for n, _, f, _ in MODELS if f == fam]
        p, h = R[plain], R[hg]
        w(f"- {fam}: `{hg}` vs `{plain}`: P1 {h['p1']:.1f} vs {p['p1']:.1f} mm ({h['p1'] - p['p1']:+.1f} mm, "
          f"{(h['p1'] / p['p1'] - 1) * 100:+.1f} %), paper FLOPs per window {h['flops_paper'] / 1e6:.1f} vs "
          f"{p['flops_paper'] / 1e6:.1f} M ({(1 - h['flops_paper'] / p['flops_paper']) * 100:.0f} % fewer)"
          + (f"; motion {ex.motion(h):.2f} vs {ex.motion(p):.2f} (inside a window the predictions move "
             f"{ex.motion(h):.0%} and {ex.motion(p):.0%} as much as the ground truth)" if "split" in h and "split" in p
             else "") + ".")
    still = [n for n, *_ in MODELS if len(R[n]["history"]) > 1
             and R[n]["history"][-1].get("val_p1_mm", 0) < R[n]["history"][-2].get("val_p1_mm", 0)]
    w(f"\nValidation P1 still fell in the last epoch for {len(still)} of {len(MODELS)} runs"
      + (f" ({', '.join(f'`{n}`' for n in still)})" if still else "") + ".\n")
    w("### What these runs can and cannot say\n")
    w("- **One seed per model.** The seed-to-seed spread of these models was not measured, so differences of a "
      "few mm between any two rows (a backbone with and without its hourglass included) are not established; "
      "larger gaps are indications for this setup and budget, not verdicts.")
    w(f"- **A short budget** ({a.epochs * a.steps} steps of {tc.batch_size} windows), far from the recipes' "
      "hundreds of epochs: the figures rank how fast each model learns under one shared optimiser, not how well "
      "it ends. The recipes' optimisers and schedules were dropped (above) so that the rows differ in the "
      "architecture and loss only; each backbone might do better with its own.")
    w("- **Seq2frame and seq2seq are not the same task per window.** PoseFormer, Strided and P-STMO (and their "
      "TPC variants) are supervised on one frame per window (Strided and P-STMO also on every frame through the "
      "VTE head; TPC on the 9 kept frames) and scored one window per test frame; STCFormer and the MixSTE "
      "references learn and score all 27 frames of a window. Per output frame, seq2frame models pay a whole "
      "window's FLOPs (the *per output frame* column).")
    w("- **Not the paper's numbers.** Other data (Bandai-Namco motion, not Human3.6M), 27 frames instead of "
      "81-351, ~0.3 M parameters instead of 4-19 M: the efficiency section above is the paper-size comparison.\n")
    w("### Commands (each model; what the script runs through the engine's functions)\n")
    w("```bash")
    for n, args, _, _ in MODELS:
        ov = overrides(n, args, a)
        out = next(o.split("=", 1)[1] for o in ov if o.startswith("out="))
        w(f"hotpose train {ex.BASE} {ex.shell(ov)} --threads 1")
        w(f"hotpose evaluate {out} --threads 1")
    w("```\n")
    return "\n".join(L) + "\n"


def render(eff_rows: list[dict], accuracy: str) -> str:
    head = ("# Backbones: PoseFormer, Strided Transformer, P-STMO, STCFormer\n\n"
            "Written by `benchmarks/backbones.py`. Four more backbones under the hourglass seam "
            "(`hotpose/backbones/`, `hotpose/zoo/`), each plain and with the hourglass: the paper's efficiency "
            "table extended to them, and a short accuracy run of each at small size on the real-motion setup of "
            "[docs/results.md](results.md).\n\n")
    return head + efficiency_section(eff_rows) + accuracy


def keep_accuracy(doc: Path) -> str | None:
    """The accuracy section of an existing ``doc`` written by a run (``--efficiency-only`` leaves it as it is), or
    None (no doc, or only the placeholder, which is written again)."""
    if not doc.exists():
        return None
    text = doc.read_text()
    i = text.find(ACCURACY_HEADING)
    if i < 0 or text[i + len(ACCURACY_HEADING):].lstrip().startswith("Not run"):
        return None
    return text[i:]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=100, help="optimiser steps per epoch (batch 32)")
    p.add_argument("--lr-decay", type=float, default=0.9, help="learning-rate factor per epoch")
    p.add_argument("--jobs", type=int, default=2, help="models trained at once, one thread each")
    p.add_argument("--runs", default="runs/backbones", help="root of the run folders (runs/<root>/seed1/<model>)")
    p.add_argument("--keep", action="store_true",
                   help="reuse finished runs (or their records) whose training and model configs equal today's; "
                        "resume unfinished ones")
    p.add_argument("--only", default="", help="comma-separated model names (a partial run; does not write the doc)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an extra config override for every run (repeatable), e.g. data.val_fraction=0.005")
    p.add_argument("--doc", default=DOC)
    p.add_argument("--efficiency-only", action="store_true",
                   help="only the efficiency section (no training); an existing accuracy section is kept")
    a = p.parse_args()
    os.chdir(ROOT)
    import torch

    torch.set_num_threads(1)
    doc = Path(a.doc)
    t_start = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    if a.efficiency_only:
        rows = efficiency_table()
        doc.write_text(render(rows, keep_accuracy(doc) or placeholder(a)))
        print(f"wrote {doc} (efficiency section; {len(rows)} models)")
        return 0
    names = [n for n, *_ in MODELS]
    unknown = [n for n in a.only.split(",") if n and n not in names]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    models = [m for m in MODELS if not a.only or m[0] in a.only.split(",")]
    seed = seed_of(a)
    jobs = [(f"{n}@{seed}", overrides(n, args, a), a.keep) for n, args, _, _ in models]
    print(f"[{time.strftime('%H:%M:%S')}] training {len(jobs)} runs, {a.jobs} at a time, {a.epochs} epochs x "
          f"{a.steps} steps, seed {seed}", flush=True)
    done = ex.run_pool(jobs, a.jobs)
    if done is None:
        return 130
    R = {k.rsplit("@", 1)[0]: r for k, r in done.items()}
    for n, args, _, _ in models:
        R[n].update(measure(n, overrides(n, args, a)))
    from hotpose.engine.config import load_config

    ours = load_config(ex.BASE, jobs[0][1]).to_dict()
    refs = {n: reference(n, ours) for n in REFERENCES}
    total_s = time.perf_counter() - t_start
    for n, *_ in models:
        r = R[n]
        print(f"{n:<22} {r['params'] / 1e3:7.1f} k {r['flops_paper'] / 1e6:7.1f} M {r['readout']:<9} "
              f"P1 {r['p1']:6.1f}  P2 {r['p2']:6.1f}  train {r['train_s']:5.0f} s")
    Path(a.runs).mkdir(parents=True, exist_ok=True)
    Path(a.runs, "results.json").write_text(json.dumps({"runs": R, "references": refs}, indent=1) + "\n")
    if a.only:
        print("partial run (--only): doc not written")
        return 0
    print(f"[{time.strftime('%H:%M:%S')}] counting the efficiency table at paper size", flush=True)
    doc.write_text(render(efficiency_table(), accuracy_section(R, refs, a, started, total_s)))
    print(f"wrote {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
