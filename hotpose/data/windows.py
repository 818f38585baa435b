"""Fixed-length windows cut from sequences, gathered by index arithmetic on whole tensors (no per-sample loops).

A sequence of T frames with stride s is split into n = ceil(T / s) chunks of s frames, centred (the overrun is split
over both ends, SPEC section 6); each window holds the F frames centred on its chunk, edge-padded at the sequence
ends. s = F gives the non-overlapping seq2seq clips of HoT's training and evaluation; s = 1 gives one window per frame,
centred on it (seq2frame). A window "owns" the frames of its chunk: window positions [(F - s) // 2, (F - s) // 2 + s).

Temporal downsampling (``step`` > 1, P-STMO's and STCFormer's ``-tds``): a window takes every step-th frame around
its chunk, so F positions span (F - 1) * step + 1 frames; position p holds frame a + step * (p - (F - s) // 2), where
a is the chunk's first frame (for s = 1: the window's centre is its target frame t, position p holds frame
t + step * (p - (F - 1) // 2)). Frames outside the sequence repeat its first / last frame, as the official loaders
pad. With step = 1 the windows are exactly the contiguous ones above.
"""
from __future__ import annotations

import numpy as np
import torch

from hotpose.data.io import DataError
from hotpose.data.sequence import Sequence
from hotpose.skeleton import flip_pose

FLIP_MODES = ("double", "random", "none")


def chunk_starts(lengths: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred chunks of ``stride`` frames for sequences of ``lengths``: (sequence index (W,), first frame (W,),
    negative when the first chunk starts in the padding)."""
    lengths = np.asarray(lengths, np.int64)
    n = -(-lengths // stride)
    offset = (n * stride - lengths) // 2
    seq = np.repeat(np.arange(len(lengths)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return seq, k * stride - offset[seq]


class Windows:
    """Windows of ``frames`` frames at ``stride`` over ``sequences`` (stride None: ``frames``, the seq2seq clips).

    channels: input channels the model takes (2D only, or 2D + confidence; a missing confidence is set to 1).
    valid_only: keep only windows that own at least one valid frame (MPI-INF-3DHP test).
    step: temporal downsampling, every step-th frame (1: contiguous windows; see the module docstring).
    Tensors live on ``device``; batches are gathered there.
    """

    def __init__(self, sequences: list[Sequence], frames: int, stride: int | None = None, channels: int = 2,
                 valid_only: bool = False, device: str | torch.device = "cpu", step: int = 1):
        if not sequences:
            raise DataError("no sequences to cut windows from (check the subjects/actions of this split)")
        stride = stride or frames
        if not 1 <= stride <= frames:
            raise ValueError(f"stride must be in [1, frames={frames}], got {stride}")
        if step < 1:
            raise ValueError(f"step (data.frame_step) must be >= 1, got {step}")
        self.frames, self.stride, self.step, self.sequences = frames, stride, step, sequences
        lengths = np.array([len(s) for s in sequences], np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        x = np.concatenate([s.inputs for s in sequences])
        if x.shape[-1] < channels:
            x = np.concatenate([x, np.ones(x.shape[:-1] + (channels - x.shape[-1],), x.dtype)], axis=-1)
        valid = np.concatenate([s.valid if s.valid is not None else np.ones(len(s), bool) for s in sequences])
        seq, chunk = chunk_starts(lengths, stride)
        if valid_only and step == 1:
            cs = np.concatenate([[0], np.cumsum(valid)])
            lo = offsets[seq] + np.clip(chunk, 0, lengths[seq])
            hi = offsets[seq] + np.clip(chunk + stride, 0, lengths[seq])
            keep = cs[hi] > cs[lo]
            seq, chunk = seq[keep], chunk[keep]
        elif valid_only:  # the owned frames are a, a + step, ...: look each one up
            t = chunk[:, None] + step * np.arange(stride)  # (W, s) owned frames
            inside = (t >= 0) & (t < lengths[seq, None])
            keep = (valid[offsets[seq, None] + np.clip(t, 0, lengths[seq, None] - 1)] & inside).any(axis=1)
            seq, chunk = seq[keep], chunk[keep]
        self.owned = ((frames - stride) // 2, (frames - stride) // 2 + stride)
        to = dict(device=device)
        self.inputs = torch.as_tensor(x[..., :channels], dtype=torch.float32).to(**to)  # (N, J, C)
        self.targets = torch.as_tensor(np.concatenate([s.targets for s in sequences]), dtype=torch.float32).to(**to)
        self.valid = torch.as_tensor(valid).to(**to)  # (N,)
        self.lengths = torch.as_tensor(lengths).to(**to)  # (S,)
        self.offsets = torch.as_tensor(offsets).to(**to)  # (S,)
        self.seq = torch.as_tensor(seq).to(**to)  # (W,)
        self.start = torch.as_tensor(chunk - step * self.owned[0]).to(**to)  # (W,) first frame of each window
        self.device = torch.device(device)

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    def frame_index(self, which: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Window ids (B,) -> frame index into the concatenated arrays (B, F), edge-clipped, and (B, F) bool: the
        position holds a real frame (not edge padding)."""
        which = torch.as_tensor(which, device=self.device)
        seq = self.seq[which]
        positions = torch.arange(self.frames, device=self.device)
        if self.step != 1:
            positions = positions * self.step
        t = self.start[which, None] + positions  # (B, F) frame in sequence
        length = self.lengths[seq, None]
        real = (t >= 0) & (t < length)
        return self.offsets[seq, None] + t.clamp(min=0).minimum(length - 1), real

    def batch(self, which, flip=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Window ids (B,) and optional (B,) bool flip flags -> inputs (B, F, J, C), targets (B, F, J, 3)."""
        idx, _ = self.frame_index(which)
        x, y = self.inputs[idx], self.targets[idx]
        if flip is not None:
            flip = torch.as_tensor(flip, device=self.device)
            if flip.any():
                x[flip], y[flip] = flip_pose(x[flip]), flip_pose(y[flip])
        return x, y


def epoch_order(n: int, flip: str, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """The shuffled training samples of one epoch, a function of (seed, epoch) only: window ids (N,) and flip flags
    (N,). ``flip``: "double" (every window twice, plain and mirrored, as the official code), "random" (each
    window once, mirrored with probability 1/2) or "none"."""
    if flip not in FLIP_MODES:
        raise ValueError(f"unknown flip mode {flip!r}; expected one of {FLIP_MODES}")
    rng = np.random.default_rng([seed, epoch])
    if flip == "double":
        ids = rng.permutation(2 * n)
        return ids % n, ids >= n
    ids = rng.permutation(n)
    return ids, (rng.random(n) < 0.5) if flip == "random" else np.zeros(n, bool)
