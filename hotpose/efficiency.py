"""Parameters, FLOPs and throughput, per input window at batch 1.

FLOPs conventions:

* ``"paper"``: 2 x the multiply-accumulates of ``nn.Linear`` / ``nn.Conv*`` module calls (bias excluded), nothing
  else — attention products, softmax, norms and the clustering are not counted. This is how the paper's table was made
  (an old thop without a LayerNorm hook), and it reproduces the table to two decimals.
  The one other operation thop counts here is the average over joints that feeds the pruner (J + 1 per output
  element), which the paper's HoT/TPC figures include. ``batchnorm=True`` also counts BatchNorm as thop does (2
  per input element, twice that with the affine scale and shift): P-STMO's own figure (1.737 G, the table's 1.74)
  was made so.
* ``"full"``: every matrix product, attention included, as ``torch.utils.flop_counter`` counts them (2 x MACs of
  mm / bmm / addmm / conv); elementwise work is not counted. The model runs with its exact kernels while counting
  (explicit attention), so that the attention products are seen.

Both conventions count the official computation. The fast kernels (the default) do slightly less: TRA projects its
learnt queries once instead of once per (sample, joint) sequence, 2.0 GFLOPs fewer per window at full size
(``hot_mixste_243``, ``hot_motionbert_243``).

Counting does not do the arithmetic: the forward pass runs under :class:`ShapesOnly`, which hands the counters
(forward hooks, ``FlopCounterMode``) every call with its real shapes but answers the matrix products, convolutions
and large elementwise operations with zero tensors of the right shape instead of computing them. Operations with
integer results (indices, the clustering's selections) are computed; their shapes, and so the counts, do not depend
on the values. The counts equal those of a computed pass (``count_flops(..., compute=True)``; checked for every
registered model, and the model tests compare them with figures made by computed passes) at a fraction of the time.
Should a model fail on the zeros (an index derived from 0 / 0, say), the pass is repeated with the arithmetic.

Throughput counts output frames per second: F per window for seq2seq models, one (the centre frame) per window for
seq2frame models, which is how the paper reports FPS.
"""
from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map
from torch.utils.flop_counter import FlopCounterMode

from hotpose.hourglass.model import FeaturePool
from hotpose.layers.kernels import kernels


def count_params(model: nn.Module) -> int:
    """Number of parameters (free ``nn.Parameter`` tensors such as positional embeddings included)."""
    return sum(p.numel() for p in model.parameters())


def example_input(model: nn.Module, batch: int = 1, frames: int | None = None) -> torch.Tensor:
    """A random input window of the model's full length: (batch, F, J, C_in) on the model's device."""
    bb = model.backbone
    p = next(model.parameters())
    return torch.randn(batch, frames or bb.frames, bb.joints, bb.in_channels, device=p.device, dtype=p.dtype)


_aten = torch.ops.aten
# Out-of-place operations whose floating-point results only feed the count through their shapes.
_SKIPPED = {_aten.mm.default, _aten.bmm.default, _aten.addmm.default, _aten.baddbmm.default,
            _aten.convolution.default, _aten.mul.Tensor, _aten.add.Tensor, _aten.sub.Tensor, _aten.div.Tensor,
            _aten.clone.default, _aten._softmax.default, _aten.gelu.default, _aten.native_layer_norm.default}


def _on_meta(a):
    return a.to("meta") if isinstance(a, torch.Tensor) else a


class ShapesOnly(TorchDispatchMode):
    """A dispatch mode that answers the costly floating-point operations of ``_SKIPPED`` with zeros of the shape
    and dtype the operation would return (found on the meta device) instead of computing them. Enter it *before* a
    counting mode (``with ShapesOnly(), FlopCounterMode():``) so that the counter still sees every call. Operations
    with an integer or boolean result, in-place operations and everything else run as usual."""

    def __init__(self):
        super().__init__()
        self._buffers: dict[tuple, torch.Tensor] = {}

    def _zeros(self, shape, dtype, device) -> torch.Tensor:
        """A tensor of ``shape``: a view of one zero buffer per dtype and device, grown when needed. Allocating
        (and zero-filling) a fresh tensor per call took most of the counting time on large models; the views
        alias each other, so their values are meaningless, which is all a shapes-only pass needs."""
        n = math.prod(shape)
        key = (dtype, device)
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < n:
            buf = self._buffers[key] = torch.zeros(max(n, 1), dtype=dtype, device=device)
        return buf[:n].view(shape)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _SKIPPED:
            shapes = func(*tree_map(_on_meta, args), **tree_map(_on_meta, kwargs))
            outs = shapes if isinstance(shapes, tuple) else (shapes,)
            if all(isinstance(o, torch.Tensor) and o.dtype.is_floating_point for o in outs):
                device = next(a.device for a in args if isinstance(a, torch.Tensor))
                zeros = tuple(self._zeros(o.shape, o.dtype, device) for o in outs)
                return zeros if isinstance(shapes, tuple) else zeros[0]
        return func(*args, **kwargs)


