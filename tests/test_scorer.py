"""The mel-text scorer and reranking (`candidates`): its module and files, how generate() picks
a noise draw with it, the recipe that records it, and `audiogan train-scorer`'s trainer."""

import numpy as np
import pytest
import torch

from audiogan_core import AudioGAN
from audiogan_core.api import candidate_seed
from audiogan_core.config import preset
from audiogan_core.errors import CheckpointError, ConfigError, InputError
from audiogan_core.scorer import (SCORER_CONFIG_FILE, SCORER_FILE, MelTextScorer, ScorerConfig, load_scorer,
                                  save_scorer)

TINY_SCORER = dict(n_mels=16, sentence_dim=12, width=4, stages=2, dim=8, score_frames=32, default_candidates=4)


def tiny_scorer(**changes) -> MelTextScorer:
    torch.manual_seed(0)
    return MelTextScorer(ScorerConfig(**{**TINY_SCORER, **changes})).eval()


def model_folder(tmp_path, config=None, scorer=True):
    model = AudioGAN.from_config(config or preset("tiny"))
    folder = model.save(tmp_path / "model")
    if scorer:
        save_scorer(folder, tiny_scorer())
    return folder


# The module and its files ---------------------------------------------------------------------
def test_config_round_trips_and_refuses_bad_values():
    cfg = ScorerConfig(**TINY_SCORER)
    assert ScorerConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="unknown field"):
        ScorerConfig.from_json('{"n_mel": 80}')
    for bad in (dict(width=0), dict(default_candidates=65), dict(mel_std=0.0), dict(stages=True)):
        with pytest.raises(ConfigError):
            ScorerConfig(**{**TINY_SCORER, **bad})


@pytest.mark.parametrize("frames", [1, 7, 64, 300])
def test_scores_any_length_as_a_cosine(frames):
    scorer = tiny_scorer()
    s = scorer(torch.randn(3, 16, frames), torch.randn(1, 12))
    assert s.shape == (3,) and bool((s.abs() <= 1 + 1e-6).all())
    assert scorer.logits(torch.randn(3, 16, frames), torch.randn(5, 12)).shape == (3, 5)


