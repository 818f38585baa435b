"""configs/lifter: the default lifter's recipe and its frame-wise baseline train on the same data, the same way."""
from __future__ import annotations

from pathlib import Path

import pytest

from hotpose.data.cameras import check_virtual
from hotpose.data.motion import check_placement
from hotpose.data.pose_aug import check_pose_aug
from hotpose.engine.config import load_config
from hotpose.registry import build_model

ROOT = Path(__file__).resolve().parents[1]


def test_baseline_differs_only_in_the_model():
    hot = load_config(ROOT / "configs/lifter/default.yaml").to_dict()
    mlp = load_config(ROOT / "configs/lifter/framewise.yaml").to_dict()
    assert hot["data"] == mlp["data"] and hot["train"] == mlp["train"] and hot["eval"] == mlp["eval"]
    assert hot["model"]["name"] == "hot_mixste_243" and mlp["model"]["name"] == "framewise_mlp"
    assert hot["model"]["args"]["frames"] == mlp["model"]["args"]["frames"]
    assert hot["out"] != mlp["out"]


def test_recipe_is_valid_and_has_the_real_video_augmentations():
    d = load_config(ROOT / "configs/lifter/default.yaml").data
    assert "virtual" in d.camera_subject and check_virtual(d.virtual_cameras)["count"] >= 20
    check_placement(d.placement)
    assert check_pose_aug(d.pose_aug)["prob"] > 0 and d.bone_scale
    assert d.test_camera_subject == ["S9", "S11"] and d.test_subjects == ["B2"]
    for path in ("configs/lifter/default.yaml", "configs/lifter/framewise.yaml"):
        m = load_config(ROOT / path).model
        assert build_model(m.name, **m.args).backbone.frames == 81


@pytest.mark.parametrize("stage", ["long", "cpu"])
def test_stage_two_trains_on_from_stage_one_with_the_same_data(stage):
    """default_{long,cpu} / framewise_{long,cpu}: stage 1's data, one recipe for both, each from its own stage-1
    run."""
    configs = {n: load_config(ROOT / f"configs/lifter/{n}.yaml").to_dict()
               for n in ("default", "framewise", f"default_{stage}", f"framewise_{stage}")}
    hot, mlp = configs[f"default_{stage}"], configs[f"framewise_{stage}"]
    assert hot["data"] == mlp["data"] == configs["default"]["data"] and hot["eval"] == mlp["eval"]
    assert {k: v for k, v in hot["train"].items() if k != "init"} == {k: v for k, v in mlp["train"].items()
                                                                      if k != "init"}
    assert hot["model"] == configs["default"]["model"] and mlp["model"] == configs["framewise"]["model"]
    assert hot["train"]["init"] == configs["default"]["out"] + "/best.pt"
    assert mlp["train"]["init"] == configs["framewise"]["out"] + "/best.pt"
    assert hot["train"]["warmup_steps"] > 0 and hot["out"] != mlp["out"]
