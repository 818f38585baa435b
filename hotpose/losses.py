"""Training losses of the paper's recipes (SPEC section 4). Poses are (B, F, J, 3) in metres.

* MixSTE / HoT / TPC: ``weighted_mpjpe + 0.5 * temporal_consistency + 2.0 * mpjve``.
* MHFormer: plain MPJPE.
* MotionBERT: MPJPE + 0.5 * N-MPJPE + 20 * velocity error.
For seq2frame TPC models the target is first gathered at the kept frames, so the temporal terms run across
non-adjacent frames, as in the official code.

Strided Transformer / P-STMO add the same loss on their auxiliary full-sequence output (``PoseOutput.aux``,
weighted by ``train.aux_weight``, 1 in their recipes) to the loss on the centre frame; :func:`output_targets`
picks the target frames each prediction is scored on.

``bone_length_error`` is an optional extra term (``train.bone_weight``, not in the paper's recipes): the mean
absolute error of the 16 bone lengths. Ground-truth bones keep their length in every frame, so it also pulls the
predicted lengths towards being steady over time.
"""
from __future__ import annotations

import torch

from hotpose.hourglass.gather import gather_frames
from hotpose.metrics import mpjpe, mpjve, n_mpjpe
from hotpose.skeleton import PARENTS

H36M_JOINT_WEIGHTS = (1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1, 1.5, 1.5, 4, 4, 1.5, 4, 4)


def output_targets(target: torch.Tensor, frames_out: int, keep_idx: torch.Tensor | None) -> torch.Tensor:
    """The targets of a prediction of ``frames_out`` frames from a window whose targets are (B, F, J, 3): all F
    (seq2seq), the kept frames (B, n, J, 3) when ``keep_idx`` (B, n) has that many (seq2frame TPC), else, for a
    single frame, the centre (F - 1) // 2 (models that predict the centre only: Strided, P-STMO)."""
    F = target.shape[1]
    if frames_out == F:
        return target
    if keep_idx is not None and keep_idx.shape[1] == frames_out:
        return gather_frames(target, keep_idx)
    if frames_out == 1:
        c = (F - 1) // 2
        return target[:, c:c + 1]
    raise ValueError(f"a prediction of {frames_out} frames from a window of {F} frames matches neither every frame, "
                     f"the kept frames ({None if keep_idx is None else keep_idx.shape[1]}) nor the centre frame")


def weighted_mpjpe(pred: torch.Tensor, target: torch.Tensor, weights=H36M_JOINT_WEIGHTS) -> torch.Tensor:
    """Mean over (B, F, J) of w_j * ||pred - target||."""
    w = torch.as_tensor(weights, dtype=pred.dtype, device=pred.device)
    return ((pred - target).norm(dim=-1) * w).mean()


def temporal_consistency(pred: torch.Tensor, weights=H36M_JOINT_WEIGHTS) -> torch.Tensor:
    """Mean over (B, F-1, J, xyz) of w_j * (pred_{t+1} - pred_t)^2 (prediction only)."""
    w = torch.as_tensor(weights, dtype=pred.dtype, device=pred.device)[:, None]
    return (torch.diff(pred, dim=1).square() * w).mean()


def bone_length_error(pred: torch.Tensor, target: torch.Tensor, parents=PARENTS) -> torch.Tensor:
    """Mean over (B, F, bones) of | ||pred bone|| - ||target bone|| |; a bone joins joint j to parents[j]."""
    child = [j for j, p in enumerate(parents) if p >= 0]
    parent = [parents[j] for j in child]

    def lengths(x):
        return (x[..., child, :] - x[..., parent, :]).norm(dim=-1)

    return (lengths(pred) - lengths(target)).abs().mean()


def mixste_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The MixSTE / HoT recipe: WMPJPE + 0.5 TC + 2.0 MPJVE."""
    loss = weighted_mpjpe(pred, target)
    if pred.shape[1] > 1:
        loss = loss + 0.5 * temporal_consistency(pred) + 2.0 * mpjve(pred, target)
    return loss


def motionbert_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The MotionBERT recipe: MPJPE + 0.5 N-MPJPE + 20 velocity error."""
    loss = mpjpe(pred, target) + 0.5 * n_mpjpe(pred, target)
    if pred.shape[1] > 1:
        loss = loss + 20.0 * mpjve(pred, target)
    return loss


LOSSES = {"mixste": mixste_loss, "mpjpe": mpjpe, "motionbert": motionbert_loss}  # (B, F, J, 3) x 2 -> scalar


def get_loss(name: str):
    """The recipe loss called ``name`` (ValueError listing the known ones otherwise)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}")
    return LOSSES[name]
