"""Every registered model, at test size: forward and backward, the output contract, and clear input errors."""
from __future__ import annotations

import pytest
import torch

import hotpose
from hotpose.registry import build_from_config, tiny_overrides

NAMES = hotpose.list_models()


def tiny(name: str):
    return hotpose.build_model(name, **tiny_overrides(name))


def example(model, batch: int = 2, frames: int | None = None) -> torch.Tensor:
    bb = model.backbone
    return torch.randn(batch, frames or bb.frames, bb.joints, bb.in_channels)


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_contract(name):
    model = tiny(name).train()
    x = example(model)
    out = model(x)
    assert isinstance(out, hotpose.PoseOutput)
    B, F = x.shape[:2]
    hg = model.hourglass
    centre_only = getattr(model.backbone, "centre_only", False)  # predicts the centre frame only (Strided, P-STMO)
    if hg is None:
        assert out.keep_idx is None
        assert out.pose.shape == ((B, 1, 17, 3) if centre_only else (B, F, 17, 3))
    else:
        n = hg.keep
        assert out.keep_idx.shape == (B, n) and out.keep_idx.dtype == torch.int64
        assert (out.keep_idx.diff(dim=1) > 0).all()
        assert out.pose.shape == ((B, 1, 17, 3) if centre_only else (B, n, 17, 3) if hg.seq2frame else (B, F, 17, 3))
    if out.aux is not None:  # the auxiliary prediction covers every frame, or every kept frame
        assert out.aux.shape == (B, F if hg is None else hg.keep, 17, 3)
    loss = out.pose.square().mean() + (out.aux.square().mean() if out.aux is not None else 0)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]  # frozen: unused by the forward
    assert all(g is not None and torch.isfinite(g).all() for g in grads), "a parameter got no gradient"


@pytest.mark.parametrize("name", NAMES)
def test_keep_idx_injection_and_rebuild(name):
    model = tiny(name).eval()
    x = example(model)
    with torch.no_grad():
        first = model(x)
        if model.hourglass is not None:
            again = model(x, keep_idx=first.levels)
            torch.testing.assert_close(again.pose, first.pose)
        clone = build_from_config(model.config)
        clone.load_state_dict(model.state_dict())
        torch.testing.assert_close(clone.eval()(x, keep_idx=first.levels).pose, first.pose)


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_get_clear_errors(name):
    model = tiny(name).eval()
    bb = model.backbone
    x = example(model)
    with pytest.raises(ValueError, match="joints"):
        model(x[:, :, :16])
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(2, bb.frames, bb.joints, bb.in_channels + 1))
    too_long = "exactly" if bb.fixed_frames else "at most"
    with pytest.raises(ValueError, match=too_long):
        model(torch.randn(2, bb.frames + 1, bb.joints, bb.in_channels))
    bad = x.clone()
    bad[0, 1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad)
    with pytest.raises(ValueError, match="shape"):
        model(x[0])
    if model.hourglass is not None:
        n = model.hourglass.keep
        with pytest.raises(ValueError, match="exactly" if bb.fixed_frames else "at least"):
            model(x[:, : n - 1])
        with pytest.raises(ValueError, match="keep_idx"):
            model(x, keep_idx=torch.zeros(2, n, dtype=torch.int64))


def test_unknown_model_and_setting():
    with pytest.raises(KeyError, match="unknown model"):
        hotpose.build_model("no_such_model")
    with pytest.raises(TypeError, match="unknown setting"):
        hotpose.build_model("mixste_243", no_such_setting=1)
