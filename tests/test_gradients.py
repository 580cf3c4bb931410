"""Gradient flow of the paper's losses through the real networks (preset "tiny").

Zero gates. Every attention module returns x + gamma * attn(x) with gamma = 0 at init, and each
SDT head returns x + head_gate * mix(...) with head_gate = 0 at init: a fresh stage is the
identity, so at step 0 everything *behind* a zero gate (query/key/value convs, the module
gammas, conv_for_attention) gets exactly zero gradient. That is by design (SAGAN), not a broken
graph: the head gates themselves do get gradient at step 0, and once they are non-zero the
gammas do too (test_zero_gates_escape). The wiring tests therefore first set every gate and
gamma to 0.5.

Structurally dead parameters (reported, asserted exactly):
  * multi_tfca="release": the sentence branch attends over ONE token (the sentence), so its
    softmax is identically 1 and the f_query/t_key/t_query/f_key projections of every
    cross_attention_for_sent_modules head never get a gradient (only `value` matters). This
    is a property of the authors' released design; the "paper" variant has no dead weights.
  * D's `linear.bias`: the hinge gradient w.r.t. a logit offset is
    (#fake with logit > -1  -  #real with logit < 1) / B, which is exactly 0 whenever every
    sample is inside the margin (as at init). Checked against that formula instead.
  * G's `conv7.conv_skip.bias`: a per-channel constant added just before G's BatchNorm, which
    (in training mode) subtracts the per-channel batch mean again, so its true gradient is 0.
    Float rounding leaves a residue of about 1e-6 or exactly 0, depending on the machine and
    summation order, so it is checked to be negligible, not asserted either way.
"""
import pytest
import torch

from audiogan_core.config import preset
from audiogan_core.discriminator import Discriminator
from audiogan_core.generator import Generator
from audiogan_core.losses import LossConfig, discriminator_loss, f2r, generator_loss

B, L = 3, 4
DEAD_SENTENCE_PROJ = ("f_query", "t_key", "t_query", "f_key")


def dead_params(model, variant):
    if variant != "release":
        return set()
    return {n for n, _ in model.named_parameters()
            if ".cross_attention_for_sent_modules." in n and n.split(".")[-2] in DEAD_SENTENCE_PROJ}


# Cancelled by G.bn's batch mean (module docstring): true gradient 0, float residue ~1e-6 or 0.
BN_CANCELLED = {"conv7.conv_skip.bias"}


def open_gates(model, value=0.5):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or name.endswith("head_gates"):
                p.fill_(value)


def zero_grad_names(model):
    return {n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)}


def make(variant="release", gates=0.5, seed=0):
    cfg = preset("tiny").replace(multi_tfca=variant)
    torch.manual_seed(seed)
    G, D = Generator(cfg), Discriminator(cfg)
    if gates is not None:
        open_gates(G, gates)
        open_gates(D, gates)
    batch = dict(z=torch.randn(B, cfg.noise_dim), s=torch.randn(B, cfg.sentence_dim),
                 w=torch.randn(B, L, cfg.word_dim), lengths=torch.tensor([4, 2, 3]),
                 real=torch.randn(B, 1, cfg.n_mels, cfg.frames))
    return cfg, G, D, batch


def g_step_loss(G, D, b, cfg=LossConfig()):
    fake = G(b["z"], b["s"], b["w"], b["lengths"])
    real_out = D(b["real"], b["s"], b["w"], b["lengths"])
    fake_out = D(fake, b["s"], b["w"], b["lengths"])
    return generator_loss(fake_out, real_out, b["s"], b["w"], b["lengths"], cfg)


@pytest.mark.parametrize("variant", ["release", "paper"])
def test_generator_loss_reaches_every_generator_parameter(variant):
    _, G, D, b = make(variant)
    D.requires_grad_(False)  # as the trainer does in G's step
    out = g_step_loss(G, D, b)
    assert set(out) == {"g_hinge", "g_g2s", "g_l2w", "g_f2r", "g_occ", "total"}
    out["total"].backward()
    assert zero_grad_names(G) - BN_CANCELLED == dead_params(G, variant)
    grads = dict(G.named_parameters())
    largest = max(p.grad.abs().max() for p in grads.values() if p.grad is not None)
    for name in BN_CANCELLED:
        assert grads[name].grad.abs().max() <= 1e-4 * largest, name
    assert all(p.grad is None for p in D.parameters())
    assert all(torch.isfinite(p.grad).all() for p in G.parameters() if p.grad is not None)


