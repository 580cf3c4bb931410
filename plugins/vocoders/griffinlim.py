"""`griffinlim`: weight-free vocoder for any mel config (tests, tiny models, a first listen).

log-mel -> exp -> pseudo-inverse of the Slaney filter bank (clamped at 0) -> fast Griffin-Lim
(Perraudin et al. 2013, momentum 0.99) with STFT/ISTFT that mirror the front end: the signal is
reflect-padded by (n_fft - hop) / 2 and framed with center=False, so T frames <-> T * hop samples.
Deterministic: the initial phase comes from a fixed-seed generator.

The vocoder must match the generator's mel front end: pass ``mel_config`` (a MelConfig or its dict;
the model API passes the model's). Without it, MelConfig.paper() (16 kHz, 64 mels, hop 160) is used.
"""
from __future__ import annotations

import math

import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import ConfigError, InputError
from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import Vocoder
from audiogan_core.mel import mel_to_linear


def as_mel_config(value) -> MelConfig:
    if value is None:
        return MelConfig.paper()
    if isinstance(value, MelConfig):
        return value
    if isinstance(value, dict):
        return MelConfig.from_dict(value)
    raise ConfigError(f"mel_config must be a MelConfig or a dict, got {type(value).__name__}")


class GriffinLimVocoder(Vocoder):
    """log-mel [B, n_mels, T] -> waveform [B, T * hop] by fast Griffin-Lim; no weights."""

    name = "griffinlim"

    def __init__(self, mel_config=None, n_iter: int = 32, momentum: float = 0.99, seed: int = 0):
        self.mel_config = as_mel_config(mel_config)
        if not isinstance(n_iter, int) or isinstance(n_iter, bool) or n_iter < 0:
            raise ConfigError(f"griffinlim vocoder: n_iter must be an integer >= 0, got {n_iter!r}")
        if not 0.0 <= float(momentum) < 1.0 + 1e-9:
            raise ConfigError(f"griffinlim vocoder: momentum must be in [0, 1], got {momentum!r}")
        cfg = self.mel_config
        if (cfg.n_fft - cfg.hop_length) % 2:
            raise ConfigError(f"griffinlim vocoder: n_fft - hop_length must be even, got {cfg.n_fft} - {cfg.hop_length}")
        self.n_iter = n_iter
        self.momentum = float(momentum)
        self.seed = int(seed)
        self.device = torch.device("cpu")

    def load(self, device="cpu") -> "GriffinLimVocoder":
        self.device = torch.device(device)
        return self

    # STFT pair consistent with the mel front end -----------------------------------------
    def _window(self, device, dtype) -> torch.Tensor:
        cfg = self.mel_config
        win = torch.hann_window(cfg.win_length, device=device, dtype=dtype)
        left = (cfg.n_fft - cfg.win_length) // 2  # torch.stft centres a shorter window in n_fft
        return torch.nn.functional.pad(win, (left, cfg.n_fft - cfg.win_length - left))

    def _stft(self, wave: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        cfg = self.mel_config
        pad = (cfg.n_fft - cfg.hop_length) // 2
        y = torch.nn.functional.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        return torch.stft(y, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.n_fft, window=window,
                          center=False, onesided=True, return_complex=True)

    def _istft(self, spec: torch.Tensor, window: torch.Tensor, envelope: torch.Tensor) -> torch.Tensor:
        """Least-squares inverse of _stft (windowed overlap-add / window^2 sum), cropped to T * hop."""
        cfg = self.mel_config
        frames = torch.fft.irfft(spec, n=cfg.n_fft, dim=1) * window[None, :, None]  # [B, n_fft, T]
        T = spec.shape[-1]
        total = cfg.n_fft + (T - 1) * cfg.hop_length
        ola = torch.nn.functional.fold(frames, output_size=(1, total), kernel_size=(1, cfg.n_fft),
                                       stride=(1, cfg.hop_length)).reshape(spec.shape[0], total)
        pad = (cfg.n_fft - cfg.hop_length) // 2
        return (ola / envelope)[:, pad: pad + T * cfg.hop_length]

    def _envelope(self, T: int, window: torch.Tensor) -> torch.Tensor:
        cfg = self.mel_config
        total = cfg.n_fft + (T - 1) * cfg.hop_length
        sq = (window ** 2)[None, :, None].expand(1, cfg.n_fft, T)
        env = torch.nn.functional.fold(sq, output_size=(1, total), kernel_size=(1, cfg.n_fft),
                                       stride=(1, cfg.hop_length)).reshape(total)
        return env.clamp(min=1e-8 * float(env.max()))

    @torch.no_grad()
    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        cfg = self.mel_config
        log_mel, squeeze = self.check_input(log_mel)
        if not torch.isfinite(log_mel).all():
            raise InputError("griffinlim vocoder: log-mel contains NaN or infinity")
        in_device = log_mel.device
        x = log_mel.to(self.device, torch.float32)
        B, _, T = x.shape
        magnitude = mel_to_linear(x, cfg)  # [B, n_freq, T]
        window = self._window(x.device, x.dtype)
        envelope = self._envelope(T, window)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        # One phase pattern for every row, so a clip's audio does not depend on its batch.
        phase = torch.rand(magnitude.shape[-2:], generator=gen, dtype=torch.float32) * (2 * math.pi)
        phase = phase.expand(magnitude.shape)
        angles = torch.polar(torch.ones_like(phase), phase).to(x.device)
        previous = torch.zeros_like(angles)
        accel = self.momentum / (1.0 + self.momentum)
        for _ in range(self.n_iter):
            rebuilt = self._stft(self._istft(magnitude * angles, window, envelope), window)
            angles = rebuilt - accel * previous
            angles = angles / angles.abs().clamp(min=1e-16)
            previous = rebuilt
        wave = self._istft(magnitude * angles, window, envelope)
        peak = wave.abs().amax(dim=-1, keepdim=True)
        wave = torch.where(peak > 1.0, wave / peak, wave)  # never clip
        wave = wave.to(in_device)
        return wave[0] if squeeze else wave


@hookimpl
def register_vocoders(register):
    register("griffinlim", GriffinLimVocoder,
             description="weight-free fast Griffin-Lim for any mel config (option mel_config; default "
                         "MelConfig.paper(): 16 kHz, 64 mels, hop 160); options n_iter=32, momentum=0.99")
