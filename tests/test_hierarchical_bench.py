"""benchmarks/hierarchical.py: the schedule search (candidates, the exact linear FLOP form, the matched pick)."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hb():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("hierarchical_bench", ROOT / "benchmarks" / "hierarchical.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_candidates(hb):
    c = list(hb.candidates(27, 1, 4))
    assert len(c) == 3 * 26 + 3 * math.comb(26, 2) + math.comb(26, 3)
    assert len(set(c)) == len(c)
    for s in c:
        assert all(a[0] < b[0] and a[1] > b[1] for a, b in zip(s, s[1:]))
        assert 1 <= s[0][0] <= 3 and 1 <= s[-1][1] and s[0][1] <= 26


def test_features_follow_the_frames(hb):
    """Frames per prunable stage, frames pooled by the pruning steps, frames TRA's keys come from."""
    assert hb.features(((1, 15), (2, 8), (3, 4)), 27, 1, 4) == [1, 15, 8, 4, 27 + 15 + 8, 4]
    assert hb.features(((2, 9),), 27, 1, 4) == [1, 27, 9, 9, 27, 9]


class Linear:
    """A stand-in FLOP model: 10 per frame at each of the stages 1..3."""
    base, frames, first, stages = 1000.0, 27, 1, 4

    def __call__(self, s):
        present, at, total = 27, dict(s), 0
        for st in range(1, 4):
            present = at.get(st, present)
            total += 10 * present
        return total


def test_pick_prefers_the_even_pyramid_within_tolerance(hb):
    fm = Linear()
    target = fm(((1, 15), (2, 8), (3, 4)))  # 270
    s, ranked = hb.pick(fm, target, 3, tolerance=1.0)  # within 10 FLOPs: n1 + n2 + n3 = 26, 27 or 28
    assert all(abs(f - target) <= 10 for _, f in ranked)
    assert s == ranked[0][0]
    assert hb.evenness(s, 27) == min(hb.evenness(r, 27) for r, _ in ranked)
    # no candidate within the tolerance: the nearest
    s0, ranked0 = hb.pick(fm, 5.0, 3, tolerance=0.0)
    assert s0 == ((1, 3), (2, 2), (3, 1)) and ranked0[0][1] == 60


def test_evenness(hb):
    assert hb.evenness(((1, 9),), 27) == 0
    assert hb.evenness(((1, 9), (2, 3), (3, 1)), 27) == pytest.approx(0, abs=1e-12)
    assert hb.evenness(((1, 20), (2, 2)), 27) > hb.evenness(((1, 9), (2, 3)), 27)


def test_names_and_args(hb):
    assert hb.schedule_name([[1, 15], [2, 8], [3, 4]]) == "hhot3_mixste_s1k15_s2k8_s3k4"
    assert hb.schedule_name([[1, 6]]) == "hot_mixste_s1k6"
    assert hb.schedule_name([[1, 14], [2, 7]], True, "motionbert") == "hhot2_motionbert_s1k14_s2k7_stepwise"
    d = {**hb.SIZE, "schedule": [[1, 14], [2, 7]], "stepwise_recovery": True}
    assert yaml.safe_load(hb.yaml_args(d)) == d


def test_flop_form_is_exact(hb):
    """The fitted linear form gives count_flops to the FLOP on schedules outside its basis (1, 2 and 3 steps)."""
    from hotpose.efficiency import count_flops

    fm = hb.FlopModel("mixste")
    for s in (((2, 20),), ((1, 17), (3, 6)), ((1, 12), (2, 5), (3, 2))):
        assert fm(s) == count_flops(hb.build("mixste", s), "paper")
    assert fm.check([((1, 9),)]) == len(fm.counted)
    assert fm.saving(fm(((1, 9),))) == pytest.approx(45.75, abs=0.01)
