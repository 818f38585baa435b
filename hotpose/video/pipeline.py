"""The stages of ``hotpose infer`` overlapped, in threads: decoding beside 2D detection, and decoding, drawing and
encoding beside one another in the render pass.

The sequential run (``workers=1``, :func:`hotpose.video.infer.process_video`) decodes a frame, detects its person,
and only after the last frame lifts and renders, decoding the video a second time. Its results fix what the
pipelined run may change: nothing. The 2D detector tracks its person from frame to frame (BlazePose in video mode
feeds each frame's landmarks to the next), so detection stays one stream in frame order (restarting the tracker
at fixed frames, to detect parts of the video in parallel, makes it lose or change the person: see
docs/video_speed.md), and the lifter needs the whole track (the fixed skeleton takes each bone's median over it).
What overlaps is therefore:

- 2D pass: a decoding thread fills a bounded queue (:class:`FrameReader`; OpenCV releases the GIL while it
  decodes) while the detector works on the previous frames.
- lifting: between the passes (about 2 % of the time).
- the frames for the rendering: scaled to the rendering's video panel in the 2D pass (in the decoding thread,
  beside the detector) and kept (:class:`ScaledFrames`) when they all fit in ``FRAME_CACHE_BYTES`` (1 GiB, some
  870 frames at the default 480 px), so that the render pass of a short video decodes nothing; a longer one is
  decoded a second time, keeping memory flat. The sequential run keeps them too (in its one thread).
- render pass (:func:`render_sequence`): a decoding thread, ``workers - 1`` drawing threads (OpenCV's resizing
  and drawing release the GIL) and the calling thread, which encodes the drawn frames in frame order. The queues
  are bounded, so memory does not grow with the length of the video.

Threads rather than processes: nothing to start (on a short clip, starting render processes cost more than they
saved), no frames copied between processes, and no ``if __name__ == "__main__":`` guard needed in the caller.

The outputs are the sequential run's, array for array and frame for frame (``tests/test_video_pipeline.py``).
An error in a thread stops the video with a message that names the stage and the frame; the video's files are
then removed as for any failed video (nothing half-written).
"""
from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np

__all__ = ["default_workers", "FrameReader", "ScaledFrames", "ordered_map", "render_sequence", "WorkerError",
           "FRAME_CACHE_BYTES"]

_POLL = 0.2  # seconds between checks that the consumer still wants frames
FRAME_CACHE_BYTES = 1 << 30  # ScaledFrames' default budget: about 870 frames of a 480-px-high 16:9 panel


