"""The stages of ``hotpose infer`` overlapped: decoding beside 2D detection, rendering spread over processes.

The sequential run (``workers=1``, :func:`hotpose.video.infer.process_video`) decodes a frame, detects its person,
and only after the last frame lifts and renders, decoding the video a second time. Its results fix what the
pipelined run may change: nothing. The 2D detector tracks its person from frame to frame (BlazePose in video mode
feeds each frame's landmarks to the next), so detection stays one stream in frame order, and the lifter needs the
whole track (the fixed skeleton takes each bone's median over it). What overlaps is therefore:

- 2D pass: a decoding thread fills a bounded queue (:class:`FrameReader`; OpenCV releases the GIL while it
  decodes) while the detector works on the previous frames.
- lifting: between the passes, in the main process (about 2 % of the time); the render processes start during
  the 2D pass, so their start-up is hidden behind it.
- render pass: a decoding thread writes each frame straight into a slot of shared memory, ``workers`` processes
  draw the frames (:class:`RenderPool`) into output slots, and the main process writes them to the file in frame
  order. The number of slots is fixed, so memory does not grow with the length of the video.

The outputs are the sequential run's, array for array and frame for frame (``tests/test_video_pipeline.py``).
An error in a worker (an exception or a killed process) stops the video with a message that names the frame and
the worker's error; the video's files are then removed as for any failed video (nothing half-written).

The render processes are forked by multiprocessing's forkserver (spawn where there is none), which imports the
calling script again: a script that calls ``infer(..., workers=2)`` needs the usual ``if __name__ ==
"__main__":`` guard (the ``hotpose`` command has it).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from multiprocessing import shared_memory
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["default_workers", "FrameReader", "RenderPool", "WorkerError"]

_POLL = 0.2  # seconds between checks that the other side is still alive


def default_workers() -> int:
    """The CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class WorkerError(RuntimeError):
    """A worker of the pipeline failed; the message says which stage, which frame and why."""


# ------------------------------------------------------------------------------------------------- decoding
class FrameReader:
    """Iterate over a video's RGB frames, decoded by a background thread ``depth`` frames ahead.

    The frames are those of :func:`hotpose.video.detect.read_video` (same decoder, same conversion); decoding time
    is added to ``timer["decode"]``. An error in the thread is raised in the consumer; :meth:`close` (also on
    leaving a ``with`` block, or when the consumer stops early) ends the thread."""

    def __init__(self, path, timer: dict | None = None, depth: int = 8):
        from .detect import read_video

        self._frames = read_video(path, timer)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hotpose-decode", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for frame in self._frames:
                if not self._put(("frame", frame)):
                    return
            self._put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
            self._put(("error", e))
        finally:
            self._frames.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            while True:
                kind, item = self._queue.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ------------------------------------------------------------------------------------------------ rendering
class _Slots:
    """``n`` uint8 arrays of one shape in one block of shared memory (created here, or attached by ``name``)."""

    def __init__(self, n: int, shape: tuple[int, ...], name: str | None = None):
        size = max(1, n * int(np.prod(shape)))
        self.shm = shared_memory.SharedMemory(name=name, create=name is None, size=size if name is None else 0)
        self.array = np.ndarray((n, *shape), np.uint8, buffer=self.shm.buf)
        self.owner = name is None  # the workers share their parent's resource tracker: only the owner unlinks

    @property
    def name(self) -> str:
        return self.shm.name

    def close(self) -> None:
        del self.array
        self.shm.close()
        if self.owner:
            try:
                self.shm.unlink()
            except FileNotFoundError:  # removed already
                pass


def _render_worker(control, tasks, done) -> None:
    """A render process: for each job (a renderer's arguments and the slots' names, on ``control``), draw the
    frames named on ``tasks`` until its end marker; report each on ``done``."""
    try:
        import cv2
        cv2.setNumThreads(1)  # one process per core already
    except ImportError:
        pass

    while True:
        job = control.get()
        if job is None:
            return
        inputs = outputs = None
        try:
            rnd = _resolve(job["renderer_class"])(**job["renderer"])
            outputs = _Slots(job["slots"], (rnd.height, rnd.size[0], 3), job["out"])
            inputs = _Slots(job["slots"], job["frame_shape"], job["in"]) if job["in"] else None
        except BaseException:  # noqa: BLE001 - reported to the main process
            done.put(("error", -1, traceback.format_exc()))
            rnd = None
        while True:
            task = tasks.get()
            if task is None:
                break
            if rnd is None:
                continue
            i, slot, has_image = task
            t0 = time.perf_counter()
            try:
                outputs.array[slot] = rnd.frame(i, inputs.array[slot] if has_image and inputs else None)
            except BaseException:  # noqa: BLE001 - reported to the main process
                done.put(("error", i, traceback.format_exc()))
                rnd = None
                continue
            done.put(("ok", i, slot, time.perf_counter() - t0))
        for slots in (inputs, outputs):
            if slots is not None:
                slots.close()
        done.put(("idle", os.getpid(), _peak_rss()))


