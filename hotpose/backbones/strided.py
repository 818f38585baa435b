"""Strided Transformer (Li et al., TMM 2022) and P-STMO (Shan et al., ECCV 2022): a vanilla transformer encoder (VTE)
over frame tokens, then a strided transformer encoder (STE) that shortens the sequence to the centre frame.

Both read one token per frame: the 2J coordinates of a frame, joint-major (x0, y0, x1, y1, ...), embedded to C
channels, so tokens flow as (B, F, 1, C) between the seams of :class:`hotpose.hourglass.model.Backbone`.

* **Embedding.** Strided: kernel-1 Conv1d(2J -> C) + BatchNorm + ReLU + Dropout(0.25). P-STMO: an "FC block":
  Conv1d(2J -> H) + BatchNorm + LeakyReLU(0.2) + Dropout(0.1), residual blocks of two (Conv1d + BatchNorm +
  LeakyReLU + Dropout), Conv1d(H -> C), with H = 2C and one block.
* **VTE** (stages 0 .. vte_depth - 1): a learnt pos-embed (1, F, C) is added to the embedded frames, then pre-norm
  layers x + Dropout(MHA(LN(x))), x + Dropout(FFN(LN(x))) with C channels, 8 heads, FFN C -> 2C -> C with ReLU
  (the official attribute is called ``gelu``), dropout 0.1 everywhere, attention probabilities included.
* **LayerNorm** is the official code's own: a * (x - mean) / (std + eps) + b with the *unbiased* standard deviation
  and eps 1e-6 added to the std, not to the variance (:class:`UnbiasedLayerNorm`). The VTE and the STE each hold
  a final LayerNorm that the official forward never uses; it is kept (weights load, parameter counts match) and
  frozen (``requires_grad`` False), as are STE pos-embeds beyond the STE's depth.
* **STE** (stages vte_depth ..): the same layers, but the FFN is Conv1d(C -> 2C, k=1) + ReLU + Dropout +
  Conv1d(2C -> C, k=3, stride s, padding 1), and its residual takes every s-th token (the official MaxPool1d with
  kernel 1), so a layer of stride s maps L tokens to ceil(L / s). The first three STE layers add their own pos-embed
  (1, F, C), cut to the current length; later layers add none (the official code always builds exactly three).
  Strides: Strided 351 frames [3, 9, 13] (351 -> 117 -> 13 -> 1), 27 frames [3, 3, 3]; P-STMO 243 frames
  [3, 3, 3, 3, 3] (243 -> 81 -> 27 -> 9 -> 3 -> 1), 81 frames [3, 3, 3, 3].
* **Heads.** BatchNorm1d(C) + Conv1d(C -> 3J) on the STE's single output token: the centre frame, ``pose``
  (B, 1, J, 3). A second, identical head reads the VTE's output at every frame: :attr:`PoseOutput.aux` (B, F, J, 3),
  which the training loss adds (the papers' "full-to-single" supervision).
* **Initialisation** as the official code builds it (``clone_init``): the VTE is N deep copies of one layer, each
  attention's four projections are copies of one Linear, and the STE's attentions are copies of one attention, so
  they all start equal; positional embeddings start as standard normal draws.

Hourglass: TPC can prune the frame tokens inside the VTE (``prune_at`` <= vte_depth); the STE then runs on the n kept
tokens, so its strides must bring n to 1 (e.g. 117 with [1, 9, 13], 81 with [1, 3, 3, 3, 3]). No recovery: the model
stays seq2frame (recoverer "none"), and the auxiliary head predicts the kept frames.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import Backbone
from hotpose.layers import CrossAttention, Linear

# The strides of the official option files, by window length.
STRIDED_STRIDES = {27: [3, 3, 3], 351: [3, 9, 13]}
PSTMO_STRIDES = {9: [1, 3, 3], 27: [3, 3, 3], 81: [3, 3, 3, 3], 243: [3, 3, 3, 3, 3], 351: [3, 9, 13]}


@dataclass
class StridedConfig:
    """Strided Transformer sizes (paper: 351 frames, C 256, FFN 512, 3 VTE layers, STE strides [3, 9, 13]).

    strides:         the STE layers' strides; None: the official ones for ``frames`` (:data:`STRIDED_STRIDES`).
    embed:           "conv" (Strided: Conv1d + BatchNorm + ReLU + Dropout) or "fcblock" (P-STMO).
    embed_hidden:    FC block width (None: 2 x dim); embed_blocks: its residual blocks.
    ste_pos_embeds:  how many STE layers, from the first, add a pos-embed (the official code builds three).
    clone_init:      start the cloned layers equal, as the official code does (module docstring).
    """

    frames: int = 351
    joints: int = 17
    in_channels: int = 2
    dim: int = 256
    ffn_hidden: int = 512
    heads: int = 8
    vte_depth: int = 3
    strides: list | None = None
    embed: str = "conv"
    embed_hidden: int | None = None
    embed_blocks: int = 1
    embed_drop: float = 0.25
    leaky_slope: float = 0.2
    drop: float = 0.1
    attn_drop: float = 0.1
    norm_eps: float = 1e-6
    bn_momentum: float = 0.1
    ste_pos_embeds: int = 3
    clone_init: bool = True

    official_strides = STRIDED_STRIDES

    def resolved_strides(self) -> list[int]:
        """The STE strides: the configured ones, else the official ones for this window length."""
        if self.strides is not None:
            return [int(s) for s in self.strides]
        if self.frames not in self.official_strides:
            raise ValueError(f"no official STE strides for {self.frames} frames (known: "
                             f"{sorted(self.official_strides)}); set strides= so that they bring {self.frames} "
                             f"frames to 1")
        return list(self.official_strides[self.frames])


@dataclass
class PSTMOConfig(StridedConfig):
    """P-STMO sizes (paper: 243 frames, C 256, FFN 512, 4 VTE layers (P-STMO-S: 3), STE strides [3, 3, 3, 3, 3],
    FC-block embedding of width 512)."""

    frames: int = 243
    vte_depth: int = 4
    embed: str = "fcblock"
    embed_drop: float = 0.1

    official_strides = PSTMO_STRIDES


def ste_lengths(length: int, strides: list[int]) -> list[int]:
    """Token counts through the STE: [L, ceil(L / s1), ...] (a kernel-3, padding-1 convolution of stride s)."""
    out = [length]
    for s in strides:
        out.append(math.ceil(out[-1] / s))
    return out


class UnbiasedLayerNorm(nn.Module):
    """The official code's LayerNorm: weight * (x - mean) / (std + eps) + bias over the last axis, std unbiased
    (divided by C - 1) and eps added to the std. x: (..., C) -> (..., C)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True)
        return self.weight * (x - mean) / (std + self.eps) + self.bias


