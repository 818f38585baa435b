"""The frame-wise baseline: each frame lifted on its own, at the original's size."""
from __future__ import annotations

import pytest
import torch

from hotpose.efficiency import count_params
from hotpose.registry import build_model, tiny_overrides


def test_size_of_the_original():
    """1024 wide, two residual blocks: 4.30 M parameters, as Martinez et al. report (~4.3 M)."""
    assert count_params(build_model("framewise_mlp")) == 4_296_755


def test_frames_are_independent():
    """In eval mode no frame's output depends on another frame: changing frame 3 changes only frame 3, and a
    frame lifted alone gives what it gives inside a window."""
    torch.manual_seed(0)
    m = build_model("framewise_mlp", **tiny_overrides("framewise_mlp")).eval()
    x = torch.randn(2, 9, 17, 2)
    y = m(x).pose
    x2 = x.clone()
    x2[:, 3] += 1.0
    y2 = m(x2).pose
    changed = (y2 - y).abs().amax(dim=(0, 2, 3))
    assert changed[3] > 1e-3
    assert torch.cat([changed[:3], changed[4:]]).max() == 0
    torch.testing.assert_close(m(x[:, 5:6]).pose[:, 0], y[:, 5], rtol=0, atol=1e-5)


def test_no_hourglass():
    from hotpose.backbones.framewise import Framewise, FramewiseConfig
    from hotpose.hourglass.config import HourglassConfig

    with pytest.raises(ValueError, match="no frame tokens to prune"):
        Framewise(FramewiseConfig(), HourglassConfig(keep=3))
