"""Foley library scanning: usable files, captions and the report (training/library_scan.py)."""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiogan_core.config import MelConfig
from audiogan_core.errors import DataError, InputError
from audiogan_training import mel_dataset
from audiogan_training.library_scan import ScanReport, scan_library

MEL = MelConfig(16000, 256, 256, 64, 16, 0.0, 8000.0)  # the "tiny" preset's front end
CLIP = 64  # frames = 0.256 s
SILENCE = math.log(1e-5)


def tone(path: Path, seconds: float, rate: int = 16000, channels: int = 1, freq: float = 440.0, amp: float = 0.3,
         **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * rate))) / rate
    audio = amp * np.sin(2 * np.pi * freq * t)
    if channels > 1:
        audio = np.stack([audio] * channels, axis=1)
    sf.write(str(path), audio.astype(np.float32), rate, **kwargs)
    return path


def scan(folder, **kwargs):
    return scan_library(folder, mel_config=MEL, clip_frames=CLIP, **kwargs)


# ------------------------------------------------------------------------------------------------
# Scanning and captions
# ------------------------------------------------------------------------------------------------
def test_scan_caption_sources_in_order_of_preference(tmp_path):
    tone(tmp_path / "a.wav", 0.5)
    tone(tmp_path / "ambient" / "weather" / "rain_11.ogg", 0.5, rate=22050, channels=2, format="OGG",
         subtype="VORBIS")
    tone(tmp_path / "doors" / "creak.flac", 0.3)
    (tmp_path / "doors" / "creak.txt").write_text("  An old wooden door\n creaks open.  \n", encoding="utf-8")
    tone(tmp_path / "sub" / "b.wav", 0.3)
    (tmp_path / "sub" / "b.txt").write_text("sidecar loses to the caption file", encoding="utf-8")
    (tmp_path / "captions.csv").write_text("file,caption,licence\na.wav,  A  dog   barks ,CC0\nsub/b.wav,glass "
                                           "breaking,CC-BY\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not audio")
    result = scan(tmp_path)
    items = {item.rel: item for item in result.items}
    assert set(items) == {"a.wav", "ambient/weather/rain_11.ogg", "doors/creak.flac", "sub/b.wav"}
    assert items["a.wav"].caption == "A dog barks" and items["a.wav"].source == "captions.csv"
    assert items["a.wav"].meta == {"licence": "CC0"}
    assert items["sub/b.wav"].caption == "glass breaking"
    assert items["doors/creak.flac"].caption == "An old wooden door creaks open." and \
        items["doors/creak.flac"].source == "sidecar"
    rain = items["ambient/weather/rain_11.ogg"]
    assert rain.source == "path" and rain.raw_caption == "rain, weather, ambient"
    assert rain.caption == "rain (weather)"
    assert abs(rain.duration - 0.5) < 0.01
    assert result.report.seen == 4 and result.report.accepted == 4 and result.report.ignored == 1
    assert len(result.report) == 0


def test_captions_jsonl_and_missing_rows(tmp_path):
    tone(tmp_path / "x" / "hit.wav", 0.2)
    rows = [{"file": "x/hit.wav", "caption": "sword hit", "package": "demo"},
            {"file": "x/gone.wav", "caption": "a file that is not there"},
            {"file": "../outside.wav", "caption": "escape"}]
    (tmp_path / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n",
                                            encoding="utf-8")
    result = scan(tmp_path)
    assert [i.caption for i in result.items] == ["sword hit"]
    assert result.items[0].meta == {"package": "demo"}
    kinds = result.report.counts()
    assert kinds == {"bad_row": 1, "missing": 1, "outside": 1}
    missing = [s for s in result.report if s.kind == "missing"][0]
    assert "x/gone.wav" in missing.reason and missing.path == "captions.jsonl:2"


def test_non_utf8_caption_files_fall_back_to_cp1252_and_are_reported(tmp_path):
    tone(tmp_path / "cafe.wav", 0.2)
    tone(tmp_path / "door.wav", 0.2)
    (tmp_path / "captions.csv").write_bytes("file,caption\ncafé.wav,nope\ncafe.wav,Café ambience – crowd\n"
                                            .encode("cp1252"))
    (tmp_path / "door.txt").write_bytes("Tür knarrt".encode("latin-1"))
    result = scan(tmp_path)
    captions = {i.rel: i.caption for i in result.items}
    assert captions == {"cafe.wav": "Café ambience – crowd", "door.wav": "Tür knarrt"}
    notes = {n.path: n for n in result.report.notes}
    assert "Windows-1252" in notes["captions.csv"].message and notes["captions.csv"].kind == "encoding"
    assert "door.txt" in notes
    assert [s.kind for s in result.report] == ["missing"]  # the row naming "café.wav"


