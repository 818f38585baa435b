"""DSTformer, MotionBERT's lifting network (Zhu et al., ICCV 2023): two parallel spatio-temporal streams per depth
level, fused per token with learned weights.

Depth level i runs two streams on the same tokens:

* ``st``: spatial block (attention + MLP over the J joints of each frame), then temporal block (over the F frames of
  each joint);
* ``ts``: temporal block first, then spatial block.

The outputs are mixed per token with alpha = softmax(Linear(2C -> 2)([x_st, x_ts])): x = alpha_0 x_st + alpha_1 x_ts.
The temporal embedding is sliced to the input's F, as in MotionBERT (the official HoT file adds all of it, so it
runs at F = 243 only); any F up to ``frames`` is accepted.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import Backbone
from hotpose.layers import Block


@dataclass
class DSTformerConfig:
    """DSTformer sizes (defaults: the 16 M MotionBERT-Lite-size model of HoT's table).

    frames:       longest input window F (the temporal embedding's length).
    in_channels:  3: x, y in normalised screen coordinates and the detector's confidence.
    dim:          token width C; ``mlp_hidden`` the MLP width (MotionBERT's mlp_ratio x C).
    dim_rep:      width of the motion representation (``pre_logits``: Linear + tanh) before the head.
    depth:        depth levels (one hourglass stage each).
    drop_path:    largest stochastic-depth rate, reached at the last depth level (linear from 0).
    fusion_bias:  the fusion Linear starts with weight 0 and this bias: equal weights for both streams.
    init_std:     std of the truncated-normal init of Linear weights and the embeddings.
    """

    frames: int = 243
    joints: int = 17
    in_channels: int = 3
    out_channels: int = 3
    dim: int = 256
    mlp_hidden: int = 1024
    dim_rep: int = 512
    depth: int = 5
    heads: int = 8
    qkv_bias: bool = True
    drop_path: float = 0.0
    drop: float = 0.0
    attn_drop: float = 0.0
    norm_eps: float = 1e-6
    fusion_bias: float = 0.5
    init_std: float = 0.02


class DSTformer(Backbone):
    """One hourglass stage per depth level (both streams and their fusion). Tokens (B, F, J, C)."""

    first_prunable_stage = 0  # the temporal embedding is added in embed(), before any stage

    def __init__(self, cfg: DSTformerConfig, hourglass: HourglassConfig | None = None):
        super().__init__()
        self.cfg = cfg
        self.frames, self.joints, self.in_channels = cfg.frames, cfg.joints, cfg.in_channels
        self.dim, self.heads, self.qkv_bias, self.num_stages = cfg.dim, cfg.heads, cfg.qkv_bias, cfg.depth
        C = cfg.dim
        self.joints_embed = nn.Linear(cfg.in_channels, C)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.joints, C))  # per joint
        self.temp_embed = nn.Parameter(torch.zeros(1, cfg.frames, 1, C))  # per frame, shared by the joints
        self.pos_drop = nn.Dropout(cfg.drop)
        rates = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()

        def blocks():
            return nn.ModuleList(Block(C, cfg.heads, cfg.mlp_hidden, qkv_bias=cfg.qkv_bias, drop=cfg.drop,
                                       attn_drop=cfg.attn_drop, drop_path=r, norm_eps=cfg.norm_eps) for r in rates)

        self.st_spatial, self.st_temporal = blocks(), blocks()  # stream st: joints, then frames
        self.ts_temporal, self.ts_spatial = blocks(), blocks()  # stream ts: frames, then joints
        self.final_norm = nn.LayerNorm(C, eps=cfg.norm_eps)
        self.pre_logits = nn.Linear(C, cfg.dim_rep)
        self.head_proj = nn.Linear(cfg.dim_rep, cfg.out_channels)
        self.apply(self._init_weights)
        nn.init.trunc_normal_(self.pos_embed, std=cfg.init_std)
        nn.init.trunc_normal_(self.temp_embed, std=cfg.init_std)
        # created after the init above, as in MotionBERT: both streams start with weight 1/2
        self.fusion = nn.ModuleList(nn.Linear(2 * C, 2) for _ in range(cfg.depth))
        for layer in self.fusion:
            nn.init.zeros_(layer.weight)
            nn.init.constant_(layer.bias, cfg.fusion_bias)

    def _init_weights(self, m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=self.cfg.init_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, J, C_in) -> (B, F, J, C): Linear(C_in -> C) + per-joint embedding + per-frame embedding[:F]."""
        F = x.shape[1]
        return self.pos_drop(self.joints_embed(x) + self.pos_embed + self.temp_embed[:, :F])

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over the joints, (B, F, J, C) -> (B, F, C), summed over a contiguous joints-innermost copy as the
        official HoT w. MotionBERT does (the summation order decides DPC-kNN's near-ties)."""
        return x.transpose(2, 3).contiguous().mean(dim=-1)

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Depth level i on (B, F', J, C) tokens -> (B, F', J, C)."""
        B, F, J, C = x.shape
        x = x.contiguous()  # after pruning, the gathered tokens may be a strided view
        # st: over joints (rows (B*F, J)), then over frames (rows (B*J, F))
        st = self.st_spatial[i](x.view(B * F, J, C))
        # (temporal attention: outer=B, as the official code batches its per-head products (B, H, J))
        st = self.st_temporal[i](st.view(B, F, J, C).transpose(1, 2).reshape(B * J, F, C), outer=B)
        st = st.view(B, J, F, C).transpose(1, 2)  # (B, F, J, C) view
        # ts: over frames, then over joints
        ts = self.ts_temporal[i](x.transpose(1, 2).reshape(B * J, F, C), outer=B)
        ts = self.ts_spatial[i](ts.view(B, J, F, C).transpose(1, 2).reshape(B * F, J, C))
        ts = ts.view(B, F, J, C)
        alpha = self.fusion[i](torch.cat([st, ts], dim=-1)).softmax(dim=-1)  # (B, F, J, 2)
        x = st * alpha[..., :1] + ts * alpha[..., 1:]
        return x

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_norm(x)

    def temporal_embeddings(self) -> list[nn.Parameter]:
        return [self.temp_embed]

    @property
    def token_scale(self) -> float:
        """Tokens start at the scale of the embeddings' init (std 0.02): HoT's ``tra_init`` scales the time code of
        the temporal embedding to it."""
        return self.cfg.init_std

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F', J, C) -> (B, F', J, 3): tanh(Linear(C -> dim_rep)) then Linear(dim_rep -> 3)."""
        return self.head_proj(torch.tanh(self.pre_logits(x)))
