"""The paired spectral moment loss (audiogan_core.losses.spectral_moment_loss): its terms, their
weights, and how TrainConfig checks and saves them. The trainer's use of it is in test_trainer.py."""
from __future__ import annotations

import json

import pytest
import torch

from audiogan_core.errors import ConfigError
from audiogan_training.config import TrainConfig


def test_spectral_moment_loss_compares_shape_and_motion_not_timing():
    from audiogan_core.losses import spectral_moment_loss

    torch.manual_seed(0)
    real = torch.randn(2, 1, 8, 32)
    assert float(spectral_moment_loss(real, real)) == 0.0
    assert float(spectral_moment_loss(real.roll(7, dims=-1), real)) < 1e-5  # the same sound, later
    louder = real + 1.0  # 1 higher in every bin: the mean term is 1, the spread term 0
    torch.testing.assert_close(spectral_moment_loss(louder, real), torch.tensor(1.0))
    flat = real.mean(-1, keepdim=True).expand_as(real)  # same mean, no motion: the spread term alone
    torch.testing.assert_close(spectral_moment_loss(flat, real), real.std(-1).mean())


def test_the_flux_term_compares_how_fast_each_band_moves():
    from audiogan_core.losses import spectral_moment_loss

    torch.manual_seed(0)
    real = torch.randn(2, 1, 8, 32)
    both = ("mean", "std", "flux")
    assert float(spectral_moment_loss(real, real, both)) == 0.0
    # the same values in another order: mean and spread unchanged, the motion not
    shuffled = real[..., torch.randperm(32)]
    assert float(spectral_moment_loss(shuffled, real)) < 1e-5
    flux = lambda x: x.diff(dim=-1).abs().mean(-1)  # noqa: E731
    torch.testing.assert_close(spectral_moment_loss(shuffled, real, ("flux",)),
                               (flux(shuffled) - flux(real)).abs().mean())
    assert float(spectral_moment_loss(shuffled, real, both)) > 0.01
    louder = real + 1.0  # a level change moves the mean term only
    torch.testing.assert_close(spectral_moment_loss(louder, real, both), torch.tensor(1.0))


