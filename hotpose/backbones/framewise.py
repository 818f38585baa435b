"""A frame-wise baseline: a residual MLP that lifts each frame on its own (Martinez et al., ICCV 2017, "A simple yet
effective baseline for 3d human pose estimation").

The 2D joints of one frame, flattened, go through a linear layer to ``dim`` channels, then ``depth`` residual blocks
of two (linear -> BatchNorm -> ReLU -> dropout) layers, and a linear layer to the 3D joints. No frame sees another: the
window length only says how many frames are lifted per forward pass (any F up to ``frames``), so the model is the
yardstick for what temporal context buys. BatchNorm runs over every frame of the batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import Backbone


@dataclass
class FramewiseConfig:
    """Sizes. ``frames``: frames per forward pass (not a receptive field); ``dim``: hidden width; ``depth``: residual
    blocks (the original: 1024 wide, 2 blocks, dropout 0.5)."""

    frames: int = 27
    joints: int = 17
    in_channels: int = 2
    dim: int = 1024
    depth: int = 2
    dropout: float = 0.5
    bn_momentum: float = 0.1


def _layer(cfg: FramewiseConfig, width_in: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width_in, cfg.dim), nn.BatchNorm1d(cfg.dim, momentum=cfg.bn_momentum),
                         nn.ReLU(), nn.Dropout(cfg.dropout))


class Framewise(Backbone):
    """Tokens are (B, F, 1, dim): one token per frame; stage i is residual block i."""

    def __init__(self, cfg: FramewiseConfig, hourglass: HourglassConfig | None = None):
        super().__init__()
        if hourglass is not None:
            raise ValueError("the frame-wise baseline has no frame tokens to prune (it sees one frame at a time)")
        if cfg.depth < 1 or cfg.dim < 1 or not 0 <= cfg.dropout < 1:
            raise ValueError(f"framewise: need depth >= 1, dim >= 1 and 0 <= dropout < 1, got {cfg}")
        self.cfg = cfg
        self.frames, self.joints, self.in_channels = cfg.frames, cfg.joints, cfg.in_channels
        self.dim, self.num_stages, self.heads = cfg.dim, cfg.depth, 1
        self.inp = _layer(cfg, cfg.joints * cfg.in_channels)
        self.blocks = nn.ModuleList(nn.Sequential(_layer(cfg, cfg.dim), _layer(cfg, cfg.dim)) for _ in range(cfg.depth))
        self.out = nn.Linear(cfg.dim, cfg.joints * 3)

    @staticmethod
    def _per_frame(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply ``layer`` to every frame: (B, F, 1, C) -> (B, F, 1, C') through a (B * F, C) batch."""
        B, F = x.shape[:2]
        return layer(x.reshape(B * F, -1)).view(B, F, 1, -1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        B, F, J, C = x.shape
        return self._per_frame(self.inp, x.reshape(B, F, 1, J * C))

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return x + self._per_frame(self.blocks[i], x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        B, F = x.shape[:2]
        return self._per_frame(self.out, x).view(B, F, self.joints, 3)
