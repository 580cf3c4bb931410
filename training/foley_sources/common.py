"""What every Debian foley source shares: the `Clip` record, dpkg/apt helpers, licences read
from ``/usr/share/doc/<pkg>/copyright``, and small helpers for path- and table-captioned sources."""
from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from audiogan_core.errors import DataError


AUDIO_EXTENSIONS = (".ogg", ".wav")


@dataclass
class Clip:
    """One sound effect to put into the library."""

    package: str
    rel: str  # path inside out_dir/<package>
    raw_name: str  # the name it has in the package (path, archive member, or metadata title)
    caption: str
    caption_source: str  # "metadata", "path" or "table"
    original: str  # where the bytes come from (a path, or "archive::member")
    licence: str = ""
    source_path: Path | None = None  # copy/link from here...
    data: bytes | None = field(default=None, repr=False)  # ...or write these bytes
    extra: dict = field(default_factory=dict)


Discovery = Callable[[list[Path], "CopyrightInfo"], tuple[list[Clip], list[dict]]]


# ---------------------------------------------------------------------------------------------
# dpkg helpers
# ---------------------------------------------------------------------------------------------
def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def package_installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    result = _run(["dpkg-query", "-W", "-f", "${Status}", package])
    return result.returncode == 0 and result.stdout.strip().endswith("installed") and "not-installed" not in result.stdout


def package_version(package: str) -> str:
    result = _run(["dpkg-query", "-W", "-f", "${Version}", package])
    return result.stdout.strip() if result.returncode == 0 else ""


def package_files(package: str) -> list[Path]:
    result = _run(["dpkg", "-L", package])
    if result.returncode != 0:
        raise DataError(f"dpkg -L {package} failed: {result.stderr.strip()}")
    return [Path(line) for line in result.stdout.splitlines() if line.startswith("/")]


# Only the data is needed: recommended packages (the games themselves) are not installed.
APT_INSTALL = ("apt-get", "install", "-y", "--no-install-recommends")


def install_command(packages: Iterable[str]) -> str:
    return " ".join(APT_INSTALL[:3]) + " " + " ".join(packages)


