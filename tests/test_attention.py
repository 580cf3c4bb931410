"""Attention modules: shapes, masking, equations 8-15, memory scaling of TF-CA vs plain attention."""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from audiogan_core.attention import (CrossAttention, MultiTFCA, SDTAttention, SelfAttention, SelfTFCA,
                                     padding_mask)
from audiogan_core.layers import SNConv1d, SNLinear

B, C, F_, T_, CC, N = 2, 8, 6, 10, 5, 4


def _open(module, value=0.8):
    with torch.no_grad():
        module.gamma.fill_(value)
    return module.eval()


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, C, F_, T_, generator=g)
    cond = torch.randn(B, N, CC, generator=g)
    lengths = torch.tensor([N, 2])
    return x, cond, lengths


def _proj(conv: SNConv1d, x):
    """Apply a 1x1 SN conv as a matrix: [Cout, Cin] @ [..., Cin, L]."""
    return torch.einsum("oi,bil->bol", conv.normalized_weight()[:, :, 0], x) + conv.bias[None, :, None]


@pytest.mark.parametrize("make", [
    lambda: SelfAttention(C, 4), lambda: SelfTFCA(C, 4),
    lambda: CrossAttention(C, CC, 4), lambda: MultiTFCA(C, CC, 4, "release"), lambda: MultiTFCA(C, CC, 4, "paper")])
def test_shapes_and_identity_at_gamma_zero(make):
    module = make().eval()
    x, cond, lengths = _inputs()
    args = (x,) if isinstance(module, (SelfAttention, SelfTFCA)) else (x, cond, padding_mask(lengths, N))
    with torch.no_grad():
        assert torch.equal(module(*args), x)  # gamma starts at 0: a fresh module is the identity
        out = _open(module)(*args)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert not torch.allclose(out, x)


def test_self_tfca_follows_equations_8_to_12():
    module = _open(SelfTFCA(C, 4))
    x, _, _ = _inputs()
    with torch.no_grad():
        x_f, x_t = x.mean(3), x.mean(2)  # eq. 8
        w_f2t = torch.softmax(torch.einsum("bef,bet->bft", _proj(module.f_query, x_f), _proj(module.t_key, x_t)), -1)
        w_t2f = torch.softmax(torch.einsum("bet,bef->btf", _proj(module.t_query, x_t), _proj(module.f_key, x_f)), -1)
        w = w_f2t + w_t2f.transpose(1, 2)  # eq. 11
        value = _proj(module.value, x.reshape(B, C, -1)).reshape(x.shape)
        expected = x + module.gamma * value * w[:, None]  # eq. 12
        torch.testing.assert_close(module(x), expected, rtol=1e-5, atol=1e-6)
        # f2t rows sum to 1 over T (F rows), t2f rows to 1 over F (T rows): W sums to F + T
        torch.testing.assert_close(module.weights(x).sum(dim=(1, 2)), torch.full((B,), float(F_ + T_)))


def test_release_multi_tfca_equals_the_materialised_released_formula():
    module = _open(MultiTFCA(C, CC, 4, "release"))
    x, cond, lengths = _inputs()
    mask = padding_mask(lengths, N)
    with torch.no_grad():
        c_t = cond.transpose(1, 2)  # [B, Cc, N]
        fmap = torch.einsum("bef,ben->bfn", _proj(module.f_query, x.mean(3)), _proj(module.t_key, c_t))
        tmap = torch.einsum("bet,ben->btn", _proj(module.t_query, x.mean(2)), _proj(module.f_key, c_t))
        fmap = torch.softmax(fmap + mask[:, None] * -1e9, -1)
        tmap = torch.softmax(tmap + mask[:, None] * -1e9, -1)
        weight = fmap[:, :, None, :] + tmap[:, None, :, :]  # [B, F, T, N] as the released code tiles it
        out = torch.einsum("bftn,bcn->bcft", weight, _proj(module.value, c_t))
        torch.testing.assert_close(module(x, cond, mask), x + module.gamma * out, rtol=1e-5, atol=1e-6)


