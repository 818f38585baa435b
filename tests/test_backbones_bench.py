"""benchmarks/backbones.py: the eight short runs are the models and configs the doc says, their records land where
``--keep`` looks for them, and the doc's sections render (without training anything)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from hotpose.backbones.strided import ste_lengths
from hotpose.efficiency import count_params
from hotpose.engine.config import load_config
from hotpose.registry import build_model
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bb():
    return load_benchmark("backbones")


def args(**kw) -> argparse.Namespace:
    d = dict(runs="runs/backbones", epochs=10, steps=100, lr_decay=0.9, jobs=2, keep=False, set=[])
    d.update(kw)
    return argparse.Namespace(**d)


def test_models_are_pairs_of_small_27_frame_models(bb):
    fams = [f for _, _, f, _ in bb.MODELS]
    assert len(bb.MODELS) == 8 and all(fams.count(f) == 2 for f in fams)
    for name, kw, fam, _ in bb.MODELS:
        m = build_model(name, **kw)
        assert m.backbone.frames == 27
        assert 0.1e6 < count_params(m) < 0.7e6, (name, count_params(m))  # the experiments' models: 0.27-0.57 M
        plain, hg = [n for n, _, f, _ in bb.MODELS if f == fam]
        assert (m.hourglass is None) == (name == plain)
        if name == hg:
            assert m.hourglass.keep == 9
        strides = getattr(m.backbone.cfg, "resolved_strides", None)
        if strides is not None:  # Strided / P-STMO: the STE takes the tokens it gets (27 or the 9 kept) to one
            assert ste_lengths(9 if m.hourglass else 27, strides())[-1] == 1
    # one forward pass of each hourglass model on two windows: the centre frame among the kept ones
    torch.manual_seed(0)
    for name, kw, _, _ in bb.MODELS:
        if "keep" in kw:
            m = build_model(name, **kw).eval()
            with torch.no_grad():
                out = m(torch.randn(2, 27, 17, 2))
            assert out.keep_idx.shape == (2, 9)
            if name.startswith("tpc_"):
                assert (out.keep_idx == 13).any(dim=1).all()


def test_overrides_build_the_runs_and_records_land_under_backbones(bb):
    a = args()
    for name, kw, _, _ in bb.MODELS:
        ov = bb.overrides(name, kw, a)
        cfg = load_config(bb.ex.BASE, ov)
        assert cfg.model.name == name
        assert build_model(cfg.model.name, **cfg.model.args).config == build_model(name, **kw).config
        assert (cfg.train.epochs, cfg.train.steps_per_epoch, cfg.train.batch_size, cfg.train.seed) == (10, 100, 32, 1)
        assert cfg.train.loss == "mpjpe" and cfg.train.aux_weight == 1.0
        assert cfg.eval.readout == ("seq2seq" if "stcformer" in name else "auto")
        assert cfg.out == f"runs/backbones/seed1/{name}"
        rec = bb.ex.record_path(Path(cfg.out))
        assert rec == ROOT / "benchmarks" / "results" / "backbones" / "seed1" / f"{name}.json"
        # the data section is the experiments' own (the same windows, in the same order)
        assert cfg.to_dict()["data"] == load_config(bb.ex.BASE).to_dict()["data"]
    assert bb.overrides("strided_27", bb.MODELS[4][1], args(set=["data.val_fraction=0.005"]))[-1] \
        == "data.val_fraction=0.005"


def fake_result(readout: str, p1: float) -> dict:
    hist = [{"step": 100 * (i + 1), "val_p1_mm": 100.0 - i} for i in range(3)]
    r = {"p1": p1, "p2": p1 - 20, "train_s": 60.0, "eval_s": 10.0, "readout": readout, "history": hist,
         "params": 300e3, "flops_paper": 27e6, "flops_full": 30e6, "frames": 27}
    if readout == "seq2seq":
        r["split"] = {"speed": 0.5}
    return r


def test_accuracy_section_renders_with_and_without_reference_records(bb, tmp_path, monkeypatch):
    a = args()
    R = {n: fake_result("seq2seq" if "stcformer" in n else "seq2frame", 90.0 + i)
         for i, (n, *_) in enumerate(bb.MODELS)}
    ours = load_config(bb.ex.BASE, bb.overrides("strided_27", bb.MODELS[4][1], a)).to_dict()
    monkeypatch.setattr(bb, "ROOT", tmp_path)
    assert bb.reference("mixste_243", ours) is None
    text = bb.accuracy_section(R, {n: None for n in bb.REFERENCES}, a, "now", 60.0)
    assert "Reference rows not shown" in text and "one seed (1)" in text
    # with and without the hourglass: P1 difference and FLOP saving as computed from the results
    assert "`tpc_strided_351` vs `strided_27`: P1 95.0 vs 94.0 mm (+1.0 mm" in text
    assert text.count("hotpose train configs/experiments/base.yaml") == 8
    # a reference record (one setting changed, so the difference is reported)
    cfg = load_config(bb.ex.BASE, ["model.name=mixste_243", "model.args={frames: 27, dim: 32, mlp_hidden: 64, "
                                   "depth: 2}", "train.epochs=9"]).to_dict()
    rec = tmp_path / "benchmarks" / "results" / "experiments" / "seed1" / "mixste_243.json"
    rec.parent.mkdir(parents=True)
    rec.write_text(json.dumps({"config": cfg, "model_config": {}, "result": fake_result("seq2seq", 80.0)}))
    ref = bb.reference("mixste_243", ours)
    assert ref["diffs"] == ["train.epochs 9 (ours 10)"]
    assert ref["params"] == count_params(build_model("mixste_243", frames=27, dim=32, mlp_hidden=64, depth=2))
    text = bb.accuracy_section(R, {"mixste_243": ref, "hot_mixste_243": None}, a, "now", 60.0)
    assert "| `mixste_243` | MixSTE (reference)" in text and "train.epochs 9 (ours 10)" in text


def test_efficiency_notes_measure_what_they_say(bb):
    # PoseFormer's LayerNorms: 8 FLOPs per normalised element (4 MACs with the affine), counted on a small model
    m = build_model("poseformer_27", frames=9, joint_dim=8, depth=2)
    ln = [mod for mod in m.modules() if isinstance(mod, torch.nn.LayerNorm)]
    sizes = {id(mod): 0 for mod in ln}
    hooks = [mod.register_forward_hook(lambda mod, i, o: sizes.__setitem__(id(mod), sizes[id(mod)] + i[0].numel()))
             for mod in ln]
    with torch.no_grad():
        m.eval()(torch.randn(1, 9, 17, 2))
    for h in hooks:
        h.remove()
    assert bb.layernorm_flops(m) == 8 * sum(sizes.values()) > 0
    # grouped-convolution biases: one addition (2 FLOPs) per output element, none for ungrouped convolutions
    s = build_model("stcformer_27", dim=32, depth=1)
    outs = []
    convs = [mod for mod in s.modules() if isinstance(mod, torch.nn.Conv2d) and mod.groups > 1]
    hooks = [mod.register_forward_hook(lambda mod, i, o: outs.append(o.numel())) for mod in convs]
    with torch.no_grad():
        s.eval()(torch.randn(1, 27, 17, 2))
    for h in hooks:
        h.remove()
    assert convs and bb.grouped_conv_bias_flops(s) == 2 * sum(outs)
    assert bb.grouped_conv_bias_flops(build_model("strided_27", dim=32, ffn_hidden=64)) == 0


def test_efficiency_only_keeps_a_written_accuracy_section_but_not_the_placeholder(bb, tmp_path):
    doc = tmp_path / "backbones.md"
    assert bb.keep_accuracy(doc) is None
    doc.write_text("# t\n\n" + bb.EFFICIENCY_HEADING + "old\n" + bb.ACCURACY_HEADING + "\nNot run in this checkout\n")
    assert bb.keep_accuracy(doc) is None
    doc.write_text("# t\n\n" + bb.EFFICIENCY_HEADING + "old\n" + bb.ACCURACY_HEADING + "\nWritten by a run\n")
    assert bb.keep_accuracy(doc) == bb.ACCURACY_HEADING + "\nWritten by a run\n"
