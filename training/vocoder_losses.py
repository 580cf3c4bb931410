"""The vocoder trainer's losses and held-out scores (training/vocoder.py).

Magnitude losses (log-mel L1 is the front end's; a multi-resolution STFT loss), a phase loss
against a teacher's waveform, an envelope loss on the level every 1.45 ms, and the per-clip
resynthesis distances that `aggregate_scores` turns into set-level figures.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from audiogan_core.mel import MelFrontEnd

ENVELOPE_WINDOW, ENVELOPE_STEP = 64, 32  # the envelope loss's level: RMS over 64 samples every 32 (1.45 ms)
ENVELOPE_FLOOR = 1e-8  # power floor of that level (-80 dBFS): below it, silence is silence


def _stft(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:  # [B, N] -> complex [B, F, frames]
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    return torch.stft(x, n_fft, hop_length=hop, win_length=n_fft, window=window, center=True,
                      pad_mode="reflect", return_complex=True)


def mrstft_loss(fake: torch.Tensor, real: torch.Tensor, resolutions) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over resolutions (Parallel WaveGAN's).
    The spectral convergence is taken over the whole batch (Frobenius norms of all its
    spectrograms, as Parallel WaveGAN does): per clip, a near-silent one divides by almost 0."""
    total = fake.new_zeros(())
    for n_fft, hop in resolutions:
        f = _stft(fake, n_fft, hop).abs().clamp(min=1e-7)
        r = _stft(real, n_fft, hop).abs().clamp(min=1e-7)
        sc = torch.linalg.vector_norm(r - f) / torch.linalg.vector_norm(r).clamp(min=1e-7)
        total = total + sc + (r.log() - f.log()).abs().mean()
    return total / len(resolutions)


def phase_loss(fake: torch.Tensor, teacher: torch.Tensor, real: torch.Tensor, resolutions) -> torch.Tensor:
    """|e^{i angle(fake)} - e^{i angle(teacher)}| weighted by the real clip's compressed magnitude
    (|S|^0.3), so phase counts where there is energy and not in silence."""
    total = fake.new_zeros(())
    for n_fft, hop in resolutions:
        f, t = _stft(fake, n_fft, hop), _stft(teacher, n_fft, hop)
        w = _stft(real, n_fft, hop).abs().pow(0.3)
        fu = f / (f.abs() + 1e-5)
        tu = t / (t.abs() + 1e-5)
        total = total + ((fu - tu).abs() * w).sum() / w.sum().clamp(min=1e-7)
    return total / len(resolutions)


def log_level(x: torch.Tensor) -> torch.Tensor:  # [B, N] -> [B, N // ENVELOPE_STEP + 1] in nats of amplitude
    power = F.avg_pool1d(x[:, None].pow(2), ENVELOPE_WINDOW, ENVELOPE_STEP, padding=ENVELOPE_WINDOW // 2)[:, 0]
    return 0.5 * (power + ENVELOPE_FLOOR).log()


def envelope_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 between the log levels of `fake` and `real` ([B, N] each)."""
    return (log_level(fake) - log_level(real)).abs().mean()


@torch.no_grad()
def resynthesis_scores(fake: torch.Tensor, real: torch.Tensor, front_end: MelFrontEnd, resolutions) -> dict:
    """One clip's distances of `fake` to `real` (both [N]): log-mel L1, log-magnitude L1 averaged
    over the STFT resolutions, and the squared error and energy of the magnitudes (summed over
    resolutions) from which `aggregate_scores` forms the set's spectral convergence."""
    n = min(fake.shape[-1], real.shape[-1])
    fake, real = fake[None, :n].float(), real[None, :n].float()
    logmag, err2, ref2 = 0.0, 0.0, 0.0
    for n_fft, hop in resolutions:
        f = _stft(fake, n_fft, hop).abs().clamp(min=1e-7)
        r = _stft(real, n_fft, hop).abs().clamp(min=1e-7)
        logmag += float((r.log() - f.log()).abs().mean()) / len(resolutions)
        err2 += float((r - f).pow(2).sum()) / len(resolutions)
        ref2 += float(r.pow(2).sum()) / len(resolutions)
    return {"mel_l1": float((front_end(fake) - front_end(real)).abs().mean()), "logmag_l1": logmag,
            "err2": err2, "ref2": ref2}


def aggregate_scores(scores: list[dict]) -> dict:
    """Set-level distances: mean log-mel L1, and the MR-STFT distance = spectral convergence of the
    whole set (sqrt(sum err^2 / sum ref^2): a near-silent clip cannot blow it up the way a per-clip
    ratio does) + mean log-magnitude L1."""
    sc = math.sqrt(sum(x["err2"] for x in scores) / max(sum(x["ref2"] for x in scores), 1e-12))
    return {"mel_l1": float(np.mean([x["mel_l1"] for x in scores])),
            "mrstft": sc + float(np.mean([x["logmag_l1"] for x in scores])), "spectral_convergence": sc}
