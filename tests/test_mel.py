import math

import librosa
import numpy as np
import pytest
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import InputError
from audiogan_core.mel import (SILENCE_LOG_MEL, MelFrontEnd, frames_for_samples, log_mel, match_mel,
                               mel_filterbank, mel_to_linear, overlap_add)

CONFIGS = {"paper": MelConfig.paper(), "dcase": MelConfig.dcase(), "hifigan_universal": MelConfig.hifigan_universal()}


def reference_log_mel(wave: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Independent numpy/librosa computation of the HiFi-GAN log-mel."""
    pad = (cfg.n_fft - cfg.hop_length) // 2
    y = np.pad(wave.astype(np.float64), (pad, pad), mode="reflect")
    spec = librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                        window="hann", center=False)
    magnitude = np.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9)
    basis = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                                fmax=cfg.fmax, htk=False, norm="slaney")
    return np.log(np.maximum(basis @ magnitude, 1e-5))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_matches_librosa_reference(name):
    cfg = CONFIGS[name]
    rng = np.random.default_rng(0)
    samples = cfg.hop_length * 40
    wave = (0.3 * rng.standard_normal(samples)).astype(np.float32)
    wave[: samples // 4] *= 1e-4  # quiet section: exercises the clamp
    ours = MelFrontEnd(cfg)(torch.from_numpy(wave)).numpy()
    ref = reference_log_mel(wave, cfg)
    assert ours.shape == (1, cfg.n_mels, 40) == (1,) + ref.shape
    np.testing.assert_allclose(ours[0], ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_frame_count_is_samples_over_hop(name):
    cfg = CONFIGS[name]
    for frames in (1, 7, 33):
        assert frames_for_samples(frames * cfg.hop_length, cfg) == frames
    out = log_mel(torch.zeros(2, 7 * cfg.hop_length), cfg)
    assert out.shape == (2, cfg.n_mels, 7)


def test_paper_config_gives_1024_frames_for_10_24_seconds():
    cfg = MelConfig.paper()
    samples = int(10.24 * cfg.sample_rate)
    out = log_mel(np.zeros(samples, dtype=np.float32), cfg)
    assert out.shape == (1, 64, 1024)
    assert frames_for_samples(samples, cfg) == 1024


def test_silence_is_the_floor():
    cfg = MelConfig.paper()
    out = log_mel(torch.zeros(1600), cfg)
    # sqrt(1e-9) per bin times the filter weights is far below 1e-5: everything clamps.
    assert torch.allclose(out, torch.full_like(out, SILENCE_LOG_MEL))
    assert SILENCE_LOG_MEL == pytest.approx(math.log(1e-5))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_sine_peaks_at_the_right_bin(name):
    cfg = CONFIGS[name]
    freq = 1000.0
    t = np.arange(cfg.hop_length * 30) / cfg.sample_rate
    wave = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    out = log_mel(torch.from_numpy(wave), cfg)[0]
    peak_bins = out[:, 5:-5].argmax(dim=0)  # interior frames, away from the reflect edges
    assert peak_bins.unique().numel() == 1  # a steady tone: the same bin in every frame
    peak = int(peak_bins[0])
    # Slaney mel-bin centre frequencies (the filter of bin k peaks at centers[k]).
    centers = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1]
    nearest = int(np.argmin(np.abs(centers - freq)))
    # The peak is the bin centred nearest 1 kHz, or its neighbour when the FFT grid is coarser
    # than the mel grid there (dcase: 23.4 Hz FFT bins vs 16 Hz mel spacing).
    fft_step = cfg.sample_rate / cfg.n_fft
    mel_step = centers[nearest + 1] - centers[nearest]
    assert abs(peak - nearest) <= (0 if fft_step < mel_step else 1)
    assert abs(centers[peak] - freq) < max(fft_step, mel_step)
    # and it stands well above the bins an octave away
    low = int(np.argmin(np.abs(centers - freq / 2)))
    high = int(np.argmin(np.abs(centers - freq * 2)))
    inner = out[:, 5:-5]
    assert (inner[peak] - inner[low]).min() > 5 and (inner[peak] - inner[high]).min() > 5


def test_batch_and_module_behaviour():
    cfg = CONFIGS["hifigan_universal"]
    front = MelFrontEnd(cfg)
    assert front.state_dict() == {}  # buffers are not persistent
    wave = torch.randn(3, cfg.hop_length * 8)
    batched = front(wave)
    single = front(wave[1])
    torch.testing.assert_close(batched[1:2], single)
    out64 = front(wave.double())
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), batched, atol=1e-4, rtol=0)


def test_bad_inputs():
    front = MelFrontEnd(MelConfig.paper())
    with pytest.raises(InputError, match="shape"):
        front(torch.zeros(1, 1, 1600))
    with pytest.raises(InputError, match="too short"):
        front(torch.zeros(100))


def test_mel_to_linear_inverts_the_filter_bank_roughly():
    cfg = CONFIGS["hifigan_universal"]
    rng = np.random.default_rng(1)
    lin = torch.from_numpy(np.abs(rng.standard_normal((cfg.n_fft // 2 + 1, 5))).astype(np.float32)) + 0.1
    basis = torch.from_numpy(mel_filterbank(cfg))
    mel = torch.log(torch.clamp(basis @ lin, min=1e-5))
    back = mel_to_linear(mel, cfg)
    assert back.shape == lin.shape
    assert (back >= 0).all()
    # projecting the estimate back through the filter bank reproduces the mel (up to the clamp at 0)
    err = (torch.log(torch.clamp(basis @ back, min=1e-5)) - mel).abs()
    assert err.mean() < 0.01 and err.max() < 0.25
    with pytest.raises(InputError):
        mel_to_linear(torch.zeros(3, 5), cfg)


def _noisy_chord(frames: int, cfg: MelConfig, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(frames * cfg.hop_length) / cfg.sample_rate
    tones = sum(torch.sin(2 * math.pi * f * t) for f in (220.0, 1375.0, 4100.0))
    return (0.1 * tones + 0.05 * torch.randn(t.shape, generator=gen)).unsqueeze(0)  # [1, frames * hop]


def test_match_mel_moves_a_waveform_to_the_mel_asked_for():
    cfg = CONFIGS["hifigan_universal"]
    wave = _noisy_chord(40, cfg)
    target = log_mel(wave, cfg)  # [1, 80, 40]
    # its own mel asked for: the STFT is rescaled by 1 and put together again exactly
    assert (match_mel(wave, target, cfg, rounds=2) - wave).abs().max() < 1e-4
    # 12 dB too quiet: the level comes back
    quiet = 0.25 * wave
    back = match_mel(quiet, target, cfg, rounds=2)
    assert float(back.pow(2).mean().sqrt() / wave.pow(2).mean().sqrt()) == pytest.approx(1.0, abs=0.03)
    # ten bands asked 1 nat louder: they rise by about 1, the rest barely move, more so with more rounds
    louder = target.clone()
    louder[:, 30:40] += 1.0
    errors = [float((log_mel(match_mel(wave, louder, cfg, rounds=n), cfg) - louder).abs().mean()) for n in (1, 3)]
    assert errors[1] < errors[0] < float((target - louder).abs().mean())
    got = log_mel(match_mel(wave, louder, cfg, rounds=3), cfg)
    assert float((got - target)[:, 32:38].mean()) == pytest.approx(1.0, abs=0.2)
    assert float((got - target)[:, :25].abs().mean()) < 0.1
    # a round moves a band by at most `cap` nats
    capped = log_mel(match_mel(wave, target + 10.0, cfg, rounds=1, cap=2.0), cfg)
    assert float((capped - target)[:, 5:70].max()) < 2.6


def test_match_mel_edges():
    cfg = CONFIGS["hifigan_universal"]
    wave = _noisy_chord(6, cfg)
    assert torch.equal(match_mel(wave, log_mel(wave, cfg) + 1, cfg, rounds=0), wave)
    one_frame = wave[:, :cfg.hop_length]  # shorter than the front end's padding: nothing to compare
    assert torch.equal(match_mel(one_frame, torch.zeros(1, 80, 1), cfg), one_frame)
    with pytest.raises(InputError, match="6 frames of 80 mels, the target is \\(80, 5\\)"):
        match_mel(wave, torch.zeros(1, 80, 5), cfg)


@pytest.mark.parametrize("n_fft,hop,frames", [(1024, 256, 50), (256, 64, 7), (1024, 256, 1), (1000, 300, 9)])
def test_overlap_add_is_the_windowed_inverse_ffts_summed_at_their_hops(n_fft, hop, frames):
    gen = torch.Generator().manual_seed(0)
    spec = torch.complex(torch.randn(2, n_fft // 2 + 1, frames, generator=gen),
                         torch.randn(2, n_fft // 2 + 1, frames, generator=gen))
    window = torch.hann_window(n_fft)
    ola, env = overlap_add(spec, n_fft, hop, window)
    pieces = torch.fft.irfft(spec, n=n_fft, dim=1) * window[None, :, None]
    want = torch.zeros(2, n_fft + (frames - 1) * hop)
    want_env = torch.zeros(1, want.shape[-1])
    for t in range(frames):
        want[:, t * hop: t * hop + n_fft] += pieces[..., t]
        want_env[:, t * hop: t * hop + n_fft] += window ** 2
    assert torch.allclose(ola, want, atol=1e-5) and torch.allclose(env, want_env, atol=1e-6)
