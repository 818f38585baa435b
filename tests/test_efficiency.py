"""Params and FLOPs reproduce the paper's table (paper convention) and SPEC section 1 (full convention)."""
from __future__ import annotations

import pytest

import hotpose
from hotpose import efficiency
from hotpose.paper import PAPER

# name -> (params M, paper-convention GFLOPs, full-convention GFLOPs), SPEC section 1 (three decimals)
SPEC = {
    "mixste_243": (33.7838, 277.248, 294.845),
    "hot_mixste_243": (35.0003, 167.517, 176.178),
    "tpc_mixste_243": (33.7838, 251.288, 266.847),
    "tpc_mixste_243_81": (33.7838, 161.733, 169.709),
}


@pytest.mark.parametrize("name", sorted(SPEC))
def test_mixste_family_matches_paper(name):
    model = hotpose.build_model(name)
    params = efficiency.count_params(model) / 1e6
    paper = efficiency.count_flops(model, "paper") / 1e9
    full = efficiency.count_flops(model, "full") / 1e9
    assert round(params, 2) == PAPER[name].params
    assert round(paper, 2) == PAPER[name].flops
    assert params == pytest.approx(SPEC[name][0], abs=1e-4)
    assert paper == pytest.approx(SPEC[name][1], abs=1e-3)
    assert full == pytest.approx(SPEC[name][2], abs=1e-3)


@pytest.mark.parametrize("name", ["hot_mixste_243_nearest", "hot_mixste_243_linear"])
def test_recovery_ablation_matches_paper(name):
    model = hotpose.build_model(name)
    assert round(efficiency.count_params(model) / 1e6, 2) == PAPER[name].params
    assert round(efficiency.count_flops(model) / 1e9, 2) == PAPER[name].flops


def test_throughput_counts_output_frames():
    seq = hotpose.build_model("hot_mixste_243", dim=16, mlp_hidden=32, frames=27, keep=9, depth=4)
    s2f = hotpose.build_model("tpc_mixste_243", dim=16, mlp_hidden=32, frames=27, keep=9, depth=4, prune_at=2)
    assert efficiency.output_frames(seq) == 27 and efficiency.output_frames(s2f) == 1
    r = efficiency.measure_throughput(seq, runs=2)
    assert r["fps"] == pytest.approx(27 / r["seconds"])


def test_interleaved_timing_calls_each_in_turn_after_its_warmup():
    calls = []
    times = efficiency.time_interleaved([lambda: calls.append("a"), lambda: calls.append("b")], runs=3, warmup=2)
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3
    assert [len(t) for t in times] == [3, 3] and all(x >= 0 for t in times for x in t)


def test_flop_convention_is_checked():
    with pytest.raises(ValueError, match="convention"):
        efficiency.count_flops(hotpose.build_model("mixste_243", dim=16, mlp_hidden=16, depth=2), "thop")
