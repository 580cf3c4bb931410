"""A foley library on disk -> (log-mel crop, caption) pairs for training.

Pipeline
--------
1. `scan_library(folder, ...)` walks the folder recursively, keeps every file `soundfile`
   can open (wav, flac, ogg/vorbis/opus, mp3, aiff, ...) and gives each a caption, in order of
   preference:

   a. a row of ``captions.csv`` / ``captions.jsonl`` at the folder root (columns/keys ``file``
      = path relative to the folder, ``caption``; other columns are kept in ``LibraryItem.meta``),
   b. a sidecar text file next to the audio file (``rain_11.txt`` or ``rain_11.ogg.txt``),
   c. the file and folder names turned into words (`captions.path_caption`, then
      `captions.normalise_path_caption`).

   Human-written captions (a, b) are only whitespace-cleaned. Text files that are not valid
   UTF-8 are decoded as Windows-1252 (Latin-1 for the five bytes cp1252 leaves undefined) and
   the fallback is noted in the report: that is what such files almost always are.

   Files that cannot be used are skipped and listed in ``scan.report`` (a `ScanReport`, a list
   of `SkippedFile`), never silently: unreadable/corrupt files, truncated WAVs (the data chunk
   declares more bytes than the file holds), 0-second files, files longer than `max_seconds`
   (found with `soundfile.info`, without decoding), caption rows naming missing files.
   If nothing usable is left, `DataError` says how many files were seen and why each kind
   was rejected - before any training starts.

2. `FoleyDataset` turns items into fixed-size log-mels:

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

3. `ResumableSampler` is an infinite, deterministic, DDP-sharded index stream with a
   `state_dict()` that resumes exactly; `split_holdout` makes a held-out split that depends
   only on each file's relative path (stable when files are added).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import DataError, InputError

from . import captions as _captions

AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                              ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64"})
CAPTION_FILES = ("captions.csv", "captions.jsonl")
# Bump when anything that changes the cached log-mels changes (normalisation, mel code, crop of max_seconds).
CACHE_VERSION = "foley-mel-v1:mono:soxr-hq:rms-active-20dBFS:peak-1dBFS:maxgain40dB"
SILENCE_LOG_MEL = math.log(1e-5)

TARGET_RMS_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
MAX_GAIN_DB = 40.0
SILENT_PEAK_DBFS = -80.0


# ---------------------------------------------------------------------------------------------
# Scan results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LibraryItem:
    """One usable audio file. `path` is absolute; `rel` is the POSIX path relative to the library
    root (the key for `split_holdout` and caption files); `source` says where the caption came
    from: "captions.csv", "captions.jsonl", "sidecar" or "path"."""

    path: Path
    caption: str
    duration: float
    source: str
    rel: str = ""
    raw_caption: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class SkippedFile:
    """A file (or caption row) that was not used. `kind` groups reasons for the summary:
    corrupt, truncated, empty, too_long, missing, outside, unsupported."""

    path: str
    reason: str
    kind: str = "other"


@dataclass(frozen=True)
class ScanNote:
    """Something that was handled rather than skipped (e.g. a caption file that was not UTF-8)."""

    path: str
    message: str
    kind: str = "note"


class ScanReport(list):
    """List of `SkippedFile`, plus `.notes` (handled issues), `.seen` (audio files and caption
    rows looked at) and `.accepted`. `write(path)` writes JSON (``.json``) or plain text."""

    def __init__(self, *args):
        super().__init__(*args)
        self.notes: list[ScanNote] = []
        self.seen = 0
        self.accepted = 0
        self.ignored = 0  # non-audio files (text, images...) that were not considered

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self:
            out[entry.kind] = out.get(entry.kind, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in self.counts().items()) or "none"
        text = (f"{self.seen} audio file(s) seen, {self.accepted} usable, {len(self)} skipped ({kinds}), "
                f"{len(self.notes)} note(s)")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "seen": self.seen, "accepted": self.accepted, "ignored": self.ignored,
                "skipped_by_kind": self.counts(),
                "skipped": [{"path": s.path, "kind": s.kind, "reason": s.reason} for s in self],
                "notes": [{"path": n.path, "kind": n.kind, "message": n.message} for n in self.notes]}

    def to_text(self) -> str:
        lines = [self.summary(), ""]
        if self:
            lines.append("Skipped:")
            lines += [f"  [{s.kind}] {s.path}: {s.reason}" for s in self]
        if self.notes:
            lines.append("Notes:")
            lines += [f"  [{n.kind}] {n.path}: {n.message}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path) -> Path:
        from audiogan_core.io import atomic_write_text

        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n" if path.suffix.lower() == ".json" \
            else self.to_text()
        return atomic_write_text(path, text)


@dataclass
class LibraryScan:
    root: Path
    items: list[LibraryItem]
    report: ScanReport

    @property
    def total_duration(self) -> float:
        return float(sum(item.duration for item in self.items))

    def __len__(self) -> int:
        return len(self.items)


# ---------------------------------------------------------------------------------------------
# Text files
# ---------------------------------------------------------------------------------------------
def decode_text(data: bytes) -> tuple[str, str | None]:
    """UTF-8 (BOM allowed); else Windows-1252, with Latin-1 for its undefined bytes.
    Returns (text, note or None)."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        where = exc.start
    try:
        return data.decode("cp1252"), f"not valid UTF-8 (byte {where}); decoded as Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), f"not valid UTF-8 (byte {where}); decoded as Latin-1"


