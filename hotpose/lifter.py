"""Lift 2D keypoint sequences from real videos to 3D: the API that users and later features call.

``Lifter(model).lift(keypoints, image_size=(w, h))`` takes (T, 17, 2) Human3.6M-17 keypoints in pixels, any T >= 1,
and returns (T, 17, 3) float32 metres in the camera frame with the root joint (pelvis) at the origin. Sequences are
cut into the evaluation protocol's windows (:class:`hotpose.data.Windows`: centred, edge-padded, non-overlapping for
seq2seq models, one per frame for seq2frame models), run in batches of windows, optionally averaged with the
mirrored input (flip test-time augmentation), and stitched back together.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hotpose.data.cameras import normalize_screen
from hotpose.data.sequence import Sequence
from hotpose.data.windows import Windows
from hotpose.pretrained import PRETRAINED, pretrained_path  # noqa: F401  (part of this module's API)



def fill_missing(keypoints: np.ndarray) -> tuple[np.ndarray, int]:
    """(T, J, 2) with NaN for missing detections -> (T, J, 2) with each joint's gaps linearly interpolated over
    time (edge-held), and the number of (frame, joint) entries filled. A joint missing in every frame raises."""
    missing = np.isnan(keypoints).any(axis=-1)  # (T, J)
    n = int(missing.sum())
    if n == 0:
        return keypoints, 0
    dead = np.nonzero(missing.all(axis=0))[0]
    if len(dead) == keypoints.shape[1]:
        raise ValueError("every keypoint is NaN: nothing to lift")
    if len(dead):
        raise ValueError(f"joint(s) {dead.tolist()} are NaN in all {len(keypoints)} frames; cannot interpolate them")
    out = keypoints.copy()
    t = np.arange(len(keypoints))
    for j in np.nonzero(missing.any(axis=0))[0]:
        ok = ~missing[:, j]
        for c in range(keypoints.shape[-1]):
            out[~ok, j, c] = np.interp(t[~ok], t[ok], keypoints[ok, j, c])
    return out, n


class Lifter:
    """2D keypoints (pixels) -> 3D poses (camera-frame metres, root-relative) with a trained model.

    model:      a hotpose model (``HourglassModel``: ``model(x)`` with x (B, F, 17, C)), on any device; it is put in
                eval mode.
    flip:       flip test-time augmentation by default (overridable per call).
    batch_size: windows per forward pass; memory is bounded by it, not by the sequence length. 16 is faster on a CPU
                than 64 (30,000 frames of the 81-frame default with flip, 2 threads: 27-33 s against 32-38 s;
                probably the attention maps fitting in cache) and holds less memory.
    stride:     seq2seq models: frames between consecutive windows; each window gives the ``stride`` frames around
                its centre (None: the window length F, non-overlapping windows as HoT evaluates; smaller strides
                give every frame more context on both sides and fewer jumps between windows, at F / stride times
                the compute). Seq2frame models always use 1 (one window per frame).
    """

    def __init__(self, model: nn.Module, *, flip: bool = True, batch_size: int = 16, stride: int | None = None):
        if not isinstance(model, nn.Module) or not hasattr(model, "backbone"):
            raise TypeError(f"expected a hotpose model (with a .backbone), got {type(model).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.flip = bool(flip)
        self.batch_size = int(batch_size)
        frames = int(model.backbone.frames)
        if stride is not None and not 1 <= stride <= frames:
            raise ValueError(f"stride must be in [1, {frames}] (the window length), got {stride}")
        self.stride = stride

    @classmethod
    def from_official(cls, arch: str, checkpoint, **kw) -> "Lifter":
        """A lifter around :func:`hotpose.load_official` ``(arch, checkpoint)``; keyword arguments that
        :class:`Lifter` takes (flip, batch_size, stride) go to it, the rest to ``load_official``."""
        from hotpose.official import load_official

        mine = {k: kw.pop(k) for k in ("flip", "batch_size", "stride") if k in kw}
        return cls(load_official(arch, checkpoint, **kw), **mine)

    @classmethod
    def from_pretrained(cls, name: str = "default", **kw) -> "Lifter":
        """The packaged model ``name`` ("default": a small HoT w. MixSTE trained on Bandai-Namco motion, CC BY-NC
        4.0, non-commercial; see hotpose/pretrained/README.md)."""
        from hotpose.engine.checkpoint import model_from_packaged

        path = pretrained_path(name)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: pretrained weights {name!r} are not installed")
        return cls(model_from_packaged(torch.load(path, map_location="cpu", weights_only=True)), **kw)

    @property
    def frames(self) -> int:
        """The model's window length F."""
        return int(self.model.backbone.frames)

    def lift(self, keypoints, image_size: tuple[float, float], scores=None, flip: bool | None = None,
             height_m: float | None = None) -> np.ndarray:
        """(T, 17, 2) pixel keypoints (x right, y down; NaN = missing) of a video of ``image_size`` = (width,
        height) pixels -> (T, 17, 3) float32 metres, camera frame, root joint at 0.

        scores: optional (T, 17) or (T, 17, 1) detector confidences, the third input channel of 3-channel models
                (ones when not given; ignored by 2-channel models).
        flip:   flip test-time augmentation (None: the lifter's default).
        height_m: the person's standing height in metres, when known: the output is scaled about the root so that
                its body has that height (:func:`hotpose.skeleton.scale_to_height`; the bone lengths' medians over
                the sequence times a fixed stature ratio, good to a few percent). Without it the scale is the
                model's own estimate from the 2D shape (docs/results.md gives how far that is off).
        Deterministic: the random tie-break of TPC's clustering is drawn from a fixed seed (the global RNG is left
        untouched). Implausible input (keypoints far outside the image, normalised or all at one point, an image
        size that is no video's) gives a UserWarning (:mod:`hotpose.video.checks`).
        """
        from hotpose.engine.evaluate import predict, readout_positions, resolve_readout
        from hotpose.skeleton import HEIGHT_RANGE_M, scale_to_height
        from hotpose.video.checks import check_keypoints

        if height_m is not None and not (HEIGHT_RANGE_M[0] <= float(height_m) <= HEIGHT_RANGE_M[1]):
            raise ValueError(f"height_m must be the person's standing height in metres, "
                             f"{HEIGHT_RANGE_M[0]}-{HEIGHT_RANGE_M[1]}, got {height_m}")
        check_keypoints(keypoints, image_size, stacklevel=2)

        model, bb = self.model, self.model.backbone
        kp = np.asarray(keypoints, dtype=np.float64)
        if kp.ndim != 3 or kp.shape[1:] != (bb.joints, 2) or kp.shape[0] < 1:
            raise ValueError(f"keypoints must have shape (T, {bb.joints}, 2) with T >= 1 (Human3.6M-17 order, "
                             f"pixels), got {kp.shape}")
        if np.isinf(kp).any():
            raise ValueError("keypoints hold infinite values")
        w, h = _image_size(image_size)
        kp, filled = fill_missing(kp)
        if filled:
            msg = (f"{filled} missing keypoints (NaN) of {kp.shape[0] * kp.shape[1]} were filled by linear "
                   f"interpolation over time")
            warnings.warn(msg, stacklevel=2)
        x = normalize_screen(kp, w, h)  # (T, J, 2) float32
        if bb.in_channels == 3:
            conf = np.ones(x.shape[:2] + (1,), np.float32) if scores is None else _scores(scores, x.shape[:2])
            x = np.concatenate([x, conf], axis=-1)
        elif bb.in_channels != 2:
            raise ValueError(f"models with {bb.in_channels} input channels are not supported")
        flip = self.flip if flip is None else bool(flip)

        readout = resolve_readout(model)
        frames = self.frames
        stride = (self.stride or frames) if readout == "seq2seq" else 1
        param = next(model.parameters())
        seq = Sequence("input", "input", "input", x, np.zeros(x.shape[:2] + (3,), np.float32))
        win = Windows([seq], frames, stride, channels=bb.in_channels, device=param.device)
        out = torch.zeros(len(kp), bb.joints, 3, dtype=torch.float32, device=param.device)
        cuda = [param.device.index or 0] if param.device.type == "cuda" else []
        with torch.inference_mode(), torch.random.fork_rng(devices=cuda):
            torch.manual_seed(0)  # TPC's tie-break draw: the same input gives the same output
            for i in range(0, len(win), self.batch_size):
                which = torch.arange(i, min(i + self.batch_size, len(win)), device=param.device)
                xb, _ = win.batch(which)
                pose, keep_idx = predict(model, xb.to(param.dtype), flip)
                pred, pos = readout_positions(pose.float(), keep_idx, frames, readout, win.owned)
                fidx, real = win.frame_index(which)
                fidx, real = fidx.gather(1, pos), real.gather(1, pos)
                out[fidx[real]] = pred[real]
        out[:, 0] = 0
        out = out.cpu().numpy()
        return out if height_m is None else scale_to_height(out, height_m)


def _image_size(image_size) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height) in pixels, got {image_size!r}") from None
    if not (w > 0 and h > 0 and np.isfinite(w) and np.isfinite(h)):
        raise ValueError(f"image_size must be positive (width, height) in pixels, got {image_size!r}")
    return w, h


def _scores(scores, shape: tuple[int, int]) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float32)
    if s.shape == shape + (1,):
        s = s[..., 0]
    if s.shape != shape:
        raise ValueError(f"scores must have shape {shape} or {shape + (1,)}, got {s.shape}")
    return np.nan_to_num(s, nan=0.0)[..., None]
