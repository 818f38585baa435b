"""The frame-wise baseline (:mod:`hotpose.backbones.framewise`): every claim about a temporal model is made against
it, trained on the same data with the same augmentation."""
from __future__ import annotations

from hotpose.backbones.framewise import Framewise, FramewiseConfig
from hotpose.registry import compose, register, register_backbone

register_backbone("framewise", FramewiseConfig, Framewise, tiny=dict(frames=9, dim=32, depth=1, dropout=0.1))


@register
def framewise_mlp(**kw):
    """Frame-wise residual MLP (Martinez et al. 2017): 1024 wide, 2 residual blocks, dropout 0.5; lifts one frame at
    a time (no temporal context)."""
    return compose("framewise_mlp", "framewise", dict(frames=27, dim=1024, depth=2, dropout=0.5), None, kw)