class FeedForward(nn.Module):
    """VTE feed-forward: Linear(C -> H), ReLU, Dropout, Linear(H -> C). x: (B, L, C) -> (B, L, C)."""

    def __init__(self, dim: int, hidden: int, drop: float):
        super().__init__()
        self.fc1 = Linear(dim, hidden)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(drop)
        self.fc2 = Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.act(self.fc1(x))))


class StridedFeedForward(nn.Module):
    """STE feed-forward: Conv1d(C -> H, k=1), ReLU, Dropout, Conv1d(H -> C, k=3, stride, padding 1) over the token
    axis. x: (B, L, C) -> (B, ceil(L / stride), C)."""

    def __init__(self, dim: int, hidden: int, stride: int, drop: float):
        super().__init__()
        self.conv1 = nn.Conv1d(dim, hidden, kernel_size=1)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(drop)
        self.conv2 = nn.Conv1d(hidden, dim, kernel_size=3, stride=stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.drop(self.act(self.conv1(x.transpose(1, 2))))).transpose(1, 2)


class EncoderLayer(nn.Module):
    """Pre-norm layer: x + Dropout(MHA(LN(x))), then residual(x) + Dropout(FFN(LN(x))), where the residual takes
    every ``stride``-th token (1: all). x: (B, L, C) -> (B, ceil(L / stride), C)."""

    def __init__(self, cfg: StridedConfig, ffn: nn.Module, stride: int = 1):
        super().__init__()
        self.norm1 = UnbiasedLayerNorm(cfg.dim, cfg.norm_eps)
        self.attn = CrossAttention(cfg.dim, cfg.heads, qkv_bias=True, attn_drop=cfg.attn_drop)
        self.norm2 = UnbiasedLayerNorm(cfg.dim, cfg.norm_eps)
        self.ffn = ffn
        self.drop = nn.Dropout(cfg.drop)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, h, h))
        residual = x[:, ::self.stride] if self.stride != 1 else x
        return residual + self.drop(self.ffn(self.norm2(x)))