def _counts(model: nn.Module, x: torch.Tensor, full: bool, batchnorm: bool = False) -> tuple[int, int | None]:
    """One forward pass with the official computation (exact kernels: TRA projects its shared queries once per
    sequence, as the official code does, which the paper's counts include) -> (Linear / conv MACs as the paper
    counts them, every matmul's FLOPs as ``FlopCounterMode`` counts them when ``full``, else None)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, FeaturePool):
            if module.averages:
                total += (inputs[0].shape[2] + 1) * output.numel()
        elif isinstance(module, nn.Linear):
            total += module.in_features * output.numel()
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            total += (4 if module.affine else 2) * inputs[0].numel()
        else:  # convolution: per output element, in_channels / groups x kernel size
            k = module.weight[0].numel()
            total += k * output.numel()

    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, FeaturePool)
    if batchnorm:
        kinds += (nn.modules.batchnorm._BatchNorm,)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    grads = [p.requires_grad for p in model.parameters()]
    counter = FlopCounterMode(display=False) if full else contextlib.nullcontext()
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        with kernels(model, "exact"), counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
        for p, g in zip(model.parameters(), grads):
            p.requires_grad_(g)
    return total, counter.get_total_flops() if full else None


def _count(model: nn.Module, frames: int | None, compute: bool, full: bool, batchnorm: bool = False) -> dict:
    was_training = model.training
    model.eval()
    x = example_input(model, 1, frames)

    def once() -> dict:
        macs, flops = _counts(model, x, full, batchnorm)
        return {"paper": 2 * macs, "full": flops}

    try:
        with torch.no_grad():
            if not compute:
                try:
                    with ShapesOnly():
                        return once()
                except (RuntimeError, IndexError, ValueError):  # the model needs real values somewhere
                    pass
            return once()
    finally:
        model.train(was_training)


def count_flops(model: nn.Module, convention: str = "paper", frames: int | None = None,
                compute: bool = False, batchnorm: bool = False) -> int:
    """FLOPs of one forward pass on one input window (batch 1). ``convention``: ``"paper"`` or ``"full"``.
    ``compute``: do the arithmetic too (the count is the same; without it the pass runs under :class:`ShapesOnly`,
    several times faster). ``batchnorm``: the paper convention counts BatchNorm too (see the module docstring)."""
    if convention not in ("paper", "full"):
        raise ValueError(f"convention must be 'paper' or 'full', got {convention!r}")
    return _count(model, frames, compute, full=convention == "full", batchnorm=batchnorm)[convention]


def flop_counts(model: nn.Module, frames: int | None = None, compute: bool = False) -> dict[str, int]:
    """Both conventions from one forward pass: ``{"paper": ..., "full": ...}``, as :func:`count_flops` gives them."""
    return _count(model, frames, compute, full=True)


def output_frames(model: nn.Module, frames: int | None = None) -> int:
    """Output frames one window yields: F for seq2seq models, 1 (the centre) for seq2frame models."""
    return 1 if getattr(model, "seq2frame", False) else (frames or model.backbone.frames)


def time_call(fn: Callable[[], object], runs: int = 5, warmup: int = 1, sync: Callable[[], None] = lambda: None
              ) -> list[float]:
    """Wall-clock seconds of ``runs`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def time_interleaved(calls: list[Callable[[], object]], runs: int, warmup: int = 2,
                     device: str | torch.device = "cpu") -> list[list[float]]:
    """Seconds of each of ``calls`` (no-argument callables) over ``runs`` rounds, each round calling every one once
    in turn, after ``warmup`` untimed calls each: a slow spell of a shared machine slows them alike, so ratios
    taken round by round are steadier than ratios of separate medians."""
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    times: list[list[float]] = [[] for _ in calls]
    with torch.inference_mode():
        for fn in calls:
            time_call(fn, runs=0, warmup=warmup, sync=sync)
        for _ in range(runs):
            for fn, t in zip(calls, times):
                t += time_call(fn, runs=1, warmup=0, sync=sync)
    return times


def measure_throughput(model: nn.Module, batch: int = 1, frames: int | None = None, runs: int = 5,
                       warmup: int = 1) -> dict:
    """Inference speed on random windows: median seconds per forward and output frames per second."""
    model.eval()
    x = example_input(model, batch, frames)
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    with torch.inference_mode():
        times = time_call(lambda: model(x), runs, warmup, sync)
    median = statistics.median(times)
    return {"seconds": median, "fps": batch * output_frames(model, frames) / median, "times": times}


def matmul_peak(size: int = 2048, runs: int = 5, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> float:
    """Measured matrix-multiply throughput (FLOP/s): best of square and model-shaped products, median of runs."""
    best = 0.0
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for m, k, n in ((size, size, size), (4096, 512, 1536), (4096, 1024, 512)):
        a = torch.randn(m, k, device=device, dtype=dtype)
        b = torch.randn(k, n, device=device, dtype=dtype)
        with torch.inference_mode():
            t = statistics.median(time_call(lambda: a @ b, runs, 1, sync))
        best = max(best, 2 * m * k * n / t)
    return best