def test_paper_multi_tfca_follows_equations_13_to_15():
    module = _open(MultiTFCA(C, CC, 4, "paper"))
    x, cond, lengths = _inputs()
    mask = padding_mask(lengths, N)
    with torch.no_grad():
        c_t = cond.transpose(1, 2)
        w_c2f = torch.softmax(torch.einsum("ben,bef->bnf", _proj(module.f_query, c_t), _proj(module.f_key, x.mean(3))), -1)
        w_c2t = torch.softmax(torch.einsum("ben,bet->bnt", _proj(module.t_query, c_t), _proj(module.t_key, x.mean(2))), -1)
        w = torch.stack([w_c2f[b, :lengths[b]].T @ w_c2t[b, :lengths[b]] for b in range(B)])  # eq. 15, real words
        value = _proj(module.value, x.reshape(B, C, -1)).reshape(x.shape)
        torch.testing.assert_close(module(x, cond, mask), x + module.gamma * value * w[:, None], rtol=1e-5, atol=1e-6)
        # each real word contributes a product of two distributions: W sums to the word count
        torch.testing.assert_close(module.weights(x, cond, mask).sum(dim=(1, 2)), lengths.float())


@pytest.mark.parametrize("make", [
    lambda: CrossAttention(C, CC, 4), lambda: MultiTFCA(C, CC, 4, "release"), lambda: MultiTFCA(C, CC, 4, "paper")])
def test_padded_words_do_not_matter(make):
    module = _open(make())
    x, cond, lengths = _inputs()
    mask = padding_mask(lengths, N)
    garbage = cond.clone()
    garbage[1, 2:] = 1e4
    with torch.no_grad():
        torch.testing.assert_close(module(x, cond, mask), module(x, garbage, mask))
        assert not torch.allclose(module(x, cond, None), module(x, garbage, None))


def test_sdt_stage_gates_registered_trainable_and_canonical_order():
    stage = SDTAttention(C, "sentence,self", n_heads=3, sentence_dim=CC, word_dim=7)
    assert stage.kinds == ["self", "sentence"]  # the released code concatenates in this order
    names = dict(stage.named_parameters())
    assert names["head_gates"].shape == (3,) and not names["head_gates"].any()
    assert "self_attention_modules.2.f_query.weight_orig" in names
    assert "cross_attention_for_sent_modules.0.value.weight_orig" in names
    assert not hasattr(stage, "cross_attention_for_word_modules")
    assert tuple(stage.conv_for_attention.weight_orig.shape) == (C, 2 * C, 1)
    assert tuple(stage.out.weight_orig.shape) == (C, 3 * C, 1)

    x = torch.randn(B, C, F_, T_, requires_grad=True)
    s, w = torch.randn(B, CC), torch.randn(B, 5, 7)
    stage(x, s, w).square().mean().backward()
    assert stage.head_gates.grad is not None and stage.head_gates.grad.abs().sum() > 0


def test_sdt_stage_with_closed_gates_ignores_the_text():
    """Gates at 0 = the published model: each head returns x, only `out` acts."""
    stage = SDTAttention(C, ["self", "word", "sentence"], n_heads=2, sentence_dim=CC, word_dim=7).eval()
    for module in stage.modules():
        if hasattr(module, "gamma"):
            with torch.no_grad():
                module.gamma.fill_(1.0)
    x = torch.randn(B, C, F_, T_)
    s1, s2, w = torch.randn(B, CC), torch.randn(B, CC), torch.randn(B, 5, 7)
    mask = padding_mask(torch.tensor([5, 3]), 5)
    with torch.no_grad():  # closed heads are skipped when no gradient is wanted
        skipped = stage(x, s1, w, mask)
        torch.testing.assert_close(skipped, stage(x, s2, w * 3, mask))
    computed = stage(x, s1, w, mask)  # with grad: every head is computed, then gated by 0
    assert computed.requires_grad
    assert torch.equal(skipped, computed.detach())
    with torch.no_grad():
        stage.head_gates.fill_(0.5)
        assert not torch.allclose(stage(x, s1, w, mask), stage(x, s2, w * 3, mask))