class ResidualConvBlock(nn.Module):
    """P-STMO's FC-block unit: x + Drop(Act(BN(Conv(Drop(Act(BN(Conv(x)))))))), kernel-1 convolutions.
    x: (B, H, F) -> (B, H, F)."""

    def __init__(self, width: int, drop: float, slope: float, momentum: float):
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, kernel_size=1)
        self.bn1 = nn.BatchNorm1d(width, momentum=momentum)
        self.conv2 = nn.Conv1d(width, width, kernel_size=1)
        self.bn2 = nn.BatchNorm1d(width, momentum=momentum)
        self.act = nn.LeakyReLU(slope)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(self.act(self.bn1(self.conv1(x))))
        y = self.drop(self.act(self.bn2(self.conv2(y))))
        return x + y


class FCBlock(nn.Module):
    """P-STMO's embedding: Conv1d(2J -> H) + BN + LeakyReLU + Dropout, residual blocks, Conv1d(H -> C).
    x: (B, 2J, F) -> (B, C, F)."""

    def __init__(self, cfg: StridedConfig, coords: int):
        super().__init__()
        hidden = cfg.embed_hidden or 2 * cfg.dim
        self.proj_in = nn.Conv1d(coords, hidden, kernel_size=1)
        self.bn_in = nn.BatchNorm1d(hidden, momentum=cfg.bn_momentum)
        self.act = nn.LeakyReLU(cfg.leaky_slope)
        self.drop = nn.Dropout(cfg.embed_drop)
        self.blocks = nn.ModuleList(ResidualConvBlock(hidden, cfg.embed_drop, cfg.leaky_slope, cfg.bn_momentum)
                                    for _ in range(cfg.embed_blocks))
        self.proj_out = nn.Conv1d(hidden, cfg.dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.bn_in(self.proj_in(x))))
        for block in self.blocks:
            x = block(x)
        return self.proj_out(x)


class PoseHead(nn.Module):
    """BatchNorm1d(C) + Conv1d(C -> 3J) per token. x: (B, L, C) -> (B, L, J, 3), output channels joint-major."""

    def __init__(self, dim: int, joints: int, momentum: float):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim, momentum=momentum)
        self.proj = nn.Conv1d(dim, 3 * joints, kernel_size=1)
        self.joints = joints

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.proj(self.bn(x.transpose(1, 2).contiguous()))  # (B, 3J, L)
        return out.transpose(1, 2).unflatten(-1, (self.joints, 3))