def _peak_rss() -> int:
    """Peak resident memory of this process in bytes (0 where unknown)."""
    try:
        import resource
        import sys
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS: bytes, Linux: KiB
    except (ImportError, OSError):
        return 0


def _context():
    """forkserver where there is one: a clean process, started once (it imports the package, a second or two),
    forks the workers, which then start at once. Not fork: OpenCV's thread pool, once used by the parent, hangs
    a forked child. Else spawn (a fresh interpreter per worker)."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["hotpose.video.render"])
        return ctx
    return mp.get_context("spawn")


def _resolve(name: str):
    """"module:attribute" -> the attribute."""
    import importlib

    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


class RenderPool:
    """``workers`` processes that draw the frames of :class:`~hotpose.video.render.SequenceRenderer` in parallel.

    Started ahead of use (:func:`_context`) and reused for every video of a run; :meth:`render` streams one video
    through them. Close it (or use ``with``) to end the processes. renderer: the class that draws, as
    "module:name" (a SequenceRenderer or one that draws as it does)."""

    def __init__(self, workers: int, depth: int = 2, renderer: str = "hotpose.video.render:SequenceRenderer"):
        self.workers = int(workers)
        self.renderer = renderer
        self.slots = self.workers * depth + 2
        ctx = _context()
        # One resource tracker for the blocks of shared memory, the parent's: a worker would otherwise start its
        # own, which removes the blocks it saw when the worker ends.
        from multiprocessing import resource_tracker
        resource_tracker.ensure_running()
        self._tasks = ctx.Queue()
        self._done = ctx.Queue()
        self._control = [ctx.Queue() for _ in range(self.workers)]
        self._procs = [ctx.Process(target=_render_worker, args=(c, self._tasks, self._done), daemon=True,
                                   name=f"hotpose-render-{k}") for k, c in enumerate(self._control)]
        for p in self._procs:
            p.start()
        self.broken = False
        self._idle = 0
        self.peak_rss = 0  # the largest peak resident memory of a worker so far, bytes

    def _check_alive(self) -> None:
        for p in self._procs:
            if not p.is_alive():
                raise WorkerError(f"a render process ({p.name}, pid {p.pid}) ended with exit code {p.exitcode} "
                                  f"(killed, or out of memory?)")

    def render(self, renderer_args: dict, num_frames: int, writer, video=None, step: int = 1,
               timer: dict | None = None, progress=None) -> None:
        """Draw frames 0, step, 2 step, ... < ``num_frames`` of ``SequenceRenderer(**renderer_args)`` over the
        frames of ``video`` (None: no picture) and hand them to ``writer.write`` in order. ``progress``: a callable
        given the number of frames done so far (decoded, drawn or skipped). Raises :class:`WorkerError` when a
        worker fails; the pool is then closed (``broken``)."""
        if self.broken:
            raise WorkerError("the render processes were stopped by an earlier error")
        timer = {} if timer is None else timer
        probe = _resolve(self.renderer)(**renderer_args)
        out_shape = (probe.height, probe.size[0], 3)
        frame_shape, cap, first = None, None, None
        if video is not None:  # the first frame gives the shape of the input slots
            from .detect import require
            cv2 = require("cv2")
            cap = cv2.VideoCapture(str(video))
            if not cap.isOpened():
                raise FileNotFoundError(f"cannot open video {video}")
            t0 = time.perf_counter()
            ok, first = cap.read()
            timer["decode"] = timer.get("decode", 0.0) + time.perf_counter() - t0
            if ok:
                frame_shape = first.shape
            else:
                cap.release()
                cap = first = None
        outputs = _Slots(self.slots, out_shape)
        inputs = _Slots(self.slots, frame_shape) if frame_shape else None
        free: queue.Queue = queue.Queue()
        for s in range(self.slots):
            free.put(s)
        stop = threading.Event()
        failure: list[BaseException] = []
        wanted = list(range(0, num_frames, step))
        job = {"renderer": renderer_args, "renderer_class": self.renderer, "slots": self.slots, "out": outputs.name,
               "in": inputs.name if inputs else None, "frame_shape": frame_shape}
        for c in self._control:
            c.put(job)
        self._idle = 0
        feeder = threading.Thread(target=self._feed, args=(cap, first, num_frames, step, inputs, free, stop,
                                                           failure, timer), name="hotpose-render-feed", daemon=True)
        feeder.start()
        ok = False
        try:
            ready: dict[int, int] = {}
            for i in wanted:
                while i not in ready:
                    ready.update(self._next_done(failure, timer))
                slot = ready.pop(i)
                t0 = time.perf_counter()
                writer.write(outputs.array[slot])
                timer["encode"] = timer.get("encode", 0.0) + time.perf_counter() - t0
                free.put(slot)
                if progress is not None:
                    progress(min(i + step, num_frames))
            feeder.join()
            if failure:
                raise failure[0]
            while self._idle < self.workers:  # every worker has let go of the slots
                self._next_done(failure, timer)
            ok = True
        finally:
            stop.set()
            feeder.join()
            if not ok:
                self.close(terminate=True)
                self.broken = True
            if inputs is not None:
                inputs.close()
            outputs.close()

    def _next_done(self, failure: list, timer: dict) -> dict[int, int]:
        """Wait for one report of a worker: {frame: slot} when it drew one, {} otherwise. Raises on an error."""
        while True:
            if failure:
                raise failure[0]
            try:
                msg = self._done.get(timeout=_POLL)
                break
            except queue.Empty:
                self._check_alive()
        if msg[0] == "error":
            where = f"frame {msg[1]}" if msg[1] >= 0 else "setting up"
            last = msg[2].strip().splitlines()[-1]
            raise WorkerError(f"rendering failed in a worker process ({where}): {last}")
        if msg[0] == "idle":
            self._idle += 1
            self.peak_rss = max(self.peak_rss, msg[2])
            return {}
        timer["draw"] = timer.get("draw", 0.0) + msg[3]
        return {msg[1]: msg[2]}

    def _feed(self, cap, first, num_frames: int, step: int, inputs, free: queue.Queue, stop: threading.Event,
              failure: list, timer: dict) -> None:
        """Decode the video of ``cap`` (``first``: its first frame, read already; BGR) into free input slots and
        queue the frames to draw, then one end marker per worker."""
        try:
            have = cap is not None
            if have:
                import cv2
            for i in range(num_frames):
                if i % step:
                    if have:  # as the sequential run: the frame is read and left out
                        t0 = time.perf_counter()
                        have = cap.grab()
                        timer["decode"] = timer.get("decode", 0.0) + time.perf_counter() - t0
                    continue
                slot = None
                while slot is None:
                    if stop.is_set():
                        return
                    try:
                        slot = free.get(timeout=_POLL)
                    except queue.Empty:
                        pass
                if have:
                    t0 = time.perf_counter()
                    ok, bgr = (True, first) if i == 0 else cap.read()
                    if ok and bgr.shape != inputs.array.shape[1:]:
                        raise ValueError(f"frame {i} is {bgr.shape[1]}x{bgr.shape[0]} px, the first frame "
                                         f"{inputs.array.shape[2]}x{inputs.array.shape[1]}: the frame size changes "
                                         f"within the video")
                    if ok:
                        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=inputs.array[slot])
                    have = ok
                    timer["decode"] = timer.get("decode", 0.0) + time.perf_counter() - t0
                self._tasks.put((i, slot, have))
        except BaseException as e:  # noqa: BLE001 - raised by the main thread
            failure.append(e)
        finally:
            if cap is not None:
                cap.release()
            for _ in self._procs:
                self._tasks.put(None)

    def close(self, terminate: bool = False) -> None:
        """End the processes (at once with ``terminate``)."""
        for p, c in zip(self._procs, self._control):
            if terminate:
                p.terminate()
            elif p.is_alive():
                c.put(None)
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
        self._procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
