"""PoseFormer (Zheng et al., ICCV 2021): a spatial transformer per frame, a temporal transformer over frame tokens, and
a learnt weighted mean of the frames read out as the centre frame's pose.

Architecture (BEYOND.md section 2.1):

* **Spatial transformer**, per frame: each joint's (x, y) is embedded by Linear(2 -> c) (c = ``joint_dim``, 32), a
  learnt joint embedding (1, J, c) is added, then ``depth`` pre-norm blocks over the J joint tokens (``heads`` heads,
  MLP ``mlp_ratio`` c, LayerNorm eps 1e-6) and a final LayerNorm. The J tokens of a frame are then concatenated into
  one frame token of width C = J c (17 x 32 = 544).
* **Temporal transformer**, over the F frame tokens: a learnt frame embedding (1, F, C) is added, then ``depth``
  blocks of width C (``heads`` heads, MLP ``mlp_ratio`` C) and a final LayerNorm.
* **Head**: a kernel-1 Conv1d whose input channels are the F frames and whose one output channel is a learnt weighted
  mean of them (plus a bias), then LayerNorm(C) (default eps 1e-5) and Linear(C -> 3J): one pose, the centre frame's.
  The model is seq2frame and takes windows of exactly F frames (the frame embedding and the Conv1d are F wide).

Stochastic depth rises linearly from 0 to ``drop_path`` over the ``depth`` blocks, the same schedule in both
transformers (block i of each gets the same rate).

Hourglass seams. Frame tokens exist only in the temporal transformer, so :meth:`PoseFormer.embed` runs the whole
spatial transformer and adds the frame embedding: its tokens are (B, F, 1, C), one token per frame in the J axis.
The stages are the temporal blocks, each prunable (the pruner sees the spatially encoded frame tokens), and
:meth:`PoseFormer.norm` is the temporal LayerNorm. Pruning before the spatial transformer would also save its cost
(6% of the FLOPs at 81 frames), but there are no features to cluster on yet.

The head depends on what reaches it:

* all F frames (no hourglass): the frame-weighting Conv1d, output (B, 1, J, 3), the centre frame
  (``centre_only``);
* the n kept frames (TPC, ``recoverer="none"``): a per-token readout, LayerNorm(C) and Linear(C -> 3J) on each kept
  token, output (B, n, J, 3), as TPC w. MHFormer predicts its kept frames; the centre frame is forced into the kept
  set and read out. We do not give the Conv1d n inputs: the kept frames are chosen per window by content, so its
  r-th input would be a different moment in every window and a weight per rank would mean nothing fixed; the kept
  tokens have already exchanged information in the temporal blocks before and after pruning. The readout has no
  F-wide weights, so it trains on every kept frame's target (the engine gathers targets at ``keep_idx``), a denser
  signal than the one centre target.

Recovery is refused: TRA would restore the F frame tokens only for the Conv1d to average them into one again, and
the interpolations recover poses, which PoseFormer does not have per frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import Backbone
from hotpose.layers import Block


@dataclass
class PoseFormerConfig:
    """PoseFormer sizes (paper: 81 frames, c = 32 per joint, 4 + 4 blocks, 8 heads, MLP ratio 2).

    ``joint_dim`` is the spatial width c; the temporal width is ``joints * joint_dim``. ``depth`` is the number of
    blocks of each transformer. ``drop_path`` is the official training setting (0.1); the official evaluation model
    is built with 0, which is the same network at eval time.
    """

    frames: int = 81
    joints: int = 17
    in_channels: int = 2
    joint_dim: int = 32
    depth: int = 4
    heads: int = 8
    mlp_ratio: float = 2.0
    qkv_bias: bool = True
    drop: float = 0.0
    attn_drop: float = 0.0
    drop_path: float = 0.1
    norm_eps: float = 1e-6
    head_eps: float = 1e-5


class PoseFormer(Backbone):
    """Embedding = spatial transformer + frame embedding; stages = the ``depth`` temporal blocks on (B, F', 1, C)."""

    seq2frame = True  # one pose per window, its centre frame
    fixed_frames = True  # the frame embedding and the frame-weighting Conv1d are F wide
    pool_averages_joints = False  # one token per frame: the pruner sees it as it is, nothing is averaged

    def __init__(self, cfg: PoseFormerConfig, hourglass: HourglassConfig | None = None):
        super().__init__()
        if hourglass is not None and hourglass.recoverer != "none":
            raise ValueError(f"PoseFormer predicts one frame, so there are no frames to recover: prune with "
                             f"recoverer='none' (TPC, the kept frames read out), got {hourglass.recoverer!r}")
        self.cfg = cfg
        self.frames, self.joints, self.in_channels = cfg.frames, cfg.joints, cfg.in_channels
        c, C = cfg.joint_dim, cfg.joints * cfg.joint_dim
        self.dim, self.heads, self.qkv_bias, self.num_stages = C, cfg.heads, cfg.qkv_bias, cfg.depth
        self.joint_embed = nn.Linear(cfg.in_channels, c)
        self.spatial_pos = nn.Parameter(torch.zeros(1, cfg.joints, c))
        self.temporal_pos = nn.Parameter(torch.zeros(1, cfg.frames, C))
        self.pos_drop = nn.Dropout(cfg.drop)
        rates = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()

        def block(width: int, rate: float) -> Block:
            return Block(width, cfg.heads, int(width * cfg.mlp_ratio), qkv_bias=cfg.qkv_bias, drop=cfg.drop,
                         attn_drop=cfg.attn_drop, drop_path=rate, norm_eps=cfg.norm_eps)

        self.spatial_blocks = nn.ModuleList(block(c, r) for r in rates)
        self.spatial_norm = nn.LayerNorm(c, eps=cfg.norm_eps)
        self.temporal_blocks = nn.ModuleList(block(C, r) for r in rates)
        self.temporal_norm = nn.LayerNorm(C, eps=cfg.norm_eps)
        # the frame-weighting head reads out the centre frame; with TPC, every kept frame is read out
        self.centre_only = hourglass is None
        self.frame_weights = nn.Conv1d(cfg.frames, 1, kernel_size=1) if self.centre_only else None
        self.head_norm = nn.LayerNorm(C, eps=cfg.head_eps)
        self.head_proj = nn.Linear(C, 3 * cfg.joints)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, J, C_in) -> (B, F, 1, C): the spatial transformer on each frame, its J joint tokens concatenated
        joint-major into one frame token, plus the frame embedding."""
        B, F, J, C_in = x.shape
        h = self.pos_drop(self.joint_embed(x.reshape(B * F, J, C_in)) + self.spatial_pos)  # (B*F, J, c)
        for blk in self.spatial_blocks:
            h = blk(h)
        h = self.spatial_norm(h).reshape(B, F, 1, -1)  # (B, F, 1, J*c)
        return self.pos_drop(h + self.temporal_pos[:, :, None])

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Temporal block i over the frame tokens: (B, F', 1, C) -> (B, F', 1, C)."""
        return self.temporal_blocks[i](x[:, :, 0])[:, :, None]

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """The pruner sees the frame tokens: (B, F, 1, C) -> (B, F, C)."""
        return x[:, :, 0]

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        """The temporal transformer's final LayerNorm. (B, F', 1, C) -> (B, F', 1, C)."""
        return self.temporal_norm(x)

    def temporal_embeddings(self) -> list[nn.Parameter]:
        return [self.temporal_pos]

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, 1, C) -> (B, 1, J, 3), the frames' learnt weighted mean read out as the centre frame; or, with
        the per-token readout (TPC without recovery), (B, n, 1, C) -> (B, n, J, 3)."""
        x = x[:, :, 0]  # (B, F', C)
        if self.centre_only:
            x = self.frame_weights(x)  # frames are the Conv1d's channels: (B, F, C) -> (B, 1, C)
        return self.head_proj(self.head_norm(x)).unflatten(-1, (self.joints, 3))
