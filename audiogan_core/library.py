"""Audio libraries on disk: which files are audio and what their captions are. The one reader
for training (audiogan_training.library_scan), evaluation (`audiogan eval`) and the scripts.

Captions, in order of precedence:

1. a row of ``captions.csv``, then of ``captions.jsonl``, at the library root (columns/keys
   ``file`` = the path relative to the root, ``caption``; other columns are kept as `extra`);
   the first row naming a file wins;
2. a sidecar text file next to the audio file (``rain_11.txt`` or ``rain_11.ogg.txt``);
3. for training only, the file and folder names turned into words
   (audiogan_training.captions); evaluation leaves such clips uncaptioned.

Caption text is only whitespace-cleaned (`clean_caption`): nothing is reworded. Text files that
are not valid UTF-8 are decoded as Windows-1252 (Latin-1 for the five bytes cp1252 leaves
undefined), which is what such files almost always are, and a note says so.

Problems (a row that is not JSON, names no file, points outside the root or at a missing
file, an empty caption, a duplicate) are returned as `CaptionProblem`s for the caller to
report, or, with ``strict=True`` (a captions file named on the command line), raised as
InputError at the first one.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .errors import DataError, InputError

AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                              ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64"})
CAPTION_FILES = ("captions.csv", "captions.jsonl")  # in order of precedence
CAPTION_FORMATS = (".csv", ".jsonl")
SKIPPED_KINDS = ("bad_row", "outside", "missing")  # a problem of these kinds drops the row

_SPACE = re.compile(r"\s+")


def is_audio(path: str | Path) -> bool:
    """True for a file name with an audio extension (any case) that is not hidden."""
    name = Path(path).name
    return not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS


def clean_caption(text: str) -> str:
    """Whitespace-clean a human-written caption: NFC, control characters removed, runs of
    whitespace (newlines included) collapsed to one space, stripped. Nothing is reworded."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return _SPACE.sub(" ", text).strip()


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


@dataclass(frozen=True)
class CaptionRow:
    """One caption-file row: `file` is the POSIX path as written, normalised ("a/../b" -> "b");
    `source` the caption file's name; `where` its "name:line"."""

    file: str
    caption: str
    source: str
    where: str
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class CaptionProblem:
    """Something wrong with a caption file or row. Kinds in SKIPPED_KINDS drop the row; the
    others (encoding, duplicate, empty_caption) are notes."""

    where: str
    message: str
    kind: str

    @property
    def skipped(self) -> bool:
        return self.kind in SKIPPED_KINDS


def _raw_rows(path: Path, label: str, text: str, strict: bool) -> tuple[list[tuple[str, dict]], list[CaptionProblem]]:
    """(where, row dict) per row of a .csv (header with file, caption) or .jsonl file."""
    rows, problems = [], []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        fields = [(f or "").strip().lower() for f in (reader.fieldnames or [])]
        if "file" not in fields or "caption" not in fields:
            error = InputError if strict else DataError
            raise error(f"{path}: the CSV needs a header row with 'file' and 'caption' columns, "
                        f"got {reader.fieldnames}")
        for lineno, row in enumerate(reader, start=2):
            rows.append((f"{label}:{lineno}", {(k or "").strip().lower(): (v or "") for k, v in row.items()}))
        return rows, problems
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(CaptionProblem(f"{label}:{lineno}", f"not valid JSON: {exc.msg}", "bad_row"))
            continue
        if not isinstance(row, dict):
            problems.append(CaptionProblem(f"{label}:{lineno}", "a line must be a JSON object", "bad_row"))
            continue
        rows.append((f"{label}:{lineno}", row))
    return rows, problems