def test_bad_files_are_skipped_and_listed(tmp_path):
    tone(tmp_path / "good.wav", 0.3)
    full = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "truncated.wav").write_bytes(full[: len(full) // 2])
    (tmp_path / "text.wav").write_text("this is not audio at all, just text renamed to .wav\n")
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, np.float32), 16000)
    (tmp_path / "header_only.wav").write_bytes(full[:30])
    tone(tmp_path / "tick.wav", 0.001)  # 16 samples: shorter than one hop
    result = scan(tmp_path)
    assert [i.rel for i in result.items] == ["good.wav"]
    by_path = {s.path: s for s in result.report}
    assert by_path["truncated.wav"].kind == "truncated" and "declares" in by_path["truncated.wav"].reason
    assert by_path["text.wav"].kind == "corrupt"
    assert by_path["header_only.wav"].kind == "corrupt"
    assert by_path["empty.wav"].kind == "empty"
    assert by_path["tick.wav"].kind == "empty" and "one mel frame" in by_path["tick.wav"].reason
    assert result.report.seen == 6


def _sparse_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A real, valid 16-bit WAV of `seconds` of silence, written as a sparse file (no disk use)."""
    data_bytes = int(seconds * rate) * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + data_bytes)
    return path


def test_three_hour_file_is_skipped_without_decoding(tmp_path, monkeypatch):
    tone(tmp_path / "ok.wav", 0.3)
    _sparse_wav(tmp_path / "field_recording.wav", 3 * 3600)
    assert sf.info(str(tmp_path / "field_recording.wav")).duration == pytest.approx(3 * 3600)

    def no_decoding(*args, **kwargs):
        raise AssertionError("scan_library must not decode audio of a too-long file")

    monkeypatch.setattr(sf, "read", no_decoding)
    monkeypatch.setattr(mel_dataset, "file_hash", no_decoding)
    result = scan(tmp_path, max_seconds=600)
    skipped = {s.path: s for s in result.report}
    assert skipped["field_recording.wav"].kind == "too_long"
    assert "3:00:00" in skipped["field_recording.wav"].reason
    assert [i.rel for i in result.items] == ["ok.wav"]


def test_empty_folder_raises_data_error(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no audio files found"):
        scan(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        scan(tmp_path / "missing")


def test_all_bad_folder_raises_before_training_with_reasons(tmp_path):
    tone(tmp_path / "good.wav", 0.3)
    full = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "good.wav").unlink()
    (tmp_path / "cut.wav").write_bytes(full[: len(full) // 3])
    (tmp_path / "notes.wav").write_text("hello")
    sf.write(str(tmp_path / "zero.wav"), np.zeros(0, np.float32), 16000)
    _sparse_wav(tmp_path / "long.wav", 3 * 3600)
    with pytest.raises(DataError) as info:
        scan(tmp_path)
    message = str(info.value)
    assert "4 audio file(s) seen, all rejected" in message
    for phrase in ("1 not decodable", "1 cut off", "1 0 seconds", "1 longer than max_seconds"):
        assert phrase in message


def test_report_write_json_and_text(tmp_path):
    lib = tmp_path / "lib"
    tone(lib / "door_creak.wav", 0.2)
    tone(lib / "01.wav", 0.2)  # no words in the name, no caption file: skipped, not guessed
    (lib / "b.wav").write_text("junk")
    report = scan(lib).report
    out_json = report.write(tmp_path / "report.json")
    loaded = json.loads(out_json.read_text())
    assert loaded["seen"] == 3 and {s["path"] for s in loaded["skipped"]} == {"01.wav", "b.wav"}
    assert loaded["skipped_by_kind"] == {"corrupt": 1, "no_caption": 1}
    text = report.write(tmp_path / "report.txt").read_text()
    assert "[corrupt] b.wav" in text and "3 audio file(s) seen, 1 usable" in text


def test_scan_report_is_a_list():
    report = ScanReport()
    assert report == [] and report.summary().startswith("0 audio file(s) seen")
