"""The ``hotpose`` command line. Thin: it parses arguments and calls library functions."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _bench(args: argparse.Namespace) -> int:
    import torch

    from hotpose.bench import efficiency_rows, format_table, paper_models
    from hotpose.engine.distributed import check_device
    from hotpose.registry import list_models

    names = args.models or (list_models() if args.all else paper_models())
    unknown = [n for n in names if n not in list_models()]
    if unknown:
        print(f"hotpose bench: unknown model(s) {', '.join(unknown)}; see `hotpose models`", file=sys.stderr)
        return 2
    check_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    speed = not args.no_speed
    print(f"Measuring {len(names)} models{' (params, FLOPs and CPU throughput)' if speed else ''} "
          f"on {args.device}, {torch.get_num_threads()} threads...", file=sys.stderr)
    rows = efficiency_rows(names, speed=speed, runs=args.runs, device=args.device,
                           progress=lambda n: print(f"  {n}", file=sys.stderr, flush=True))
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph, whole (lines joined; abbreviations such as "w." and
    "e.g." do not end it)."""
    import re

    para = " ".join(line.strip() for line in (doc or "").strip().split("\n\n")[0].splitlines())
    for m in re.finditer(r"[.!?](?=\s|$)", para):
        word = re.search(r"(\S+)$", para[:m.start()])
        if word and (len(word.group(1)) == 1 or word.group(1).lower() in ("e.g", "i.e", "vs", "cf", "etc", "al")):
            continue
        return para[:m.end()]
    return para


def _models(args: argparse.Namespace) -> int:
    from hotpose.registry import MODELS, list_models

    try:
        for name in list_models():
            print(f"{name:<30} {_first_sentence(MODELS[name].__doc__)}".rstrip())
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`hotpose models | head`): nothing is wrong
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _cli_words(text: str) -> str:
    """A library message in the command line's words: ``format="h36m"`` / ``format=`` become ``--format``."""
    import re

    text = re.sub(r"\bformat=([\"']?)([\w-]+)\1", r"--format \2", text)
    return re.sub(r"\bformat=\s*", "--format ", text)


def _default_lift_out(src: Path) -> Path:
    """KEYPOINTS_3d.npz next to the input: walk.json -> walk_3d.npz, an OpenPose folder run/ -> run_3d.npz."""
    src = src.resolve() if src.name in ("", ".", "..") else src
    return src.with_name((src.name if src.is_dir() else src.stem) + "_3d.npz")


def _lift(args: argparse.Namespace) -> int:
    import warnings

    from hotpose.fileio import atomic_savez, check_output
    from hotpose.lifter import Lifter
    from hotpose.video.checks import check_image_size, keypoint_warnings, no_skeleton
    from hotpose.video.keypoints import load_keypoints

    # Everything the user can get wrong is checked before the model is loaded and the keypoints are lifted.
    if args.arch and not args.checkpoint:
        raise ValueError("--arch names the model of --checkpoint; pass --checkpoint too (without both, the packaged "
                         "default model is used)")
    if args.arch:
        from hotpose.official import OFFICIAL
        if args.arch not in OFFICIAL:
            raise ValueError(f"--arch {args.arch}: unknown official model file; known: {', '.join(sorted(OFFICIAL))}")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise ValueError(f"--checkpoint {args.checkpoint}: "
                         + ("is a folder, not a checkpoint file" if Path(args.checkpoint).is_dir() else "no such file"))
    size = check_image_size(args.image_size, "--image-size")
    if args.height is not None:
        from hotpose.skeleton import HEIGHT_RANGE_M
        if not HEIGHT_RANGE_M[0] <= args.height <= HEIGHT_RANGE_M[1]:
            raise ValueError(f"--height {args.height:g}: give the person's standing height in metres, "
                             f"{HEIGHT_RANGE_M[0]}-{HEIGHT_RANGE_M[1]}")
    src = Path(args.keypoints)
    if not src.exists():
        raise ValueError(f"keypoint file not found: {src}")
    out = check_output(args.out or _default_lift_out(src), (src,), args.overwrite)

    said: list[str] = []

    def tell(messages) -> None:
        for m in map(_cli_words, map(str, messages)):
            if m not in said:
                said.append(m)
                print(f"hotpose lift: warning: {m}", file=sys.stderr)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            keypoints, scores = load_keypoints(src, format=args.format)
        except ValueError as e:
            raise ValueError(_cli_words(str(e))) from None
    if (why := no_skeleton(keypoints)) is not None:
        raise ValueError(f"{src}: {why}")
    tell([w.message for w in caught] + keypoint_warnings(keypoints, size))

    if args.checkpoint:
        from hotpose.video.infer import load_lifter

        try:  # a file torch cannot read, or of the wrong kind: said what it is
            lifter = load_lifter(args.checkpoint, args.arch)
        except (ValueError, KeyError, TypeError) as e:
            text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            first = _first_sentence(text.strip().splitlines()[0] if text.strip() else repr(e))
            raise ValueError(f"--checkpoint {args.checkpoint}" + (f" (--arch {args.arch})" if args.arch else "")
                             + f": {first}") from None
    else:
        lifter = Lifter.from_pretrained("default")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pose = lifter.lift(keypoints, image_size=size, scores=scores, flip=not args.no_flip, height_m=args.height)
    tell(w.message for w in caught)

    if args.fixed_bones:
        from hotpose.skeleton import fixed_skeleton
        arrays = {"pose_3d": fixed_skeleton(pose), "pose_3d_raw": pose}
    else:
        arrays = {"pose_3d": pose}
    try:
        atomic_savez(out, arrays)
    except OSError as e:
        raise OSError(e.errno, f"cannot write it: {e.strerror or e}", str(out)) from None
    print(f"wrote {out}: pose_3d {pose.shape} (metres, camera frame, root at 0"
          + ("; fixed bone lengths, the lifter's output in pose_3d_raw" if args.fixed_bones else "") + ")",
          file=sys.stderr)
    return 0


