import math

import librosa
import numpy as np
import pytest
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import InputError
from audiogan_core.mel import (SILENCE_LOG_MEL, MelFrontEnd, frames_for_samples, log_mel, mel_filterbank,
                               mel_to_linear)

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
