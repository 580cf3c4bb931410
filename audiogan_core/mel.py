"""Waveform -> log-mel, exactly as HiFi-GAN-style vocoders compute it (meldataset.mel_spectrogram):

    y  = reflect_pad(wave, (n_fft - hop) // 2 on both sides)
    X  = torch.stft(y, n_fft, hop, win_length, hann(win_length), center=False, onesided)
    M  = sqrt(re^2 + im^2 + 1e-9)
    S  = mel_basis @ M          # librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax): Slaney scale + norm
    LM = ln(clamp(S, min=1e-5))

Output: [B, n_mels, frames], frames = samples // hop when samples is a multiple of hop and
(n_fft - hop) is even (true for every named MelConfig).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from .config import MelConfig
from .errors import InputError

CLAMP_MIN = 1e-5
MAGNITUDE_EPS = 1e-9
SILENCE_LOG_MEL = math.log(CLAMP_MIN)  # ln(1e-5) ~ -11.5129: the log-mel of digital silence


@functools.lru_cache(maxsize=16)
def mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """Slaney mel filter bank [n_mels, n_fft // 2 + 1], float32 (librosa's default: htk=False, norm='slaney')."""
    import librosa

    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                               fmax=cfg.fmax).astype(np.float32)


@functools.lru_cache(maxsize=16)
def mel_filterbank_pinv(cfg: MelConfig) -> np.ndarray:
    """Moore-Penrose pseudo-inverse of the filter bank [n_fft // 2 + 1, n_mels], float32."""
    return np.linalg.pinv(mel_filterbank(cfg).astype(np.float64)).astype(np.float32)


def frames_for_samples(samples: int, cfg: MelConfig) -> int:
    """Number of frames MelFrontEnd makes from `samples` samples."""
    pad = (cfg.n_fft - cfg.hop_length) // 2
    return 1 + (samples + 2 * pad - cfg.n_fft) // cfg.hop_length


class MelFrontEnd(torch.nn.Module):
    """Waveform [B, samples] or [samples] -> log-mel [B, n_mels, frames] (see the module docstring).

    The filter bank and window are non-persistent buffers: they follow .to(device) but stay out
    of state dicts (they are a pure function of the MelConfig saved beside the weights)."""

    def __init__(self, cfg: MelConfig):
        super().__init__()
        self.cfg = cfg
        self.pad = (cfg.n_fft - cfg.hop_length) // 2
        self.register_buffer("mel_basis", torch.from_numpy(mel_filterbank(cfg).copy()), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win_length), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.log_mel_of(self.stft(wave))

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform [B, samples] or [samples] -> the front end's complex STFT [B, n_fft // 2 + 1, frames]."""
        cfg = self.cfg
        if not torch.is_tensor(wave):
            wave = torch.as_tensor(np.asarray(wave))
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)
        if wave.dim() != 2:
            raise InputError(f"waveform must be [samples] or [batch, samples], got shape {tuple(wave.shape)}")
        if wave.shape[-1] <= self.pad:
            raise InputError(f"waveform too short: {wave.shape[-1]} samples; the mel front end needs more than "
                             f"{self.pad} (n_fft {cfg.n_fft}, hop {cfg.hop_length})")
        if not wave.is_floating_point():
            wave = wave.float()
        y = F.pad(wave.unsqueeze(1), (self.pad, self.pad), mode="reflect").squeeze(1)
        if y.shape[-1] < cfg.n_fft:
            raise InputError(f"waveform too short: {wave.shape[-1]} samples make less than one frame "
                             f"(n_fft {cfg.n_fft})")
        return torch.stft(y, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=self.window.to(wave.dtype), center=False, pad_mode="reflect", normalized=False,
                          onesided=True, return_complex=True)

    def log_mel_of(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex STFT [B, F, frames] -> log-mel [B, n_mels, frames]."""
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + MAGNITUDE_EPS)
        mel = torch.matmul(self.mel_basis.to(magnitude.dtype), magnitude)
        return torch.log(torch.clamp(mel, min=CLAMP_MIN))


def overlap_add(spec: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Complex spectra [B, n_fft // 2 + 1, T] -> (their windowed inverse FFTs overlap-added [B, (T - 1) * hop +
    n_fft], the window^2 sum over the same span [1, (T - 1) * hop + n_fft]); divide the first by the second."""
    B, _, T = spec.shape
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * window[None, :, None]  # [B, n_fft, T]
    sq = (window ** 2)[None, :, None].expand(1, n_fft, T)
    if n_fft % hop == 0:  # r = n_fft / hop blocks per frame: r shifted sums instead of fold (several times faster)
        r = n_fft // hop
        return _block_sum(frames, r, hop), _block_sum(sq, r, hop)
    total = n_fft + (T - 1) * hop
    ola = F.fold(frames, output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop))
    env = F.fold(sq, output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop))
    return ola.reshape(B, total), env.reshape(1, total)


