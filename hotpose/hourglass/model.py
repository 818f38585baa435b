"""The one model class: a backbone's embedding, its stages and its head, with the hourglass around them."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.gather import gather_frames
from hotpose.hourglass.init import init_tra
from hotpose.hourglass.pruners import select_frames
from hotpose.hourglass.recoverers import make_recoverer


@dataclass
class PoseOutput:
    """What every model returns.

    pose:     (B, F, J, 3) for seq2seq models, (B, n, J, 3) for seq2frame models (the kept frames).
    keep_idx: (B, n) int64 kept frames, sorted ascending; None for models that keep every frame. With a schedule
              of several pruning steps: the frames kept at the deepest level (the last step).
    levels:   the frames kept at every pruning step, in order ((keep_idx,) for one step; None without an
              hourglass), as input-window indices; pass it back as ``keep_idx`` to repeat every step's selection.
    aux:      (B, F or n, J, 3) a second prediction for the training loss only, from a backbone whose
              :meth:`Backbone.aux_head` reads an earlier stage (Strided / P-STMO: every frame, or every kept frame,
              from the vanilla encoder, beside the centre frame in ``pose``); None for other backbones.
    """

    pose: torch.Tensor
    keep_idx: torch.Tensor | None = None
    aux: torch.Tensor | None = None
    levels: tuple[torch.Tensor, ...] | None = None


class Backbone(nn.Module):
    """What a backbone supplies to :class:`HourglassModel`.

    Tokens flow between the seams as (B, F, J, C): F frames, J per-frame tokens (joints, or hypotheses), C channels.
    Subclasses set ``frames`` (the longest input window), ``joints``, ``in_channels``, ``dim``, ``heads``,
    ``qkv_bias``, ``num_stages`` and implement :meth:`embed`, :meth:`stage` and :meth:`head`. The constructor
    takes ``(config, hourglass)``: a backbone whose layers depend on the frame count after pruning reads it there.
    """

    frames: int
    joints: int
    in_channels: int
    dim: int
    heads: int = 8
    qkv_bias: bool = True
    num_stages: int
    first_prunable_stage: int = 0
    seq2frame: bool = False  # trained on all frames but read out at the centre frame only (MHFormer)
    fixed_frames: bool = False  # takes windows of exactly ``frames`` frames (layers whose width is the window length)
    pool_averages_joints: bool = True  # pool() is a mean over the J tokens (FLOP counters count it as thop does)
    aux_stage: int | None = None  # the stage after which aux_head() reads the tokens; None: no auxiliary output

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, J, C_in) input -> (B, F, J, C) tokens."""
        raise NotImplementedError

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Run stage i on (B, F', J, C) tokens; F' is F before pruning and n after it."""
        raise NotImplementedError

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """The frame features the pruner sees: (B, F, J, C) -> (B, F, C'), by default the mean over J.

        The mean is summed as the official code sums it (``AdaptiveAvgPool1d`` over a contiguous (B, F*C, J) copy):
        another summation order rounds differently by ~5e-7, enough to flip near-tied DPC-kNN choices."""
        B, F, J, C = x.shape
        return nnf.adaptive_avg_pool1d(x.transpose(2, 3).reshape(B, F * C, J), 1).view(B, F, C)

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        """Final normalisation before the head (identity unless the backbone has one)."""
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F', J, C) tokens -> (B, F', J, 3) pose."""
        raise NotImplementedError

    def aux_head(self, x: torch.Tensor) -> torch.Tensor:
        """The auxiliary prediction (:attr:`PoseOutput.aux`) from the tokens after stage ``aux_stage``:
        (B, F', J, C) -> (B, F', J, 3). Only called when ``aux_stage`` is set."""
        raise NotImplementedError

    def temporal_embeddings(self) -> list[nn.Parameter]:
        """The learnt per-frame embeddings, (1, F, ..., C) with frames on axis 1, that ``tra_init`` initialises with
        TRA's queries (:mod:`hotpose.hourglass.init`); none by default."""
        return []

    # The scale of the tokens the temporal embedding is added to, at init: 1 where it joins layer-normalised tokens
    # (MixSTE); a backbone whose raw embeddings start small (DSTformer: std 0.02) sets its own, so that the unit-scale
    # time code of ``tra_init="sinusoidal"`` does not drown the pose in its tokens.
    token_scale: float = 1.0


class FeaturePool(nn.Module):
    """Calls the backbone's :meth:`Backbone.pool`; a module so that FLOP counters see the pooling (the paper's
    counter, thop, counts an average over J tokens as J + 1 operations per output element)."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        self.pool = backbone.pool
        self.averages = backbone.pool_averages_joints

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.pool(tokens)


class HourglassModel(nn.Module):
    """A video pose transformer, optionally with the hourglass (prune -> shorter stages -> recover).

    ``model(x, keep_idx=None)``: x (B, F, J, C_in) normalised 2D keypoints (plus confidence for 3-channel models),
    F <= ``backbone.frames``. Passing ``keep_idx`` (B, n) skips the selection and uses those frames (flip test-time
    augmentation reuses the first pass's indices); with a schedule of several steps pass the output's ``levels``
    (one (B, n_k) tensor per step). Returns :class:`PoseOutput`.

    The hourglass prunes at every step of ``hourglass.steps`` (one step, or a schedule): before the step's stage the
    pruner chooses n_k of the frames still present, from their pooled features; the kept tokens (and, with
    ``pos_token``, a rank embedding of the step) go on. The recoverer restores all F frames from the deepest level
    at the end, or, with ``stepwise_recovery``, one level at a time in reverse (one recoverer per step).
    """

    def __init__(self, backbone: Backbone, hourglass: HourglassConfig | None = None, config: dict | None = None):
        super().__init__()
        self.backbone = backbone
        self.hourglass = hourglass
        self.config = config or {}
        if hourglass is not None:
            steps = hourglass.steps
            if steps[-1][0] >= backbone.num_stages:
                what = "prune_at" if len(steps) == 1 else "the schedule's last stage"
                raise ValueError(f"{what}={steps[-1][0]} but the backbone has {backbone.num_stages} stages")
            if hourglass.prune_at < backbone.first_prunable_stage:
                raise ValueError(f"this backbone can prune from stage {backbone.first_prunable_stage} on, "
                                 f"got prune_at={hourglass.prune_at}")
            if steps[0][1] > backbone.frames:
                raise ValueError(f"cannot keep {steps[0][1]} of {backbone.frames} frames")
            # rank embeddings: the first step's keeps the official name; deeper steps' are extra
            kept = [n for _, n in steps]
            self.pos_embed_token = (nn.Parameter(torch.zeros(1, kept[0], backbone.dim))
                                    if hourglass.pos_token else None)
            self.level_pos_tokens = (nn.ParameterList(nn.Parameter(torch.zeros(1, n, backbone.dim)) for n in kept[1:])
                                     if hourglass.pos_token and len(kept) > 1 else None)
            self.recover = make_recoverer(hourglass.recoverer, backbone.dim, backbone.frames, backbone.heads,
                                          backbone.qkv_bias)
            # stepwise: recover_steps[k] restores the frames of step k from those of step k + 1
            self.recover_steps = (nn.ModuleList(make_recoverer(hourglass.recoverer, backbone.dim, backbone.frames,
                                                               backbone.heads, backbone.qkv_bias)
                                                for _ in kept[1:])
                                  if hourglass.stepwise_recovery and len(kept) > 1 else None)
            self.feature_pool = FeaturePool(backbone)
            init_tra(self, hourglass.tra_init)
        else:
            self.pos_embed_token = None
            self.level_pos_tokens = None
            self.recover = None
            self.recover_steps = None

    @property
    def seq2frame(self) -> bool:
        """True when one window yields one output frame, its centre: the model predicts only the kept frames (the
        centre among them), or the backbone is read out at the centre (MHFormer)."""
        return self.backbone.seq2frame or (self.hourglass is not None and self.hourglass.seq2frame)

    def check_input(self, x: torch.Tensor, keep_idx: torch.Tensor | None = None) -> None:
        """Raise ValueError with a plain message when x or keep_idx cannot be fed to this model."""
        bb = self.backbone
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor of shape (B, F, {bb.joints}, {bb.in_channels}), got {type(x)}")
        if x.ndim != 4:
            raise ValueError(f"expected input of shape (B, F, {bb.joints}, {bb.in_channels}), got {tuple(x.shape)}")
        B, F, J, C = x.shape
        if J != bb.joints:
            raise ValueError(f"expected {bb.joints} joints (Human3.6M order), got {J} (input shape {tuple(x.shape)})")
        if C != bb.in_channels:
            what = "x, y" if bb.in_channels == 2 else "x, y, confidence"
            raise ValueError(f"expected {bb.in_channels} input channels ({what}), got {C} "
                             f"(input shape {tuple(x.shape)})")
        if bb.fixed_frames and F != bb.frames:
            raise ValueError(f"the model takes windows of exactly {bb.frames} frames (some of its layers span the "
                             f"window), got {F}; pad the window to {bb.frames}")
        if F > bb.frames:
            raise ValueError(f"the model takes at most {bb.frames} frames per window, got {F}")
        hg = self.hourglass
        first = hg.steps[0][1] if hg is not None else 0
        if hg is not None and F < first:
            raise ValueError(f"the model keeps {first} frames, so it needs windows of at least {first} frames, "
                             f"got {F}")
        if not torch.isfinite(x).all():
            raise ValueError("input contains NaN or infinite values; interpolate or drop missing keypoints first")
        if keep_idx is not None:
            if hg is None:
                raise ValueError("keep_idx was given but this model does not prune")
            levels = self.as_levels(keep_idx)
            for k, (idx, (_, n)) in enumerate(zip(levels, hg.steps)):
                what = "keep_idx" if len(levels) == 1 else f"keep_idx[{k}]"
                if not isinstance(idx, torch.Tensor) or idx.shape != (B, n) or idx.dtype != torch.int64:
                    got = f"{idx.dtype} {tuple(idx.shape)}" if isinstance(idx, torch.Tensor) else type(idx).__name__
                    raise ValueError(f"{what} must be int64 of shape ({B}, {n}), got {got}")
                if idx.min() < 0 or idx.max() >= F or (idx.diff(dim=1) <= 0).any():
                    raise ValueError(f"{what} must hold unique frame indices in [0, F), sorted ascending")
            for k in range(1, len(levels)):
                inside = torch.searchsorted(levels[k - 1], levels[k]).clamp(max=levels[k - 1].shape[1] - 1)
                if not bool((levels[k - 1].gather(1, inside) == levels[k]).all()):
                    raise ValueError(f"keep_idx[{k}] must be a subset of keep_idx[{k - 1}] (each step keeps frames "
                                     f"the step before it kept)")

    def as_levels(self, keep_idx) -> tuple:
        """``keep_idx`` as given to :meth:`forward` -> one (B, n_k) tensor per pruning step. A single tensor is the
        one step of a one-step model; a model with several steps needs them all (its output's ``levels``)."""
        steps = self.hourglass.steps
        if isinstance(keep_idx, torch.Tensor):
            if len(steps) > 1:
                raise ValueError(f"this model prunes in {len(steps)} steps: pass keep_idx as the output's levels "
                                 f"(one (B, n) tensor per step), not only the deepest step's frames")
            return (keep_idx,)
        levels = tuple(keep_idx)
        if len(levels) != len(steps):
            raise ValueError(f"keep_idx holds {len(levels)} levels but the model prunes in {len(steps)} steps")
        return levels

    def select(self, tokens: torch.Tensor, x: torch.Tensor, keep: int | None = None,
               centre: int | torch.Tensor | None = None) -> torch.Tensor:
        """Run the pruner on the backbone's pooled features: (B, F', J, C) tokens of the frames present, x (B, F',
        J, C_in) their inputs -> (B, n) positions among them to keep (``keep`` frames, default the hourglass's;
        ``centre``: the position that must stay, default the window's centre where the hourglass forces it)."""
        hg = self.hourglass
        if centre is None and hg.centre:
            centre = (x.shape[1] - 1) // 2
        return select_frames(hg.pruner, self.feature_pool(tokens), x, hg.keep if keep is None else keep,
                             centre=centre, k=hg.k)

    def _prune(self, k: int, keep: int, tokens: torch.Tensor, x: torch.Tensor, present: torch.Tensor | None,
               given: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Pruning step ``k``: keep ``keep`` of the frames ``present`` (input-window indices, None: all) ->
        (tokens of the kept frames, with the step's rank embedding; their input-window indices)."""
        if present is None:  # the first step: positions are frame indices
            if given is not None:
                pos = given
            else:  # (the one-step call keeps the two-argument form that benchmarks tap)
                pos = self.select(tokens, x) if keep == self.hourglass.keep else self.select(tokens, x, keep)
            idx = pos
        else:
            if given is not None:
                pos = torch.searchsorted(present, given)
            else:
                centre = None
                if self.hourglass.centre:  # the window's centre, kept by every step before: its place among them
                    centre = (present < (x.shape[1] - 1) // 2).sum(dim=1)
                pos = self.select(tokens, gather_frames(x, present), keep, centre)
            idx = present.gather(1, pos)
        tokens = gather_frames(tokens, pos)  # (B, n, J, C)
        rank = self.pos_embed_token if k == 0 else (self.level_pos_tokens[k - 1] if self.level_pos_tokens is not None
                                                   else None)
        if rank is not None:
            tokens = tokens + rank[:, :, None]
        return tokens, idx

    def forward(self, x: torch.Tensor, keep_idx: torch.Tensor | None = None) -> PoseOutput:
        self.check_input(x, keep_idx)
        bb, hg = self.backbone, self.hourglass
        F = x.shape[1]
        aux = None
        steps = dict((stage, (k, n)) for k, (stage, n) in enumerate(hg.steps)) if hg is not None else {}
        given = self.as_levels(keep_idx) if keep_idx is not None else None
        levels: list[torch.Tensor] = []
        tokens = bb.embed(x)  # (B, F, J, C)
        for i in range(bb.num_stages):
            if i in steps:
                k, n = steps[i]
                tokens, idx = self._prune(k, n, tokens, x, levels[-1] if levels else None,
                                          None if given is None else given[k])
                levels.append(idx)
            tokens = bb.stage(i, tokens)
            if i == bb.aux_stage:
                aux = bb.aux_head(tokens)
        keep_idx = levels[-1] if levels else None
        tokens = bb.norm(tokens)
        if self.recover is not None and not self.recover.on_pose:  # TRA: after the backbone's final norm, as officially
            tokens = self._recover(tokens, levels, F)
        pose = bb.head(tokens)
        if self.recover is not None and self.recover.on_pose:
            pose = self._recover(pose, levels, F)
        return PoseOutput(pose, keep_idx, aux, tuple(levels) if levels else None)

    def _recover(self, x: torch.Tensor, levels: list[torch.Tensor], frames: int) -> torch.Tensor:
        """All ``frames`` frames from the deepest level's: at once, or level by level (``stepwise_recovery``)."""
        if self.recover_steps is not None:
            for k in range(len(levels) - 1, 0, -1):  # level k -> the frames of level k - 1
                x = self.recover_steps[k - 1](x, levels[k], frames, targets=levels[k - 1])
            return self.recover(x, levels[0], frames)
        return self.recover(x, levels[-1], frames)
