"""`audiogan fit-level` (training/level_fit.py): the targets follow the recordings' level over
time, and the fitted envelope, on an untrained tiny model, turns a one-shot caption's later frames
down and leaves a steady sound's alone (the fit's wiring and direction, not quality)."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from audiogan_core import AudioGAN
from audiogan_core.config import preset
from audiogan_core.errors import InputError
from audiogan_core.generator import frame_clock
from audiogan_training.level_fit import (LevelFitConfig, envelope_targets, fit_level, local_max,
                                         recording_heights)
from test_any_length import blocks_tiny


def test_a_short_recording_continues_by_how_it_ends_and_a_long_one_is_cut():
    loud, silent = -1.5129, -11.5129  # heights 10 and 0
    decayed = np.full((4, 10), silent, dtype=np.float32)
    decayed[:, :3] = loud  # a one-shot: three loud frames, then silence to its end
    h = recording_heights(decayed, 16, tail_frames=2)
    assert h.shape == (16,) and torch.allclose(h[:3], torch.full((3,), 10.0), atol=1e-3)
    assert torch.all(h[3:] < 1e-3)  # it continues in silence
    steady = np.full((4, 10), -3.0, dtype=np.float32)  # cut out of something that goes on
    assert torch.allclose(recording_heights(steady, 16, 2), torch.full((16,), 8.5129), atol=1e-3)
    assert recording_heights(steady, 6, 2).shape == (6,)
    half = np.full((4, 10), loud, dtype=np.float32)
    half[:, -2:] = silent + 5.0  # ends at half its loud level: halfway between decay_lo 0.3 and decay_hi 0.7
    assert torch.allclose(recording_heights(half, 12, 2, 0.3, 0.7)[10:], torch.full((2,), 2.5), atol=1e-3)
    with pytest.raises(ValueError, match="decay_lo < decay_hi"):
        LevelFitConfig(decay_lo=0.7, decay_hi=0.3)


def test_by_steadiness_a_long_steady_recording_goes_on_and_a_fade_out_or_a_short_beep_does_not_end_it():
    floor = -11.5129
    texture = np.full((4, 40), floor + 8.0, dtype=np.float32)
    texture[:, -10:] = floor + np.linspace(8.0, 0.0, 10)  # steady, then a fade-out
    h = recording_heights(texture, 60, 2, steady=(20, 1.15, 0.5))
    assert torch.allclose(h[40:], torch.full((20,), 8.0), atol=1e-3)  # goes on at its median level
    assert torch.all(recording_heights(texture, 60, 2)[40:] < 1e-3)  # by how it ends, the fade-out ends it
    beep = np.full((4, 10), floor + 8.0, dtype=np.float32)  # steady but shorter than min_frames
    assert torch.all(recording_heights(beep, 60, 2, steady=(20, 1.15, 0.5))[10:] == 0)
    door = np.full((4, 40), floor, dtype=np.float32)
    door[:, :5] = floor + 10.0
    door[:, 5:] = floor + np.linspace(6.0, 0.5, 35)  # loud for 5 frames of 40, then decays
    assert torch.all(recording_heights(door, 60, 2, steady=(20, 1.15, 0.5))[40:] == 0)
    with pytest.raises(ValueError, match="continuation"):
        LevelFitConfig(continuation="loop")


def test_targets_turn_down_only_where_the_generator_is_louder_than_the_recording():
    cfg = LevelFitConfig(margin=0.25)
    generated = torch.full((2, 20), 5.0)
    recorded = torch.stack([torch.cat([torch.full((10,), 5.0), torch.zeros(10)]),  # a one-shot: silent after
                            torch.full((20,), 8.0)])  # louder than the generator throughout
    a = envelope_targets(generated, recorded, cfg, window_frames=1)
    assert torch.all(a <= 0)
    assert torch.all(a[0, :10] == 0) and torch.all(a[1] == 0)
    assert torch.allclose(a[0, 10:], torch.full((10,), -4.75))  # the gain that takes 5 nats to 0, less the margin
    blip = torch.zeros(1, 9)
    blip[0, 4] = 6.0  # a brief later event counts at its own level within the window
    assert torch.equal(local_max(blip, 3)[0], torch.tensor([0, 0, 0, 6.0, 6.0, 6.0, 0, 0, 0]))


@pytest.fixture
def library(tmp_path, write_library):
    """"a click": a 0.05 s burst in 0.2 s files; "a hiss": 2 s of steady noise; one clip held out."""
    rng = np.random.default_rng(0)
    clips = []
    for i in range(16):
        if i % 2:
            x = np.zeros(3200)
            x[:800] = 0.5 * rng.standard_normal(800)
            clips.append((x, "a click"))
        else:
            clips.append((0.2 * rng.standard_normal(32000), "a hiss"))
    return write_library(tmp_path / "lib", clips, 16000, held_out=[15])


def test_the_fitted_envelope_quiets_a_one_shots_later_frames_and_keeps_every_other_weight(library, tmp_path):
    source = AudioGAN.from_config(blocks_tiny(), seed=0).save(tmp_path / "src")
    cfg = LevelFitConfig(seconds=1.0, smooth_seconds=0.05, steps=300, batch_size=8, lr=3e-3)
    report = fit_level(str(source), library, tmp_path / "fitted", cfg, cache_dir=tmp_path / "cache", progress=False)
    assert report["clips"] == 15 and report["held_out_clips_never_used"] == 1
    assert report["after"]["fit"] < report["before"]["fit"]
    fitted = AudioGAN.load(tmp_path / "fitted")
    assert fitted.config.level_envelope and (tmp_path / "fitted" / "level_fit.json").is_file()
    plain = AudioGAN.load(source)
    kept = {k: v for k, v in fitted.generator.state_dict().items() if not k.startswith("level.")}
    assert all(torch.equal(v, plain.generator.state_dict()[k]) for k, v in kept.items())

    clock_t = frame_clock(fitted.config, 250)  # [P, 250]: one second
    with torch.no_grad():
        feats = fitted.text_encoder.encode(["a click", "a hiss"])
        a = fitted.generator.level.course(feats.sentence, clock_t)  # [2, 250]
    click_late, hiss_late = a[0, 125:].mean(), a[1, 125:].mean()
    assert click_late < hiss_late - 1.0, (click_late, hiss_late)
    assert click_late < a[0, :10].mean() - 1.0  # the click's own start is turned down less than its tail

    # a loop has no start: the envelope is skipped and the loop is the plain model's
    z = fitted.noise(3, 4)[None]
    with torch.no_grad():
        looped = fitted.generator(z, feats.sentence[:1], feats.words[:1], feats.lengths[:1], loop=True)
        plain_loop = plain.generator(z, feats.sentence[:1], feats.words[:1], feats.lengths[:1], loop=True)
    assert torch.equal(looped, plain_loop)

    with pytest.raises(InputError, match="exists"):
        fit_level(str(source), library, tmp_path / "fitted", cfg, cache_dir=tmp_path / "cache", progress=False)


def test_fit_level_refuses_a_fixed_length_model_and_is_a_command(library, tmp_path):
    from audiogan_core.cli import main as cli

    source = AudioGAN.from_config(preset("tiny"), seed=0).save(tmp_path / "g")  # fixed length: no clock
    with pytest.raises(InputError, match="no position clock"):
        fit_level(str(source), library, tmp_path / "x", LevelFitConfig(steps=1), progress=False)
    result = CliRunner().invoke(cli, ["fit-level", "--data", str(library), "--out", str(tmp_path / "y"),
                                      "--model", str(tmp_path / "g"), "--steps", "1", "--no-progress"])
    assert result.exit_code != 0 and "no position clock" in result.output
    assert not (tmp_path / "y").exists()
    (tmp_path / "bad.json").write_text('{"quantile": 2}')
    result = CliRunner().invoke(cli, ["fit-level", "--data", str(library), "--out", str(tmp_path / "y"),
                                      "--config", str(tmp_path / "bad.json")])
    assert result.exit_code != 0 and "quantile must be between 0 and 1" in result.output


def test_the_quantile_loss_is_l1_at_the_median_and_fits_lower_quantiles_below_it():
    from audiogan_training.level_fit import quantile_loss

    target = torch.tensor([[0.0, -1.0, -2.0, -3.0, -4.0]])
    assert torch.isclose(quantile_loss(torch.zeros(1, 5), target, 0.5), target.abs().mean())
    grid = torch.linspace(-5, 1, 601)
    best = {q: float(grid[torch.stack([quantile_loss(torch.full((1, 5), float(g)), target, q) for g in grid]).argmin()])
            for q in (0.5, 0.2)}
    assert best[0.5] == pytest.approx(-2.0, abs=0.01) and best[0.2] < -3.0
    with pytest.raises(ValueError, match="quantile"):
        LevelFitConfig(quantile=1.0)


def test_inside_a_recording_the_targets_are_fitted_skipped_or_held_at_zero(library, tmp_path):
    from audiogan_training.config import TrainConfig
    from audiogan_training.level_fit import collect, quantile_loss
    from audiogan_training.mel_dataset import FoleyDataset
    from audiogan_training.trainer import training_split

    model = AudioGAN.from_config(blocks_tiny(), seed=0)
    _, items, _ = training_split(library, TrainConfig(model=model.config, holdout_file="holdout.json"))
    dataset = FoleyDataset(items, model.config.mel, model.config.frames, tmp_path / "cache", random_crop=False)
    cfg = LevelFitConfig(seconds=1.0, smooth_seconds=0.05, inside_recording="skip")
    _, skipped = collect(model, items, dataset, cfg, progress=False)
    cfg.inside_recording = "hold"
    _, held = collect(model, items, dataset, cfg, progress=False)
    cfg.inside_recording = "fit"
    _, fitted = collect(model, items, dataset, cfg, progress=False)
    for i in range(len(items)):
        own = min(skipped.shape[1], dataset.full_mel(i).shape[1])
        assert torch.isnan(skipped[i, :own]).all() and torch.equal(skipped[i, own:], fitted[i, own:])
        assert torch.all(held[i, :own] == 0) and torch.equal(held[i, own:], fitted[i, own:])
    assert (fitted < 0).any() and torch.isfinite(quantile_loss(torch.zeros_like(skipped), skipped, 0.5))
    with pytest.raises(ValueError, match="inside_recording"):
        LevelFitConfig(inside_recording="maybe")


def test_the_defaults_are_the_recipe_of_fit_s_and_every_recipe_loads():
    from pathlib import Path

    recipes = Path(__file__).resolve().parents[1] / "training" / "recipes"
    fits = {p.name: LevelFitConfig.from_dict(json.loads(p.read_text())) for p in recipes.glob("level-fit*.json")}
    assert len(fits) >= 4 and fits["level-fit-q25-hold.json"] == LevelFitConfig()


def test_a_fitted_ceiling_follows_the_recordings_and_takes_down_only_what_exceeds_it(library, tmp_path):
    from audiogan_training.level_fit import peaks

    source = AudioGAN.from_config(blocks_tiny(), seed=0).save(tmp_path / "src")
    cfg = LevelFitConfig(form="ceiling", inside_recording="fit", quantile=0.9, seconds=1.0, smooth_seconds=0.05,
                         steps=300, batch_size=8, lr=3e-3)
    report = fit_level(str(source), library, tmp_path / "fitted", cfg, cache_dir=tmp_path / "cache", progress=False)
    assert report["after"]["fit"] < report["before"]["fit"]
    fitted, plain = AudioGAN.load(tmp_path / "fitted"), AudioGAN.load(source)
    assert fitted.config.level_form == "ceiling"
    clock_t = frame_clock(fitted.config, 250)  # [P, 250]: one second
    with torch.no_grad():
        feats = fitted.text_encoder.encode(["a click", "a hiss"])
        c = fitted.generator.level.course(feats.sentence, clock_t)  # [2, 250]
        z = fitted.noise(3, 4)[None].expand(2, -1, -1)
        out = fitted.generator(z, feats.sentence, feats.words, feats.lengths)[:, 0]  # [2, F, T]
        base = plain.generator(z, feats.sentence, feats.words, feats.lengths)[:, 0]
    # the click's recordings are silent after 0.05 s, the hiss's go on: the ceiling says so
    assert c[0, 125:].mean() < c[1, 125:].mean() - 2.0 and c[0, 125:].mean() < c[0, :5].mean() - 2.0
    ceiling = c[:, :out.shape[-1]]
    assert torch.all(peaks(out) <= torch.maximum(ceiling, peaks(base).new_zeros(())) + 1e-4)
    under = peaks(base) <= ceiling
    assert under.any() and torch.equal(out.transpose(1, 2)[under], base.transpose(1, 2)[under])
    with pytest.raises(ValueError, match="inside_recording 'fit'"):
        LevelFitConfig(form="ceiling")
    with pytest.raises(ValueError, match="form"):
        LevelFitConfig(form="limit")
