"""MotionAGFormer models and official-checkpoint readers.

Settings as the HoT repository builds them (SPEC 2.8; Human3.6M, 243 frames, 16 layers, C=128, 4 heads, 4 temporal
neighbours): HoT w. MotionAGFormer keeps 81 frames before layer 7 (the temporal graph layers 7-15 are sized for 81
frames) and recovers all 243 with TRA after the final norm (as the official file does; SPEC 2.8 says before).
``motionagformer_b_243`` is MotionAGFormer-B as its authors configure it (8 heads, 2 temporal neighbours).
"""
from __future__ import annotations

from hotpose.backbones.motionagformer import MotionAGFormer, MotionAGFormerConfig
from hotpose.hourglass.config import HourglassConfig
from hotpose.official import OFFICIAL, OfficialArch, count_indexed, need
from hotpose.registry import compose, register, register_backbone

register_backbone("motionagformer", MotionAGFormerConfig, MotionAGFormer,
                  tiny=dict(frames=27, dim=32, n_layers=4, dim_rep=64))

_MOTIONAGFORMER = dict(frames=243, dim=128, n_layers=16, heads=4, neighbour_num=4)
_MOTIONAGFORMER_B = dict(_MOTIONAGFORMER, heads=8, neighbour_num=2)
_HOT = HourglassConfig(pruner="tpc", keep=81, prune_at=7, recoverer="tra", pos_token=True)


@register
def motionagformer_243(**kw):
    """MotionAGFormer as the HoT repository builds it: 243 frames, 16 layers, C=128, 4 heads, 4 neighbours."""
    return compose("motionagformer_243", "motionagformer", _MOTIONAGFORMER, None, kw)


@register
def hot_motionagformer_243(**kw):
    """HoT w. MotionAGFormer: TPC keeps 81 of 243 frames before layer 7, TRA recovers all 243."""
    return compose("hot_motionagformer_243", "motionagformer", _MOTIONAGFORMER, _HOT, kw)


@register
def motionagformer_b_243(**kw):
    """MotionAGFormer-B as its authors configure it: 243 frames, 16 layers, C=128, 8 heads, 2 neighbours."""
    return compose("motionagformer_b_243", "motionagformer", _MOTIONAGFORMER_B, None, kw)


# --- official HoT files model/motionagformer/{motionagformer,hot_motionagformer}.py --------------------------------

_RENAME = [
    (r"joints_embed\.(.*)", r"backbone.joints_embed.\1"),
    (r"pos_embed", "backbone.pos_embed"),
    (r"layers\.(.*)", r"backbone.layers.\1"),
    (r"norm\.(.*)", r"backbone.final_norm.\1"),
    (r"rep_logit\.fc\.(.*)", r"backbone.rep_logit.\1"),
    (r"head\.(.*)", r"backbone.head_proj.\1"),
    (r"pos_embed_token", "pos_embed_token"),
    (r"x_token", "recover.queries"),
    (r"cross_attention\.(.*)", r"recover.cross_attention.\1"),
]

# Not recoverable from the weights: the official files take them from Model's signature defaults.
_OFFICIAL_HEADS = 4
_OFFICIAL_NEIGHBOURS = 4
_OFFICIAL_LAYER_INDEX = 7


def _temporal_widths(state, arch) -> list[int]:
    """Frames each layer's temporal GCN sees (its BatchNorm width), layer by layer."""
    n_layers = count_indexed(state, "layers.")
    if n_layers == 0:
        raise ValueError(f"not an official {arch!r} checkpoint: it has no 'layers.0.*' tensors")
    return [need(state, f"layers.{i}.graph_temporal.mixer.batch_norm.weight", arch).shape[0]
            for i in range(n_layers)]


def _sizes(state, arch) -> dict:
    """Every MotionAGFormer size the tensors tell (all but the head count and the temporal neighbour count)."""
    embed = need(state, "joints_embed.weight", arch)
    dim = embed.shape[0]
    hidden = need(state, "layers.0.att_spatial.mlp.fc1.weight", arch).shape[0]
    return dict(dim=dim, in_channels=embed.shape[1],
                joints=need(state, "pos_embed", arch).shape[1],
                frames=_temporal_widths(state, arch)[0],
                n_layers=count_indexed(state, "layers."),
                mlp_ratio=hidden / dim,
                dim_rep=need(state, "rep_logit.fc.weight", arch).shape[0],
                qkv_bias="layers.0.att_spatial.mixer.qkv.bias" in state,
                heads=_OFFICIAL_HEADS, neighbour_num=_OFFICIAL_NEIGHBOURS)


def _build_motionagformer(state, layer_index, token_num):
    return ("motionagformer", "motionagformer", _sizes(state, "motionagformer"), None)


def _build_hot_motionagformer(state, layer_index, token_num):
    arch = "hot_motionagformer"
    n = need(state, "pos_embed_token", arch).shape[1]
    if token_num is not None and token_num != n:
        raise ValueError(f"{arch}: token_num={token_num} but the checkpoint's pos_embed_token keeps {n} frames")
    sizes = _sizes(state, arch)
    widths = _temporal_widths(state, arch)
    # the first layer whose temporal BatchNorm is sized for the kept frames is where pruning happens
    stored = next((i for i, w in enumerate(widths) if w == n), None) if n != sizes["frames"] else None
    prune_at = layer_index if layer_index is not None else (_OFFICIAL_LAYER_INDEX if stored is None else stored)
    if stored is not None and prune_at != stored:
        raise ValueError(f"{arch}: layer_index={layer_index} but the checkpoint's temporal graph layers are sized "
                         f"for {n} kept frames from layer {stored} on")
    hg = HourglassConfig(**{**_HOT.__dict__, "keep": n, "prune_at": prune_at})
    return (arch, "motionagformer", sizes, hg)


OFFICIAL["motionagformer"] = OfficialArch(_RENAME, _build_motionagformer)
OFFICIAL["hot_motionagformer"] = OfficialArch(_RENAME, _build_hot_motionagformer)
