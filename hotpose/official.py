"""Load official HoT checkpoints into our models.

``load_official(arch, checkpoint)`` reads the official parameter names, infers every size it can from the tensors,
builds the matching model under our forward contract, and loads the weights strictly: a missing, unexpected or
mis-shaped tensor stops the load with a message that lists them.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike

import torch
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.layers.attention import use_attention
from hotpose.registry import compose

WRAPPER_KEYS = ("model_pos", "state_dict", "model", "model_state_dict", "net", "module")


@dataclass
class OfficialArch:
    """How to read one official model file's checkpoints.

    rename: (official-name regex, our name) pairs, tried in order; the first match wins.
    build:  (state dict in official names, layer_index, token_num) -> our model, sizes inferred.
    """

    rename: list[tuple[str, str]]
    build: Callable[[Mapping[str, torch.Tensor], int | None, int | None], nn.Module]


OFFICIAL: dict[str, OfficialArch] = {}


def unwrap_state_dict(checkpoint) -> dict[str, torch.Tensor]:
    """Find the tensors in a checkpoint: a path, a state dict, or a dict holding one under a usual key.
    Strips DataParallel's ``module.`` prefixes."""
    if isinstance(checkpoint, (str, PathLike)):
        try:
            checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise FileNotFoundError(f"checkpoint not found: {checkpoint}") from None
        except Exception as e:  # unreadable or not a torch file
            raise ValueError(f"cannot read checkpoint {checkpoint}: {e}") from None
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"expected a state dict or a path, got {type(checkpoint).__name__}")
    for _ in range(3):
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            break
        inner = next((checkpoint[k] for k in WRAPPER_KEYS if isinstance(checkpoint.get(k), Mapping)), None)
        if inner is None:
            raise ValueError("no state dict found in the checkpoint (looked for tensors at the top level and under "
                             f"{', '.join(WRAPPER_KEYS)}; found keys {sorted(checkpoint)[:10]})")
        checkpoint = inner
    return {re.sub(r"^(module\.)+", "", k): v for k, v in checkpoint.items()}


def rename_keys(state: Mapping[str, torch.Tensor], rename: list[tuple[str, str]]) -> tuple[dict, list[str]]:
    """Map official names to ours. Returns (renamed state dict, official names that matched no rule)."""
    out, unmatched = {}, []
    for key, value in state.items():
        for pattern, repl in rename:
            new, hits = re.subn(f"^{pattern}$", repl, key)
            if hits:
                out[new] = value
                break
        else:
            unmatched.append(key)
    return out, unmatched


def load_strict(model: nn.Module, state: Mapping[str, torch.Tensor], unmatched: list[str], arch: str) -> None:
    """Copy ``state`` into ``model``, refusing any missing, unexpected or mis-shaped tensor."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(unmatched + [k for k in state if k not in own])
    shapes = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
              for k, v in state.items() if k in own and own[k].shape != v.shape]
    if missing or unexpected or shapes:
        lines = [f"the checkpoint does not match the official {arch!r} model:"]
        if missing:
            lines.append(f"  missing ({len(missing)}): {', '.join(missing)}")
        if unexpected:
            lines.append(f"  unexpected ({len(unexpected)}): {', '.join(unexpected)}")
        if shapes:
            lines.append(f"  wrong shape ({len(shapes)}): {'; '.join(shapes)}")
        raise ValueError("\n".join(lines))
    model.load_state_dict(state, strict=True)


def load_official(arch: str, checkpoint, *, layer_index: int | None = None, token_num: int | None = None,
                  exact: bool = True) -> nn.Module:
    """Build the model of the official file ``arch`` and load ``checkpoint`` into it (eval mode).

    arch:        the official model file's name: ``mixste``, ``hot_mixste``, ``tpc_mixste``.
    checkpoint:  a path, or an already-loaded state dict (wrappers and ``module.`` prefixes are accepted).
    layer_index: the stage before which frames are pruned (not stored in the weights; defaults to the paper's).
    token_num:   the number of kept frames, where the weights do not tell it (TPC models).
    exact:       compute attention in the official explicit form, so that outputs, and the frames DPC-kNN selects
                 from near-tied densities, are bit-identical to the official code's on CPU float32. ``False`` uses
                 fused attention kernels: faster (about 15% on CPU), outputs within 1e-4 for the same kept frames,
                 but a near tie in the clustering may then go the other way. Switch later with
                 :func:`hotpose.layers.use_attention`.
    """
    if arch not in OFFICIAL:
        raise KeyError(f"unknown official architecture {arch!r}; known: {', '.join(sorted(OFFICIAL))}")
    spec = OFFICIAL[arch]
    state = unwrap_state_dict(checkpoint)
    model = spec.build(state, layer_index, token_num)
    renamed, unmatched = rename_keys(state, spec.rename)
    load_strict(model, renamed, unmatched, arch)
    use_attention(model, "explicit" if exact else "fused")
    return model.eval()


def _need(state: Mapping[str, torch.Tensor], key: str, arch: str) -> torch.Tensor:
    if key not in state:
        raise ValueError(f"not an official {arch!r} checkpoint: it has no {key!r} "
                         f"(first keys: {', '.join(list(state)[:6])})")
    return state[key]


def _count(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    ids = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(ids) + 1 if ids else 0


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
    embed = _need(state, "Spatial_patch_to_embedding.weight", arch)
    return dict(dim=embed.shape[0], in_channels=embed.shape[1],
                joints=_need(state, "Spatial_pos_embed", arch).shape[1],
                frames=_need(state, "Temporal_pos_embed", arch).shape[1],
                depth=_count(state, "STEblocks."),
                mlp_hidden=_need(state, "STEblocks.0.mlp.fc1.weight", arch).shape[0])


def _default_tpc(frames: int, token_num, layer_index, arch: str, paper: tuple[int, int]) -> tuple[int, int]:
    if token_num is None:
        if frames != 243:
            raise ValueError(f"{arch}: the kept-frame count is not stored in the weights; pass token_num= "
                             f"(the paper uses {paper[0]} at 243 frames)")
        token_num = paper[0]
    return token_num, paper[1] if layer_index is None else layer_index


def _build_mixste(state, layer_index, token_num):
    return compose("mixste", "mixste", _mixste_sizes(state, "mixste"), None, {})


def _build_hot_mixste(state, layer_index, token_num):
    n = _need(state, "pos_embed_token", "hot_mixste").shape[1]
    if token_num is not None and token_num != n:
        raise ValueError(f"hot_mixste: token_num={token_num} but the checkpoint's pos_embed_token keeps {n} frames")
    hg = HourglassConfig(pruner="tpc", keep=n, prune_at=3 if layer_index is None else layer_index, recoverer="tra")
    return compose("hot_mixste", "mixste", _mixste_sizes(state, "hot_mixste"), hg, {})


def _build_tpc_mixste(state, layer_index, token_num):
    sizes = _mixste_sizes(state, "tpc_mixste")
    n, at = _default_tpc(sizes["frames"], token_num, layer_index, "tpc_mixste", (61, 7))
    hg = HourglassConfig(pruner="tpc", keep=n, prune_at=at, recoverer="none", centre=True, pos_token=False)
    return compose("tpc_mixste", "mixste", sizes, hg, {})


OFFICIAL["mixste"] = OfficialArch(_MIXSTE_RENAME, _build_mixste)
OFFICIAL["hot_mixste"] = OfficialArch(_MIXSTE_RENAME, _build_hot_mixste)
OFFICIAL["tpc_mixste"] = OfficialArch(_MIXSTE_RENAME, _build_tpc_mixste)
