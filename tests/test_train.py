"""Configs, the training loop and the train/evaluate commands on tiny fixture files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import hotpose
from hotpose.cli import main
from hotpose.data.synthetic import write_3dhp, write_h36m
from hotpose.engine import checkpoint as ckpt
from hotpose.engine.config import ConfigError, apply_overrides, as_overrides, dump_config, load_config
from hotpose.engine.evaluate import evaluate_path
from hotpose.engine.train import lr_factor, train, training_seconds

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(frames=27, dim=32, mlp_hidden=64, depth=4, keep=9, prune_at=2, drop_path=0.0)


def tiny_config(folder: Path, data_root: Path, name: str = "hot_mixste_243", args: dict | None = None,
                **sections) -> Path:
    """Write a tiny YAML config for the fixture data in ``data_root``; ``sections`` update its sections."""
    cfg = {"model": {"name": name, "args": dict(TINY if args is None else args)},
           "data": {"kind": "h36m", "root": str(data_root), "train_subjects": ["S1", "S5"], "val_subjects": ["S9"],
                    "test_subjects": ["S11"]},
           "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "seed": 7},
           "eval": {"batch_size": 16}, "out": str(folder / "run")}
    for key, value in sections.items():
        cfg[key].update(value) if isinstance(value, dict) else cfg.__setitem__(key, value)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def h36m_root(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("h36m")
    write_h36m(folder, frames=40)
    return folder


def test_config_errors_are_one_clear_message(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: 1e-3\n  learning_rate: 2\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) train.learning_rate; valid keys in train: epochs"):
        load_config(bad)
    with pytest.raises(ConfigError, match="top-level"):
        load_config(None, ["trainer.lr=1"])
    with pytest.raises(ConfigError, match=r"train.epochs: expected int, got 'many'"):
        load_config(None, ["train.epochs=many"])
    with pytest.raises(ConfigError, match="bone_weight must be >= 0"):
        load_config(None, ["train.bone_weight=-1"])
    with pytest.raises(ConfigError, match="data.kind must be one of"):
        load_config(None, ["data.kind=coco"])
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hotpose train: unknown key(s) train.learning_rate") and "\n" not in err
    missing = tiny_config(tmp_path, tmp_path / "nowhere")
    assert main(["train", str(missing), "--out", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("data_3d_h36m.npz: file not found") and "\n" not in err
    # overrides may also follow the options
    assert main(["train", str(missing), "--threads", "1", "train.epochs=many", "--out", str(tmp_path / "r3")]) == 2
    assert "train.epochs: expected int, got 'many'" in capsys.readouterr().err


def test_a_config_starts_from_its_base_and_replaces_whole_keys(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "root.yaml").write_text(
        "model:\n  name: hot_mixste_243\n  args: {frames: 27, dim: 32, keep: 9}\n"
        "train:\n  lr: 1.0e-3\n  epochs: 7\n  batch_size: 16\nout: runs/root\n")
    (tmp_path / "sub" / "mid.yaml").write_text(
        "base: ../root.yaml\nmodel:\n  args: {frames: 27}\ntrain:\n  epochs: 3\n")
    (tmp_path / "leaf.yaml").write_text("base: sub/mid.yaml\ntrain:\n  lr: 5.0e-4\nout: runs/leaf\n")
    cfg = load_config(tmp_path / "leaf.yaml", ["train.batch_size=8"])
    assert cfg.model.name == "hot_mixste_243" and cfg.model.args == {"frames": 27}   # args replaced, not merged
    assert (cfg.train.lr, cfg.train.epochs, cfg.train.batch_size, cfg.out) == (5e-4, 3, 8, "runs/leaf")
    assert "base" not in yaml.safe_load(dump_config(cfg))
    # a chain that comes back, a base that is not there, a base that is not a path: one clear message each
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="leads back to itself"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "orphan.yaml").write_text("base: gone.yaml\n")
    with pytest.raises(ConfigError, match=r"gone.yaml: config file not found \(the base of .*orphan.yaml\)"):
        load_config(tmp_path / "orphan.yaml")
    (tmp_path / "odd.yaml").write_text("base: [x]\n")
    with pytest.raises(ConfigError, match="base: expected the path of another config file"):
        load_config(tmp_path / "odd.yaml")
    assert main(["train", str(tmp_path / "orphan.yaml")]) == 2
    assert "config file not found (the base of" in capsys.readouterr().err


def test_the_overrides_between_two_configs_read_back_to_the_second():
    """as_overrides names every changed leaf once, as `section.key=value` text that apply_overrides reads back
    (model.args as one value); a config against itself has none."""
    given = ["train.epochs=12", "train.lr=1.5e-05", "data.train_subjects=[C1, B1]", "model.args={frames: 27}",
             "train.init=null", "out=runs/x y"]
    base = load_config(ROOT / "configs/lifter/framewise_cpu.yaml").to_dict()
    new = load_config(ROOT / "configs/lifter/framewise_cpu.yaml", given).to_dict()
    over = as_overrides(base, new)
    assert sorted(over) == sorted(given)
    assert apply_overrides(base, over) == new and as_overrides(new, new) == []


def test_presets_load_and_name_registered_models():
    presets = sorted((ROOT / "configs").rglob("*.yaml"))
    assert len(presets) >= 7
    names = set(hotpose.list_models())
    for p in presets:
        cfg = load_config(p)
        assert cfg.model.name in names, f"{p}: unknown model {cfg.model.name}"
    cfg = load_config(ROOT / "configs" / "h36m" / "tpc_mhformer.yaml", ["train.lr=2e-3", "data.root=/x"])
    assert cfg.train.lr == 2e-3 and cfg.train.amsgrad and cfg.data.root == "/x"


def test_lr_schedules_of_the_recipes():
    assert lr_factor(3, 0.99, 0.5, 200) == pytest.approx(0.99 ** 3)
    assert lr_factor(5, 0.95, 0.5, 5) == pytest.approx(0.95 ** 4 * 0.5)
    assert lr_factor(0, 0.95, 0.5, 5) == 1


def test_warmup_raises_the_lr_linearly_then_hands_over_to_the_schedule(tmp_path, h36m_root, monkeypatch):
    seen = []
    step = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    cfg = load_config(tiny_config(tmp_path, h36m_root, train={"epochs": 2, "batch_size": 1, "steps_per_epoch": 3,
                                                              "warmup_steps": 4, "lr_decay": 0.5}))
    result = train(cfg, device="cpu", progress=False)
    # steps 1-3 in epoch 1 at lr 1e-3, step 4 (the last of the warm-up) and 5-6 in epoch 2 at 0.5e-3
    assert seen == pytest.approx([0.25e-3, 0.5e-3, 0.75e-3, 0.5e-3, 0.5e-3, 0.5e-3])
    assert [h["lr"] for h in result["history"]] == pytest.approx([0.5e-3, 0.25e-3])  # the schedule's, after each
    assert "warmup_steps: 4" in (Path(cfg.out) / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="warmup_steps must be >= 0"):
        load_config(None, ["train.warmup_steps=-1"])


def without_times(history: list) -> list:
    """A run's history without the wall-clock seconds of its epochs (which differ from run to run)."""
    return [{k: v for k, v in h.items() if k not in ("epoch_s", "epoch_cpu_s")} for h in history]


