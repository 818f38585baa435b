"""Multi-head attention, written once: self-attention with a fused qkv projection and cross-attention with
separate q/k/v projections (the form Token Recovering Attention uses).

Both compute softmax(q k^T * scale) v per head. :func:`attend` uses
``torch.nn.functional.scaled_dot_product_attention`` (fused kernels, no (N, N) matrix kept for backward) unless
``explicit=True`` (the official code's arithmetic; see :mod:`hotpose.layers.kernels`); both paths agree to float32
rounding (tested to 1e-5).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hotpose.layers.kernels import Linear


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, *, dropout: float = 0.0,
           explicit: bool = False, outer: int | None = None) -> torch.Tensor:
    """Scaled dot-product attention. q: (..., Nq, d), k/v: (..., Nk, d) -> (..., Nq, d).

    ``outer`` (explicit path only): q/k/v are (outer * G, H, N, d), and the official code batches the per-head
    products in the order (outer, H, G) instead of (outer * G, H), e.g. MotionBERT's temporal attention, which runs
    over (B, H, J) while we hold (B * J, H) rows. The per-matrix products are the same, but on CPU the BLAS rounds a
    small product differently depending on where it sits in the batch (its alignment in memory), so exactness needs
    the official order; the result comes back in ours.
    """
    if explicit:
        if outer is not None and q.shape[0] != outer:
            G, H = q.shape[0] // outer, q.shape[1]
            q, k, v = (t.unflatten(0, (outer, G)).transpose(1, 2) for t in (q, k, v))  # (outer, H, G, N, d)
            out = attend(q, k, v, scale, dropout=dropout, explicit=True)
            return out.transpose(1, 2).reshape(outer * G, H, *out.shape[-2:])
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

    kernel_flag = "explicit"  # set by :func:`hotpose.layers.use_kernels`

    def __init__(self, dim: int, heads: int = 8, qkv_bias: bool = True, scale: float | None = None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.scale = scale if scale is not None else (dim // heads) ** -0.5
        self.qkv = Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)
        self.explicit = False  # set True to use the explicit softmax(QK^T)V path

    def forward(self, x: torch.Tensor, outer: int | None = None) -> torch.Tensor:
        """``outer``: x's B rows are (outer, B / outer) groups, whose per-head products the official code batches
        as (outer, H, B / outer); see :func:`attend` (matters for the explicit path only)."""
        B, N, C = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # (3, B, H, N, d)
        out = attend(qkv[0], qkv[1], qkv[2], self.scale, dropout=self.attn_drop if self.training else 0.0,
                     explicit=self.explicit, outer=outer)
        return self.proj_drop(self.proj(_merge_heads(out)))


class CrossAttention(nn.Module):
    """Multi-head cross-attention with separate projections. q: (B, Nq, C), k/v: (B, Nk, C) -> (B, Nq, C).

    q may also be (1, Nq, C), one set of queries shared by all B key/value sequences (TRA's learnt queries): its
    projection is then computed once and broadcast, instead of B times over identical rows as the official code
    does (``explicit``, the official arithmetic, keeps the B-fold projection).
    Parameter names (``linear_q``, ``linear_k``, ``linear_v``, ``proj``) follow the official TRA.
    """

    kernel_flag = "explicit"  # set by :func:`hotpose.layers.use_kernels`

    def __init__(self, dim: int, heads: int = 8, qkv_bias: bool = True, scale: float | None = None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.scale = scale if scale is not None else (dim // heads) ** -0.5
        self.linear_q = Linear(dim, dim, bias=qkv_bias)
        self.linear_k = Linear(dim, dim, bias=qkv_bias)
        self.linear_v = Linear(dim, dim, bias=qkv_bias)
        self.proj = Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)
        self.explicit = False

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        h, B = self.heads, k.shape[0]
        if q.shape[0] == B:
            q = self.linear_q(q)
        elif q.shape[0] != 1:
            raise ValueError(f"queries of batch {q.shape[0]} for {B} key/value sequences (expected {B} or 1)")
        elif self.explicit:
            q = self.linear_q(q.expand(B, -1, -1))
        else:
            q = self.linear_q(q).expand(B, -1, -1)
        out = attend(_split_heads(q, h), _split_heads(self.linear_k(k), h),
                     _split_heads(self.linear_v(v), h), self.scale,
                     dropout=self.attn_drop if self.training else 0.0, explicit=self.explicit)
        return self.proj_drop(self.proj(_merge_heads(out)))

