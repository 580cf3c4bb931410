"""An example third-party audiogan plugin: the weight-free `sine-bank` vocoder.

Every mel bin drives one sine oscillator at the bin's centre frequency (Slaney mel scale, as the
front end uses); its amplitude follows the bin's mel energy, linearly interpolated between frame
centres. Crude but instant, and it works with any mel config.

The plugin is found through the `audiogan` entry-point group (see pyproject.toml); the only
contract is the `register_vocoders` hook below.
"""
from __future__ import annotations

import math

import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import ConfigError
from audiogan_plugins import Vocoder, hookimpl

__version__ = "0.1.0"
CHUNK = 1 << 16  # samples synthesised at once (bounds memory to n_mels * CHUNK floats)


class SineBankVocoder(Vocoder):
    """log-mel [B, n_mels, T] -> waveform [B, T * hop]: one sine per mel bin."""

    name = "sine-bank"

    def __init__(self, mel_config=None, seed: int = 0):
        if mel_config is None:
            mel_config = MelConfig.paper()
        elif isinstance(mel_config, dict):
            mel_config = MelConfig.from_dict(mel_config)
        elif not isinstance(mel_config, MelConfig):
            raise ConfigError(f"sine-bank: mel_config must be a MelConfig or a dict, got {type(mel_config).__name__}")
        self.mel_config = mel_config
        import librosa

        cfg = mel_config
        fmax = cfg.fmax if cfg.fmax is not None else cfg.sample_rate / 2
        edges = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=fmax, htk=False)
        self.frequencies = torch.tensor(edges[1:-1], dtype=torch.float64)  # bin centres, Hz
        # A sine of amplitude A at a bin's centre gives mel energy A * (win / 4) * 2 / (f[k+2] - f[k])
        # (Hann window sum / 2 times the Slaney filter's peak height): invert that.
        widths = torch.tensor(edges[2:] - edges[:-2], dtype=torch.float32)
        self.gain = widths / (cfg.win_length / 2)
        generator = torch.Generator().manual_seed(seed)
        self.phases = torch.rand(cfg.n_mels, generator=generator, dtype=torch.float64) * 2 * math.pi

    @torch.no_grad()
    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        cfg = self.mel_config
        log_mel, squeeze = self.check_input(log_mel)  # [B, n_mels, T]; the base class checks the shape
        device = log_mel.device
        energy = (log_mel.detach().float().cpu().exp() - 1e-5).clamp(min=0.0)  # digital silence -> 0
        amplitude = energy * self.gain[None, :, None]
        samples = log_mel.shape[-1] * cfg.hop_length
        # Frame k is centred on sample (k + 0.5) * hop: linear interpolation with align_corners=False.
        envelope = torch.nn.functional.interpolate(amplitude, size=samples, mode="linear", align_corners=False)
        out = torch.zeros(log_mel.shape[0], samples)
        omega = 2 * math.pi * self.frequencies / cfg.sample_rate
        for start in range(0, samples, CHUNK):
            n = torch.arange(start, min(start + CHUNK, samples), dtype=torch.float64)
            oscillators = torch.sin(omega[:, None] * n[None, :] + self.phases[:, None]).float()  # [n_mels, chunk]
            out[:, start: start + n.numel()] = (envelope[:, :, start: start + n.numel()] * oscillators).sum(1)
        peak = out.abs().amax(dim=-1, keepdim=True)
        out = torch.where(peak > 1.0, out / peak, out)
        out = out.to(device)
        return out[0] if squeeze else out


@hookimpl
def register_vocoders(register):
    register("sine-bank", SineBankVocoder,
             description="example plugin: one sine per mel bin at its centre frequency (no weights; "
                         "any mel config via mel_config=)")
