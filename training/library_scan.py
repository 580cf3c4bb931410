"""A foley library on disk -> usable files with captions, and a report of everything skipped.

`scan_library(folder, ...)` walks the folder recursively, keeps every file `soundfile` can open
(wav, flac, ogg/vorbis/opus, mp3, aiff, ...; audiogan_core.library.AUDIO_EXTENSIONS) and gives
each a caption, in audiogan_core.library's order of precedence (caption files, then a sidecar
.txt), falling back to the file and folder names turned into words (`captions.path_caption`,
then `captions.normalise_path_caption`). Human-written captions are only whitespace-cleaned.

Files that cannot be used are skipped and listed in ``scan.report`` (a `ScanReport`, a list of
`SkippedFile`), never silently: unreadable/corrupt files, truncated WAVs (the data chunk
declares more bytes than the file holds), 0-second files, files longer than `max_seconds`
(found with `soundfile.info`, without decoding), caption rows naming missing files. If nothing
usable is left, `DataError` says how many files were seen and why each kind was rejected -
before any training starts.

The rest of the pipeline: `mel_dataset` (log-mel crops and their cache) and `sampling`
(sample order, balancing, held-out split).
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from audiogan_core.config import MelConfig
from audiogan_core.errors import DataError, InputError
from audiogan_core.library import (AUDIO_EXTENSIONS, CaptionProblem, caption_table, decode_text,  # noqa: F401
                                   find_audio, sidecar_caption)

from . import captions as _captions


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
# Captions (audiogan_core.library) -> report entries
# ---------------------------------------------------------------------------------------------
def _report_problems(problems: list[CaptionProblem], report: "ScanReport") -> None:
    for problem in problems:
        if problem.skipped:
            report.append(SkippedFile(problem.where, problem.message, problem.kind))
        else:
            report.notes.append(ScanNote(problem.where, problem.message, problem.kind))


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
    table, problems = caption_table(root)
    _report_problems(problems, report)
    files, report.ignored = find_audio(root, exclude)
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
            caption, source, meta = table[rel].caption, table[rel].source, table[rel].extra
            raw = str(meta.get("raw_caption") or caption)
        else:
            caption, problems = sidecar_caption(path, rel)
            _report_problems(problems, report)
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