@pytest.mark.parametrize("tf_ca,variant", [(True, "release"), (True, "paper"), (False, "release")])
def test_sdt_stage_variants_run(tf_ca, variant):
    stage = SDTAttention(C, "self,word,sentence", 2, CC, 7, tf_ca=tf_ca, multi_tfca=variant)
    with torch.no_grad():
        stage.head_gates.fill_(1.0)
    out = stage(torch.randn(B, C, F_, T_), torch.randn(B, CC), torch.randn(B, 5, 7), padding_mask(torch.tensor([5, 1]), 5))
    assert out.shape == (B, C, F_, T_) and torch.isfinite(out).all()


# Spectral norm ------------------------------------------------------------------------------------
def test_spectral_norm_power_iteration():
    # Seeded: power iteration converges at the ratio of the top two singular values, which an
    # unlucky random matrix can make slow.
    torch.manual_seed(0)
    layer = SNLinear(12, 9)
    x = torch.randn(4, 12)
    layer.train()
    u0 = layer.weight_u.clone()
    layer(x)
    assert not torch.equal(layer.weight_u, u0), "training forward updates u"
    for _ in range(200):
        layer(x)
    sigma = torch.linalg.matrix_norm(layer.normalized_weight().detach(), ord=2)
    assert abs(sigma.item() - 1.0) < 1e-3
    layer.eval()
    u1 = layer.weight_u.clone()
    assert torch.equal(layer(x), layer(x)) and torch.equal(layer.weight_u, u1), "eval leaves u alone"
    assert {n for n, _ in layer.named_parameters()} == {"weight_orig", "bias"}
    assert set(layer.state_dict()) == {"weight_orig", "bias", "weight_u"}


# Memory: TF-CA is O(F*T), plain self-attention O((F*T)^2) -----------------------------------------
class _AllocatedBytes(TorchDispatchMode):
    """Counts the bytes of every fresh tensor that an aten op returns (views of inputs are not
    allocations), and the largest one."""

    def __init__(self):
        super().__init__()
        self.total = 0
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in inputs:
                nbytes = t.untyped_storage().nbytes()
                self.total += nbytes
                self.largest = max(self.largest, nbytes)
        return out


def _measure(module, f, t, channels=4):
    x = torch.randn(1, channels, f, t)
    with torch.no_grad(), _AllocatedBytes() as counter:
        module(x)
    return counter.total, counter.largest


def test_tf_ca_memory_grows_linearly_plain_attention_quadratically():
    torch.manual_seed(0)
    tfca, plain = SelfTFCA(4, 4).eval(), SelfAttention(4, 4).eval()
    f, t = 16, 32
    tf_small, tf_small_max = _measure(tfca, f, t)
    tf_big, tf_big_max = _measure(tfca, 2 * f, 2 * t)
    sa_small, sa_small_max = _measure(plain, f, t)
    sa_big, sa_big_max = _measure(plain, 2 * f, 2 * t)
    print(f"\nbytes allocated, (F,T)=({f},{t}) -> ({2 * f},{2 * t}): "
          f"SelfTFCA {tf_small} -> {tf_big} (x{tf_big / tf_small:.2f}), "
          f"SelfAttention {sa_small} -> {sa_big} (x{sa_big / sa_small:.2f}); "
          f"largest tensor TF-CA x{tf_big_max / tf_small_max:.2f}, plain x{sa_big_max / sa_small_max:.2f}")
    assert 3.5 < tf_big / tf_small < 4.5  # O(F*T)
    assert 14 < sa_big / sa_small < 17  # O((F*T)^2)
    assert 3.5 < tf_big_max / tf_small_max < 4.5 and sa_big_max / sa_small_max > 15
    assert sa_big > 50 * tf_big