def _read_caption_table(root: Path, report: ScanReport) -> dict[str, tuple[str, str, dict]]:
    """rel path -> (caption, source, extra columns). First occurrence of a file wins."""
    table: dict[str, tuple[str, str, dict]] = {}
    for name in CAPTION_FILES:
        path = root / name
        if not path.is_file():
            continue
        text, note = decode_text(path.read_bytes())
        if note:
            report.notes.append(ScanNote(name, note, "encoding"))
        rows: list[tuple[int, dict]] = []
        if name.endswith(".csv"):
            reader = csv.DictReader(io.StringIO(text))
            fields = [f.strip().lower() for f in (reader.fieldnames or [])]
            if "file" not in fields or "caption" not in fields:
                raise DataError(f"{path}: needs a header row with columns 'file' and 'caption', got {reader.fieldnames}")
            for lineno, row in enumerate(reader, start=2):
                rows.append((lineno, {(k or "").strip().lower(): (v or "") for k, v in row.items()}))
        else:
            for lineno, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    report.append(SkippedFile(f"{name}:{lineno}", f"not valid JSON: {exc.msg}", "bad_row"))
                    continue
                if not isinstance(row, dict):
                    report.append(SkippedFile(f"{name}:{lineno}", "a line must be a JSON object", "bad_row"))
                    continue
                rows.append((lineno, row))
        for lineno, row in rows:
            rel = str(row.get("file") or "").strip().replace("\\", "/")
            caption = _captions.clean_caption(str(row.get("caption") or ""))
            where = f"{name}:{lineno}"
            if not rel:
                report.append(SkippedFile(where, "row has no 'file'", "bad_row"))
                continue
            norm = os.path.normpath(rel).replace("\\", "/")
            if norm.startswith("../") or norm == ".." or os.path.isabs(norm):
                report.append(SkippedFile(where, f"'{rel}' points outside the library folder", "outside"))
                continue
            if not (root / norm).is_file():
                report.append(SkippedFile(where, f"names a missing file '{rel}'", "missing"))
                continue
            if norm in table:
                report.notes.append(ScanNote(where, f"'{rel}' already captioned in {table[norm][1]}; row ignored",
                                             "duplicate"))
                continue
            if not caption:
                report.notes.append(ScanNote(where, f"empty caption for '{rel}'; using the sidecar or file name",
                                             "empty_caption"))
                continue
            extra = {k: v for k, v in row.items() if k not in ("file", "caption")}
            table[norm] = (caption, name, extra)
    return table


