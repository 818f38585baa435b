"""STCFormer (Tang et al., CVPR 2023): spatio-temporal criss-cross attention on joint tokens.

Tokens are (B, F, J, C), one per joint and frame, as in MixSTE. The network:

* **Embedding.** A bias-free Linear(2 -> C) per joint, then GELU. No positional embedding of any kind, and no
  parameter whose size depends on F: the same weights run windows of any length.
* **STC block** (x6). ``x = STCAttention(x)`` (pre-norm and residual inside the attention), then
  ``x = x + MLP(LN(x))`` with a bias-free MLP C -> 4C -> C (GELU, dropout 0.1 after each layer).
* **STC attention.** LN, then one Linear(C -> 3C) whose output is interleaved per channel: output row 3c + r holds
  channel c of q (r = 0), k (r = 1) or v (r = 2), not the usual [q | k | v] blocks. Channels [0, C/2) of q, k, v
  form the spatial half (attention over the J joints of each frame), channels [C/2, C) the temporal half (attention
  over the F frames of each joint); each half has ``heads`` heads of C / (2 * heads) channels and the softmax scale
  is (C/2)^-0.5 for both, not the head width's. To each half's attention output are added
  (1) a depthwise 3x3 Conv2d of that half's values over the (frame, joint) grid (the "structure-enhanced positional
  embedding") and (2) a learnt embedding of the body part of each joint (5 parts), shared by both halves, passed
  through DropPath(0.5) and scaled by 1e-4 (spatial) or 1e-9 (temporal), so that its effect is negligible. The two
  halves are concatenated per head, [spatial head h | temporal head h] for h = 0 .. heads-1, projected by
  Linear(C -> C) and added to the block input.
* **Head.** A bias-free Linear(C -> 3). No final norm.

Hourglass seams: stage i = STC block i; :meth:`Backbone.norm` is the identity (there is no final norm), so TRA works
on the last block's tokens; any stage can start on the kept frames (no temporal embedding). After pruning, the 3x3
convolution of the next blocks treats neighbouring *kept* frames as neighbours although they are no longer equally
spaced in time; we keep this computation as it is (the kept frames are sorted, so the grid stays in temporal order).

Readout: the network is trained on every frame of its window (MPJPE over all frames), but its authors report the
centre frame of a stride-1 sliding window (with flip averaging), so ``seq2frame = True``, as for MHFormer: ``hotpose
evaluate`` reads out the centre frame by default, and ``--readout seq2seq`` scores every frame instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import Backbone
from hotpose.layers import DropPath, Linear, Mlp, attend

# Body part of each Human3.6M joint: 0 torso and head (pelvis, spine, thorax, neck, head), 1 right leg, 2 left leg,
# 3 left arm, 4 right arm.
H36M_PARTS = (0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 3, 3, 3, 4, 4, 4)


@dataclass
class STCFormerConfig:
    """STCFormer sizes. Defaults: STCFormer-L of the paper's 243-frame row (C=512); the released checkpoints are
    C=256 (27 and 81 frames).

    frames:       the longest window F the model accepts (no parameter depends on it).
    heads:        heads of each half (spatial and temporal); the head width is C / (2 * heads).
    mlp_hidden:   the MLP width; None: 4 x dim.
    drop:         dropout after each MLP layer.
    part_drop:    DropPath rate on the part embedding (one draw per forward for the whole embedding).
    spatial_part_scale / temporal_part_scale: factors of the part embedding added to each half.
    conv_kernel:  size of the depthwise convolution over the (frame, joint) grid.
    """

    frames: int = 243
    joints: int = 17
    in_channels: int = 2
    dim: int = 512
    depth: int = 6
    heads: int = 8
    mlp_hidden: int | None = None
    qkv_bias: bool = True
    drop: float = 0.1
    part_drop: float = 0.5
    spatial_part_scale: float = 1e-4
    temporal_part_scale: float = 1e-9
    conv_kernel: int = 3
    norm_eps: float = 1e-5


def split_qkv(qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(..., 3C) output of STCFormer's interleaved qkv layer -> q, k, v, each (..., C): channel c of q, k, v is
    output 3c, 3c + 1, 3c + 2."""
    return qkv.unflatten(-1, (-1, 3)).unbind(-1)