def default_workers() -> int:
    """The CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class WorkerError(RuntimeError):
    """A thread of the pipeline failed; the message says which stage, which frame and why."""


# ------------------------------------------------------------------------------------------------- decoding
class FrameReader:
    """Iterate over a video's RGB frames, decoded by a background thread ``depth`` frames ahead.

    source: a video path (the frames of :func:`hotpose.video.detect.read_video`: same decoder, same conversion;
    decoding time is added to ``timer["decode"]``) or any iterable of frames. An error in the thread is raised in
    the consumer; :meth:`close` (also on leaving a ``with`` block, or when the consumer stops early) ends the
    thread. tap: called with each frame in the thread, before the frame is queued."""

    def __init__(self, source, timer: dict | None = None, depth: int = 8, tap: Callable | None = None):
        if isinstance(source, (str, os.PathLike)):
            from .detect import read_video

            self._frames = read_video(source, timer)
        else:
            self._frames = iter(source)
        self._tap = tap
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
                if self._tap is not None:
                    self._tap(frame)
                if not self._put(("frame", frame)):
                    return
            self._put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
            self._put(("error", e))
        finally:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()

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


def tapped(frames: Iterable, tap: Callable | None) -> Iterator:
    """``frames`` with ``tap(frame)`` called on each before it is yielded (in the consumer's thread); closing the
    iterator closes ``frames``."""
    try:
        for frame in frames:
            if tap is not None:
                tap(frame)
            yield frame
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


class ScaledFrames:
    """A video's frames scaled to the rendering's video panel, kept from the 2D pass so that the render pass
    need not decode the video a second time, when all of them fit in ``budget`` bytes (else none are kept).

    :meth:`add` each decoded frame in order (from the decoding thread: the scaling then runs beside the detector);
    :attr:`ok` says whether they were all kept (False when the video holds more frames than ``num_frames``, its
    header's count, or a frame of another size than ``image_size``); :meth:`frames` yields them. The scaled frame
    is what :class:`~hotpose.video.render.SequenceRenderer` makes of the decoded one
    (:func:`~hotpose.video.render.resize_image`, which leaves a frame of the panel's size as it is), so the
    rendering is the same either way. Scaling time is added to ``timer["render"]``."""

    def __init__(self, num_frames: int, image_size, height: int, budget: int = FRAME_CACHE_BYTES,
                 timer: dict | None = None):
        from .render import video_panel_size

        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.panel = video_panel_size(self.image_size, height)
        self.timer = timer
        self.count = 0
        w, h = self.panel
        self.ok = 0 < num_frames and num_frames * w * h * 3 <= budget
        self.array = np.empty((num_frames, h, w, 3), np.uint8) if self.ok else None

    def add(self, frame: np.ndarray) -> None:
        if not self.ok:
            return
        if self.count >= len(self.array) or (frame.shape[1], frame.shape[0]) != self.image_size:
            self.ok, self.array = False, None
            return
        from .render import resize_image

        t0 = time.perf_counter()
        self.array[self.count] = resize_image(frame, *self.panel)
        self.count += 1
        if self.timer is not None:
            self.timer["render"] = self.timer.get("render", 0.0) + time.perf_counter() - t0

    def frames(self) -> Iterator[np.ndarray]:
        if not self.ok:
            raise RuntimeError("the scaled frames were not all kept")
        return iter(self.array[:self.count])


# ------------------------------------------------------------------------------------------------ rendering
def ordered_map(fn: Callable, items: Iterable, threads: int, depth: int | None = None) -> Iterator:
    """``fn(item)`` for each item, yielded in the items' order; threads > 0: computed by that many threads, at
    most ``depth`` (default 2 threads + 1) ahead of the consumer; 0: in the calling thread, one at a time. An
    error in ``fn`` is raised at its item; the items not yet computed are then dropped."""
    if threads <= 0:
        for item in items:
            yield fn(item)
        return
    depth = depth or 2 * threads + 1
    pending: deque = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="hotpose-draw") as ex:
        try:
            for item in items:
                pending.append(ex.submit(fn, item))
                if len(pending) > depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def render_sequence(renderer, num_frames: int, writer, frames: Iterable | None = None, step: int = 1,
                    threads: int = 0, timer: dict | None = None, progress: Callable[[int], None] | None = None
                    ) -> None:
    """Draw frames 0, step, 2 step, ... < ``num_frames`` with ``renderer.frame(i, image)`` and hand them to
    ``writer.write`` in order. frames: the video's RGB frames, one per frame index, read also where a frame is
    left out (None: no picture; a frame missing at the end: none); threads: drawing threads beside the calling
    thread, which writes (0: draw and write in turn). Drawing time goes to ``timer["draw"]`` (summed over the
    threads), writing to ``timer["encode"]``; progress: a callable given the number of frames done so far."""
    timer = {} if timer is None else timer
    timer.setdefault("draw", 0.0)
    timer.setdefault("encode", 0.0)
    lock = threading.Lock()
    source = iter(frames) if frames is not None else None

    def jobs():
        for i in range(num_frames):
            image = next(source, None) if source is not None else None
            if i % step == 0:
                yield i, image

    def draw(job):
        i, image = job
        t0 = time.perf_counter()
        try:
            out = renderer.frame(i, image)
        except Exception as e:
            if threads <= 0:
                raise
            raise WorkerError(f"rendering failed in a drawing thread (frame {i}): {type(e).__name__}: {e}") from e
        with lock:
            timer["draw"] += time.perf_counter() - t0
        return i, out

    for i, image in ordered_map(draw, jobs(), threads):
        t0 = time.perf_counter()
        writer.write(image)
        timer["encode"] += time.perf_counter() - t0
        if progress is not None:
            progress(min(i + step, num_frames))