def _infer(args: argparse.Namespace) -> int:
    from hotpose.video.demo import run_infer
    return run_infer(args.source, args.out, args.checkpoint, args.arch, render=not args.no_render, gif=args.gif,
                     overwrite=args.overwrite, device=args.device, workers=args.workers, html=args.html)


def _view(args: argparse.Namespace) -> int:
    from hotpose.video.viewer import run_view
    return run_view(args.results, args.out, video=args.video, overwrite=args.overwrite,
                    max_images=args.max_images)


def _demo(args: argparse.Namespace) -> int:
    from hotpose.video.demo import run_demo, run_infer
    if args.video:
        return run_infer(args.video, args.out, args.checkpoint, args.arch, render=True, gif=args.gif,
                         overwrite=args.overwrite, workers=args.workers, html=True)
    given = [flag for flag, on in (("--checkpoint", args.checkpoint), ("--arch", args.arch), ("--gif", args.gif))
             if on]
    if given:
        raise ValueError(f"{', '.join(given)}: only with a VIDEO (hotpose demo VIDEO ...); the built-in sample is "
                         f"lifted with the packaged default model")
    return run_demo(args.out, gif=not args.mp4)


def build_parser() -> argparse.ArgumentParser:
    from hotpose.engine.cli import _int_at_least, add_subcommands, positive_int, threads_int  # argument types

    workers_int, count_int = _int_at_least(0, " (every core)"), _int_at_least(0)

    parser = argparse.ArgumentParser(prog="hotpose", description="Efficient video 3D human pose estimation (HoT).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("bench", help="params, FLOPs and throughput of the paper's models beside the paper's figures")
    p.add_argument("models", nargs="*", help="model names (default: every model with a row in the paper)")
    p.add_argument("--all", action="store_true", help="every registered model")
    p.add_argument("--no-speed", action="store_true", help="skip the throughput measurement")
    p.add_argument("--runs", type=positive_int, default=5, help="timed forward passes per model (median reported)")
    p.add_argument("--device", default="cpu", help="torch device for the throughput measurement")
    p.add_argument("--threads", type=threads_int, default=0, help="CPU threads (default 0: torch's choice)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_bench)

    p = sub.add_parser("models", help="list the registered models")
    p.set_defaults(func=_models)

    p = sub.add_parser("lift", help="lift 2D keypoints (npz or JSON, pixels) to 3D poses (npz)")
    p.add_argument("keypoints", help="npz (keypoints or keypoints_2d (T, K, 2), optional scores and format), a JSON "
                   "list of frames of [x, y] pairs, or a detector's output (COCO-style / AlphaPose / mmpose JSON, an "
                   "OpenPose folder)")
    p.add_argument("--format", help="keypoint layout of the file (h36m, coco, halpe, blazepose, body25, ...; "
                   "default: the file's own, else told by the keypoint count; an unlabelled 17-keypoint npz or JSON "
                   "list is read as COCO-17, as hotpose.video.load_keypoints reads it, with a warning when it looks "
                   "like Human3.6M order: then pass --format h36m)")
    p.add_argument("--image-size", type=float, nargs=2, required=True, metavar=("W", "H"),
                   help="width, then height, of the video in pixels (32 to 16384 each); the keypoints are scaled by "
                   "it, and a warning says when they do not fit it")
    p.add_argument("--out", help="output npz holding pose_3d (T, 17, 3) metres, written at exactly this name (default: "
                   "next to the input, its name with _3d.npz for its suffix: walk.json -> walk_3d.npz; walk.npz and "
                   "walk.json share that name, so the second run refuses to replace the first's without --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file (never the input)")
    p.add_argument("--checkpoint", help="a `hotpose train` checkpoint, a packaged model (`hotpose export`), or an "
                   "official checkpoint with --arch, instead of the packaged default model")
    p.add_argument("--arch", help="the official model file of an official --checkpoint, e.g. hot_mixste")
    p.add_argument("--no-flip", action="store_true", help="no flip test-time augmentation")
    p.add_argument("--height", type=float, metavar="METRES",
                   help="the person's standing height in metres (0.5-2.5): the 3D output is scaled to it (without "
                   "it, the scale is the model's estimate)")
    p.add_argument("--fixed-bones", action="store_true",
                   help="write pose_3d fitted to fixed, left-right symmetric bone lengths (each bone's median; its "
                   "direction kept), as `hotpose infer` does, and the lifter's output as pose_3d_raw")
    p.set_defaults(func=_lift)

    p = sub.add_parser("infer", help="video(s) -> 2D keypoints -> 3D poses: npz, JSON, BVH and a rendered video")
    p.add_argument("source", help="a video file, or a folder of videos (split across RANK/WORLD_SIZE processes)")
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of these videos that --out "
                   "already holds (NAME.npz, .json, .bvh, _track<i>.bvh and the rendering); without it they are "
                   "refused before any work")
    p.add_argument("--checkpoint", help="a `hotpose train` checkpoint, a packaged model (`hotpose export`), or an "
                   "official one with --arch, instead of the packaged default model")
    p.add_argument("--arch", help="the official model file of an official --checkpoint, e.g. hot_mixste (needs "
                   "--checkpoint)")
    p.add_argument("--device", default="cpu", help="torch device of the lifter: cpu (default), cuda, cuda:N, auto "
                   "(the GPU when there is one); the 2D detector runs on the CPU")
    p.add_argument("--no-render", action="store_true", help="skip the rendered video")
    p.add_argument("--gif", action="store_true", help="render a GIF instead of an mp4")
    p.add_argument("--html", action="store_true", help="also write NAME.html, the interactive 3D viewer (as "
                   "`hotpose view` writes it)")
    p.add_argument("--workers", type=workers_int, default=0, help="threads for the overlapped stages "
                   "(decoding beside 2D detection; decoding, drawing and encoding of the rendering at once); "
                   "default 0: every core; 1: one stage after another. The outputs are the same")
    p.set_defaults(func=_infer)

    p = sub.add_parser("view", help="write an interactive 3D viewer of a result (one offline HTML file)")
    p.add_argument("results", nargs="+", help="result npz file(s) of `hotpose infer` or `hotpose lift` (pose_3d "
                   "(T, 17, 3) or (P, T, 17, 3)); several are shown together (people of one video)")
    p.add_argument("--out", help="the HTML file to write (default: the first result's name with .html)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--video", help="the video the result came from, for the 2D panel's frames (default: the "
                   "`source` that `hotpose infer` stores in the npz, when that file exists)")
    p.add_argument("--max-images", type=count_int, default=None, help="video frames embedded at most, evenly "
                   "spaced (default 400; 0: none)")
    p.set_defaults(func=_view)

    p = sub.add_parser("demo", help="lift the built-in sample (or VIDEO) and print the model's FLOPs and speed")
    p.add_argument("video", nargs="?", help="a video or folder to run `hotpose infer` on instead of the sample")
    p.add_argument("--out", default="hotpose_demo", help="output folder (default: ./hotpose_demo)")
    p.add_argument("--checkpoint", help="with VIDEO: a `hotpose train` checkpoint, a packaged model, or an official "
                   "one with --arch, instead of the default model")
    p.add_argument("--arch", help="with VIDEO: the official model file of --checkpoint (needs --checkpoint)")
    p.add_argument("--overwrite", action="store_true", help="with VIDEO: replace its existing outputs in --out "
                   "(the sample's outputs are always replaced)")
    p.add_argument("--gif", action="store_true", help="with VIDEO: render a GIF instead of an mp4")
    p.add_argument("--mp4", action="store_true", help="sample: render an mp4 (needs OpenCV) instead of a GIF")
    p.add_argument("--workers", type=workers_int, default=0, help="with VIDEO: as for infer (default 0: every core)")
    p.set_defaults(func=_demo)

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
