"""audiogan_core.library: one reader of audio libraries for training, evaluation and the scripts
(audio extensions, caption files, sidecars, one order of precedence), and one `slug`."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf

from audiogan_core.config import MelConfig
from audiogan_core.errors import DataError, InputError
from audiogan_core.evaluation import load_folder
from audiogan_core.io import slug
from audiogan_core.library import AUDIO_EXTENSIONS, caption_table, find_audio, read_caption_file, sidecar_caption
from audiogan_training.library_scan import scan_library

MEL = MelConfig(16000, 256, 256, 64, 16, 0.0, 8000.0)


def wav(path, seconds=0.2, rate=16000, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format=fmt)
    return path


def test_training_and_evaluation_read_the_same_captions(tmp_path):
    """Both caption files name a.wav: the CSV wins for training and evaluation alike (evaluation
    used to read captions.jsonl first, and only one file)."""
    wav(tmp_path / "a.wav")
    wav(tmp_path / "b.wav")
    wav(tmp_path / "sub" / "c.wav")
    (tmp_path / "sub" / "c.txt").write_text("a sidecar caption\n")
    (tmp_path / "captions.csv").write_text("file,caption\na.wav,from the csv\n")
    (tmp_path / "captions.jsonl").write_text(json.dumps({"file": "a.wav", "caption": "from the jsonl"}) + "\n"
                                             + json.dumps({"file": "b.wav", "caption": "only in the jsonl"}) + "\n")
    trained = {i.rel: i.caption for i in scan_library(tmp_path, mel_config=MEL, clip_frames=16).items}
    evaluated = {i.key: i.caption for i in load_folder(tmp_path).items}
    assert trained == {"a.wav": "from the csv", "b.wav": "only in the jsonl", "sub/c.wav": "a sidecar caption"}
    assert evaluated == {"a": "from the csv", "b": "only in the jsonl", "c": "a sidecar caption"}


def test_every_audio_extension_counts_everywhere(tmp_path):
    """A .wave file trains and is evaluated (evaluation used to skip it)."""
    assert ".wave" in AUDIO_EXTENSIONS and ".WAV".lower() in AUDIO_EXTENSIONS
    wav(tmp_path / "one.wave", fmt="WAV")
    wav(tmp_path / "two.WAV")
    (tmp_path / "notes.md").write_text("not audio")
    (tmp_path / ".hidden.wav").write_bytes(b"")
    files, ignored = find_audio(tmp_path)
    assert [p.name for p in files] == ["one.wave", "two.WAV"] and ignored == 1
    assert {i.rel for i in scan_library(tmp_path, mel_config=MEL, clip_frames=16).items} == {"one.wave", "two.WAV"}
    assert {i.key for i in load_folder(tmp_path).items} == {"one", "two"}


def test_caption_file_rules_strict_and_lenient(tmp_path):
    path = tmp_path / "captions.jsonl"
    path.write_text(json.dumps({"file": "x/../a.wav", "caption": " a \n dog "}) + "\n\nnot json\n"
                    + json.dumps({"caption": "no file"}) + "\n" + json.dumps({"file": "b.wav", "caption": ""}) + "\n"
                    + json.dumps({"file": "c.wav", "caption": "c", "category": "beep"}) + "\n")
    rows, problems = read_caption_file(path, label="captions.jsonl")
    assert [(r.file, r.caption, r.where, r.extra) for r in rows] == [
        ("a.wav", "a dog", "captions.jsonl:1", {}), ("c.wav", "c", "captions.jsonl:6", {"category": "beep"})]
    assert [(p.where, p.kind, p.skipped) for p in problems] == [
        ("captions.jsonl:3", "bad_row", True), ("captions.jsonl:4", "bad_row", True),
        ("captions.jsonl:5", "empty_caption", False)]
    with pytest.raises(InputError, match=r"captions.jsonl:3: not valid JSON"):
        read_caption_file(path, strict=True)
    (tmp_path / "captions.csv").write_text("name,text\nx,y\n")
    with pytest.raises(DataError, match="'file' and 'caption'"):
        caption_table(tmp_path)
    with pytest.raises(InputError, match="'file' and 'caption'"):
        read_caption_file(tmp_path / "captions.csv", strict=True)
    with pytest.raises(InputError, match="must be .jsonl or .csv"):
        (tmp_path / "c.txt").write_text("x")
        read_caption_file(tmp_path / "c.txt")


def test_sidecars_and_encodings(tmp_path):
    audio = wav(tmp_path / "door.ogg", fmt="WAV")
    assert sidecar_caption(audio) == (None, [])
    (tmp_path / "door.ogg.txt").write_bytes("Tür knarrt".encode("latin-1"))
    caption, problems = sidecar_caption(audio, "sounds/door.ogg")
    assert caption == "Tür knarrt" and problems[0].where == "sounds/door.ogg.txt" and problems[0].kind == "encoding"


# slug ------------------------------------------------------------------------------------------
def test_one_slug():
    """File names from free text come from audiogan_core.io.slug alone (the CLI, the OSC server
    and the Debian library builder each had their own)."""
    from test_structure import python_files
    import ast

    defined = [f"{p.name}:{n.name}" for p in python_files("audiogan_core", "plugins", "bridges", "training", "scripts")
               for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.FunctionDef)
               and "slug" in n.name]
    assert defined == ["io.py:slug"]
    assert slug("A dog barks!") == "a-dog-barks" and slug("¡¿!!") == "clip" and slug("Café") == "cafe"
    assert slug("/abs\\path\x00 x", limit=8) == "abs-path"
    # the Debian builder's OpenTTD names keep their old spelling (underscores, 60 characters)
    old = lambda t: re.sub(r"[^a-z0-9]+", "_", t.lower()).strip("_")[:60] or "clip"  # noqa: E731
    for caption in ("Truck (old): bus start, pull away with horn", "Toyland propeller plane take-off", "(unused)"):
        assert slug(caption, 60, "_") == old(caption)
