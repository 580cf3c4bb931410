"""Evaluation metrics as pure math on embeddings and class probabilities (numpy in, floats out).

The formulas follow the toolkit that produced the published AudioCaps tables (AudioLDM's
``audioldm_eval``, used by AudioLDM, Tango and AudioGAN):

* Fréchet distance: d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians
  fitted to two embedding sets. On VGGish frame embeddings this is the FAD; on PANNs CNN14
  clip embeddings it is the paper's "FD". The numbers are only comparable with published ones
  when those embedders (and their checkpoints) are used.
* Inception score: exp(E_x[KL(p(y|x) || p(y))]), optionally over splits (mean, std).
* KL: mean over paired clips of KL(p_ref || p_gen), where p_ref are the classifier
  probabilities of the reference clip for a caption and p_gen those of the clip generated
  from the same caption (audioldm_eval: ``kl_div((p_gen + 1e-6).log(), p_ref, 'sum') / N``).
* Text-audio similarity: mean cosine between paired text and audio embeddings (CLAP score).

Small sets: a covariance needs at least MIN_CLIPS = 2 clips (a hard error below that). With
fewer than dim + 1 clips the covariance is singular (rank <= n - 1 < dim): the Fréchet distance
still computes (eps offset), but it is dominated by estimation noise and is biased upwards, so
such results get a warning (`covariance_note`) and must not be compared across set sizes.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .errors import InputError

MIN_CLIPS = 2  # the fewest embeddings a covariance can be estimated from
KL_EPS = 1e-6  # audioldm_eval's offset inside the log of the generated probabilities
PROB_TOLERANCE = 1e-3  # rows of a probability matrix must sum to 1 within this


class UnstableMetricWarning(UserWarning):
    """A metric computed from too few samples to be stable (covariance rank-deficient)."""


def _as_matrix(x, what: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"{what} must be a 2-D array [items, dim], got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{what} is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} contains NaN or infinite values")
    return arr


def covariance_note(n: int, dim: int) -> str | None:
    """None when n clips give a full-rank dim x dim covariance, else a one-line caution."""
    if n < dim + 1:
        return (f"only {n} embeddings for {dim} dimensions: the covariance is singular (needs at least "
                f"{dim + 1}); the Fréchet distance is unstable and biased upwards, compare it only with "
                f"results from sets of the same size")
    return None


def gaussian_stats(embeddings, *, what: str = "embeddings", warn: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean [dim] and unbiased covariance [dim, dim] (float64) of embeddings [n, dim]."""
    emb = _as_matrix(embeddings, what)
    n, dim = emb.shape
    if n < MIN_CLIPS:
        raise InputError(f"{what}: {n} embedding(s) cannot give a covariance; at least {MIN_CLIPS} are needed "
                         f"(and at least {dim + 1} for a stable {dim}-dimensional Fréchet distance)")
    if warn:
        note = covariance_note(n, dim)
        if note:
            warnings.warn(f"{what}: {note}", UnstableMetricWarning, stacklevel=2)
    mu = emb.mean(axis=0)
    sigma = np.cov(emb, rowvar=False)
    return mu, np.atleast_2d(sigma)


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2, *, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    sqrt(sigma1 sigma2) via scipy.linalg.sqrtm; when the product is singular (non-finite
    result) eps * I is added to both covariances and the root is retaken; a small imaginary
    part from round-off is dropped (a large one is an error)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape:
        raise InputError(f"mean vectors differ in size: {mu1.shape} vs {mu2.shape}")
    if sigma1.shape != sigma2.shape or sigma1.shape != (mu1.shape[0], mu1.shape[0]):
        raise InputError(f"covariances do not match the means: {sigma1.shape}, {sigma2.shape} for dim {mu1.shape[0]}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # sqrtm warns on singular input; handled below
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise InputError(f"Fréchet distance: sqrtm gave an imaginary component of "
                             f"{np.max(np.abs(covmean.imag)):.3g}; the covariances are not valid")
        covmean = covmean.real
    scale = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2))
    value = scale - 2.0 * float(np.trace(covmean))
    if -1e-8 * max(scale, 1.0) < value < 0.0:  # round-off below zero for (near-)identical sets
        value = 0.0
    return value