def test_the_envelope_term_tells_an_event_at_the_start_from_one_later():
    from audiogan_core.losses import ENVELOPE_FRAMES, spectral_moment_loss, window_means

    w = ENVELOPE_FRAMES
    silence = torch.full((1, 1, 4, 3 * w), -11.5)
    early, late = silence.clone(), silence.clone()
    early[..., : w // 2] = 0.0  # a one-shot: the event, then silence
    late[..., w: w + w // 2] = 0.0  # the same event one window later
    assert float(spectral_moment_loss(late, early)) < 1e-5  # whole-crop moments cannot tell
    torch.testing.assert_close(spectral_moment_loss(late, early, ("envelope",)), torch.tensor(2 * 11.5 / 2 / 3))
    assert window_means(early).shape == (1, 1, 4, 3)
    assert window_means(early[..., :100]).shape == (1, 1, 4, 1)  # shorter than a window: the whole crop
    torch.testing.assert_close(window_means(early[..., : w + 5]), early[..., :w].mean(-1, keepdim=True))


def test_the_onset_term_counts_rises_not_level_or_decay():
    from audiogan_core.losses import onset_rate, spectral_moment_loss

    silence = torch.full((1, 1, 4, 64), -11.5)
    one, four = silence.clone(), silence.clone()
    one[..., 8:16] = 0.0  # one event
    for start in (8, 22, 36, 50):  # four of them
        four[..., start:start + 8] = 0.0
    decay = torch.linspace(0.0, -11.5, 64).expand(1, 1, 4, 64)  # a smooth tail, never rising
    assert float(onset_rate(silence)) == 0.0 and float(onset_rate(decay)) == 0.0
    torch.testing.assert_close(onset_rate(four), 4 * onset_rate(one))
    assert onset_rate(one).shape == (1, 1, 1)
    torch.testing.assert_close(onset_rate(one + 3.0), onset_rate(one))  # level alone changes nothing
    # weighted by name; the others at 1
    both = ("mean", "onset")
    torch.testing.assert_close(spectral_moment_loss(four, one, both, {"onset": 10.0}),
                               spectral_moment_loss(four, one, ("mean",)) + 10 * (onset_rate(four) - onset_rate(one)).abs().mean())


@pytest.mark.parametrize("weights", [{"flux": 1.0}, {"onset": -1.0}, {"onset": "10"}, ["onset"]])
def test_moment_term_weights_are_checked(weights):
    with pytest.raises(ConfigError, match="moment_term_weights"):
        TrainConfig(moment_terms=("mean", "onset"), moment_term_weights=weights)


@pytest.mark.parametrize("terms", [(), ("mean", "mean"), ("mean", "kurtosis"), "mean", None])
def test_moment_terms_are_checked(terms):
    with pytest.raises(ConfigError, match="moment_terms"):
        TrainConfig(moment_terms=terms)


def test_moment_terms_round_trip_through_json():
    cfg = TrainConfig(moment_weight=10.0, moment_terms=["mean", "std", "flux", "envelope", "onset"],
                      moment_term_weights={"onset": 20})
    assert cfg.moment_terms == ("mean", "std", "flux", "envelope", "onset")
    assert cfg.moment_term_weights == {"onset": 20.0}
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg


def _events(starts, length=8, frames=256, bins=4):
    """[1, 1, bins, frames] log-mel: silence (-11.5) with a flat event of `length` frames at each start."""
    x = torch.full((1, 1, bins, frames), -11.5)
    for s in starts:
        x[..., s:s + length] = 0.0
    return x


def test_soft_onset_count_counts_events_as_librosa_does():
    """One per event, not per frame; none for silence, a steady sound or a smooth decay; unchanged by
    level; and close to librosa's onset_detect on the audio the same events make."""
    import librosa
    import numpy as np

    from audiogan_core.losses import soft_onset_count

    for starts in ([20], [20, 90], [20, 60, 100, 140, 180]):
        assert abs(float(soft_onset_count(_events(starts))) - len(starts)) < 0.5, starts
    one = _events([20])
    torch.testing.assert_close(soft_onset_count(one + 3.0), soft_onset_count(one))
    decay = torch.linspace(0.0, -11.5, 256).expand(1, 1, 4, 256)
    for flat in (torch.full((1, 1, 4, 256), -11.5), torch.zeros(1, 1, 4, 256), decay):
        assert float(soft_onset_count(flat)) < 0.5
    assert soft_onset_count(torch.randn(3, 1, 8, 64)).shape == (3, 1, 1)
    # bursts of noise at 0.5 s spacing: librosa's count on the audio, ours on its log-mel
    from audiogan_core.config import MelConfig
    from audiogan_core.mel import log_mel

    rate, rng = 22050, np.random.default_rng(0)
    audio = np.zeros(3 * rate, dtype=np.float32)
    for k in range(5):
        start = int((0.2 + 0.5 * k) * rate)
        audio[start:start + 2000] = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 400)
    expected = len(librosa.onset.onset_detect(y=audio, sr=rate))
    universal = MelConfig(sample_rate=rate, hop_length=256, n_mels=80)  # the bundled model's mel
    ours = float(soft_onset_count(log_mel(torch.from_numpy(audio), universal).reshape(1, 1, 80, -1)))
    assert expected == 5 and abs(ours - expected) < 1.0, (ours, expected)


def test_the_onset_count_term_costs_only_an_excess():
    from audiogan_core.losses import soft_onset_count, spectral_moment_loss

    one, three = _events([20]), _events([20, 90, 160])
    assert float(spectral_moment_loss(one, three, ("onset_count",))) == 0.0  # fewer than the recording: free
    excess = spectral_moment_loss(three, one, ("onset_count",), {"onset_count": 0.5})
    torch.testing.assert_close(excess, 0.5 * (soft_onset_count(three) - soft_onset_count(one)).mean())
    assert float(excess) > 0.9
    fake = three.clone().requires_grad_(True)
    spectral_moment_loss(fake, one, ("onset_count",)).backward()
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def test_a_term_limited_to_some_clips_leaves_the_others_out():
    from audiogan_core.losses import spectral_moment_loss

    torch.manual_seed(0)
    real = torch.randn(3, 1, 8, 32)
    fake = real + torch.tensor([1.0, 2.0, 4.0]).view(3, 1, 1, 1)  # clip i is off by 1, 2, 4 in the mean term
    only_first = {"mean": torch.tensor([True, False, False])}
    # the first clip's share of the batch (1 / 3), as if the others matched
    torch.testing.assert_close(spectral_moment_loss(fake, real, ("mean",), rows=only_first), torch.tensor(1 / 3))
    torch.testing.assert_close(spectral_moment_loss(fake, real, ("mean", "std"), rows=only_first),
                               torch.tensor(1 / 3) + spectral_moment_loss(fake, real, ("std",)))
    assert float(spectral_moment_loss(fake, real, ("mean",), rows={"mean": torch.zeros(3, dtype=torch.bool)})) == 0.0


@pytest.mark.parametrize("limits", [{"std": ["ui"]}, {"mean": ["no_such_kind"]}, {"mean": "ui"}, {"mean": []},
                                    ["mean"], {"mean": {}}, {"mean": {"ui": -1.0}}, {"mean": {"ui": "heavy"}},
                                    {"mean": {"no_such_kind": 1.0}}])
def test_moment_term_categories_are_checked(limits):
    with pytest.raises(ConfigError, match="moment_term_categories"):
        TrainConfig(moment_terms=("mean", "onset_count"), moment_term_categories=limits)


def test_moment_term_categories_round_trip_through_json():
    cfg = TrainConfig(moment_weight=10.0, moment_terms=["mean", "onset_count"],
                      moment_term_categories={"onset_count": ["ui", "gathering_coins"]})
    assert cfg.moment_term_categories == {"onset_count": ("ui", "gathering_coins")}
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg
    weighed = TrainConfig(moment_terms=["mean", "onset_count"],
                          moment_term_categories={"onset_count": {"ui": 1, "sword_melee_hit": 0.3}})
    assert weighed.moment_term_categories == {"onset_count": {"ui": 1.0, "sword_melee_hit": 0.3}}
    assert TrainConfig.from_dict(json.loads(weighed.to_json())) == weighed
