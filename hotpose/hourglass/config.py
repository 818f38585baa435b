"""Configuration of the hourglass: where to prune, how many frames to keep, how to choose and how to recover them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class HourglassConfig:
    """Hourglass settings.

    pruner:    ``"tpc"`` (density-peak clustering, the paper's Token Pruning Cluster), ``"uniform"``,
               ``"attention"`` or ``"motion"`` (the paper's baselines; see :mod:`hotpose.hourglass.pruners`).
    keep:      n, the number of frames kept after pruning.
    prune_at:  index of the first block (stage) that runs on the kept frames only.
    recoverer: ``"tra"`` (Token Recovering Attention), ``"nearest"``, ``"linear"`` or ``"none"`` (seq2frame:
               the head runs on the kept frames).
    centre:    always keep the centre frame (F - 1) // 2 (seq2frame models read out that frame).
    pos_token: add a learnable embedding (1, n, C) to the kept tokens, indexed by rank among the kept frames.
    k:         neighbours (the frame itself included) for the DPC-kNN density.
    tra_init:  how TRA's queries, the rank embedding and the backbone's temporal embedding start (TRA models only):
               ``"sinusoidal"`` (default: one fixed code of the frame index for the queries and the embeddings, so
               that TRA addresses frames by time from the first step) or ``"official"`` (zeros, as in the paper's
               code; TRA then stays on a plateau for its first ~1,400 steps). See :mod:`hotpose.hourglass.init`.
    """

    pruner: str = "tpc"
    keep: int = 81
    prune_at: int = 3
    recoverer: str = "tra"
    centre: bool = False
    pos_token: bool = True
    k: int = 2
    tra_init: str = "sinusoidal"

    def __post_init__(self):
        from hotpose.hourglass.init import TRA_INITS
        from hotpose.hourglass.pruners import PRUNERS
        from hotpose.hourglass.recoverers import RECOVERERS

        if self.pruner not in PRUNERS:
            raise ValueError(f"unknown pruner {self.pruner!r}; expected one of {sorted(PRUNERS)}")
        if self.recoverer not in RECOVERERS:
            raise ValueError(f"unknown recoverer {self.recoverer!r}; expected one of {sorted(RECOVERERS)}")
        if self.keep < 1:
            raise ValueError(f"keep must be >= 1, got {self.keep}")
        if self.prune_at < 0:
            raise ValueError(f"prune_at must be >= 0, got {self.prune_at}")
        if self.tra_init not in TRA_INITS:
            raise ValueError(f"unknown tra_init {self.tra_init!r}; expected one of {', '.join(TRA_INITS)}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")

    @property
    def seq2frame(self) -> bool:
        """True when no recovery runs: the model predicts only the kept frames."""
        return self.recoverer == "none"
