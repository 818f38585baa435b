"""``hotpose demo`` and ``hotpose infer``: console front ends of :mod:`hotpose.video.infer`.

The built-in sample (``hotpose/video/sample/sports2d_demo.npz``, see the README there) holds BlazePose-33
keypoints that :func:`make_sample` extracted with the project's own detector from the demo video of the
BSD-3-licensed Sports2D package; the video itself is not shipped. Running the sample needs no optional extra: it is
lifted with the packaged default model and rendered as a GIF of skeletons on a plain background (numpy drawing,
Pillow or a pure-Python GIF encoder), next to the npz/JSON/BVH outputs.
"""
from __future__ import annotations

import logging
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

from .infer import (NoPersonError, VideoResult, describe_error, existing_outputs, infer, list_videos, load_lifter,
                    planned_outputs, process_keypoints, shard)
from .keypoints import to_h36m

log = logging.getLogger("hotpose.video")

SAMPLE = "sports2d_demo.npz"


def _setup_logging() -> None:
    if not log.handlers and not logging.getLogger().handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False


def sample_path() -> Path:
    return Path(str(resources.files("hotpose.video") / "sample" / SAMPLE))


def load_sample() -> dict:
    """The built-in sample: keypoints_2d (T, 17, 2) px H36M, scores (T, 17), fps, image_size, source."""
    with np.load(sample_path()) as f:
        kp, sc = to_h36m(f["keypoints"], f["scores"], format=str(f["format"]))
        missing = ~np.isfinite(f["keypoints"]).all(-1).any(-1)
        kp[missing] = np.nan
        return {"keypoints_2d": kp, "scores": sc, "fps": float(f["fps"]),
                "image_size": tuple(int(v) for v in f["image_size"]), "source": str(f["source"])}


def make_sample(video, out=None, detector=None, start: int = 6, stop: int = 170) -> Path:
    """Extract the sample from ``video`` with the default detector, keeping frames [start, stop) (the project ran
    this on Sports2D/Demo/demo.mp4 of the sports2d 0.8.34 wheel; outside frames 6-169 the detector loses the
    person, then locks on to a second one)."""
    from .detect import BlazePoseDetector, detect_frames, read_video, video_info

    info = video_info(video)
    det = detector or BlazePoseDetector()
    kp, sc, size = detect_frames(det, read_video(video))
    kp, sc = kp[start:stop], sc[start:stop]
    out = Path(out) if out else sample_path()
    np.savez_compressed(out, keypoints=kp.astype(np.float32), scores=sc.astype(np.float32), format="blazepose",
                        frames=np.array([start, start + len(kp)], np.int64),
                        fps=np.float64(info["fps"]), image_size=np.array(size, np.int64),
                        source="Sports2D/Demo/demo.mp4 of the sports2d 0.8.34 wheel (BSD-3-Clause, "
                               "(c) 2022 perfanalytics), BlazePose full via hotpose.video.detect")
    return out


def _summary(r: VideoResult) -> str:
    files = ", ".join(dict.fromkeys(str(p) for p in r.outputs.values()))
    absent = r.num_frames - r.detected
    frames = f"{r.num_frames} frames" + (f" (of the {r.header_frames} its header announces)" if r.header_frames
                                         else "")
    people = (f"a person detected in all {r.num_frames}" if not absent else
              f"a person detected in {r.detected}, {r.interpolated} interpolated (short gaps without one), "
              f"{r.invalid} marked invalid (long gaps)")
    return (f"{r.name}: {frames}: {people}; {len(r.tracks)} track(s); bone-length CV of the lifter's output "
            f"{r.bone_cv:.3f} (pose_3d and BVH: a skeleton with fixed bone lengths)\n  wrote {files}")


