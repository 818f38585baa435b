"""Index helpers on the frame axis."""
from __future__ import annotations

import torch


def gather_frames(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Take frames ``idx`` (B, n) from x (B, F, ...) -> (B, n, ...). Gradients flow to the taken frames."""
    B, n = idx.shape
    batch = torch.arange(B, device=x.device)[:, None].expand(B, n)
    return x[batch, idx]
