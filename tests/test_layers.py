"""Shared layers: fused attention equals the explicit softmax(QK^T)V of the official code."""
from __future__ import annotations

import torch

from hotpose.layers import Attention, Block, CrossAttention, DropPath, Linear, Mlp, kernels, use_kernels


def test_fused_attention_matches_explicit():
    attn = Attention(64, heads=8)
    x = torch.randn(3, 50, 64)
    fused = attn(x)
    attn.explicit = True
    torch.testing.assert_close(fused, attn(x), atol=1e-5, rtol=0)


def test_fused_cross_attention_matches_explicit():
    attn = CrossAttention(32, heads=4)
    q, kv = torch.randn(2, 40, 32), torch.randn(2, 7, 32)
    fused = attn(q, kv, kv)
    attn.explicit = True
    torch.testing.assert_close(fused, attn(q, kv, kv), atol=1e-5, rtol=0)


def test_attention_backward_agrees():
    torch.manual_seed(0)
    block = Block(32, 4, 64)
    x = torch.randn(2, 9, 32)
    grads = []
    for mode in ("fast", "exact"):
        use_kernels(block, mode)
        block.zero_grad()
        block(x).square().sum().backward()
        grads.append(block.attn.qkv.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], atol=1e-4, rtol=1e-4)


def test_drop_path_is_identity_in_eval_and_scales_in_training():
    dp = DropPath(0.5)
    x = torch.ones(1000, 4)
    assert torch.equal(dp.eval()(x), x)
    y = dp.train()(x)
    kept = y[:, 0] != 0
    assert 300 < kept.sum() < 700
    assert torch.allclose(y[kept], torch.full_like(y[kept], 2.0))


def test_fast_linear_matches_exact_and_trains():
    lin = Linear(64, 96)
    x = torch.randn(3, 20, 64, requires_grad=True)
    fast = lin(x)
    with kernels(lin, "exact"):
        exact = lin(x)
    assert not lin.exact  # restored after the block
    torch.testing.assert_close(fast, exact, atol=1e-5, rtol=0)
    fast.sum().backward()
    assert x.grad is not None and lin.bias.grad is not None


def test_use_kernels_switches_every_shared_layer():
    block = Block(32, 4, 64)
    use_kernels(block, "exact")
    assert block.attn.explicit and block.mlp.fc1.exact and block.attn.qkv.exact
    use_kernels(block, "fast")
    assert not block.attn.explicit and not block.mlp.fc2.exact
    try:
        use_kernels(block, "fused")
    except ValueError as e:
        assert "exact" in str(e)
    else:
        raise AssertionError("an unknown mode must be refused")
    assert isinstance(Mlp(8, 16).fc1, torch.nn.Linear)  # FLOP counters see them as Linear layers


def test_shared_queries_are_projected_once():
    """TRA's learnt queries (batch 1) serve every key/value sequence: the fast path projects them once and must match
    the official per-sequence projection; gradients reach the shared queries either way."""
    import pytest

    torch.manual_seed(0)
    ca = CrossAttention(32, heads=4)
    q = torch.randn(1, 9, 32, requires_grad=True)
    kv = torch.randn(5, 3, 32)
    fast = ca(q, kv, kv)
    (g_fast,) = torch.autograd.grad(fast.square().sum(), q)
    with kernels(ca, "exact"):
        exact = ca(q, kv, kv)
        (g_exact,) = torch.autograd.grad(exact.square().sum(), q)
    assert fast.shape == (5, 9, 32)
    torch.testing.assert_close(fast, exact, atol=1e-5, rtol=0)
    torch.testing.assert_close(fast, ca(q.expand(5, -1, -1), kv, kv), atol=1e-5, rtol=0)
    torch.testing.assert_close(g_fast, g_exact, atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match="queries of batch 2 for 5"):
        ca(torch.randn(2, 9, 32), kv, kv)
