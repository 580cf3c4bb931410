"""A real, freely licensed foley library assembled from Debian game-data packages.

`build_debian_foley(out_dir)` finds the installed files of each package (``dpkg -L``), copies
(or extracts) the sound effects into ``out_dir/<package>/...`` keeping their format (all of
them are WAV or Ogg/Vorbis, which libsndfile reads), and writes, atomically:

- ``out_dir/<package>/captions.jsonl`` and the union ``out_dir/captions.jsonl`` (keys ``file``,
  ``caption``, ``package``, ``licence``, ``raw_name``, ``category``, plus ``caption_source``,
  ``duration``, ``sample_rate``, ``channels``, ``original``), so `scan_library(out_dir)` (or
  one package folder) uses these captions;
- ``out_dir/manifest.json``: per-package counts, durations, licences (short names read from
  ``/usr/share/doc/<pkg>/copyright``), skipped entries, category counts, a duration histogram;
- ``out_dir/holdout.json``: a fixed held-out list (~8 %, by hash of the path, every category
  with at least two clips represented).

Byte-identical files (the same sound shipped twice, e.g. Tux Paint's filled and outlined letter
stamps, Minetest's lava cooling = flame extinguishing) are kept once; the other captions go to
the kept row's ``also_captioned`` and the duplicates are listed in the manifest's ``skipped``.

Where the captions come from:

=========================  ====================================================================
openttd-opensfx            ``opensfx.cat`` (catcodec archive of WAVs); every entry carries a
                           human-written title, e.g. ``"Ferry horn". Original ... License: ...``.
                           The quoted title is the caption (a trailing ``(1)``-style index is
                           dropped); the two "Unused/Nothing" placeholders (0 s) are skipped.
tuxpaint-stamps-default    ``NAME.ogg`` next to stamp ``NAME.png/.svg`` with ``NAME.txt`` whose
                           first line is an English sentence ("A frog."). ``*_desc*.ogg``
                           (spoken descriptions) and ``NAME_<locale>.ogg`` variants are left out.
                           Spoken symbols (digits, letters) get ``a voice saying "..."``.
minetest-data              ``mods/<mod>/sounds/<mod>_<name>[.N].ogg`` (minetest_game only; the
                           devtest test tone is left out); path-derived captions.
0ad-data                   members of ``mods/public/public.zip`` under ``audio/{actor,ambient,
                           attack,resource,interface}`` and ``audio/voice/global`` (dog); music
                           and the spoken unit voices are left out; path-derived captions.
wesnoth-1.16-data          ``data/core/sounds/**`` (units, weapons, magic, ambient, horn signals),
                           ``sounds/*`` (interface, placed under ``ui/``) and campaign sounds;
                           path-derived captions.
widelands-data             ``data/sound/**`` and ``data/world/critters/**`` (animal calls, farm,
                           workshop and woodcutting sounds); captions from a hand-written table
                           of file stems (`WIDELANDS_CAPTIONS`), because the game's own names
                           ("bird3_01", "goldspin") read poorly; stems the table leaves out
                           (tavern, lobby, military and other game notices) are listed as
                           skipped. Not in the
                           default `PACKAGES`: the bundled model was built without it.
=========================  ====================================================================
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from audiogan_core.errors import DataError, InputError
from audiogan_core.io import slug

from . import captions as _captions
from .categories import category_counts, category_for

PACKAGES = ("openttd-opensfx", "tuxpaint-stamps-default", "minetest-data", "0ad-data", "wesnoth-1.16-data")
BUILDER_VERSION = 1
HOLDOUT_FRACTION = 0.08
HOLDOUT_SEED = 0
DURATION_BINS = ((0.0, 1.0, "< 1 s"), (1.0, 3.0, "1-3 s"), (3.0, 10.0, "3-10 s"), (10.0, float("inf"), "> 10 s"))

ZEROAD_PREFIXES = ("audio/actor/", "audio/ambient/", "audio/attack/", "audio/resource/", "audio/interface/",
                   "audio/voice/global/")


@dataclass
class Clip:
    """One sound effect to put into the library."""

    package: str
    rel: str  # path inside out_dir/<package>
    raw_name: str  # the name it has in the package (path, archive member, or metadata title)
    caption: str
    caption_source: str  # "metadata" or "path"
    original: str  # where the bytes come from (a path, or "archive::member")
    licence: str = ""
    source_path: Path | None = None  # copy/link from here...
    data: bytes | None = None  # ...or write these bytes
    extra: dict = field(default_factory=dict)


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


def install_command(packages: Iterable[str]) -> str:
    return "apt-get install -y " + " ".join(packages)


def ensure_installed(packages: list[str], install: bool) -> None:
    missing = [p for p in packages if not package_installed(p)]
    if not missing:
        return
    if not install:
        raise DataError(f"Debian package(s) not installed: {', '.join(missing)}. Install them with: "
                        f"sudo {install_command(missing)}  (or pass --install)")
    if shutil.which("apt-get") is None:
        raise DataError(f"apt-get not found; install {', '.join(missing)} some other way")
    result = subprocess.run(["apt-get", "install", "-y", *missing], capture_output=True, text=True,
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
# Per-package discovery
# ---------------------------------------------------------------------------------------------
def parse_cat(data: bytes) -> list[tuple[str, bytes]]:
    """Entries of an OpenTTD .cat sound archive (catcodec format): a table of (offset, size)
    uint32 pairs - the first offset / 8 is the entry count, bit 31 flags the new format -
    then at each offset a length-prefixed NUL-terminated name and a RIFF/WAVE file."""
    if len(data) < 8:
        raise DataError("OpenTTD sound archive is too short")
    first = struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF
    count = first // 8
    if count <= 0 or first > len(data):
        raise DataError("OpenTTD sound archive has an invalid header")
    entries = []
    for i in range(count):
        offset, size = struct.unpack_from("<II", data, 8 * i)
        offset &= 0x7FFFFFFF
        name_len = data[offset]
        name = data[offset + 1: offset + 1 + name_len].rstrip(b"\0").decode("utf-8", errors="replace")
        start = offset + 1 + name_len
        if data[start: start + 4] != b"RIFF":
            raise DataError(f"OpenTTD sound archive entry {i} ({name!r}) is not a RIFF/WAVE file")
        riff_size = struct.unpack_from("<I", data, start + 4)[0]
        entries.append((name, data[start: start + 8 + riff_size]))
    return entries


def _find(files: list[Path], pattern: str) -> list[Path]:
    return [f for f in files if fnmatch.fnmatch(str(f), pattern)]


def discover_openttd(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    cats = _find(files, "*/opensfx.cat")
    if not cats:
        raise DataError("openttd-opensfx: opensfx.cat not found among the package's files")
    clips, skipped = [], []
    for index, (name, wav) in enumerate(parse_cat(cats[0].read_bytes())):
        match = re.match(r'\s*"(.+?)"\.?\s*(.*)$', name)
        title = match.group(1) if match else name
        if title.lower().startswith("unused/nothing") or len(wav) <= 44:
            skipped.append({"raw_name": title, "reason": "placeholder entry without audio (0 s)"})
            continue
        caption = _captions.clean_caption(re.sub(r"\s*\(\d+\)\s*$", "", title))
        clip_lic = re.search(r"License:\s*([^.]+(?:\.\d[^.]*)?)", name)
        clips.append(Clip(
            package="openttd-opensfx", rel=f"{index:02d}_{slug(caption, 60, '_')}.wav", raw_name=title, caption=caption,
            caption_source="metadata", original=f"{cats[0]}::{index}", data=wav,
            licence=copyright.licence_for("src/wav/x.wav") or "CC-BY-SA-3.0",
            extra={"metadata": name, "clip_licence": licence_short_name(clip_lic.group(1)) if clip_lic else ""}))
    return clips, skipped


def discover_tuxpaint(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    roots = [f for f in files if str(f).endswith("/tuxpaint/stamps")]
    root = roots[0] if roots else Path("/usr/share/tuxpaint/stamps")
    sounds = sorted(f for f in files if f.suffix.lower() in (".ogg", ".wav") and str(f).startswith(str(root) + "/"))
    present = {f.as_posix() for f in files}
    locales: set[str] = set()
    for txt in (f for f in files if f.suffix == ".txt" and str(f).startswith(str(root))):
        try:
            for line in txt.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
                m = re.match(r"^([A-Za-z]{2,3}(?:_[A-Za-z]{2,4})?(?:@\w+)?)\.utf8=", line)
                if m:
                    locales.add(m.group(1).lower())
        except OSError:
            continue
    clips, skipped = [], []
    for path in sounds:
        stem = path.stem
        rel = path.relative_to(root).as_posix()
        if "_desc" in stem:
            continue  # spoken description of the stamp, in some language
        base, _, suffix = stem.rpartition("_")
        if base and suffix.lower() in locales and any(
                (path.parent / f"{base}{ext}").as_posix() in present for ext in (".ogg", ".wav", ".txt")):
            continue
        m = re.match(r"^(.*)_([a-z]{2})_([a-z]{2})$", stem, re.I)  # en_GB, zh_tw variants
        if m and f"{m.group(2)}_{m.group(3)}".lower() in locales:
            continue
        txt = path.with_suffix(".txt")
        caption, source = "", "path"
        if txt.is_file():
            lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
            caption = _captions.clean_caption(lines[0]) if lines else ""
            source = "metadata"
        if not caption:
            caption = _captions.caption_from_path(rel)
            source = "path"
        if source == "metadata" and re.match(r"^symbols/(math|alphabets)/", rel):
            caption = f'a voice saying "{caption.rstrip(".")}"'
        if not caption:
            skipped.append({"raw_name": rel, "reason": "no caption"})
            continue
        clips.append(Clip(package="tuxpaint-stamps-default", rel=rel, raw_name=rel, caption=caption,
                          caption_source=source, original=str(path), source_path=path,
                          licence=copyright.licence_for(str(path)) or "GPL-2+"))
    return clips, skipped


def discover_minetest(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    clips, skipped = [], []
    for path in sorted(files):
        if path.suffix.lower() not in (".ogg", ".wav"):
            continue
        parts = path.parts
        if "devtest" in parts:
            skipped.append({"raw_name": path.name, "reason": "devtest test tone, not a sound effect"})
            continue
        if "mods" not in parts:
            continue
        mod = parts[parts.index("mods") + 1]
        rel = f"{mod}/{path.name}"
        # Minetest names sounds "<mod>_<name>": drop the prefix when two or more words remain
        # (doors_fencegate_close -> fencegate close), keep it otherwise (tnt_ignite stays)
        name = path.name
        rest = name[len(mod) + 1:] if name.startswith(mod + "_") else name
        if rest != name and len(_captions.split_words(rest)) >= 2:
            name = rest
        raw = _captions.path_caption(f"{mod}/{name}")
        clips.append(Clip(package="minetest-data", rel=rel, raw_name=path.name,
                          caption=_captions.normalise_path_caption(raw), caption_source="path",
                          original=str(path), source_path=path, licence=copyright.licence_for(str(path)),
                          extra={"raw_caption": raw}))
    return clips, skipped


def discover_0ad(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    zips = _find(files, "*/mods/public/public.zip")
    if not zips:
        raise DataError("0ad-data: mods/public/public.zip not found among the package's files")
    clips, skipped = [], []
    with zipfile.ZipFile(zips[0]) as archive:
        groups = _zeroad_sound_groups(archive)
        for info in archive.infolist():
            name = info.filename
            if not name.lower().endswith((".ogg", ".wav")) or not name.startswith("audio/"):
                continue
            if not name.startswith(ZEROAD_PREFIXES):
                continue
            rel = name[len("audio/"):]
            caption_rel = rel
            stem_tokens = [t for t in re.split(r"[_\-.\d]+", Path(rel).stem) if t]
            if stem_tokens and all(len(t) <= 2 for t in stem_tokens):
                # cryptic names (c_11, sp_12): use the SoundGroup that plays them (crackling_fire.xml),
                # else only the folder (attack/fire/sz11 -> "fire")
                parent = Path(rel).parent
                group = groups[name][0] if len(groups.get(name, ())) == 1 else parent.name
                caption_rel = f"{parent.as_posix()}/{group}.ogg"
            elif rel.startswith("voice/global/"):
                caption_rel = Path(rel).name  # civ_dog_bark: a dog, not a voice
            raw = _captions.path_caption(caption_rel)
            clips.append(Clip(package="0ad-data", rel=rel, raw_name=name,
                              caption=_captions.normalise_path_caption(raw), caption_source="path",
                              original=f"{zips[0]}::{name}", data=None,
                              licence=copyright.licence_for(name) or copyright.licence_for("x"),
                              extra={"raw_caption": raw, "sound_groups": groups.get(name, []),
                                     "_zip": str(zips[0]), "_member": name}))
    skipped.append({"raw_name": "audio/music/*, audio/voice/<civ>/*",
                    "reason": "music tracks and spoken unit voice lines are not sound effects"})
    return clips, skipped


def _zeroad_sound_groups(archive: zipfile.ZipFile) -> dict[str, list[str]]:
    """member path -> names of the 0 A.D. SoundGroup XML files (audio/**/NAME.xml) that list it."""
    groups: dict[str, list[str]] = {}
    for info in archive.infolist():
        if not (info.filename.startswith("audio/") and info.filename.endswith(".xml")) or info.file_size > 1 << 20:
            continue
        text = archive.read(info).decode("utf-8", errors="replace")
        base = re.search(r"<Path>(.*?)</Path>", text)
        folder = base.group(1).strip().strip("/") if base else ""
        for sound in re.findall(r"<Sound>(.*?)</Sound>", text):
            member = f"{folder}/{sound.strip()}" if folder else sound.strip()
            name = Path(info.filename).stem
            if name not in groups.setdefault(member, []):
                groups[member].append(name)
    return {k: sorted(v) for k, v in groups.items()}


def discover_wesnoth(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    clips = []
    for path in sorted(files):
        if path.suffix.lower() not in (".ogg", ".wav"):
            continue
        text = path.as_posix()
        if "/music/" in text:
            continue
        if "/data/core/sounds/" in text:
            rel = text.split("/data/core/sounds/", 1)[1]
        elif "/data/campaigns/" in text:
            rel = "campaigns/" + text.split("/data/campaigns/", 1)[1].replace("/sounds/", "/")
        elif re.search(r"/wesnoth/[^/]+/sounds/", text):
            rel = "ui/" + text.rsplit("/sounds/", 1)[1]
        else:
            continue
        raw = _captions.path_caption(rel)
        clips.append(Clip(package="wesnoth-1.16-data", rel=rel, raw_name=text.split("/wesnoth/", 1)[1],
                          caption=_captions.normalise_path_caption(raw), caption_source="path",
                          original=text, source_path=path, licence=copyright.licence_for(text) or "GPL-2+",
                          extra={"raw_caption": raw}))
    return clips, []


# Widelands file stem (name without "_NN") -> caption. Written from the file and folder names,
# not by ear: an animal's verb is its usual call ("wolf" -> howling). A stem whose sound the name
# does not make clear enough is left out rather than guessed.
WIDELANDS_CAPTIONS = {
    **{f"bird{i}": "a bird singing" for i in range(1, 7)},
    "duck": "a duck quacking", "wolf": "a wolf howling", "coyote": "a coyote howling",
    "frog": "a frog croaking", "crickets1": "crickets chirping", "crickets2": "crickets chirping",
    "boar": "a wild boar grunting", "moose": "a moose calling", "stag": "a stag bellowing",
    "horse": "a horse neighing", "donkey": "a donkey braying", "sheep": "sheep bleating", "ox": "an ox lowing",
    "farm_animal": "farm animals", "scythe": "harvesting grain with a scythe",
    "benchsaw": "a bench saw cutting wood", "sawing": "sawing wood by hand", "sawmill": "a sawmill cutting logs",
    "hammering": "hammering", "geologist_hammer": "a geologist's hammer knocking on rock",
    "smith": "a blacksmith hammering on an anvil", "toolsmith": "a toolsmith hammering metal",
    "sharpening": "sharpening a blade on a grindstone", "stonecutter": "a stonecutter chiselling stone",
    "stonemason": "a stonemason chiselling stone", "stonegrind": "grinding stone",
    "fast_woodcutting": "chopping wood fast with an axe", "woodcutting": "chopping wood with an axe",
    "tree_falling": "a tree falling", "falling_tools": "tools falling on the ground",
    "mill_turning": "a mill wheel turning", "weaving": "a loom weaving cloth", "weaver": "a loom weaving cloth",
    "mortar": "grinding in a mortar", "furnace": "a roaring furnace", "fizzle": "hot metal fizzling",
    "beerbubble": "beer bubbling in a vat", "winebubble": "wine bubbling in a vat",
    "fisher_throw_net": "a fisher throwing a net", "fisher_pull_net": "a fisher pulling in a net",
    "click": "interface click",
}


def discover_widelands(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    clips, skipped = [], []
    for path in sorted(files):
        if path.suffix.lower() not in (".ogg", ".wav"):
            continue
        text = path.as_posix()
        if "/widelands/data/sound/" in text:
            rel = text.split("/widelands/data/sound/", 1)[1]
        elif "/widelands/data/world/critters/" in text:
            rel = "critters/" + text.split("/widelands/data/world/critters/", 1)[1]
        else:
            continue  # music
        stem = re.sub(r"_\d+$", "", path.stem)
        caption = WIDELANDS_CAPTIONS.get(stem)
        if caption is None:
            skipped.append({"raw_name": rel, "reason": "game-specific sound the name does not describe"})
            continue
        clips.append(Clip(package="widelands-data", rel=rel, raw_name=rel, caption=caption,
                          caption_source="table", original=text, source_path=path,
                          licence=copyright.licence_for(text) or "GPL-2+"))
    return clips, skipped


DISCOVER: dict[str, Callable[[list[Path], CopyrightInfo], tuple[list[Clip], list[dict]]]] = {
    "openttd-opensfx": discover_openttd,
    "tuxpaint-stamps-default": discover_tuxpaint,
    "minetest-data": discover_minetest,
    "0ad-data": discover_0ad,
    "wesnoth-1.16-data": discover_wesnoth,
    "widelands-data": discover_widelands,
}


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _write_clip(clip: Clip, target: Path, copy: bool, zips: dict) -> None:
    from audiogan_core.io import atomic_write_bytes

    target.parent.mkdir(parents=True, exist_ok=True)
    if clip.data is None and "_zip" in clip.extra:
        archive = zips.get(clip.extra["_zip"])
        if archive is None:
            archive = zips[clip.extra["_zip"]] = zipfile.ZipFile(clip.extra["_zip"])
        data = archive.read(clip.extra["_member"])
    else:
        data = clip.data
    if data is not None:
        if not _same_bytes(target, data):
            if target.is_symlink():
                target.unlink()
            atomic_write_bytes(target, data)
        return
    source = clip.source_path
    if not copy:
        if target.is_symlink() and os.readlink(target) == str(source):
            return
        if target.exists() or target.is_symlink():
            target.unlink()
        os.symlink(source, target)
        return
    if target.is_file() and not target.is_symlink() and target.stat().st_size == source.stat().st_size \
            and _file_digest(target) == _file_digest(source):
        return
    if target.is_symlink():
        target.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_digest(path: Path) -> str:
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n" for row in rows)


def duration_histogram(durations: Iterable[float]) -> dict[str, int]:
    out = {label: 0 for _, _, label in DURATION_BINS}
    for d in durations:
        for low, high, label in DURATION_BINS:
            if low <= d < high:
                out[label] += 1
                break
    return out


def build_debian_foley(out_dir: str | Path, packages: Iterable[str] | None = None, install: bool = False,
                       copy: bool = True, progress: bool = False) -> dict:
    """Build (or update) the library in `out_dir` from the given Debian packages (default: all
    of `PACKAGES`). Missing packages: with ``install=True`` run apt-get, else raise DataError
    naming the ``apt-get install`` command. ``copy=False`` symlinks installed files instead of
    copying them (archive members are always extracted). Returns the manifest dict."""
    import soundfile as sf
    from tqdm import tqdm

    from audiogan_core.io import atomic_write_text

    packages = list(PACKAGES if packages is None else packages)
    unknown = [p for p in packages if p not in DISCOVER]
    if unknown:
        raise InputError(f"unknown package(s) {unknown}; known: {', '.join(DISCOVER)}")
    if not packages:
        raise InputError("no packages given")
    ensure_installed(packages, install)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    zips: dict = {}
    per_package: dict[str, dict] = {}
    contents: dict[str, tuple[str, dict]] = {}  # blake2b of the audio -> first (package, row)
    try:
        for package in packages:
            copyright = read_copyright(package)
            clips, skipped = DISCOVER[package](package_files(package), copyright)
            pkg_dir = out / package
            pkg_dir.mkdir(exist_ok=True)
            rows = []
            seen: set[str] = set()
            for clip in tqdm(clips, desc=package, unit="clip", disable=not progress):
                if clip.rel in seen:
                    skipped.append({"raw_name": clip.raw_name, "reason": f"duplicate output name {clip.rel}"})
                    continue
                seen.add(clip.rel)
                target = pkg_dir / clip.rel
                _write_clip(clip, target, copy, zips)
                try:
                    info = sf.info(str(target))
                    frames, rate, channels = info.frames, info.samplerate, info.channels
                except Exception as exc:  # keep the build going; report it
                    skipped.append({"raw_name": clip.raw_name, "reason": f"libsndfile cannot read it: {exc}"})
                    target.unlink()
                    continue
                if frames <= 0:
                    skipped.append({"raw_name": clip.raw_name, "reason": "0 s of audio"})
                    target.unlink()
                    continue
                digest = _file_digest(target)
                if digest in contents:  # byte-identical audio: keep the first, note the other caption
                    first_package, first_row = contents[digest]
                    skipped.append({"raw_name": clip.raw_name,
                                    "reason": f"identical audio to {first_package}/{first_row['file']}"})
                    if clip.caption != first_row["caption"]:
                        first_row.setdefault("also_captioned", []).append(clip.caption)
                    target.unlink()
                    continue
                row = {"file": clip.rel, "caption": clip.caption, "package": package, "licence": clip.licence,
                       "raw_name": clip.raw_name, "category": category_for(clip.caption),
                       "caption_source": clip.caption_source, "duration": round(frames / rate, 4),
                       "sample_rate": rate, "channels": channels, "original": clip.original}
                row.update({k: v for k, v in clip.extra.items() if not k.startswith("_")})
                rows.append(row)
                contents[digest] = (package, row)
            # remove audio files a previous build left that are no longer part of the package set
            keep = {r["file"] for r in rows}
            for path in pkg_dir.rglob("*"):
                if (path.is_file() or path.is_symlink()) and path.suffix.lower() in (".ogg", ".wav") \
                        and path.relative_to(pkg_dir).as_posix() not in keep:
                    path.unlink()
            atomic_write_text(pkg_dir / "captions.jsonl", _jsonl(rows))
            per_package[package] = {"version": package_version(package), "skipped": skipped}
    finally:
        for archive in zips.values():
            archive.close()
    return write_library_index(out, extra=per_package)


def write_library_index(out: Path, extra: dict | None = None) -> dict:
    """(Re)write ``captions.jsonl``, ``manifest.json`` and ``holdout.json`` at the library root
    from every ``<package>/captions.jsonl`` present (so partial builds accumulate)."""
    from audiogan_core.io import atomic_write_text

    from .sampling import split_holdout

    out = Path(out)
    old_manifest = {}
    if (out / "manifest.json").is_file():
        try:
            old_manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8")).get("packages", {})
        except (ValueError, OSError):
            old_manifest = {}
    rows_all: list[dict] = []
    packages: dict[str, dict] = {}
    for pkg_dir in sorted(p for p in out.iterdir() if p.is_dir() and (p / "captions.jsonl").is_file()):
        package = pkg_dir.name
        rows = [json.loads(line) for line in (pkg_dir / "captions.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]
        info = dict(old_manifest.get(package, {}))
        info.update((extra or {}).get(package, {}))
        durations = [r["duration"] for r in rows]
        licences = sorted({r["licence"] for r in rows if r.get("licence")})
        packages[package] = {
            "version": info.get("version", ""),
            "clips": len(rows),
            "duration_s": round(sum(durations), 2),
            "duration_histogram": duration_histogram(durations),
            "licences": licences,
            "copyright_file": f"/usr/share/doc/{package}/copyright",
            "caption_sources": _count(r["caption_source"] for r in rows),
            "categories": category_counts(r["caption"] for r in rows),
            "skipped": info.get("skipped", []),
        }
        for r in rows:
            rows_all.append({**r, "file": f"{package}/{r['file']}"})
    durations = [r["duration"] for r in rows_all]
    cats = category_counts(r["caption"] for r in rows_all)
    manifest = {
        "name": "debian-foley",
        "builder_version": BUILDER_VERSION,
        "clips": len(rows_all),
        "duration_s": round(sum(durations), 2),
        "duration_histogram": duration_histogram(durations),
        "categories": cats,
        "categories_with_10_or_more": sum(1 for c, n in cats.items() if c != "uncategorised" and n >= 10),
        "packages": packages,
    }
    captions = {r["file"]: r["caption"] for r in rows_all}
    # hashed by path (stable when files are added). Hashing by caption instead (key=) keeps all
    # variants of a caption on one side but makes the split lumpy: "chopping a tree with an axe"
    # alone has 26 variants, most of its category.
    train, held = split_holdout([r["file"] for r in rows_all], HOLDOUT_FRACTION, HOLDOUT_SEED,
                                group=_category_of_file(captions))
    shared = {captions[f] for f in held} & {captions[f] for f in train}
    manifest["holdout"] = {"file": "holdout.json", "clips": len(held), "fraction": HOLDOUT_FRACTION,
                           "seed": HOLDOUT_SEED,
                           "categories": category_counts(r["caption"] for r in rows_all if r["file"] in set(held))}
    atomic_write_text(out / "captions.jsonl", _jsonl(rows_all))
    atomic_write_text(out / "holdout.json", json.dumps(
        {"fraction": HOLDOUT_FRACTION, "seed": HOLDOUT_SEED,
         "rule": "blake2b(seed, path) < fraction, plus the lowest-hash clip of any category left without one",
         "captions_also_in_train": len(shared), "captions": len({captions[f] for f in held}),
         "files": sorted(held)}, indent=1) + "\n")
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def _category_of_file(captions: dict[str, str]) -> Callable[[str], str | None]:
    def group(file: str) -> str | None:
        return category_for(captions[file])

    return group


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
