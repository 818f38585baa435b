"""Strided Transformer and P-STMO models, their TPC (seq2frame hourglass) variants, and the official checkpoint
readers.

Paper settings (Human3.6M, CPN 2D): Strided Transformer 351 frames, C 256, FFN 512, 3 VTE layers, STE strides
[3, 9, 13]: 4.35 M / 1.60 G, 43.7 mm. P-STMO 243 frames, 4 VTE layers, STE strides [3, 3, 3, 3, 3], FC-block
embedding: 7.01 M / 1.74 G, 42.8 mm (P-STMO-S: 3 VTE layers, 43.0 mm). P-STMO's 1.74 G is its own paper's thop
figure with BatchNorm counted; without it (the convention of every other row) our rebuild gives 1.733 G: see
:mod:`hotpose.efficiency` (``batchnorm=True``). Strided also runs on 27 frames (strides [3, 3, 3]), as its option
file allows.

The TPC variants are ours (neither paper nor the HoT code has them). Design:

* TPC (centre forced, no rank embedding, as TPC w. MHFormer) keeps n frames before VTE layer 1, so VTE layers 1 ..
  run on n tokens; the STE then needs strides that take n (not F) to 1, so its first stride becomes 1:
  Strided 351 keeps 117 with strides [1, 9, 13] (117 -> 117 -> 13 -> 1), P-STMO 243 keeps 81 with
  [1, 3, 3, 3, 3] (81 -> 81 -> 27 -> 9 -> 3 -> 1). The pos-embeds of every stage keep their full-length shapes.
* No recovery: the model stays seq2frame; the centre-frame head is unchanged and the auxiliary VTE head predicts the
  kept frames, so the full-sequence loss becomes a loss on the kept frames (targets gathered at ``keep_idx``).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from hotpose.backbones.strided import PSTMOConfig, StridedConfig, StridedTransformer
from hotpose.hourglass.config import HourglassConfig
from hotpose.official import OFFICIAL, OfficialArch, count_indexed, need
from hotpose.registry import compose, register, register_backbone

_TINY = dict(frames=27, dim=32, ffn_hidden=64, heads=4, vte_depth=2)
register_backbone("strided", StridedConfig, StridedTransformer, tiny=_TINY)
register_backbone("pstmo", PSTMOConfig, StridedTransformer, tiny=_TINY)

_STRIDED = dict(frames=351)
_STRIDED_27 = dict(frames=27)
_PSTMO = dict(frames=243, vte_depth=4)
_PSTMO_S = dict(frames=243, vte_depth=3)
_TPC = dict(pruner="tpc", prune_at=1, recoverer="none", centre=True, pos_token=False)


@register
def strided_351(**kw):
    """Strided Transformer, 351 frames: 3 VTE layers, STE strides [3, 9, 13]; predicts the centre frame (plus
    every frame from the VTE, for the training loss)."""
    return compose("strided_351", "strided", _STRIDED, None, kw)


@register
def strided_27(**kw):
    """Strided Transformer, 27 frames: STE strides [3, 3, 3]."""
    return compose("strided_27", "strided", _STRIDED_27, None, kw)


@register
def tpc_strided_351(**kw):
    """TPC w. Strided (ours): 117 of 351 frames kept before VTE layer 1 (centre forced), STE strides [1, 9, 13]."""
    return compose("tpc_strided_351", "strided", {**_STRIDED, "strides": [1, 9, 13]},
                   HourglassConfig(keep=117, **_TPC), kw)


@register
def pstmo_243(**kw):
    """P-STMO, 243 frames: FC-block embedding, 4 VTE layers, STE strides [3, 3, 3, 3, 3]."""
    return compose("pstmo_243", "pstmo", _PSTMO, None, kw)


@register
def pstmo_s_243(**kw):
    """P-STMO-S, 243 frames: as P-STMO with 3 VTE layers."""
    return compose("pstmo_s_243", "pstmo", _PSTMO_S, None, kw)


@register
def tpc_pstmo_243(**kw):
    """TPC w. P-STMO (ours): 81 of 243 frames kept before VTE layer 1 (centre forced), STE strides
    [1, 3, 3, 3, 3]."""
    return compose("tpc_pstmo_243", "pstmo", {**_PSTMO, "strides": [1, 3, 3, 3, 3]},
                   HourglassConfig(keep=81, **_TPC), kw)


# --- official checkpoints (Vegetebird/StridedTransformer-Pose3D model/strided_transformer.py, ------------------
# --- paTRICK-swk/P-STMO model/stmo.py; both build their encoders from the same model/block files) ---------------

def _encoder_rules(official: str, ours: str, ffn: tuple[str, str]) -> list[tuple[str, str]]:
    """Rules for one encoder (the VTE ``Transformer`` or the STE ``Transformer_reduce``)."""
    layer = rf"{official}\.model\.layers\.(\d+)\."
    rules = [(layer + rf"self_attn\.linears\.{k}\.(weight|bias)", rf"backbone.{ours}.\1.attn.{name}.\2")
             for k, name in enumerate(("linear_q", "linear_k", "linear_v", "proj"))]
    rules += [(layer + rf"feed_forward\.w_{k + 1}\.(weight|bias)", rf"backbone.{ours}.\1.ffn.{name}.\2")
              for k, name in enumerate(ffn)]
    rules += [(layer + rf"sublayer\.{k}\.norm\.a_2", rf"backbone.{ours}.\1.norm{k + 1}.weight") for k in (0, 1)]
    rules += [(layer + rf"sublayer\.{k}\.norm\.b_2", rf"backbone.{ours}.\1.norm{k + 1}.bias") for k in (0, 1)]
    rules += [(rf"{official}\.model\.norm\.a_2", rf"backbone.{ours}_norm.weight"),
              (rf"{official}\.model\.norm\.b_2", rf"backbone.{ours}_norm.bias")]
    return rules


def _common_rules() -> list[tuple[str, str]]:
    return (_encoder_rules("Transformer", "vte", ("fc1", "fc2"))
            + _encoder_rules("Transformer_reduce", "ste", ("conv1", "conv2"))
            + [(r"Transformer\.pos_embedding", "backbone.vte_pos"),
               (r"fcn\.0\.(.*)", r"backbone.head_centre.bn.\1"),
               (r"fcn\.1\.(.*)", r"backbone.head_centre.proj.\1"),
               (r"fcn_1\.0\.(.*)", r"backbone.head_frames.bn.\1"),
               (r"fcn_1\.1\.(.*)", r"backbone.head_frames.proj.\1")])


def _with_ste_pos(rules: list, count: int = 9) -> list[tuple[str, str]]:
    """The STE pos-embeds are numbered from 1 in the official names, from 0 in ours."""
    return rules + [(rf"Transformer_reduce\.model\.pos_embedding_{k + 1}", f"backbone.ste_pos.{k}")
                    for k in range(count)]


def _strided_rename() -> list[tuple[str, str]]:
    return _with_ste_pos(_common_rules() + [(r"encoder\.([01])\.(.*)", r"backbone.embedding.\1.\2")])


def _pstmo_rename() -> list[tuple[str, str]]:
    block = r"encoder\.layers\.(\d+)\."
    return _with_ste_pos(_common_rules() + [
        (r"encoder\.fc_1\.(.*)", r"backbone.embedding.proj_in.\1"),
        (r"encoder\.bn_1\.(.*)", r"backbone.embedding.bn_in.\1"),
        (block + r"w1\.(.*)", r"backbone.embedding.blocks.\1.conv1.\2"),
        (block + r"batch_norm1\.(.*)", r"backbone.embedding.blocks.\1.bn1.\2"),
        (block + r"w2\.(.*)", r"backbone.embedding.blocks.\1.conv2.\2"),
        (block + r"batch_norm2\.(.*)", r"backbone.embedding.blocks.\1.bn2.\2"),
        (r"encoder\.fc_2\.(.*)", r"backbone.embedding.proj_out.\1")])


def _sizes(state: Mapping[str, torch.Tensor], arch: str, embed_weight: str) -> dict:
    pos = need(state, "Transformer.pos_embedding", arch)
    joints = need(state, "fcn.1.weight", arch).shape[0] // 3
    return dict(frames=pos.shape[1], dim=pos.shape[2], joints=joints,
                in_channels=need(state, embed_weight, arch).shape[1] // joints,
                ffn_hidden=need(state, "Transformer.model.layers.0.feed_forward.w_1.weight", arch).shape[0],
                vte_depth=count_indexed(state, "Transformer.model.layers."),
                ste_pos_embeds=sum(bool(re.fullmatch(r"Transformer_reduce\.model\.pos_embedding_\d+", k))
                                   for k in state))
    # heads (8) are fixed in the official code; the STE strides are not stored: the official ones for the window
    # length are used (pass strides=[...] to load_official for another schedule)


def _build_strided(state, layer_index, token_num):
    return ("strided", "strided", _sizes(state, "strided", "encoder.0.weight"), None)


def _build_pstmo(state, layer_index, token_num):
    sizes = _sizes(state, "pstmo", "encoder.fc_1.weight")
    sizes.update(embed_hidden=state["encoder.fc_1.weight"].shape[0],
                 embed_blocks=count_indexed(state, "encoder.layers."))
    return ("pstmo", "pstmo", sizes, None)


OFFICIAL["strided"] = OfficialArch(_strided_rename(), _build_strided)
OFFICIAL["pstmo"] = OfficialArch(_pstmo_rename(), _build_pstmo)