def ensure_installed(packages: list[str], install: bool) -> None:
    missing = [p for p in packages if not package_installed(p)]
    if not missing:
        return
    if not install:
        raise DataError(f"Debian package(s) not installed: {', '.join(missing)}. Install them with: "
                        f"sudo {install_command(missing)}  (or pass --install)")
    if shutil.which("apt-get") is None:
        raise DataError(f"apt-get not found; install {', '.join(missing)} some other way")
    result = subprocess.run([*APT_INSTALL, *missing], capture_output=True, text=True,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    still = [p for p in missing if not package_installed(p)]
    if result.returncode != 0 or still:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise DataError(f"'{install_command(missing)}' failed (exit {result.returncode}): {' | '.join(tail)}")


# ---------------------------------------------------------------------------------------------
# Licences
# ---------------------------------------------------------------------------------------------
_LICENCE_PATTERNS = [
    (re.compile(r"creative commons zero|\bcc0\b|cc-?0", re.I), "CC0-1.0"),
    (re.compile(r"attribution[- ]share ?alike 4\.0|cc[- ]by[- ]sa[- ]4\.0", re.I), "CC-BY-SA-4.0"),
    (re.compile(r"attribution[- ]share ?alike 3\.0|cc[- ]by[- ]sa[- ]3\.0", re.I), "CC-BY-SA-3.0"),
    (re.compile(r"attribution 4\.0|cc[- ]by[- ]4\.0", re.I), "CC-BY-4.0"),
    (re.compile(r"attribution 3\.0|cc[- ]by[- ]3\.0", re.I), "CC-BY-3.0"),
    (re.compile(r"GNU General Public License,? version 2,? or (at your option )?any later|"
                r"General Public License version 2\s+or at your option any later", re.I), "GPL-2+"),
    (re.compile(r"public domain", re.I), "public-domain"),
]


def licence_short_name(text: str) -> str:
    """Short (SPDX-like) name for a licence statement; "" if unknown."""
    for pattern, name in _LICENCE_PATTERNS:
        if pattern.search(text):
            return name
    return ""


@dataclass
class CopyrightInfo:
    stanzas: list[tuple[list[str], str]]  # (Files patterns, License short name) in file order
    fallback: str  # for non-machine-readable copyright files

    def licence_for(self, path: str) -> str:
        """DEP-5: the last stanza whose Files pattern matches wins. Patterns are matched against
        the installed path, also with their leading folder dropped (upstream tarball layouts
        differ from the installed layout, e.g. ``mtg/mods/doors/sounds/*``)."""
        found = ""
        for patterns, licence in self.stanzas:
            for pattern in patterns:
                candidates = {pattern}
                tail = pattern.split("/", 1)[1] if "/" in pattern else ""
                if "/" in tail and not tail.startswith("*"):  # "mtg/mods/doors/sounds/*" -> "mods/doors/sounds/*"
                    candidates.add(tail)
                if any(fnmatch.fnmatch(path, c) or fnmatch.fnmatch(path, "*/" + c) for c in candidates):
                    found = licence
        return found or self.fallback


def read_copyright(package: str, doc_root: Path = Path("/usr/share/doc")) -> CopyrightInfo:
    path = doc_root / package / "copyright"
    if not path.is_file():
        return CopyrightInfo([], "")
    text = path.read_text(encoding="utf-8", errors="replace")
    stanzas: list[tuple[list[str], str]] = []
    if text.startswith("Format:") or "\nFiles:" in text:
        for block in re.split(r"\n\s*\n", text):
            files = re.search(r"^Files:\s*(.*(?:\n[ \t]+\S.*)*)", block, re.M)
            licence = re.search(r"^License:\s*(.+)$", block, re.M)
            if files and licence:
                patterns = files.group(1).split()
                stanzas.append((patterns, licence.group(1).strip()))
        return CopyrightInfo(stanzas, "")
    return CopyrightInfo([], licence_short_name(text))


# ---------------------------------------------------------------------------------------------
# Helpers for the discovery functions
# ---------------------------------------------------------------------------------------------
def find(files: list[Path], pattern: str) -> list[Path]:
    return [f for f in files if fnmatch.fnmatch(str(f), pattern)]


def audio_under(files: Iterable[Path], marker: str, extensions: tuple[str, ...] = AUDIO_EXTENSIONS
                ) -> list[tuple[Path, str]]:
    """(path, the part after `marker`) for the audio files whose path contains `marker`
    (e.g. ``"/btanks/data/"``), sorted."""
    out = []
    for path in sorted(files):
        text = path.as_posix()
        if path.suffix.lower() in extensions and marker in text:
            out.append((path, text.split(marker, 1)[1]))
    return out


def name_key(name: str) -> str:
    """The lookup key of a hand-written caption table: the file name without its extension
    and without trailing take numbers (each with an optional separator before it and an
    optional letter after it), lower-cased (``"FootStepGrass2.ogg"`` -> ``"footstepgrass"``,
    ``"swordman_attack12.wav"`` -> ``"swordman_attack"``, ``"behemoth_attack1b.wav"`` ->
    ``"behemoth_attack"``, ``"f16_2.wav"`` -> ``"f"``)."""
    stem = Path(name).stem.lower()
    stem = re.sub(r"(?:[_\-. ]?\d+[a-z]?)+$", "", stem)
    return stem.rstrip("_-. ") or stem


def table_clip(package: str, path: Path | None, rel: str, caption: str, licence: str, raw_name: str | None = None,
               **kwargs) -> Clip:
    """A clip captioned from a hand-written table of its name."""
    return Clip(package=package, rel=rel, raw_name=raw_name or rel, caption=caption, caption_source="table",
                original=path.as_posix() if path is not None else kwargs.pop("original"), source_path=path,
                licence=licence, **kwargs)


def skip(raw_name: str, reason: str) -> dict:
    return {"raw_name": raw_name, "reason": reason}


def as_wav(clip: Clip) -> Clip:
    """`clip` re-encoded as 16-bit WAV (the library path gets ".wav"): for MP3 files whose last
    frames do not decode, which the library scan would reject as truncated. What decodes is kept;
    the caption, licence and original path stay."""
    import io

    import soundfile as sf

    audio, rate = sf.read(str(clip.source_path), dtype="float32", always_2d=True)
    buf = io.BytesIO()
    sf.write(buf, audio, rate, format="WAV", subtype="PCM_16")
    rel = clip.rel.rsplit(".", 1)[0] + ".wav"
    return Clip(package=clip.package, rel=rel, raw_name=clip.raw_name, caption=clip.caption,
                caption_source=clip.caption_source, original=clip.original, licence=clip.licence,
                data=buf.getvalue(), extra={**clip.extra, "converted_from": "mp3"})


# Reasons for leaving a file out, shared by the table-captioned sources.
MUSIC = "music, not a sound effect"
SPEECH = "spoken words, not a sound effect"
UNCLEAR = "game-specific name that does not say what it sounds like"
GAME_CUE = "game cue (pickup, menu or status jingle) the name does not describe"


def table_discovery(package: str, entries: Iterable[tuple[Path, str]], captions: dict[str, str],
                    skips: dict[str, str], licence: Callable[[str], str], folder_skips: dict[str, str] | None = None,
                    data: dict[str, bytes] | None = None, original: Callable[[str], str] | None = None
                    ) -> tuple[list[Clip], list[dict]]:
    """Clips for `entries` ((path, rel) pairs; rel is the path in the library) captioned from a
    hand-written table. The key of a file is `name_key` of its name, looked up first as
    ``"<folder of rel>/<key>"`` (lower case) then as ``"<key>"``, in `captions` (-> caption) and `skips`
    (-> reason). Files under a `folder_skips` prefix are listed once per prefix (music folders);
    files in neither table are listed as `UNCLEAR`, never guessed. `data` (rel -> bytes) gives the
    bytes of archive members; `original` names their source."""
    clips: list[Clip] = []
    skipped: list[dict] = []
    folded: dict[str, int] = {}
    for path, rel in entries:
        prefix = next((p for p in (folder_skips or {}) if rel.startswith(p)), None)
        if prefix is not None:
            folded[prefix] = folded.get(prefix, 0) + 1
            continue
        folder = rel.rsplit("/", 1)[0].lower() if "/" in rel else ""
        key = name_key(rel)
        caption, reason = None, UNCLEAR
        for k in ([f"{folder}/{key}"] if folder else []) + [key]:
            if k in captions:
                caption = captions[k]
                break
            if k in skips:
                reason = skips[k]
                break
        if caption is None:
            skipped.append(skip(rel, reason))
            continue
        if data is not None:
            clips.append(table_clip(package, None, rel, caption, licence(rel), data=data[rel],
                                    original=original(rel) if original else rel))
        else:
            clips.append(table_clip(package, path, rel, caption, licence(path.as_posix())))
    for prefix, count in folded.items():
        skipped.append(skip(f"{prefix}* ({count} files)", (folder_skips or {})[prefix]))
    return clips, skipped
