"""Reusable layers shared by every backbone: attention, MLP, pre-norm block, stochastic depth."""
from hotpose.layers.attention import Attention, CrossAttention, attend, set_attention, use_attention
from hotpose.layers.block import Block
from hotpose.layers.drop_path import DropPath
from hotpose.layers.mlp import Mlp

__all__ = ["Attention", "CrossAttention", "attend", "set_attention", "use_attention", "Block", "DropPath", "Mlp"]
