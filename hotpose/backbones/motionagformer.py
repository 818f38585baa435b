"""MotionAGFormer (Mehraban et al., WACV 2024): per layer, an attention stream (spatial MSA -> temporal MSA) and a graph
stream (spatial GCN on the skeleton -> temporal GCN on a frame-similarity graph) run on the same input and are fused
per token by learned softmax weights.

Faithful to the official HoT files: the sizes the repository builds (16 layers, C=128, 4 heads, 4 temporal
neighbours; SPEC 2.8), no temporal positional embedding, layer scale on every residual branch, LayerNorm eps 1e-5,
final LN -> [TRA] -> Linear(C -> dim_rep) + tanh -> Linear(dim_rep -> 3). The temporal GCN's BatchNorm has one channel
per frame, so a model takes windows of exactly ``frames`` frames, and after pruning its later layers are sized for the
kept ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import Backbone
from hotpose.layers import Attention, DropPath, Mlp
from hotpose.layers.gcn import GraphConv

# Official spatial graph, row j -> the joints j aggregates from (Human3.6M order). The skeleton without self loops,
# except that, as in the official table, the pelvis (0) does not list the left hip (4) and the thorax (8) does not
# list the shoulders (11, 14), although those joints list them: the graph is directed.
SKELETON_NEIGHBOURS = ((1, 7), (2, 0), (3, 1), (2,), (5, 0), (6, 4), (5,), (0, 8), (7, 9), (8, 10), (9,),
                       (12, 8), (13, 11), (12,), (15, 8), (16, 14), (15,))
FUSION_BIAS_INIT = 0.5  # official initial bias of the stream-fusion layer (its weight starts at 0)


def skeleton_adjacency(neighbours=SKELETON_NEIGHBOURS) -> torch.Tensor:
    """(J, J) 0/1 adjacency: entry (i, j) = 1 when joint i aggregates from joint j."""
    adj = torch.zeros(len(neighbours), len(neighbours))
    for i, row in enumerate(neighbours):
        adj[i, list(row)] = 1.0
    return adj


@dataclass
class MotionAGFormerConfig:
    """MotionAGFormer sizes. Defaults: the model the HoT repository builds; MotionAGFormer-B sets heads=8,
    neighbour_num=2.

    frames:        window length F; the temporal GCN BatchNorm width, so inputs must have exactly F frames.
    neighbour_num: temporal graph degree (top-k dot-product similarity, the frame itself usually among them).
    mlp_ratio:     MLP width / C.  dim_rep: width of the tanh representation before the head.
    layer_scale:   initial value of the per-channel residual scales.  norm_eps: every LayerNorm's eps.
    drop_path:     stochastic-depth rate, the same in every layer (official).
    """

    frames: int = 243
    joints: int = 17
    in_channels: int = 3
    dim: int = 128
    n_layers: int = 16
    heads: int = 4
    neighbour_num: int = 4
    mlp_ratio: float = 4.0
    dim_rep: int = 512
    qkv_bias: bool = False
    layer_scale: float = 1e-5
    norm_eps: float = 1e-5
    drop_path: float = 0.0
    drop: float = 0.0
    attn_drop: float = 0.0


class LayerScaleBlock(nn.Module):
    """x + ls1 * mixer(LN(x)), then x + ls2 * MLP(LN(x)), on (B, F, J, C) tokens.

    ``axis``: ``"spatial"`` (the mixer sees the J joints of each frame as (B*F, J, C)) or ``"temporal"`` (the F frames
    of each joint as (B*J, F, C)). Parameter names follow the official AGFormerBlock.
    """

    def __init__(self, dim: int, mixer: nn.Module, axis: str, mlp_hidden: int, cfg: MotionAGFormerConfig):
        super().__init__()
        if axis not in ("spatial", "temporal"):
            raise ValueError(f"axis must be 'spatial' or 'temporal', got {axis!r}")
        self.axis = axis
        self.norm1 = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.mlp = Mlp(dim, mlp_hidden, drop=cfg.drop)
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), cfg.layer_scale))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), cfg.layer_scale))
        self.drop_path = DropPath(cfg.drop_path)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        B, F, J, C = x.shape
        # attention: outer=B, as the official code batches its per-head products (B, H, F) and (B, H, J)
        kw = {"outer": B} if isinstance(self.mixer, Attention) else {}
        if self.axis == "spatial":
            return self.mixer(x.reshape(B * F, J, C), **kw).view(B, F, J, C)
        out = self.mixer(x.transpose(1, 2).reshape(B * J, F, C), **kw)  # (B*J, F, C)
        return out.view(B, J, F, C).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1 * self.mix(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))


class MotionAGFormerLayer(nn.Module):
    """One layer: attention and graph streams on the same (B, F, J, C) input, fused per token by
    alpha = softmax(Linear(2C -> 2)([x_attn, x_graph])). ``frames``: the frame count this layer sees (its temporal
    BatchNorm width)."""

    def __init__(self, cfg: MotionAGFormerConfig, frames: int, skeleton: torch.Tensor):
        super().__init__()
        C, hidden = cfg.dim, round(cfg.dim * cfg.mlp_ratio)

        def attention():
            return Attention(C, cfg.heads, qkv_bias=cfg.qkv_bias, attn_drop=cfg.attn_drop, proj_drop=cfg.drop)

        self.att_spatial = LayerScaleBlock(C, attention(), "spatial", hidden, cfg)
        self.att_temporal = LayerScaleBlock(C, attention(), "temporal", hidden, cfg)
        self.graph_spatial = LayerScaleBlock(C, GraphConv(C, cfg.joints, skeleton), "spatial", hidden, cfg)
        self.graph_temporal = LayerScaleBlock(C, GraphConv(C, frames, neighbours=cfg.neighbour_num), "temporal",
                                              hidden, cfg)
        self.fusion = nn.Linear(2 * C, 2)
        nn.init.zeros_(self.fusion.weight)  # equal logits: both streams start with weight 1/2
        nn.init.constant_(self.fusion.bias, FUSION_BIAS_INIT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_attn = self.att_temporal(self.att_spatial(x))
        x_graph = self.graph_temporal(self.graph_spatial(x))
        alpha = self.fusion(torch.cat((x_attn, x_graph), dim=-1)).softmax(dim=-1)  # (B, F, J, 2)
        return x_attn * alpha[..., 0:1] + x_graph * alpha[..., 1:2]


class MotionAGFormer(Backbone):
    """Stage i = MotionAGFormer layer i (16 stages at full size). Input (B, F, J, 3): x, y, confidence."""

    first_prunable_stage = 0  # no temporal embedding: any layer can start on the kept frames
    # TRA runs after the final LayerNorm (Backbone default): the official hot_motionagformer.py and its golden vectors
    # do so, although SPEC 2.8 says before (that order misses the golden output by ~1)

    def __init__(self, cfg: MotionAGFormerConfig, hourglass: HourglassConfig | None = None):
        super().__init__()
        self.cfg = cfg
        self.frames, self.joints, self.in_channels = cfg.frames, cfg.joints, cfg.in_channels
        self.dim, self.heads, self.qkv_bias, self.num_stages = cfg.dim, cfg.heads, cfg.qkv_bias, cfg.n_layers
        if cfg.joints != len(SKELETON_NEIGHBOURS):
            raise ValueError(f"the skeleton graph has {len(SKELETON_NEIGHBOURS)} joints (Human3.6M), "
                             f"got joints={cfg.joints}")
        widths = [cfg.frames] * cfg.n_layers  # frames each layer sees: the kept ones after pruning
        if hourglass is not None:
            widths[hourglass.prune_at:] = [hourglass.keep] * (cfg.n_layers - hourglass.prune_at)
        if cfg.neighbour_num > min(widths):
            raise ValueError(f"neighbour_num={cfg.neighbour_num} exceeds the {min(widths)} frames a layer sees")
        C = cfg.dim
        self.joints_embed = nn.Linear(cfg.in_channels, C)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.joints, C))
        skeleton = skeleton_adjacency()
        self.layers = nn.ModuleList(MotionAGFormerLayer(cfg, w, skeleton) for w in widths)
        self.final_norm = nn.LayerNorm(C, eps=cfg.norm_eps)
        self.rep_logit = nn.Linear(C, cfg.dim_rep)
        self.head_proj = nn.Linear(cfg.dim_rep, 3)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.frames:
            raise ValueError(f"MotionAGFormer's temporal graph layers hold one BatchNorm channel per frame, so this "
                             f"model takes windows of exactly {self.frames} frames, got {x.shape[1]}")
        return self.joints_embed(x) + self.pos_embed  # (B, F, J, C)

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return self.layers[i](x)

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_norm(x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_proj(torch.tanh(self.rep_logit(x)))  # (B, F', J, 3)
