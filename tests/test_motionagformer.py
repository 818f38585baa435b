"""MotionAGFormer: graph layers, pruned layer sizes, official-checkpoint inference, and the paper-convention cost
(SPEC 1: MotionAGFormer 11.7238 M / 95.922 G, HoT w. MotionAGFormer 11.8280 M / 60.522 G at 243 frames)."""
from __future__ import annotations

import pytest
import torch

import hotpose
from hotpose.backbones.motionagformer import SKELETON_NEIGHBOURS, skeleton_adjacency
from hotpose.efficiency import count_flops, count_params
from hotpose.layers.gcn import GraphConv, normalize_adjacency, similarity_graph

PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
J, FRAMES, DIM = 17, 243, 128


def _official_normalisation(adj: torch.Tensor) -> torch.Tensor:
    """D^-1/2 A D^-1/2 as the official code forms it: two batched products with a diagonal matrix."""
    b, n, _ = adj.shape
    d = torch.eye(n).view(1, n, n) * (adj.sum(dim=-1) ** -0.5).view(b, n, 1)
    return torch.bmm(torch.bmm(d, adj), d)


def _dense_normalisation_flops(widths: list[int]) -> int:
    """FLOPs (2 x MACs) of the two (L x L) diagonal-matrix products per graph the official code forms and we do not:
    per layer of T frames, J temporal graphs of L = T and T spatial graphs of L = J."""
    return sum(2 * 2 * (J * t ** 3 + t * J ** 3) for t in widths)


def test_normalisation_is_bit_identical_to_the_official_products():
    adj = similarity_graph(torch.randn(6, 40, 16), 4)
    assert torch.equal(normalize_adjacency(adj), _official_normalisation(adj))
    sk = skeleton_adjacency()[None]
    assert torch.equal(normalize_adjacency(sk), _official_normalisation(sk))


def test_similarity_graph_keeps_the_top_k_per_row():
    x = torch.randn(3, 20, 8)
    adj = similarity_graph(x, 4)
    assert ((adj == 0) | (adj == 1)).all() and (adj.sum(-1) >= 4).all()
    top = (x @ x.transpose(1, 2)).topk(4, dim=-1).indices
    assert (adj.gather(-1, top) == 1).all()


def test_skeleton_is_the_official_directed_graph():
    adj = skeleton_adjacency()
    undirected = torch.zeros(J, J)
    for child, parent in enumerate(PARENTS):
        if parent >= 0:
            undirected[child, parent] = undirected[parent, child] = 1
    missing = {(0, 4), (8, 11), (8, 14)}  # rows the official table leaves out (their reverse edges exist)
    diff = {(i, j) for i, j in (undirected - adj).nonzero().tolist()}
    assert diff == missing and (adj <= undirected).all() and adj.diagonal().sum() == 0
    assert len(SKELETON_NEIGHBOURS) == J


def test_graph_conv_checks_node_count():
    layer = GraphConv(8, 10, neighbours=3).eval()
    assert layer(torch.randn(2, 10, 8)).shape == (2, 10, 8)
    with pytest.raises(ValueError, match="10 nodes"):
        layer(torch.randn(2, 9, 8))
    with pytest.raises(ValueError, match="neighbours"):
        GraphConv(8, 3, neighbours=4)


def test_pruned_layers_are_sized_for_the_kept_frames():
    model = hotpose.build_model("hot_motionagformer_243", frames=27, dim=32, n_layers=4, keep=9, prune_at=2)
    widths = [layer.graph_temporal.mixer.nodes for layer in model.backbone.layers]
    assert widths == [27, 27, 9, 9]
    assert model.recover.queries.shape == (1, 27, 32)


def test_window_must_have_exactly_the_configured_frames():
    model = hotpose.build_model("motionagformer_243", frames=27, dim=32, n_layers=2).eval()
    with pytest.raises(ValueError, match="exactly 27"):
        model(torch.randn(1, 20, J, 3))


def test_pool_is_the_joint_mean():
    model = hotpose.build_model("hot_motionagformer_243", frames=27, dim=32, n_layers=2, keep=9, prune_at=1)
    x = torch.randn(2, 27, J, 32)
    torch.testing.assert_close(model.backbone.pool(x), x.mean(dim=2), atol=1e-6, rtol=0)