def frechet_distance(emb_a, emb_b, *, eps: float = 1e-6, warn: bool = True) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets [n_a, dim], [n_b, dim].

    With VGGish frame embeddings this is the FAD, with PANNs CNN14 clip embeddings the "FD" of
    the AudioGAN/AudioLDM tables. Needs >= 2 rows per set; warns below dim + 1 rows."""
    a = _as_matrix(emb_a, "first embedding set")
    b = _as_matrix(emb_b, "second embedding set")
    if a.shape[1] != b.shape[1]:
        raise InputError(f"embedding sets have different dimensions: {a.shape[1]} vs {b.shape[1]}")
    mu1, s1 = gaussian_stats(a, what="first embedding set", warn=warn)
    mu2, s2 = gaussian_stats(b, what="second embedding set", warn=warn)
    return frechet_distance_from_stats(mu1, s1, mu2, s2, eps=eps)


frechet_audio_distance = frechet_distance  # FAD: the same formula on VGGish (frame) embeddings


def _as_probabilities(p, what: str) -> np.ndarray:
    arr = _as_matrix(p, what)
    if (arr < -1e-12).any():
        raise InputError(f"{what} has negative entries; pass probabilities (softmax outputs), not logits")
    sums = arr.sum(axis=1)
    bad = np.abs(sums - 1.0) > PROB_TOLERANCE
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{what}: row {i} sums to {sums[i]:.6g}, not 1; pass probabilities "
                         f"(apply softmax to logits first)")
    return np.clip(arr, 0.0, None)


def inception_score(probabilities, *, splits: int = 1, shuffle: bool = False, seed: int = 2020) -> tuple[float, float]:
    """Inception score exp(E_x[KL(p(y|x) || p(y))]) of class probabilities [n, classes].

    With splits > 1 the rows (optionally shuffled with `seed`, as audioldm_eval does with
    splits=10, seed=2020) are cut into `splits` contiguous chunks, p(y) is each chunk's mean
    and the result is (mean, population std) over chunks; splits=1 gives (score, 0.0).
    Ranges from 1 (every clip the same distribution) to the number of classes."""
    p = _as_probabilities(probabilities, "class probabilities")
    n = p.shape[0]
    if not isinstance(splits, int) or splits < 1:
        raise InputError(f"splits must be a positive integer, got {splits!r}")
    if n < splits:
        raise InputError(f"inception score with {splits} splits needs at least {splits} clips, got {n}")
    if shuffle:
        p = p[np.random.RandomState(seed).permutation(n)]
    from scipy.special import xlogy

    scores = []
    for i in range(splits):
        chunk = p[i * n // splits:(i + 1) * n // splits]
        marginal = chunk.mean(axis=0, keepdims=True)
        # sum_y p log p - p log p(y); xlogy makes 0 log 0 = 0 (p(y) > 0 wherever p > 0)
        kl = (xlogy(chunk, chunk) - xlogy(chunk, np.broadcast_to(marginal, chunk.shape))).sum(axis=1)
        scores.append(math.exp(float(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def kl_divergence(p_generated, p_reference, *, eps: float = KL_EPS) -> float:
    """Mean over pairs i of KL(p_reference[i] || p_generated[i]).

    Row i of both matrices belongs to the same caption (the generated clip and the reference
    clip for that caption). Direction and eps follow audioldm_eval (the published KL column):
    sum_c p_ref * (log p_ref - log(p_gen + eps)), 0 log 0 = 0."""
    gen = _as_probabilities(p_generated, "generated probabilities")
    ref = _as_probabilities(p_reference, "reference probabilities")
    if gen.shape != ref.shape:
        raise InputError(f"KL needs paired rows of the same shape, got {gen.shape} (generated) and "
                         f"{ref.shape} (reference)")
    from scipy.special import xlogy

    per_pair = (xlogy(ref, ref) - ref * np.log(gen + eps)).sum(axis=1)
    return float(per_pair.mean())


def text_audio_similarity(text_embeddings, audio_embeddings) -> float:
    """Mean cosine similarity of paired rows (text i describes audio i): the CLAP score."""
    t = _as_matrix(text_embeddings, "text embeddings")
    a = _as_matrix(audio_embeddings, "audio embeddings")
    if t.shape != a.shape:
        raise InputError(f"text and audio embeddings must be paired rows of equal size, got {t.shape} and {a.shape}")
    return float(cosine_rows(t, a).mean())


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of row i of a with row i of b."""
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    return (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)


def cosine_matrix(a, b) -> np.ndarray:
    """[len(a), len(b)] cosine similarities."""
    a = _as_matrix(a, "first embedding set")
    b = _as_matrix(b, "second embedding set")
    if a.shape[1] != b.shape[1]:
        raise InputError(f"embedding sets have different dimensions: {a.shape[1]} vs {b.shape[1]}")
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


__all__ = ["MIN_CLIPS", "KL_EPS", "UnstableMetricWarning", "covariance_note", "gaussian_stats",
           "frechet_distance_from_stats", "frechet_distance", "frechet_audio_distance", "inception_score",
           "kl_divergence", "text_audio_similarity", "cosine_rows", "cosine_matrix"]