def test_files_round_trip_and_damage_is_reported(tmp_path):
    scorer = tiny_scorer()
    save_scorer(tmp_path, scorer)
    again = load_scorer(tmp_path)
    mel, sentence = torch.randn(2, 16, 40), torch.randn(1, 12)
    assert torch.equal(scorer(mel, sentence), again(mel, sentence))
    assert load_scorer(tmp_path / "nothing-here") is None
    data = (tmp_path / SCORER_FILE).read_bytes()
    (tmp_path / SCORER_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_scorer(tmp_path)
    (tmp_path / SCORER_FILE).unlink()
    with pytest.raises(CheckpointError, match="scorer.safetensors is missing"):
        load_scorer(tmp_path)


def test_a_scorer_for_another_model_is_refused(tmp_path):
    folder = model_folder(tmp_path, scorer=False)
    save_scorer(folder, tiny_scorer(n_mels=80))
    with pytest.raises(ConfigError, match="80 mels"):
        AudioGAN.load(folder)


# Reranking in generate() ----------------------------------------------------------------------
def test_candidate_seeds_are_apart_from_every_seed_and_variation():
    seeds = {candidate_seed(s, k) for s in range(50) for k in range(1, 9)}
    assert len(seeds) == 50 * 8 and not seeds & set(range(100))
    assert candidate_seed(3, 1) == candidate_seed(3, 1) != candidate_seed(4, 1)


@pytest.mark.parametrize("config", [preset("tiny"), preset("tiny").replace(
    name="tiny-blocks", noise_input="blocks", noise_block=2, position_channels=2, d_pooling="mean",
    d_pool_scale=2.0)], ids=["fixed", "blocks"])
def test_the_clip_is_the_draw_the_scorer_rates_highest(tmp_path, config):
    folder = model_folder(tmp_path, config)
    model = AudioGAN.load(folder)
    assert model.default_candidates == 4
    seconds = 0.9 if config.any_length else None
    seen = []

    def prefer_third(mel, sentence):  # the scorer's verdict, recorded: candidate 2 wins
        seen.append(mel.shape)
        return torch.tensor([0.1, 0.2, 0.9, 0.3])

    model.scorer.forward = prefer_third
    mels, _, _ = model.generate_mel("rain", seed=5, seconds=seconds)
    assert seen and seen[0][0] == 4 and seen[0][-1] <= model.scorer.config.score_frames
    t0 = model.config.base_frames_for(mels.shape[-1]) if config.any_length else None
    f = model.text_encoder.encode(["rain"])
    want = model.generator(model.noise(5, t0, 2)[None], f.sentence, f.words, f.lengths)[0, 0, :, :mels.shape[-1]]
    assert torch.allclose(mels[0], want, atol=1e-5)
    one, _, _ = model.generate_mel("rain", seed=5, seconds=seconds, candidates=1)
    plain = model.generator(model.noise(5, t0)[None], f.sentence, f.words, f.lengths)[0, 0, :, :mels.shape[-1]]
    assert torch.allclose(one[0], plain, atol=1e-5) and not torch.allclose(one[0], mels[0])


def test_reranking_is_deterministic_and_recorded(tmp_path):
    from audiogan_core.recipe import read_metadata

    model = AudioGAN.load(model_folder(tmp_path))
    a = model.generate("a door slams", seed=9, variations=2)
    b = model.generate("a door slams", seed=9, variations=2)
    assert all(np.array_equal(x.audio, y.audio) for x, y in zip(a, b))
    assert a[0].recipe.candidates == 4 and "--candidates 4" in a[0].recipe.command()
    path = a[0].save(tmp_path / "door.wav")
    meta = read_metadata(path)
    assert meta.fields["CANDIDATES"] == "4" and meta.recipe.candidates == 4
    alone = model.generate("a door slams", seed=10, candidates=4)[0]  # variation 1 == seed 10 alone
    assert np.array_equal(alone.audio, a[1].audio)


def test_candidates_are_checked(tmp_path):
    with_scorer = AudioGAN.load(model_folder(tmp_path))
    without = AudioGAN.from_config(preset("tiny"))
    assert without.default_candidates == 1
    assert without.generate("rain", seed=1, candidates=1)[0].recipe.candidates == 1
    with pytest.raises(InputError, match="needs a model with a scorer"):
        without.generate("rain", seed=1, candidates=2)
    for bad in (0, 65, 2.5, True, "3"):
        with pytest.raises(InputError, match="candidates must be an integer from 1 to 64"):
            with_scorer.generate("rain", seed=1, candidates=bad)


def test_cli_candidates(tmp_path):
    from click.testing import CliRunner

    from audiogan_core.cli import main

    folder = model_folder(tmp_path)
    run = CliRunner().invoke(main, ["generate", "rain", "-o", str(tmp_path / "r.wav"), "--model", str(folder),
                                    "--seed", "1", "--candidates", "3"])
    assert run.exit_code == 0, run.output
    from audiogan_core.recipe import read_metadata

    assert read_metadata(tmp_path / "r.wav").recipe.candidates == 3
    bad = CliRunner().invoke(main, ["generate", "rain", "-o", str(tmp_path / "s.wav"), "--model", str(folder),
                                    "--candidates", "0"])
    assert bad.exit_code != 0 and "candidates must be an integer from 1 to 64" in bad.output
    assert not (tmp_path / "s.wav").exists()


# The trainer ----------------------------------------------------------------------------------
@pytest.fixture
def library(tmp_path, write_library):
    """Twelve short clips of three kinds, each kind with its caption, one clip held out."""
    rng = np.random.default_rng(0)
    clips = []
    for i in range(12):
        t = np.arange(int(16000 * (0.5 + 0.1 * (i % 4)))) / 16000
        kind = ("tone", "noise", "clicks")[i % 3]
        x = {"tone": 0.3 * np.sin(2 * np.pi * 440 * t), "noise": 0.2 * rng.standard_normal(t.size),
             "clicks": 0.8 * ((np.arange(t.size) % 1600) < 16)}[kind]
        clips.append((x, f"a {kind}"))
    return write_library(tmp_path / "lib", clips, 16000, held_out=[11])


def tiny_train_config(**changes):
    from audiogan_training.scorer import ScorerTrainConfig

    base = dict(model="untrained:tiny", steps=4, batch_size=4, crop_frames=16, log_every=2, checkpoint_every=2,
                val_fraction=0.0, scorer={"width": 4, "stages": 2, "dim": 8})
    return ScorerTrainConfig(**{**base, **changes})


def test_trainer_resumes_bit_exactly_and_never_sees_held_out_clips(library, tmp_path):
    from audiogan_training.scorer import ScorerTrainer

    whole = ScorerTrainer(tiny_train_config(), library, tmp_path / "a", progress=False)
    assert len(whole.mels) == 11  # clip11 is held out
    whole.fit()
    first = ScorerTrainer(tiny_train_config(), library, tmp_path / "b", progress=False)
    first.config.steps = 4
    while first.step < 2:
        first.train_step()
    first.save()
    again = ScorerTrainer(tiny_train_config(), library, tmp_path / "b", resume=True, progress=False)
    assert again.step == 2
    again.fit()
    a, b = load_scorer(tmp_path / "a"), load_scorer(tmp_path / "b")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.config.n_mels == 16 and a.config.sentence_dim == 12 and a.config.width == 4
    with pytest.raises(InputError, match="already holds a scorer run.*--resume"):
        ScorerTrainer(tiny_train_config(), library, tmp_path / "a", progress=False)
    with pytest.raises(InputError, match="--resume: no checkpoint.pt"):
        ScorerTrainer(tiny_train_config(), library, tmp_path / "c", resume=True, progress=False)


def test_training_learns_which_caption_a_clip_has(library, tmp_path):
    from audiogan_training.scorer import ScorerTrainer

    trainer = ScorerTrainer(tiny_train_config(steps=60, lr=3e-3, checkpoint_every=1000, log_every=1000),
                            library, tmp_path / "l", progress=False)
    scorer = trainer.scorer
    with torch.no_grad():
        before = trainer.loss(trainer.crops(trainer.train_idx, None), trainer.caption_ids[trainer.train_idx])
    trainer.fit()
    scorer.eval()
    with torch.no_grad():
        after = trainer.loss(trainer.crops(trainer.train_idx, None), trainer.caption_ids[trainer.train_idx])
        a = scorer.embed_mel(trainer.crops(trainer.train_idx, None))
        top = (a @ scorer.embed_text(trainer.captions).T).argmax(1).numpy()
    assert float(after) < 0.7 * float(before)
    assert (top == trainer.caption_ids[trainer.train_idx]).mean() > 0.9  # three kinds, told apart
    assert (tmp_path / "l" / SCORER_CONFIG_FILE).is_file()