def _sidecar_caption(path: Path, rel: str, report: ScanReport) -> str | None:
    for candidate in (path.with_suffix(".txt"), path.with_name(path.name + ".txt")):
        if candidate.is_file():
            text, note = decode_text(candidate.read_bytes())
            if note:
                report.notes.append(ScanNote(str(Path(rel).with_name(candidate.name)), note, "encoding"))
            caption = _captions.clean_caption(text)
            if caption:
                return caption
    return None


# ---------------------------------------------------------------------------------------------
# Audio checks
# ---------------------------------------------------------------------------------------------
def _wav_truncation(path: Path) -> str | None:
    """For RIFF/WAVE files: a reason string if the data chunk claims more bytes than the file
    holds (libsndfile silently reads the part that is there), else None."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        fmt = "<I" if head[:4] == b"RIFF" else ">I"
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                break
            cid, (length,) = chunk[:4], struct.unpack(fmt, chunk[4:])
            if cid == b"data":
                if length in (0, 0xFFFFFFFF):  # streaming writers leave the size open
                    return None
                available = size - pos - 8
                if length > available:
                    return (f"truncated: the WAV data chunk declares {length} bytes but the file holds "
                            f"{available} ({100 * available / length:.0f}%)")
                return None
            pos += 8 + length + (length & 1)
    return None


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def probe_audio(path: Path, max_seconds: float) -> tuple[float | None, SkippedFile | None]:
    """(duration, None) for a usable file, (None, SkippedFile) otherwise. Reads headers only
    (plus the last block, which catches most truncated compressed files)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as exc:  # LibsndfileError, RuntimeError, TypeError for odd formats
        msg = str(exc).split(": ", 1)[-1] if "Error opening" in str(exc) else str(exc)
        return None, SkippedFile(str(path), f"cannot be read as audio ({msg.strip() or type(exc).__name__})",
                                 "corrupt")
    if info.samplerate <= 0:
        return None, SkippedFile(str(path), f"invalid sample rate {info.samplerate}", "corrupt")
    frames = info.frames
    if frames <= 0:
        return None, SkippedFile(str(path), "0 seconds of audio (empty, or truncated so that no frame decodes)",
                                 "empty")
    duration = frames / info.samplerate
    if duration > max_seconds:
        return None, SkippedFile(
            str(path), f"{_format_seconds(duration)} long, over max_seconds={max_seconds:g} "
                       f"(split it into shorter files or raise max_seconds)", "too_long")
    truncated = _wav_truncation(path)
    if truncated:
        return None, SkippedFile(str(path), truncated, "truncated")
    try:  # decode the tail: a cut-off stream usually fails or comes up short here
        with sf.SoundFile(str(path)) as fh:
            tail = min(frames, 4096)
            fh.seek(frames - tail)
            got = fh.read(tail, dtype="float32", always_2d=True)
        if got.shape[0] < tail:
            return None, SkippedFile(str(path), f"truncated: the last {tail - got.shape[0]} of {frames} frames "
                                                f"do not decode", "truncated")
    except Exception as exc:
        return None, SkippedFile(str(path), f"decoding failed near the end ({exc})", "corrupt")
    return duration, None


# ---------------------------------------------------------------------------------------------
# Scan
# ---------------------------------------------------------------------------------------------
def _walk_audio(root: Path, report: ScanReport, exclude: Sequence[Path] = ()) -> list[Path]:
    found = []
    excluded = [p.resolve() for p in exclude]
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and (here / d).resolve() not in excluded)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = here / name
            if path.suffix.lower() in AUDIO_EXTENSIONS:
                found.append(path)
            elif name not in CAPTION_FILES and path.suffix.lower() != ".txt":
                report.ignored += 1
    return found


