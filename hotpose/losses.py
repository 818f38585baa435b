"""Training losses of the paper's recipes (SPEC section 4). Poses are (B, F, J, 3) in metres.

* MixSTE / HoT / TPC: ``weighted_mpjpe + 0.5 * temporal_consistency + 2.0 * mpjve``.
* MHFormer: plain MPJPE.
* MotionBERT: MPJPE + 0.5 * N-MPJPE + 20 * velocity error.
For seq2frame TPC models the target is first gathered at the kept frames, so the temporal terms run across
non-adjacent frames, as in the official code.
"""
from __future__ import annotations

import torch

from hotpose.metrics import mpjpe, mpjve, n_mpjpe

H36M_JOINT_WEIGHTS = (1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1, 1.5, 1.5, 4, 4, 1.5, 4, 4)


def weighted_mpjpe(pred: torch.Tensor, target: torch.Tensor, weights=H36M_JOINT_WEIGHTS) -> torch.Tensor:
    """Mean over (B, F, J) of w_j * ||pred - target||."""
    w = torch.as_tensor(weights, dtype=pred.dtype, device=pred.device)
    return ((pred - target).norm(dim=-1) * w).mean()


def temporal_consistency(pred: torch.Tensor, weights=H36M_JOINT_WEIGHTS) -> torch.Tensor:
    """Mean over (B, F-1, J, xyz) of w_j * (pred_{t+1} - pred_t)^2 (prediction only)."""
    w = torch.as_tensor(weights, dtype=pred.dtype, device=pred.device)[:, None]
    return (torch.diff(pred, dim=1).square() * w).mean()


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
