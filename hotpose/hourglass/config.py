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
    schedule:  hierarchical pruning: the (stage, kept frames) steps, e.g. ``[[2, 121], [4, 61], [6, 27]]`` (243 ->
               121 before stage 2 -> 61 before stage 4 -> 27 before stage 6). Each step chooses among the frames the
               step before it kept, so every level's indices are frames of the input window. None: the one step
               ``[[prune_at, keep]]``; given, it sets ``prune_at`` (its first stage) and ``keep`` (its last count).
    stepwise_recovery: with a schedule of several steps, recover level by level in reverse (the deepest kept
               frames to the frames of the step before, ..., to all F; one recoverer per step) instead of from the
               deepest kept frames to all F at once.
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
    schedule: list | None = None
    stepwise_recovery: bool = False

    def __post_init__(self):
        from hotpose.hourglass.init import TRA_INITS
        from hotpose.hourglass.pruners import PRUNERS
        from hotpose.hourglass.recoverers import RECOVERERS

        if self.pruner not in PRUNERS:
            raise ValueError(f"unknown pruner {self.pruner!r}; expected one of {sorted(PRUNERS)}")
        if self.recoverer not in RECOVERERS:
            raise ValueError(f"unknown recoverer {self.recoverer!r}; expected one of {sorted(RECOVERERS)}")
        if self.schedule is not None:
            try:
                steps = [(int(a), int(b)) for a, b in self.schedule]
            except (TypeError, ValueError):
                raise ValueError(f"schedule must be a list of [stage, kept frames] pairs, got {self.schedule!r}") \
                    from None
            if not steps:
                raise ValueError("schedule is empty: give at least one [stage, kept frames] step (or leave it unset)")
            stages, kept = [a for a, _ in steps], [b for _, b in steps]
            if any(b <= a for a, b in zip(stages, stages[1:])) or any(b >= a for a, b in zip(kept, kept[1:])):
                raise ValueError(f"schedule {self.schedule}: stages must increase and kept frames decrease from "
                                 f"step to step")
            self.schedule = [list(step) for step in steps]
            self.prune_at, self.keep = stages[0], kept[-1]
        if self.stepwise_recovery and self.recoverer == "none":
            raise ValueError("stepwise_recovery needs a recoverer (recoverer='none' predicts the kept frames)")
        if self.keep < 1:
            raise ValueError(f"keep must be >= 1, got {self.keep}")
        if self.prune_at < 0:
            raise ValueError(f"prune_at must be >= 0, got {self.prune_at}")
        if self.tra_init not in TRA_INITS:
            raise ValueError(f"unknown tra_init {self.tra_init!r}; expected one of {', '.join(TRA_INITS)}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")

    @property
    def steps(self) -> list[tuple[int, int]]:
        """The pruning steps, (stage, kept frames) in order: the schedule, or the one step (prune_at, keep)."""
        return [tuple(s) for s in self.schedule] if self.schedule is not None else [(self.prune_at, self.keep)]

    @property
    def seq2frame(self) -> bool:
        """True when no recovery runs: the model predicts only the kept frames."""
        return self.recoverer == "none"
