"""benchmarks/experiments.py: the targets table, from made-up three-seed results (no training)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ex():
    return load_benchmark("experiments")


def fake(name: str, p1s: list, motions: list | None, flops: float, steps: int = 1000, mpjve: float = 10.0) -> dict:
    """Per-seed results as run_one returns them (the fields the doc reads)."""
    out = {}
    for seed, (p1, mo) in enumerate(zip(p1s, motions or [None] * len(p1s)), start=1):
        r = {"name": name, "key": f"{name}@{seed}", "seed": seed, "p1": p1, "p2": p1 * 0.8, "train_s": 100.0,
             "eval_s": 5.0, "history": [{"epoch": 1, "step": steps, "val_p1_mm": p1}], "flops_paper": flops,
             "mpjve": mpjve}
        if mo is not None:
            r["split"] = {"speed": mo, "all": p1, "selected": p1, "pruned": p1}
        out[r["key"]] = r
    return out


@pytest.fixture(scope="module")
def results(ex):
    per_seed = {}
    for args in [("mixste_243", [50, 51, 52], [0.70, 0.72, 0.74], 100e6),
                 ("hot_mixste_243", [51, 52, 53], [0.60, 0.65, 0.66], 60e6),
                 ("long/mixste_243", [40, 41, 42], [0.80, 0.80, 0.80], 100e6, 4000, 12.0),
                 ("long/hot_mixste_243", [44, 45, 46], [0.50, 0.55, 0.60], 60e6, 4000, 9.0),
                 ("long/hot_mixste_243_linear", [43.5, 44, 44.5], [0.7, 0.7, 0.7], 60e6, 4000),
                 ("motionbert_243", [70, 71, 72], [0.6, 0.6, 0.6], 80e6),
                 ("hot_motionbert_243", [71, 72, 73], [0.45, 0.49, 0.50], 45e6),
                 ("hot_mixste_243_uniform", [50.5, 51, 51.5], [0.6, 0.6, 0.6], 60e6),
                 ("hot_mixste_243_attention", [54, 55, 56], [0.6, 0.6, 0.6], 60e6),
                 ("hot_mixste_243_motion", [55, 56, 57], [0.6, 0.6, 0.6], 60e6),
                 ("hot_mixste_243_linear", [52.5, 53.5, 54.5], [0.7, 0.7, 0.7], 60e6)]:
        per_seed.update(fake(*args))
    return ex.aggregate(per_seed)


def verdicts(text: str) -> dict:
    rows = [line for line in text.splitlines() if line.startswith("| ") and line.endswith("** |")]
    return {line.split(" | ")[0][2:]: line.rsplit("**", 2)[1] for line in rows}


def test_targets_table(ex, results):
    text = ex.targets(results, long_jobs=["long/x"])
    v = verdicts(text)
    assert "mean over 3 seeds" in text
    assert v["HoT w. MixSTE within 3 % of MixSTE's P1, 1,000 steps"] == "met"  # +2.0 %
    assert "+2.0 % (within the seed spread)" in text
    assert v["HoT w. MixSTE: at least 35 % fewer FLOPs (paper convention)"] == "met"  # 40 %
    assert v["HoT w. MixSTE's motion within 0.1 of MixSTE's, 1,000 steps"] == "met"  # 0.64 vs 0.72
    assert v["HoT w. MixSTE within 3 % of MixSTE's P1, 4,000 steps"] == "missed"  # +9.8 %
    assert "+9.8 % (beyond the seed spread)" in text
    assert v["HoT w. MixSTE's motion within 0.1 of MixSTE's, 4,000 steps"] == "missed"  # 0.55 vs 0.80
    assert v["HoT w. MotionBERT within 3 % of MotionBERT's P1, 1,000 steps"] == "met"
    assert v["HoT w. MotionBERT's motion above 0.3"] == "met"
    # uniform 51.0 mm is ahead of TPC 52.0 mm, ranges overlapping
    assert v["Pruning ablation: TPC first (TRA recovery)"] == "missed"
    assert ("TPC second of 4, 1.0 mm behind `hot_mixste_243_uniform` (within the seed spread); seed by seed, "
            "higher on 3 of 3 (by 0.5-1.5 mm); why: *The pruners* below") in text
    assert v["Recovery: TRA within the seed spread of linear interpolation or better, 1,000 steps"] == "met"
    # long: TRA 45.0 (44-46) vs linear 44.0 (43.5-44.5): worse, but the ranges overlap
    assert v["Recovery: TRA within the seed spread of linear interpolation or better, 4,000 steps"] == "met"


def test_targets_missed_beyond_the_spread(ex, results):
    r = dict(results)
    lin = dict(r["long/hot_mixste_243_linear"])
    lin["by_seed"] = [dict(s, p1=s["p1"] - 3) for s in lin["by_seed"]]
    lin["p1"] -= 3
    r["long/hot_mixste_243_linear"] = lin
    hmb = dict(r["hot_motionbert_243"])
    hmb["split"] = dict(hmb["split"], speed=0.2)
    r["hot_motionbert_243"] = hmb
    v = verdicts(ex.targets(r, long_jobs=["long/x"]))
    assert v["Recovery: TRA within the seed spread of linear interpolation or better, 4,000 steps"] == "missed"
    assert v["HoT w. MotionBERT's motion above 0.3"] == "missed"


def test_one_seed_has_no_spread(ex, results):
    one = ex.aggregate({k: v for k, v in ex_seed_one(results).items()})
    text = ex.targets(one)
    assert "mean over 1 seed." in text
    assert "(within the seed spread)" not in text and "(beyond the seed spread)" not in text
    # one seed measures no spread: TRA behind linear interpolation is a miss
    v = verdicts(text)
    assert v["Recovery: TRA within the seed spread of linear interpolation or better, 4,000 steps"] == "missed"


def ex_seed_one(results: dict) -> dict:
    """The seed-1 results of ``results`` as per-seed records again."""
    out = {}
    for name, r in results.items():
        s = r["by_seed"][0]
        rec = {"name": name, "key": f"{name}@1", "seed": 1, "p1": s["p1"], "p2": s["p2"], "train_s": 1.0,
               "eval_s": 1.0, "history": r["history"], "flops_paper": r["flops_paper"]}
        if s["motion"] is not None:
            rec["split"] = {"speed": s["motion"], "all": 0.0, "selected": 0.0, "pruned": 0.0}
        out[rec["key"]] = rec
    return out


def test_whole_doc_renders(ex, results, monkeypatch):
    """render() runs once at the end of a pass of many CPU-hours: the whole doc from made-up three-seed results."""
    import argparse

    r = {k: dict(v) for k, v in results.items()}
    for name in [n for n, _, _ in ex.MODELS] + [f"long/{n}" for n in ex.LONG]:
        if name not in r:  # models the fixture leaves out
            r[name] = dict(r["mixste_243"], name=name)
        r[name].update({"params": 300e3, "flops_full": 2 * r[name]["flops_paper"], "fps": 1000.0})
        if "split" in r[name]:
            r[name]["split"] = dict(r[name]["split"], selected=r[name]["p1"] - 1, pruned=r[name]["p1"] + 1)
        steps = r[name]["history"][-1]["step"]
        epochs = 40 if name.startswith("long/") else 10
        r[name]["history"] = [{"epoch": e + 1, "step": steps * (e + 1) // epochs, "val_p1_mm": 60.0 - e}
                               for e in range(epochs)]
        r[name]["best"] = {"score": 60.0 - epochs + 1, "epoch": epochs}
    a = argparse.Namespace(epochs=10, steps=100, lr_decay=0.9, train_subjects="", long_epochs=40, jobs=2, only="",
                           seeds=3, runs="runs/experiments", keep=True, doc="docs/results.md")
    monkeypatch.chdir(ROOT)
    jobs = [(n, ex.overrides_for(n, args, a), True) for n, args, _ in ex.MODELS]
    args_of = {n: args for n, args, _ in ex.MODELS}
    long_jobs = [(f"long/{n}", ex.overrides_for(n, args_of[n], a, long=True), True) for n in ex.LONG]
    r["mixste_243"]["by_seed"] = [dict(s, partial_time=s["seed"] == 2) for s in r["mixste_243"]["by_seed"]]
    text = ex.render(ex.MODELS, jobs, r, a, "2026-01-01 00:00:00 UTC", 60.0, long_jobs)
    assert "## Targets" in text and text.count("**met**") + text.count("**missed**") == 10
    # a seed resumed from before epochs were timed: its time is a lower bound, in the main table's row only
    assert text.count("| >= 100 s |") == 1 and "| `mixste_243` |" in text.split("| >= 100 s |")[0].splitlines()[-1]
    assert "seeds 1, 2, 3" in text and "The other seeds" in text


def test_seed_by_seed(ex):
    """Same-seed differences: a sign held on every shared seed is told with its range, a mixed one as such."""
    r = ex.aggregate({**fake("a", [50, 52, 54], None, 1), **fake("b", [51, 52.5, 53.5], None, 1),
                      **fake("c", [51, 53, 56], None, 1), **fake("d", [49], None, 1)})
    assert ex.seed_by_seed(r["a"], r["c"]) == "; seed by seed, lower on 3 of 3 (by 1.0-2.0 mm)"
    assert ex.seed_by_seed(r["c"], r["a"]) == "; seed by seed, higher on 3 of 3 (by 1.0-2.0 mm)"
    assert ex.seed_by_seed(r["a"], r["b"]) == "; seed by seed, lower on 2 of 3, higher on the others"
    assert ex.seed_by_seed(r["a"], r["d"]) == ""  # one shared seed


def test_pruner_swap_table_and_why(ex, results, tmp_path, monkeypatch):
    """The crossed table uses only the entries whose own-pruner P1 is the run's, and the why-paragraph splits TPC's
    gap to the winning pruner into the test-time frames and the training."""
    rows = {}
    for name, own in (("hot_mixste_243", "tpc"), ("hot_mixste_243_uniform", "uniform")):
        for s in results[name]["by_seed"]:
            p1 = {"tpc": s["p1"], "uniform": s["p1"], "attention": 60.0, "motion": 61.0}
            if name == "hot_mixste_243":
                p1["uniform"] = s["p1"] + 0.32  # TPC's weights on uniform frames: +0.32
            else:
                p1["tpc"] = s["p1"] + 0.5
            rows[f"{name}@{s['seed']}"] = {"trained": own, "record_p1": s["p1"], "p1": p1}
    rows["hot_mixste_243_uniform@3"]["p1"]["uniform"] += 1.0  # another run's figures: left out
    swap = tmp_path / "pruner_swap.json"
    swap.write_text(json.dumps({"rows": rows}))
    monkeypatch.setattr(ex, "SWAP", swap)
    S = ex.pruner_swap(results, swap)
    assert S["hot_mixste_243"]["seeds"] == 3 and S["hot_mixste_243_uniform"]["seeds"] == 2
    assert S["hot_mixste_243"]["p1"]["uniform"] == pytest.approx(52.32)
    table = "\n".join(ex.swap_lines(S))
    assert "| tpc (`hot_mixste_243`) | 3 | **52.0** | 52.3 | 60.0 | 61.0 |" in table
    said = ex.swap_said(results)
    # seeds 1 and 2 (uniform's third is left out): TPC 51.5 on its frames, 51.82 on uniform frames; uniform 50.75
    assert "change P1 by +0.3 mm (51.5 -> 51.8 mm)" in said and "+1.1 mm against" in said
    assert "the gap is in what training gave the weights" in said and "the 2 seeds both were scored on" in said
    assert "Why TPC trails" in ex.why(results, long_jobs=["long/x"])
    monkeypatch.setattr(ex, "SWAP", tmp_path / "none.json")
    assert ex.swap_said(results) == "" and ex.pruner_swap(results, tmp_path / "none.json") == {}


def test_why_reads_the_velocity_error(ex, results):
    """Less motion than MixSTE with a lower velocity error is told as smoothing, with a higher one as missed motion;
    the pruners' paragraph reports the pairs apart beyond the seed spread."""
    text = ex.why(results, long_jobs=["long/x"])
    assert "At 4,000 steps HoT w. MixSTE moves 0.55" in text
    assert "MPJVE 9.0 mm for HoT w. MixSTE against 12.0 mm" in text
    assert "HoT's velocity error is 25% lower" in text and "opposite reason" in text
    r = dict(results)
    r["long/hot_mixste_243"] = dict(r["long/hot_mixste_243"], mpjve=15.0)
    text = ex.why(r, long_jobs=["long/x"])
    assert "HoT's velocity error is 25% higher" in text and "jitter, which" not in text
    # the short runs' gap is told too when it also exceeds the target
    r["hot_mixste_243"] = dict(r["hot_mixste_243"], split=dict(r["hot_mixste_243"]["split"], speed=0.5))
    assert "At 1,000 steps: motion 0.50 vs 0.72, MPJVE 10.0 vs 10.0 mm." in ex.why(r, long_jobs=["long/x"])
    # uniform 50.5-51.5 vs attention 54-56 and motion 55-57: apart; TPC 51-53 overlaps uniform and attention
    assert "`hot_mixste_243_uniform` / `hot_mixste_243_attention`" in text
    assert "`hot_mixste_243` / `hot_mixste_243_uniform`" not in text