def read_caption_file(path: str | Path, *, strict: bool = False, label: str | None = None
                      ) -> tuple[list[CaptionRow], list[CaptionProblem]]:
    """Rows of one captions.csv / captions.jsonl (any name with those endings), in file order,
    and the problems found. strict=True raises InputError at the first problem (encoding
    notes excepted); `label` names the file in messages (default: the path)."""
    path = Path(path)
    label = label or str(path)
    if not path.is_file():
        raise InputError(f"captions file not found: {path}")
    if path.suffix.lower() not in CAPTION_FORMATS:
        raise InputError(f"captions file must be .jsonl or .csv, got {path.name}")
    text, note = decode_text(path.read_bytes())
    problems = [CaptionProblem(label, note, "encoding")] if note else []
    raw, bad = _raw_rows(path, label, text, strict)
    problems += bad
    rows = []
    for where, row in raw:
        file = str(row.get("file") or "").strip().replace("\\", "/")
        caption = clean_caption(str(row.get("caption") or ""))
        if not file:
            problems.append(CaptionProblem(where, "row has no 'file'", "bad_row"))
        elif not caption:
            problems.append(CaptionProblem(where, f"empty caption for '{file}'", "empty_caption"))
        else:
            extra = {k: v for k, v in row.items() if k not in ("file", "caption")}
            rows.append(CaptionRow(os.path.normpath(file).replace("\\", "/"), caption, path.name, where, extra))
    if strict:
        first = next((p for p in sorted(problems, key=_line) if p.kind != "encoding"), None)
        if first is not None:
            raise InputError(f"{first.where}: {first.message}")
    return rows, problems


def _line(problem: CaptionProblem) -> int:
    tail = problem.where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def caption_table(root: str | Path) -> tuple[dict[str, CaptionRow], list[CaptionProblem]]:
    """rel path -> CaptionRow from the root's caption files, in precedence order (the first row
    naming a file wins), and the problems: rows pointing outside the root or at missing files,
    duplicates, empty captions, bad rows, non-UTF-8 files."""
    root = Path(root)
    table: dict[str, CaptionRow] = {}
    problems: list[CaptionProblem] = []
    for name in CAPTION_FILES:
        if not (root / name).is_file():
            continue
        rows, found = read_caption_file(root / name, label=name)
        problems += found
        for row in rows:
            rel = row.file
            if rel.startswith("../") or rel == ".." or os.path.isabs(rel):
                problems.append(CaptionProblem(row.where, f"'{rel}' points outside the library folder", "outside"))
            elif not (root / rel).is_file():
                problems.append(CaptionProblem(row.where, f"names a missing file '{rel}'", "missing"))
            elif rel in table:
                problems.append(CaptionProblem(row.where, f"'{rel}' already captioned in {table[rel].source}; "
                                                          f"row ignored", "duplicate"))
            else:
                table[rel] = row
    return table, problems


def sidecar_caption(path: str | Path, rel: str | None = None) -> tuple[str | None, list[CaptionProblem]]:
    """The caption of NAME.txt or NAME.ext.txt beside an audio file (None if there is none or it
    is empty), and an encoding note naming it by `rel`'s folder if it was not UTF-8."""
    path = Path(path)
    problems = []
    for candidate in (path.with_suffix(".txt"), path.with_name(path.name + ".txt")):
        if candidate.is_file():
            text, note = decode_text(candidate.read_bytes())
            if note:
                shown = str(Path(rel).with_name(candidate.name)) if rel else str(candidate)
                problems.append(CaptionProblem(shown, note, "encoding"))
            caption = clean_caption(text)
            if caption:
                return caption, problems
    return None, problems


def find_audio(root: str | Path, exclude: Sequence[str | Path] = ()) -> tuple[list[Path], int]:
    """Every audio file under `root` (recursively, sorted, hidden files and folders and symlinked
    folders skipped, folders in `exclude` not walked), and how many other files were ignored
    (caption files and .txt sidecars not counted)."""
    root = Path(root)
    found, ignored = [], 0
    excluded = [Path(p).resolve() for p in exclude]
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in excluded)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if is_audio(name):
                found.append(here / name)
            elif name not in CAPTION_FILES and Path(name).suffix.lower() != ".txt":
                ignored += 1
    return found, ignored
