"""How the shared layers compute: the official code's exact arithmetic, or faster kernels.

* ``"exact"``: attention as explicit softmax(q k^T) v, its per-head products batched in the official code's order
  (see :func:`hotpose.layers.attention.attend`), and linear layers as ``addmm`` (bias accumulated inside the matrix
  product), as the official code runs them. Bit-identical outputs to the official code's on the same CPU in float32,
  so DPC-kNN's near-ties (decided at the 1e-6 level) go the same way.
* ``"fast"`` (the default for models built from the registry): ``scaled_dot_product_attention`` and linear layers as a
  plain matrix product followed by an in-place bias add (on CPU, ``addmm``'s bias-initialised output costs up to 20%
  more for wide layers). Outputs agree with ``"exact"`` to float32 rounding (tested to 1e-5 per layer, 1e-4 per model).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("exact", "fast")


class Linear(nn.Linear):
    """``nn.Linear`` with a faster CPU path: x @ W^T, then the bias added in place. ``exact = True`` restores
    ``F.linear``. x: (..., in) -> (..., out)."""

    exact = False
    kernel_flag = "exact"  # the attribute :func:`use_kernels` sets (True: the official arithmetic)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.exact or self.bias is None or x.dtype != self.weight.dtype:
            return F.linear(x, self.weight, self.bias)
        return torch.matmul(x, self.weight.t()).add_(self.bias)


def use_kernels(model: nn.Module, mode: str) -> list[tuple[nn.Module, str, bool]]:
    """Switch every shared layer of ``model`` to ``mode`` (``"exact"`` or ``"fast"``, see the module docstring): each
    layer whose class names a ``kernel_flag`` attribute gets it set to True for exact. Returns the previous settings
    (for :func:`kernels`)."""
    if mode not in MODES:
        raise ValueError(f"kernel mode must be one of {MODES}, got {mode!r}")
    exact = mode == "exact"
    previous = []
    for layer in model.modules():
        flag = getattr(type(layer), "kernel_flag", None)
        if flag is not None:
            previous.append((layer, flag, getattr(layer, flag)))
            setattr(layer, flag, exact)
    return previous


@contextmanager
def kernels(model: nn.Module, mode: str):
    """Run ``model`` with ``mode`` kernels inside the ``with`` block, then restore its previous settings."""
    previous = use_kernels(model, mode)
    try:
        yield model
    finally:
        for layer, attr, value in previous:
            setattr(layer, attr, value)
