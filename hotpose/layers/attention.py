"""Multi-head attention, written once: self-attention with a fused qkv projection and cross-attention with
separate q/k/v projections (the form Token Recovering Attention uses).

Both compute softmax(q k^T * scale) v per head. :func:`attend` uses
``torch.nn.functional.scaled_dot_product_attention`` (fused kernels, no (N, N) matrix kept for backward) unless
``explicit=True`` or attention weights are requested; both paths agree to float32 rounding (tested to 1e-5).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, *, dropout: float = 0.0,
           explicit: bool = False) -> torch.Tensor:
    """Scaled dot-product attention. q: (..., Nq, d), k/v: (..., Nk, d) -> (..., Nq, d)."""
    if explicit:
        attn = (q @ k.transpose(-2, -1)) * scale
        attn = attn.softmax(dim=-1)
        if dropout > 0.0:
            attn = F.dropout(attn, dropout)
        return attn @ v
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, scale=scale)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    # (B, N, C) -> (B, H, N, C/H)
    B, N, C = x.shape
    return x.view(B, N, heads, C // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    # (B, H, N, d) -> (B, N, H*d)
    B, H, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, H * d)


class Attention(nn.Module):
    """Multi-head self-attention over the token axis. x: (B, N, C) -> (B, N, C).

    Parameter names (``qkv``, ``proj``) follow the official code so checkpoints map one to one.
    ``scale`` defaults to (C / heads) ** -0.5.
    """

    def __init__(self, dim: int, heads: int = 8, qkv_bias: bool = True, scale: float | None = None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.scale = scale if scale is not None else (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)
        self.explicit = False  # set True to use the explicit softmax(QK^T)V path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # (3, B, H, N, d)
        out = attend(qkv[0], qkv[1], qkv[2], self.scale, dropout=self.attn_drop if self.training else 0.0,
                     explicit=self.explicit)
        return self.proj_drop(self.proj(_merge_heads(out)))


class CrossAttention(nn.Module):
    """Multi-head cross-attention with separate projections. q: (B, Nq, C), k/v: (B, Nk, C) -> (B, Nq, C).

    Parameter names (``linear_q``, ``linear_k``, ``linear_v``, ``proj``) follow the official TRA.
    """

    def __init__(self, dim: int, heads: int = 8, qkv_bias: bool = True, scale: float | None = None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.scale = scale if scale is not None else (dim // heads) ** -0.5
        self.linear_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.linear_k = nn.Linear(dim, dim, bias=qkv_bias)
        self.linear_v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)
        self.explicit = False

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        h = self.heads
        out = attend(_split_heads(self.linear_q(q), h), _split_heads(self.linear_k(k), h),
                     _split_heads(self.linear_v(v), h), self.scale,
                     dropout=self.attn_drop if self.training else 0.0, explicit=self.explicit)
        return self.proj_drop(self.proj(_merge_heads(out)))


@contextmanager
def set_attention(model: nn.Module, mode: str):
    """Within the block, run every attention layer of ``model`` in ``mode``: ``"explicit"`` (softmax(q k^T) v as
    the official code writes it, bit-identical to it) or ``"fused"`` (scaled_dot_product_attention)."""
    previous = use_attention(model, mode)
    try:
        yield model
    finally:
        for layer, explicit in previous:
            layer.explicit = explicit


def use_attention(model: nn.Module, mode: str) -> list[tuple[nn.Module, bool]]:
    """Switch every attention layer of ``model`` to ``mode`` (``"explicit"`` or ``"fused"``); returns the previous
    settings."""
    if mode not in ("explicit", "fused"):
        raise ValueError(f"attention mode must be 'explicit' or 'fused', got {mode!r}")
    previous = []
    for layer in model.modules():
        if isinstance(layer, (Attention, CrossAttention)):
            previous.append((layer, layer.explicit))
            layer.explicit = mode == "explicit"
    return previous
