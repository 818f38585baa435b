"""The ``hotpose`` command line. Thin: it parses arguments and calls library functions."""
from __future__ import annotations

import argparse
import json
import sys


def _bench(args: argparse.Namespace) -> int:
    import torch

    from hotpose.bench import efficiency_rows, format_table, paper_models
    from hotpose.registry import list_models

    names = args.models or (list_models() if args.all else paper_models())
    unknown = [n for n in names if n not in list_models()]
    if unknown:
        print(f"hotpose bench: unknown model(s) {', '.join(unknown)}; see `hotpose models`", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    speed = not args.no_speed
    print(f"Measuring {len(names)} models{' (params, FLOPs and CPU throughput)' if speed else ''} "
          f"on {args.device}, {torch.get_num_threads()} threads...", file=sys.stderr)
    rows = efficiency_rows(names, speed=speed, runs=args.runs, device=args.device,
                           progress=lambda n: print(f"  {n}", file=sys.stderr, flush=True))
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _models(args: argparse.Namespace) -> int:
    from hotpose.registry import MODELS, list_models

    for name in list_models():
        doc = (MODELS[name].__doc__ or "").strip().splitlines()
        print(f"{name:<30} {doc[0] if doc else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotpose", description="Efficient video 3D human pose estimation (HoT).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("bench", help="params, FLOPs and throughput of the paper's models beside the paper's figures")
    p.add_argument("models", nargs="*", help="model names (default: every model with a row in the paper)")
    p.add_argument("--all", action="store_true", help="every registered model")
    p.add_argument("--no-speed", action="store_true", help="skip the throughput measurement")
    p.add_argument("--runs", type=int, default=5, help="timed forward passes per model (median reported)")
    p.add_argument("--device", default="cpu", help="torch device for the throughput measurement")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_bench)

    p = sub.add_parser("models", help="list the registered models")
    p.set_defaults(func=_models)

    from hotpose.engine.cli import add_subcommands  # train, evaluate
    add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, TypeError) as e:
        print(f"hotpose {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