@pytest.mark.parametrize("variant", ["release", "paper"])
def test_discriminator_loss_reaches_every_discriminator_parameter(variant):
    _, G, D, b = make(variant)
    with torch.no_grad():
        fake = G(b["z"], b["s"], b["w"], b["lengths"])
    real_out = D(b["real"], b["s"], b["w"], b["lengths"])
    fake_out = D(fake, b["s"], b["w"], b["lengths"])
    out = discriminator_loss(real_out, fake_out, b["s"], b["w"], b["lengths"], LossConfig())
    assert set(out) == {"d_hinge", "d_g2s", "d_l2w", "d_occ", "total"}
    out["total"].backward()
    zero = zero_grad_names(D)
    assert zero - {"linear.bias"} == dead_params(D, variant)
    active = ((fake_out.logit > -1).sum() - (real_out.logit < 1).sum()).item() / B
    assert D.linear.bias.grad.item() == pytest.approx(active, abs=1e-6)
    assert all(torch.isfinite(p.grad).all() for p in D.parameters() if p.grad is not None)


def test_generator_gets_nothing_from_discriminator_loss_with_detached_fakes():
    _, G, D, b = make()
    fake = G(b["z"], b["s"], b["w"], b["lengths"])
    out = discriminator_loss(D(b["real"], b["s"], b["w"], b["lengths"]),
                             D(fake.detach(), b["s"], b["w"], b["lengths"]),
                             b["s"], b["w"], b["lengths"], LossConfig())
    out["total"].backward()
    assert all(p.grad is None for p in G.parameters())
    assert any(p.grad is not None for p in D.parameters())


def test_f2r_gives_discriminator_no_gradient_through_real_features():
    _, G, D, b = make()
    real_out = D(b["real"], b["s"], b["w"], b["lengths"])
    g_fake = torch.randn_like(real_out.global_feature, requires_grad=True)
    f2r(g_fake, real_out.global_feature).backward()
    assert g_fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in D.parameters())


def test_generator_loss_gradient_on_d_ignores_the_real_branch():
    """Even without freezing D, the real branch of the G loss contributes no D gradient: the
    D gradient of generator_loss equals the one computed with real features detached."""
    _, G, D, b = make()
    with torch.no_grad():
        fake = G(b["z"], b["s"], b["w"], b["lengths"])

    def d_grads(detach_real):
        D.zero_grad(set_to_none=True)
        real_out = D(b["real"], b["s"], b["w"], b["lengths"])
        if detach_real:
            real_out = real_out._replace(logit=real_out.logit.detach(),
                                         global_feature=real_out.global_feature.detach(),
                                         local_features=real_out.local_features.detach())
        fake_out = D(fake.requires_grad_(True), b["s"], b["w"], b["lengths"])
        generator_loss(fake_out, real_out, b["s"], b["w"], b["lengths"], LossConfig())["total"].backward()
        return {n: p.grad.clone() for n, p in D.named_parameters() if p.grad is not None}

    D.eval()  # freeze the spectral-norm power iteration so both passes see the same weights
    with_real, without_real = d_grads(False), d_grads(True)
    assert with_real.keys() == without_real.keys()
    for name in with_real:
        torch.testing.assert_close(with_real[name], without_real[name], rtol=1e-5, atol=1e-7)


def test_zero_gates_escape():
    """At init (all gates 0) the head gates get gradient; with head gates non-zero, the module
    gammas do too, so training moves the attention off the identity."""
    _, G, D, b = make(gates=None)
    D.requires_grad_(False)
    g_step_loss(G, D, b)["total"].backward()
    names = dict(G.named_parameters())
    gates = [n for n in names if n.endswith("head_gates")]
    gammas = [n for n in names if n.endswith("gamma")]
    assert gates and gammas
    assert all(names[n].grad.abs().sum() > 0 for n in gates)
    assert all(names[n].grad is None or names[n].grad.abs().sum() == 0 for n in gammas)

    G.zero_grad(set_to_none=True)
    with torch.no_grad():
        for n in gates:
            names[n].fill_(0.5)
    g_step_loss(G, D, b)["total"].backward()
    assert all(names[n].grad.abs().sum() > 0 for n in gammas)
