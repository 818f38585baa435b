"""The hierarchical hourglass: a schedule of pruning steps, recovery at once or level by level."""
from __future__ import annotations

import pytest
import torch

from hotpose.efficiency import count_flops, count_params
from hotpose.hourglass.config import HourglassConfig
from hotpose.registry import build_model

TINY = dict(frames=27, dim=32, mlp_hidden=64, depth=4)
SCHEDULE = [[1, 18], [2, 9], [3, 5]]
CENTRE = 13


def x_in(seed=0, batch=3):
    return torch.randn(batch, 27, 17, 2, generator=torch.Generator().manual_seed(seed))


def build(name="hot_mixste_243", seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(name, **{**TINY, **kw}).eval()


def test_one_step_schedule_is_the_one_step_model():
    """A schedule of one step builds the same parameters and gives the same output as prune_at / keep, and the
    config of a one-step model does not mention the schedule (stored configs and golden files stay as they were)."""
    plain = build(keep=9, prune_at=2)
    step = build(schedule=[[2, 9]])
    assert [n for n, _ in plain.named_parameters()] == [n for n, _ in step.named_parameters()]
    x = x_in()
    with torch.random.fork_rng():
        torch.manual_seed(5)
        a = plain(x)
        torch.manual_seed(5)
        b = step(x)
    assert torch.equal(a.pose, b.pose) and torch.equal(a.keep_idx, b.keep_idx)
    assert a.levels is not None and len(a.levels) == 1 and torch.equal(a.levels[0], a.keep_idx)
    assert "schedule" not in plain.config["hourglass"] and "stepwise_recovery" not in plain.config["hourglass"]
    assert step.config["hourglass"]["schedule"] == [[2, 9]]


@pytest.mark.parametrize("pruner", ["tpc", "uniform", "attention", "motion"])
def test_levels_nest_and_replay(pruner):
    """Every step keeps frames the step before kept (input-window indices); keep_idx is the deepest level; passing
    the levels back (flip test-time augmentation) repeats every selection, and the centre, when forced, survives
    every step."""
    model = build("tpc_mixste_243", schedule=SCHEDULE, pruner=pruner)
    x = x_in(1)
    out = model(x)
    assert [tuple(lv.shape) for lv in out.levels] == [(3, 18), (3, 9), (3, 5)]
    assert torch.equal(out.keep_idx, out.levels[-1]) and out.pose.shape == (3, 5, 17, 3)
    for a, b in zip(out.levels, out.levels[1:]):
        assert all(set(b[i].tolist()) <= set(a[i].tolist()) for i in range(3))
    assert all(bool((lv == CENTRE).any(dim=1).all()) for lv in out.levels)
    again = model(x, keep_idx=out.levels)
    assert torch.equal(again.pose, out.pose)
    assert all(torch.equal(a, b) for a, b in zip(again.levels, out.levels))
    # another input with the first input's levels: the given frames are used, not selected again
    other = model(x_in(2), keep_idx=out.levels)
    assert all(torch.equal(a, b) for a, b in zip(other.levels, out.levels))


def test_given_levels_are_checked():
    model = build("tpc_mixste_243", schedule=SCHEDULE)
    out = model(x_in())
    with pytest.raises(ValueError, match="prunes in 3 steps: pass keep_idx as the output's levels"):
        model(x_in(), keep_idx=out.keep_idx)
    with pytest.raises(ValueError, match="holds 2 levels"):
        model(x_in(), keep_idx=out.levels[:2])
    bad = [lv.clone() for lv in out.levels]
    outside = [f for f in range(27) if f not in bad[1][0].tolist()][0]  # a frame step 2 did not keep
    bad[2][0, 0] = outside
    bad[2] = bad[2].sort(dim=1).values
    with pytest.raises(ValueError, match=r"keep_idx\[2\] must be a subset of keep_idx\[1\]"):
        model(x_in(), keep_idx=bad)


@pytest.mark.parametrize("stepwise", [False, True])
def test_recovery_restores_every_frame(stepwise):
    model = build(schedule=SCHEDULE, stepwise_recovery=stepwise)
    out = model(x_in())
    assert out.pose.shape == (3, 27, 17, 3)
    tra = [m for m in model.modules() if type(m).__name__ == "TokenRecoveringAttention"]
    assert len(tra) == (3 if stepwise else 1)
    # the default init gives every level's queries the code of time (tests/test_tra_init.py holds the one-step case)
    assert all(float(m.queries.detach().abs().sum()) > 0 for m in tra)


def test_stepwise_interpolation_follows_time():
    """Level-by-level linear recovery interpolates at the frames' times, not their ranks: a signal linear in time is
    recovered exactly, whatever frames each level kept."""
    model = build(schedule=SCHEDULE, recoverer="linear", pos_token=False, stepwise_recovery=True)
    levels = model(x_in()).levels
    t = torch.arange(27, dtype=torch.float32)
    signal = (0.5 + 0.1 * t)[None, :, None, None].expand(3, 27, 17, 3)
    deepest = torch.gather(signal, 1, levels[-1][:, :, None, None].expand(-1, -1, 17, 3))
    out = model._recover(deepest, list(levels), 27)
    inside = (t >= levels[-1].min()) & (t <= levels[-1].max())  # beyond the kept frames the ends are held
    for i in range(3):
        lo, hi = int(levels[-1][i].min()), int(levels[-1][i].max())
        torch.testing.assert_close(out[i, lo:hi + 1], signal[i, lo:hi + 1])
    assert inside.any()


def test_trains_every_level():
    model = build(schedule=SCHEDULE, stepwise_recovery=True).train()
    out = model(x_in())
    out.pose.square().mean().backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.level_pos_tokens)
    assert all(p.grad is not None for p in model.recover_steps.parameters())


@pytest.mark.parametrize("kw, words", [
    (dict(schedule=[[1, 9], [2, 18]]), "kept frames decrease"),
    (dict(schedule=[[2, 18], [2, 9]]), "stages must increase"),
    (dict(schedule=[[1, 18], [4, 9]]), "last stage=4 but the backbone has 4 stages"),
    (dict(schedule=[[0, 18], [2, 9]]), "can prune from stage 1 on"),
    (dict(schedule=[[1, 30], [2, 9]]), "cannot keep 30 of 27"),
    (dict(schedule=[]), "schedule is empty"),
    (dict(schedule=[[1, 18], [2, 9]], keep=7), "keep=7 contradicts the schedule"),
])
def test_bad_schedules(kw, words):
    with pytest.raises(ValueError, match=words):
        build(**kw)


def test_stepwise_needs_a_recoverer():
    with pytest.raises(ValueError, match="stepwise_recovery needs a recoverer"):
        HourglassConfig(recoverer="none", schedule=SCHEDULE, stepwise_recovery=True)


def test_registered_counts():
    """The registered hierarchical models at full size, in the paper's FLOP convention, against MixSTE, one-step
    HoT and MotionBERT (figures of this implementation, computed, not from a paper)."""
    flops = {n: count_flops(build_model(n), "paper") / 1e9 for n in
             ("mixste_243", "hot_mixste_243", "hhot_mixste_243", "motionbert_243", "hhot_motionbert_243")}
    assert flops["hhot_mixste_243"] == pytest.approx(133.76, abs=0.005)
    assert flops["hhot_motionbert_243"] == pytest.approx(53.56, abs=0.005)
    assert flops["hhot_mixste_243"] < flops["hot_mixste_243"] < flops["mixste_243"]
    assert count_params(build(schedule=SCHEDULE, stepwise_recovery=True)) > count_params(build(schedule=SCHEDULE))
