"""Graph convolution over a token axis (MotionAGFormer's GCN), on a fixed graph or a per-sample similarity graph.

out = relu(x + BN(Â V(x) + U(x))), Â = D^-1/2 A D^-1/2 with D the row sums (out-degrees) of A. BatchNorm1d runs over
the **node** axis (one channel per node), so the layer is tied to a node count: 17 joints, or the frame count of a
temporal layer.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def normalize_adjacency(adj: torch.Tensor) -> torch.Tensor:
    """D^-1/2 A D^-1/2 with D the row sums. adj: (..., L, L) 0/1 -> same shape.

    Written elementwise; bit-identical to the official product of diagonal matrices.
    """
    scale = adj.sum(dim=-1) ** -0.5  # (..., L)
    return scale[..., :, None] * adj * scale[..., None, :]


def similarity_graph(x: torch.Tensor, neighbours: int) -> torch.Tensor:
    """Connect each node to the nodes whose dot product with it is at least its ``neighbours``-th largest.

    x: (N, L, C) -> (N, L, L) 0/1 adjacency (row i: the neighbours of node i; ties may add more).
    """
    similarity = x @ x.transpose(1, 2)
    threshold = similarity.topk(neighbours, dim=-1).values[..., -1:]
    return (similarity >= threshold).to(x.dtype)


class SimilarityGraph(nn.Module):
    """:func:`similarity_graph` as a module, so that forward hooks can read the graph a layer builds, or replace it
    (tests check the decision against its scores; the scores are ``x @ x^T`` of the hook's input). x: (N, L, C) ->
    (N, L, L) 0/1."""

    def __init__(self, neighbours: int):
        super().__init__()
        self.neighbours = neighbours

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return similarity_graph(x, self.neighbours)

    def extra_repr(self) -> str:
        return f"top-{self.neighbours}"


class GraphConv(nn.Module):
    """Residual graph convolution. x: (N, L, C) -> (N, L, C), L = ``nodes``.

    adjacency:  fixed (L, L) 0/1 graph (the skeleton), or None for a similarity graph recomputed per sample from the
                input (``neighbours`` strongest dot products per node).
    Parameter names (``U``, ``V``, ``batch_norm``) follow the official code.
    """

    def __init__(self, dim: int, nodes: int, adjacency: torch.Tensor | None = None, neighbours: int = 4):
        super().__init__()
        if adjacency is not None and adjacency.shape != (nodes, nodes):
            raise ValueError(f"adjacency must be ({nodes}, {nodes}), got {tuple(adjacency.shape)}")
        if adjacency is None and not 1 <= neighbours <= nodes:
            raise ValueError(f"neighbours must be in [1, {nodes}] for a graph of {nodes} nodes, got {neighbours}")
        self.nodes, self.neighbours = nodes, neighbours
        self.U = nn.Linear(dim, dim)
        self.V = nn.Linear(dim, dim)
        self.batch_norm = nn.BatchNorm1d(nodes)
        self.relu = nn.ReLU()
        fixed = None if adjacency is None else normalize_adjacency(adjacency.float())
        self.register_buffer("adjacency", fixed, persistent=False)
        self.graph = SimilarityGraph(neighbours) if adjacency is None else None
        for lin in (self.U, self.V):  # He-normal, as the official code initialises them
            nn.init.normal_(lin.weight, 0.0, math.sqrt(2.0 / dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.nodes:
            raise ValueError(f"this graph layer has {self.nodes} nodes (its BatchNorm has one channel per node), "
                             f"got {x.shape[1]}")
        adj = self.adjacency
        if adj is None:
            adj = normalize_adjacency(self.graph(x))
        aggregate = adj @ self.V(x)  # (N, L, C)
        return self.relu(x + self.batch_norm(aggregate + self.U(x)))

    def extra_repr(self) -> str:
        graph = "fixed" if self.adjacency is not None else f"similarity top-{self.neighbours}"
        return f"nodes={self.nodes}, graph={graph}"