def test_tra_plateau_reads_both_inits_from_the_seed_records(tmp_path):
    """docs/tra_plateau.md's seeded section: the experiments' per-seed records, both inits side by side."""
    tp = load_benchmark("tra_plateau")
    records = {**fake("hot_mixste_243", [51, 52, 53], [0.60, 0.65, 0.66], 60e6),
               **fake("hot_mixste_243_official_init", [60, 61, 62], [0.01, 0.01, 0.02], 60e6),
               **fake("long/mixste_243", [40, 41, 42], [0.80, 0.80, 0.80], 100e6, 4000, 12.0),
               **fake("not_a_seeded_model", [1, 1, 1], None, 1e6)}
    for key, r in records.items():
        name, seed = key.rsplit("@", 1)
        f = tmp_path / f"seed{seed}" / f"{name}.json"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"result": r}))
    text = "\n".join(tp.seeds_section(tmp_path))
    rows = {line.split(" | ")[0][3:-1] + "@" + line.split(" | ")[2]: line for line in text.splitlines()
            if line.startswith("| `")}
    assert set(rows) == {"hot_mixste_243@1,000", "hot_mixste_243_official_init@1,000", "mixste_243@4,000"}
    assert "| 1, 2, 3 | 52.0 (51.0-53.0) | 0.64 (0.60-0.66) | 10.0 |" in rows["hot_mixste_243@1,000"]
    assert "| official |" in rows["hot_mixste_243_official_init@1,000"]
    assert "52.0 (51.0-53.0) mm against the official init's 61.0 (60.0-62.0) mm (beyond the seed spread)" in text
    assert tp.seeds_section(tmp_path / "none") == []


