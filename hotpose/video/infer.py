"""From a video (or a folder of videos) to 3D motion files: decode, detect 2D, lift, export, render.

For each video ``NAME``: ``DIR/NAME.npz`` and ``DIR/NAME.json`` (:func:`hotpose.video.save_outputs`, plus ``valid``
(T,) bool), ``DIR/NAME.bvh`` (:func:`hotpose.video.write_bvh`) and ``DIR/NAME_3d.mp4`` (or ``.gif``): the frame with
its 2D skeleton beside the 3D skeleton (:mod:`hotpose.video.render`).

Frames without a person: the lifter interpolates their keypoints over time; a gap longer than ``max_gap`` seconds
(and any gap at the start or end longer than that) is additionally marked ``valid = False`` in the outputs and drawn
grey with a red border. A video without any person raises :class:`NoPersonError`.

Skeleton: ``pose_3d`` (npz, JSON, BVH, render) is the lifter's output (kept as ``pose_3d_raw``) fitted to a skeleton
with fixed bone lengths: within each track, every bone keeps its direction in every frame and takes the track's
median length, left and right alike (:func:`hotpose.skeleton.fixed_skeleton`). On the test views of the packaged model this changes
P1 by less than 0.5 mm; it removes the bone-length changes a monocular lifter makes from frame to frame (a bone
seen end-on is often predicted short), and it is the skeleton the BVH file stores, so the two agree.

Tracks: where the 2D track jumps by more than half a body height (:func:`identity_jumps`, most often the detector
switching to another person) or a long gap interrupts it, the frames on either side are lifted separately
(:func:`tracks`), so that no window of the lifter mixes two people, and each track gets its own skeleton (and, when
there are several, its own BVH file ``NAME_track<i>.bvh``). ``VideoResult.bone_cv`` is the bone-length CV of the
lifter's raw output within each track, averaged over the tracks weighted by their frames.

With ``workers`` > 1 the stages overlap (:mod:`hotpose.video.pipeline`: decoding in a thread beside the detector;
decoding, drawing and encoding of the rendering in threads beside one another), with the outputs of ``workers=1``;
``html`` adds the interactive viewer ``DIR/NAME.html`` (:mod:`hotpose.video.viewer`). The npz of a video records its path as ``source`` (where
``hotpose view`` finds the frames).

Every file of a video is first written under a temporary name (``.NAME.tmp.PID.npz`` ...) and all of them are
renamed at the end, so a failed or interrupted video leaves no partial file behind (and replaces none).
:func:`planned_outputs` names the files a video will get, for a caller that checks them before any work.

A video whose decoder stops before the frame count of its header (a truncated or damaged file) is processed over
the frames that could be decoded, with a warning (``VideoResult.header_frames``). Folders are processed one video
after another; a video that fails (no person, unreadable) is reported and the others go on. To split one over
machines, start one process per machine with the
``RANK`` and ``WORLD_SIZE`` environment variables that torchrun (or any launcher) sets: rank r takes every
WORLD_SIZE-th video of the sorted list, starting at the r-th.
"""
from __future__ import annotations

import logging
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..skeleton import bone_length_series, fixed_skeleton
from .bvh import write_bvh
from .export import save_outputs
from .keypoints import to_h36m

log = logging.getLogger("hotpose.video")

