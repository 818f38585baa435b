"""benchmarks/lifter_augment.py: the variants change only the augmentations they name, and the doc reads the
records (made-up figures, no training)."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from conftest import load_benchmark

from hotpose.engine.config import load_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def la():
    return load_benchmark("lifter_augment")


def args(**kw):
    d = dict(epochs=20, steps=100, seeds=1, model_args="{frames: 27, dim: 64, mlp_hidden: 128, depth: 4, keep: 9, "
             "prune_at: 1, drop_path: 0.0}", runs="runs/lifter_augment", only="", jobs=2, keep=True, render=False,
             doc="docs/lifter_augmentation.md")
    d.update(kw)
    return argparse.Namespace(**d)


def test_each_variant_adds_one_augmentation(la, monkeypatch):
    monkeypatch.chdir(ROOT)
    full = load_config(la.CONFIG)
    cfgs = {n: load_config(la.CONFIG, la.overrides(n, args(), seed=2)) for n, _, _ in la.VARIANTS}
    assert list(cfgs) == ["h36m", "cameras", "bodies", "poses"]
    h = cfgs["h36m"].data
    assert "virtual" not in h.camera_subject and h.placement is h.bone_scale is h.pose_aug is None
    assert "virtual" in cfgs["cameras"].data.camera_subject and cfgs["cameras"].data.placement is None
    assert cfgs["bodies"].data.placement == full.data.placement and cfgs["bodies"].data.pose_aug is None
    assert cfgs["poses"].data == full.data  # the last variant is the default config's data
    for c in cfgs.values():  # the rest is the same everywhere: test split, noise, recipe but the budget, size
        assert (c.data.test_subjects, c.data.test_camera_subject, c.data.noise_px) == \
            (full.data.test_subjects, full.data.test_camera_subject, full.data.noise_px)
        assert c.train.seed == 2 and c.train.epochs == 20 and c.model.args["frames"] == 27
        # the learning rate ends where the default config's does
        assert c.train.lr_decay ** 20 == pytest.approx(full.train.lr_decay ** full.train.epochs, rel=1e-4)


def test_doc_from_records(la):
    def scores(p1, placed, det, other):
        return {"plain": {"p1": p1, "p2": p1 * 0.7}, "placed + bodies": {"p1": placed},
                "detector-like": {"p1": det}, "other viewpoints": {"p2": other}}

    runs = {(n, 1): {"history": [{"step": 1000, "epoch_cpu_s": 300.0}, {"step": 2000, "epoch_cpu_s": 340.0}]}
            for n, _, _ in la.VARIANTS}
    sc = {("h36m", 1): scores(60.0, 90.0, 65.0, 63.0), ("cameras", 1): scores(61.0, 80.0, 66.0, 45.0),
          ("bodies", 1): scores(58.0, 61.0, 63.0, 43.0)}
    text = la.render(args(), runs, sc)
    assert "| `h36m` | Human3.6M training cameras only | **60.0** | 42.0 | 90.0 (+50%) | 65.0 | 63.0 (+50%) | 32 |" \
        in text
    assert "`poses`" not in text  # not scored yet: no row
    assert "`h36m` -> `cameras`: plain P1 +1.0 mm, placed + bodies P1 -10.0 mm, detector-like P1 +1.0 mm, other " \
           "viewpoints P2 -18.0 mm." in text
    assert "One seed" in text