def test_ordering_says_which_swaps_exceed_the_spread(ex, results):
    # pruning: uniform 51 (50.5-51.5) < TPC 52 (51-53), the paper has TPC first: the ranges overlap
    line = ex.ordering_line("pruning", ["hot_mixste_243", "hot_mixste_243_uniform", "hot_mixste_243_attention",
                                        "hot_mixste_243_motion"], results)
    assert "**ordering differs** (every pair in the other order differs within the seed spread)." in line
    # MixSTE 51 (50-52) < HoT 52 (51-53): the paper's order too
    assert ex.ordering_line("main", ["mixste_243", "hot_mixste_243"], results).endswith("**same ordering**.")
    # made beyond: MotionBERT 71 (70-72) vs HoT w. MotionBERT moved to 60-62, ahead, which the paper has behind
    r = dict(results, hot_motionbert_243=dict(results["hot_motionbert_243"], p1=61.0,
                                              by_seed=[{"p1": 60.0}, {"p1": 61.0}, {"p1": 62.0}]))
    line = ex.ordering_line("main (MotionBERT family)", ["motionbert_243", "hot_motionbert_243"], r)
    assert line.endswith("(`hot_motionbert_243` < `motionbert_243` beyond the seed spread).")


def test_default_section_describes_the_packaged_file(ex):
    """The doc's default-model section names what hotpose/pretrained/default.pt holds and quotes the targets file:
    docs/results.md's section is exactly what --default-only writes now."""
    from hotpose.engine import checkpoint as ckpt
    from hotpose.pretrained import pretrained_path

    blob = ckpt.load_checkpoint(pretrained_path(), packaged=True)
    words = ex.packaged_default()
    assert f"{blob['config']['backbone_config']['frames']}-frame windows" in words
    assert ("with TRA" in words) == (blob["config"]["hourglass"]["recoverer"] == "tra")
    assert "trained with `configs/lifter/" in words  # the training config is one of the presets
    section = ex.default_section(ex.default_model())
    doc = (ROOT / "docs/results.md").read_text()
    assert section in doc, "docs/results.md is stale: python benchmarks/experiments.py --default-only"


