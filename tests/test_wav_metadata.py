"""What a WAV file says about itself: the RIFF chunk writer/reader, the bext and iXML chunks in
16-bit, 24-bit and 32-bit float files, read back by an independent reader (MediaInfo) and by
`audiogan info`, and the command `audiogan info` prints making the same samples again."""
from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from audiogan_core import AudioGAN, InputError, preset
from audiogan_core.cli import main
from audiogan_core.io import write_wav
from audiogan_core.recipe import read_metadata, weights_sha256
from audiogan_core.riff import Bext, encode_chunk, insert_chunks, list_chunks, read_chunk, read_file_chunks

TINY = preset("tiny")
DEPTHS = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
needs_mediainfo = pytest.mark.skipif(not shutil.which("mediainfo"),
                                     reason="MediaInfo not installed (apt-get install mediainfo)")


def plain_wav(audio, rate, subtype) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, rate, subtype=subtype, format="WAV")
    return buf.getvalue()


def tone(rate=16000, seconds=0.1):
    return (0.5 * np.sin(np.arange(round(rate * seconds)) * 0.05)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("meta-models") / "tiny"
    AudioGAN.from_config(TINY, seed=1).save(folder)
    return folder


def invoke(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


# The RIFF writer and reader ----------------------------------------------------------------
@pytest.mark.parametrize("subtype", DEPTHS.values())
def test_inserted_chunks_sit_before_the_audio_and_soundfile_reads_the_same_samples(subtype):
    audio = tone()
    plain = plain_wav(audio, 16000, subtype)
    before = [c.id for c in list_chunks(plain)]
    assert before[0] == b"fmt " and before[-1] == b"data"
    if subtype == "FLOAT":
        assert b"fact" in before  # WAVE_FORMAT_IEEE_FLOAT needs it; it must survive
    odd = b"x" * 601  # an odd payload takes a pad byte
    out = insert_chunks(plain, [(b"bext", odd), (b"iXML", b"<BWFXML/>")])
    assert [c.id for c in list_chunks(out)] == before[:-1] + [b"bext", b"iXML", b"data"]
    assert struct.unpack_from("<I", out, 4)[0] == len(out) - 8  # the RIFF size covers the file
    assert len(out) == len(plain) + 8 + 602 + 8 + 10
    assert read_chunk(out, b"bext") == odd and read_chunk(out, b"iXML") == b"<BWFXML/>"
    a, _ = sf.read(io.BytesIO(plain), dtype="float32")
    b, rate = sf.read(io.BytesIO(out), dtype="float32")
    assert rate == 16000 and np.array_equal(a, b)
    # inserting again replaces, never duplicates
    again = insert_chunks(out, [(b"iXML", b"<BWFXML></BWFXML>")])
    assert [c.id for c in list_chunks(again)].count(b"iXML") == 1
    assert read_chunk(again, b"iXML") == b"<BWFXML></BWFXML>" and read_chunk(again, b"bext") == odd


def test_bad_riff_input_is_named():
    good = plain_wav(tone(), 16000, "PCM_16")
    with pytest.raises(InputError, match="x.wav: not a RIFF/WAVE file"):
        list_chunks(b"OggS" + good[4:], "x.wav")
    with pytest.raises(InputError, match="RF64"):
        list_chunks(b"RF64" + good[4:])
    fmt_only = good[:12] + encode_chunk(b"fmt ", good[20:36])
    with pytest.raises(InputError, match="no data chunk"):
        insert_chunks(fmt_only[:4] + struct.pack("<I", len(fmt_only) - 8) + fmt_only[8:], [])
    broken = good[:12] + b"bext" + struct.pack("<I", 10_000) + b"short"
    with pytest.raises(InputError, match="runs past the end"):
        list_chunks(broken[:4] + struct.pack("<I", len(broken) - 8) + broken[8:])


def test_file_reader_seeks_past_the_audio(tmp_path):
    """Other writers put iXML after the audio; the file reader walks the headers to it."""
    plain = plain_wav(tone(seconds=1.0), 16000, "PCM_24")
    body = plain[12:] + encode_chunk(b"iXML", b"<BWFXML><NOTE>late</NOTE></BWFXML>") + encode_chunk(b"bext", b"b" * 603)
    path = tmp_path / "late.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
    chunks = read_file_chunks(path, {b"iXML", b"bext", b"LIST"})
    assert chunks == {b"iXML": b"<BWFXML><NOTE>late</NOTE></BWFXML>", b"bext": b"b" * 603}
    assert read_metadata(path).ixml == "<BWFXML><NOTE>late</NOTE></BWFXML>"
    with pytest.raises(InputError, match="iXML chunk of 34 bytes is too large"):
        read_file_chunks(path, {b"iXML"}, limit=10)
    path.write_bytes(path.read_bytes()[:-300])  # the bext chunk cut short
    with pytest.raises(InputError, match="late.wav: chunk b'bext' at byte .* runs past the end"):
        read_file_chunks(path, {b"bext"})
    assert read_file_chunks(path, {b"iXML"})[b"iXML"].startswith(b"<BWFXML>")


def test_bext_fields_round_trip_and_match_the_ebu_layout():
    bext = Bext(description="rain on a tin roof", originator="audiogan 0.1.0", originator_reference="ab" * 16,
                origination_date="2025-01-02", origination_time="03:04:05", time_reference=2**33 + 5,
                loudness_value=-23.04, max_true_peak_level=-1.0,
                coding_history="A=PCM,F=16000,W=32,M=mono,T=one\nA=PCM,F=48000,W=24,M=mono,T=two")
    raw = bext.encode()
    assert raw[:18] == b"rain on a tin roof" and raw[18] == 0
    assert raw[256:270] == b"audiogan 0.1.0" and raw[288:320] == b"ab" * 16
    assert raw[320:330] == b"2025-01-02" and raw[330:338] == b"03:04:05"
    assert struct.unpack_from("<IIH", raw, 338) == (5, 2, 2)  # TimeReference low, high; Version 2
    assert struct.unpack_from("<5h", raw, 412) == (-2304, 0x7FFF, -100, 0x7FFF, 0x7FFF)  # 0x7FFF: unset
    assert raw[602:] == b"A=PCM,F=16000,W=32,M=mono,T=one\r\nA=PCM,F=48000,W=24,M=mono,T=two\r\n"  # EBU R98
    back = Bext.decode(raw)
    assert back.loudness_range is None and back.loudness_value == -23.04 and back.time_reference == 2**33 + 5
    assert back.coding_history.splitlines() == bext.coding_history.splitlines()
    assert Bext(description="café " * 100).encode()[:9] == b"cafe cafe"  # ASCII, cut to 256
    with pytest.raises(InputError, match="shorter than the 602"):
        Bext.decode(raw[:600])


# Files written by audiogan -----------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tiny_folder, tmp_path_factory):
    """One clip from `audiogan generate` as 16-bit, 24-bit (48 kHz) and 32-bit float files."""
    out = tmp_path_factory.mktemp("meta-files")
    paths = {}
    for depth in DEPTHS:
        paths[depth] = out / f"dog{depth}.wav"
        rate = ["--sample-rate", "48000"] if depth == 24 else []
        invoke("generate", "a dog barks & a cat <meows>", "--model", tiny_folder, "--seed", 7, "--seconds", 0.2,
               "--bit-depth", depth, "--loudness", -20, "-o", paths[depth], *rate)
    return paths


@pytest.mark.parametrize("depth", DEPTHS)
def test_every_bit_depth_carries_bext_and_ixml_and_still_reads(files, tiny_folder, depth):
    path = files[depth]
    info = sf.info(str(path))
    assert info.subtype == DEPTHS[depth] and info.frames == round(0.2 * info.samplerate)
    audio, _ = sf.read(str(path), dtype="float32")
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0.05
    meta = read_metadata(path)
    assert meta.bext.description == "a dog barks & a cat <meows>"
    assert meta.bext.originator == "audiogan 0.1.0" and len(meta.bext.originator_reference) == 32
    assert meta.bext.coding_history.splitlines()[-1].startswith(f"A=PCM,F={info.samplerate},W={depth},M=mono")
    r = meta.recipe
    assert (r.prompt, r.seed, r.variation, r.seconds) == ("a dog barks & a cat <meows>", 7, 0, 0.2)
    assert r.model == str(tiny_folder.resolve()) and r.text_encoder == TINY.text_encoder
    assert r.vocoder == TINY.vocoder and r.model_sample_rate == 16000 and r.loop is False
    assert r.delivery.normalize == "loudness" and r.delivery.loudness == -20 and r.delivery.trim is False
    assert r.model_sha256 == weights_sha256(AudioGAN.load(tiny_folder).generator)
    assert meta.fields["SAMPLE_RATE"] == str(info.samplerate)
    assert f"<FILE_UID>{meta.bext.originator_reference}</FILE_UID>" in meta.ixml
    assert "<NOTE>a dog barks &amp; a cat &lt;meows&gt;</NOTE>" in meta.ixml


@needs_mediainfo
@pytest.mark.parametrize("depth", DEPTHS)
def test_mediainfo_reads_what_we_wrote(files, depth):
    """MediaInfo, an independent reader: bext fields, loudness, and our iXML chunk."""
    path = files[depth]
    meta = read_metadata(path)
    out = subprocess.run(["mediainfo", "--Output=JSON", str(path)], capture_output=True, text=True, check=True)
    general, audio = json.loads(out.stdout)["media"]["track"]
    assert general["Format"] == "Wave" and general["extra"]["bext_Present"] == "Yes"
    assert general["Description"] == "a dog barks & a cat <meows>"
    assert general["Producer"] == "audiogan 0.1.0"
    assert general["extra"]["Producer_Reference"] == meta.bext.originator_reference
    assert general["Encoded_Date"] == f"{meta.bext.origination_date} {meta.bext.origination_time}"
    assert general["Encoded_Library_Settings"].startswith("A=PCM,F=16000,W=32,M=mono,T=audiogan 0.1.0 generated")
    assert audio["BitDepth"] == str(depth) and audio["SamplingRate"] == str(sf.info(str(path)).samplerate)
    assert float(audio["extra"]["LoudnessValue"]) == pytest.approx(float(meta.fields["LOUDNESS"]), abs=0.01)
    assert float(audio["extra"]["MaxTruePeakLevel"]) <= -0.99
    details = subprocess.run(["mediainfo", "--Details=1", str(path)], capture_output=True, text=True,
                             check=True).stdout
    assert "iXML" in details and "<SEED>7</SEED>" in details and "<LOOP>false</LOOP>" in details


def test_audiogan_info_shows_the_recipe(files, tiny_folder):
    text = invoke("info", files[24]).output
    rows = dict(line.split("  ", 1) for line in text.splitlines() if "  " in line and not line.startswith(" "))
    rows = {k.strip(): v.strip() for k, v in rows.items()}
    assert rows["file"].endswith("48000 Hz, 24-bit PCM, mono, 0.200 s (9600 samples)")
    assert rows["prompt"] == "a dog barks & a cat <meows>" and rows["seed"].startswith("7 ")
    assert rows["model"].startswith(str(tiny_folder.resolve())) and rows["loop"] == "no"
    assert rows["level"].startswith("loudness -20 LUFS, true peak limited to -1 dBTP")
    command = rows["make it again"]
    assert command.startswith("audiogan generate --model ")
    assert "--seed 7 --seconds 0.2 --sample-rate 48000 --bit-depth 24 --loudness -20" in command
    assert command.endswith("-- 'a dog barks & a cat <meows>'")
    data = json.loads(invoke("info", "--json", files[32], files[16]).output)
    assert [d["subtype"] for d in data] == ["FLOAT", "PCM_16"]
    assert data[0]["recipe"]["seed"] == 7 and "--bit-depth 32" in data[0]["command"]
    assert data[0]["command"] == read_metadata(files[32]).fields["COMMAND"]  # what the file says, rebuilt


def test_audiogan_info_on_other_files(tmp_path):
    plain = tmp_path / "plain.wav"
    sf.write(plain, tone(), 16000)
    text = invoke("info", plain).output
    assert "recipe" in text and "none: this file was not made by audiogan" in text
    flac = tmp_path / "x.flac"
    sf.write(flac, tone(), 16000)
    for path, message in [(flac, "a FLAC file; audiogan info reads WAV files"), (tmp_path / "no.wav", "no such file"),
                          (tmp_path, "is a directory")]:
        result = invoke("info", path, ok=False)
        assert result.exit_code == 2 and message in result.stderr, result.output
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    assert invoke("info", junk, ok=False).exit_code == 2


def test_every_wav_we_write_has_bext_and_ixml_even_without_a_recipe(tmp_path):
    """Training previews and other writers pass no recipe: the file still says who made it."""
    path = write_wav(tmp_path / "p.wav", tone(), 16000, target_rate=22050, bit_depth=24)
    meta = read_metadata(path)
    assert meta.recipe is None and meta.bext.originator == "audiogan 0.1.0" and meta.bext.description == ""
    assert "soxr HQ resampled" in meta.bext.coding_history and "<FILE_SAMPLE_RATE>22050<" in meta.ixml
    with pytest.raises(InputError, match="already exists"):
        write_wav(path, tone(), 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.wav"]  # no temp files left behind


def test_prompts_with_control_characters_and_unicode_survive(tmp_path, tiny_folder):
    model = AudioGAN.load(tiny_folder)
    text = "bell\x07 ring — café\ttwice"
    (clip,) = model.generate(text, seed=4, seconds=0.1)
    path = clip.save(tmp_path / "bell.wav", bit_depth=32)
    meta = read_metadata(path)
    assert meta.recipe.prompt == text and meta.bext.description == "bell  ring  cafe twice"
    assert shlex.split(meta.fields["COMMAND"])[-1] == text


# The command makes the same samples again --------------------------------------------------
def regenerate(command: str, folder: Path) -> Path:
    """Run what `audiogan info` printed, through a shell, with this venv's `audiogan`."""
    folder.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, shell=True, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (made,) = folder.glob("*.wav")
    return made


def assert_same_samples(a: Path, b: Path):
    ia, ib = sf.info(str(a)), sf.info(str(b))
    assert (ia.samplerate, ia.subtype, ia.frames) == (ib.samplerate, ib.subtype, ib.frames)
    dtype = "float32" if ia.subtype == "FLOAT" else "int32"
    assert np.array_equal(sf.read(str(a), dtype=dtype)[0], sf.read(str(b), dtype=dtype)[0])


@pytest.mark.slow
def test_the_printed_command_regenerates_the_same_samples_bundled_model(tmp_path):
    """The bundled model (griffinlim for speed) at 48 kHz, 24-bit, loudness-normalised and trimmed."""
    first = tmp_path / "steps.wav"
    invoke("generate", "a dog barks", "--vocoder", "griffinlim", "--seed", 11, "--sample-rate", 48000,
           "--bit-depth", 24, "--loudness", -26, "--trim", "-o", first)
    (info,) = json.loads(invoke("info", "--json", first).output)
    assert info["recipe"]["model"] == "default" and info["recipe"]["delivery"]["trim"] is True
    assert sf.info(str(first)).frames < 0.5 * 48000 * 2.97  # the trim took effect
    again = regenerate(info["command"], tmp_path / "again")
    assert again.name == "a-dog-barks_seed11.wav"
    assert_same_samples(first, again)
    assert read_metadata(again).bext.originator_reference != read_metadata(first).bext.originator_reference


@pytest.mark.parametrize("options", [["--no-normalize", "--bit-depth", "32"], ["--trim", "--sample-rate", "22050"]])
def test_the_printed_command_regenerates_the_same_samples(tmp_path, tiny_folder, options, monkeypatch):
    """A variation (seed 5 + 1) of a model folder: the command asks for seed 6 alone."""
    invoke("generate", "rain", "--model", tiny_folder, "--seed", 5, "-n", 2, "-o", tmp_path / "r.wav", *options)
    second = tmp_path / "r-02.wav"
    (info,) = json.loads(invoke("info", "--json", second).output)
    assert info["recipe"]["seed"] == 6 and info["recipe"]["variation"] == 1
    args = shlex.split(info["command"])
    assert args[:2] == ["audiogan", "generate"]
    (tmp_path / "again").mkdir()
    monkeypatch.chdir(tmp_path / "again")
    invoke(*args[1:])
    assert_same_samples(second, tmp_path / "again" / "rain_seed6.wav")
