"""Library items -> fixed-size log-mel crops for training, with an on-disk cache.

- audio is mixed to mono, resampled to the model's rate (soxr HQ) and loudness-normalised
  (`normalise_loudness`: RMS of the active part to -20 dBFS, then the gain is capped so the
  peak stays at or below -1 dBFS; no compressor, no limiter curve - one gain per file);
- the whole file's log-mel (up to `max_seconds`) is computed once and cached in
  ``cache_dir`` as ``.npy`` named by the blake2b hash of the file's bytes and of the mel
  config + normalisation version (`CACHE_VERSION`): later epochs and later runs decode no
  audio at all;
- crops are taken in the mel domain: a long file gets a random `clip_frames` window whose
  offset comes from an RNG seeded by (seed, epoch, index), so a resumed run sees the same
  crops; a short file is padded at the end with the log-mel of silence, ln(1e-5).
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import DataError, InputError
from audiogan_core.library import clean_caption

from .library_scan import LibraryItem, LibraryScan

# Bump when anything that changes the cached log-mels changes (normalisation, mel code, crop of max_seconds).
CACHE_VERSION = "foley-mel-v1:mono:soxr-hq:rms-active-20dBFS:peak-1dBFS:maxgain40dB"
SILENCE_LOG_MEL = math.log(1e-5)

TARGET_RMS_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
MAX_GAIN_DB = 40.0
SILENT_PEAK_DBFS = -80.0


def normalise_loudness(audio: np.ndarray, sample_rate: int, *, target_dbfs: float = TARGET_RMS_DBFS,
                       peak_dbfs: float = PEAK_CEILING_DBFS, max_gain_db: float = MAX_GAIN_DB) -> np.ndarray:
    """One gain per file: the RMS of the *active* part (50 ms blocks within 40 dB of the
    loudest block) goes to `target_dbfs`, then the gain is lowered if needed so that the peak
    stays at or below `peak_dbfs`; the gain never exceeds `max_gain_db`. Near-silent input
    (peak below -80 dBFS) is returned unchanged."""
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 10 ** (SILENT_PEAK_DBFS / 20):
        return audio
    block = max(1, int(0.05 * sample_rate))
    n = audio.size // block
    if n >= 1:
        power = np.mean(audio[: n * block].reshape(n, block).astype(np.float64) ** 2, axis=1)
        if audio.size > n * block:
            power = np.append(power, np.mean(audio[n * block:].astype(np.float64) ** 2))
    else:
        power = np.array([np.mean(audio.astype(np.float64) ** 2)])
    active = power[power >= power.max() * 1e-4]  # within 40 dB of the loudest block
    rms = math.sqrt(float(active.mean()))
    gain = 10 ** (target_dbfs / 20) / max(rms, 1e-12)
    gain = min(gain, 10 ** (peak_dbfs / 20) / peak, 10 ** (max_gain_db / 20))
    return (audio * gain).astype(np.float32)


def load_audio(path: str | Path, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Decode (at most `max_seconds`), mix to mono, resample with soxr HQ. float32 [samples]."""
    import soundfile as sf

    from audiogan_core.io import resample

    with sf.SoundFile(str(path)) as fh:
        rate = fh.samplerate
        frames = fh.frames if max_seconds is None else min(fh.frames, int(math.ceil(max_seconds * rate)))
        data = fh.read(frames, dtype="float32", always_2d=True)
    audio = data.mean(axis=1)
    if rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def compute_log_mel(audio: np.ndarray, mel_config: MelConfig, chunk_frames: int = 8192) -> np.ndarray:
    """Log-mel [n_mels, samples // hop] of a mono waveform, float32; the input is zero-padded up
    to a whole number of hops (at least one FFT window), so a tail shorter than a hop counts.

    Long inputs are processed `chunk_frames` frames at a time, each chunk with enough real
    context on both sides that every kept frame equals the one-pass result (the front end's
    reflect padding only ever applies at the true ends), so a 10-minute file at 48 kHz does
    not need gigabytes for one STFT."""
    from audiogan_core.mel import log_mel

    hop = mel_config.hop_length
    samples = max(int(math.ceil(audio.size / hop)) * hop, int(math.ceil(mel_config.n_fft / hop)) * hop)
    if samples != audio.size:
        audio = np.pad(audio, (0, samples - audio.size))
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    frames = samples // hop
    context = int(math.ceil(((mel_config.n_fft - hop) // 2) / hop)) * hop + hop
    out = []
    with torch.no_grad():
        for first in range(0, frames, max(1, chunk_frames)):
            last = min(frames, first + max(1, chunk_frames))
            start, end = first * hop, last * hop
            left, right = min(context, start), min(context, samples - end)
            piece = torch.from_numpy(audio[start - left: end + right])
            mel = log_mel(piece, mel_config)[0]
            out.append(mel[:, left // hop: left // hop + (last - first)])
    return torch.cat(out, dim=1).numpy().astype(np.float32, copy=False)


def file_hash(path: str | Path, chunk: int = 1 << 20) -> str:
    """blake2b (128-bit) of the file's bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def config_hash(mel_config: MelConfig, max_seconds: float) -> str:
    payload = json.dumps({"mel": mel_config.to_dict(), "version": CACHE_VERSION, "max_seconds": float(max_seconds)},
                         sort_keys=True)
    return hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()


def caption_key(caption: str) -> str:
    """Stable cache key for a caption's text features: blake2b of the whitespace-cleaned text."""
    return hashlib.blake2b(clean_caption(caption).encode("utf-8"), digest_size=16).hexdigest()


class FoleyDataset(torch.utils.data.Dataset):
    """(log-mel crop, caption) pairs from a `LibraryScan` (or a list of `LibraryItem`).

    ``ds[i]`` (or ``ds[(epoch, i)]``, as `ResumableSampler(with_epoch=True)` yields) returns
    ``{"mel": float32 [n_mels, clip_frames], "caption": str, "index": i}``. The crop offset of
    a long file is drawn from ``np.random.default_rng([seed, epoch, i])``; `set_epoch` sets the
    epoch used for plain integer indices.
    """

    def __init__(self, scan: LibraryScan | Sequence[LibraryItem], mel_config: MelConfig, clip_frames: int,
                 cache_dir: str | Path, seed: int = 0, *, max_seconds: float = 600, random_crop: bool = True):
        items = scan.items if isinstance(scan, LibraryScan) else list(scan)
        if not items:
            raise DataError("the dataset has no items")
        if clip_frames <= 0:
            raise InputError(f"clip_frames must be positive, got {clip_frames}")
        self.items = list(items)
        self.mel_config = mel_config
        self.clip_frames = int(clip_frames)
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.seed = int(seed)
        self.max_seconds = float(max_seconds)
        self.random_crop = random_crop
        self.epoch = 0
        self._config_hash = config_hash(mel_config, self.max_seconds)
        self._content_hash: dict[int, str] = {}
        self.decode_count = 0  # files decoded by this object (0 once the cache is warm)

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def captions(self) -> list[str]:
        return [item.caption for item in self.items]

    # cache ----------------------------------------------------------------------------------
    def cache_path(self, index: int) -> Path:
        digest = self._content_hash.get(index)
        if digest is None:
            digest = self._content_hash[index] = file_hash(self.items[index].path)
        return self.cache_dir / digest[:2] / f"{digest}-{self._config_hash}.npy"

    def full_mel(self, index: int) -> np.ndarray:
        """The whole file's log-mel [n_mels, frames] (memory-mapped from the cache; computed and
        cached on first use)."""
        path = self.cache_path(index)
        if path.is_file():
            try:
                mel = np.load(path, mmap_mode="r")
                if mel.ndim == 2 and mel.shape[0] == self.mel_config.n_mels:
                    return mel
            except (ValueError, OSError, EOFError):
                pass  # a damaged cache entry: recompute it
        item = self.items[index]
        try:
            audio = load_audio(item.path, self.mel_config.sample_rate, self.max_seconds)
        except Exception as exc:
            raise DataError(f"{item.path}: decoding failed ({exc}); remove the file or re-scan") from None
        self.decode_count += 1
        audio = normalise_loudness(audio, self.mel_config.sample_rate)
        mel = compute_log_mel(audio, self.mel_config)
        path.parent.mkdir(parents=True, exist_ok=True)
        from audiogan_core.io import atomic_save

        def save(tmp):
            with open(tmp, "wb") as fh:
                np.save(fh, mel)

        atomic_save(path, save)
        return mel

    def precompute(self, progress: bool = True) -> int:
        """Fill the cache (decoding each uncached file once). Returns the number of files decoded."""
        from tqdm import tqdm

        before = self.decode_count
        for index in tqdm(range(len(self)), desc="log-mel cache", unit="file", disable=not progress):
            self.full_mel(index)
        return self.decode_count - before

    # items ----------------------------------------------------------------------------------
    def crop_offset(self, index: int, frames: int, epoch: int) -> int:
        if frames <= self.clip_frames or not self.random_crop:
            return 0
        rng = np.random.default_rng([self.seed, epoch, index])
        return int(rng.integers(0, frames - self.clip_frames + 1))

    def crop(self, mel: np.ndarray, offset: int) -> np.ndarray:
        # a C-contiguous copy: the cache is memory-mapped read-only, and torch warns on non-writable arrays
        clip = np.array(mel[:, offset: offset + self.clip_frames], dtype=np.float32, order="C")
        if clip.shape[1] < self.clip_frames:
            clip = np.pad(clip, ((0, 0), (0, self.clip_frames - clip.shape[1])), constant_values=SILENCE_LOG_MEL)
        return clip

    def __getitem__(self, key) -> dict[str, Any]:
        if isinstance(key, (tuple, list)):
            epoch, index = int(key[0]), int(key[1])
        else:
            epoch, index = self.epoch, int(key)
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        mel = self.full_mel(index)
        offset = self.crop_offset(index, mel.shape[1], epoch)
        return {"mel": torch.from_numpy(self.crop(mel, offset)), "caption": self.items[index].caption,
                "index": index}
