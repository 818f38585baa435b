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
PACKAGED = "hotpose-pretrained-1"  # a model on its own (hotpose/pretrained/*.pt, `hotpose export`)
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
    if is_packaged(state):
        return "a packaged hotpose model (hotpose/pretrained/*.pt, or written by `hotpose export`)"
    if isinstance(state, dict):
        tensors = sum(isinstance(v, torch.Tensor) for v in state.values())
        if tensors and tensors == len(state):
            return f"a bare state dict of {tensors} tensors (an official or third-party checkpoint?)"
        keys = ", ".join(map(str, list(state)[:6]))
        return f"a dict with keys {keys}{', ...' if len(state) > 6 else ''} (an official or third-party checkpoint?)"
    return f"a {type(state).__name__}, not a dict of weights"


def is_packaged(state) -> bool:
    """Whether a loaded .pt file is a packaged model (:func:`package_checkpoint`'s dict)."""
    return isinstance(state, dict) and str(state.get("format", "")).startswith("hotpose-pretrained")


def training_config(state: dict) -> dict | None:
    """The config (``Config.to_dict()`` form) of the run that trained a loaded checkpoint: a ``hotpose train``
    checkpoint's ``config``, or a packaged model's ``training_config``; None when the file does not hold it."""
    if is_packaged(state):
        import yaml

        return yaml.safe_load(state["training_config"]) if state.get("training_config") else None
    return state.get("config")


def resolve_checkpoint(path: str | Path) -> Path:
    """A run folder of ``hotpose train`` -> its best.pt (or last.pt when there is no best.pt yet); a file as given."""
    path = Path(path)
    if path.is_dir():
        if not (path / BEST).exists() and not (path / LAST).exists():
            raise ValueError(f"{path} is a folder without {BEST} or {LAST}; give a run folder of `hotpose train`, "
                             f"a checkpoint file or a YAML config")
        path = path / (BEST if (path / BEST).exists() else LAST)
    return path


def load_checkpoint(path: str | Path, map_location="cpu", packaged: bool = False) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (FileNotFoundError / ValueError saying what the file is
    and what is expected); ``packaged``: a packaged model (:func:`package_checkpoint`) is accepted too, read once."""
    path = Path(path)
    state = read_torch_file(path, "`hotpose train` checkpoint", map_location)
    if not (isinstance(state, dict) and state.get("format") == FORMAT or packaged and is_packaged(state)):
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


def training_seconds(history: list, key: str = "epoch_s") -> float | None:
    """Seconds of a run's epochs summed over every session that trained it (resumed runs included): wall clock
    (``epoch_s``) or the main process's CPU time (``epoch_cpu_s``) of each epoch's record; None when an epoch
    predates the field."""
    if not history or any(key not in h for h in history):
        return None
    return float(sum(h[key] for h in history))


def model_from_packaged(blob: dict) -> nn.Module:
    """Rebuild a packaged model (:func:`package_checkpoint`) in float32 with its weights loaded strictly."""
    from hotpose.registry import build_from_config

    model = build_from_config(blob["config"])
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model


def package_checkpoint(path: str | Path, pruner: str | None = None) -> dict:
    """A ``hotpose train`` checkpoint (or run folder: its best.pt) as a packaged model: ``{"config": the model's
    config, "state_dict", "format", "training_config": the run's config as YAML text, "trained_pruner",
    "training": what trained it}``, the dict ``torch.load(..., weights_only=True)`` reads back and
    :func:`model_from_packaged` rebuilds. ``pruner`` (hourglass models): choose the kept frames with this pruner
    at inference instead of the trained one; the trained one stays recorded as ``trained_pruner``.
    ``training``: the epoch and optimiser step of the weights, how they were selected, and the wall-clock and CPU
    hours of every epoch trained in the run (every session of a resumed run), read from history.json beside the
    checkpoint when it is there, and the device it was trained on (environment.json: a GPU's name, or cpu)."""
    import copy
    import dataclasses

    import yaml

    path = resolve_checkpoint(path)
    state = load_checkpoint(path)
    config = copy.deepcopy(state["model_config"])
    hourglass = config.get("hourglass")
    trained_pruner = hourglass.get("pruner") if hourglass else None
    if pruner is not None:
        from hotpose.hourglass.config import HourglassConfig

        if not hourglass:
            raise ValueError(f"a pruner was given, but {config.get('name')} has no hourglass (nothing is pruned)")
        hourglass["pruner"] = dataclasses.replace(HourglassConfig(**hourglass), pruner=pruner).pruner  # validates
    model = model_from_packaged({"config": config, "state_dict": state["model"]})  # the weights fit the config
    best = state.get("best") or {}
    steps_per_epoch = (state["config"].get("train") or {}).get("steps_per_epoch")
    training = {"epoch": int(state["epoch"]), "selected_on": best.get("selected_on"), "score_mm": best.get("score"),
                "steps": int(state["epoch"]) * steps_per_epoch if steps_per_epoch else None}
    history_file = path.parent / "history.json"
    if history_file.is_file():
        history = json.loads(history_file.read_text())
        wall, cpu = training_seconds(history), training_seconds(history, "epoch_cpu_s")
        training.update({"epochs_trained": len(history), "wall_hours": None if wall is None else wall / 3600,
                         "cpu_hours": None if cpu is None else cpu / 3600})
    env_file = path.parent / "environment.json"
    if env_file.is_file():  # where it was trained: a GPU's name, or the device (cpu)
        env = json.loads(env_file.read_text())
        training["device"] = env.get("gpu") or env.get("device")
    return {"config": config, "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "format": PACKAGED, "training_config": yaml.safe_dump(state["config"], sort_keys=False),
            "trained_pruner": trained_pruner, "training": training}


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
    if is_packaged(blob):
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
