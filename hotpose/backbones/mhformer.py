"""MHFormer (Li et al., CVPR 2022): multi-hypothesis generation, then a hypothesis transformer, read out at the centre.

Faithful to the official HoT code (``model/mhformer/{mhformer,tpc_mhformer}.py``):

* **MHG.** The input (B, F, J, 2) becomes (B, 2J, F) with joint-major channels (x0, y0, x1, y1, ...). Three cascaded
  residual stages x_k = x_{k-1} + Enc_k(LN_k(x_{k-1})): LN_k runs over the *frame* axis (default eps 1e-5) and Enc_k
  is a transformer whose tokens are the 2J coordinate channels and whose width is F (MLP 2F, 9 heads, zero-init
  pos-embed (1, 2J, F), block LayerNorms eps 1e-6, a final LayerNorm). Because the width is F, the model takes
  windows of exactly ``frames`` frames.
* **Embedding.** One kernel-1 Conv1d(2J -> C) per hypothesis, applied per frame (with BatchNorm + ReLU + Dropout(0.25)
  when F <= 27, as the official file builds it), plus a zero-init pos-embed (1, F, C) per hypothesis.
* **Hypothesis transformer.** Stages 0 .. depth-2 are SHR blocks (per-hypothesis MSA, then one MLP on the 3C
  concatenation), the last stage is the CHI block (sequential cross-hypothesis updates, then the 3C MLP).
* **Head.** LN(3C), then BatchNorm1d(3C) and Conv1d(3C -> 3J) per frame.

Hourglass seams: the three hypotheses travel in the J axis, tokens (B, F, 3, C); the pruner sees the concatenation
(B, F, 3C) (TPC w. MHFormer clusters on it); :meth:`MHFormer.norm` is the final LN(3C). MHFormer is trained on all F
frames and read out at the centre frame, hence ``seq2frame = True``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import Backbone
from hotpose.layers import Attention, Block, CrossAttention, DropPath, Mlp

HYPOTHESES = 3
# CHI update order: hypothesis h takes (query, key, value) from these hypotheses, using the ones already updated.
CHI_SOURCES = ((1, 2, 0), (0, 2, 1), (0, 1, 2))


@dataclass
class MHFormerConfig:
    """MHFormer sizes (paper: 351 frames, C=512, hidden 1024).

    ``mlp_hidden`` is the width of the shared MLP on the 3C concatenation; ``depth`` counts the SHR blocks plus the
    one CHI block. ``mhg_*`` configure the three MHG transformers (width = ``frames``); ``mhg_mlp_hidden=None`` means
    2 x frames. ``embed_bn=None`` picks the BatchNorm embedding when ``frames <= embed_bn_max_frames``.
    """

    frames: int = 351
    joints: int = 17
    in_channels: int = 2
    dim: int = 512
    mlp_hidden: int = 1024
    depth: int = 3
    heads: int = 8
    qkv_bias: bool = True
    drop: float = 0.1
    attn_drop: float = 0.0
    drop_path: float = 0.2
    norm_eps: float = 1e-6
    mhg_depth: int = 4
    mhg_heads: int = 9
    mhg_mlp_hidden: int | None = None
    mhg_norm_eps: float = 1e-5
    embed_bn: bool | None = None
    embed_bn_max_frames: int = 27
    embed_drop: float = 0.25
    head_bn_momentum: float = 0.1


class MHGEncoder(nn.Module):
    """One MHG transformer: tokens are the 2J coordinate channels, width F. x: (B, 2J, F) -> (B, 2J, F)."""

    def __init__(self, cfg: MHFormerConfig, mlp_hidden: int):
        super().__init__()
        tokens, width = cfg.in_channels * cfg.joints, cfg.frames
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, width))
        self.pos_drop = nn.Dropout(cfg.drop)
        rates = torch.linspace(0, cfg.drop_path, cfg.mhg_depth).tolist()
        self.blocks = nn.ModuleList(
            Block(width, cfg.mhg_heads, mlp_hidden, qkv_bias=cfg.qkv_bias, drop=cfg.drop, attn_drop=cfg.attn_drop,
                  drop_path=r, norm_eps=cfg.norm_eps) for r in rates)
        self.norm = nn.LayerNorm(width, eps=cfg.norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pos_drop(x + self.pos_embed)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class SHRBlock(nn.Module):
    """Self-hypothesis refinement: per-hypothesis pre-norm MSA, then one MLP on the 3C concatenation.
    x: (B, F, 3, C) -> (B, F, 3, C)."""

    def __init__(self, cfg: MHFormerConfig, drop_path: float):
        super().__init__()
        C = cfg.dim
        self.norm1 = nn.ModuleList(nn.LayerNorm(C, eps=cfg.norm_eps) for _ in range(HYPOTHESES))
        self.attn = nn.ModuleList(Attention(C, cfg.heads, qkv_bias=cfg.qkv_bias, attn_drop=cfg.attn_drop,
                                            proj_drop=cfg.drop) for _ in range(HYPOTHESES))
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(HYPOTHESES * C, eps=cfg.norm_eps)
        self.mlp = Mlp(HYPOTHESES * C, cfg.mlp_hidden, drop=cfg.drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hyps = [x[:, :, h] + self.drop_path(self.attn[h](self.norm1[h](x[:, :, h]))) for h in range(HYPOTHESES)]
        return _shared_mlp(self, hyps)


class CHIBlock(nn.Module):
    """Cross-hypothesis interaction: hypothesis h is updated by cross-attention with q, k from two hypotheses and v
    from itself (:data:`CHI_SOURCES`), sequentially; then the shared 3C MLP. x: (B, F, 3, C) -> (B, F, 3, C).

    ``norm[h][r]`` normalises the input of role r (0 query, 1 key, 2 value) of update h."""

    def __init__(self, cfg: MHFormerConfig, drop_path: float):
        super().__init__()
        C = cfg.dim
        self.norm = nn.ModuleList(nn.ModuleList(nn.LayerNorm(C, eps=cfg.norm_eps) for _ in range(HYPOTHESES))
                                  for _ in range(HYPOTHESES))
        self.attn = nn.ModuleList(CrossAttention(C, cfg.heads, qkv_bias=cfg.qkv_bias, attn_drop=cfg.attn_drop,
                                                 proj_drop=cfg.drop) for _ in range(HYPOTHESES))
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(HYPOTHESES * C, eps=cfg.norm_eps)
        self.mlp = Mlp(HYPOTHESES * C, cfg.mlp_hidden, drop=cfg.drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hyps = list(x.unbind(dim=2))
        for h, sources in enumerate(CHI_SOURCES):
            q, k, v = (norm(hyps[s]) for norm, s in zip(self.norm[h], sources))
            hyps[h] = hyps[h] + self.drop_path(self.attn[h](q, k, v))
        return _shared_mlp(self, hyps)


def _shared_mlp(block: SHRBlock | CHIBlock, hyps: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate the hypotheses (3 x (B, F, C)) to (B, F, 3C), add the residual MLP, split to (B, F, 3, C)."""
    x = torch.cat(hyps, dim=-1)
    x = x + block.drop_path(block.mlp(block.norm2(x)))
    return x.unflatten(-1, (HYPOTHESES, -1))


