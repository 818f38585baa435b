"""MotionBERT (DSTformer) models and official-checkpoint readers.

Paper settings (Human3.6M, 243 frames, C=256, depth 5): HoT w. MotionBERT keeps 81 frames before depth level 1 and
recovers with TRA after the final norm; TPC w. MotionBERT (seq2frame) keeps 121 frames before level 2, centre forced,
no recovery (absent from the official code; SPEC section 1 shows it is the only build giving 16.00 M / 91.38 G);
the seq2frame ablation keeps 81 before level 1 (61.04 G).
"""
from __future__ import annotations

from hotpose.backbones.dstformer import DSTformer, DSTformerConfig
from hotpose.hourglass.config import HourglassConfig
from hotpose.official import OFFICIAL, OfficialArch, count_indexed, need
from hotpose.registry import compose, register, register_backbone

register_backbone("dstformer", DSTformerConfig, DSTformer,
                  tiny=dict(frames=27, dim=32, mlp_hidden=64, dim_rep=32, depth=3))

_MOTIONBERT = dict(frames=243, dim=256, mlp_hidden=1024, dim_rep=512, depth=5)
_HOT = HourglassConfig(pruner="tpc", keep=81, prune_at=1, recoverer="tra", pos_token=True)


def _seq2frame(keep: int, prune_at: int) -> HourglassConfig:
    return HourglassConfig(pruner="tpc", keep=keep, prune_at=prune_at, recoverer="none", centre=True, pos_token=False)


@register
def motionbert_243(**kw):
    """MotionBERT (DSTformer), 243 frames, C=256, 5 depth levels (seq2seq)."""
    return compose("motionbert_243", "dstformer", _MOTIONBERT, None, kw)


@register
def hot_motionbert_243(**kw):
    """HoT w. MotionBERT: TPC keeps 81 of 243 frames before depth level 1, TRA recovers all 243."""
    return compose("hot_motionbert_243", "dstformer", _MOTIONBERT, _HOT, kw)


@register
def tpc_motionbert_243(**kw):
    """TPC w. MotionBERT (seq2frame): 121 frames kept before depth level 2, centre forced, predicts the kept
    frames."""
    return compose("tpc_motionbert_243", "dstformer", _MOTIONBERT, _seq2frame(121, 2), kw)


@register
def tpc_motionbert_243_81(**kw):
    """Seq2frame TPC w. MotionBERT of the paper's ablation: 81 frames kept before depth level 1 (61.04 G)."""
    return compose("tpc_motionbert_243_81", "dstformer", _MOTIONBERT, _seq2frame(81, 1), kw)


# Hierarchical hourglass (not in the paper): 243 -> 121 before depth level 1 -> 61 before level 2 -> 27 before level 3.
_HIERARCHY = [[1, 121], [2, 61], [3, 27]]


def _hhot(**changes) -> HourglassConfig:
    return HourglassConfig(**{**_HOT.__dict__, "schedule": _HIERARCHY, **changes})


@register
def hhot_motionbert_243(**kw):
    """Hierarchical HoT w. MotionBERT: TPC keeps 121 of 243 frames before depth level 1, 61 before level 2 and 27
    before level 3; TRA recovers all 243 from the 27."""
    return compose("hhot_motionbert_243", "dstformer", _MOTIONBERT, _hhot(), kw)


@register
def hhot_motionbert_243_stepwise(**kw):
    """Hierarchical HoT w. MotionBERT recovering level by level: 27 -> 61 -> 121 -> 243 frames, one TRA per step."""
    return compose("hhot_motionbert_243_stepwise", "dstformer", _MOTIONBERT, _hhot(stepwise_recovery=True), kw)


# --- official HoT files model/motionbert/{motionbert,hot_motionbert}.py; MotionBERT's own DSTformer uses the same
# names (its checkpoints hold them under "model_pos" with "module." prefixes, which unwrap_state_dict removes) --------

_RENAME = [
    (r"joints_embed\.(.*)", r"backbone.joints_embed.\1"),
    (r"pos_embed", "backbone.pos_embed"),
    (r"temp_embed", "backbone.temp_embed"),
    (r"blocks_(st|ts)\.(\d+)\.(norm1|attn|norm2|mlp)_s\.(.*)", r"backbone.\1_spatial.\2.\3.\4"),
    (r"blocks_(st|ts)\.(\d+)\.(norm1|attn|norm2|mlp)_t\.(.*)", r"backbone.\1_temporal.\2.\3.\4"),
    (r"ts_attn\.(\d+)\.(.*)", r"backbone.fusion.\1.\2"),
    (r"norm\.(.*)", r"backbone.final_norm.\1"),
    (r"pre_logits\.fc\.(.*)", r"backbone.pre_logits.\1"),
    (r"head\.(.*)", r"backbone.head_proj.\1"),
    (r"pos_embed_token", "pos_embed_token"),
    (r"x_token", "recover.queries"),
    (r"cross_attention\.(.*)", r"recover.cross_attention.\1"),
]

_OFFICIAL_HEADS = 8  # fixed in the official files and in MotionBERT's configs; not recoverable from the weights


def _sizes(state, arch) -> dict:
    """Every DSTformer size the tensors tell (all but the head count; a head that does not output 3D joints fails
    the strict load)."""
    embed = need(state, "joints_embed.weight", arch)
    return dict(dim=embed.shape[0], in_channels=embed.shape[1],
                joints=need(state, "pos_embed", arch).shape[1],
                frames=need(state, "temp_embed", arch).shape[1],
                depth=count_indexed(state, "blocks_st."),
                mlp_hidden=need(state, "blocks_st.0.mlp_s.fc1.weight", arch).shape[0],
                dim_rep=need(state, "pre_logits.fc.weight", arch).shape[0],
                heads=_OFFICIAL_HEADS)


def _build_motionbert(state, layer_index, token_num):
    return ("motionbert", "dstformer", _sizes(state, "motionbert"), None)


def _build_hot_motionbert(state, layer_index, token_num):
    n = need(state, "pos_embed_token", "hot_motionbert").shape[1]
    if token_num is not None and token_num != n:
        raise ValueError(f"hot_motionbert: token_num={token_num} but the checkpoint's pos_embed_token keeps {n} "
                         "frames")
    hg = HourglassConfig(**{**_HOT.__dict__, "keep": n,
                            "prune_at": _HOT.prune_at if layer_index is None else layer_index})
    return ("hot_motionbert", "dstformer", _sizes(state, "hot_motionbert"), hg)


OFFICIAL["motionbert"] = OfficialArch(_RENAME, _build_motionbert)
OFFICIAL["hot_motionbert"] = OfficialArch(_RENAME, _build_hot_motionbert)
