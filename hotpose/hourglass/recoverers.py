"""Recoverers: restore the full F frames from the n kept tokens.

All take x (B, n, J, C) and the kept frame indices (B, n), and return (B, F, J, C); given ``targets`` (B, m)
frame indices (a hierarchical hourglass recovering one level at a time), they return those m frames instead. TRA recovers tokens (before
the head); the interpolations recover the predicted poses (after the head, ``on_pose``), so the head runs on the n
kept frames only — the FLOPs the paper reports for them (161.73 G at 243 frames).

* ``tra``: Token Recovering Attention: learnable full-length queries (1, F, C) cross-attend to the kept tokens of
  each joint; output = queries + CrossAttention(queries, x, x). No norm, no MLP. The queries are created at zero
  (the official init); :class:`~hotpose.hourglass.model.HourglassModel` then initialises them as
  ``HourglassConfig.tra_init`` says (:mod:`hotpose.hourglass.init`).
* ``nearest``: each frame copies the kept frame closest in time (the earlier one on a tie).
* ``linear``: each frame interpolates linearly between the kept frames around it (held constant beyond the ends).
* ``none``: no recovery; the model is seq2frame and predicts the n kept frames.
"""
from __future__ import annotations

import torch
from torch import nn

from hotpose.hourglass.gather import gather_frames
from hotpose.layers.attention import CrossAttention


class TokenRecoveringAttention(nn.Module):
    """TRA. ``queries`` is the official ``x_token``; ``cross_attention`` holds linear_q/k/v and proj."""

    on_pose = False

    def __init__(self, dim: int, frames: int, heads: int = 8, qkv_bias: bool = True):
        super().__init__()
        self.queries = nn.Parameter(torch.zeros(1, frames, dim))
        self.cross_attention = CrossAttention(dim, heads, qkv_bias=qkv_bias)

    def forward(self, x: torch.Tensor, idx: torch.Tensor, frames: int,
                targets: torch.Tensor | None = None) -> torch.Tensor:
        B, n, J, C = x.shape
        kv = x.transpose(1, 2).reshape(B * J, n, C)
        if targets is None:
            q = self.queries[:, :frames]  # (1, F, C), shared by every (sample, joint) sequence
        else:  # the queries of the target frames, per sample, for each of its joints
            q = self.queries[0][targets][:, None].expand(B, J, -1, C).reshape(B * J, -1, C)
        out = q + self.cross_attention(q, kv, kv)  # (B*J, F or m, C)
        return out.view(B, J, -1, C).transpose(1, 2)


def _neighbours(idx: torch.Tensor, frames: int, targets: torch.Tensor | None = None):
    """For every frame t (0 .. frames - 1, or ``targets``): the kept positions just left and right of t and t's
    place between them.

    idx: (B, n) sorted -> left, right (B, F) positions into idx; w (B, F) weight of the right one.
    """
    B, n = idx.shape
    t = (torch.arange(frames, device=idx.device).expand(B, frames).contiguous() if targets is None
         else targets.contiguous())
    right = torch.searchsorted(idx, t).clamp(max=n - 1)  # first kept frame >= t
    left = (right - 1).clamp(min=0)
    left = torch.where(idx.gather(1, right) <= t, right, left)  # t itself kept, or beyond the last kept frame
    f_left, f_right = idx.gather(1, left), idx.gather(1, right)
    span = (f_right - f_left).clamp(min=1)
    w = ((t - f_left).clamp(min=0) / span).clamp(0, 1)
    return left, right, w


class NearestRecovery(nn.Module):
    on_pose = True

    def forward(self, x, idx, frames, targets=None):
        left, right, w = _neighbours(idx, frames, targets)
        return gather_frames(x, torch.where(w > 0.5, right, left))


class LinearRecovery(nn.Module):
    on_pose = True

    def forward(self, x, idx, frames, targets=None):
        left, right, w = _neighbours(idx, frames, targets)
        w = w.to(x.dtype)[:, :, None, None]
        return gather_frames(x, left) * (1 - w) + gather_frames(x, right) * w


RECOVERERS = {"tra": TokenRecoveringAttention, "nearest": NearestRecovery, "linear": LinearRecovery, "none": None}


def make_recoverer(name: str, dim: int, frames: int, heads: int = 8, qkv_bias: bool = True) -> nn.Module | None:
    """Build the recoverer ``name`` for tokens of width ``dim`` and sequences of up to ``frames`` frames."""
    if name == "tra":
        return TokenRecoveringAttention(dim, frames, heads, qkv_bias)
    if name == "none":
        return None
    return RECOVERERS[name]()
