"""MHFormer through the shared hourglass: the paper's params/FLOPs, the seams, hot_mhformer's design and the official
readers' size inference (the golden outputs themselves are checked in test_golden.py)."""
from __future__ import annotations

import pytest
import torch

import hotpose
from hotpose import efficiency
from hotpose.paper import PAPER

from conftest import load_golden

# name -> (params M, paper-convention GFLOPs, full-convention GFLOPs): SPEC section 1
SPEC = {"mhformer_351": (31.5161, 14.146, 16.436), "tpc_mhformer_351": (31.5161, 8.220, 9.165)}


@pytest.mark.parametrize("name", sorted(SPEC))
def test_params_and_flops_match_paper(name):
    model = hotpose.build_model(name)
    params = efficiency.count_params(model) / 1e6
    paper = efficiency.count_flops(model) / 1e9
    assert round(params, 2) == PAPER[name].params
    assert round(paper, 2) == PAPER[name].flops
    assert params == pytest.approx(SPEC[name][0], abs=1e-4)
    assert paper == pytest.approx(SPEC[name][1], abs=1e-3)
    assert efficiency.count_flops(model, "full") / 1e9 == pytest.approx(SPEC[name][2], abs=1e-3)


def test_hot_mhformer_adds_tra_per_hypothesis_and_rank_embedding():
    hot, tpc = hotpose.build_model("hot_mhformer_351"), hotpose.build_model("tpc_mhformer_351")
    F, n, C = 351, 117, 512
    tra = F * C + 4 * (C * C + C)  # queries + linear_q/k/v + proj
    assert efficiency.count_params(hot) - efficiency.count_params(tpc) == tra + n * C
    # TRA on 3 hypotheses ((2F + 2n) C^2 MACs each) plus the head on the F - n recovered frames
    head = 3 * C * 3 * 17
    extra = 2 * (3 * (2 * F + 2 * n) * C * C + (F - n) * head)
    assert efficiency.count_flops(hot) - efficiency.count_flops(tpc) == extra


def tiny(name, **kw):
    return hotpose.build_model(name, **{"frames": 27, "dim": 16, "mlp_hidden": 32, "mhg_depth": 1, **kw}).eval()


def test_seams_hypotheses_in_the_joint_axis():
    model = tiny("mhformer_351")
    x = torch.randn(2, 27, 17, 2)
    tokens = model.backbone.embed(x)
    assert tokens.shape == (2, 27, 3, 16)
    assert model.backbone.pool(tokens).shape == (2, 27, 48)
    assert torch.equal(model.backbone.pool(tokens)[..., 16:32], tokens[:, :, 1])
    assert model.seq2frame and model(x).pose.shape == (2, 27, 17, 3)


def test_tpc_clusters_on_concatenated_hypotheses_with_centre():
    model = tiny("tpc_mhformer_351", keep=9)
    assert not model.feature_pool.averages  # the paper-convention counter adds no pooling cost
    out = model(torch.randn(2, 27, 17, 2))
    assert out.pose.shape == (2, 9, 17, 3)
    assert (out.keep_idx == 13).any(dim=1).all()


def test_hot_recovers_all_frames():
    model = tiny("hot_mhformer_351", keep=9)
    assert model.recover.queries.shape == (1, 27, 16)
    out = model(torch.randn(2, 27, 17, 2))
    assert out.pose.shape == (2, 27, 17, 3) and out.keep_idx.shape == (2, 9)


def test_window_must_have_the_configured_length():
    model = tiny("tpc_mhformer_351", keep=9)
    with pytest.raises(ValueError, match="exactly 27 frames"):
        model(torch.randn(1, 20, 17, 2))


def test_small_windows_use_the_batchnorm_embedding():
    assert isinstance(tiny("mhformer_351").backbone.embeddings[0], torch.nn.Sequential)  # F <= 27
    assert isinstance(tiny("mhformer_351", frames=36).backbone.embeddings[0], torch.nn.Conv1d)


def test_official_reader_infers_sizes():
    g = load_golden("mhformer")
    model = hotpose.load_official("mhformer", g["state_dict"])
    cfg = model.config["backbone_config"]
    assert (cfg["frames"], cfg["dim"], cfg["mlp_hidden"], cfg["depth"], cfg["mhg_depth"], cfg["mhg_mlp_hidden"]) == \
        (45, 32, 64, 3, 4, 90)


def test_official_reader_batchnorm_embedding_variant():
    g = load_golden("mhformer")
    state = dict(g["state_dict"])
    for k in (1, 2, 3):  # the official F <= 27 layout: Sequential(Conv1d, BatchNorm1d, ReLU, Dropout)
        C = state[f"embedding_{k}.bias"].shape[0]
        state[f"embedding_{k}.0.weight"] = state.pop(f"embedding_{k}.weight")
        state[f"embedding_{k}.0.bias"] = state.pop(f"embedding_{k}.bias")
        state.update({f"embedding_{k}.1.weight": torch.ones(C), f"embedding_{k}.1.bias": torch.zeros(C),
                      f"embedding_{k}.1.running_mean": torch.zeros(C), f"embedding_{k}.1.running_var": torch.ones(C),
                      f"embedding_{k}.1.num_batches_tracked": torch.tensor(0)})
    model = hotpose.load_official("mhformer", state)
    assert model.config["backbone_config"]["embed_bn"] is True


def test_tpc_reader_needs_token_num_off_paper_length():
    g = load_golden("tpc_mhformer")
    with pytest.raises(ValueError, match="token_num"):
        hotpose.load_official("tpc_mhformer", g["state_dict"])
    model = hotpose.load_official("tpc_mhformer", g["state_dict"], token_num=15)
    assert (model.hourglass.keep, model.hourglass.prune_at, model.hourglass.centre) == (15, 1, True)


def test_tpc_reader_defaults_to_the_paper_pruning_at_351_frames():
    from hotpose.official import OFFICIAL
    from hotpose.registry import compose

    C, F, H = 16, 351, 32  # only the tensors the reader reads sizes from
    shapes = {"norm_1.weight": (F,), "embedding_1.weight": (C, 34, 1), "regression.1.weight": (51, 3 * C, 1),
              "Transformer_hypothesis.SHR_blocks.0.mlp.fc1.weight": (H, 3 * C),
              "Transformer_hypothesis.SHR_blocks.1.mlp.fc1.weight": (H, 3 * C),
              "Transformer_encoder_1.blocks.0.mlp.fc1.weight": (2 * F, F)}
    model = compose(*OFFICIAL["tpc_mhformer"].build({k: torch.zeros(s) for k, s in shapes.items()}, None, None), {})
    assert (model.hourglass.keep, model.hourglass.prune_at, model.backbone.frames) == (117, 1, 351)
    assert (model.backbone.num_stages, model.backbone.cfg.mhg_depth, model.backbone.cfg.mlp_hidden) == (3, 1, H)
