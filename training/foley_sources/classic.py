"""The sources of the first library (builder version 1): OpenTTD OpenSFX, Tux Paint stamps,
Minetest, 0 A.D., Battle for Wesnoth, and Widelands.

Their rules must keep producing the same clips, paths and captions: the bundled model was
trained and evaluated on them, and the held-out list is hashed by path.

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
"""
from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from audiogan_core.errors import DataError
from audiogan_core.io import slug

from .. import captions as _captions
from .archives import ArchiveError, parse_cat, safe_member_name
from .common import Clip, CopyrightInfo, find, licence_short_name, skip

ZEROAD_PREFIXES = ("audio/actor/", "audio/ambient/", "audio/attack/", "audio/resource/", "audio/interface/",
                   "audio/voice/global/")


def discover_openttd(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    cats = find(files, "*/opensfx.cat")
    if not cats:
        raise DataError("openttd-opensfx: opensfx.cat not found among the package's files")
    clips, skipped = [], []
    try:
        entries = parse_cat(cats[0].read_bytes())
    except (ArchiveError, OSError) as exc:
        return [], [skip(str(cats[0]), f"unreadable archive: {exc}")]
    for index, (name, wav) in enumerate(entries):
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
    zips = find(files, "*/mods/public/public.zip")
    if not zips:
        raise DataError("0ad-data: mods/public/public.zip not found among the package's files")
    clips, skipped = [], []
    try:
        archive = zipfile.ZipFile(zips[0])
    except (zipfile.BadZipFile, OSError) as exc:
        return [], [skip(str(zips[0]), f"unreadable archive: {exc}")]
    with archive:
        try:
            groups = _zeroad_sound_groups(archive)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:  # a damaged member
            skipped.append(skip(f"{zips[0]}::audio/**/*.xml", f"sound groups unreadable ({exc}); captions "
                                                              f"from folder names only"))
            groups = {}
        for info in archive.infolist():
            name = info.filename
            if not name.lower().endswith((".ogg", ".wav")) or not name.startswith("audio/"):
                continue
            if not name.startswith(ZEROAD_PREFIXES):
                continue
            try:
                safe_member_name(name, str(zips[0]))
            except ArchiveError as exc:
                skipped.append(skip(name, str(exc)))
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


