"""Two processes under torchrun (gloo, CPU) end with the same weights as one process with the same global batch."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from hotpose.data.synthetic import write_h36m
from hotpose.engine.checkpoint import load_checkpoint

from test_train import ROOT, tiny_config

# No pruning and no stochastic depth: rank 1 draws from another RNG stream than a single process would.
ARGS = dict(frames=27, dim=32, mlp_hidden=64, depth=4, drop_path=0.0)


def run(cmd: list[str], timeout: int = 240) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]


def test_two_process_ddp_matches_one_process(tmp_path):
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    write_h36m(tmp_path / "data", frames=40)
    # 64 samples in batches of 7: ranks get 4 / 3, and the last batch holds 1 sample, so rank 1 takes part with a
    # zero-weighted one. SGD, because Adam turns float noise in near-zero gradients into full-size steps.
    cfg = tiny_config(tmp_path, tmp_path / "data", name="mixste_243", args=ARGS,
                      train={"epochs": 2, "batch_size": 7, "optimizer": "sgd", "lr": 0.01})
    cli = ["-m", "hotpose.cli", "train", str(cfg), "--device", "cpu", "--threads", "1", "--no-progress"]
    run([sys.executable, *cli, "--out", str(tmp_path / "one")])
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *cli,
         "--out", str(tmp_path / "two")])
    one, two = load_checkpoint(tmp_path / "one" / "last.pt"), load_checkpoint(tmp_path / "two" / "last.pt")
    assert two["world"] == 2 and one["step"] == two["step"] == 20
    for k, v in one["model"].items():
        torch.testing.assert_close(two["model"][k], v, atol=2e-5, rtol=1e-4, msg=k)
    for a, b in zip(one["history"], two["history"]):
        assert a["val_p1_mm"] == pytest.approx(b["val_p1_mm"], rel=1e-4)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
