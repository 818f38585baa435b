"""MixSTE (Zhang et al., CVPR 2022): alternating spatial (over joints) and temporal (over frames) transformer blocks.

Faithful to the official HoT code: one shared spatial and one shared temporal LayerNorm (eps 1e-6) reused after every
block, the temporal positional embedding added after spatial block 0, head LayerNorm with the default eps 1e-5.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import Backbone
from hotpose.layers import Block


@dataclass
class MixSTEConfig:
    """MixSTE sizes. ``frames`` is the window length F; ``mlp_hidden`` the MLP width (HoT's file fixes it to 2C)."""

    frames: int = 243
    joints: int = 17
    in_channels: int = 2
    dim: int = 512
    mlp_hidden: int = 1024
    depth: int = 8
    heads: int = 8
    qkv_bias: bool = True
    drop_path: float = 0.1
    drop: float = 0.0
    attn_drop: float = 0.0
    norm_eps: float = 1e-6
    head_eps: float = 1e-5


class MixSTE(Backbone):
    """Stage i = spatial block i -> spatial norm -> temporal block i -> temporal norm (8 stages at full size)."""

    first_prunable_stage = 1  # stage 0 adds the temporal embedding of all F frames

    def __init__(self, cfg: MixSTEConfig, hourglass: HourglassConfig | None = None):
        super().__init__()
        self.cfg = cfg
        self.frames, self.joints, self.in_channels = cfg.frames, cfg.joints, cfg.in_channels
        self.dim, self.heads, self.qkv_bias, self.num_stages = cfg.dim, cfg.heads, cfg.qkv_bias, cfg.depth
        C = cfg.dim
        self.joint_embed = nn.Linear(cfg.in_channels, C)
        self.spatial_pos = nn.Parameter(torch.zeros(1, cfg.joints, C))
        self.temporal_pos = nn.Parameter(torch.zeros(1, cfg.frames, C))
        self.pos_drop = nn.Dropout(cfg.drop)
        rates = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()

        def block(rate):
            return Block(C, cfg.heads, cfg.mlp_hidden, qkv_bias=cfg.qkv_bias, drop=cfg.drop,
                         attn_drop=cfg.attn_drop, drop_path=rate, norm_eps=cfg.norm_eps)

        self.spatial_blocks = nn.ModuleList(block(r) for r in rates)
        self.temporal_blocks = nn.ModuleList(block(r) for r in rates)
        self.spatial_norm = nn.LayerNorm(C, eps=cfg.norm_eps)
        self.temporal_norm = nn.LayerNorm(C, eps=cfg.norm_eps)
        self.head_norm = nn.LayerNorm(C, eps=cfg.head_eps)
        self.head_proj = nn.Linear(C, 3)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.pos_drop(self.joint_embed(x) + self.spatial_pos)  # (B, F, J, C)

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        B, F, J, C = x.shape
        x = self.spatial_norm(self.spatial_blocks[i](x.reshape(B * F, J, C)))  # over joints
        x = x.view(B, F, J, C).transpose(1, 2).reshape(B * J, F, C)  # (B*J, F, C)
        if i == 0:
            x = self.pos_drop(x + self.temporal_pos[:, :F])
        x = self.temporal_norm(self.temporal_blocks[i](x))  # over frames
        return x.view(B, J, F, C).transpose(1, 2)

    def temporal_embeddings(self) -> list[nn.Parameter]:
        return [self.temporal_pos]

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_proj(self.head_norm(x))
