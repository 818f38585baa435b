"""The ``train`` and ``evaluate`` subcommands: parse, then call :func:`hotpose.engine.train` /
:func:`hotpose.engine.evaluate_path`."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def _threads(n: int) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def _train(args: argparse.Namespace) -> int:
    from hotpose.engine.config import load_config
    from hotpose.engine.train import train

    _threads(args.threads)
    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    cfg = load_config(args.config, overrides)
    result = train(cfg, resume=args.resume, device=args.device, progress=not args.no_progress)
    best = result["best"]
    if result["rank"] == 0 and best and best.get("score") is not None:
        print(f"best P1 {best['score']:.2f} mm at epoch {best['epoch']} (selected on the {best['selected_on']}); "
              f"checkpoints in {result['out']}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from hotpose.engine.evaluate import evaluate_path, format_table

    _threads(args.threads)
    report = evaluate_path(args.checkpoint, args.overrides, split=args.split,
                           flip=False if args.no_flip else None, readout=args.readout, protocol=args.protocol,
                           batch_size=args.batch_size, device=args.device, progress=not args.no_progress,
                           save_predictions=args.save_predictions)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return 0
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        src = report["source"]
        print(f"{report['model']} | weights: {src['weights']}"
              + (f" (epoch {src['epoch']}, selected on the {src['selected_on']})" if "epoch" in src else "")
              + f" | {report['data']} {report['split']} split, {report['sequences']} views | readout "
              f"{report['readout']}, flip {'on' if report['flip'] else 'off'}")
        print(format_table(report, pck=report["data"] == "3dhp", protocol=report["protocol"]))
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register ``train`` and ``evaluate`` on the main parser's subparsers."""
    p = sub.add_parser("train", help="train a model from a YAML config (single process, or under torchrun)",
                       description="Train from a YAML config; key=value arguments override it "
                                   "(e.g. train.lr=1e-4 data.root=/data/h36m model.args.dim=64).")
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides")
    p.add_argument("--out", help="output folder (overrides the config's out)")
    p.add_argument("--resume", action="store_true", help="continue the run in the output folder from last.pt")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (auto: this process's GPU if any)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads per process (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="P1/P2/MPJVE per action (3DHP: PCK/AUC) of a checkpoint",
                       description="Evaluate a checkpoint (a .pt file or a run folder) or, as a baseline, the "
                                   "untrained model of a YAML config.")
    p.add_argument("checkpoint", help="best.pt / last.pt, a run folder, or a YAML config (untrained baseline)")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides of the stored config")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--no-flip", action="store_true", help="no test-time flip averaging")
    p.add_argument("--readout", choices=["auto", "seq2seq", "seq2frame"], help="default: the config's eval.readout")
    p.add_argument("--protocol", choices=["official", "strict"], help="headline protocol of the table")
    p.add_argument("--batch-size", type=int, help="windows per forward pass")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (auto: the GPU if any)")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    p.add_argument("--format", choices=["table", "json"], default="table", help="what to print")
    p.add_argument("--save-predictions", metavar="NPZ", help="save the per-view predictions (metres)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_evaluate)

