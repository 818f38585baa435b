"""PoseFormer models and the official PoseFormer checkpoint reader.

Paper setting (Human3.6M, CPN 2D input): 81 frames, c = 32 per joint (C = 544 per frame), 4 spatial + 4 temporal
blocks, 8 heads, MLP ratio 2: 9.60 M parameters, 44.3 mm. The 27-frame model (47.0 mm) is the same network with a
27-wide frame embedding and frame-weighting Conv1d.

FLOPs: the paper's convention (2 x Linear / Conv MACs, norms not counted) gives 1.6247 G at 81 frames: 1.62 where the
table has 1.63. Counting also every LayerNorm as thop's normalisation hook does (4 multiply-accumulates per element
with the affine scale and shift) gives 1.6310 G, the table's 1.63; the figure was presumably made with such a
counter. The table's other rows are reproduced without norms, so the convention is not changed for this one.

``tpc_poseformer_81`` is ours: neither the paper nor any official code prunes PoseFormer. Design:

* TPC (DPC-kNN on the frame tokens) keeps 27 of the 81 frames (a third, the ratio of TPC w. MHFormer) before
  temporal block 1, so temporal blocks 1-3 run on 27 tokens; the centre frame is forced into the kept set. Block 0
  runs on all 81 so that the clustered tokens carry temporal context; the spatial transformer (6% of the FLOPs) runs
  on every frame because the pruner needs its features.
* No recovery and no rank embedding (as TPC w. MHFormer): the frame embedding was added to all 81 frames before
  pruning, so each kept token still knows its time.
* The frame-weighting Conv1d is replaced by a per-token readout (the same LayerNorm + Linear head on each kept token,
  trained on the kept frames' targets, the centre read out); see :mod:`hotpose.backbones.poseformer` for why.

Official checkpoints (``detected81f.bin``, ``gt81f.bin``) are dicts whose ``model_pos`` holds the weights of a
DataParallel-wrapped model (``module.`` prefixes); :func:`hotpose.load_official` ``("poseformer", ...)`` unwraps both
and refuses a file that does not cover every parameter. The files also pickle a NumPy ``RandomState`` (key
``random_state``) and arrays; the weights-only reader (:func:`hotpose.fileio.read_torch_file`) accepts those numpy
data types, so such a file loads by its path.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from hotpose.backbones.poseformer import PoseFormer, PoseFormerConfig
from hotpose.hourglass.config import HourglassConfig
from hotpose.official import OFFICIAL, OfficialArch, count_indexed, need
from hotpose.registry import compose, register, register_backbone

register_backbone("poseformer", PoseFormerConfig, PoseFormer, tiny=dict(frames=9, joint_dim=8, depth=2))

_POSEFORMER = dict(frames=81, joint_dim=32, depth=4)
_TPC_POSEFORMER = HourglassConfig(pruner="tpc", keep=27, prune_at=1, recoverer="none", centre=True, pos_token=False)


@register
def poseformer_81(**kw):
    """PoseFormer, 81 frames, c=32 (C=544), 4 spatial + 4 temporal blocks; seq2frame (the centre frame)."""
    return compose("poseformer_81", "poseformer", _POSEFORMER, None, kw)


@register
def poseformer_27(**kw):
    """PoseFormer, 27 frames (the paper's smaller model), otherwise as ``poseformer_81``."""
    return compose("poseformer_27", "poseformer", {**_POSEFORMER, "frames": 27}, None, kw)


@register
def tpc_poseformer_81(**kw):
    """TPC w. PoseFormer (ours): 27 of 81 frames kept before temporal block 1 (centre forced), predicts the kept
    frames with a per-token readout instead of the frame-weighting Conv1d."""
    return compose("tpc_poseformer_81", "poseformer", _POSEFORMER, _TPC_POSEFORMER, kw)


# --- official PoseFormer (zczcwh/PoseFormer, common/model_poseformer.py) ------------------------------------------

_RENAME = [(r"Spatial_patch_to_embedding\.(weight|bias)", r"backbone.joint_embed.\1"),
           (r"Spatial_pos_embed", "backbone.spatial_pos"),
           (r"Spatial_blocks\.(.*)", r"backbone.spatial_blocks.\1"),
           (r"Spatial_norm\.(weight|bias)", r"backbone.spatial_norm.\1"),
           (r"Temporal_pos_embed", "backbone.temporal_pos"),
           (r"blocks\.(.*)", r"backbone.temporal_blocks.\1"),
           (r"Temporal_norm\.(weight|bias)", r"backbone.temporal_norm.\1"),
           (r"weighted_mean\.(weight|bias)", r"backbone.frame_weights.\1"),
           (r"head\.0\.(weight|bias)", r"backbone.head_norm.\1"),
           (r"head\.1\.(weight|bias)", r"backbone.head_proj.\1")]


def _poseformer_sizes(state: Mapping[str, torch.Tensor]) -> dict:
    """Backbone sizes from the tensors (the head count, 8, is not stored)."""
    arch = "poseformer"
    embed = need(state, "Spatial_patch_to_embedding.weight", arch)  # (c, C_in)
    joints = need(state, "Spatial_pos_embed", arch).shape[1]
    frames = need(state, "Temporal_pos_embed", arch).shape[1]
    depth, spatial_depth = count_indexed(state, "blocks."), count_indexed(state, "Spatial_blocks.")
    if depth != spatial_depth:
        raise ValueError(f"not an official {arch!r} checkpoint: {spatial_depth} spatial blocks but {depth} temporal "
                         "blocks (PoseFormer has as many of each)")
    joint_dim = embed.shape[0]
    hidden = need(state, "blocks.0.mlp.fc1.weight", arch).shape[0]
    return dict(frames=frames, joints=joints, in_channels=embed.shape[1], joint_dim=joint_dim, depth=depth,
                mlp_ratio=hidden / (joints * joint_dim), qkv_bias="blocks.0.attn.qkv.bias" in state,
                drop_path=0.0)  # the official evaluation model's setting (no effect in eval mode)


def _build_poseformer(state, layer_index, token_num):
    if layer_index is not None or token_num is not None:
        raise ValueError("the official PoseFormer does not prune: layer_index and token_num do not apply")
    return ("poseformer", "poseformer", _poseformer_sizes(state), None)


OFFICIAL["poseformer"] = OfficialArch(_RENAME, _build_poseformer)