class StridedTransformer(Backbone):
    """Stages: ``vte_depth`` VTE layers on (B, F, 1, C), then one stage per STE layer, each shortening the
    sequence by its stride, down to the centre frame. ``pose`` is (B, 1, J, 3); ``aux`` the VTE head's (B, F, J, 3)."""

    seq2frame = True
    fixed_frames = True  # the VTE pos-embed is added whole, as in the official code
    centre_only = True  # the head predicts the centre frame only: pose (B, 1, J, 3)
    pool_averages_joints = False  # one token per frame: the pruner sees it as it is

    def __init__(self, cfg: StridedConfig, hourglass: HourglassConfig | None = None):
        super().__init__()
        if cfg.embed not in ("conv", "fcblock"):
            raise ValueError(f"embed must be 'conv' (Strided) or 'fcblock' (P-STMO), got {cfg.embed!r}")
        if cfg.vte_depth < 1:
            raise ValueError(f"vte_depth must be >= 1, got {cfg.vte_depth}")
        strides = cfg.resolved_strides()
        if not strides or min(strides) < 1:
            raise ValueError(f"strides must be a non-empty list of integers >= 1, got {cfg.strides}")
        length = cfg.frames
        if hourglass is not None:
            if hourglass.recoverer != "none":
                raise ValueError("the Strided / P-STMO hourglass is seq2frame: the STE reads out the centre frame "
                                 f"from the kept tokens, so recoverer must be 'none', got {hourglass.recoverer!r}")
            if hourglass.prune_at > cfg.vte_depth:
                raise ValueError(f"prune inside the VTE (prune_at <= vte_depth = {cfg.vte_depth}), got "
                                 f"{hourglass.prune_at}")
            length = hourglass.keep
        lengths = ste_lengths(length, strides)
        if lengths[-1] != 1:
            raise ValueError(f"the STE strides {strides} take {length} tokens to {lengths[-1]} "
                             f"({' -> '.join(map(str, lengths))}), not to the one centre frame; choose strides whose "
                             f"product reaches {length}")
        self.cfg = cfg
        self.strides = strides
        self.frames, self.joints, self.in_channels = cfg.frames, cfg.joints, cfg.in_channels
        self.dim, self.heads, self.qkv_bias = cfg.dim, cfg.heads, True
        self.num_stages = cfg.vte_depth + len(strides)
        self.aux_stage = cfg.vte_depth - 1
        C, F, coords = cfg.dim, cfg.frames, cfg.in_channels * cfg.joints
        if cfg.embed == "conv":
            self.embedding = nn.Sequential(nn.Conv1d(coords, C, kernel_size=1),
                                           nn.BatchNorm1d(C, momentum=cfg.bn_momentum), nn.ReLU(),
                                           nn.Dropout(cfg.embed_drop))
        else:
            self.embedding = FCBlock(cfg, coords)
        self.vte_pos = nn.Parameter(torch.randn(1, F, C))
        self.vte = nn.ModuleList(EncoderLayer(cfg, FeedForward(C, cfg.ffn_hidden, cfg.drop))
                                 for _ in range(cfg.vte_depth))
        self.vte_norm = UnbiasedLayerNorm(C, cfg.norm_eps)  # unused by the official forward; kept for checkpoints
        self.ste_pos = nn.ParameterList(nn.Parameter(torch.randn(1, F, C)) for _ in range(cfg.ste_pos_embeds))
        self.ste = nn.ModuleList(EncoderLayer(cfg, StridedFeedForward(C, cfg.ffn_hidden, s, cfg.drop), s)
                                 for s in strides)
        self.ste_norm = UnbiasedLayerNorm(C, cfg.norm_eps)  # unused, as vte_norm
        self.head_centre = PoseHead(C, cfg.joints, cfg.bn_momentum)
        self.head_frames = PoseHead(C, cfg.joints, cfg.bn_momentum)
        # what the forward never reads is frozen (requires_grad False): it loads and counts, optimisers skip it
        for p in [*self.vte_norm.parameters(), *self.ste_norm.parameters(), *self.ste_pos[len(strides):]]:
            p.requires_grad_(False)
        if cfg.clone_init:
            self._clone_init()

    @torch.no_grad()
    def _clone_init(self) -> None:
        """Start the layers the official code deep-copies equal: every VTE layer as the first, every STE attention
        as the first STE attention, and within each attention the four projections as the query's."""
        for layer in self.vte[1:]:
            layer.load_state_dict(self.vte[0].state_dict())
        for layer in self.ste[1:]:
            layer.attn.load_state_dict(self.ste[0].attn.state_dict())
        for layer in list(self.vte) + list(self.ste):
            a = layer.attn
            for proj in (a.linear_k, a.linear_v, a.proj):
                proj.load_state_dict(a.linear_q.state_dict())

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, J, C_in) -> (B, F, 1, C): per-frame embedding of the joint-major coordinates, plus the VTE
        pos-embed."""
        B, F, J, C_in = x.shape
        h = self.embedding(x.reshape(B, F, J * C_in).transpose(1, 2).contiguous())  # (B, C, F)
        return (h.transpose(1, 2) + self.vte_pos)[:, :, None]

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """VTE layer i, or STE layer i - vte_depth (with its pos-embed, cut to the current length).
        (B, L, 1, C) -> (B, L', 1, C)."""
        h = x[:, :, 0]
        k = i - self.cfg.vte_depth
        if k < 0:
            return self.vte[i](h)[:, :, None]
        if k < len(self.ste_pos):
            h = h + self.ste_pos[k][:, :h.shape[1]]
        return self.ste[k](h)[:, :, None]

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """The pruner sees the one token of each frame: (B, F, 1, C) -> (B, F, C)."""
        return x[:, :, 0]

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 1, C) STE output -> (B, 1, J, 3), the centre frame."""
        return self.head_centre(x[:, :, 0])

    def aux_head(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F', 1, C) VTE output -> (B, F', J, 3), every (kept) frame."""
        return self.head_frames(x[:, :, 0])
