"""Two-layer perceptron used after attention in every transformer block."""
from __future__ import annotations

import torch
from torch import nn

from hotpose.layers.kernels import Linear


class Mlp(nn.Module):
    """Linear(C -> hidden) -> GELU (exact erf form) -> dropout -> Linear(hidden -> C_out) -> dropout.

    x: (..., C) -> (..., C_out).
    """

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None, drop: float = 0.0):
        super().__init__()
        self.fc1 = Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = Linear(hidden, out_dim or dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))
