"""The vocoder's adversarial critic: a multi-resolution spectrogram discriminator (UnivNet's MRD,
as Vocos uses it), for the adversarial phase of `audiogan train-vocoder` (`w_adv > 0`).

Why a spectrogram critic and no waveform one: regression losses (log-mel L1, MR-STFT) make the
vocoder predict the mean magnitude of every bin, which smooths noisy textures (rain, fire,
crowds); a critic that looks at the fine structure of the magnitude is what puts it back. On two
CPU cores a waveform critic (HiFi-GAN's MPD/MSD) would cost several times the whole vocoder step.

Each resolution sees the compressed magnitude |S|^0.3 [B, 1, T, F] (log would let it judge the
-100 dB floor of silent passages; the raw magnitude, only the loudest bins) and strides along
frequency, so its cost stays a small multiple of the vocoder's.

Optionally (`disc_periods`) a narrow version of HiFi-GAN's multi-period discriminator joins it:
each period p folds the waveform into [B, 1, N / p, p] and convolves along the folds, so it
judges the sample-level periodic structure (the partials of a ringing hammer or an axe's knock)
that a magnitude critic cannot see below its frequency resolution. Narrow channels keep its cost
near the spectrogram critic's.

Optionally (`disc_envelope_channels`) a critic of the level envelope joins them: the energy of
`bands` frequency bands every 32 samples (1.45 ms at 22.05 kHz), judged beside the mel the audio
was made from. Regression losses cannot reward a sharp attack (under a mel that does not say where
in its frame the blow falls, a smeared one costs less), and the spectrogram critics spend nearly
all of a step's time; this one is a few 1-D convolutions, so a run can afford thousands of steps.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm


class SpectrogramDiscriminator(nn.Module):
    def __init__(self, n_fft: int, hop: int, channels: int = 32):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        c = channels
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, c, (3, 9), padding=(1, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))

    def spectrogram(self, wave: torch.Tensor) -> torch.Tensor:  # [B, N] -> [B, 1, T, F]
        spec = torch.stft(wave.float(), self.n_fft, hop_length=self.hop, win_length=self.n_fft,
                          window=self.window, center=True, return_complex=True)  # [B, F, T]
        return spec.abs().clamp(min=1e-7).pow(0.3).transpose(1, 2)[:, None]

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.spectrogram(wave)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)  # [B, C, T, F / 2^k]
            features.append(x)
        return self.out(x).flatten(1), features  # logits [B, T * F']


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: int = 16):
        super().__init__()
        self.period = period
        widths = [1, channels, 4 * channels, 8 * channels, 8 * channels]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(a, b, (5, 1), stride=(3, 1), padding=(2, 0))) for a, b in zip(widths, widths[1:]))
        self.convs.append(weight_norm(nn.Conv2d(widths[-1], widths[-1], (5, 1), padding=(2, 0))))
        self.out = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, n = wave.shape
        pad = (-n) % self.period
        x = F.pad(wave.float(), (0, pad), mode="reflect" if pad < n else "constant")
        x = x.view(b, 1, (n + pad) // self.period, self.period)  # [B, 1, N / p, p]
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)  # [B, C, N / p / 3^k, p]
            features.append(x)
        return self.out(x).flatten(1), features


class EnvelopeDiscriminator(nn.Module):
    """Judges the band levels of a waveform at a fine step, given its mel (both real and generated
    audio are judged beside the real audio's mel, so it asks "is this envelope plausible for this
    mel", not only "does it look like audio")."""

    def __init__(self, n_mels: int, frame_hop: int, channels: int = 32, n_fft: int = 128, hop: int = 32,
                 bands: int = 8, cond: int = 16):
        super().__init__()
        if frame_hop % hop or (n_fft // 2) % bands:
            raise ValueError(f"envelope critic: hop {hop} must divide the mel hop {frame_hop} and bands {bands} "
                             f"the {n_fft // 2} bins")
        self.n_fft, self.hop, self.bands, self.repeat = n_fft, hop, bands, frame_hop // hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.cond = weight_norm(nn.Conv1d(n_mels, cond, 1))
        c = channels
        widths = [bands + cond, c, c, 2 * c, 2 * c]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(a, b, 5, stride=1 if i == 0 else 2, padding=2))
            for i, (a, b) in enumerate(zip(widths, widths[1:])))
        self.convs.append(weight_norm(nn.Conv1d(2 * c, 2 * c, 3, padding=1)))
        self.out = weight_norm(nn.Conv1d(2 * c, 1, 3, padding=1))

    def envelope(self, wave: torch.Tensor) -> torch.Tensor:  # [B, N] -> [B, bands, N / hop + 1], log energy / 5
        power = torch.stft(wave.float(), self.n_fft, hop_length=self.hop, win_length=self.n_fft, window=self.window,
                           center=True, return_complex=True).abs().square()  # [B, n_fft / 2 + 1, T']
        B, _, T = power.shape
        power = power[:, 1:].reshape(B, self.bands, -1, T).sum(2)  # DC left out: [B, bands, T']
        return power.clamp(min=1e-8).log() / 5

    def forward(self, wave: torch.Tensor, mel: torch.Tensor):
        env = self.envelope(wave)  # [B, bands, T']
        cond = self.cond(mel.float()).repeat_interleave(self.repeat, dim=-1)  # [B, cond, S * repeat]
        extra = env.shape[-1] - cond.shape[-1]
        cond = F.pad(cond, (0, extra), mode="replicate") if extra > 0 else cond[..., : env.shape[-1]]
        x = torch.cat([env, cond], dim=1)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)  # [B, C, T' / 2^k]
            features.append(x)
        return self.out(x).flatten(1), features


