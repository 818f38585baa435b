"""Named models. Each factory fills a config and calls :func:`hotpose.registry.compose`.

Paper settings (Human3.6M, 243 frames): HoT w. MixSTE keeps 81 frames before stage 3 and recovers with TRA;
TPC w. MixSTE (seq2frame) keeps 61 frames before stage 7, centre forced, no recovery.
"""
from __future__ import annotations

from hotpose.backbones.mixste import MixSTE, MixSTEConfig
from hotpose.hourglass.config import HourglassConfig
from hotpose.official import OFFICIAL, OfficialArch, count_indexed, default_pruning, need
from hotpose.registry import compose, register, register_backbone

register_backbone("mixste", MixSTEConfig, MixSTE, tiny=dict(frames=27, dim=32, mlp_hidden=64, depth=4))

_MIXSTE = dict(frames=243, dim=512, mlp_hidden=1024, depth=8)
_HOT_MIXSTE = HourglassConfig(pruner="tpc", keep=81, prune_at=3, recoverer="tra", pos_token=True)
_S2F_MIXSTE = HourglassConfig(pruner="tpc", keep=81, prune_at=3, recoverer="none", centre=True, pos_token=False)


def _hot(**changes) -> HourglassConfig:
    return HourglassConfig(**{**_HOT_MIXSTE.__dict__, **changes})


@register
def mixste_243(**kw):
    """MixSTE, 243 frames, C=512, 8 stages (seq2seq)."""
    return compose("mixste_243", "mixste", _MIXSTE, None, kw)


@register
def hot_mixste_243(**kw):
    """HoT w. MixSTE: TPC keeps 81 of 243 frames before stage 3, TRA recovers all 243."""
    return compose("hot_mixste_243", "mixste", _MIXSTE, _HOT_MIXSTE, kw)


@register
def tpc_mixste_243(**kw):
    """TPC w. MixSTE (seq2frame): 61 frames kept before stage 7, centre forced, predicts the kept frames."""
    return compose("tpc_mixste_243", "mixste", _MIXSTE,
                   HourglassConfig(pruner="tpc", keep=61, prune_at=7, recoverer="none", centre=True, pos_token=False),
                   kw)


@register
def tpc_mixste_243_81(**kw):
    """Seq2frame TPC w. MixSTE of the paper's ablation: 81 frames kept before stage 3 (161.73 G)."""
    return compose("tpc_mixste_243_81", "mixste", _MIXSTE, _S2F_MIXSTE, kw)


def _variant(name: str, doc: str, hourglass: HourglassConfig):
    def factory(**kw):
        return compose(name, "mixste", _MIXSTE, hourglass, kw)

    factory.__name__, factory.__qualname__, factory.__doc__ = name, name, doc
    return register(factory)


# Pruning ablation (seq2seq, TRA recovery) and recovery ablation (TPC pruning; interpolation has no parameters,
# so these carry no rank embedding either, as in the paper's 33.78 M rows).
for _pruner in ("uniform", "attention", "motion"):
    _variant(f"hot_mixste_243_{_pruner}", f"HoT w. MixSTE with {_pruner} pruning instead of TPC.",
             _hot(pruner=_pruner))
    _variant(f"tpc_mixste_243_81_{_pruner}", f"Seq2frame MixSTE ablation (81 kept before stage 3) with {_pruner} "
             "pruning.", HourglassConfig(**{**_S2F_MIXSTE.__dict__, "pruner": _pruner}))
for _rec in ("nearest", "linear"):
    _variant(f"hot_mixste_243_{_rec}", f"HoT w. MixSTE recovering with {_rec} interpolation instead of TRA.",
             _hot(recoverer=_rec, pos_token=False))


# Hierarchical hourglass (not in the paper): prune in several steps, 243 -> 121 before stage 2 -> 61 before stage 4
# -> 27 before stage 6, and recover all 243 frames from the deepest level with one TRA (or level by level).
_HIERARCHY = [[2, 121], [4, 61], [6, 27]]


