"""The ``train``, ``evaluate`` and ``export`` subcommands: parse, then call :func:`hotpose.engine.train` /
:func:`hotpose.engine.evaluate_path` / :func:`hotpose.engine.checkpoint.package_checkpoint`."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path


def _int_at_least(minimum: int, meaning: str = ""):
    """An argparse type: a whole number >= ``minimum`` (``meaning`` says what the minimum stands for)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum}{meaning} or more, got {value}")
        return value
    return parse


positive_int = _int_at_least(1)  # counts: --batch-size, --runs
threads_int = _int_at_least(0, " (torch's choice)")  # --threads


def check_writable(folder: str | Path, flag: str, path: str | Path | None = None) -> None:
    """Create and remove a file in ``folder``: a ValueError naming ``flag`` when that fails (a read-only file
    system, or no permission; tried for real, since permission bits do not bind root)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".hotpose-write-test."):
            pass
    except OSError as e:
        raise ValueError(f"{flag} {path or folder}: cannot write in {folder} ({e.strerror or e})") from None


def _threads(n: int) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def _check_device(name: str) -> None:
    """Refuse a device this machine does not have before any work (one line: "no CUDA device: ...")."""
    from hotpose.engine.distributed import pick_device

    pick_device(name, int(os.environ.get("LOCAL_RANK", "0")))


def _train(args: argparse.Namespace) -> int:
    from hotpose.engine.config import load_config
    from hotpose.engine.train import TrainingInterrupted, train

    _threads(args.threads)
    _check_device(args.device)
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a file; training writes a folder (checkpoints, config, logs) there: "
                         f"give a folder name")
    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    cfg = load_config(args.config, overrides)
    try:
        result = train(cfg, resume=args.resume, device=args.device, progress=not args.no_progress)
    except TrainingInterrupted as e:
        again = ["hotpose", "train", args.config, *args.overrides, "--out", str(e.out), "--resume"]
        again += [f"--device={args.device}"] if args.device != "auto" else []
        again += [f"--threads={args.threads}"] if args.threads else []
        print(f"hotpose train: interrupted: {e}; continue with: {shlex.join(again)}", file=sys.stderr)
        return 130
    best = result["best"]
    if result["rank"] == 0 and best and best.get("score") is not None:
        print(f"best P1 {best['score']:.2f} mm at epoch {best['epoch']} (selected on the {best['selected_on']}); "
              f"checkpoints in {result['out']}")
    if result["rank"] == 0 and result.get("seconds") is not None:
        print(f"training time: {result['seconds'] / 3600:.2f} h of wall clock"
              + (f", {result['cpu_seconds'] / 3600:.2f} CPU-hours" if result.get("cpu_seconds") is not None else "")
              + ", summed over every session that trained this run")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from hotpose.engine.evaluate import evaluate_path, format_table
    from hotpose.fileio import atomic_write_bytes, check_output

    _threads(args.threads)
    _check_device(args.device)
    if not Path(args.checkpoint).exists():
        raise ValueError(f"{args.checkpoint}: no such checkpoint, run folder or config")
    # the output paths are checked before the (long) evaluation
    for flag, out in (("--json", args.json), ("--save-predictions", args.save_predictions)):
        if out:
            out = check_output(out, (args.checkpoint,), args.overwrite, flag)
            check_writable(out.parent if str(out.parent) else ".", flag, out)
    if args.json and args.save_predictions and Path(args.json).absolute() == Path(args.save_predictions).absolute():
        raise ValueError("--json and --save-predictions name the same file; give two names")
    report = evaluate_path(args.checkpoint, args.overrides, split=args.split,
                           flip=False if args.no_flip else None, readout=args.readout, protocol=args.protocol,
                           batch_size=args.batch_size, device=args.device, progress=not args.no_progress,
                           save_predictions=args.save_predictions, pruner=args.pruner)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return 0
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode())
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        src = report["source"]
        print(f"{report['model']} | weights: {src['weights']}"
              + (f" (epoch {src['epoch']}, selected on the {src['selected_on']})" if src.get("epoch") is not None else "")
              + (f" | pruner {report['pruner']} (trained with {report['trained_pruner']})"
                 if report.get("pruner") != report.get("trained_pruner") else "")
              + f" | {report['data']} {report['split']} split, {report['sequences']} views | readout "
              f"{report['readout']}, flip {'on' if report['flip'] else 'off'}")
        print(format_table(report, pck=report["data"] == "3dhp", protocol=report["protocol"]))
    return 0


def _export(args: argparse.Namespace) -> int:
    import io

    import torch

    from hotpose.engine.checkpoint import package_checkpoint, resolve_checkpoint
    from hotpose.fileio import atomic_write_bytes, check_output

    src = resolve_checkpoint(args.checkpoint)
    out = check_output(args.out, (src,), args.overwrite, "OUT")
    blob = package_checkpoint(src, pruner=args.pruner)
    buf = io.BytesIO()
    torch.save(blob, buf)
    atomic_write_bytes(out, buf.getvalue())
    t = blob["training"]
    hg = blob["config"].get("hourglass")
    print(f"wrote {out}: {blob['config']['name']}, {sum(v.numel() for v in blob['state_dict'].values()):,} "
          f"parameters, the weights of epoch {t['epoch']}"
          + (f" (step {t['steps']:,})" if t.get("steps") else "")
          + (f", selected on the {t['selected_on']} (P1 {t['score_mm']:.1f} mm)" if t.get("score_mm") is not None
             else "")
          + (f"; pruner {hg['pruner']} (trained with {blob['trained_pruner']})" if hg else "")
          + _trained_for(t))
    return 0


def _trained_for(t: dict) -> str:
    """'; 3.7 CPU-hours over 38 epochs', or on a GPU '; 0.11 h on NVIDIA H200 over 76 epochs' (a GPU run's CPU time is
    that of the process feeding it, not a measure of the work)."""
    device = t.get("device") or "cpu"
    if device.startswith("cpu"):
        return f"; {t['cpu_hours']:.1f} CPU-hours over {t['epochs_trained']} epochs" if t.get("cpu_hours") else ""
    return f"; {t['wall_hours']:.2f} h on {device} over {t['epochs_trained']} epochs" if t.get("wall_hours") else ""


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register ``train``, ``evaluate`` and ``export`` on the main parser's subparsers."""
    p = sub.add_parser("train", help="train a model from a YAML config (single process, or under torchrun)",
                       description="Train from a YAML config; key=value arguments override it "
                                   "(e.g. train.lr=1e-4 data.root=/data/h36m model.args.dim=64). Ctrl-C stops at "
                                   "the next step after saving last.pt, and --resume continues from there.")
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides")
    p.add_argument("--out", help="output folder (overrides the config's out)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in the output folder from its last.pt (written after every epoch, and at "
                        "the step where Ctrl-C stopped it); prints the epoch it continues from. Without a last.pt "
                        "there yet, it says so and starts a new run")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (auto: this process's GPU if any)")
    p.add_argument("--threads", type=threads_int, default=0,
                   help="CPU threads per process (default 0: torch's choice)")
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
    p.add_argument("--batch-size", type=positive_int, help="windows per forward pass (1 or more; default: the "
                   "config's eval.batch_size)")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (auto: the GPU if any)")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    p.add_argument("--format", choices=["table", "json"], default="table", help="what to print")
    p.add_argument("--pruner", help="hourglass models: choose the kept frames with this pruner (tpc, uniform, "
                   "attention, motion) instead of the trained one")
    p.add_argument("--save-predictions", metavar="NPZ", help="save the per-view predictions (metres)")
    p.add_argument("--overwrite", action="store_true", help="replace existing --json / --save-predictions files")
    p.add_argument("--threads", type=threads_int, default=0, help="CPU threads (default 0: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("export", help="package a trained model as one file (the format of hotpose/pretrained/*.pt)",
                       description="Write a `hotpose train` checkpoint as a packaged model: the model's config and "
                                   "weights, the run's config and what trained it (epoch, steps, CPU-hours). "
                                   "`hotpose evaluate`, `hotpose lift / infer --checkpoint` and "
                                   "`Lifter.from_pretrained` (installed as hotpose/pretrained/default.pt) read it.")
    p.add_argument("checkpoint", help="best.pt / last.pt, or a run folder (its best.pt)")
    p.add_argument("out", help="the packaged file to write (.pt)")
    p.add_argument("--pruner", help="hourglass models: choose the kept frames with this pruner (tpc, uniform, "
                   "attention, motion) at inference; the trained one stays recorded")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.set_defaults(func=_export)

