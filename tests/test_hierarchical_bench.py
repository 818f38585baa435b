"""benchmarks/hierarchical.py: the schedule search (candidates, the exact linear FLOP form, the matched pick)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hb():
    return load_benchmark("hierarchical")


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


def test_doc_and_plot_from_results(hb, tmp_path):
    """The frontier doc, its verdicts and the plot from made-up results of two seeds: a hierarchical point whose P1
    range over the seeds lies below the one-step point's is said to beat it beyond the spread; overlapping ranges
    are a tie."""
    import argparse

    pytest.importorskip("PIL")
    one, two, three = ((1, 9),), ((1, 14), (2, 7)), ((1, 15), (2, 8), (3, 4))
    found = {"mixste": {"base": 240e6, "frames": 27, "first": 1, "floor": 75e6, "picks": [
        {"target": 45.0, "one_step": one, "flops": 130e6, "saving": 45.8, "multi": {2: two, 3: three},
         "ranked": {2: [(list(map(list, two)), 132e6, 0.02)], 3: [(list(map(list, three)), 129e6, 0.04)]}}]}}
    a = argparse.Namespace(stepwise=False, tolerance=1.0, doc=str(tmp_path / "h.md"), plot=str(tmp_path / "h.png"),
                           full_rounds=1, full_runs=1, speed_rounds=1, speed_runs=1, lr_decay=0.9, epochs=1, steps=5,
                           train_subjects="", set=[], runs="runs/hierarchical")
    P = hb.points(found, a)
    assert [p["name"] for p in P] == ["mixste_243", "hot_mixste_243", "hhot2_mixste_s1k14_s2k7",
                                      "hhot3_mixste_s1k15_s2k8_s3k4"]
    p1 = {"mixste_243": (90, 92), "hot_mixste_243": (100, 102), "hhot2_mixste_s1k14_s2k7": (95, 97),
          "hhot3_mixste_s1k15_s2k8_s3k4": (101, 104)}
    per_seed = {f"{n}@{s}": {"seed": s, "p1": v[s - 1], "p2": v[s - 1] - 10, "train_s": 1.0, "eval_s": 1.0,
                             "split": {"speed": 0.5}} for n, v in p1.items() for s in (1, 2)}
    R = hb.X.aggregate(per_seed)
    flops = {"mixste_243": 240e6, "hot_mixste_243": 130e6, "hhot2_mixste_s1k14_s2k7": 132e6,
             "hhot3_mixste_s1k15_s2k8_s3k4": 129e6}
    E = {n: {"params": 1e5, "paper": f, "full": f * 1.1, "paper_saving": 100 * (1 - f / 240e6),
             "full_saving": 100 * (1 - f / 240e6), "speedup": 1.0 + (240e6 - f) / 240e6} for n, f in flops.items()}
    text = "\n".join(hb.verdicts(P, R, E))
    assert "`hhot2_mixste_s1k14_s2k7` (2 steps, recovery at once) **beats** `hot_mixste_243`" in text
    assert "beyond the seed spread" in text
    assert "`hhot3_mixste_s1k15_s2k8_s3k4` (3 steps, recovery at once) **ties with**" in text
    hb.plot(P, R, E, Path(a.plot))
    assert 0 < Path(a.plot).stat().st_size < 60_000
    doc = hb.render(a, found, [], P, R, E, "now", 1.0)
    assert "![FLOPs vs P1](h.png)" in doc and "| `hhot2_mixste_s1k14_s2k7` |" in doc
    assert "hotpose evaluate runs/hierarchical/seed1/hhot2_mixste_s1k14_s2k7 --threads 1" in doc


def test_collapsed_runs_are_named_and_left_out_of_the_means(hb):
    """A seed whose validation P1 never fell below COLLAPSED_MM is left out of its point's mean and named in the
    doc; a point with no other seed keeps it; a run that learned, however badly, stays in."""
    def run(name, seed, p1, val):
        return {"seed": seed, "p1": p1, "p2": p1 - 3, "train_s": 1.0, "eval_s": 1.0,
                "history": [{"epoch": e + 1, "val_p1_mm": v} for e, v in enumerate(val)]}

    per_seed = {"a@1": run("a", 1, 100.0, [300, 120, 101]), "a@2": run("a", 2, 362.0, [376, 363, 367]),
                "a@3": run("a", 3, 104.0, [260, 240, 105]), "b@1": run("b", 1, 360.0, [370, 365])}
    assert [hb.collapsed(per_seed[k]) for k in ("a@1", "a@2", "a@3", "b@1")] == [False, True, False, True]
    kept, bad = hb.split_collapsed(per_seed)
    assert set(bad) == {"a@2"} and set(kept) == {"a@1", "a@3", "b@1"}
    R = hb.X.aggregate(kept)
    assert R["a"]["p1"] == pytest.approx(102.0) and R["a"]["seeds"] == [1, 3]
    note = hb.collapsed_note(bad)
    assert "`a` seed 2 (validation P1 363-376 mm over its 3 epochs, test P1 362.0 mm)" in note
    assert hb.collapsed_note({}) == ""
