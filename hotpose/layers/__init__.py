"""Reusable layers shared by every backbone: attention, MLP, pre-norm block, stochastic depth, and the switch between
exact and fast kernels."""
from hotpose.layers.attention import Attention, CrossAttention, attend
from hotpose.layers.block import Block
from hotpose.layers.drop_path import DropPath
from hotpose.layers.kernels import Linear, kernels, use_kernels
from hotpose.layers.mlp import Mlp

__all__ = ["Attention", "CrossAttention", "attend", "Block", "DropPath", "Linear", "Mlp", "kernels", "use_kernels"]
