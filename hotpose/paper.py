"""The paper's efficiency figures (Human3.6M, Table 1 and the ablations), keyed by our model names.

params in millions, FLOPs in G per input window (the paper's convention, see :mod:`hotpose.efficiency`), MPJPE in
mm with CPN 2D input, FPS as the paper measured it on its GPU (seq2seq counts all output frames, seq2frame one).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperRow:
    label: str
    params: float | None
    flops: float | None
    mpjpe: float | None = None
    fps: int | None = None


PAPER: dict[str, PaperRow] = {
    "mixste_243": PaperRow("MixSTE", 33.78, 277.25, 40.9, 10432),
    "hot_mixste_243": PaperRow("HoT w. MixSTE", 35.00, 167.52, 41.0, 15770),
    "tpc_mixste_243": PaperRow("TPC w. MixSTE", 33.78, 251.29, 39.9),
    "tpc_mixste_243_81": PaperRow("TPC w. MixSTE (seq2frame ablation)", 33.78, 161.73, 40.4, 68),
    "hot_mixste_243_nearest": PaperRow("HoT w. MixSTE, nearest recovery", 33.78, 161.73, 41.5),
    "hot_mixste_243_linear": PaperRow("HoT w. MixSTE, linear recovery", 33.78, 161.73, 41.3),
    "hot_mixste_243_uniform": PaperRow("HoT w. MixSTE, uniform sampling", None, 167.52, 41.4),
    "hot_mixste_243_attention": PaperRow("HoT w. MixSTE, attention pruning", None, 167.52, 42.1),
    "hot_mixste_243_motion": PaperRow("HoT w. MixSTE, motion pruning", None, 167.52, 42.8),
    "motionbert_243": PaperRow("MotionBERT", 16.00, 131.09, 39.2, 14638),
    "hot_motionbert_243": PaperRow("HoT w. MotionBERT", 16.35, 63.21, 39.8, 25526),
    "tpc_motionbert_243": PaperRow("TPC w. MotionBERT", 16.00, 91.38, 39.0),
    "tpc_motionbert_243_81": PaperRow("TPC w. MotionBERT (seq2frame ablation)", 16.00, 61.04, 39.2, 109),
    "mhformer_351": PaperRow("MHFormer", 31.52, 14.15, 43.0),
    "tpc_mhformer_351": PaperRow("TPC w. MHFormer", 31.52, 8.22, 43.0),
    "hot_mhformer_351": PaperRow("HoT w. MHFormer (ours: not in the paper)", None, None),
    "hhot_mixste_243": PaperRow("Hierarchical HoT w. MixSTE (ours: not in the paper)", None, None),
    "hhot_mixste_243_stepwise": PaperRow("Hierarchical HoT w. MixSTE, stepwise recovery (ours)", None, None),
    "hhot_motionbert_243": PaperRow("Hierarchical HoT w. MotionBERT (ours: not in the paper)", None, None),
    "hhot_motionbert_243_stepwise": PaperRow("Hierarchical HoT w. MotionBERT, stepwise recovery (ours)", None, None),
    # --- PoseFormer (hotpose/zoo/poseformer.py) ---
    # The table's 1.63 G matches LayerNorm counted as thop's normalisation hook counts it (1.6310 G); without
    # norms, as every other row, ours gives 1.6247 (see hotpose/zoo/poseformer.py).
    "poseformer_81": PaperRow("PoseFormer", 9.60, 1.63, 44.3),
    "tpc_poseformer_81": PaperRow("TPC w. PoseFormer (ours: not in the paper)", None, None),
    # --- Strided Transformer and P-STMO (hotpose/zoo/strided.py) ---
    "strided_351": PaperRow("Strided", 4.35, 1.60, 43.7),
    "tpc_strided_351": PaperRow("TPC w. Strided (ours: not in the paper)", None, None),
    # The table's 1.74 G is P-STMO's own thop figure with BatchNorm counted (1.737); without it, as every other
    # row, ours gives 1.733 (efficiency.count_flops(..., batchnorm=True) gives 1.737).
    "pstmo_243": PaperRow("P-STMO", 7.01, 1.74, 42.8),
    "tpc_pstmo_243": PaperRow("TPC w. P-STMO (ours: not in the paper)", None, None),
    # --- STCFormer (hotpose/zoo/stcformer.py) ---
    # The table's 156.22 G came from another counter; ours gives 156.19 (see hotpose/zoo/stcformer.py).
    "stcformer_l_243": PaperRow("STCFormer-L", 18.93, 156.22, 40.5),
    "hot_stcformer_l_243": PaperRow("HoT w. STCFormer-L (ours: not in the paper)", None, None),
    "tpc_stcformer_l_243": PaperRow("TPC w. STCFormer-L (ours: not in the paper)", None, None),
}
"""The paper's rows. FLOPs for the pruning-ablation variants are the TRA model's (the same network, another
selection rule); the paper does not list their parameters."""
