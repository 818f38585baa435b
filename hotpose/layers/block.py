"""Pre-norm transformer block."""
from __future__ import annotations

import torch
from torch import nn

from hotpose.layers.attention import Attention
from hotpose.layers.drop_path import DropPath
from hotpose.layers.mlp import Mlp


class Block(nn.Module):
    """x + DropPath(MSA(LN(x))), then x + DropPath(MLP(LN(x))). x: (B, N, C) -> (B, N, C).

    Parameter names (``norm1``, ``attn``, ``norm2``, ``mlp``) follow the official code.
    """

    def __init__(self, dim: int, heads: int, mlp_hidden: int, *, qkv_bias: bool = True, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0, norm_eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, mlp_hidden, drop=drop)

    def forward(self, x: torch.Tensor, outer: int | None = None) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), outer))  # outer: see Attention.forward
        return x + self.drop_path(self.mlp(self.norm2(x)))