def test_fused_attention_agrees_when_the_temporal_graph_cannot_flip():
    """With neighbour_num = frames the similarity graph is complete, so the only discontinuity (an edge flipping at a
    near tie of the top-k threshold, which makes fused-vs-explicit outputs differ by up to ~0.03 on the golden
    weights) is gone and the two attention paths agree to rounding."""
    model = hotpose.build_model("hot_motionagformer_243", frames=15, dim=32, n_layers=3, neighbour_num=5, keep=5,
                                prune_at=0).eval()  # every layer sees the 5 kept frames: complete graphs
    x = torch.randn(2, 15, J, 3)
    with torch.no_grad():
        hotpose.layers.use_kernels(model, "exact")
        ref = model(x)
        hotpose.layers.use_kernels(model, "fast")
        out = model(x, keep_idx=ref.keep_idx)
    torch.testing.assert_close(out.pose, ref.pose, atol=1e-5, rtol=0)


def test_b_variant_settings():
    bb = hotpose.build_model("motionagformer_b_243").backbone
    assert (bb.cfg.heads, bb.cfg.neighbour_num) == (8, 2)
    assert bb.layers[0].att_spatial.mixer.heads == 8 and bb.layers[0].graph_temporal.mixer.neighbours == 2


_TO_OFFICIAL = [("backbone.layers.", "layers."), ("backbone.final_norm.", "norm."),
                ("backbone.rep_logit.", "rep_logit.fc."), ("backbone.head_proj.", "head."),
                ("backbone.joints_embed.", "joints_embed."), ("backbone.pos_embed", "pos_embed"),
                ("recover.queries", "x_token"), ("recover.cross_attention.", "cross_attention.")]


def _official_names(model) -> dict:
    out = {}
    for key, value in model.state_dict().items():
        prefix, name = next(((a, b) for a, b in _TO_OFFICIAL if key.startswith(a)), ("", ""))
        out[name + key[len(prefix):]] = value
    return out


@pytest.mark.parametrize("arch,name,kw", [
    ("motionagformer", "motionagformer_243", dict(frames=15, dim=24, n_layers=3, mlp_ratio=3, dim_rep=40)),
    ("hot_motionagformer", "hot_motionagformer_243",
     dict(frames=15, dim=24, n_layers=4, mlp_ratio=2, dim_rep=40, keep=5, prune_at=2)),
])
def test_official_reader_infers_sizes(arch, name, kw):
    src = hotpose.build_model(name, **kw).eval()
    for p in src.parameters():
        torch.nn.init.normal_(p, std=0.3)
    model = hotpose.load_official(arch, _official_names(src))  # no layer_index: read from the BatchNorm widths
    sizes = ("frames", "dim", "n_layers", "mlp_ratio", "dim_rep")
    assert {k: getattr(model.backbone.cfg, k) for k in sizes} == {k: kw[k] for k in sizes}
    if "keep" in kw:
        assert (model.hourglass.keep, model.hourglass.prune_at) == (kw["keep"], kw["prune_at"])
        with pytest.raises(ValueError, match="layer_index=1"):
            hotpose.load_official(arch, _official_names(src), layer_index=1)
    x = torch.randn(2, 15, J, 3)
    with torch.no_grad():
        ref = src(x)
        torch.testing.assert_close(model(x, keep_idx=ref.keep_idx).pose, ref.pose)


def test_paper_cost_motionagformer():
    model = hotpose.build_model("motionagformer_243")
    assert round(count_params(model) / 1e6, 4) == 11.7238
    assert round(count_flops(model) / 1e9, 3) == 95.922


def test_paper_and_full_cost_hot_motionagformer():
    model = hotpose.build_model("hot_motionagformer_243")
    assert round(count_params(model) / 1e6, 4) == 11.8280
    assert model.feature_pool.averages
    assert round(count_flops(model) / 1e9, 3) == 60.522
    # The official code also forms D^-1/2 A D^-1/2 with two dense products per GCN call (SPEC's 76.658 G counts
    # them); ours scales elementwise, bit-identically, so the full count is lower by exactly those products.
    keep, at, layers = 81, 7, 16
    widths = [FRAMES] * at + [keep] * (layers - at)
    assert round((count_flops(model, "full") + _dense_normalisation_flops(widths)) / 1e9, 3) == 76.658
