"""data.frame_step: temporally downsampled windows (P-STMO's / STCFormer's ``-tds``), in training and evaluation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hotpose import PoseOutput
from hotpose.data import Sequence, Windows
from hotpose.engine.config import ConfigError, dump_config, load_config
from hotpose.engine.evaluate import score_sequences, summarize


def seq(T: int, valid=None) -> Sequence:
    """Frame t holds the value t (inputs and targets), so a window shows which frames it took."""
    t = np.arange(T, dtype=np.float32)[:, None, None]
    x = np.broadcast_to(t, (T, 17, 2)).astype(np.float32)
    y = np.broadcast_to(t, (T, 17, 3)).astype(np.float32)
    return Sequence("S", "a", "c", x, y, valid)


def official_window(frames: np.ndarray, t: int, pad: int, step: int) -> np.ndarray:
    """A per-sample rendering of the official loader's rule: the raw frames [t - pad*step, t + pad*step], the
    missing ones filled by repeating the first / last frame, then every step-th one."""
    lo, hi = t - pad * step, t + pad * step + 1
    left, right = max(0, -lo), max(0, hi - len(frames))
    raw = np.concatenate([np.repeat(frames[:1], left, 0), frames[max(lo, 0):min(hi, len(frames))],
                          np.repeat(frames[-1:], right, 0)])
    return raw[::step]


@pytest.mark.parametrize("step", [2, 3])
def test_seq2frame_windows_take_every_step_th_frame_around_their_target(step):
    T, F = 11, 7
    w = Windows([seq(T)], F, stride=1, step=step)
    assert len(w) == T
    x, y = w.batch(torch.arange(T))
    frames = np.arange(T, dtype=np.float32)
    for t in range(T):
        ref = official_window(frames, t, (F - 1) // 2, step)
        np.testing.assert_array_equal(x[t, :, 0, 0].numpy(), ref)
        np.testing.assert_array_equal(y[t, :, 0, 0].numpy(), ref)  # the 3D window is downsampled the same way
    idx, real = w.frame_index(torch.arange(T))
    np.testing.assert_array_equal(idx[:, (F - 1) // 2].numpy(), np.arange(T))  # the centre is the target
    t_raw = np.arange(T)[:, None] + step * (np.arange(F) - (F - 1) // 2)
    np.testing.assert_array_equal(real.numpy(), (t_raw >= 0) & (t_raw < T))


def test_step_one_is_the_contiguous_window():
    seqs = [seq(10), seq(3), seq(7)]
    for stride in (1, 2, 5):
        a, b = Windows(seqs, 5, stride), Windows(seqs, 5, stride, step=1)
        which = torch.arange(len(a))
        for u, v in zip(a.frame_index(which), b.frame_index(which)):
            assert torch.equal(u, v)


def test_strided_windows_place_their_owned_positions_step_apart():
    w = Windows([seq(20)], frames=5, stride=3, step=2)
    idx, _ = w.frame_index(torch.arange(len(w)))
    lo, hi = w.owned
    assert (idx[:, lo:hi].diff(dim=1)[(idx[:, lo:hi] > 0).all(1) & (idx[:, lo:hi] < 19).all(1)] == 2).all()
    assert (idx[:, 1:] - idx[:, :-1] <= 2).all() and (idx[:, 1:] - idx[:, :-1] >= 0).all()


def test_valid_only_with_step_keeps_windows_whose_target_is_valid():
    valid = np.array([0, 1, 1, 0, 0, 0, 1, 0], bool)
    w = Windows([seq(8, valid=valid)], frames=3, stride=1, valid_only=True, step=3)
    idx, _ = w.frame_index(torch.arange(len(w)))
    np.testing.assert_array_equal(idx[:, 1].numpy(), [1, 2, 6])
    np.testing.assert_array_equal(idx[0].numpy(), [0, 1, 4])


def test_config_default_is_left_out_and_other_values_kept():
    assert "frame_step" not in load_config().to_dict()["data"]  # configs written before it compare equal
    assert load_config().data.frame_step == 1
    cfg = load_config(None, ["data.frame_step=2"])
    assert cfg.to_dict()["data"]["frame_step"] == 2
    assert "frame_step: 2" in dump_config(cfg)
    with pytest.raises(ConfigError, match="frame_step"):
        load_config(None, ["data.frame_step=0"])
    with pytest.raises(ValueError, match="step"):
        Windows([seq(5)], 3, 1, step=0)


class Centre(nn.Module):
    """A seq2frame oracle: predicts every frame as the window's input (3 channels read as xyz)."""

    def __init__(self, frames: int):
        super().__init__()
        from types import SimpleNamespace
        self.backbone = SimpleNamespace(frames=frames, in_channels=3, seq2frame=True)
        self.hourglass = None
        self.config = {"name": "centre"}
        self.seq2frame = True
        self.seen = []

    def forward(self, x, keep_idx=None):
        self.seen.append(x[:, :, 0, 0].clone())
        return PoseOutput(x.clone())


def test_evaluation_feeds_downsampled_windows_and_scores_the_target_frame():
    T, F, step = 9, 5, 2
    y = np.random.default_rng(0).normal(size=(T, 17, 3)).astype(np.float32)
    y -= y[:, :1]
    marker = np.zeros((T, 17, 3), np.float32)
    marker[:, :, 0] = np.arange(T)[:, None]  # the input of frame t carries t in joint 0's x
    x = y.copy()
    x[:, 0] = marker[:, 0]
    model = Centre(F)
    report = summarize(score_sequences(model, [Sequence("S1", "Walk 1", "0", x, y)], flip=False, batch_size=64,
                                       frame_step=step))
    seen = torch.cat(model.seen)
    ref = np.stack([official_window(np.arange(T, dtype=np.float32), t, (F - 1) // 2, step) for t in range(T)])
    np.testing.assert_array_equal(seen.numpy(), ref)
    assert report["mean_over_actions"]["p1"] == pytest.approx(0.0, abs=1e-4)  # the centre (target) is scored
    with pytest.raises(ValueError, match="seq2frame"):
        score_sequences(model, [Sequence("S1", "Walk 1", "0", x, y)], readout="seq2seq", frame_step=step)