def _plan(source, out, render: bool, gif: bool, overwrite: bool, html: bool = False) -> list[Path]:
    """Check, before any decoding, what ``hotpose infer`` will write: ``out`` must be a folder that can be written,
    two videos must not share their outputs, no output may be an input video, and existing outputs are refused
    unless ``overwrite``. Returns this process's videos."""
    from hotpose.engine.cli import check_writable

    videos = shard(list_videos(source))
    if not videos:
        raise FileNotFoundError(f"no video files in {source}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; infer writes a folder of outputs (NAME.npz, .json, .bvh, "
                         f"_3d.mp4 per video): give a folder name")
    by_stem: dict[str, Path] = {}
    for v in videos:
        if v.stem in by_stem:
            raise ValueError(f"{by_stem[v.stem].name} and {v.name} would write the same outputs ({v.stem}.npz ...) "
                             f"in {out}; rename one of them")
        by_stem[v.stem] = v
    inputs = {v.resolve() for v in videos}
    for v in videos:
        for p in planned_outputs(v.stem, out, render, gif, html):
            if p.resolve() in inputs:
                raise ValueError(f"{p} is an input video and would be replaced by an output of {v.name}; choose "
                                 f"another --out")
    if not overwrite:
        existing = {v.stem: existing_outputs(v.stem, out, render, gif, html) for v in videos}
        existing = {k: e for k, e in existing.items() if e}
        if existing:
            names = [p.name for e in existing.values() for p in e]
            raise FileExistsError(
                f"--out {out} already holds outputs of {len(existing)} of the {len(videos)} video(s) "
                f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}); pass --overwrite to replace them, "
                f"or choose another --out")
    folder = out
    while not folder.exists():  # the nearest existing folder: the output folder is created there
        folder = folder.parent
    check_writable(folder, "--out", out)
    return videos


def run_infer(source, out, checkpoint=None, arch=None, render: bool = True, gif: bool = False,
              overwrite: bool = False, device: str = "cpu", workers: int = 0, html: bool = False) -> int:
    """``hotpose infer``: returns the exit status (1 when some video failed: no person, unreadable, ...).
    Everything that can be checked before decoding is: the options, the outputs (existing ones are refused
    unless ``overwrite``) and the checkpoint. workers: 0 every core, 1 the stages one after another
    (:mod:`hotpose.video.pipeline`); html: also write each video's viewer NAME.html."""
    _setup_logging()
    from .detect import require
    try:
        require("cv2"), require("mediapipe")  # fail early, with the install command
    except ImportError as e:
        print(f"hotpose infer: {e}", file=sys.stderr)
        return 2
    if arch and not checkpoint:
        raise ValueError("--arch names the model of an official --checkpoint; pass --checkpoint too (without it, "
                         "the packaged default model is used)")
    if checkpoint and not Path(checkpoint).is_file():
        raise ValueError(f"--checkpoint {checkpoint}: "
                         + ("is a folder, not a checkpoint file" if Path(checkpoint).is_dir() else "no such file"))
    from hotpose.engine.distributed import pick_device
    device = pick_device(device)  # "auto": the GPU when there is one; refuses a CUDA device this machine lacks
    videos = _plan(source, out, render, gif, overwrite, html)
    lifter = load_lifter(checkpoint, arch)
    lifter.model.to(device)
    from .pipeline import default_workers
    workers = workers or default_workers()
    t0 = time.perf_counter()
    results = infer(source, out, lifter, render=render, gif=gif, workers=workers, html=html)
    for r in results:  # failed videos were logged by infer()
        if isinstance(r, VideoResult):
            print(_summary(r), file=sys.stderr)
    done = [r for r in results if isinstance(r, VideoResult)]
    failed = [r for r in results if not isinstance(r, VideoResult)]
    frames = sum(r.num_frames for r in done)
    took = time.perf_counter() - t0
    print(f"{len(done)} of {len(results)} videos done in {took:.1f} s ({frames / max(took, 1e-9):.1f} frames/s, "
          f"{workers} worker{'s' if workers > 1 else ''}); outputs in {out}", file=sys.stderr)
    for r in done:
        if "html" in r.outputs:
            print(f"  viewer: {r.outputs['html']} (open it in a browser)", file=sys.stderr)
    for r in done:
        if r.header_frames:
            print(f"hotpose infer: warning: {r.name}: decoded {r.num_frames} of the {r.header_frames} frames its "
                  f"header announces (truncated or damaged file?); its outputs cover the {r.num_frames} decoded "
                  f"frames", file=sys.stderr)
    if failed:
        print(f"hotpose infer: {len(failed)} of {len(results)} videos failed (no outputs written for them):",
              file=sys.stderr)
        for e in failed:
            video, text = getattr(e, "video", None), describe_error(e)
            print(f"  {video.name + ': ' if video is not None and not text.startswith(video.stem) else ''}{text}",
                  file=sys.stderr)
    return 0 if not failed else 1


