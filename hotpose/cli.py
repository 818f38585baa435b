"""The ``hotpose`` command line. Thin: it parses arguments and calls library functions."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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


def _lift(args: argparse.Namespace) -> int:
    import warnings

    import numpy as np

    from hotpose.lifter import Lifter
    from hotpose.video.keypoints import load_keypoints

    keypoints, scores = load_keypoints(args.keypoints, format=args.format, unlabelled_17="h36m")
    if args.checkpoint:
        if not args.arch:
            raise ValueError("--checkpoint needs --arch (the official model file, e.g. hot_mixste)")
        lifter = Lifter.from_official(args.arch, args.checkpoint)
    else:
        lifter = Lifter.from_pretrained("default")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pose = lifter.lift(keypoints, image_size=tuple(args.image_size), scores=scores, flip=not args.no_flip)
    for w in caught:
        print(f"hotpose lift: {w.message}", file=sys.stderr)
    out = args.out or str(Path(args.keypoints).with_suffix("")) + "_3d.npz"
    if args.fixed_bones:
        from hotpose.skeleton import fixed_skeleton
        np.savez(out, pose_3d=fixed_skeleton(pose), pose_3d_raw=pose)
    else:
        np.savez(out, pose_3d=pose)
    print(f"wrote {out}: pose_3d {pose.shape} (metres, camera frame, root at 0"
          + ("; fixed bone lengths, the lifter's output in pose_3d_raw" if args.fixed_bones else "") + ")",
          file=sys.stderr)
    return 0


def _infer(args: argparse.Namespace) -> int:
    from hotpose.video.demo import run_infer
    return run_infer(args.source, args.out, args.checkpoint, args.arch, render=not args.no_render, gif=args.gif)


def _demo(args: argparse.Namespace) -> int:
    from hotpose.video.demo import run_demo, run_infer
    if args.video:
        return run_infer(args.video, args.out, args.checkpoint, args.arch, render=True, gif=args.gif)
    return run_demo(args.out, gif=not args.mp4)


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

    p = sub.add_parser("lift", help="lift 2D keypoints (npz or JSON, pixels) to 3D poses (npz)")
    p.add_argument("keypoints", help="npz (keypoints or keypoints_2d (T, K, 2), optional scores and format), a JSON "
                   "list of frames of [x, y] pairs, or a detector's output (COCO-style / AlphaPose / mmpose JSON, an "
                   "OpenPose folder)")
    p.add_argument("--format", help="keypoint layout of the file (h36m, coco, halpe, blazepose, body25, ...; "
                   "default: the file's own, and Human3.6M order for an unlabelled 17-keypoint npz or JSON list)")
    p.add_argument("--image-size", type=float, nargs=2, required=True, metavar=("W", "H"),
                   help="width and height of the video in pixels")
    p.add_argument("--out", help="output npz (default: KEYPOINTS_3d.npz) holding pose_3d (T, 17, 3) metres")
    p.add_argument("--checkpoint", help="an official checkpoint to use instead of the packaged default model")
    p.add_argument("--arch", help="the official model file of --checkpoint, e.g. hot_mixste")
    p.add_argument("--no-flip", action="store_true", help="no flip test-time augmentation")
    p.add_argument("--fixed-bones", action="store_true",
                   help="write pose_3d fitted to fixed, left-right symmetric bone lengths (each bone's median; its "
                   "direction kept), as `hotpose infer` does, and the lifter's output as pose_3d_raw")
    p.set_defaults(func=_lift)

    p = sub.add_parser("infer", help="video(s) -> 2D keypoints -> 3D poses: npz, JSON, BVH and a rendered video")
    p.add_argument("source", help="a video file, or a folder of videos (split across RANK/WORLD_SIZE processes)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--checkpoint", help="a `hotpose train` checkpoint, or an official one with --arch, instead of "
                   "the packaged default model")
    p.add_argument("--arch", help="the official model file of an official --checkpoint, e.g. hot_mixste")
    p.add_argument("--no-render", action="store_true", help="skip the rendered video")
    p.add_argument("--gif", action="store_true", help="render a GIF instead of an mp4")
    p.set_defaults(func=_infer)

    p = sub.add_parser("demo", help="lift the built-in sample (or VIDEO) and print the model's FLOPs and speed")
    p.add_argument("video", nargs="?", help="a video or folder to run `hotpose infer` on instead of the sample")
    p.add_argument("--out", default="hotpose_demo", help="output folder (default: ./hotpose_demo)")
    p.add_argument("--checkpoint", help="with VIDEO: an official checkpoint instead of the default model")
    p.add_argument("--arch", help="the official model file of --checkpoint")
    p.add_argument("--gif", action="store_true", help="with VIDEO: render a GIF instead of an mp4")
    p.add_argument("--mp4", action="store_true", help="sample: render an mp4 (needs OpenCV) instead of a GIF")
    p.set_defaults(func=_demo)

    from hotpose.engine.cli import add_subcommands  # train, evaluate
    add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may follow options (`hotpose train cfg.yaml --threads 1 train.lr=1e-4`); argparse stops
    # filling a positional list at the first option, so pick them up here.
    stray = [a for a in extra if a.startswith("-") or "=" not in a or not hasattr(args, "overrides")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"hotpose {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, TypeError, OSError) as e:
        print(f"hotpose {args.command}: {_message(e)}", file=sys.stderr)
        return 2


def _message(e: BaseException) -> str:
    """One line for the user: OSError's strerror and file name, KeyError's key without repr quotes."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    if isinstance(e, KeyError) and len(e.args) == 1 and isinstance(e.args[0], str):
        return e.args[0]
    return str(e)


if __name__ == "__main__":
    sys.exit(main())
