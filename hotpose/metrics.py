"""Pose error metrics. Poses are (..., J, 3) tensors or arrays in consistent units (metres unless stated).

Protocol #1 (P1, MPJPE): mean Euclidean joint error; the caller makes both poses root-relative.
Protocol #2 (P2, P-MPJPE): MPJPE after a per-frame similarity Procrustes alignment (scale, proper rotation,
translation), every frame aligned on its own.
MPI-INF-3DHP: PCK (share of joint errors below 150 mm) and AUC (mean PCK over thresholds 0, 5, ..., 150 mm).
Motion (:func:`motion_sums`): how much a sequence prediction moves from frame to frame against its target.
"""
from __future__ import annotations

import numpy as np
import torch

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = tuple(float(t) for t in np.arange(0.0, 151.0, 5.0))  # 31 thresholds


def _tensor(x, dtype=None) -> torch.Tensor:
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return x.to(dtype) if dtype is not None else x


def joint_errors(pred, target) -> torch.Tensor:
    """Per-joint Euclidean errors. (..., J, 3) -> (..., J)."""
    return (_tensor(pred) - _tensor(target)).norm(dim=-1)


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Protocol #1: mean per-joint position error over all leading axes and joints. (..., J, 3) -> scalar."""
    return (pred - target).norm(dim=-1).mean()


def n_mpjpe(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-normalised MPJPE: each frame of ``pred`` is scaled by the least-squares factor
    <pred, target> / <pred, pred> over its joints before MPJPE. (..., J, 3) -> scalar."""
    scale = (pred * target).sum(dim=(-2, -1), keepdim=True) / \
        (pred * pred).sum(dim=(-2, -1), keepdim=True).clamp_min(eps)
    return mpjpe(scale * pred, target)


def mpjve(pred: torch.Tensor, target: torch.Tensor, axis: int = -3) -> torch.Tensor:
    """Mean per-joint velocity error: MPJPE of first differences along the frame axis (default: (..., F, J, 3)),
    in position units per frame."""
    return mpjpe(torch.diff(pred, dim=axis), torch.diff(target, dim=axis))


def motion_sums(pred: torch.Tensor, target: torch.Tensor, pairs: torch.Tensor | None = None) -> torch.Tensor:
    """(B, F, J, 3) x 2 -> (2,) float64: the summed mean-over-joints displacement between consecutive frames, of
    the prediction and of the target, over the (B, F - 1) frame pairs where ``pairs`` is True (None: all). Their
    ratio is the prediction's motion: 0 when it gives one pose to every frame, 1 when it moves as much as the
    target."""
    steps = [x.double().diff(dim=1).norm(dim=-1).mean(-1) for x in (pred, target)]  # (B, F - 1) each
    w = torch.ones_like(steps[0]) if pairs is None else pairs.double()
    return torch.stack([(s * w).sum() for s in steps])


def procrustes_align(pred, target, eps: float = 1e-12) -> torch.Tensor:
    """Align each pose of ``pred`` to ``target`` with the similarity transform (uniform scale, proper rotation,
    translation) minimising the squared error. (..., J, 3) -> (..., J, 3) float64 tensor on pred's device.

    Kabsch/Umeyama: with centred poses P, T (J, 3), H = P^T T = U S V^T, R = V D U^T where D = diag(1, 1,
    sign det(V U^T)) forbids reflections, scale = trace(S D) / |P|^2, aligned = scale P R^T + mean(T).
    A degenerate prediction (all joints at one point) is mapped onto the target's centroid.
    """
    p, t = _tensor(pred, torch.float64), _tensor(target, torch.float64).to(_tensor(pred).device)
    mu_p, mu_t = p.mean(dim=-2, keepdim=True), t.mean(dim=-2, keepdim=True)
    p0, t0 = p - mu_p, t - mu_t
    u, s, vh = torch.linalg.svd(p0.transpose(-1, -2) @ t0)  # H = P^T T, (..., 3, 3)
    v = vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    ones = torch.ones_like(d)
    dmat = torch.diag_embed(torch.stack([ones, ones, d], dim=-1))
    rot = v @ dmat @ u.transpose(-1, -2)  # maps centred pred onto centred target: t0 ~ scale * rot @ p0
    scale = (s * torch.stack([ones, ones, d], dim=-1)).sum(-1) / p0.square().sum(dim=(-2, -1)).clamp_min(eps)
    return scale[..., None, None] * p0 @ rot.transpose(-1, -2) + mu_t


def p_mpjpe_frames(pred, target) -> torch.Tensor:
    """Protocol #2 per frame: mean joint error after aligning each frame on its own. (..., J, 3) -> (...)
    float64."""
    aligned = procrustes_align(pred, target)
    return (aligned - _tensor(target, torch.float64).to(aligned.device)).norm(dim=-1).mean(dim=-1)


def p_mpjpe(pred, target) -> float:
    """Protocol #2: mean over all frames of the per-frame Procrustes-aligned MPJPE. (..., J, 3) -> float."""
    return float(p_mpjpe_frames(pred, target).mean())


def pck(errors_mm, threshold_mm: float = PCK_THRESHOLD_MM, joints=None) -> float:
    """Percentage of joint errors strictly below ``threshold_mm``. errors_mm: (..., J) in millimetres;
    ``joints``: the joints scored (MPI-INF-3DHP: :data:`hotpose.data.mpi3dhp.PCK_JOINTS`), None for all."""
    e = _tensor(errors_mm, torch.float64)
    if joints is not None:
        e = e[..., list(joints)]
    return float((e < threshold_mm).double().mean() * 100)


def auc(errors_mm, thresholds_mm=AUC_THRESHOLDS_MM, joints=None) -> float:
    """Area under the PCK curve: mean PCK over ``thresholds_mm`` (default 0, 5, ..., 150 mm), in %."""
    return float(np.mean([pck(errors_mm, t, joints) for t in thresholds_mm]))
