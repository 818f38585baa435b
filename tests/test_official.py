"""load_official: size inference, wrappers, strictness. Uses checkpoints written by our own models in the official
names, so it runs without ../shared."""
from __future__ import annotations

import pytest
import torch

import hotpose
from hotpose.official import OFFICIAL, rename_keys

hotpose.list_models()


def official_state(model, arch):
    """Our model's weights under the official names (the inverse of the reader's renaming)."""
    ours = model.state_dict()
    inverse = {}
    for key in ours:
        for pattern, repl in OFFICIAL[arch].rename:
            import re
            # find the official key mapping to `key` by trying each rule backwards on candidate names
            candidate = _invert(key, pattern, repl)
            if candidate is not None and re.fullmatch(pattern, candidate):
                inverse[candidate] = ours[key]
                break
    renamed, unmatched = rename_keys(inverse, OFFICIAL[arch].rename)
    assert not unmatched and set(renamed) == set(ours)
    return inverse


def _invert(key, pattern, repl):
    import re
    literal = repl.replace(r"\1", "(.*)")
    m = re.fullmatch(re.escape(literal).replace(re.escape("(.*)"), "(.*)"), key)
    if not m:
        return None
    return pattern.replace(r"\.", ".").replace("(.*)", m.group(1) if m.groups() else "")


@pytest.mark.parametrize("arch,name,kw", [
    ("mixste", "mixste_243", dict(frames=27, dim=24, mlp_hidden=40, depth=3)),
    ("hot_mixste", "hot_mixste_243", dict(frames=27, dim=24, mlp_hidden=48, depth=4, keep=7, prune_at=2)),
    ("tpc_mixste", "tpc_mixste_243", dict(frames=27, dim=24, mlp_hidden=48, depth=4, keep=5, prune_at=3)),
])
def test_sizes_are_inferred_and_outputs_match(arch, name, kw):
    torch.manual_seed(0)
    src = hotpose.build_model(name, **kw).eval()
    for p in src.parameters():
        torch.nn.init.normal_(p, std=0.3)
    state = official_state(src, arch)
    extra = dict(layer_index=kw.get("prune_at"), token_num=kw.get("keep")) if "prune_at" in kw else {}
    model = hotpose.load_official(arch, state, **extra)
    assert model.backbone.cfg.dim == 24 and model.backbone.frames == 27
    assert model.backbone.num_stages == kw["depth"]
    x = torch.randn(2, 27, 17, 2)
    with torch.no_grad():
        ref = src(x)
        out = model(x, keep_idx=ref.keep_idx)
    torch.testing.assert_close(out.pose, ref.pose)


def test_wrappers_and_module_prefix(tmp_path):
    src = hotpose.build_model("mixste_243", frames=9, dim=16, mlp_hidden=16, depth=2)
    state = {f"module.{k}": v for k, v in official_state(src, "mixste").items()}
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "model_pos": state}, path)
    model = hotpose.load_official("mixste", path)
    torch.testing.assert_close(model.backbone.joint_embed.weight, src.backbone.joint_embed.weight)


def test_mismatch_lists_missing_and_unexpected_keys():
    src = hotpose.build_model("mixste_243", frames=9, dim=16, mlp_hidden=16, depth=2)
    state = official_state(src, "mixste")
    del state["Spatial_norm.weight"]
    state["something_else"] = torch.zeros(1)
    with pytest.raises(ValueError) as err:
        hotpose.load_official("mixste", state)
    assert "missing" in str(err.value) and "backbone.spatial_norm.weight" in str(err.value)
    assert "unexpected" in str(err.value) and "something_else" in str(err.value)


def test_hot_checkpoint_loaded_as_plain_mixste_is_refused():
    src = hotpose.build_model("hot_mixste_243", frames=27, dim=16, mlp_hidden=32, depth=4, keep=9)
    with pytest.raises(ValueError, match="unexpected"):
        hotpose.load_official("mixste", official_state(src, "hot_mixste"))


def test_unknown_arch_and_bad_files(tmp_path):
    with pytest.raises(KeyError, match="unknown official"):
        hotpose.load_official("no_such_arch", {})
    with pytest.raises(FileNotFoundError):
        hotpose.load_official("mixste", tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pth is a text file, not a PyTorch checkpoint; expected an official checkpoint"):
        hotpose.load_official("mixste", bad)
    with pytest.raises(ValueError, match="no 'Spatial_patch_to_embedding.weight'"):
        hotpose.load_official("mixste", {"foo": torch.zeros(1)})


def test_settings_the_tensors_cannot_tell_are_passed_through():
    src = hotpose.build_model("mixste_243", frames=9, dim=16, mlp_hidden=16, depth=2)
    model = hotpose.load_official("mixste", official_state(src, "mixste"), heads=4)
    assert model.backbone.spatial_blocks[0].attn.heads == 4
    with pytest.raises(TypeError, match="unknown setting"):
        hotpose.load_official("mixste", official_state(src, "mixste"), no_such_setting=1)