class STCAttention(nn.Module):
    """Criss-cross attention with its pre-norm and residual: (B, F, J, C) -> (B, F, J, C).

    Parameter names: ``norm`` (official ``layer_norm``), ``qkv`` (interleaved, see :func:`split_qkv`), ``proj``,
    ``part_embed`` (``emb``), ``spatial_conv`` (``sep2_s``), ``temporal_conv`` (``sep2_t``).
    """

    kernel_flag = "explicit"  # set by :func:`hotpose.layers.use_kernels`: explicit softmax(q k^T) v when True

    def __init__(self, cfg: STCFormerConfig):
        super().__init__()
        C = cfg.dim
        if C % (2 * cfg.heads):
            raise ValueError(f"dim={C} must be divisible by 2 x heads={2 * cfg.heads} (two halves of {cfg.heads} "
                             "heads)")
        if cfg.joints != len(H36M_PARTS):
            raise ValueError(f"the part map covers the {len(H36M_PARTS)} Human3.6M joints, got joints={cfg.joints}")
        half = C // 2
        self.heads = cfg.heads
        self.scale = half ** -0.5  # the half's width, not the head's
        self.norm = nn.LayerNorm(C, eps=cfg.norm_eps)
        self.qkv = Linear(C, 3 * C, bias=cfg.qkv_bias)
        self.proj = Linear(C, C)
        self.part_embed = nn.Embedding(max(H36M_PARTS) + 1, half // cfg.heads)
        self.register_buffer("parts", torch.tensor(H36M_PARTS), persistent=False)
        self.part_drop = DropPath(cfg.part_drop)
        self.spatial_part_scale, self.temporal_part_scale = cfg.spatial_part_scale, cfg.temporal_part_scale

        def depthwise():
            return nn.Conv2d(half, half, cfg.conv_kernel, padding=cfg.conv_kernel // 2, groups=half)

        self.spatial_conv = depthwise()
        self.temporal_conv = depthwise()
        self.explicit = False

    def grid_conv(self, conv: nn.Conv2d, v: torch.Tensor) -> torch.Tensor:
        """Depthwise conv of values over the (frame, joint) grid: (B, F, J, C/2) -> (B, H, F, J, d)."""
        B, F, J, half = v.shape
        out = conv(v.permute(0, 3, 1, 2))  # (B, C/2, F, J)
        return out.view(B, self.heads, half // self.heads, F, J).permute(0, 1, 3, 4, 2)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        """Everything but the projection and the residual: (B, F, J, C) -> (B, F, J, C), channels per head
        [spatial head h | temporal head h]."""
        B, F, J, C = x.shape
        H, half = self.heads, C // 2
        q, k, v = split_qkv(self.qkv(self.norm(x)))  # each (B, F, J, C)

        def heads(t):  # (B, F, J, C/2) -> (B, H, F, J, d)
            return t.unflatten(-1, (H, half // H)).permute(0, 3, 1, 2, 4)

        qs, ks, vs = (heads(t[..., :half]) for t in (q, k, v))
        qt, kt, vt = (heads(t[..., half:]).transpose(2, 3) for t in (q, k, v))  # (B, H, J, F, d)
        part = self.part_embed(self.parts)[None]  # (1, J, d)
        xs = attend(qs, ks, vs, self.scale, explicit=self.explicit)  # over joints, per frame
        xs = xs + self.grid_conv(self.spatial_conv, v[..., :half]) + self.spatial_part_scale * self.part_drop(part)
        xt = attend(qt, kt, vt, self.scale, explicit=self.explicit).transpose(2, 3)  # over frames, per joint
        xt = xt + self.grid_conv(self.temporal_conv, v[..., half:]) + self.temporal_part_scale * self.part_drop(part)
        return torch.cat((xs, xt), dim=-1).permute(0, 2, 3, 1, 4).reshape(B, F, J, C)  # (B, F, J, H * 2d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(self.mix(x))


class STCBlock(nn.Module):
    """STC attention (residual inside), then x + MLP(LN(x)). (B, F, J, C) -> (B, F, J, C). Names: ``attn``
    (official ``stc_att``), ``mlp_norm`` (``layer_norm``), ``mlp``."""

    def __init__(self, cfg: STCFormerConfig):
        super().__init__()
        self.attn = STCAttention(cfg)
        self.mlp_norm = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.mlp = Mlp(cfg.dim, cfg.mlp_hidden or 4 * cfg.dim, drop=cfg.drop)
        self.mlp.fc1.bias = self.mlp.fc2.bias = None  # STCFormer's MLP has no biases

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(x)
        return x + self.mlp(self.mlp_norm(x))


class STCFormer(Backbone):
    """Stage i = STC block i (6 stages at full size). Input (B, F, J, 2), any F <= ``frames``."""

    first_prunable_stage = 0  # no temporal embedding: any block can start on the kept frames
    seq2frame = True  # trained on all frames, read out at the centre (see the module docstring)

    def __init__(self, cfg: STCFormerConfig, hourglass: HourglassConfig | None = None):
        super().__init__()
        self.cfg = cfg
        self.frames, self.joints, self.in_channels = cfg.frames, cfg.joints, cfg.in_channels
        self.dim, self.heads, self.qkv_bias, self.num_stages = cfg.dim, cfg.heads, cfg.qkv_bias, cfg.depth
        self.joint_embed = nn.Linear(cfg.in_channels, cfg.dim, bias=False)
        self.blocks = nn.ModuleList(STCBlock(cfg) for _ in range(cfg.depth))
        self.head_proj = nn.Linear(cfg.dim, 3, bias=False)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return nnf.gelu(self.joint_embed(x))  # (B, F, J, C)

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return self.blocks[i](x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_proj(x)
