"""Training losses of the paper's recipes (SPEC section 4). Poses are (B, F, J, 3) in metres.

* MixSTE / HoT / TPC: ``weighted_mpjpe + 0.5 * temporal_consistency + 2.0 * mpjve``.
* MHFormer: plain MPJPE.
* MotionBERT: MPJPE + 0.5 * N-MPJPE + 20 * velocity error.
For seq2frame TPC models the target is first gathered at the kept frames, so the temporal terms run across
non-adjacent frames, as in the official code.

``bone_length_error`` is an optional extra term (``train.bone_weight``, not in the paper's recipes): the mean
absolute error of the 16 bone lengths. Ground-truth bones keep their length in every frame, so it also pulls the
predicted lengths towards being steady over time.
"""
from __future__ import annotations

import torch

from hotpose.metrics import mpjpe, mpjve, n_mpjpe
from hotpose.skeleton import PARENTS

H36M_JOINT_WEIGHTS = (1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1, 1.5, 1.5, 4, 4, 1.5, 4, 4)


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