def test_train_then_evaluate(tmp_path, h36m_root, capsys):
    cfg = load_config(tiny_config(tmp_path, h36m_root))
    result = train(cfg, device="cpu", progress=False)
    out = Path(cfg.out)
    for name in ("last.pt", "best.pt", "config.yaml", "environment.json", "history.json"):
        assert (out / name).is_file(), name
    assert any((out / "tb").iterdir())
    assert len(result["history"]) == 2 and result["best"]["selected_on"] == "validation split"
    # each epoch's wall clock, summed into the run's training time
    assert all(h["epoch_s"] > 0 for h in result["history"])
    assert result["seconds"] == pytest.approx(sum(h["epoch_s"] for h in result["history"]))
    assert all(h["epoch_cpu_s"] > 0 for h in result["history"])
    assert result["cpu_seconds"] == pytest.approx(sum(h["epoch_cpu_s"] for h in result["history"]))
    assert training_seconds([{"epoch": 1}] + result["history"]) is None  # an epoch from before the field
    best = ckpt.load_checkpoint(out / "best.pt")
    assert best["epoch"] == result["best"]["epoch"]
    assert load_config(out / "config.yaml").to_dict() == cfg.to_dict()
    with pytest.raises(ValueError, match="--resume"):
        train(cfg, device="cpu", progress=False)
    with pytest.raises(ConfigError, match="train.lr"):
        train(load_config(tiny_config(tmp_path, h36m_root), ["train.lr=0.5"]), resume=True, device="cpu")
    assert main(["evaluate", str(out), "--json", str(tmp_path / "r.json"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "mean over actions" in printed and "selected on the validation split" in printed
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["split"] == "test" and set(report["per_action"]) == {"Directions", "Walking"}
    assert report["mean_over_actions"]["p1"] > 0 and report["readout"] == "seq2seq"
    baseline = evaluate_path(tmp_path / "config.yaml", split="val", progress=False)
    assert baseline["source"]["weights"] == "untrained"


def test_seq2frame_tpc_trains_on_the_kept_frames_and_selection_on_test_is_labelled(tmp_path, h36m_root):
    cfg = load_config(tiny_config(tmp_path, h36m_root, name="tpc_mixste_243",
                                  train={"epochs": 1, "steps_per_epoch": 2, "select_on": "test",
                                         "bone_weight": 0.5}))
    result = train(cfg, device="cpu", progress=False)
    assert result["best"]["selected_on"].startswith("test set (the official practice")
    report = evaluate_path(cfg.out, split="test", progress=False)
    assert report["readout"] == "seq2frame" and report["all_frames"]["frames"] == 4 * (40 + 47)


def test_init_starts_from_given_weights(tmp_path, h36m_root):
    """train.init loads a checkpoint's (or a packaged model's) weights before training; a model of another shape
    and a missing file are clear errors."""
    import torch

    first = load_config(tiny_config(tmp_path, h36m_root, train={"epochs": 1, "steps_per_epoch": 2}))
    train(first, device="cpu", progress=False)
    source = ckpt.load_checkpoint(Path(first.out) / ckpt.BEST)["model"]
    again = load_config(tiny_config(tmp_path, h36m_root, out=str(tmp_path / "again"),
                                    train={"epochs": 1, "steps_per_epoch": 1, "lr": 0.0, "weight_decay": 0.0,
                                           "init": str(Path(first.out) / ckpt.BEST)}))
    train(again, device="cpu", progress=False)
    kept = ckpt.load_checkpoint(Path(again.out) / ckpt.LAST)["model"]
    assert all(torch.equal(source[k], kept[k]) for k in source)  # lr 0: the initial weights, unchanged
    fresh = hotpose.build_model("hot_mixste_243", **TINY).state_dict()
    assert not all(torch.equal(source[k], fresh[k]) for k in source)
    other = load_config(tiny_config(tmp_path, h36m_root, args=dict(TINY, dim=16), out=str(tmp_path / "other"),
                                    train={"epochs": 1, "init": str(Path(first.out) / ckpt.BEST)}))
    with pytest.raises(ConfigError, match="does not fit model hot_mixste_243"):
        train(other, device="cpu", progress=False)
    with pytest.raises(FileNotFoundError, match="train.init"):
        ckpt.initial_weights(str(tmp_path / "nothing.pt"))
    packaged = ckpt.initial_weights("pretrained:default")
    blob = torch.load(hotpose.lifter.pretrained_path("default"), weights_only=True)
    assert packaged.keys() == hotpose.build_from_config(blob["config"]).state_dict().keys()


def test_3dhp_baseline_evaluation_reports_pck(tmp_path, capsys):
    write_3dhp(tmp_path / "data")
    path = tiny_config(tmp_path, tmp_path / "data", data={"kind": "3dhp", "train_subjects": None,
                                                          "val_subjects": None, "test_subjects": ["TS1", "TS5"]})
    assert main(["evaluate", str(path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "PCK150" in printed and "TS5" in printed