class MHFormer(Backbone):
    """Stages: ``depth - 1`` SHR blocks, then one CHI block, on tokens (B, F, 3, C) (hypotheses in the J axis)."""

    seq2frame = True
    fixed_frames = True  # the MHG transformers are as wide as the window
    pool_averages_joints = False  # the pruner sees the hypotheses concatenated, nothing is averaged

    def __init__(self, cfg: MHFormerConfig, hourglass: HourglassConfig | None = None):
        super().__init__()
        if cfg.depth < 1:
            raise ValueError(f"MHFormer needs depth >= 1 (the CHI block), got {cfg.depth}")
        self.cfg = cfg
        self.frames, self.joints, self.in_channels = cfg.frames, cfg.joints, cfg.in_channels
        self.dim, self.heads, self.qkv_bias, self.num_stages = cfg.dim, cfg.heads, cfg.qkv_bias, cfg.depth
        C, F, coords = cfg.dim, cfg.frames, cfg.in_channels * cfg.joints
        mhg_hidden = cfg.mhg_mlp_hidden if cfg.mhg_mlp_hidden is not None else 2 * F
        self.mhg_norms = nn.ModuleList(nn.LayerNorm(F, eps=cfg.mhg_norm_eps) for _ in range(HYPOTHESES))
        self.mhg = nn.ModuleList(MHGEncoder(cfg, mhg_hidden) for _ in range(HYPOTHESES))
        embed_bn = cfg.embed_bn if cfg.embed_bn is not None else F <= cfg.embed_bn_max_frames
        self.embeddings = nn.ModuleList(self._embedding(coords, C, embed_bn) for _ in range(HYPOTHESES))
        self.pos_embeds = nn.ParameterList(nn.Parameter(torch.zeros(1, F, C)) for _ in range(HYPOTHESES))
        self.pos_drop = nn.Dropout(cfg.drop)
        rates = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()
        self.shr_blocks = nn.ModuleList(SHRBlock(cfg, r) for r in rates[:-1])
        self.chi_block = CHIBlock(cfg, rates[-1])
        self.final_norm = nn.LayerNorm(HYPOTHESES * C, eps=cfg.norm_eps)
        self.head_bn = nn.BatchNorm1d(HYPOTHESES * C, momentum=cfg.head_bn_momentum)
        self.head_proj = nn.Conv1d(HYPOTHESES * C, 3 * cfg.joints, kernel_size=1)

    def _embedding(self, coords: int, C: int, bn: bool) -> nn.Module:
        conv = nn.Conv1d(coords, C, kernel_size=1)
        if not bn:
            return conv
        return nn.Sequential(conv, nn.BatchNorm1d(C), nn.ReLU(), nn.Dropout(self.cfg.embed_drop))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, J, C_in) -> (B, F, 3, C): MHG, then one embedding and pos-embed per hypothesis."""
        B, F, J, C_in = x.shape
        h = x.reshape(B, F, J * C_in).transpose(1, 2)  # (B, 2J, F), joint-major channels
        hyps = []
        for norm, encoder, embedding, pos in zip(self.mhg_norms, self.mhg, self.embeddings, self.pos_embeds):
            h = h + encoder(norm(h))  # cascaded: each hypothesis refines the previous one
            hyps.append(self.pos_drop(embedding(h).transpose(1, 2) + pos))  # (B, F, C)
        return torch.stack(hyps, dim=2)

    def stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        block = self.shr_blocks[i] if i < len(self.shr_blocks) else self.chi_block
        return block(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """The pruner sees the hypotheses concatenated: (B, F, 3, C) -> (B, F, 3C)."""
        return x.flatten(2)

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        """Final LayerNorm over the 3C concatenation. (B, F', 3, C) -> (B, F', 3, C)."""
        return self.final_norm(x.flatten(2)).unflatten(-1, (HYPOTHESES, -1))

    def temporal_embeddings(self) -> list[nn.Parameter]:
        return list(self.pos_embeds)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F', 3, C) -> (B, F', J, 3): BatchNorm1d and a kernel-1 Conv1d over the 3C channels of each frame."""
        B, F = x.shape[:2]
        # contiguous, as the official code feeds BatchNorm (its eval kernel rounds a strided input differently)
        out = self.head_proj(self.head_bn(x.reshape(B, F, -1).transpose(1, 2).contiguous()))  # (B, 3J, F')
        return out.transpose(1, 2).unflatten(-1, (self.joints, 3))
