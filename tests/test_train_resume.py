"""SIGKILL a training run at random moments, resume it each time: the final weights equal those of an
uninterrupted run, and every checkpoint on disk stays readable."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import torch

from hotpose.data.synthetic import write_h36m
from hotpose.engine.checkpoint import load_checkpoint

from test_train import ROOT, tiny_config, without_times


def start(cfg, out, resume: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "hotpose.cli", "train", str(cfg), "--out", str(out), "--device", "cpu",
           "--threads", "1", "--no-progress"] + (["--resume"] if resume else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-4000:]


def test_sigkill_then_resume_ends_with_the_uninterrupted_weights(tmp_path):
    write_h36m(tmp_path / "data", frames=40)
    # HoT with TPC pruning and stochastic depth: the run draws random numbers, so RNG states must be restored too
    args = dict(frames=27, dim=32, mlp_hidden=64, depth=4, keep=9, prune_at=2, drop_path=0.1)
    cfg = tiny_config(tmp_path, tmp_path / "data", args=args, train={"epochs": 6, "batch_size": 8})
    t0 = time.monotonic()
    finish(start(cfg, tmp_path / "ref", resume=False))
    duration = time.monotonic() - t0
    reference = load_checkpoint(tmp_path / "ref" / "last.pt")

    rng = random.Random()
    out, kills = tmp_path / "killed", 0
    while kills < 3:
        proc = start(cfg, out, resume=True)
        time.sleep(rng.uniform(0.2, 0.9) * duration)
        if proc.poll() is not None:  # finished before the kill: start over from scratch
            finish(proc)
            for f in out.iterdir():
                if f.is_file():
                    f.unlink()
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if (out / "last.pt").exists():
            load_checkpoint(out / "last.pt")  # raises if unreadable
        if (out / "best.pt").exists():
            load_checkpoint(out / "best.pt")
    finish(start(cfg, out, resume=True))
    final = load_checkpoint(out / "last.pt")
    assert final["epoch"] == reference["epoch"] == 6
    for k, v in reference["model"].items():
        assert torch.equal(final["model"][k], v), k
    assert without_times(final["history"]) == without_times(reference["history"])
    assert load_checkpoint(out / "best.pt")["epoch"] == load_checkpoint(tmp_path / "ref" / "best.pt")["epoch"]
    assert not list(out.glob(".*.tmp.*"))
