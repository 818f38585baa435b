"""Process-group helpers. One process (CPU or one GPU) needs none of this; under ``torchrun`` every process runs the
same program, and these functions set up and use the default process group (gloo on CPU, nccl on GPU)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """Where this process stands: rank, world size and the device it computes on."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """"auto": this process's GPU if there is one, else the CPU; otherwise ``name`` as a torch device."""
    if name == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name}: not a torch device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    check_device(device, name)
    return device


def check_device(device: str | torch.device, name: str | None = None) -> torch.device:
    """``device`` as a torch device, or a ValueError saying why this machine cannot compute on it (no CUDA device,
    or fewer GPUs than its index)."""
    try:
        device = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device {device}: not a torch device; use auto, cpu, cuda or cuda:N") from None
    name = name or str(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None else
                   "torch sees no GPU (driver missing, or CUDA_VISIBLE_DEVICES hides them)")
            raise ValueError(f"no CUDA device: --device {name} needs a GPU, but {why}; use --device cpu "
                             "(or auto: the GPU when there is one)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"no CUDA device {device.index}: --device {name}, but this machine has "
                             f"{torch.cuda.device_count()} GPU(s) (cuda:0 ... cuda:{torch.cuda.device_count() - 1})")
    return device


def setup(device: str = "auto") -> Dist:
    """Join the process group when started by ``torchrun`` (WORLD_SIZE > 1), else stay single-process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local)
    if world == 1:
        return Dist(0, 1, dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), dev)


def teardown(d: Dist) -> None:
    if d.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def all_gather_objects(d: Dist, obj) -> list:
    """[obj of rank 0, obj of rank 1, ...] on every rank (a one-item list when single-process)."""
    if d.world == 1:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def all_sum(d: Dist, values: list[float]) -> list[float]:
    """Element-wise sum of a list of floats over ranks."""
    if d.world == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=d.device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(d: Dist) -> None:
    if d.world > 1:
        dist.barrier()