def test_training_words_name_the_preset_its_overrides_and_the_run_it_started_from(ex, tmp_path):
    """A run given `key=value` overrides (the baseline's `train.epochs=12`) is described as its preset and those
    overrides; the default section names the baseline's run from the config recorded in the targets file."""
    from hotpose.engine.config import load_config

    preset = "configs/lifter/framewise_cpu.yaml"
    plain = load_config(ROOT / preset).to_dict()
    stage1 = "from the weights of `configs/lifter/framewise.yaml`'s run"
    assert ex.trained_with(preset, plain) == f"trained with `{preset}` {stage1}"
    shorter = load_config(ROOT / preset, ["train.epochs=12"]).to_dict()
    assert ex.trained_with(preset, shorter) == f"trained with `{preset}` and `train.epochs=12` {stage1}"
    elsewhere = load_config(ROOT / preset, ["train.epochs=12", "data.root=/mnt/bandai"]).to_dict()
    assert ex.trained_with(preset, elsewhere) == ex.trained_with(preset, shorter)  # the data's place is no recipe
    checkpoint = plain["out"] + "/best.pt"
    assert ex.run_training(checkpoint, shorter) == ex.trained_with(preset, shorter)
    assert ex.run_training(checkpoint) == ex.trained_with(preset, plain)  # no record: the preset as it stands
    assert ex.run_training("runs/elsewhere/best.pt", shorter) is None

    record = json.loads((ROOT / ex.TARGETS_FILE).read_text())
    record["baseline"] = {**record["baseline"], "checkpoint": checkpoint, "training_config": shorter}
    (tmp_path / "targets.json").write_text(json.dumps(record))
    assert ex.default_model(tmp_path / "targets.json")["baseline_training"] == ex.trained_with(preset, shorter)


def test_a_default_trained_with_overrides_is_described_with_them(ex, tmp_path):
    """The packaged file's training config is its preset with `train.epochs=80` (a run ended early): the doc names
    the preset and the override rather than dropping how it was trained."""
    import torch
    import yaml

    from hotpose.pretrained import pretrained_path

    blob = torch.load(pretrained_path(), weights_only=True)
    words = ex.packaged_default()
    trained = yaml.safe_load(blob["training_config"])
    trained["train"]["epochs"] = 80
    blob["training_config"] = yaml.safe_dump(trained, sort_keys=False)
    torch.save(blob, tmp_path / "early.pt")
    preset = words.split("trained with `", 1)[1].split("`", 1)[0]
    early = words.replace(f"`{preset}`", f"`{preset}` and `train.epochs=80`")
    assert ex.packaged_default(tmp_path / "early.pt") == early
