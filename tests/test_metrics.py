"""Metrics against independent computations: closed forms and hand-worked small cases."""
import math
import warnings

import numpy as np
import pytest

from audiogan_core.errors import InputError
from audiogan_core.metrics import (MIN_CLIPS, UnstableMetricWarning, covariance_note, frechet_distance,
                                   frechet_distance_from_stats, gaussian_stats, inception_score, kl_divergence,
                                   text_audio_similarity)


def test_frechet_closed_form_diagonal():
    # Diagonal covariances commute: FD = |mu1-mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    got = frechet_distance_from_stats(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_closed_form_one_dimensional():
    # 1-D: (m1-m2)^2 + (sd1 - sd2)^2 (the Wasserstein-2 distance between normals, squared)
    assert frechet_distance_from_stats([3.0], [[4.0]], [1.0], [[1.0]]) == pytest.approx(4.0 + 1.0)


def test_frechet_rotated_covariances_match_eigen_computation():
    # Non-commuting covariances: compare with an independent formula via symmetric roots:
    # Tr sqrt(S1 S2) = Tr sqrt(S1^(1/2) S2 S1^(1/2)), computed by eigen-decomposition.
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    b = rng.normal(size=(4, 4))
    s1, s2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)

    def sym_sqrt(m):
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    r1 = sym_sqrt(s1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(sym_sqrt(r1 @ s2 @ r1))
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_frechet_on_samples_uses_mean_and_unbiased_covariance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    y = rng.normal(size=(60, 3)) * 2 + 1
    expected = frechet_distance_from_stats(x.mean(0), np.cov(x.T), y.mean(0), np.cov(y.T))
    assert frechet_distance(x, y) == pytest.approx(expected)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    # Large samples from known Gaussians approach the closed form.
    big_a = rng.normal(size=(20000, 2)) * [1.0, 2.0]
    big_b = rng.normal(size=(20000, 2)) * [3.0, 1.0] + [1.0, 0.0]
    closed = 1.0 + (1 - 3) ** 2 + (2 - 1) ** 2
    assert frechet_distance(big_a, big_b) == pytest.approx(closed, rel=0.03)


def test_frechet_singular_product_uses_eps_offset():
    # Two clips in 5 dimensions: rank-1 covariances, singular product; still a finite, non-negative number.
    x = np.array([[0.0, 1, 2, 3, 4], [1.0, 1, 2, 3, 5]])
    y = np.array([[2.0, 0, 0, 0, 0], [2.0, 1, 0, 0, 0]])
    with pytest.warns(UnstableMetricWarning, match="singular"):
        value = frechet_distance(x, y)
    assert np.isfinite(value) and value >= 0


def test_small_sets_are_clear_errors():
    with pytest.raises(InputError, match=f"at least {MIN_CLIPS}"):
        frechet_distance(np.ones((1, 4)), np.ones((5, 4)))
    with pytest.raises(InputError, match="different dimensions"):
        frechet_distance(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(InputError, match="NaN"):
        frechet_distance(np.full((3, 2), np.nan), np.ones((3, 2)))
    with pytest.raises(InputError, match="2-D"):
        gaussian_stats(np.ones(4))
    assert covariance_note(10, 9) is None
    assert "needs at least 10" in covariance_note(9, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gaussian_stats(np.random.default_rng(0).normal(size=(10, 9)))  # n = dim + 1: no warning


def test_inception_score_hand_computed():
    # Two clips, each certain of a different class: p(y) = (1/2, 1/2), KL = log 2 each -> IS = 2.
    assert inception_score(np.eye(2))[0] == pytest.approx(2.0)
    # All clips identical: IS = 1.
    assert inception_score(np.tile([0.2, 0.3, 0.5], (4, 1)))[0] == pytest.approx(1.0)
    # Hand-worked: rows (0.5, 0.5) and (1, 0); marginal (0.75, 0.25).
    # KL1 = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25); KL2 = ln(1/0.75)
    kl1 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2.0)
    kl2 = math.log(1 / 0.75)
    score, std = inception_score(np.array([[0.5, 0.5], [1.0, 0.0]]))
    assert score == pytest.approx(math.exp((kl1 + kl2) / 2))
    assert std == 0.0


def test_inception_score_splits():
    # Split 1: two certain, different classes (IS 2); split 2: identical rows (IS 1).
    p = np.array([[1.0, 0, 0], [0, 1.0, 0], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])
    mean, std = inception_score(p, splits=2)
    assert mean == pytest.approx(1.5) and std == pytest.approx(0.5)
    shuffled, _ = inception_score(p, splits=1, shuffle=True)
    assert shuffled == pytest.approx(inception_score(p)[0])
    with pytest.raises(InputError, match="at least 5"):
        inception_score(p, splits=5)


def test_probabilities_are_validated():
    with pytest.raises(InputError, match="softmax"):
        inception_score(np.array([[2.0, -1.0], [0.5, 0.5]]))
    with pytest.raises(InputError, match="sums to"):
        kl_divergence(np.array([[0.5, 0.6]]), np.array([[0.5, 0.5]]))


def test_kl_direction_and_hand_computed_values():
    ref = np.array([[0.5, 0.5], [0.9, 0.1]])
    gen = np.array([[0.25, 0.75], [0.9, 0.1]])
    # pair 1: KL(ref||gen) = 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75); pair 2: 0
    expected = (0.5 * math.log(2.0) + 0.5 * math.log(0.5 / 0.75)) / 2
    assert kl_divergence(gen, ref, eps=0.0) == pytest.approx(expected)
    # direction matters: KL(gen||ref) differs
    reverse = (0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)) / 2
    assert kl_divergence(ref, gen, eps=0.0) == pytest.approx(reverse)
    assert not math.isclose(expected, reverse)
    # zero reference probability contributes nothing; zero generated probability is held finite by eps
    assert kl_divergence(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]])) == pytest.approx(-math.log(1 + 1e-6))
    assert np.isfinite(kl_divergence(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])))
    with pytest.raises(InputError, match="paired"):
        kl_divergence(np.eye(2), np.eye(3)[:2, :3])


def test_text_audio_similarity():
    t = np.array([[1.0, 0.0], [0.0, 2.0]])
    a = np.array([[2.0, 0.0], [1.0, 1.0]])
    assert text_audio_similarity(t, a) == pytest.approx((1.0 + 1 / math.sqrt(2)) / 2)
    with pytest.raises(InputError, match="paired"):
        text_audio_similarity(t, a[:1])
