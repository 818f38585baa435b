"""Pruners, recoverers and DPC-kNN on their own."""
from __future__ import annotations

import pytest
import torch

from hotpose.hourglass import HourglassConfig, dpc_knn, select_frames
from hotpose.hourglass.cluster import dpc_scores
from hotpose.hourglass.recoverers import make_recoverer

PRUNERS = ["tpc", "uniform", "attention", "motion"]


@pytest.mark.parametrize("pruner", PRUNERS)
@pytest.mark.parametrize("F,n", [(27, 9), (81, 27), (243, 81), (10, 10), (9, 1)])
@pytest.mark.parametrize("centre", [False, True])
def test_pruners_return_sorted_unique_in_range(pruner, F, n, centre):
    feats = torch.randn(3, F, 16)
    inputs = torch.randn(3, F, 17, 2)
    c = (F - 1) // 2 if centre else None
    idx = select_frames(pruner, feats, inputs, n, centre=c)
    assert idx.shape == (3, n) and idx.dtype == torch.int64
    assert (idx >= 0).all() and (idx < F).all()
    assert (idx.diff(dim=1) > 0).all(), "indices must be sorted and unique"
    if centre:
        assert (idx == c).any(dim=1).all(), "the centre frame must be kept"


def test_pruners_refuse_impossible_counts():
    with pytest.raises(ValueError, match="cannot keep"):
        select_frames("tpc", torch.randn(1, 5, 4), torch.randn(1, 5, 17, 2), 6)


def test_uniform_is_every_kth_frame():
    idx = select_frames("uniform", torch.randn(1, 243, 8), torch.randn(1, 243, 17, 2), 81)
    assert torch.equal(idx[0], torch.arange(1, 243, 3))


def test_motion_prefers_moving_frames():
    inputs = torch.zeros(1, 30, 17, 2)
    inputs[0, 10:13] = torch.randn(3, 17, 2) * 5  # a burst of motion around frames 9..13
    idx = select_frames("motion", torch.randn(1, 30, 8), inputs, 3)
    assert set(idx[0].tolist()) <= set(range(9, 14))


def test_attention_pruner_scores_received_attention():
    feats = torch.randn(1, 20, 8) * 0.01
    feats[0, 7] = 5.0  # a frame every query attends to
    idx = select_frames("attention", feats, torch.zeros(1, 20, 17, 2), 1)
    assert idx.item() == 7


def test_dpc_knn_picks_one_peak_per_cluster():
    torch.manual_seed(1)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([c + 0.1 * torch.randn(8, 2) for c in centres])[None]  # (1, 24, 2): three tight clusters
    idx = dpc_knn(x, 3)
    assert sorted(int(i) // 8 for i in idx[0]) == [0, 1, 2]


def test_dpc_knn_uses_the_global_rng_for_ties_only():
    x = torch.randn(2, 30, 8)
    torch.manual_seed(5)
    a = dpc_knn(x, 10)
    torch.manual_seed(5)
    noise = torch.rand(2, 30)
    b = dpc_knn(x, 10, noise=noise)
    assert torch.equal(a, b)
    assert not dpc_scores(x.requires_grad_()).requires_grad


@pytest.mark.parametrize("name", ["tra", "nearest", "linear"])
def test_recoverers_restore_all_frames(name):
    B, n, J, C, F = 2, 5, 17, 8, 21
    rec = make_recoverer(name, C, F, heads=2)
    idx = torch.tensor([[0, 4, 10, 11, 20], [2, 3, 9, 15, 17]])
    x = torch.randn(B, n, J, C, requires_grad=True)
    out = rec(x, idx, F)
    assert out.shape == (B, F, J, C)
    out.sum().backward()
    assert x.grad is not None
    if name != "tra":  # interpolations reproduce the kept frames exactly
        torch.testing.assert_close(out[torch.arange(B)[:, None], idx], x)


def test_linear_and_nearest_interpolate_between_kept_frames():
    idx = torch.tensor([[2, 6]])
    x = torch.tensor([0.0, 4.0]).view(1, 2, 1, 1)
    lin = make_recoverer("linear", 1, 9)(x, idx, 9).flatten().tolist()
    near = make_recoverer("nearest", 1, 9)(x, idx, 9).flatten().tolist()
    assert lin == [0, 0, 0, 1, 2, 3, 4, 4, 4]
    assert near == [0, 0, 0, 0, 0, 4, 4, 4, 4]


def test_config_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown pruner"):
        HourglassConfig(pruner="random")
    with pytest.raises(ValueError, match="unknown recoverer"):
        HourglassConfig(recoverer="cubic")
