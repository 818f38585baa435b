"""Checkpoints of VideoPose3D-style training scripts keep numpy data beside the weights; they load by path, while
anything that could run code is still refused."""
from __future__ import annotations

import fractions

import numpy as np
import pytest
import torch

from hotpose.fileio import read_torch_file


def test_numpy_random_state_and_arrays_load(tmp_path):
    path = tmp_path / "official.bin"
    torch.save({"model_pos": {"module.w": torch.ones(2)}, "random_state": np.random.RandomState(7),
                "epoch": 3, "lr": np.float64(1e-4), "arr": np.arange(4, dtype=np.int32)}, path)
    blob = read_torch_file(path)
    assert blob["random_state"].randint(1000) == np.random.RandomState(7).randint(1000)
    np.testing.assert_array_equal(blob["arr"], np.arange(4))
    assert torch.equal(blob["model_pos"]["module.w"], torch.ones(2))


def test_code_is_still_refused(tmp_path):
    path = tmp_path / "evil.bin"
    torch.save({"x": fractions.Fraction(1, 3)}, path)  # an object of a type outside the allow-list
    with pytest.raises(ValueError, match="expected a checkpoint"):
        read_torch_file(path)
