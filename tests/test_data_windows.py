"""Windows: the SPEC section 6 chunking, edge padding, seq2frame windows, flip, epoch order."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hotpose.data import Sequence, Windows, epoch_order
from hotpose.data.windows import chunk_starts
from hotpose.skeleton import flip_pose


def seq(T: int, name: str = "a", valid=None) -> Sequence:
    t = np.arange(T, dtype=np.float32)[:, None, None]
    x = np.broadcast_to(t, (T, 17, 2)) + np.arange(17)[None, :, None] * 0.01
    y = np.broadcast_to(t, (T, 17, 3)) * np.array([1, 2, 3], np.float32)
    return Sequence("S", name, "c", x.astype(np.float32), y.astype(np.float32), valid)


@pytest.mark.parametrize("T", [1, 5, 243, 244, 500, 1000])
def test_seq2seq_chunks_follow_the_official_formula(T):
    F = 243
    n = math.ceil((T - F) / F + 1)
    offset = ((n - 1) * F + F - T) // 2
    s, start = chunk_starts(np.array([T]), F)
    np.testing.assert_array_equal(start, np.arange(n) * F - offset)
    assert (s == 0).all()


def test_windows_match_a_naive_per_sample_reference():
    seqs = [seq(10, "a"), seq(3, "b"), seq(7, "c")]
    F, stride = 5, 2
    w = Windows(seqs, F, stride)
    rng = np.random.default_rng(0)
    which = rng.integers(0, len(w), 12)
    flip = rng.random(12) < 0.5
    x, y = w.batch(which, flip)
    for k, (wi, f) in enumerate(zip(which, flip)):
        s = seqs[int(w.seq[wi])]
        t = np.clip(int(w.start[wi]) + np.arange(F), 0, len(s) - 1)  # edge padding
        ref_x, ref_y = s.inputs[t], s.targets[t]
        if f:
            ref_x, ref_y = flip_pose(ref_x), flip_pose(ref_y)
        np.testing.assert_array_equal(x[k].numpy(), ref_x)
        np.testing.assert_array_equal(y[k].numpy(), ref_y)
    assert len(w) == sum(math.ceil(len(s) / stride) for s in seqs)


def test_seq2frame_windows_are_centred_on_every_frame_and_mark_padding():
    w = Windows([seq(6)], frames=5, stride=1)
    assert len(w) == 6 and w.owned == (2, 3)
    idx, real = w.frame_index(torch.arange(6))
    np.testing.assert_array_equal(idx[:, 2].numpy(), np.arange(6))  # the centre is frame t
    np.testing.assert_array_equal(idx[0].numpy(), [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(real[0].numpy(), [False, False, True, True, True])
    x, _ = Windows([seq(6)], frames=5, stride=1, channels=3).batch([0])
    assert x.shape == (1, 5, 17, 3) and (x[..., 2] == 1).all()  # missing confidence set to 1


def test_valid_only_keeps_windows_that_own_valid_frames():
    valid = np.array([0, 1, 1, 0, 0, 0, 1, 0], bool)
    w = Windows([seq(8, valid=valid)], frames=3, stride=1, valid_only=True)
    idx, _ = w.frame_index(torch.arange(len(w)))
    np.testing.assert_array_equal(idx[:, 1].numpy(), [1, 2, 6])


def test_epoch_order_is_a_function_of_seed_and_epoch():
    a = epoch_order(7, "double", seed=3, epoch=2)
    b = epoch_order(7, "double", seed=3, epoch=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], epoch_order(7, "double", seed=3, epoch=3)[0])
    pairs = sorted(zip(a[0].tolist(), a[1].tolist()))
    assert pairs == sorted([(i, f) for i in range(7) for f in (False, True)])  # every window plain and mirrored
    assert not epoch_order(7, "none", 0, 0)[1].any()
    with pytest.raises(ValueError, match="flip mode"):
        epoch_order(7, "sometimes", 0, 0)
