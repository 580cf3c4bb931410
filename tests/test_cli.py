"""The `audiogan` command: generate, plugins, help, and one-line errors for bad input.

Most runs are in-process (click's CliRunner) to keep the suite fast; a few run the installed
`audiogan` script in a subprocess to check the real entry point, exit codes and stderr."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from audiogan_core import api
from audiogan_core.api import AudioGAN
from audiogan_core.cli import main, plan_outputs
from audiogan_core.config import preset
from audiogan_core.io import slug

TINY = preset("tiny")
RATE = TINY.mel.sample_rate
MAX_SECONDS = TINY.clip_seconds  # 0.256 s
CLAP_FILE = "music_speech_audioset_epoch_15_esc_89.98.pt"


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-models") / "tiny"
    AudioGAN.from_config(TINY, seed=1).save(folder)
    return folder


@pytest.fixture(scope="session")
def clap_dims_folder(tmp_path_factory):
    """A tiny model whose text sizes fit CLAP (768-d words, 512-d sentence)."""
    folder = tmp_path_factory.mktemp("cli-models") / "clapdims"
    cfg = TINY.replace(word_dim=768, sentence_dim=512, text_encoder_options={"word_dim": 768, "sentence_dim": 512})
    AudioGAN.from_config(cfg).save(folder)
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def gen(model, *args):
    return run("generate", "--model", model, *args)


def ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}\n{result.exception!r}"
    return result


def one_line_error(result, *, code=None, contains=()):
    """Non-zero exit, no traceback, exactly one line on stderr: `audiogan: error: ...`."""
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audiogan: error: "), result.stderr
    for text in (contains,) if isinstance(contains, str) else contains:
        assert text in lines[0], lines[0]
    return lines[0]


def read(path):
    data, rate = sf.read(str(path), dtype="float32")
    return data, rate


# Generating --------------------------------------------------------------------------------
def test_same_seed_same_samples_in_another_process(tiny_folder, tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    result = ok(gen(tiny_folder, "a dog barks", "--seed", 7, "-o", a))
    assert f"{a}\t0.26 s\tseed 7\ta dog barks" in result.stdout
    exe = shutil.which("audiogan") or str(Path(sys.executable).with_name("audiogan"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same thread count as this process (conftest)
    proc = subprocess.run([exe, "generate", "a dog barks", "--seed", "7", "-o", str(b), "--model", str(tiny_folder)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    (data_a, rate_a), (data_b, rate_b) = read(a), read(b)
    assert rate_a == rate_b == RATE
    assert np.array_equal(data_a, data_b)
    c = tmp_path / "c.wav"
    ok(gen(tiny_folder, "a dog barks", "--seed", 8, "-o", c))
    assert not np.array_equal(read(c)[0], data_a)


def test_variations_numbered_and_different(tiny_folder, tmp_path):
    out = tmp_path / "a.wav"
    result = ok(gen(tiny_folder, "a dog barks", "--seed", 7, "--variations", 4, "-o", out))
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["a-01.wav", "a-02.wav", "a-03.wav", "a-04.wav"]
    datas = []
    for i, name in enumerate(files):
        info = sf.info(str(tmp_path / name))
        assert (info.samplerate, info.frames, info.channels) == (RATE, round(MAX_SECONDS * RATE), 1)
        assert f"seed {7 + i}\t" in result.stdout
        datas.append(read(tmp_path / name)[0])
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(datas[i], datas[j])
    # variation k is seed 7 + k made alone
    ok(gen(tiny_folder, "a dog barks", "--seed", 9, "-o", tmp_path / "alone.wav"))
    assert np.array_equal(read(tmp_path / "alone.wav")[0], datas[2])


def test_output_folder_names_from_text_and_seed(tiny_folder, tmp_path):
    out = tmp_path / "sounds"
    out.mkdir()
    ok(gen(tiny_folder, "A dog barks!", "Rain, on a tin roof", "--seed", 7, "-n", 2, "-o", out))
    assert sorted(p.name for p in out.iterdir()) == [
        "a-dog-barks_seed7.wav", "a-dog-barks_seed8.wav", "rain-on-a-tin-roof_seed7.wav",
        "rain-on-a-tin-roof_seed8.wav"]
    # a trailing slash means a folder too; texts with the same slug get distinct files
    sub = tmp_path / "more"
    sub.mkdir()
    ok(gen(tiny_folder, "dog barks", "Dog barks!", "dog barks", "--seed", 1, "-o", f"{sub}/"))
    assert sorted(p.name for p in sub.iterdir()) == [
        "dog-barks-2_seed1.wav", "dog-barks-3_seed1.wav", "dog-barks_seed1.wav"]


def test_without_seed_the_seed_is_printed_and_reproduces(tiny_folder, tmp_path):
    result = ok(gen(tiny_folder, "thunder", "-o", tmp_path))
    (path,) = tmp_path.iterdir()
    seed = int(path.stem.split("_seed")[1])
    assert f"seed {seed}\t" in result.stdout
    ok(gen(tiny_folder, "thunder", "--seed", seed, "-o", tmp_path / "again.wav"))
    assert np.array_equal(read(path)[0], read(tmp_path / "again.wav")[0])


def test_never_overwrites_without_flag(tiny_folder, tmp_path):
    a = tmp_path / "a.wav"
    a.write_bytes(b"keep me")
    one_line_error(gen(tiny_folder, "a dog barks", "--seed", 7, "-o", a), code=2,
                   contains=(str(a), "already exists", "--overwrite"))
    assert a.read_bytes() == b"keep me"
    # numbered outputs: one existing file stops the whole request before anything is written
    (tmp_path / "n-03.wav").write_bytes(b"keep me too")
    one_line_error(gen(tiny_folder, "a dog barks", "-n", 4, "-o", tmp_path / "n.wav"), code=2, contains="n-03.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "n-03.wav"]
    assert (tmp_path / "n-03.wav").read_bytes() == b"keep me too"
    # folder outputs too
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a-dog-barks_seed8.wav").write_bytes(b"mine")
    one_line_error(gen(tiny_folder, "a dog barks", "--seed", 7, "-n", 2, "-o", folder), contains="a-dog-barks_seed8")
    assert [p.name for p in folder.iterdir()] == ["a-dog-barks_seed8.wav"]
    assert (folder / "a-dog-barks_seed8.wav").read_bytes() == b"mine"
    # --overwrite replaces
    ok(gen(tiny_folder, "a dog barks", "--seed", 7, "-o", a, "--overwrite"))
    assert sf.info(str(a)).frames == round(MAX_SECONDS * RATE)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_sample_rate_and_bit_depth_for_a_daw(tiny_folder, tmp_path):
    out = tmp_path / "daw.wav"
    ok(gen(tiny_folder, "a door slams", "--seed", 3, "--seconds", 0.2, "--sample-rate", 48000, "--bit-depth", 24,
           "-o", out))
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_24", 48000, 1)
    assert info.frames == round(0.2 * 48000)
    assert info.duration == pytest.approx(0.2)
    data, _ = read(out)
    assert np.isfinite(data).all() and 0 < np.abs(data).max() <= 1.0
    ok(gen(tiny_folder, "a door slams", "--seed", 3, "--sample-rate", 44100, "--bit-depth", 32, "-o",
           tmp_path / "f.wav"))
    info = sf.info(str(tmp_path / "f.wav"))
    assert (info.subtype, info.samplerate, info.frames) == ("FLOAT", 44100, round(MAX_SECONDS * 44100))


@pytest.mark.parametrize("seconds", [0.05, 0.123, 0.2, MAX_SECONDS])
def test_seconds_gives_the_requested_length(tiny_folder, tmp_path, seconds):
    out = tmp_path / "x.wav"
    ok(gen(tiny_folder, "wind", "--seed", 1, "--seconds", seconds, "-o", out))
    info = sf.info(str(out))
    assert (info.subtype, info.samplerate, info.frames) == ("PCM_16", RATE, round(seconds * RATE))
    data, rate = read(out)
    assert len(data) == round(seconds * RATE) and np.isfinite(data).all() and np.abs(data).max() > 0


# Bad input: one line, non-zero exit, no traceback --------------------------------------------------
@pytest.mark.parametrize("args, code, contains", [
    (["--vocoder", "nope"], 2, ("unknown vocoder 'nope'", "griffinlim", "hifigan")),
    (["--text-encoder", "nope"], 2, ("unknown text encoder 'nope'", "hash", "minilm")),
    (["--vocoder", "hifigan"], 2, ("expects another mel front end", "sample_rate: model 16000 vs vocoder 22050")),
    (["--text-encoder", "hash", "--text-encoder-option", "word_dim=7"], 2, "word_dim=7"),
    (["--vocoder-option", "nope"], 2, "KEY=VALUE"),
    (["--vocoder-option", "bogus=1"], 2, "bogus"),
    (["--seconds", 0], 2, "seconds must be a positive finite number"),
    (["--seconds", -1], 2, "seconds must be a positive finite number"),
    (["--seconds", "nan"], 2, "seconds must be a positive finite number"),
    (["--seconds", 60], 2, "at most 0.256 s"),
    (["--variations", 0], 2, "variations must be between 1"),
    (["--variations", -3], 2, "variations must be between 1"),
    (["--sample-rate", 10], 2, "--sample-rate"),
    (["--device", "tpu"], 2, "unknown device"),
    (["--seed", 2**70], 2, "seed"),
])
def test_bad_options(tiny_folder, tmp_path, args, code, contains):
    out = tmp_path / "x.wav"
    one_line_error(gen(tiny_folder, "a dog barks", "-o", out, *args), code=code, contains=contains)
    assert not out.exists()


@pytest.mark.parametrize("texts, contains", [
    ([""], "text is empty"),
    (["fine", "  "], "text 2 is empty"),
    (["x" * 10_000], "10000 characters"),
])
def test_bad_texts(tiny_folder, tmp_path, texts, contains):
    one_line_error(gen(tiny_folder, *texts, "-o", tmp_path / "x.wav"), code=2, contains=contains)
    assert not list(tmp_path.iterdir())


def test_missing_clap_checkpoint(clap_dims_folder, tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIOGAN_CLAP_CHECKPOINT", raising=False)
    one_line_error(gen(clap_dims_folder, "a dog barks", "--text-encoder", "clap", "-o", tmp_path / "x.wav"),
                   code=4, contains=CLAP_FILE)
    missing = tmp_path / "nowhere" / "clap.pt"
    one_line_error(gen(clap_dims_folder, "a dog barks", "--text-encoder", "clap", "--text-encoder-option",
                       f"checkpoint={missing}", "-o", tmp_path / "x.wav"), code=4, contains=str(missing))
    assert not (tmp_path / "x.wav").exists()


def test_mel_mismatch_before_any_audio(tiny_folder, tmp_path, monkeypatch):
    def no_audio(*args, **kwargs):
        raise AssertionError("generate() ran")

    monkeypatch.setattr(AudioGAN, "generate", no_audio)
    one_line_error(gen(tiny_folder, "a dog barks", "--vocoder", "hifigan", "-o", tmp_path / "x.wav"), code=2,
                   contains=("n_mels: model 16 vs vocoder 80",))


def test_output_folder_missing_or_not_a_folder(tiny_folder, tmp_path):
    one_line_error(gen(tiny_folder, "rain", "-o", tmp_path / "nope" / "x.wav"), code=2,
                   contains=("output folder does not exist", "nope"))
    one_line_error(gen(tiny_folder, "rain", "-o", f"{tmp_path / 'nope'}/"), code=2, contains="does not exist")
    (tmp_path / "file.txt").write_text("a file, not a folder")
    one_line_error(gen(tiny_folder, "rain", "-o", tmp_path / "file.txt" / "x.wav"), code=2, contains="file.txt")
    one_line_error(gen(tiny_folder, "rain", "-o", tmp_path / "x.mp3"), code=2, contains=".wav")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.parametrize("output", ["/proc/x.wav", "/proc/", "/proc/self/x.wav"])
def test_output_not_writable_even_for_root(tiny_folder, output):
    # /proc refuses new files even for root, for whom os.access(W_OK) says yes
    one_line_error(gen(tiny_folder, "rain", "-o", output), code=2, contains="not writable")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permission bits")
def test_output_folder_without_write_permission(tiny_folder, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        one_line_error(gen(tiny_folder, "rain", "-o", folder / "x.wav"), code=2, contains="not writable")
    finally:
        folder.chmod(0o700)


def test_disk_full_while_writing_is_one_line(tiny_folder, tmp_path, monkeypatch):
    import errno

    import audiogan_core.io

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.wav"))

    monkeypatch.setattr(audiogan_core.io, "write_wav", full)
    line = one_line_error(gen(tiny_folder, "rain", "-o", tmp_path / "x.wav"), code=1)
    assert "No space left on device" in line


def test_checkpoint_from_another_config(tiny_folder, tmp_path):
    AudioGAN.from_config(TINY.replace(channels=24)).save(tmp_path / "other")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(tiny_folder / "config.json", mixed)
    shutil.copy(tmp_path / "other" / "generator.safetensors", mixed)
    one_line_error(gen(mixed, "rain", "-o", tmp_path / "x.wav"), code=3,
                   contains=("does not fit the model config", "lin_code."))


def test_truncated_weights(tiny_folder, tmp_path):
    cut = tmp_path / "cut"
    cut.mkdir()
    shutil.copy(tiny_folder / "config.json", cut)
    data = (tiny_folder / "generator.safetensors").read_bytes()
    (cut / "generator.safetensors").write_bytes(data[: len(data) // 2])
    one_line_error(gen(cut, "rain", "-o", tmp_path / "x.wav"), code=3, contains="truncated")


def test_unknown_model_lists_bundled_ones(tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    (bundled / "default").mkdir(parents=True)
    (bundled / "default" / "config.json").write_text("{}")
    monkeypatch.setattr(api, "MODELS_DIR", bundled)
    one_line_error(gen("no-such-model", "rain", "-o", tmp_path / "x.wav"), code=4,
                   contains=("no model 'no-such-model'", "(default)"))


def test_real_process_error_is_one_line(tiny_folder, tmp_path):
    exe = shutil.which("audiogan") or str(Path(sys.executable).with_name("audiogan"))
    proc = subprocess.run([exe, "generate", "rain", "--model", str(tiny_folder), "--vocoder", "nope", "-o",
                           str(tmp_path / "x.wav")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("audiogan: error: unknown vocoder 'nope'")


# File names ---------------------------------------------------------------------------------
def test_slug_and_plan():
    assert slug("A dog barks!") == "a-dog-barks"
    assert slug("¡¿!!") == "clip"
    assert len(slug("word " * 50)) <= 40 and not slug("word " * 50).endswith("-")
    assert plan_outputs(Path("o.wav"), False, ["a"], 5, 1) == [Path("o.wav")]
    assert plan_outputs(Path("o.wav"), False, ["a", "b"], 5, 2) == [Path(f"o-0{i}.wav") for i in (1, 2, 3, 4)]
    assert plan_outputs(Path("d"), True, ["a b", "c"], 5, 2) == [
        Path("d/a-b_seed5.wav"), Path("d/a-b_seed6.wav"), Path("d/c_seed5.wav"), Path("d/c_seed6.wav")]
    names = [p.name for p in plan_outputs(Path("d"), True, ["x", "x 2", "X", "x!"], 1, 1)]
    assert names == ["x_seed1.wav", "x-2_seed1.wav", "x-3_seed1.wav", "x-4_seed1.wav"]


# plugins and help ---------------------------------------------------------------------------
def test_plugins_lists_kinds_names_and_mel_configs():
    out = ok(run("plugins")).stdout
    sections = [line for line in out.splitlines() if not line.startswith(" ")]
    assert sections == ["text encoders:", "vocoders:", "embedders:"]
    for name in ("hash", "minilm", "clap", "griffinlim", "hifigan", "aisfx"):
        assert f"  {name} " in out
    assert "[hash]" in out and "[hifigan]" in out and "[griffinlim]" in out
    assert "mel: 22050 Hz, 80 mels, n_fft 1024, hop 256" in out  # the universal HiFi-GAN
    import json

    rows = json.loads(ok(run("plugins", "--json")).stdout)
    kinds = {row["kind"] for row in rows}
    assert kinds == {"text encoder", "vocoder", "embedder"}
    assert all(row["plugin"] for row in rows)
    assert all("mel" in row for row in rows if row["kind"] == "vocoder")


@pytest.mark.parametrize("command", [[], ["generate"], ["serve"], ["train"], ["eval"], ["data"], ["plugins"]])
def test_help(command):
    result = ok(run(*command, "--help"))
    assert result.stdout.startswith("Usage: ")
    assert "unavailable" not in result.stdout


def test_version():
    assert "audiogan" in ok(run("--version")).stdout


# The command line is composed by the register_commands hook ----------------------------------
def test_serve_train_and_data_come_from_the_register_commands_hook():
    import click

    from audiogan_core.plugins import load_commands

    group = click.Group()
    load_commands(group)
    assert {"serve", "train", "data"} <= set(group.commands)
    assert group.commands["serve"].callback.__module__ == "audiogan_bridges.cli"
    assert group.commands["train"].callback.__module__ == "audiogan_training.cli"
    assert set(main.commands) >= {"generate", "plugins", "eval", "serve", "train", "data"}


def test_generate_serve_and_eval_share_the_model_options():
    def model_opts(command):
        return {p.name: (tuple(p.opts), p.help, p.multiple) for p in command.params
                if p.name in ("model_name", "text_encoder", "vocoder", "te_options", "vo_options", "device")}

    generate, serve, evaluate = (main.commands[n] for n in ("generate", "serve", "eval"))
    assert len(model_opts(generate)) == 6
    assert model_opts(serve) == model_opts(generate)
    shared = {k: v for k, v in model_opts(generate).items() if k != "model_name"}  # eval's --model has no default
    assert {k: v for k, v in model_opts(evaluate).items() if k != "model_name"} == shared
    for name in ("sample_rate", "bit_depth"):  # the WAV options of generate and serve, also shared
        assert [(p.opts, p.help) for p in generate.params if p.name == name] == \
            [(p.opts, p.help) for p in serve.params if p.name == name]
