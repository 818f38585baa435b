"""PoseFormer through the shared hourglass: the paper's size, the frame-weighting head, the TPC variant, the official
checkpoint reader and the preset recipe (the generic forward/backward tests over the registry are in test_models.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import hotpose
from hotpose import efficiency
from hotpose.cli import main
from hotpose.data.synthetic import write_h36m
from hotpose.engine.evaluate import readout_positions
from hotpose.paper import PAPER

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(frames=9, joint_dim=8, depth=2)

pytestmark = pytest.mark.usefixtures("one_thread")


def block_params(d: int, hidden: int) -> int:
    """Pre-norm block: two LayerNorms, qkv and proj, two MLP layers (all with biases)."""
    return 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * hidden + hidden) + (hidden * d + d)


def poseformer_params(F: int, J: int = 17, c: int = 32, depth: int = 4, ratio: int = 2, frame_weights=True) -> int:
    C = J * c
    spatial = (2 * c + c) + J * c + depth * block_params(c, ratio * c) + 2 * c
    temporal = F * C + depth * block_params(C, ratio * C) + 2 * C
    head = (F + 1 if frame_weights else 0) + 2 * C + (C * 3 * J + 3 * J)
    return spatial + temporal + head


def poseformer_macs(F: int, J: int = 17, c: int = 32, depth: int = 4, ratio: int = 2, keep: int | None = None,
                    prune_at: int | None = None) -> int:
    """Linear / Conv1d multiply-accumulates of one window (the paper's convention counts 2 x these)."""
    C = J * c
    spatial = F * J * (2 * c + depth * (4 + 2 * ratio) * c * c)
    per_token = (4 + 2 * ratio) * C * C  # qkv 3C^2, proj C^2, MLP 2 ratio C^2
    if keep is None:
        return spatial + depth * F * per_token + F * C + C * 3 * J  # + weighted mean over F + head
    tokens = prune_at * F + (depth - prune_at) * keep
    return spatial + tokens * per_token + keep * C * 3 * J  # per-token readout of the kept frames


def test_params_and_flops_at_paper_size():
    model = hotpose.build_model("poseformer_81")
    params = efficiency.count_params(model)
    assert params == poseformer_params(81)
    assert round(params / 1e6, 2) == PAPER["poseformer_81"].params
    norms = []  # LayerNorm outputs, counted as thop's normalisation hook counts them (4 MACs per element, affine)
    handles = [m.register_forward_hook(lambda m, i, o: norms.append(o.numel()))
               for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    try:
        paper = efficiency.count_flops(model)
    finally:
        for h in handles:
            h.remove()
    assert paper == 2 * poseformer_macs(81)
    # the table's 1.63 G is 2 x (these MACs + 4 per LayerNorm element), 1.6310 G; without the norms: 1.6247 G
    assert round((paper + 2 * 4 * sum(norms)) / 1e9, 2) == PAPER["poseformer_81"].flops
    assert abs(paper / 1e9 - PAPER["poseformer_81"].flops) < 0.01
    assert efficiency.count_params(hotpose.build_model("poseformer_27")) == poseformer_params(27)


def test_tpc_variant_at_paper_size():
    model = hotpose.build_model("tpc_poseformer_81")
    hg = model.hourglass
    assert (hg.keep, hg.prune_at, hg.recoverer, hg.centre) == (27, 1, "none", True)
    assert efficiency.count_params(model) == poseformer_params(81, frame_weights=False)
    assert efficiency.count_flops(model) == 2 * poseformer_macs(81, keep=27, prune_at=1)
    assert "tpc_poseformer_81" in PAPER  # counted by `hotpose bench` beside the paper's rows


@pytest.mark.parametrize("name,kw", [("poseformer_81", TINY), ("tpc_poseformer_81", {**TINY, "keep": 3})])
def test_shapes_only_count_equals_a_computed_pass(name, kw):
    model = hotpose.build_model(name, **kw)
    for convention in ("paper", "full"):
        assert efficiency.count_flops(model, convention) == efficiency.count_flops(model, convention, compute=True)


def test_seams_frame_tokens_in_the_joint_axis():
    model = hotpose.build_model("poseformer_81", **TINY).eval()
    bb = model.backbone
    assert (bb.dim, bb.num_stages, bb.first_prunable_stage) == (17 * 8, 2, 0)
    x = torch.randn(2, 9, 17, 2)
    tokens = bb.embed(x)
    assert tokens.shape == (2, 9, 1, 136)
    assert torch.equal(bb.pool(tokens), tokens[:, :, 0])
    assert bb.temporal_embeddings()[0].shape == (1, 9, 136)
    assert model.seq2frame and model(x).pose.shape == (2, 1, 17, 3)
    with pytest.raises(ValueError, match="exactly 9 frames"):
        model(x[:, :8])
    for recoverer in ("tra", "nearest"):
        with pytest.raises(ValueError, match="recoverer='none'"):
            hotpose.build_model("tpc_poseformer_81", **TINY, keep=3, recoverer=recoverer)


def test_frame_weighting_head_is_a_learnt_weighted_mean_of_the_frames():
    model = hotpose.build_model("poseformer_81", **TINY).eval()
    bb = model.backbone
    x = torch.randn(3, 9, 17, 2, requires_grad=True)
    pose = model(x).pose
    pose.sum().backward()
    assert (x.grad.abs().sum(dim=(0, 2, 3)) > 0).all(), "every frame of the window reaches the output"
    with torch.no_grad():
        tokens = bb.embed(x)
        for i in range(bb.num_stages):
            tokens = bb.stage(i, tokens)
        tokens = bb.norm(tokens)[:, :, 0]  # (B, F, C)

        def readout(frame_token):  # (B, C) -> (B, 1, J, 3)
            return bb.head_proj(bb.head_norm(frame_token)).view(-1, 1, 17, 3)

        w = torch.rand(9)
        bb.frame_weights.weight.copy_(w.view(1, 9, 1))
        bb.frame_weights.bias.fill_(0.25)
        mixed = (w[None, :, None] * tokens).sum(dim=1) + 0.25
        torch.testing.assert_close(model(x).pose, readout(mixed))
        bb.frame_weights.weight.zero_()
        bb.frame_weights.weight[0, 2] = 1.0
        bb.frame_weights.bias.zero_()
        torch.testing.assert_close(model(x).pose, readout(tokens[:, 2]))  # a one-hot weighting reads that frame


def test_tpc_keeps_the_centre_and_reads_out_every_kept_frame():
    model = hotpose.build_model("tpc_poseformer_81", frames=27, joint_dim=8, depth=4, keep=9).eval()
    bb = model.backbone
    assert bb.frame_weights is None
    x = torch.randn(4, 27, 17, 2)
    out = model(x)
    assert out.pose.shape == (4, 9, 17, 3) and out.keep_idx.shape == (4, 9)
    assert (out.keep_idx == 13).any(dim=1).all() and (out.keep_idx.diff(dim=1) > 0).all()
    torch.testing.assert_close(model(x, keep_idx=out.keep_idx).pose, out.pose)
    with torch.no_grad():  # the first stage runs on all frames, the rest on the kept ones; each kept token is read
        tokens = bb.stage(0, bb.embed(x))
        tokens = tokens[torch.arange(4)[:, None], out.keep_idx]
        for i in range(1, 4):
            tokens = bb.stage(i, tokens)
        expected = bb.head_proj(bb.head_norm(bb.norm(tokens)[:, :, 0])).unflatten(-1, (17, 3))
    torch.testing.assert_close(out.pose, expected)
    pred, pos = readout_positions(out.pose, out.keep_idx, 27, "seq2frame", (13, 14))
    at = (out.keep_idx == 13).int().argmax(dim=1)
    assert torch.equal(pred[:, 0], out.pose[torch.arange(4), at]) and (pos == 13).all()


# --- the official checkpoint reader ---------------------------------------------------------------------------

OUR_TO_OFFICIAL = [("backbone.joint_embed.", "Spatial_patch_to_embedding."),
                   ("backbone.spatial_pos", "Spatial_pos_embed"), ("backbone.spatial_blocks.", "Spatial_blocks."),
                   ("backbone.spatial_norm.", "Spatial_norm."),
                   ("backbone.temporal_pos", "Temporal_pos_embed"), ("backbone.temporal_blocks.", "blocks."),
                   ("backbone.temporal_norm.", "Temporal_norm."), ("backbone.frame_weights.", "weighted_mean."),
                   ("backbone.head_norm.", "head.0."), ("backbone.head_proj.", "head.1.")]
BLOCK_TENSORS = [f"{m}.{t}" for m in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")
                 for t in ("weight", "bias")]


def official_name(ours: str) -> str:
    for prefix, official in OUR_TO_OFFICIAL:
        if ours.startswith(prefix):
            return official + ours[len(prefix):]
    raise KeyError(ours)


def official_checkpoint(model) -> dict:
    """``model``'s weights in the published layout: a training checkpoint whose ``model_pos`` holds the state dict
    of a DataParallel-wrapped model (what ``torch.load(..., weights_only=False)`` returns for such a file)."""
    state = {"module." + official_name(k): v.clone() for k, v in model.state_dict().items()}
    return {"epoch": 200, "lr": 1e-4 * 0.99 ** 199, "random_state": np.random.RandomState(1234),
            "optimizer": {"state": {}, "param_groups": []}, "model_pos": state}


def test_official_names_at_paper_size():
    names = {official_name(k) for k in hotpose.build_model("poseformer_81").state_dict()}
    expected = {"Spatial_patch_to_embedding.weight", "Spatial_patch_to_embedding.bias", "Spatial_pos_embed",
                "Spatial_norm.weight", "Spatial_norm.bias", "Temporal_pos_embed", "Temporal_norm.weight",
                "Temporal_norm.bias", "weighted_mean.weight", "weighted_mean.bias", "head.0.weight", "head.0.bias",
                "head.1.weight", "head.1.bias"}
    expected |= {f"{stack}.{i}.{t}" for stack in ("Spatial_blocks", "blocks") for i in range(4) for t in BLOCK_TENSORS}
    assert names == expected and len(names) == 110


def test_official_round_trip_infers_sizes(tmp_path):
    src = hotpose.build_model("poseformer_81", frames=9, joint_dim=8, depth=3, mlp_ratio=1.5).eval()
    for p in src.parameters():
        torch.nn.init.normal_(p, std=0.2)
    model = hotpose.load_official("poseformer", official_checkpoint(src))
    cfg = model.backbone.cfg
    assert (cfg.frames, cfg.joint_dim, cfg.depth, cfg.mlp_ratio) == (9, 8, 3, 1.5) and model.hourglass is None
    x = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(x).pose, src(x).pose)
    # a file holding the weights (no pickled NumPy state) loads from its path
    path = tmp_path / "detected9f.bin"
    torch.save({"epoch": 1, "model_pos": official_checkpoint(src)["model_pos"]}, path)
    with torch.no_grad():
        torch.testing.assert_close(hotpose.load_official("poseformer", path, exact=False)(x).pose, src(x).pose,
                                   atol=1e-4, rtol=1e-4)


def test_official_reader_refuses_incomplete_files():
    ckpt = official_checkpoint(hotpose.build_model("poseformer_81", **TINY))
    state = ckpt["model_pos"]
    del state["module.weighted_mean.bias"]
    state["module.Temporal_token"] = torch.zeros(1)
    with pytest.raises(ValueError) as err:
        hotpose.load_official("poseformer", ckpt)
    message = str(err.value)
    assert "missing (1): backbone.frame_weights.bias" in message and "unexpected (1): Temporal_token" in message
    state = {k: v for k, v in state.items() if not k.startswith("module.Spatial_blocks.1.")}
    with pytest.raises(ValueError, match="1 spatial blocks but 2 temporal"):
        hotpose.load_official("poseformer", {"model_pos": state})
    with pytest.raises(ValueError, match="does not prune"):
        hotpose.load_official("poseformer", official_checkpoint(hotpose.build_model("poseformer_81", **TINY)),
                              token_num=3)


# --- the preset recipe -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,epochs", [
    ("poseformer_81", dict(frames=9, joint_dim=8, depth=1), 5),
    ("tpc_poseformer_81", dict(frames=9, joint_dim=8, depth=2, keep=3), 2),
])
def test_preset_recipe_trains_with_hotpose_train(tmp_path, name, args, epochs):
    preset = yaml.safe_load((ROOT / "configs" / "h36m" / "poseformer.yaml").read_text())
    t = preset["train"]
    assert preset["model"]["name"] == "poseformer_81"
    assert (t["optimizer"], t["weight_decay"], t["lr_decay"], t["loss"], t["flip"]) == ("adamw", 0.1, 0.99, "mpjpe",
                                                                                        "double")
    write_h36m(tmp_path / "data", subjects=("S1", "S9"), actions=("Walking",), frames=40)
    overrides = [f"model.name={name}", f"model.args={json.dumps(args)}", f"data.root={tmp_path / 'data'}",
                 "data.train_subjects=[S1]", "data.val_fraction=0", "data.test_subjects=[S9]",
                 f"train.epochs={epochs}", "train.batch_size=8", "train.select_on=last"]
    out = tmp_path / "run"
    assert main(["train", str(ROOT / "configs" / "h36m" / "poseformer.yaml"), *overrides, "--out", str(out),
                 "--device", "cpu", "--no-progress"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert history[-1]["step"] == 40 * epochs  # 160 windows, each plain and mirrored, 8 a batch
    losses = [h["train_loss"] for h in history]
    assert losses[-1] < 0.7 * losses[0], losses
    report = tmp_path / "report.json"
    assert main(["evaluate", str(out), "--json", str(report), "--device", "cpu", "--no-progress"]) == 0
    result = json.loads(report.read_text())
    assert result["readout"] == "seq2frame" and result["all_frames"]["frames"] == 4 * 40  # every frame scored once
