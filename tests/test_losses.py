"""Each loss against an independent plain-Python/numpy computation of eq. 1-7 (cosine convention)."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from audiogan_core.errors import ConfigError, InputError
from audiogan_core.losses import (LossConfig, d_hinge, discriminator_loss, f2r, g2s, g_hinge, generator_loss,
                                  l2w, l2w_scores, occ)

B, L, DW, DS, FP, TP = 3, 4, 5, 7, 2, 3  # R = FP * TP = 6 regions
LENGTHS = [4, 2, 3]


def cos(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (math.sqrt(a @ a) * math.sqrt(b @ b)))


def logsumexp(values):
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))


def ce_rows(logits):
    """-1/N sum_i log softmax(logits[i])[i], plain Python."""
    n = len(logits)
    return -sum(logits[i][i] - logsumexp(logits[i]) for i in range(n)) / n


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    return SimpleNamespace(
        g=torch.randn(B, DS, generator=gen, dtype=torch.float64),
        g2=torch.randn(B, DS, generator=gen, dtype=torch.float64),
        s=torch.randn(B, DS, generator=gen, dtype=torch.float64),
        local=torch.randn(B, DW, FP, TP, generator=gen, dtype=torch.float64),
        words=torch.randn(B, L, DW, generator=gen, dtype=torch.float64),
        lengths=torch.tensor(LENGTHS),
        real_logit=torch.randn(B, generator=gen, dtype=torch.float64) * 2,
        fake_logit=torch.randn(B, generator=gen, dtype=torch.float64) * 2,
    )


# ---- eq. 1 ---------------------------------------------------------------------------------
def test_hinge(data):
    r, f = data.real_logit.tolist(), data.fake_logit.tolist()
    expected_d = -sum(min(0.0, -1 + x) for x in r) / B - sum(min(0.0, -1 - x) for x in f) / B
    assert d_hinge(data.real_logit, data.fake_logit).item() == pytest.approx(expected_d, abs=1e-5)
    assert g_hinge(data.fake_logit).item() == pytest.approx(-sum(f) / B, abs=1e-5)


# ---- eq. 2 ---------------------------------------------------------------------------------
def test_g2s_by_hand(data):
    g, s, tau = data.g.numpy(), data.s.numpy(), 0.1
    logits = [[cos(g[i], s[k]) / tau for k in range(B)] for i in range(B)]
    assert g2s(data.g, data.s, tau).item() == pytest.approx(ce_rows(logits), abs=1e-5)


def test_g2s_uses_cosine_not_dot(data):
    assert g2s(data.g * 10, data.s * 0.01).item() == pytest.approx(g2s(data.g, data.s).item(), abs=1e-9)


# ---- eq. 3-5 -------------------------------------------------------------------------------
def reference_l2w(local, words, lengths, g1, g2, g3):
    local = local.numpy()
    words = words.numpy()
    regions = [local[:, :, f, t] for f in range(FP) for t in range(TP)]  # R x [B, DW], row-major F', T'
    scores = [[0.0] * B for _ in range(B)]
    for i in range(B):  # audio
        for k in range(B):  # text
            terms = []
            for t in range(lengths[k]):
                w = words[k, t]
                att = [math.exp(g1 * cos(w, regions[j][i])) for j in range(len(regions))]
                z = sum(att)
                c = sum((att[j] / z) * regions[j][i] for j in range(len(regions)))
                terms.append(math.exp(g2 * cos(w, c)))
            scores[i][k] = math.log(sum(terms)) / g2
    logits = [[g3 * scores[i][k] for k in range(B)] for i in range(B)]
    return scores, ce_rows(logits)


@pytest.mark.parametrize("gammas", [(5.0, 5.0, 50.0), (1.0, 2.0, 3.0)])
def test_l2w_by_hand(data, gammas):
    scores, expected = reference_l2w(data.local, data.words, LENGTHS, *gammas)
    ours = l2w_scores(data.local, data.words, data.lengths, gammas[0], gammas[1])
    np.testing.assert_allclose(ours.numpy(), np.array(scores), atol=1e-6, rtol=0)
    assert l2w(data.local, data.words, data.lengths, *gammas).item() == pytest.approx(expected, abs=1e-5)


def test_l2w_float32_close_to_float64(data):
    ref = l2w(data.local, data.words, data.lengths).item()
    ours = l2w(data.local.float(), data.words.float(), data.lengths).item()
    assert ours == pytest.approx(ref, abs=1e-3)


def test_l2w_ignores_padding(data):
    before = l2w(data.local, data.words, data.lengths)
    words = data.words.clone().requires_grad_(True)
    messy = words.clone()
    for k, n in enumerate(LENGTHS):
        messy.data[k, n:] = torch.randn(L - n, DW, dtype=torch.float64) * 100
    messy.data[1, 3] = float("nan")  # even NaN padding must not leak
    after = l2w(data.local, messy, data.lengths)
    assert after.item() == pytest.approx(before.item(), abs=1e-12)
    after.backward()
    assert torch.isfinite(words.grad).all()
    for k, n in enumerate(LENGTHS):
        assert (words.grad[k, n:] == 0).all()
        assert words.grad[k, :n].abs().sum() > 0


def test_l2w_rejects_bad_lengths(data):
    with pytest.raises(InputError, match="words"):
        l2w(data.local, data.words, torch.tensor([4, 0, 3]))
    with pytest.raises(InputError, match="words"):
        l2w(data.local, data.words, torch.tensor([5, 2, 3]))
    with pytest.raises(InputError, match="channels"):
        l2w(data.local[:, :4], data.words, data.lengths)


# ---- eq. 6 ---------------------------------------------------------------------------------
def test_f2r_by_hand(data):
    gf, gr, tau = data.g.numpy(), data.g2.numpy(), 0.1
    logits = [[cos(gf[i], gr[k]) / tau for k in range(B)] for i in range(B)]
    assert f2r(data.g, data.g2, tau).item() == pytest.approx(ce_rows(logits), abs=1e-5)


def test_f2r_gives_no_gradient_to_real(data):
    g_fake = data.g.clone().requires_grad_(True)
    g_real = data.g2.clone().requires_grad_(True)
    loss = f2r(g_fake, g_real)
    assert loss.requires_grad
    loss.backward()
    assert g_real.grad is None
    assert g_fake.grad.abs().sum() > 0


# ---- eq. 7 ---------------------------------------------------------------------------------
def reference_occ(g, s, tau):
    total = 0.0
    for i in range(len(g)):
        pos = math.exp(cos(g[i], s[i]) / tau)
        neg = sum(math.exp(cos(g[i], g[k]) / tau) for k in range(len(g)) if k != i)
        total += -math.log(pos / (pos + neg))
    return total / len(g)


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_occ_by_hand(data, tau):
    assert occ(data.g, data.s, tau).item() == pytest.approx(reference_occ(data.g.numpy(), data.s.numpy(), tau),
                                                            abs=1e-5)


def test_occ_single_sample_is_zero(data):
    g = data.g[:1].clone().requires_grad_(True)
    loss = occ(g, data.s[:1])
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    loss.backward()
    assert torch.isfinite(g.grad).all()


def test_occ_identical_samples(data):
    g = data.g[:1].repeat(B, 1)
    s = data.s[:1].repeat(B, 1)
    c = cos(data.g[0].numpy(), data.s[0].numpy())
    tau = 0.1
    # every row: positive e^{c/tau}, B-1 negatives e^{1/tau}
    expected = -math.log(math.exp(c / tau) / (math.exp(c / tau) + (B - 1) * math.exp(1 / tau)))
    assert occ(g, s, tau).item() == pytest.approx(expected, abs=1e-5)
    # identical samples score worse than the distinct ones with the same text
    assert occ(g, s, tau).item() > occ(data.g, s, tau).item()


# ---- totals --------------------------------------------------------------------------------
def outputs(data, fake=False):
    g = data.g2 if fake else data.g
    return SimpleNamespace(logit=data.fake_logit if fake else data.real_logit, global_feature=g,
                           local_features=data.local.flip(0) if fake else data.local)


def test_discriminator_total(data):
    real, fake = outputs(data), outputs(data, fake=True)
    cfg = LossConfig(w_g2s=0.5, w_l2w=2.0, w_occ=3.0)
    out = discriminator_loss(real, fake, data.s, data.words, data.lengths, cfg)
    assert set(out) == {"d_hinge", "d_g2s", "d_l2w", "d_occ", "total"}
    assert out["d_hinge"].item() == pytest.approx(d_hinge(data.real_logit, data.fake_logit).item())
    assert out["d_g2s"].item() == pytest.approx(g2s(data.g, data.s).item())
    assert out["d_l2w"].item() == pytest.approx(l2w(data.local, data.words, data.lengths).item())
    assert out["d_occ"].item() == pytest.approx(occ(data.g, data.s).item())
    expected = out["d_hinge"] + 0.5 * out["d_g2s"] + 2.0 * out["d_l2w"] + 3.0 * out["d_occ"]
    assert out["total"].item() == pytest.approx(expected.item())


def test_generator_total(data):
    real, fake = outputs(data), outputs(data, fake=True)
    out = generator_loss(fake, real, data.s, data.words, data.lengths, LossConfig())
    assert set(out) == {"g_hinge", "g_g2s", "g_l2w", "g_f2r", "g_occ", "total"}
    assert out["g_hinge"].item() == pytest.approx(-data.fake_logit.mean().item())
    assert out["g_g2s"].item() == pytest.approx(g2s(data.g2, data.s).item())
    assert out["g_l2w"].item() == pytest.approx(l2w(data.local.flip(0), data.words, data.lengths).item())
    assert out["g_f2r"].item() == pytest.approx(f2r(data.g2, data.g).item())
    assert out["g_occ"].item() == pytest.approx(occ(data.g2, data.s).item())
    expected = sum(v.item() for k, v in out.items() if k != "total")
    assert out["total"].item() == pytest.approx(expected)


@pytest.mark.parametrize("off", ["g2s", "l2w", "f2r", "occ"])
def test_switch_offs_remove_terms(data, off):
    real, fake = outputs(data), outputs(data, fake=True)
    full_d = discriminator_loss(real, fake, data.s, data.words, data.lengths, LossConfig())
    full_g = generator_loss(fake, real, data.s, data.words, data.lengths, LossConfig())
    cfg = LossConfig(**{off: False})
    d = discriminator_loss(real, fake, data.s, data.words, data.lengths, cfg)
    g = generator_loss(fake, real, data.s, data.words, data.lengths, cfg)
    assert f"g_{off}" not in g
    assert g["total"].item() == pytest.approx(full_g["total"].item() - full_g[f"g_{off}"].item())
    if off == "f2r":  # D never has F2R
        assert d["total"].item() == pytest.approx(full_d["total"].item())
    else:
        assert f"d_{off}" not in d
        assert d["total"].item() == pytest.approx(full_d["total"].item() - full_d[f"d_{off}"].item())


def test_all_off_is_plain_hinge(data):
    real, fake = outputs(data), outputs(data, fake=True)
    cfg = LossConfig(g2s=False, l2w=False, f2r=False, occ=False)
    d = discriminator_loss(real, fake, data.s, data.words, data.lengths, cfg)
    g = generator_loss(fake, None, data.s, data.words, data.lengths, cfg)
    assert set(d) == {"d_hinge", "total"} and set(g) == {"g_hinge", "total"}
    assert d["total"].item() == d["d_hinge"].item()
    with pytest.raises(InputError, match="F2R"):
        generator_loss(fake, None, data.s, data.words, data.lengths, LossConfig())


def test_generator_loss_f2r_does_not_reach_real_features(data):
    real = SimpleNamespace(logit=data.real_logit, global_feature=data.g.clone().requires_grad_(True),
                           local_features=data.local)
    fake = outputs(data, fake=True)
    fake.global_feature = fake.global_feature.clone().requires_grad_(True)
    generator_loss(fake, real, data.s, data.words, data.lengths, LossConfig())["total"].backward()
    assert real.global_feature.grad is None
    assert fake.global_feature.grad.abs().sum() > 0


def test_loss_config_round_trip_and_validation():
    cfg = LossConfig(occ=False, tau=0.2, w_l2w=0.5)
    assert LossConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        LossConfig.from_dict({"bogus": 1})
    with pytest.raises(ConfigError, match="tau"):
        LossConfig(tau=0)
    with pytest.raises(ConfigError, match="w_occ"):
        LossConfig(w_occ=-1)
    with pytest.raises(ConfigError, match="g2s"):
        LossConfig(g2s="yes")


def test_d_mismatch_hinge_is_the_fake_hinge_term_on_mismatched_pairs():
    from audiogan_core.losses import d_mismatch_hinge

    logits = torch.tensor([-2.0, -0.5, 0.0, 1.5])
    # relu(1 + x): 0, 0.5, 1, 2.5 -> mean 1.0
    assert float(d_mismatch_hinge(logits)) == pytest.approx(1.0)
