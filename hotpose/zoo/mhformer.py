"""MHFormer models and the official MHFormer / TPC w. MHFormer checkpoint readers.

Paper settings (Human3.6M, 351 frames, C=512, hidden 1024): MHFormer 31.52 M / 14.15 G; TPC w. MHFormer keeps 117
frames before SHR block 1 (centre forced, clustering on the three hypotheses concatenated, no recovery): 8.22 G.

``hot_mhformer_351`` is ours: neither the paper nor the official code has HoT w. MHFormer. Design:

* the same pruning as TPC w. MHFormer (TPC, 117 of 351 frames kept before SHR block 1, on the concatenated
  hypotheses), so SHR block 1 and the CHI block run on 117 frames; the centre frame is not forced (all frames are
  recovered);
* a rank embedding ``pos_token`` (1, 117, C) is added to the kept tokens of every hypothesis, as HoT w. MixSTE /
  MotionBERT do (the per-hypothesis frame pos-embeds were added before pruning);
* TRA after the final LN(3C), per hypothesis (the J axis holds the three hypotheses): full-length queries (1, 351, C)
  shared by the hypotheses cross-attend to each hypothesis' 117 kept tokens (width C, 8 heads), so the BatchNorm +
  Conv1d head regresses all 351 frames as MHFormer's does. Recovering at width C per hypothesis costs a third of a
  single TRA on the 3C concatenation ((2F + 2n) C^2 MACs per hypothesis vs (2F + 2n) 9C^2).

Why: MHFormer is trained on all F frames and read out at the centre. TPC w. MHFormer loses the loss on the pruned
frames; TRA restores the full-length output (and the full-length training signal) for +1.29 M parameters and
+1.51 G FLOPs (paper convention) over TPC w. MHFormer: 32.81 M / 9.73 G vs MHFormer's 31.52 M / 14.15 G.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from hotpose.backbones.mhformer import HYPOTHESES, MHFormer, MHFormerConfig
from hotpose.hourglass.config import HourglassConfig
from hotpose.official import OFFICIAL, OfficialArch, count_indexed, default_pruning, need
from hotpose.registry import compose, register, register_backbone

register_backbone("mhformer", MHFormerConfig, MHFormer, tiny=dict(frames=27, dim=32, mlp_hidden=64, mhg_depth=2))

_MHFORMER = dict(frames=351, dim=512, mlp_hidden=1024, depth=3)
PAPER_TPC = (351, 117, 1)  # (frames, token_num, layer_index) of TPC w. MHFormer in the paper
_TPC_MHFORMER = HourglassConfig(pruner="tpc", keep=117, prune_at=1, recoverer="none", centre=True, pos_token=False)
_HOT_MHFORMER = HourglassConfig(pruner="tpc", keep=117, prune_at=1, recoverer="tra", centre=False, pos_token=True)


@register
def mhformer_351(**kw):
    """MHFormer, 351 frames, C=512, 2 SHR + 1 CHI (seq2frame: all 351 frames predicted, the centre read out)."""
    return compose("mhformer_351", "mhformer", _MHFORMER, None, kw)


@register
def tpc_mhformer_351(**kw):
    """TPC w. MHFormer: 117 of 351 frames kept before SHR block 1 (centre forced), predicts the kept frames."""
    return compose("tpc_mhformer_351", "mhformer", _MHFORMER, _TPC_MHFORMER, kw)


@register
def hot_mhformer_351(**kw):
    """HoT w. MHFormer (ours): TPC keeps 117 frames before SHR block 1, TRA per hypothesis after the final LN
    recovers all 351."""
    return compose("hot_mhformer_351", "mhformer", _MHFORMER, _HOT_MHFORMER, kw)


# --- MHFormer family (model/mhformer/{mhformer,tpc_mhformer}.py) ------------------------------------------------

def _mhformer_rename() -> list[tuple[str, str]]:
    hyp = r"Transformer_hypothesis\."
    shr = hyp + r"SHR_blocks\.(\d+)\."
    chi = hyp + r"CHI_blocks\.0\."
    rules = [(hyp + r"norm\.(.*)", r"backbone.final_norm.\1"),
             (shr + r"(norm2|mlp)\.(.*)", r"backbone.shr_blocks.\1.\2.\3"),
             (chi + r"(norm2|mlp)\.(.*)", r"backbone.chi_block.\1.\2"),
             (r"regression\.0\.(.*)", r"backbone.head_bn.\1"),
             (r"regression\.1\.(.*)", r"backbone.head_proj.\1")]
    for k in range(HYPOTHESES):  # official names count hypotheses from 1
        o = k + 1
        rules += [(rf"norm_{o}\.(.*)", rf"backbone.mhg_norms.{k}.\1"),
                  (rf"Transformer_encoder_{o}\.(.*)", rf"backbone.mhg.{k}.\1"),
                  (rf"embedding_{o}\.(.*)", rf"backbone.embeddings.{k}.\1"),
                  (hyp + rf"pos_embed_{o}", rf"backbone.pos_embeds.{k}"),
                  (shr + rf"norm1_{o}\.(.*)", rf"backbone.shr_blocks.\1.norm1.{k}.\2"),
                  (shr + rf"attn_{o}\.(.*)", rf"backbone.shr_blocks.\1.attn.{k}.\2"),
                  (chi + rf"attn_{o}\.(.*)", rf"backbone.chi_block.attn.{k}.\1")]
        # CHI norm3_{update}{role}: role 1 normalises the query source, 2 the key source, 3 the value (itself)
        rules += [(chi + rf"norm3_{o}{r + 1}\.(.*)", rf"backbone.chi_block.norm.{k}.{r}.\1") for r in range(HYPOTHESES)]
    return rules


def _mhformer_sizes(state: Mapping[str, torch.Tensor], arch: str) -> dict:
    embed_bn = "embedding_1.0.weight" in state
    embed = need(state, "embedding_1.0.weight" if embed_bn else "embedding_1.weight", arch)
    joints = need(state, "regression.1.weight", arch).shape[0] // 3
    return dict(frames=need(state, "norm_1.weight", arch).shape[0], joints=joints,
                in_channels=embed.shape[1] // joints, dim=embed.shape[0],
                mlp_hidden=need(state, "Transformer_hypothesis.SHR_blocks.0.mlp.fc1.weight", arch).shape[0],
                depth=count_indexed(state, "Transformer_hypothesis.SHR_blocks.") + 1,
                mhg_depth=count_indexed(state, "Transformer_encoder_1.blocks."),
                mhg_mlp_hidden=need(state, "Transformer_encoder_1.blocks.0.mlp.fc1.weight", arch).shape[0],
                embed_bn=embed_bn)  # heads (8) and MHG heads (9) are fixed in the official code


def _build_mhformer(state, layer_index, token_num):
    return ("mhformer", "mhformer", _mhformer_sizes(state, "mhformer"), None)


def _build_tpc_mhformer(state, layer_index, token_num):
    sizes = _mhformer_sizes(state, "tpc_mhformer")
    frames, paper_keep, paper_at = PAPER_TPC
    token_num, layer_index = default_pruning(sizes["frames"], token_num, layer_index, "tpc_mhformer",
                                             (paper_keep, paper_at), paper_frames=frames)
    hg = HourglassConfig(**{**_TPC_MHFORMER.__dict__, "keep": token_num,
                            "prune_at": layer_index})
    return ("tpc_mhformer", "mhformer", sizes, hg)


OFFICIAL["mhformer"] = OfficialArch(_mhformer_rename(), _build_mhformer)
OFFICIAL["tpc_mhformer"] = OfficialArch(_mhformer_rename(), _build_tpc_mhformer)