class MultiResolutionDiscriminator(nn.Module):
    """The spectrogram critics, one per STFT resolution, the period critics and the envelope critic
    (none of the last two by default; an empty list adds no weights, so checkpoints without them
    load unchanged)."""

    def __init__(self, resolutions=((512, 128), (1024, 256), (2048, 512)), channels: int = 32,
                 periods: tuple[int, ...] = (), period_channels: int = 16, envelope_channels: int = 0,
                 n_mels: int = 80, frame_hop: int = 256):
        super().__init__()
        self.discriminators = nn.ModuleList(SpectrogramDiscriminator(n, h, channels) for n, h in resolutions)
        self.period_discriminators = nn.ModuleList(PeriodDiscriminator(p, period_channels) for p in periods)
        self.envelope_discriminators = nn.ModuleList(
            [EnvelopeDiscriminator(n_mels, frame_hop, envelope_channels)] if envelope_channels else [])

    def forward(self, wave: torch.Tensor, mel: torch.Tensor | None = None):  # [B, N] -> per critic (logits, features)
        if self.envelope_discriminators and mel is None:
            raise ValueError("the envelope critic needs the mel the audio was made from")
        return ([d(wave) for d in self.discriminators] + [d(wave) for d in self.period_discriminators]
                + [d(wave, mel) for d in self.envelope_discriminators])


def discriminator_loss(real_out, fake_out) -> torch.Tensor:
    """Hinge loss: real logits pushed above +1, fake below -1."""
    total = 0.0
    for (real, _), (fake, _) in zip(real_out, fake_out):
        total = total + F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return total / len(real_out)


def generator_adversarial_loss(fake_out) -> torch.Tensor:
    return sum(F.relu(1 - fake).mean() for fake, _ in fake_out) / len(fake_out)


def feature_matching_loss(real_out, fake_out) -> torch.Tensor:
    """L1 between the critic's feature maps for real and generated audio (real ones detached),
    relative to the real maps' mean magnitude so every layer counts alike."""
    total, count = 0.0, 0
    for (_, real_feats), (_, fake_feats) in zip(real_out, fake_out):
        for r, f in zip(real_feats, fake_feats):
            r = r.detach()
            total = total + (r - f).abs().mean() / r.abs().mean().clamp(min=1e-5)
            count += 1
    return total / count
