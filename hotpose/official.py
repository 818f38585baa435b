"""Load official HoT checkpoints into our models.

``load_official(arch, checkpoint)`` reads the official parameter names, infers every size it can from the tensors,
builds the matching model under our forward contract, and loads the weights strictly: a missing, unexpected or
mis-shaped tensor stops the load with a message that lists them.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from os import PathLike

import torch
from torch import nn

from hotpose.fileio import read_torch_file
from hotpose.layers.kernels import use_kernels
from hotpose.registry import compose

WRAPPER_KEYS = ("model_pos", "state_dict", "model", "model_state_dict", "net", "module")


@dataclass
class OfficialArch:
    """How to read one official model file's checkpoints.

    rename: (official-name regex, our name) pairs, tried in order; the first match wins.
    build:  (state dict in official names, layer_index, token_num) -> (model name, backbone name, backbone sizes
            inferred from the tensors, HourglassConfig or None): the arguments of :func:`hotpose.registry.compose`.
    """

    rename: list[tuple[str, str]]
    build: Callable[[Mapping[str, torch.Tensor], int | None, int | None], tuple]


OFFICIAL: dict[str, OfficialArch] = {}


def unwrap_state_dict(checkpoint) -> dict[str, torch.Tensor]:
    """Find the tensors in a checkpoint: a path, a state dict, or a dict holding one under a usual key.
    Strips DataParallel's ``module.`` prefixes."""
    if isinstance(checkpoint, (str, PathLike)):
        checkpoint = read_torch_file(checkpoint, "official checkpoint")
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
                  exact: bool = True, **settings) -> nn.Module:
    """Build the model of the official file ``arch`` and load ``checkpoint`` into it (eval mode).

    arch:        the official model file's name, e.g. ``mixste``, ``hot_mixste``, ``tpc_mixste``
                 (``hotpose.official.OFFICIAL`` lists them all).
    checkpoint:  a path, or an already-loaded state dict (wrappers and ``module.`` prefixes are accepted).
    layer_index: the stage before which frames are pruned (not stored in the weights; defaults to the paper's).
    token_num:   the number of kept frames, where the weights do not tell it (TPC models).
    exact:       compute as the official code does (explicit attention, addmm linear layers), so that outputs, and
                 the frames DPC-kNN selects from near-tied densities, are bit-identical to the official code's on CPU
                 float32. ``False`` uses the fast kernels: about 20% faster on CPU, outputs within 1e-4 for the same
                 kept frames, but a near tie in the clustering may then go the other way. Switch later with
                 :func:`hotpose.layers.use_kernels`.
    settings:    values the tensors cannot tell, passed to the model config, e.g. ``heads=8, neighbour_num=2`` for a
                 MotionAGFormer-B checkpoint (the official HoT file builds 4 heads and 4 neighbours).
    """
    if arch not in OFFICIAL:
        raise KeyError(f"unknown official architecture {arch!r}; known: {', '.join(sorted(OFFICIAL))}")
    spec = OFFICIAL[arch]
    state = unwrap_state_dict(checkpoint)
    name, backbone, sizes, hourglass = spec.build(state, layer_index, token_num)
    if hourglass is not None:  # the paper's init (the weights overwrite it; no architectural change either way)
        hourglass = replace(hourglass, tra_init="official")
    model = compose(name, backbone, sizes, hourglass, settings)
    renamed, unmatched = rename_keys(state, spec.rename)
    load_strict(model, renamed, unmatched, arch)
    use_kernels(model, "exact" if exact else "fast")
    return model.eval()


def need(state: Mapping[str, torch.Tensor], key: str, arch: str) -> torch.Tensor:
    if key not in state:
        raise ValueError(f"not an official {arch!r} checkpoint: it has no {key!r} "
                         f"(first keys: {', '.join(list(state)[:6])})")
    return state[key]


def count_indexed(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    ids = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(ids) + 1 if ids else 0


def default_pruning(frames: int, token_num: int | None, layer_index: int | None, arch: str,
                    paper: tuple[int, int], paper_frames: int = 243) -> tuple[int, int]:
    """(token_num, layer_index) for a TPC checkpoint, whose weights do not store them: the user's values, else the
    paper's ``paper`` = (token_num, layer_index), which hold for windows of ``paper_frames`` frames."""
    if token_num is None:
        if frames != paper_frames:
            raise ValueError(f"{arch}: the kept-frame count is not stored in the weights; pass token_num= "
                             f"(the paper keeps {paper[0]} of {paper_frames} frames)")
        token_num = paper[0]
    return token_num, paper[1] if layer_index is None else layer_index

