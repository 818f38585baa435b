"""Metrics and losses against independent references (scipy) and their defining properties."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hotpose import losses, metrics
from hotpose.data.mpi3dhp import PCK_JOINTS

scipy_linalg = pytest.importorskip("scipy.linalg")
Rotation = pytest.importorskip("scipy.spatial.transform").Rotation


def random_rotations(n: int, rng) -> np.ndarray:
    return Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix()


def test_mpjpe_perfect_prediction_is_zero_and_known_offset():
    y = torch.randn(2, 5, 17, 3)
    assert metrics.mpjpe(y, y) == 0
    shifted = y + torch.tensor([3.0, 4.0, 0.0])
    torch.testing.assert_close(metrics.mpjpe(shifted, y), torch.tensor(5.0))
    assert metrics.joint_errors(shifted, y).shape == (2, 5, 17)


def test_procrustes_matches_scipy_linalg_when_the_rotation_is_proper():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(40, 17, 3))
    rot = random_rotations(40, rng)  # proper rotations, so the optimal orthogonal map is proper too
    target = 1.7 * np.einsum("nij,nkj->nki", rot, pred) + rng.normal(size=(40, 1, 3)) \
        + 0.05 * rng.normal(size=pred.shape)
    ours = metrics.procrustes_align(pred, target).numpy()
    for k in range(40):
        p0, t0 = pred[k] - pred[k].mean(0), target[k] - target[k].mean(0)
        r, s = scipy_linalg.orthogonal_procrustes(p0, t0)  # min ||p0 r - t0||, s = sum of singular values
        assert np.linalg.det(r) > 0
        ref = s / (p0 ** 2).sum() * p0 @ r + target[k].mean(0)
        np.testing.assert_allclose(ours[k], ref, atol=1e-9)


def test_procrustes_matches_scipy_spatial_proper_rotation_on_any_data():
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=(30, 17, 3)), rng.normal(size=(30, 17, 3))  # reflections would often fit better
    ours = metrics.procrustes_align(pred, target).numpy()
    for k in range(30):
        p0, t0 = pred[k] - pred[k].mean(0), target[k] - target[k].mean(0)
        rot, _ = Rotation.align_vectors(t0, p0)  # proper rotation minimising sum |t0 - R p0|^2
        rp = rot.apply(p0)
        scale = (t0 * rp).sum() / (p0 ** 2).sum()
        np.testing.assert_allclose(ours[k], scale * rp + target[k].mean(0), atol=1e-8)
    expected = np.mean([np.linalg.norm(ours[k] - target[k], axis=-1).mean() for k in range(30)])
    assert metrics.p_mpjpe(pred, target) == pytest.approx(expected)


def test_p2_is_invariant_to_scale_rotation_and_translation_of_the_prediction():
    rng = np.random.default_rng(2)
    pred, target = rng.normal(size=(20, 17, 3)), rng.normal(size=(20, 17, 3))
    moved = 0.3 * np.einsum("nij,nkj->nki", random_rotations(20, rng), pred) + rng.normal(size=(20, 1, 3))
    np.testing.assert_allclose(metrics.p_mpjpe_frames(moved, target), metrics.p_mpjpe_frames(pred, target),
                               atol=1e-10)
    assert metrics.p_mpjpe(target * 2 + 1, target) == pytest.approx(0, abs=1e-10)


def test_p2_aligns_every_frame_on_its_own():
    rng = np.random.default_rng(3)
    pred, target = rng.normal(size=(2, 6, 17, 3)), rng.normal(size=(2, 6, 17, 3))
    per_frame = metrics.p_mpjpe_frames(pred, target)
    assert per_frame.shape == (2, 6)
    assert float(per_frame[1, 2]) == pytest.approx(metrics.p_mpjpe(pred[1, 2:3], target[1, 2:3]))
    degenerate = metrics.p_mpjpe_frames(np.zeros((1, 17, 3)), target[0, :1])
    assert torch.isfinite(degenerate).all()


def test_n_mpjpe_mpjve_and_degenerate_inputs():
    y = torch.randn(3, 8, 17, 3)
    torch.testing.assert_close(metrics.n_mpjpe(2.5 * y, y), torch.tensor(0.0), atol=1e-6, rtol=0)
    assert torch.isfinite(metrics.n_mpjpe(torch.zeros_like(y), y))
    offset = y + torch.tensor([0.1, -0.2, 0.3])  # a constant offset has no velocity error
    torch.testing.assert_close(metrics.mpjve(offset, y), torch.tensor(0.0), atol=1e-6, rtol=0)
    ramp = y + torch.arange(8.0)[None, :, None, None] * torch.tensor([0.0, 0.0, 0.01])
    torch.testing.assert_close(metrics.mpjve(ramp, y), torch.tensor(0.01), atol=1e-6, rtol=0)


def test_pck_and_auc_definitions():
    errors = np.array([[0.0, 149.9, 150.0, 200.0]])
    assert metrics.pck(errors) == 50.0  # strictly below 150 mm
    expected_auc = np.mean([(errors < t).mean() * 100 for t in range(0, 151, 5)])
    assert metrics.auc(errors) == pytest.approx(expected_auc)
    assert len(metrics.AUC_THRESHOLDS_MM) == 31
    assert len(PCK_JOINTS) == 14 and not {0, 7, 9} & set(PCK_JOINTS)
    e = np.full((5, 17), 500.0)
    e[:, list(PCK_JOINTS)] = 10.0
    assert metrics.pck(e, joints=PCK_JOINTS) == 100.0 and metrics.pck(e) < 100


def test_losses_are_zero_for_a_still_perfect_prediction_and_weight_joints():
    still = torch.randn(1, 1, 17, 3).repeat(2, 6, 1, 1)
    for name in losses.LOSSES:
        assert float(losses.get_loss(name)(still, still)) == pytest.approx(0, abs=1e-6)
    y = torch.randn(2, 6, 17, 3)
    moved = y.clone()
    moved[..., 12, :] += torch.tensor([0.0, 0.0, 1.0])  # joint weight 4
    assert float(losses.weighted_mpjpe(moved, y)) == pytest.approx(4 / 17)
    assert float(losses.weighted_mpjpe(moved, y, weights=[1] * 17)) == pytest.approx(float(metrics.mpjpe(moved, y)))
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get_loss("l2")


def test_bone_length_error_sees_lengths_not_positions():
    y = torch.randn(2, 5, 17, 3)
    R = torch.linalg.qr(torch.randn(3, 3))[0]
    assert float(losses.bone_length_error(y @ R.T + 1.0, y)) == pytest.approx(0, abs=1e-5)  # rigid motion
    longer = y.clone()
    longer[..., 13, :] += 0.1 * (y[..., 13, :] - y[..., 12, :])  # left wrist: forearm 10 % longer, one of 16 bones
    forearm = (y[..., 13, :] - y[..., 12, :]).norm(dim=-1)
    assert float(losses.bone_length_error(longer, y)) == pytest.approx(float(0.1 * forearm.mean() / 16), rel=1e-4)


def test_motion_sums_ratio_is_zero_for_one_pose_and_one_for_the_target():
    from hotpose.metrics import motion_sums

    g = torch.Generator().manual_seed(0)
    target = torch.randn(3, 9, 17, 3, generator=g).cumsum(dim=1)
    still = target.mean(dim=1, keepdim=True).expand_as(target)
    moved, truth = motion_sums(target, target)
    assert moved == truth > 0
    assert motion_sums(still, target)[0] == 0
    assert motion_sums(2 * target, 2 * target)[0] == pytest.approx(2 * float(truth))
    pairs = torch.zeros(3, 8, dtype=torch.bool)
    pairs[1, 2] = True  # one frame pair counts
    step = (target[1, 3] - target[1, 2]).norm(dim=-1).mean()
    assert motion_sums(target, target, pairs)[1] == pytest.approx(float(step))