@register
def hhot_mixste_243(**kw):
    """Hierarchical HoT w. MixSTE: TPC keeps 121 of 243 frames before stage 2, 61 of those before stage 4 and 27
    before stage 6; TRA recovers all 243 from the 27."""
    return compose("hhot_mixste_243", "mixste", _MIXSTE, _hot(schedule=_HIERARCHY), kw)


@register
def hhot_mixste_243_stepwise(**kw):
    """Hierarchical HoT w. MixSTE recovering level by level: 27 -> 61 -> 121 -> 243 frames, one TRA per step."""
    return compose("hhot_mixste_243_stepwise", "mixste", _MIXSTE, _hot(schedule=_HIERARCHY, stepwise_recovery=True),
                   kw)


# --- MixSTE family (model/mixste/{mixste,hot_mixste,tpc_mixste}.py) ---------------------------------------------

_MIXSTE_RENAME = [
    (r"Spatial_patch_to_embedding\.(.*)", r"backbone.joint_embed.\1"),
    (r"Spatial_pos_embed", "backbone.spatial_pos"),
    (r"Temporal_pos_embed", "backbone.temporal_pos"),
    (r"STEblocks\.(.*)", r"backbone.spatial_blocks.\1"),
    (r"TTEblocks\.(.*)", r"backbone.temporal_blocks.\1"),
    (r"Spatial_norm\.(.*)", r"backbone.spatial_norm.\1"),
    (r"Temporal_norm\.(.*)", r"backbone.temporal_norm.\1"),
    (r"head\.0\.(.*)", r"backbone.head_norm.\1"),
    (r"head\.1\.(.*)", r"backbone.head_proj.\1"),
    (r"pos_embed_token", "pos_embed_token"),
    (r"x_token", "recover.queries"),
    (r"cross_attention\.(.*)", r"recover.cross_attention.\1"),
]


def _mixste_sizes(state, arch):
    embed = need(state, "Spatial_patch_to_embedding.weight", arch)
    return dict(dim=embed.shape[0], in_channels=embed.shape[1],
                joints=need(state, "Spatial_pos_embed", arch).shape[1],
                frames=need(state, "Temporal_pos_embed", arch).shape[1],
                depth=count_indexed(state, "STEblocks."),
                mlp_hidden=need(state, "STEblocks.0.mlp.fc1.weight", arch).shape[0])


def _build_mixste(state, layer_index, token_num):
    return ("mixste", "mixste", _mixste_sizes(state, "mixste"), None)


def _build_hot_mixste(state, layer_index, token_num):
    n = need(state, "pos_embed_token", "hot_mixste").shape[1]
    if token_num is not None and token_num != n:
        raise ValueError(f"hot_mixste: token_num={token_num} but the checkpoint's pos_embed_token keeps {n} frames")
    hg = HourglassConfig(pruner="tpc", keep=n, prune_at=3 if layer_index is None else layer_index, recoverer="tra")
    return ("hot_mixste", "mixste", _mixste_sizes(state, "hot_mixste"), hg)


def _build_tpc_mixste(state, layer_index, token_num):
    sizes = _mixste_sizes(state, "tpc_mixste")
    n, at = default_pruning(sizes["frames"], token_num, layer_index, "tpc_mixste", (61, 7))
    hg = HourglassConfig(pruner="tpc", keep=n, prune_at=at, recoverer="none", centre=True, pos_token=False)
    return ("tpc_mixste", "mixste", sizes, hg)


OFFICIAL["mixste"] = OfficialArch(_MIXSTE_RENAME, _build_mixste)
OFFICIAL["hot_mixste"] = OfficialArch(_MIXSTE_RENAME, _build_hot_mixste)
OFFICIAL["tpc_mixste"] = OfficialArch(_MIXSTE_RENAME, _build_tpc_mixste)