def _block_sum(frames: torch.Tensor, r: int, hop: int) -> torch.Tensor:
    """[B, r * hop, T] frames at hop `hop` -> their overlap-add [B, (T + r - 1) * hop]: block k of frame t lands on
    output block t + k."""
    B, _, T = frames.shape
    blocks = frames.reshape(B, r, hop, T)  # [B, r, hop, T]
    out = sum(F.pad(blocks[:, k], (k, r - 1 - k)) for k in range(r))  # [B, hop, T + r - 1]
    return out.transpose(1, 2).reshape(B, (T + r - 1) * hop)


@functools.lru_cache(maxsize=8)
def _cached_front_end(cfg: MelConfig, device: str) -> MelFrontEnd:
    return MelFrontEnd(cfg).to(device)


def log_mel(wave, mel_config: MelConfig) -> torch.Tensor:
    """Convenience: log-mel of a waveform (tensor or numpy) with a front end cached per
    (config, device)."""
    if not torch.is_tensor(wave):
        wave = torch.as_tensor(np.asarray(wave, dtype=np.float32))
    return _cached_front_end(mel_config, str(wave.device))(wave)


def mel_to_linear(log_mel_spec: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Approximate linear magnitude [.., n_fft // 2 + 1, frames] from a log-mel [.., n_mels, frames]:
    exp, then the filter bank's pseudo-inverse, clamped at 0 (input for Griffin-Lim)."""
    if log_mel_spec.shape[-2] != cfg.n_mels:
        raise InputError(f"log-mel has {log_mel_spec.shape[-2]} bins but the mel config has {cfg.n_mels}")
    pinv = torch.from_numpy(mel_filterbank_pinv(cfg)).to(device=log_mel_spec.device, dtype=log_mel_spec.dtype)
    return torch.clamp(torch.matmul(pinv, torch.exp(log_mel_spec)), min=0.0)


def match_mel_reach(cfg: MelConfig, rounds: int) -> int:
    """Mel frames each side that `rounds` rounds of match_mel read past a sample's own frame (a window and a little
    more each round, plus the reflect padding at a piece's edge): a piece computed with this many more frames each
    side matches the whole clip's result inside it."""
    if not rounds:
        return 0
    return rounds * (math.ceil(cfg.n_fft / cfg.hop_length) + 1) + math.ceil(cfg.n_fft / 2 / cfg.hop_length)


def match_mel(wave: torch.Tensor, target: torch.Tensor, cfg: MelConfig, rounds: int = 1,
              cap: float = 3.0) -> torch.Tensor:
    """Move a waveform's log-mel towards `target` while keeping what the mel leaves open.

    wave [B, frames * hop], target log-mel [B, n_mels, frames] -> [B, frames * hop]. Each round takes the
    front end's STFT, scales every bin by the filter-bank-weighted mean of its bands' log ratios
    (target minus the wave's own log-mel, capped at `cap` nats either way; bins above fmax, which no band
    covers, keep their gain of 1), and overlap-adds the frames back. Phases, and the structure inside
    each band, stay the input's. A waveform no longer than the front end's padding (one frame) has no mel
    of its own to compare and is returned as it is."""
    front = _cached_front_end(cfg, str(wave.device))
    n_fft, hop, pad = cfg.n_fft, cfg.hop_length, front.pad
    samples = wave.shape[-1]
    if samples <= pad or rounds == 0:
        return wave
    frames = frames_for_samples(samples, cfg)
    if target.shape[-1] != frames or target.shape[-2] != cfg.n_mels:
        raise InputError(f"match_mel: a {samples}-sample waveform has {frames} frames of {cfg.n_mels} mels, "
                         f"the target is {tuple(target.shape[-2:])}")
    basis = front.mel_basis.to(wave.dtype)  # [n_mels, F]
    share = basis / basis.sum(0, keepdim=True).clamp(min=1e-12)  # [n_mels, F]: each band's part of each bin
    left = (n_fft - cfg.win_length) // 2
    window = F.pad(front.window.to(wave.dtype), (left, n_fft - cfg.win_length - left))  # [n_fft], as torch.stft
    for _ in range(rounds):
        spec = front.stft(wave)  # [B, F, frames]
        delta = (target.to(wave.dtype) - front.log_mel_of(spec)).clamp(-cap, cap)  # [B, n_mels, frames]
        spec = spec * torch.exp(torch.matmul(share.transpose(0, 1), delta))
        ola, env = overlap_add(spec, n_fft, hop, window)
        wave = (ola / env.clamp(min=1e-8))[:, pad: pad + samples]
    return wave