def scan_library(folder: str | Path, *, mel_config: MelConfig, clip_frames: int, max_seconds: float = 600,
                 exclude: Sequence[str | Path] = ()) -> LibraryScan:
    """Find usable audio files and their captions under `folder` (see the module docstring).

    `mel_config`/`clip_frames` only inform the report (files shorter than one mel frame are
    skipped; files shorter than a clip are fine, they are padded). `exclude`: folders not to
    walk (e.g. a cache inside the library). Raises DataError if nothing is usable."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"library folder does not exist or is not a folder: {root}")
    if clip_frames <= 0:
        raise InputError(f"clip_frames must be positive, got {clip_frames}")
    root = root.resolve()
    report = ScanReport()
    table = _read_caption_table(root, report)
    files = _walk_audio(root, report, exclude)
    report.seen = len(files)
    min_seconds = mel_config.hop_length / mel_config.sample_rate
    items: list[LibraryItem] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        duration, skipped = probe_audio(path, max_seconds)
        if skipped is not None:
            report.append(SkippedFile(rel, skipped.reason, skipped.kind))
            continue
        if duration < min_seconds:
            report.append(SkippedFile(rel, f"{duration * 1000:.2f} ms long, shorter than one mel frame "
                                           f"({min_seconds * 1000:.1f} ms)", "empty"))
            continue
        meta: dict = {}
        if rel in table:
            caption, source, meta = table[rel]
            raw = str(meta.get("raw_caption") or caption)
        else:
            caption = _sidecar_caption(path, rel, report)
            if caption is not None:
                source, raw = "sidecar", caption
            else:
                raw = _captions.path_caption(rel)
                caption = _captions.normalise_path_caption(raw)
                source = "path"
                if not caption:
                    report.append(SkippedFile(rel, "no caption: no caption-file row, no sidecar .txt, and the "
                                                   "file/folder names contain no words", "no_caption"))
                    continue
        items.append(LibraryItem(path=path, caption=caption, duration=float(duration), source=source, rel=rel,
                                 raw_caption=raw, meta=dict(meta)))
    report.accepted = len(items)
    if not items:
        raise DataError(_empty_message(root, report))
    return LibraryScan(root=root, items=items, report=report)


_KIND_HELP = {
    "corrupt": "not decodable as audio",
    "truncated": "cut off (header promises more audio than the file holds)",
    "empty": "0 seconds / shorter than one frame",
    "too_long": "longer than max_seconds",
    "missing": "caption rows naming files that do not exist",
    "outside": "caption rows pointing outside the folder",
    "bad_row": "unreadable caption rows",
    "no_caption": "no caption could be derived",
}


def _empty_message(root: Path, report: ScanReport) -> str:
    if report.seen == 0:
        msg = (f"no audio files found in {root} (looked recursively for "
               f"{', '.join(sorted(e.lstrip('.') for e in AUDIO_EXTENSIONS))}")
        msg += f"; {report.ignored} other file(s) ignored)" if report.ignored else ")"
        return msg + ". Point the command at a folder of sound files."
    parts = [f"{n} {_KIND_HELP.get(k, k)}" for k, n in report.counts().items()]
    examples = "; ".join(f"{s.path}: {s.reason}" for s in list(report)[:3])
    return (f"no usable audio in {root}: {report.seen} audio file(s) seen, all rejected - " + ", ".join(parts)
            + f". First: {examples}")


# ---------------------------------------------------------------------------------------------
# Audio -> cached log-mel
# ---------------------------------------------------------------------------------------------
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
    return hashlib.blake2b(_captions.clean_caption(caption).encode("utf-8"), digest_size=16).hexdigest()


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


# ---------------------------------------------------------------------------------------------
# Order and splits
# ---------------------------------------------------------------------------------------------
class ResumableSampler(torch.utils.data.Sampler):
    """Infinite deterministic index stream. Epoch e is ``torch.randperm(n)`` seeded with
    ``seed + e``, padded (by wrapping) to a multiple of `world_size` and sharded
    ``perm[rank::world_size]``, so every rank sees ``ceil(n / world_size)`` indices per epoch.

    `state_dict()` holds (epoch, position) of the next index to yield; `load_state_dict` resumes
    exactly there. A DataLoader prefetches, so the sampler runs ahead of training: pass the
    number of batches training really consumed since this sampler started (or was loaded) as
    ``state_dict(consumed_batches=k)`` to save the state right after those batches.

    ``with_epoch=True`` yields ``(epoch, index)`` pairs, which `FoleyDataset` accepts, so crop
    randomness follows the sampler's epoch even inside DataLoader workers.

    ``weights`` (one non-negative number per item) turns an epoch into n draws *with
    replacement*, item i drawn with probability weights[i] / sum(weights), from the same seeded
    generator; epoch length, sharding and resume work as above. See `balance_weights`.
    """

    def __init__(self, n: int, seed: int, batch_size: int, rank: int = 0, world_size: int = 1, *,
                 shuffle: bool = True, with_epoch: bool = False, weights: Sequence[float] | None = None):
        if n <= 0:
            raise DataError("cannot sample from an empty dataset")
        if weights is not None:
            weights = torch.as_tensor(weights, dtype=torch.float64)
            if weights.shape != (n,):
                raise InputError(f"weights must have one entry per item ({n}), got shape {tuple(weights.shape)}")
            if not torch.isfinite(weights).all() or (weights < 0).any() or not weights.sum() > 0:
                raise InputError("weights must be finite, non-negative and not all zero")
            if not shuffle:
                raise InputError("weighted sampling draws at random: it cannot be combined with shuffle=False")
        self.weights = weights
        if batch_size <= 0:
            raise InputError(f"batch_size must be positive, got {batch_size}")
        if world_size <= 0 or not 0 <= rank < world_size:
            raise InputError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
        self.n, self.seed, self.batch_size = int(n), int(seed), int(batch_size)
        self.rank, self.world_size = int(rank), int(world_size)
        self.shuffle, self.with_epoch = shuffle, with_epoch
        self.epoch = 0
        self.position = 0
        self._start = (0, 0)
        self._order_cache: tuple[int, list[int]] | None = None

    @property
    def per_epoch(self) -> int:
        """Indices per epoch on this rank."""
        return -(-self.n // self.world_size)

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.per_epoch // self.batch_size)

    def epoch_order(self, epoch: int) -> list[int]:
        """This rank's indices for `epoch`."""
        if self._order_cache is not None and self._order_cache[0] == epoch:
            return self._order_cache[1]
        g = torch.Generator().manual_seed(self.seed + epoch)
        if self.weights is not None:
            perm = torch.multinomial(self.weights, self.n, replacement=True, generator=g).tolist()
        elif self.shuffle:
            perm = torch.randperm(self.n, generator=g).tolist()
        else:
            perm = list(range(self.n))
        total = self.per_epoch * self.world_size
        while len(perm) < total:
            perm += perm[: total - len(perm)]
        order = perm[self.rank::self.world_size]
        self._order_cache = (epoch, order)
        return order

    def __iter__(self) -> Iterator:
        self._start = (self.epoch, self.position)
        while True:
            order = self.epoch_order(self.epoch)
            while self.position < len(order):
                index = order[self.position]
                epoch = self.epoch
                self.position += 1
                yield (epoch, index) if self.with_epoch else index
            self.epoch += 1
            self.position = 0

    def batches(self) -> Iterator[list]:
        """Infinite stream of index lists of `batch_size` (batches may span epoch boundaries)."""
        it = iter(self)
        while True:
            yield [next(it) for _ in range(self.batch_size)]

    def _advance(self, start: tuple[int, int], count: int) -> tuple[int, int]:
        absolute = start[0] * self.per_epoch + start[1] + count
        return absolute // self.per_epoch, absolute % self.per_epoch

    def state_dict(self, consumed_batches: int | None = None) -> dict[str, int]:
        if consumed_batches is None:
            epoch, position = self.epoch, self.position
        else:
            epoch, position = self._advance(self._start, int(consumed_batches) * self.batch_size)
        return {"epoch": epoch, "position": position, "seed": self.seed, "n": self.n, "rank": self.rank,
                "world_size": self.world_size, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        for key in ("seed", "n", "world_size"):
            if key in state and int(state[key]) != getattr(self, key):
                raise DataError(f"sampler state was saved with {key}={state[key]} but this run has "
                                f"{key}={getattr(self, key)}; the data or setup changed, resuming would not "
                                f"continue the same order")
        epoch, position = int(state["epoch"]), int(state["position"])
        if epoch < 0 or not 0 <= position <= self.per_epoch:
            raise DataError(f"invalid sampler state: epoch {epoch}, position {position}")
        self.epoch, self.position = self._advance((epoch, 0), position)
        self._start = (self.epoch, self.position)

    def __len__(self) -> int:  # one epoch; the stream itself is infinite
        return self.per_epoch


def balance_weights(groups: Sequence[str | None], power: float) -> list[float]:
    """Per-item sampling weights that draw small groups more often: an item of a group with c
    members (None is a group of its own) gets weight c ** -power. 0 keeps uniform weights, 1
    draws every group equally often. Weights are normalised to mean 1."""
    if not 0.0 <= float(power) <= 1.0:
        raise InputError(f"balance power must be in [0, 1], got {power}")
    counts = Counter(groups)
    raw = [counts[g] ** -float(power) for g in groups]
    mean = sum(raw) / len(raw) if raw else 1.0
    return [w / mean for w in raw]


def _unit_hash(text: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}\0{text}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def _item_key(item) -> str:
    if isinstance(item, LibraryItem):
        return item.rel or item.path.as_posix()
    if isinstance(item, dict):
        return str(item.get("file") or item.get("rel") or item.get("path"))
    return str(item)


def split_holdout(items: Sequence, fraction: float | Iterable[str] = 0.08, seed: int = 0, *,
                  group: Callable[[Any], str | None] | None = None, min_per_group: int = 1,
                  key: Callable[[Any], str] | None = None) -> tuple[list, list]:
    """Deterministic (train, holdout) split.

    - `fraction` a float: an item is held out when blake2b(seed, relative path) maps below
      `fraction`; each file's side depends only on its own path, so adding files never moves
      existing ones. With `group` (e.g. a caption -> category function), every group with at
      least two items and fewer than `min_per_group` held-out members gets its lowest-hash
      members added, so each category is represented. `key` replaces the relative path as
      the hashed string: ``key=lambda it: it.caption`` keeps every clip of a caption on one
      side (no caption seen in both train and held-out).
    - `fraction` a list of relative paths: exactly those items are held out.
    Items may be `LibraryItem`s, dicts with a "file" key, or path strings."""
    items = list(items)
    if isinstance(fraction, (int, float)) and not isinstance(fraction, bool):
        if not 0.0 <= float(fraction) < 1.0:
            raise InputError(f"holdout fraction must be in [0, 1), got {fraction}")
        scores = [_unit_hash((key or _item_key)(item), seed) for item in items]
        held = {i for i, s in enumerate(scores) if s < fraction}
        if group is not None and fraction > 0:
            members: dict[str, list[int]] = {}
            for i, item in enumerate(items):
                g = group(item)
                if g is not None:
                    members.setdefault(g, []).append(i)
            for g, idx in members.items():
                if len(idx) < 2:
                    continue
                have = sum(1 for i in idx if i in held)
                for i in sorted(idx, key=lambda i: scores[i]):
                    if have >= min(min_per_group, len(idx) - 1):
                        break
                    if i not in held:
                        held.add(i)
                        have += 1
    else:
        wanted = {str(p).replace("\\", "/") for p in fraction}
        keys = [_item_key(item) for item in items]
        unknown = wanted - set(keys)
        if unknown:
            raise DataError(f"holdout list names {len(unknown)} file(s) not in the library, e.g. {sorted(unknown)[:3]}")
        held = {i for i, k in enumerate(keys) if k in wanted}
    train = [item for i, item in enumerate(items) if i not in held]
    holdout = [item for i, item in enumerate(items) if i in held]
    return train, holdout
