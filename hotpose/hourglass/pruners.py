"""Pruners: choose which n of the F frames the shorter stages keep.

Every pruner returns (B, n) int64 frame indices, sorted ascending and unique, and draws no gradient. With
``centre`` set, the centre frame is always among them (the pruner picks n - 1 others and the centre is appended).

* ``tpc``: Token Pruning Cluster, the density peaks of DPC-kNN on the frame features (the paper's method).
* ``uniform``: every (F / n)-th frame: the centres of n equal bins, frame floor((i + 0.5) * F / n) for i < n.
* ``attention``: the frames that receive the most attention, measured parameter-free on the frame features X
  (B, F, C): A = softmax(X X^T / sqrt(C)) over keys, and frame j scores the attention it receives, sum_i A_ij.
* ``motion``: the frames with the largest 2D motion: the mean over joints of |p_t - p_{t-1}| + |p_{t+1} - p_t|
  on the input keypoints (first two channels; a missing neighbour at a sequence end counts as zero motion).

``attention`` and ``motion`` follow the paper's one-line descriptions of its baselines; the official code does not
contain them, so these are our definitions.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from hotpose.hourglass.cluster import dpc_scores


def _top_scores(score: torch.Tensor, n: int, centre: int | None) -> torch.Tensor:
    """The n best-scoring frames (the centre forced in when given), sorted ascending. score: (B, F) -> (B, n)."""
    if centre is None:
        idx = score.topk(n, dim=-1).indices
    elif isinstance(centre, torch.Tensor):  # one centre per sample (a later step of a schedule)
        c = centre.to(score.device).view(-1, 1)
        score = score.scatter(1, c, -torch.inf)
        idx = torch.cat([score.topk(n - 1, dim=-1).indices, c], dim=1)
    else:
        score = score.clone()
        score[:, centre] = -torch.inf
        idx = score.topk(n - 1, dim=-1).indices
        idx = torch.cat([idx, idx.new_full((idx.shape[0], 1), centre)], dim=1)
    return idx.sort(dim=-1).values


def _tpc(features, inputs, n, centre, k):
    return _top_scores(dpc_scores(features, k), n, centre)


def _attention(features, inputs, n, centre, k):
    scale = features.shape[-1] ** -0.5
    attn = (features @ features.transpose(1, 2) * scale).softmax(dim=-1)  # (B, F query, F key)
    return _top_scores(attn.sum(dim=1), n, centre)


def _motion(features, inputs, n, centre, k):
    p = inputs[..., :2]  # (B, F, J, 2)
    step = (p[:, 1:] - p[:, :-1]).norm(dim=-1).mean(dim=-1)  # (B, F-1)
    zero = step.new_zeros(step.shape[0], 1)
    score = torch.cat([zero, step], 1) + torch.cat([step, zero], 1)
    return _top_scores(score, n, centre)


def _uniform(features, inputs, n, centre, k):
    B, F = features.shape[:2]
    idx = ((torch.arange(n, device=features.device, dtype=torch.float64) + 0.5) * F / n).floor().long()
    if isinstance(centre, torch.Tensor):  # one centre per sample (a later step of a schedule)
        c = centre.to(idx.device).view(-1, 1)
        idx = idx.expand(B, n).clone()
        missing = ~(idx == c).any(dim=1)
        nearest = (idx - c).abs().argmin(dim=1)
        idx[missing, nearest[missing]] = c[missing, 0]
        return idx.sort(dim=-1).values
    if centre is not None and not bool((idx == centre).any()):
        idx[(idx - centre).abs().argmin()] = centre  # the nearest bin gives its frame to the centre
        idx = idx.sort().values
    return idx.expand(B, n).clone()


PRUNERS: dict[str, Callable] = {"tpc": _tpc, "uniform": _uniform, "attention": _attention, "motion": _motion}


@torch.no_grad()
def select_frames(pruner: str, features: torch.Tensor, inputs: torch.Tensor, n: int, *,
                  centre: int | torch.Tensor | None = None, k: int = 2) -> torch.Tensor:
    """Choose n frames. features: (B, F, C) what the pruner sees; inputs: (B, F, J, C_in) the model's input;
    centre: the frame that must be kept, one for all samples or (B,) one per sample.

    Returns (B, n) int64, sorted ascending.
    """
    F = features.shape[1]
    if not 1 <= n <= F:
        raise ValueError(f"cannot keep {n} of {F} frames")
    return PRUNERS[pruner](features, inputs, n, centre, k)
