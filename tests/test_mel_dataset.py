"""Library items -> log-mel crops: loudness, the on-disk cache, seeded crops (training/mel_dataset.py)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from audiogan_core.config import MelConfig
from audiogan_training import mel_dataset
from audiogan_training.mel_dataset import FoleyDataset, caption_key, compute_log_mel, normalise_loudness
from audiogan_training.sampling import ResumableSampler
from test_library_scan import CLIP, MEL, SILENCE, Path, scan, tone


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

    monkeypatch.setattr(mel_dataset, "load_audio", forbidden)
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


def test_caption_key():
    assert caption_key("a  dog\nbarks ") == caption_key("a dog barks")
    assert caption_key("a dog barks") != caption_key("a cat meows")
    assert len(caption_key("x")) == 32


def test_chunked_log_mel_equals_one_pass():
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
