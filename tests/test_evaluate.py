"""Evaluation protocol with oracle models whose errors are known exactly."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from hotpose import PoseOutput
from hotpose.data import Sequence
from hotpose.engine.evaluate import format_table, score_sequences, summarize
from hotpose.hourglass.gather import gather_frames
from hotpose.metrics import p_mpjpe

NONROOT = 16 / 17  # the prediction's root is zeroed, so an offset on every joint costs 16/17 of itself


class Echo(nn.Module):
    """Returns its 3-channel input as the pose: with inputs = targets + offsets the errors are the offsets.
    With ``keep`` it imitates a seq2frame TPC model: it returns kept frames (centre included) and records the
    kept indices of every call."""

    def __init__(self, frames: int, keep: int | None = None):
        super().__init__()
        self.backbone = SimpleNamespace(frames=frames, in_channels=3, seq2frame=False)
        self.hourglass = SimpleNamespace(seq2frame=True, keep=keep) if keep else None
        self.config = {"name": "echo"}
        self.calls = []

    @property
    def seq2frame(self) -> bool:
        return self.hourglass is not None

    def forward(self, x, keep_idx=None):
        if self.hourglass is None:
            return PoseOutput(x.clone())
        if keep_idx is None:
            B, F = x.shape[:2]
            c = (F - 1) // 2
            others = torch.stack([torch.randperm(F - 1)[:self.hourglass.keep - 1] for _ in range(B)])
            keep_idx = torch.cat([others + (others >= c).long(), torch.full((B, 1), c)], 1).sort(1).values
        self.calls.append(keep_idx)
        return PoseOutput(gather_frames(x, keep_idx), keep_idx)


def sequence(offsets_mm, action="Walk 1", valid=None, seed=0) -> Sequence:
    """Targets are random root-relative poses; inputs are the targets shifted by offsets_mm[t] along z."""
    T = len(offsets_mm)
    y = np.random.default_rng(seed).normal(size=(T, 17, 3)).astype(np.float32) * 0.3
    y -= y[:, :1]
    x = y + np.array(offsets_mm, np.float32)[:, None, None] / 1000 * np.array([0, 0, 1], np.float32)
    return Sequence("S1", action, "0", x, y, valid)


@pytest.mark.parametrize("flip", [False, True])
def test_official_scores_padded_frames_and_strict_scores_real_frames_once(flip):
    offsets = np.arange(10.0)  # frame t is wrong by t mm
    report = summarize(score_sequences(Echo(frames=4), [sequence(offsets)], flip=flip, batch_size=2))
    # T = 10, F = 4: three windows starting at -1, 3, 7 -> frames 0 0 1 2 | 3 4 5 6 | 7 8 9 9
    official = np.array([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9.0])
    m = report["all_frames"]
    assert m["p1"] == pytest.approx(official.mean() * NONROOT)
    assert m["frames_official"] == 12 and m["frames"] == 10
    assert m["strict_p1"] == pytest.approx(offsets.mean() * NONROOT)
    assert m["mpjve"] == pytest.approx(1.0 * NONROOT)
    assert report["mean_over_actions"]["p1"] == pytest.approx(m["p1"])


def test_p2_per_frame_without_the_mixed_action_batch_bug():
    a, b = sequence(np.full(6, 40.0), "Sit 1", seed=1), sequence(np.full(6, 5.0), "Eat 2", seed=2)
    report = summarize(score_sequences(Echo(frames=3), [a, b], flip=False, readout="seq2frame", batch_size=64))
    for name, s in (("Sit", a), ("Eat", b)):
        pred = s.inputs.copy()
        pred[:, 0] = 0
        expected = p_mpjpe(pred, s.targets) * 1000
        assert report["per_action"][name]["p2"] == pytest.approx(expected)
        assert report["per_action"][name]["strict_p2"] == pytest.approx(expected)
    assert report["mean_over_actions"]["p1"] == pytest.approx((40 + 5) / 2 * NONROOT)


def test_tpc_readout_takes_the_centre_and_the_flipped_pass_reuses_the_kept_frames():
    model = Echo(frames=7, keep=3)
    offsets = np.arange(12.0) * 2
    report = summarize(score_sequences(model, [sequence(offsets)], flip=True, batch_size=5))
    assert report["all_frames"]["frames"] == 12
    assert report["all_frames"]["p1"] == pytest.approx(offsets.mean() * NONROOT)
    assert len(model.calls) == 6  # 3 batches, two passes each
    for first, second in zip(model.calls[0::2], model.calls[1::2]):
        assert second is first
    with pytest.raises(ValueError, match="seq2frame"):
        score_sequences(model, [sequence(offsets)], readout="seq2seq")


def test_3dhp_scores_valid_frames_only_with_pck_and_auc():
    offsets = np.array([2, 102, 203, 1000, 12, 300.0])  # away from the 5 mm threshold grid
    valid = np.array([1, 1, 1, 0, 1, 0], bool)
    for readout in ("seq2seq", "seq2frame"):
        report = summarize(score_sequences(Echo(frames=3), [sequence(offsets, "TS1", valid)], flip=False,
                                           readout=readout))
        m = report["all_frames"]
        scored = offsets[valid]
        assert m["frames"] == 4 and m["frames_official"] == 4
        assert m["p1"] == pytest.approx(scored.mean() * NONROOT)
        assert m["pck"] == pytest.approx(75.0)  # 2, 102, 12 mm are below 150; 203 is not
        auc = np.mean([(scored < t).mean() for t in range(0, 151, 5)]) * 100
        assert m["auc"] == pytest.approx(auc)
    table = format_table(report, pck=True)
    assert "PCK150" in table and "mean over actions" in table
