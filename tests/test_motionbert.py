"""MotionBERT (DSTformer) through the shared hourglass: the paper's params/FLOPs, windows shorter than the temporal
embedding, the initialisation, and MotionBERT's own checkpoint format."""
from __future__ import annotations

import pytest
import torch

import hotpose
from hotpose import efficiency
from hotpose.paper import PAPER

from conftest import load_golden

# name -> (params M, paper-convention GFLOPs, full-convention GFLOPs), SPEC section 1 (three decimals)
SPEC = {
    "motionbert_243": (16.0015, 131.094, 142.093),
    "hot_motionbert_243": (16.3477, 63.211, 66.857),
    "tpc_motionbert_243": (16.0015, 91.388, 97.529),
    "tpc_motionbert_243_81": (16.0015, 61.037, 64.340),
}
TINY = dict(frames=27, dim=32, mlp_hidden=64, dim_rep=32, depth=3)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_params_and_flops_match_paper(name):
    model = hotpose.build_model(name)
    params = efficiency.count_params(model) / 1e6
    paper = efficiency.count_flops(model, "paper") / 1e9
    assert round(params, 2) == PAPER[name].params
    assert params == pytest.approx(SPEC[name][0], abs=1e-4)
    assert paper == pytest.approx(SPEC[name][1], abs=1e-3)
    # TPC w. MotionBERT is inferred (SPEC section 1): 91.388 G, the paper prints 91.38
    assert round(paper, 2) == PAPER[name].flops or name == "tpc_motionbert_243" and round(paper, 2) == 91.39


def test_full_convention_flops():
    model = hotpose.build_model("hot_motionbert_243")
    assert efficiency.count_flops(model, "full") / 1e9 == pytest.approx(SPEC["hot_motionbert_243"][2], abs=1e-3)


def test_full_size_runs_below_243_frames():
    model = hotpose.build_model("motionbert_243").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 27, 17, 3))
    assert out.pose.shape == (1, 27, 17, 3) and torch.isfinite(out.pose).all()


@pytest.mark.parametrize("name", ["motionbert_243", "hot_motionbert_243"])
def test_short_window_uses_the_first_frames_of_the_temporal_embedding(name):
    """At F < frames the model equals one built for F whose temporal embedding (and TRA queries) are the first F."""
    F = 15
    long = hotpose.build_model(name, **TINY, **({"keep": 9} if name.startswith("hot") else {})).eval()
    short = hotpose.build_model(name, **{**TINY, "frames": F}, **({"keep": 9} if name.startswith("hot") else {}))
    state = long.state_dict()
    state["backbone.temp_embed"] = state["backbone.temp_embed"][:, :F]
    if "recover.queries" in state:
        state["recover.queries"] = state["recover.queries"][:, :F]
    short.load_state_dict(state)
    x = torch.randn(2, F, 17, 3)
    with torch.no_grad():
        a = long(x)
        b = short.eval()(x, keep_idx=a.keep_idx)
    assert a.pose.shape == (2, F, 17, 3)
    torch.testing.assert_close(a.pose, b.pose)


def test_init_follows_motionbert():
    bb = hotpose.build_model("motionbert_243", **TINY).backbone
    for layer in bb.fusion:  # both streams weighted 1/2 at the start
        assert torch.all(layer.weight == 0) and torch.all(layer.bias == bb.cfg.fusion_bias)
    for layer in (bb.joints_embed, bb.st_spatial[0].attn.qkv, bb.ts_temporal[1].mlp.fc2, bb.head_proj):
        assert torch.all(layer.bias == 0)
        assert layer.weight.abs().max() <= 2.0 and 0.01 < layer.weight.std() < 0.03  # trunc-normal, std 0.02
    assert bb.temp_embed.std() > 0.01 and bb.pos_embed.std() > 0.01
    torch.testing.assert_close(bb.final_norm.weight, torch.ones_like(bb.final_norm.weight))


def test_pool_sums_joints_in_the_official_order():
    """The pruner's joint mean is summed in the official order (DPC-kNN near-ties depend on the last bit)."""
    model = hotpose.build_model("hot_motionbert_243", **TINY, keep=9).eval()
    x = torch.randn(2, 27, 17, 32)
    official = x.permute(0, 1, 3, 2).contiguous().mean(dim=-1)
    torch.testing.assert_close(model.backbone.pool(x), official, rtol=0, atol=0)
    assert model.feature_pool.averages  # counted as the paper's thop counts a joint average


def _as_motionbert_release(state: dict) -> dict:
    """A state dict in the form of MotionBERT's released checkpoints (DataParallel names under ``model_pos``)."""
    return {"epoch": 59, "lr": 3.5e-4, "min_loss": 39.2,
            "optimizer": {"state": {}, "param_groups": [{"lr": 3.5e-4, "params": [0, 1]}]},
            "model_pos": {f"module.{k}": v for k, v in state.items()}}


def test_motionbert_release_checkpoint_loads(tmp_path):
    g = load_golden("motionbert")
    path = tmp_path / "best_epoch.bin"
    torch.save(_as_motionbert_release(g["state_dict"]), path)
    for source in (_as_motionbert_release(g["state_dict"]), path):
        model = hotpose.load_official("motionbert", source)
        with torch.no_grad():
            torch.testing.assert_close(model(g["input"]).pose, g["output"], atol=1e-5, rtol=0)


def test_reader_infers_sizes_and_checks_token_num():
    g = load_golden("hot_motionbert")
    model = hotpose.load_official("hot_motionbert", g["state_dict"])
    cfg = model.config["backbone_config"]
    assert (cfg["frames"], cfg["dim"], cfg["mlp_hidden"], cfg["dim_rep"], cfg["depth"]) == (81, 32, 128, 64, 5)
    assert (model.hourglass.keep, model.hourglass.prune_at) == (27, 1)
    with pytest.raises(ValueError, match="token_num"):
        hotpose.load_official("hot_motionbert", g["state_dict"], token_num=20)
    state = dict(g["state_dict"])
    del state["ts_attn.4.bias"]
    with pytest.raises(ValueError, match="missing"):
        hotpose.load_official("hot_motionbert", state)