def _lifter_or_fallback():
    try:
        return load_lifter(), "the packaged default model"
    except FileNotFoundError as e:
        import torch

        import hotpose
        print(f"NOTE: {e}. Falling back to an UNTRAINED model of the same family so that the pipeline runs; its "
              f"poses are meaningless (install/train the default model, see hotpose/pretrained/README.md).",
              file=sys.stderr)
        from hotpose.lifter import Lifter
        torch.manual_seed(0)
        model = hotpose.build_model("hot_mixste_243", frames=27, dim=32, mlp_hidden=64, depth=4, keep=9, prune_at=2)
        return Lifter(model), "an untrained stand-in model"


def efficiency_report(model, runs: int = 5) -> str:
    """FLOPs (paper convention) and measured CPU speed of a HoT model against its full backbone (same config
    without the hourglass), timed in ``runs`` interleaved rounds; the speed ratio is the median of the rounds'."""
    import statistics

    import torch

    from hotpose.efficiency import count_flops, count_params, example_input, output_frames, time_interleaved
    from hotpose.registry import build_from_config

    full = build_from_config({**model.config, "hourglass": None}).eval()
    model.eval()
    models = (("HoT (pruned tokens)", model), ("full backbone", full))
    inputs = [example_input(m) for _, m in models]
    times = time_interleaved([lambda m=m, x=x: m(x) for (_, m), x in zip(models, inputs)], runs)
    frames = int(model.backbone.frames)
    lines = [f"Efficiency on this CPU ({torch.get_num_threads()} threads), one window of {frames} frames "
             f"(median of {runs} interleaved runs):",
             f"  {'model':<22}{'params':>10}{'MFLOPs':>12}{'ms/window':>12}{'frames/s':>12}"]
    flops = [count_flops(m) for _, m in models]
    for (label, m), f, t in zip(models, flops, times):
        sec = statistics.median(t)
        lines.append(f"  {label:<22}{count_params(m) / 1e6:>9.2f}M{f / 1e6:>12.1f}"
                     f"{1000 * sec:>12.2f}{output_frames(m) / sec:>12.0f}")
    ratios = sorted(tf / th for th, tf in zip(*times))
    lines.append(f"  HoT saves {100 * (1 - flops[0] / flops[1]):.0f}% of the FLOPs and runs "
                 f"{statistics.median(ratios):.2f}x as fast as its full backbone (rounds: {ratios[0]:.2f}-"
                 f"{ratios[-1]:.2f}x; a busy or shared CPU moves this)")
    return "\n".join(lines)


def run_demo(out="hotpose_demo", gif: bool = True, runs: int = 5) -> int:
    """``hotpose demo`` without a video: lift the built-in sample, write npz/JSON/BVH and an animation, print
    FLOPs and speed."""
    _setup_logging()
    sample = load_sample()
    print(f"Sample: {sample['source']}; {len(sample['keypoints_2d'])} frames at {sample['fps']:g} fps, "
          f"{sample['image_size'][0]}x{sample['image_size'][1]} px (2D keypoints only; the video is not shipped)",
          file=sys.stderr)
    lifter, which = _lifter_or_fallback()
    timings: dict[str, float] = {}
    try:
        r = process_keypoints("sports2d_demo", sample["keypoints_2d"], sample["scores"], sample["image_size"],
                              sample["fps"], out, lifter, frames=None, render=True, gif=gif, timings=timings,
                              html=True)
    except NoPersonError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"Lifted with {which}: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()), file=sys.stderr)
    print(_summary(r), file=sys.stderr)
    if "render" in r.outputs:
        print(f"  animation: 2D skeleton (left, no video frame) beside the 3D skeleton (right): "
              f"{r.outputs['render']}", file=sys.stderr)
    print(f"  interactive 3D viewer (open it in a browser; drag to turn, wheel to zoom): "
          f"{Path(r.outputs['html']).resolve()}", file=sys.stderr)
    print(efficiency_report(lifter.model, runs=runs))
    return 0
