"""Checkpoints written atomically (temporary file in the same folder, fsync, ``os.replace``), read back with clear
errors, and the config + environment record kept beside them.

A killed run leaves either the previous complete file or the new complete file, never a partial one; stray
temporary files of killed writers are removed by :func:`clean_temp`.
"""
from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hotpose.fileio import atomic_write_bytes, clean_temp, read_torch_file  # noqa: F401  (re-exported)

FORMAT = "hotpose-checkpoint-1"
LAST, BEST = "last.pt", "best.pt"


def save_checkpoint(path: str | Path, state: dict) -> None:
    """torch.save ``state`` (tensors, numbers, strings, containers) atomically."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())


def describe_checkpoint(state) -> str:
    """What a loaded .pt file holds, in words (for messages about the wrong kind of checkpoint)."""
    if isinstance(state, dict) and state.get("format") == FORMAT:
        return f"a `hotpose train` checkpoint (epoch {state.get('epoch')})"
    if isinstance(state, dict) and str(state.get("format", "")).startswith("hotpose-pretrained"):
        return "a packaged hotpose pretrained model (hotpose/pretrained/*.pt)"
    if isinstance(state, dict):
        tensors = sum(isinstance(v, torch.Tensor) for v in state.values())
        if tensors and tensors == len(state):
            return f"a bare state dict of {tensors} tensors (an official or third-party checkpoint?)"
        keys = ", ".join(map(str, list(state)[:6]))
        return f"a dict with keys {keys}{', ...' if len(state) > 6 else ''} (an official or third-party checkpoint?)"
    return f"a {type(state).__name__}, not a dict of weights"


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (FileNotFoundError / ValueError saying what the file is
    and what is expected)."""
    path = Path(path)
    state = read_torch_file(path, "`hotpose train` checkpoint", map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is {describe_checkpoint(state)}, not a checkpoint written by `hotpose train` "
                         f"(best.pt / last.pt); an official checkpoint is read with --arch (its model file, e.g. "
                         f"hot_mixste) by `hotpose infer` / `hotpose lift`, or by hotpose.load_official")
    return state


def model_from_checkpoint(state: dict) -> nn.Module:
    """Rebuild the model from the stored ``model_config`` and load its weights strictly."""
    from hotpose.registry import build_from_config

    model = build_from_config(state["model_config"])
    model.load_state_dict(state["model"])
    return model


def initial_weights(spec: str) -> dict:
    """The state dict that ``train.init`` names: "pretrained:NAME" (a packaged model, e.g. pretrained:default), a
    checkpoint of ``hotpose train`` (best.pt / last.pt), or a packaged-format file (hotpose/pretrained/*.pt)."""
    from hotpose.pretrained import pretrained_path

    path = pretrained_path(spec.split(":", 1)[1]) if spec.startswith("pretrained:") else Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"train.init: {path}: no such file")
    blob = read_torch_file(path, "train.init checkpoint")
    if isinstance(blob, dict) and blob.get("format") == FORMAT:
        return blob["model"]
    if isinstance(blob, dict) and str(blob.get("format", "")).startswith("hotpose-pretrained"):
        return blob["state_dict"]
    raise ValueError(f"train.init: {path} is {describe_checkpoint(blob)}; expected a `hotpose train` checkpoint or a "
                     f"packaged pretrained model")


def rng_state(device: torch.device) -> dict:
    """This process's torch RNG states (CPU, and the current GPU's when on one)."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(world: int, device: torch.device) -> dict:
    """What ran this: versions, platform, device, world size, command line, time."""
    import hotpose

    env = {"hotpose": hotpose.__version__, "git_commit": _git_commit(), "python": sys.version.split()[0],
           "torch": torch.__version__, "numpy": np.__version__, "platform": platform.platform(),
           "device": str(device), "world_size": world, "threads": torch.get_num_threads(),
           "argv": sys.argv, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def write_record(folder: str | Path, config_yaml: str, env: dict) -> None:
    """Save ``config.yaml`` and ``environment.json`` beside the checkpoints (atomically)."""
    folder = Path(folder)
    atomic_write_bytes(folder / "config.yaml", config_yaml.encode())
    atomic_write_bytes(folder / "environment.json", (json.dumps(env, indent=2) + "\n").encode())
