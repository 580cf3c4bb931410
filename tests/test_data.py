"""Foley library scanning, caching, crops, sampler and held-out split (training/data.py)."""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import DataError, InputError
from audiogan_training import data as data_mod
from audiogan_training.data import (FoleyDataset, ResumableSampler, ScanReport, balance_weights, caption_key,
                                    normalise_loudness, scan_library, split_holdout)

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
    monkeypatch.setattr(data_mod, "file_hash", no_decoding)
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


# ------------------------------------------------------------------------------------------------
# Audio, cache and crops
# ------------------------------------------------------------------------------------------------
def test_loudness_normalisation():
    rate = 16000
    t = np.arange(rate) / rate
    quiet = (0.01 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    out = normalise_loudness(quiet, rate)
    rms_db = 20 * np.log10(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-20.0, abs=0.05)
    # a short loud click on silence: the peak ceiling wins over the RMS target
    click = np.zeros(rate, np.float32)
    click[100:110] = 0.05
    out = normalise_loudness(click, rate)
    assert np.max(np.abs(out)) == pytest.approx(10 ** (-1 / 20), rel=1e-4)
    silence = np.zeros(rate, np.float32)
    assert np.array_equal(normalise_loudness(silence, rate), silence)
    # "active part": 0.2 s of tone then 1.8 s of silence gets the same gain as the tone alone
    gapped = np.concatenate([quiet[: rate // 5], np.zeros(rate * 9 // 5, np.float32)])
    tone_only = normalise_loudness(quiet, rate)
    assert np.max(np.abs(normalise_loudness(gapped, rate))) == pytest.approx(np.max(np.abs(tone_only)), rel=0.02)
    assert tone_only.dtype == np.float32


def _library(tmp_path):
    lib = tmp_path / "lib"
    tone(lib / "long.wav", 2.0, rate=22050, channels=2)  # resampled, mixed to mono, randomly cropped
    tone(lib / "short.wav", 0.1)  # padded with silence
    tone(lib / "mid.flac", 0.5, freq=1000)
    return scan(lib)


def test_dataset_items_shapes_padding_and_caption(tmp_path):
    lib = _library(tmp_path)
    ds = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache", seed=3)
    assert len(ds) == 3
    for i in range(3):
        item = ds[i]
        assert item["mel"].shape == (16, CLIP) and item["mel"].dtype == torch.float32
        assert item["index"] == i and item["caption"] == lib.items[i].caption
    short = [i for i, it in enumerate(lib.items) if it.rel == "short.wav"][0]
    mel = ds[short]["mel"]
    frames = 1600 // 64  # 0.1 s at hop 64
    assert torch.all(mel[:, frames + 1:] == SILENCE)
    assert mel[:, : frames - 1].max() > SILENCE + 1


def test_cache_second_pass_does_no_decoding(tmp_path, monkeypatch):
    lib = _library(tmp_path)
    ds = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache", seed=0)
    assert ds.precompute(progress=False) == 3
    first = [ds[i]["mel"].clone() for i in range(3)]
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 3

    calls = []

    def forbidden(*args, **kwargs):
        calls.append(args)
        raise AssertionError("decoded audio although the cache is warm")

    monkeypatch.setattr(data_mod, "load_audio", forbidden)
    monkeypatch.setattr(sf, "read", forbidden)
    again = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache", seed=0)  # a new run, same cache
    assert again.precompute(progress=False) == 0
    for i in range(3):
        assert torch.equal(again[i]["mel"], first[i])
    assert again.decode_count == 0 and not calls


def test_cache_key_follows_content_and_config(tmp_path):
    lib = _library(tmp_path)
    ds = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache")
    keys = [ds.cache_path(i) for i in range(3)]
    other = FoleyDataset(lib, MelConfig(16000, 256, 256, 64, 32, 0.0, 8000.0), CLIP, tmp_path / "cache")
    assert all(a != b for a, b in zip(keys, (other.cache_path(i) for i in range(3))))
    # same size, same mtime, different bytes -> different key
    path = [it.path for it in lib.items if it.rel == "mid.flac"][0]
    index = [i for i, it in enumerate(lib.items) if it.rel == "mid.flac"][0]
    stat = path.stat()
    tone(path, 0.5, freq=1234)
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    fresh = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache")
    assert fresh.cache_path(index) != keys[index]


def test_random_crops_are_seeded_by_seed_epoch_index(tmp_path):
    lib = _library(tmp_path)
    long_index = [i for i, it in enumerate(lib.items) if it.rel == "long.wav"][0]
    ds = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache", seed=7)
    ds.set_epoch(0)
    a0 = ds[long_index]["mel"]
    ds.set_epoch(1)
    a1 = ds[long_index]["mel"]
    resumed = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache", seed=7)
    assert torch.equal(resumed[(0, long_index)]["mel"], a0)
    assert torch.equal(resumed[(1, long_index)]["mel"], a1)
    offsets = {ds.crop_offset(long_index, 690, e) for e in range(10)}
    assert len(offsets) > 5  # crops move from epoch to epoch
    assert ds.crop_offset(long_index, 690, 3) == resumed.crop_offset(long_index, 690, 3)


def test_dataset_with_dataloader_and_resumable_sampler(tmp_path):
    lib = _library(tmp_path)
    ds = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache", seed=1)
    sampler = ResumableSampler(len(ds), seed=1, batch_size=2, with_epoch=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, sampler=sampler)
    batch = next(iter(loader))
    assert batch["mel"].shape == (2, 16, CLIP) and len(batch["caption"]) == 2


def test_real_debian_audio_if_installed(tmp_path):
    sounds = Path("/usr/share/games/minetest/games/minetest_game/mods/default/sounds")
    names = ["default_dirt_footstep.1.ogg", "default_dig_choppy.1.ogg", "default_place_node.1.ogg"]
    if not all((sounds / n).is_file() for n in names):
        pytest.skip("minetest-data is not installed (apt-get install minetest-data)")
    lib = tmp_path / "lib"
    lib.mkdir()
    for n in names:
        (lib / n).write_bytes((sounds / n).read_bytes())
    result = scan(lib)
    assert {i.caption for i in result.items} == {"footsteps on dirt", "chopping wood", "placing a block"}
    ds = FoleyDataset(result, MEL, CLIP, tmp_path / "cache")
    assert ds[0]["mel"].shape == (16, CLIP) and torch.isfinite(ds[0]["mel"]).all()


# ------------------------------------------------------------------------------------------------
# Sampler and split
# ------------------------------------------------------------------------------------------------
def _take(iterator, k):
    return [next(iterator) for _ in range(k)]


def test_sampler_state_round_trip_resumes_exactly():
    sampler = ResumableSampler(10, seed=5, batch_size=4)
    it = iter(sampler)
    _take(it, 23)  # into epoch 2
    state = sampler.state_dict()
    assert state["epoch"] == 2 and state["position"] == 3
    expected = _take(it, 30)
    resumed = ResumableSampler(10, seed=5, batch_size=4)
    resumed.load_state_dict(json.loads(json.dumps(state)))
    assert _take(iter(resumed), 30) == expected


def test_sampler_epochs_are_permutations_and_differ():
    sampler = ResumableSampler(12, seed=0, batch_size=3)
    stream = _take(iter(sampler), 36)
    epochs = [stream[i:i + 12] for i in (0, 12, 24)]
    assert all(sorted(e) == list(range(12)) for e in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
    assert _take(iter(ResumableSampler(12, seed=0, batch_size=3)), 36) == stream


def test_sampler_consumed_batches_accounts_for_prefetch():
    sampler = ResumableSampler(7, seed=2, batch_size=3)
    it = iter(sampler)
    _take(it, 3 * 5)  # a DataLoader pulled 5 batches...
    state = sampler.state_dict(consumed_batches=2)  # ...but training finished only 2
    assert (state["epoch"], state["position"]) == (0, 6)
    fresh = ResumableSampler(7, seed=2, batch_size=3)
    reference = _take(iter(fresh), 30)
    resumed = ResumableSampler(7, seed=2, batch_size=3)
    resumed.load_state_dict(state)
    assert _take(iter(resumed), 24) == reference[6:30]


def test_sampler_shards_for_ddp():
    n, world = 11, 3
    shards = [ResumableSampler(n, seed=4, batch_size=2, rank=r, world_size=world) for r in range(world)]
    per_rank = [_take(iter(s), shards[0].per_epoch) for s in shards]
    assert all(len(p) == 4 for p in per_rank)
    assert set(sum(per_rank, [])) == set(range(n))  # every index, one padded duplicate
    with pytest.raises(DataError):
        shards[0].load_state_dict({"epoch": 0, "position": 0, "n": 12, "seed": 4, "world_size": 3})


def test_weighted_sampler_follows_weights_and_resumes_exactly():
    weights = [0.0, 1.0, 1.0, 6.0]  # item 0 never, item 3 six times as often as 1 or 2
    sampler = ResumableSampler(4, seed=3, batch_size=4, weights=weights)
    it = iter(sampler)
    stream = _take(it, 4000)
    counts = [stream.count(i) for i in range(4)]
    assert counts[0] == 0
    assert 2800 < counts[3] < 3200 and 300 < counts[1] < 700 and 300 < counts[2] < 700, counts
    assert _take(iter(ResumableSampler(4, seed=3, batch_size=4, weights=weights)), 4000) == stream
    assert _take(iter(ResumableSampler(4, seed=4, batch_size=4, weights=weights)), 4000) != stream
    state = sampler.state_dict()
    expected = _take(it, 40)
    resumed = ResumableSampler(4, seed=3, batch_size=4, weights=weights)
    resumed.load_state_dict(json.loads(json.dumps(state)))
    assert _take(iter(resumed), 40) == expected


@pytest.mark.parametrize("weights, message", [
    ([1.0, 1.0], "one entry per item"),
    ([1.0, -1.0, 1.0], "non-negative"),
    ([0.0, 0.0, 0.0], "not all zero"),
    ([1.0, float("nan"), 1.0], "finite"),
])
def test_weighted_sampler_rejects_bad_weights(weights, message):
    with pytest.raises(InputError, match=message):
        ResumableSampler(3, seed=0, batch_size=2, weights=weights)


def test_balance_weights_between_uniform_and_equal_groups():
    groups = ["a"] * 8 + ["b"] * 2 + [None] * 2

    def share(weights):
        total = sum(weights)
        return {g: sum(w for w, h in zip(weights, groups) if h == g) / total for g in ("a", "b", None)}

    assert balance_weights(groups, 0.0) == [1.0] * 12
    assert share(balance_weights(groups, 1.0)) == pytest.approx({"a": 1 / 3, "b": 1 / 3, None: 1 / 3})
    half = share(balance_weights(groups, 0.5))  # a: 8 * 8**-0.5 = 2.83, b and None: 2 * 2**-0.5 = 1.41
    assert half["a"] == pytest.approx(0.5) and half["b"] == pytest.approx(0.25)
    assert sum(balance_weights(groups, 0.5)) == pytest.approx(12)  # mean 1
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        balance_weights(groups, 1.5)


def test_sampler_with_epoch_pairs():
    sampler = ResumableSampler(3, seed=0, batch_size=1, with_epoch=True)
    pairs = _take(iter(sampler), 4)
    assert [p[0] for p in pairs] == [0, 0, 0, 1]


def test_split_holdout_is_deterministic_stable_and_covers_groups():
    files = [f"pkg/{kind}/{kind}_{i:02d}.ogg" for kind in ("rain", "sword", "dog", "door") for i in range(30)]
    train, held = split_holdout(files, 0.1, seed=0)
    assert set(train) | set(held) == set(files) and not set(train) & set(held)
    assert 3 <= len(held) <= 25
    again = split_holdout(files + ["pkg/new/new_01.ogg", "pkg/new/new_02.ogg"], 0.1, seed=0)[1]
    assert set(held) <= set(again)  # adding files never moves existing ones
    group = lambda f: f.split("/")[1]  # noqa: E731
    rare = files + ["pkg/bell/bell_01.ogg", "pkg/bell/bell_02.ogg"]
    _, held_g = split_holdout(rare, 0.05, seed=1, group=group)
    assert {group(f) for f in held_g} == {"rain", "sword", "dog", "door", "bell"}
    by_kind = split_holdout(files, 0.5, seed=3, key=group)[1]  # one hash per kind: all or nothing
    assert {group(f) for f in by_kind} and all(
        sum(group(f) == g for f in by_kind) == 30 for g in {group(f) for f in by_kind})
    train_l, held_l = split_holdout(files, ["pkg/dog/dog_03.ogg"])
    assert held_l == ["pkg/dog/dog_03.ogg"] and len(train_l) == len(files) - 1
    with pytest.raises(DataError):
        split_holdout(files, ["pkg/nope.ogg"])


def test_split_holdout_on_library_items(tmp_path):
    lib = _library(tmp_path)
    train, held = split_holdout(lib.items, 0.5, seed=3)
    assert len(train) + len(held) == 3
    assert split_holdout(lib.items, 0.5, seed=3) == (train, held)


def test_caption_key():
    assert caption_key("a  dog\nbarks ") == caption_key("a dog barks")
    assert caption_key("a dog barks") != caption_key("a cat meows")
    assert len(caption_key("x")) == 32


def test_chunked_log_mel_equals_one_pass():
    from audiogan_training.data import compute_log_mel

    x = np.random.default_rng(0).standard_normal(64 * 100 + 17).astype(np.float32) * 0.1
    whole = compute_log_mel(x, MEL, chunk_frames=10_000)
    assert whole.shape == (16, 101)
    for chunk in (3, 64):
        assert np.abs(compute_log_mel(x, MEL, chunk_frames=chunk) - whole).max() < 1e-5


def test_long_files_are_cropped_not_padded(tmp_path):
    # a 12 s rising sweep (like a long ambience in the Debian foley library): every item is a
    # window of real audio taken from it, never padding, and the windows cover the whole file
    rate, seconds = 16000, 12.0
    t = np.arange(int(rate * seconds)) / rate
    sweep = 0.3 * np.sin(2 * np.pi * (200 * t + (7000 - 200) / (2 * seconds) * t ** 2))
    (tmp_path / "lib").mkdir()
    sf.write(str(tmp_path / "lib" / "rain_bed.wav"), sweep.astype(np.float32), rate)
    lib = scan(tmp_path / "lib")
    ds = FoleyDataset(lib, MEL, CLIP, tmp_path / "cache", seed=5)
    full = np.asarray(ds.full_mel(0))
    frames = full.shape[1]
    assert frames == int(seconds * rate) // MEL.hop_length  # the whole file is kept, not cut to one clip
    offsets = []
    for epoch in range(60):
        item = ds[(epoch, 0)]["mel"].numpy()
        offset = ds.crop_offset(0, frames, epoch)
        assert item.shape == (MEL.n_mels, CLIP)
        assert np.array_equal(item, full[:, offset: offset + CLIP])  # a window of the file itself...
        assert (item.max(axis=0) > SILENCE + 1).all()  # ...with no padded (silent) frame in it
        offsets.append(offset)
    span = frames - CLIP
    assert len(set(offsets)) > 50 and min(offsets) < 0.1 * span and max(offsets) > 0.9 * span
