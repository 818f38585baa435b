"""Density-peak clustering with k nearest neighbours (DPC-kNN), the selection rule of the Token Pruning Cluster.

Semantics (reproduce the official selections bit for bit on CPU float32):

1. D = cdist(X, X) / sqrt(C) per sample (``torch.cdist`` in its default mode).
2. density_i = exp(-mean of the k smallest d_ij^2); the frame's own zero distance is one of the k.
3. density += 1e-6 * U[0, 1) noise, drawn as ``torch.rand(B, N)``: ties are common (mutual nearest neighbours have
   equal densities) and the noise decides them.
4. delta_i = min over j with density_j > density_i of d_ij; the densest frame gets the largest distance of its sample.
5. score = delta * density; the ``cluster_num`` best scores win (descending order, as ``torch.topk`` returns them).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch


@torch.no_grad()
def dpc_scores(x: torch.Tensor, k: int = 2, noise: torch.Tensor | None = None) -> torch.Tensor:
    """DPC-kNN score (delta * density) of each token. x: (B, N, C) -> (B, N).

    ``noise`` (B, N) in [0, 1) replaces the tie-break draw ``torch.rand(B, N)`` (tests inject the official draw).
    """
    B, N, C = x.shape
    dist = torch.cdist(x, x) / math.sqrt(C)  # (B, N, N)
    nearest = dist.topk(min(k, N), dim=-1, largest=False).values  # (B, N, k)
    density = (-(nearest ** 2).mean(dim=-1)).exp()
    if noise is None:
        noise = torch.rand(B, N, device=x.device, dtype=x.dtype)
    density = density + noise.to(density) * 1e-6
    denser = density[:, None, :] > density[:, :, None]  # (B, i, j): density_j > density_i
    dist_max = dist.flatten(1).max(dim=-1).values[:, None, None]
    delta = torch.where(denser, dist, dist_max).min(dim=-1).values
    return delta * density


@torch.no_grad()
def dpc_knn(x: torch.Tensor, cluster_num: int, k: int = 2, exclude: Sequence[int] = (),
            noise: torch.Tensor | None = None) -> torch.Tensor:
    """Indices of the ``cluster_num`` density peaks, best first. x: (B, N, C) -> (B, cluster_num) int64.

    ``exclude`` lists tokens whose score is set to -inf before the selection (the centre-forced variant excludes the
    centre here and appends it afterwards).
    """
    score = dpc_scores(x, k, noise)
    if exclude:
        score[:, list(exclude)] = -math.inf
    return score.topk(cluster_num, dim=-1).indices