__all__ = ["NoPersonError", "VideoResult", "VIDEO_SUFFIXES", "list_videos", "shard", "valid_frames", "bone_cv",
           "identity_jumps", "tracks", "lift_tracks", "planned_outputs", "existing_outputs", "describe_error",
           "process_keypoints", "process_video", "infer", "load_lifter"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class NoPersonError(ValueError):
    """The video holds no detectable person."""


@dataclass
class VideoResult:
    name: str
    num_frames: int
    fps: float
    image_size: tuple[int, int]
    outputs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    valid_fraction: float = 1.0
    bone_cv: float = float("nan")
    tracks: list[tuple[int, int]] = field(default_factory=list)
    detected: int = 0  # frames with a person; the others are interpolated or (in long gaps) marked invalid
    invalid: int = 0  # frames inside gaps without a person longer than max_gap (valid = False)
    header_frames: int | None = None  # the frame count of the video's header, when it differs from num_frames

    @property
    def interpolated(self) -> int:
        """Frames without a person whose keypoints were filled in from their neighbours (short gaps)."""
        return self.num_frames - self.detected - self.invalid


def _progress(iterable, total=None, desc="", enabled=True):
    """A progress bar over ``iterable`` (frames/s and the time left); with ``iterable`` None, a bar to update."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    # disable=None: no bar when stderr is not a terminal (logs, CI)
    return tqdm(iterable, total=total, desc=desc, unit="frame", leave=False, dynamic_ncols=True, disable=None)


def _height_of(height: int | None, gif: bool) -> int:
    """The rendering's height in pixels: ``height``, else 360 for a GIF and 480 for an mp4."""
    return height or (360 if gif else 480)


def list_videos(path) -> list[Path]:
    """A video file -> [it]; a folder -> its video files (by suffix), sorted by name."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
    raise FileNotFoundError(f"no such video or folder: {path}")


def shard(items: list, rank: int | None = None, world_size: int | None = None) -> list:
    """Every world_size-th item starting at rank (defaults: the RANK and WORLD_SIZE environment variables, as
    torchrun sets them; one process = everything)."""
    rank = int(os.environ.get("RANK", 0)) if rank is None else int(rank)
    world_size = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else int(world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= RANK < WORLD_SIZE, got RANK={rank}, WORLD_SIZE={world_size}")
    return list(items)[rank::world_size]


def valid_frames(present, fps: float, max_gap: float = 1.0) -> np.ndarray:
    """present (T,) bool (a person was detected) -> valid (T,) bool: False inside runs of absent frames longer
    than ``max_gap`` seconds; shorter gaps count as valid (they are interpolated)."""
    present = np.asarray(present, bool)
    valid = present.copy()
    limit = max_gap * fps
    i, t = 0, len(present)
    while i < t:
        if present[i]:
            i += 1
            continue
        j = i
        while j < t and not present[j]:
            j += 1
        if j - i <= limit:
            valid[i:j] = True
        i = j
    return valid


def identity_jumps(keypoints_2d, present=None, fraction: float = 0.5) -> np.ndarray:
    """Frames whose keypoints' centre moved more than ``fraction`` of the median 2D body height since the previous
    frame with a person (a likely switch of the tracked person)."""
    kp = np.asarray(keypoints_2d, np.float64)
    present = np.isfinite(kp).all(-1).any(-1) if present is None else np.asarray(present, bool)
    idx = np.flatnonzero(present)
    if len(idx) < 2:
        return np.zeros(0, np.int64)
    centre = np.nanmean(kp[idx], axis=1)
    height = np.nanmedian(np.nanmax(kp[idx, :, 1], 1) - np.nanmin(kp[idx, :, 1], 1))
    step = np.linalg.norm(np.diff(centre, axis=0), axis=-1)
    return idx[1:][step > fraction * max(height, 1.0)]


def tracks(valid, switches=(), min_frames: int = 1) -> list[tuple[int, int]]:
    """[(first, end)] frame ranges of the runs of ``valid`` frames, also cut at the frames in ``switches`` (a new
    track starts there); runs shorter than ``min_frames`` are left out."""
    valid = np.asarray(valid, bool)
    cut = np.zeros(len(valid) + 1, bool)
    cut[np.asarray(switches, np.int64)] = True
    out, start = [], None
    for t in range(len(valid) + 1):
        if start is not None and (t == len(valid) or not valid[t] or cut[t]):
            if t - start >= min_frames:
                out.append((start, t))
            start = None
        if start is None and t < len(valid) and valid[t]:
            start = t
    return out


def lift_tracks(lifter, keypoints_2d, image_size, scores=None, track_ranges=(), name: str = "") -> np.ndarray:
    """``lifter.lift`` over a video whose frames fall into ``track_ranges``: with several tracks each is lifted on
    its own, so that no window mixes two of them; frames outside them (long gaps), and a single track, come from
    the lift of the whole video. The lifter's warning about interpolated keypoints is silenced (infer logs gaps)."""
    kp = np.asarray(keypoints_2d)
    size = tuple(float(v) for v in image_size)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*were filled by linear interpolation.*")
        parts = {}
        for a, b in track_ranges if len(track_ranges) > 1 else []:
            try:
                parts[a, b] = lifter.lift(kp[a:b], image_size=size, scores=None if scores is None else scores[a:b])
            except ValueError as e:  # e.g. a joint never detected within the track
                log.warning("%s: frames %d-%d lifted with the whole video instead (%s)", name, a, b - 1, e)
        if sum(b - a for a, b in parts) < len(kp):
            pose = lifter.lift(kp, image_size=size, scores=scores)
        else:
            pose = np.empty((len(kp), kp.shape[1], 3), np.float32)
    for (a, b), part in parts.items():
        pose[a:b] = part
    return pose


def bone_cv(pose_3d, valid=None) -> float:
    """Mean over the 16 bones of the coefficient of variation (std / mean) of their length over time."""
    pose = np.asarray(pose_3d, np.float64)
    if valid is not None and np.asarray(valid).any():
        pose = pose[np.asarray(valid, bool)]
    lengths = bone_length_series(pose)  # (T, 16)
    return float(np.mean(lengths.std(0) / np.maximum(lengths.mean(0), 1e-9)))


def planned_outputs(name: str, out_dir, render: bool = True, gif: bool = False, html: bool = False) -> list[Path]:
    """The files :func:`process_keypoints` writes for a video ``name`` whatever its tracks: NAME.npz, NAME.json,
    NAME.bvh, with ``render`` NAME_3d.mp4 (or .gif) and with ``html`` the viewer NAME.html. With several tracks
    NAME_track<i>.bvh replace NAME.bvh (see :func:`existing_outputs`)."""
    out = Path(out_dir)
    files = [out / f"{name}.npz", out / f"{name}.json", out / f"{name}.bvh"]
    return files + ([out / f"{name}_3d.{'gif' if gif else 'mp4'}"] if render else []) + \
        ([out / f"{name}.html"] if html else [])


def _glob_escape(text: str) -> str:
    """``text`` with glob's special characters ([, *, ?) taken literally."""
    return re.sub(r"([\[\]*?])", r"[\1]", text)


def _track_bvh(name: str, out_dir) -> list[Path]:
    out = Path(out_dir)
    if not out.is_dir():
        return []
    pattern = re.compile(re.escape(name) + r"_track\d+\.bvh")
    return sorted(p for p in out.glob(f"{_glob_escape(name)}_track*.bvh") if pattern.fullmatch(p.name))


def existing_outputs(name: str, out_dir, render: bool = True, gif: bool = False, html: bool = False) -> list[Path]:
    """The outputs of video ``name`` that already exist in ``out_dir`` (those :func:`planned_outputs` lists, and
    NAME_track<i>.bvh of an earlier run with several tracks): what a run would replace."""
    return [p for p in planned_outputs(name, out_dir, render, gif, html) if p.exists()] + _track_bvh(name, out_dir)


def _staged_name(path: Path) -> Path:
    """A hidden temporary name beside ``path`` that keeps its suffix (OpenCV picks the container from it)."""
    return path.with_name(f".{path.stem}.tmp.{os.getpid()}{path.suffix}")


def _commit(staged: dict[Path, Path]) -> None:
    """Flush every staged file to disk, then rename each over its final name."""
    for tmp in staged.values():
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    for final, tmp in staged.items():
        os.replace(tmp, final)


def load_lifter(checkpoint: str | None = None, arch: str | None = None):
    """hotpose.Lifter: the packaged default model; a checkpoint of ``hotpose train`` or a packaged model (``hotpose
    export``) (``arch`` None); or an official checkpoint (``arch`` = its model file, e.g. hot_mixste). A file of
    the wrong kind is a ValueError that says what the file is and what was expected."""
    from hotpose.lifter import Lifter

    if arch and not checkpoint:
        raise ValueError(f"arch {arch!r} names the model file of an official checkpoint; give the checkpoint too")
    if checkpoint:
        from hotpose.engine.checkpoint import (FORMAT, describe_checkpoint, is_packaged, model_from_checkpoint,
                                               model_from_packaged, read_torch_file)

        state = read_torch_file(checkpoint, f"official {arch} checkpoint" if arch else "`hotpose train` checkpoint")
        ours = isinstance(state, dict) and state.get("format") == FORMAT or is_packaged(state)
        if arch:
            if ours:
                raise ValueError(f"{checkpoint} is {describe_checkpoint(state)}: it stores its model, so leave out "
                                 f"--arch (that is for official checkpoints)")
            if not isinstance(state, dict):
                raise ValueError(f"{checkpoint} is {describe_checkpoint(state)}; expected an official {arch} "
                                 f"checkpoint (a state dict of tensors)")
            return Lifter.from_official(arch, state)
        if not ours:
            raise ValueError(f"{checkpoint} is {describe_checkpoint(state)}, not a `hotpose train` checkpoint or a "
                             f"packaged model; for an official checkpoint pass --arch (its model file, e.g. "
                             f"hot_mixste)")
        return Lifter(model_from_packaged(state) if is_packaged(state) else model_from_checkpoint(state).float())
    return Lifter.from_pretrained("default")


def process_keypoints(name: str, keypoints_2d, scores, image_size, fps: float, out_dir, lifter,
                      frames: Callable[[], Iterable[np.ndarray]] | None = None, render: bool = True,
                      gif: bool = False, max_gap: float = 1.0, progress: bool = True,
                      timings: dict | None = None, render_height: int | None = None,
                      gif_fps: float = 15.0, workers: int = 1, video=None, html: bool = False) -> VideoResult:
    """Lift H36M-17 keypoints (T, 17, 2) px (NaN rows = no person) and write every output of one video.

    frames: a callable returning the video's RGB frames again for rendering (None: skeletons on a plain
    background); render_height: pixels (default 480 for mp4, 360 for GIF); a GIF keeps at most ``gif_fps`` frames
    a second. workers > 1: the render pass decodes, draws (in ``workers - 1`` threads) and encodes at once
    (:func:`hotpose.video.pipeline.render_sequence`; the rendering is the same). video: the video's path (recorded
    in the npz; the viewer's frame strip). html: also write the interactive viewer NAME.html
    (:mod:`hotpose.video.viewer`). Returns a :class:`VideoResult`."""
    timings = {} if timings is None else timings
    kp = np.asarray(keypoints_2d, np.float32)
    sc = np.asarray(scores, np.float32)
    t = len(kp)
    present = np.isfinite(kp).all(-1).any(-1)
    if not present.any():
        raise NoPersonError(f"{name}: no person was detected in any of its {t} frames; nothing to lift")
    valid = valid_frames(present, fps, max_gap)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = VideoResult(name, t, float(fps), (int(image_size[0]), int(image_size[1])), timings=timings,
                         valid_fraction=float(valid.mean()), detected=int(present.sum()),
                         invalid=int((~valid).sum()))
    if not present.all():
        log.info("%s: no person in %d of %d frames (%d in gaps longer than %.1f s, marked invalid)", name,
                 int((~present).sum()), t, int((~valid).sum()), max_gap)

    switches = identity_jumps(kp, present)
    if len(switches):
        log.warning("%s: the 2D track jumps by more than half a body height at frame(s) %s: the detector may have "
                    "switched to another person there", name, ", ".join(map(str, switches[:10].tolist())))

    t0 = time.perf_counter()
    result.tracks = tracks(valid, switches)
    raw = lift_tracks(lifter, kp, image_size, np.where(present[:, None], sc, 0), result.tracks, name)
    pose = fixed_skeleton(raw, result.tracks)
    timings["lift"] = timings.get("lift", 0.0) + time.perf_counter() - t0
    weights = [b - a for a, b in result.tracks]
    result.bone_cv = float(np.average([bone_cv(raw[a:b]) for a, b in result.tracks], weights=weights)) \
        if weights else bone_cv(raw)
    if len(result.tracks) > 1:
        log.info("%s: %d tracks (frames %s); bone-length CV of the lifter's output within each: %s", name,
                 len(result.tracks), ", ".join(f"{a}-{b - 1}" for a, b in result.tracks),
                 ", ".join(f"{bone_cv(raw[a:b]):.3f}" for a, b in result.tracks))

    staged: dict[Path, Path] = {}  # final name -> temporary name; all renamed at the end

    def stage(path: Path) -> Path:
        staged[path] = _staged_name(path)
        return staged[path]

    try:
        _write_all(result, out, name, kp, sc, pose, raw, valid, fps, frames, render, gif, progress, timings,
                   render_height, gif_fps, stage, workers, video, html)
        _commit(staged)
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    for old in [out / f"{name}.bvh"] + _track_bvh(name, out):  # BVH files of an earlier run with other tracks
        if old not in staged and old.exists():
            old.unlink()
    return result


def _write_all(result: VideoResult, out: Path, name: str, kp, sc, pose, raw, valid, fps, frames, render, gif,
               progress, timings, render_height, gif_fps, stage, workers=1, video=None, html=False) -> None:
    """Write every output of one video to the temporary names ``stage(final)`` returns; ``result.outputs`` gets
    the final names."""
    t = len(kp)
    t0 = time.perf_counter()
    npz, js = out / f"{name}.npz", out / f"{name}.json"
    save_outputs(out, name, kp, sc, pose, fps, result.image_size, pose_3d_raw=raw, valid=valid,
                 paths=(stage(npz), stage(js)), source=None if video is None else str(Path(video).resolve()))
    result.outputs.update(npz=npz, json=js)
    if len(result.tracks) > 1:  # a skeleton per track: one BVH file each, "bvh" is the longest track's
        for i, (a, b) in enumerate(result.tracks, 1):
            path = out / f"{name}_track{i}.bvh"
            write_bvh(stage(path), pose[a:b], fps)
            result.outputs[f"bvh_track{i}"] = path
        longest = max(range(len(result.tracks)), key=lambda i: result.tracks[i][1] - result.tracks[i][0])
        result.outputs["bvh"] = result.outputs[f"bvh_track{longest + 1}"]
        log.info("%s: one BVH file per track: %s_track1.bvh ... %s_track%d.bvh", name, name, name,
                 len(result.tracks))
    else:
        path = out / f"{name}.bvh"
        write_bvh(stage(path), pose, fps)
        result.outputs["bvh"] = path
    timings["write"] = timings.get("write", 0.0) + time.perf_counter() - t0

    threads = workers - 1 if workers > 1 else 0
    viewer = None
    if html:  # beside the rendering when that runs in threads (its frame strip decodes the video again)
        viewer = _Background(_write_viewer, stage(out / f"{name}.html"), name, kp, pose, valid, fps,
                             result.image_size, video)
        if not threads or not render:
            viewer.join(timings)
        result.outputs["html"] = out / f"{name}.html"

    if render:
        from .pipeline import FrameReader, render_sequence
        from .render import SequenceRenderer, open_writer

        rnd = SequenceRenderer(kp, pose, result.image_size, valid, height=_height_of(render_height, gif),
                               crop=frames is None)
        step = max(1, int(round(fps / gif_fps))) if gif else 1
        path = out / f"{name}_3d.{'gif' if gif else 'mp4'}"
        writer = open_writer(stage(path), rnd.size, fps / step)
        source = frames() if frames is not None else None
        if source is not None and threads:
            source = FrameReader(source)  # decoded ahead, in a thread
        bar = _progress(None, t, f"render {name}", progress) if progress else None
        try:
            render_sequence(rnd, t, writer, source, step=step, threads=threads, timer=timings,
                            progress=None if bar is None else (lambda n: bar.update(n - bar.n)))
        finally:
            writer.close()
            for closing in (source, bar):
                if hasattr(closing, "close"):
                    closing.close()
            if viewer is not None and threads:
                viewer.thread.join()  # not writing any more when the caller removes the staged files
        timings["render"] = timings.get("render", 0.0) + timings.pop("draw") + timings.pop("encode")
        result.outputs["render"] = path
    if viewer is not None and threads and render:
        viewer.join(timings)


def _write_viewer(path: Path, name: str, kp, pose, valid, fps, image_size, video) -> dict:
    """Write the viewer page; -> its timings (html, and decode for its frame strip)."""
    from .viewer import write_viewer

    timer: dict[str, float] = {}
    t0 = time.perf_counter()
    write_viewer(path, [{"name": name, "keypoints_2d": kp, "pose_3d": pose, "valid": valid}], fps, image_size,
                 video=video, timer=timer)
    timer["html"] = time.perf_counter() - t0 - timer.get("decode", 0.0)
    return timer


class _Background:
    """``fn(*args)`` in a thread; :meth:`join` waits, raises its error, and adds its timings to ``timings``."""

    def __init__(self, fn, *args):
        import threading

        self.result, self.error = None, None
        self.thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self.thread.start()

    def _run(self, fn, args):
        try:
            self.result = fn(*args)
        except BaseException as e:  # noqa: BLE001 - raised by join()
            self.error = e

    def join(self, timings: dict) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error
        for k, v in (self.result or {}).items():
            timings[k] = timings.get(k, 0.0) + v


def process_video(path, out_dir, lifter, detector=None, render: bool = True, gif: bool = False,
                  max_gap: float = 1.0, progress: bool = True, render_height: int | None = None,
                  workers: int = 1, html: bool = False, frame_cache: int | None = None) -> VideoResult:
    """Decode, detect (default: :class:`~hotpose.video.detect.BlazePoseDetector`), lift and write one video.

    workers > 1: decode in a thread beside the detector, and decode, draw and encode the rendering at once
    (:mod:`hotpose.video.pipeline`); the outputs are those of ``workers=1``. html: also write the interactive
    viewer NAME.html. frame_cache: bytes for the video's frames scaled for the rendering during the 2D pass
    (:class:`~hotpose.video.pipeline.ScaledFrames`; default ``FRAME_CACHE_BYTES``, 1 GiB); a video whose frames
    do not fit is decoded again for the rendering (the rendering is the same)."""
    from .detect import BlazePoseDetector, detect_frames, read_video, video_info
    from .pipeline import FRAME_CACHE_BYTES, FrameReader, ScaledFrames, tapped

    path = Path(path)
    info = video_info(path)
    timings: dict[str, float] = {}
    scaled = ScaledFrames(info["frames"], (info["width"], info["height"]), _height_of(render_height, gif),
                          FRAME_CACHE_BYTES if frame_cache is None else frame_cache, timings) if render else None
    tap = scaled.add if scaled is not None and scaled.ok else None
    own = detector is None
    detector = BlazePoseDetector() if own else detector
    try:
        source = FrameReader(path, timings, tap=tap) if workers > 1 else tapped(read_video(path, timings), tap)
        frames = _progress(source, info["frames"] or None, f"2D {path.stem}", progress)
        try:
            raw, raw_sc, size = detect_frames(detector, frames, timings)
        finally:
            source.close()
    finally:
        if own:
            detector.close()
    decoded = len(raw)
    if info["frames"] > 0 and decoded != info["frames"]:
        log.warning("%s: decoded %d frames, but its header announces %d: the file may be truncated or damaged; "
                    "the outputs cover the %d decoded frames", path.name, decoded, info["frames"], decoded)
    kp, sc = to_h36m(raw, raw_sc, format=getattr(detector, "format", None))
    kp[~np.isfinite(raw).all(-1).any(-1)] = np.nan
    result = process_keypoints(path.stem, kp, sc, size, info["fps"], out_dir, lifter,
                               frames=scaled.frames if scaled is not None and scaled.ok else
                               (lambda: read_video(path, timings)), render=render, gif=gif, max_gap=max_gap,
                               progress=progress, timings=timings, render_height=render_height, workers=workers,
                               video=path, html=html)
    if info["frames"] > 0 and decoded != info["frames"]:
        result.header_frames = info["frames"]
    n = result.num_frames
    stages = ", ".join(f"{k} {v:.2f} s ({1000 * v / n:.1f} ms/frame)" for k, v in timings.items())
    log.info("%s: %d frames, %dx%d @ %.2f fps; %s", path.name, n, *result.image_size, result.fps, stages)
    return result


def infer(source, out_dir, lifter=None, detector=None, render: bool = True, gif: bool = False,
          max_gap: float = 1.0, progress: bool = True, rank: int | None = None,
          world_size: int | None = None, workers: int = 1, html: bool = False) -> list[VideoResult | Exception]:
    """Process a video or this rank's share of a folder of videos; a video that fails (without a person, an
    unreadable or empty file, ...) is logged and reported as its exception (``e.video``: its path), the others go
    on. workers > 1: the stages of each video overlap (:mod:`hotpose.video.pipeline`); the outputs are those of
    ``workers=1``. html: also write each video's viewer NAME.html."""
    videos = list_videos(source)
    if not videos:
        raise FileNotFoundError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) in {source}")
    mine = shard(videos, rank, world_size)
    if len(mine) < len(videos):
        log.info("this rank processes %d of %d videos", len(mine), len(videos))
    lifter = load_lifter() if lifter is None else lifter
    results: list[VideoResult | Exception] = []
    for v in mine:
        results.append(_one_video(v, out_dir, lifter, detector, render, gif, max_gap, progress, workers, html))
    return results


def _one_video(v: Path, out_dir, lifter, detector, render, gif, max_gap, progress, workers, html):
    """process_video, or the exception of a video that failed (logged; ``e.video``: its path)."""
    try:
        return process_video(v, out_dir, lifter, detector, render, gif, max_gap, progress, workers=workers,
                             html=html)
    except NoPersonError as e:
        log.error("%s", e)
        e.video = v
        return e
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the batch; each is reported
        log.error("%s: %s", v.name, describe_error(e))
        e.video = v
        return e


def describe_error(e: BaseException) -> str:
    """One line for a failed video: OSError's text and file, a ValueError's message, else the type too."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    if isinstance(e, (ValueError, OSError)):
        return str(e)
    return f"{type(e).__name__}: {e}"
