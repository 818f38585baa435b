"""How TRA and the embeddings it addresses start: ``HourglassConfig.tra_init``.

* ``"official"``: as in the paper's code. TRA's queries (1, F, C) and the rank embedding of the kept tokens
  (``pos_token``, (1, n, C)) start at zero; the backbone's temporal embedding keeps the backbone's own init (zero for
  MixSTE and MHFormer, truncated normal std 0.02 for DSTformer; MotionAGFormer has none). At that start every output
  frame reads the same mixture of the kept tokens: the model predicts one pose per window until training drifts off
  that symmetric start, which takes about 1,400 steps on the synthetic task of ``benchmarks/tra_plateau.py``
  (docs/tra_plateau.md).
* ``"sinusoidal"`` (the default): TRA's query of frame t and the backbone's temporal embedding of frame t both
  start at the same fixed code of t, :func:`sinusoid`. Every output frame then starts distinct and the queries and
  keys share one code of time. The queries (added to the backbone's normalised final tokens) get the code at unit
  scale; the temporal embedding gets it times the backbone's ``token_scale``, the scale of the tokens it is added to
  (DSTformer: 0.02, its embeddings' init std; at unit scale the code drowned the pose in its tokens and HoT w.
  MotionBERT stayed on the plateau; 1 elsewhere). The rank embedding of the kept tokens starts at zero, as
  officially: starting it at the code of the frames evenly spread kept tokens would hold, or at the code of the
  rank, was no better on MixSTE and worse on MotionAGFormer (docs/tra_plateau.md). Deterministic: it draws nothing
  from the random generator.

Only models that recover with TRA are touched: with another recoverer (or none) every setting builds the same model.
Stored configs without the field (checkpoints written before it existed) rebuild with ``"official"``
(:data:`LEGACY`); :func:`hotpose.official.load_official` always builds with it (the weights overwrite any init).
"""
from __future__ import annotations

import math

import torch
from torch import nn

TRA_INITS = ("official", "sinusoidal")
DEFAULT = "sinusoidal"  # what HourglassConfig and the registry build
LEGACY = "official"  # what a stored hourglass config without ``tra_init`` was trained with


def sinusoid(positions: torch.Tensor | int, dim: int) -> torch.Tensor:
    """The fixed sinusoidal code of ``positions`` (a count F for 0 .. F-1, or a tensor of frame indices), (..., dim):
    channel 2i = sin(t / 10000^(2i / dim)), channel 2i + 1 = cos(t / 10000^(2i / dim)) (Vaswani et al.), entries in
    [-1, 1]."""
    t = torch.arange(positions) if isinstance(positions, int) else positions
    t = t.to(torch.float64)[..., None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
    code = torch.zeros(*t.shape[:-1], dim, dtype=torch.float64)
    code[..., 0::2] = torch.sin(t * freq)
    code[..., 1::2] = torch.cos(t * freq[: dim // 2])
    return code.float()


def spread_frames(frames: int, keep: int) -> torch.Tensor:
    """(keep,) the frame the r-th of ``keep`` evenly spread kept frames holds: floor((r + 0.5) * frames / keep)."""
    return ((torch.arange(keep, dtype=torch.float64) + 0.5) * frames / keep).floor().long()


@torch.no_grad()
def init_tra(model: nn.Module, how: str) -> None:
    """Initialise ``model``'s TRA queries, rank embedding and the backbone's temporal embeddings as ``how`` says
    (see the module's docstring). Called by :class:`~hotpose.hourglass.model.HourglassModel` at construction."""
    if how not in TRA_INITS:
        raise ValueError(f"unknown tra_init {how!r}; expected one of {', '.join(TRA_INITS)}")
    hg = model.hourglass
    if how == "official" or hg is None or hg.recoverer != "tra":
        return
    bb = model.backbone
    F, C = bb.frames, bb.dim
    code = sinusoid(F, C)  # (F, C)
    for tra in [model.recover, *(model.recover_steps or [])]:  # every level's TRA (stepwise recovery)
        tra.queries.copy_(code[None])  # added to the backbone's final (normalised) tokens: unit scale
    for emb in bb.temporal_embeddings():  # (1, F, ..., C), frames on axis 1
        emb.copy_(bb.token_scale * code.view(1, F, *[1] * (emb.ndim - 3), C).expand_as(emb))
