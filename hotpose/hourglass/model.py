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
    keep_idx: (B, n) int64 kept frames, sorted ascending; None for models that keep every frame.
    aux:      (B, F or n, J, 3) a second prediction for the training loss only, from a backbone whose
              :meth:`Backbone.aux_head` reads an earlier stage (Strided / P-STMO: every frame, or every kept frame,
              from the vanilla encoder, beside the centre frame in ``pose``); None for other backbones.
    """

    pose: torch.Tensor
    keep_idx: torch.Tensor | None = None
    aux: torch.Tensor | None = None


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
    augmentation reuses the first pass's indices). Returns :class:`PoseOutput`.
    """

    def __init__(self, backbone: Backbone, hourglass: HourglassConfig | None = None, config: dict | None = None):
        super().__init__()
        self.backbone = backbone
        self.hourglass = hourglass
        self.config = config or {}
        if hourglass is not None:
            if hourglass.prune_at >= backbone.num_stages:
                raise ValueError(f"prune_at={hourglass.prune_at} but the backbone has {backbone.num_stages} stages")
            if hourglass.prune_at < backbone.first_prunable_stage:
                raise ValueError(f"this backbone can prune from stage {backbone.first_prunable_stage} on, "
                                 f"got prune_at={hourglass.prune_at}")
            if hourglass.keep > backbone.frames:
                raise ValueError(f"cannot keep {hourglass.keep} of {backbone.frames} frames")
            self.pos_embed_token = (nn.Parameter(torch.zeros(1, hourglass.keep, backbone.dim))
                                    if hourglass.pos_token else None)
            self.recover = make_recoverer(hourglass.recoverer, backbone.dim, backbone.frames, backbone.heads,
                                          backbone.qkv_bias)
            self.feature_pool = FeaturePool(backbone)
            init_tra(self, hourglass.tra_init)
        else:
            self.pos_embed_token = None
            self.recover = None

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
        if hg is not None and F < hg.keep:
            raise ValueError(f"the model keeps {hg.keep} frames, so it needs windows of at least {hg.keep} frames, "
                             f"got {F}")
        if not torch.isfinite(x).all():
            raise ValueError("input contains NaN or infinite values; interpolate or drop missing keypoints first")
        if keep_idx is not None:
            if hg is None:
                raise ValueError("keep_idx was given but this model does not prune")
            if keep_idx.shape != (B, hg.keep) or keep_idx.dtype != torch.int64:
                raise ValueError(f"keep_idx must be int64 of shape ({B}, {hg.keep}), got {keep_idx.dtype} "
                                 f"{tuple(keep_idx.shape)}")
            if keep_idx.min() < 0 or keep_idx.max() >= F or (keep_idx.diff(dim=1) <= 0).any():
                raise ValueError("keep_idx must hold unique frame indices in [0, F), sorted ascending")

    def select(self, tokens: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Run the pruner on the backbone's pooled features: (B, F, J, C) tokens -> (B, n) kept frames."""
        hg = self.hourglass
        centre = (x.shape[1] - 1) // 2 if hg.centre else None
        return select_frames(hg.pruner, self.feature_pool(tokens), x, hg.keep, centre=centre, k=hg.k)

    def forward(self, x: torch.Tensor, keep_idx: torch.Tensor | None = None) -> PoseOutput:
        self.check_input(x, keep_idx)
        bb, hg = self.backbone, self.hourglass
        F = x.shape[1]
        aux = None
        tokens = bb.embed(x)  # (B, F, J, C)
        for i in range(bb.num_stages):
            if hg is not None and i == hg.prune_at:
                if keep_idx is None:
                    keep_idx = self.select(tokens, x)
                tokens = gather_frames(tokens, keep_idx)  # (B, n, J, C)
                if self.pos_embed_token is not None:
                    tokens = tokens + self.pos_embed_token[:, :, None]
            tokens = bb.stage(i, tokens)
            if i == bb.aux_stage:
                aux = bb.aux_head(tokens)
        recover = self.recover
        tokens = bb.norm(tokens)
        if recover is not None and not recover.on_pose:  # TRA: after the backbone's final norm, in every official file
            tokens = recover(tokens, keep_idx, F)
        pose = bb.head(tokens)
        if recover is not None and recover.on_pose:
            pose = recover(pose, keep_idx, F)
        return PoseOutput(pose, keep_idx, aux)
