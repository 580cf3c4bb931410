"""OpenClonk (openclonk-data): the sounds inside its C4Group archives (``Sound.ocg`` and the
object, scenario and decoration groups), read with `archives.read_c4group`.

Captions come from a hand-written table of the member names (`name_key`; "Objects.ocg/
Weapons.ocg/Bow.ocg/Shoot2.ogg" -> library path "Sound/Objects/Weapons/Bow/Shoot2.ogg", key
"shoot" in folder "sound/objects/weapons/bow"), written from the names, not by listening. The
game's invented creatures (Mooq, Puka, Wipf, Chippie) are captioned only where the name is a
plain verb ("snorting", "whining"); the clonks' wordless voice lines (Confirm, Decline, Doubt...)
are left out as speech; music and game cues are listed as skipped. A damaged or unexpected
group file is skipped and listed, never a crash.

Licences: ``Sound.ocg/authors.txt`` says its sounds are CC-BY-3.0 unless listed under "CC 0";
members listed there by path or name get CC0-1.0, the rest CC-BY-3.0. Sounds outside Sound.ocg
get the package's statement (CC-BY-3.0 or CC0-1.0, not said which).
"""
from __future__ import annotations

import re
from pathlib import Path

from .archives import ArchiveError, read_c4group
from .common import GAME_CUE, MUSIC, SPEECH, Clip, CopyrightInfo, skip, table_discovery

GROUP_SUFFIXES = (".ocg", ".ocd", ".ocf", ".ocs")
OUTSIDE_SOUND_LICENCE = "CC-BY-3.0 or CC0-1.0"

_S = "sound/"
OPENCLONK_CAPTIONS = {
    # Sound.ocg/Animals
    _S + "animals/bat/chirp": "a bat chirping", _S + "animals/bat/flutter": "bat wings fluttering",
    _S + "animals/chippie/eggcrack": "an egg cracking", _S + "animals/fish/munch": "munching",
    _S + "animals/monster/die": "a monster dying", _S + "animals/monster/growl": "a monster growling",
    _S + "animals/mooq/munch": "munching", _S + "animals/mooq/snort": "snorting",
    _S + "animals/mooq/snorting": "snorting", _S + "animals/mooq/spit": "spitting",
    _S + "animals/mosquitobuzz": "a mosquito buzzing", _S + "animals/puka/gulp": "gulping",
    _S + "animals/puka/hiss": "hissing", _S + "animals/wipf/snuff": "sniffing", _S + "animals/wipf/weep": "whimpering",
    _S + "animals/wipf/whine": "whining", _S + "animals/zap/zap": "electric zap",
    # Sound.ocg/Clonk
    _S + "clonk/action/breathing": "heavy breathing", _S + "clonk/action/dig/dig": "digging in earth",
    _S + "clonk/action/munch": "munching", _S + "clonk/movement/divingloop": "diving underwater",
    _S + "clonk/movement/roll": "rolling on the ground", _S + "clonk/movement/rustle": "clothes rustling",
    _S + "clonk/movement/rustleland": "landing with a rustle",
    _S + "clonk/movement/stephard": "footsteps on a hard floor", _S + "clonk/movement/stepsoft": "soft footsteps",
    **{_S + f"clonk/skin/{skin}/{what}": caption for skin in ("adventurer", "alchemist", "farmer", "steampunk")
       for what, caption in (("die", "a person dying"), ("hurt", "a person grunting in pain"),
                             ("laughter", "a person laughing"), ("scream", "a person screaming"))},
    # Sound.ocg/Environment
    _S + "environment/birdsloop": "birds singing", _S + "environment/disasters/earthquake": "earthquake rumbling",
    _S + "environment/disasters/earthquakeend": "earthquake rumble fading",
    _S + "environment/lightning/thunder": "thunder", _S + "environment/tree/chop": "chopping a tree with an axe",
    _S + "environment/tree/crack": "tree cracking", _S + "environment/tree/landing": "tree falling to the ground",
    _S + "environment/vine/grab": "grabbing a rustling vine", _S + "environment/waterfall": "a waterfall",
    _S + "environment/windloop": "wind",
    # Sound.ocg/Fire
    _S + "fire/blast": "explosion", _S + "fire/blast3alt": "explosion", _S + "fire/blastfirework": "firework explosion",
    _S + "fire/blastliquid": "explosion in liquid", _S + "fire/blastliquid3alt": "explosion in liquid",
    _S + "fire/blastmetal": "explosion with metal debris", _S + "fire/cracker": "firecracker",
    _S + "fire/fire": "fire burning", _S + "fire/fireball": "fireball whoosh", _S + "fire/fuse": "burning fuse",
    _S + "fire/fuseloop": "burning fuse", _S + "fire/fuseshort": "burning fuse", _S + "fire/inflame": "fire igniting",
    _S + "fire/spark": "sparks crackling",
    # Sound.ocg/Hits
    _S + "hits/buckethit": "bucket hit", _S + "hits/generalhit": "hit", _S + "hits/icehit": "ice hit",
    _S + "hits/materials/glass/glassbreak": "glass breaking", _S + "hits/materials/glass/glasshit": "glass hit",
    _S + "hits/materials/glass/glassshatter": "glass shattering",
    _S + "hits/materials/metal/dullmetalhit": "dull metal hit",
    _S + "hits/materials/metal/lightmetalhit": "light metal hit", _S + "hits/materials/rock/rockhit": "rock hit",
    _S + "hits/materials/rock/rockfall": "rocks falling", _S + "hits/materials/wood/dullwoodhit": "dull wood hit",
    _S + "hits/materials/wood/woodcreak": "wood creaking", _S + "hits/materials/wood/woodhit": "wood hit",
    _S + "hits/organichit": "blow hitting flesh", _S + "hits/projectilehitliving": "projectile hitting flesh",
    _S + "hits/softhit": "soft hit", _S + "hits/softtouch": "soft touch",
    # Sound.ocg/Liquids
    _S + "liquids/boiling": "water boiling", _S + "liquids/bubble": "bubbles", _S + "liquids/pshshsh": "hissing",
    _S + "liquids/sizzle": "sizzling", _S + "liquids/smokesizzle": "sizzling smoke",
    _S + "liquids/splash": "water splash",
    _S + "liquids/stereorain": "rain", _S + "liquids/swim": "swimming", _S + "liquids/waterdrop": "a water drop",
    # Sound.ocg/Objects
    _S + "objects/arrow/hitground": "arrow hitting the ground", _S + "objects/arrow/shoot": "bow shot",
    _S + "objects/balloon/inflate": "balloon inflating", _S + "objects/balloon/pop": "balloon popping",
    _S + "objects/boompack/fly": "rocket flying", _S + "objects/boompack/launch": "rocket launch",
    _S + "objects/catapult_launch": "catapult launch", _S + "objects/electrical": "electrical buzzing",
    _S + "objects/linesnap": "rope snapping", _S + "objects/lorry/dump": "dumping a cart load",
    _S + "objects/pickaxe/clang": "pickaxe clanging on rock",
    _S + "objects/pickaxe/clanghard": "pickaxe clanging on rock",
    _S + "objects/plane/planecrash": "plane crash", _S + "objects/plane/propellerloop": "propeller plane engine",
    _S + "objects/spraycan": "spray can hissing",
    _S + "objects/weapons/blunderbuss/bullethitground": "bullet hitting the ground",
    _S + "objects/weapons/blunderbuss/bulletshot": "gunshot", _S + "objects/weapons/blunderbuss/click": "gun clicking",
    _S + "objects/weapons/blunderbuss/gunshoot": "musket shot", _S + "objects/weapons/bow/draw": "drawing a bow",
    _S + "objects/weapons/bow/getarrow": "taking an arrow", _S + "objects/weapons/bow/load": "loading a bow",
    _S + "objects/weapons/bow/putawaybow": "putting a bow away", _S + "objects/weapons/bow/shoot": "bow shot",
    _S + "objects/weapons/javelin/hitground": "javelin hitting the ground",
    _S + "objects/weapons/javelin/throw": "javelin throw",
    _S + "objects/weapons/shield/metalhit": "hit on a metal shield",
    _S + "objects/weapons/shield/weaponhitshield": "weapon hitting a shield",
    _S + "objects/weapons/shield/woodhit": "hit on a wooden shield", _S + "objects/weapons/weaponhit": "weapon hit",
    _S + "objects/weapons/weaponswing": "weapon swing", _S + "objects/windbag/gust": "gust of wind",
    # Sound.ocg/Structures
    _S + "structures/chest/close": "chest closing", _S + "structures/chest/open": "chest opening",
    _S + "structures/doorclose": "door closing", _S + "structures/dooropen": "door opening",
    _S + "structures/doorunlock": "door unlocking", _S + "structures/elevator/drilling": "drilling",
    _S + "structures/elevator/moving": "elevator moving", _S + "structures/elevator/start": "elevator starting",
    _S + "structures/elevator/stop": "elevator stopping", _S + "structures/fanloop": "fan whirring",
    _S + "structures/furnace/loop": "furnace burning", _S + "structures/hingecreak": "hinge creaking",
    _S + "structures/pumpjack": "oil pumpjack pumping", _S + "structures/sawmillripcut": "sawmill cutting wood",
    _S + "structures/steamengine": "steam engine", _S + "structures/stonegate/chain": "chain rattling",
    _S + "structures/stonegate/gatehit": "stone gate slamming",
    _S + "structures/stonegate/gatemove": "stone gate moving",
    _S + "structures/switchflip": "switch flipped", _S + "structures/switchmove": "lever moving",
    _S + "structures/wheelsturn": "wheels turning",
    _S + "ui/cash": "cash register", _S + "ui/click": "interface click",
    # other groups
    "decoration/room/switch/switchflip": "switch flipped", "defense/fightforgidl/ogreclubhit": "club hit",
    "missions/crash/sound/enginedie": "engine dying", "objects/structures/sawmill/engineloop": "engine running",
    "objects/structures/sawmill/enginestart": "engine starting",
    "objects/structures/sawmill/enginestop": "engine stopping",
    "parkour/volcanoescapeex/bigvolcano/bigvolcanobubble": "lava bubbling",
}
OPENCLONK_SKIPS = {
    **{_S + f"clonk/skin/{skin}/{what}": SPEECH + " (clonk voice line)"
       for skin in ("adventurer", "alchemist", "farmer", "steampunk")
       for what in ("confirm", "decline", "doubt", "evilconfirm", "shock", "singing")},
    _S + "ui/fanfare": MUSIC, _S + "ui/trumpet": MUSIC, "parkour/boomshire/circus": MUSIC,
    **{_S + f"ui/{cue}": GAME_CUE for cue in ("cleared", "close", "closeviewport", "confirmed", "ding", "error",
                                               "nextwave", "open", "select", "tick", "uncash")},
    _S + "clonk/action/grab": GAME_CUE, _S + "clonk/action/ungrab": GAME_CUE,
}


def _library_path(group: str, member: str) -> str:
    """"Sound.ocg" + "Animals.ocg/Bat.ocg/Chirp.wav" -> "Sound/Animals/Bat/Chirp.wav"."""
    parts = [group] + member.split("/")
    return "/".join(p[: -len(s)] if (s := next((x for x in GROUP_SUFFIXES if p.lower().endswith(x)), "")) else p
                    for p in parts[:-1]) + "/" + parts[-1]


def cc0_names(authors: str) -> list[str]:
    """The entries of authors.txt's CC0 section, e.g. ["Balloon/Pop", "SoftTouch*", "RockHit1-3"]."""
    out: list[str] = []
    inside = False
    for line in authors.splitlines():
        if re.search(r"licensed under the CC ?0", line, re.I):
            inside = True
            continue
        if inside and line.startswith("The following"):
            break
        entry = re.search(r"(?:^|\s)-\s+(.*)", line) if inside else None  # "author<tabs>- A/B, C (url)"
        if entry:
            items = entry.group(1).split("(", 1)[0]
            out += [i.strip() for i in items.split(",") if i.strip()]
    return out


def cc0_matcher(entries: list[str]):
    """rel ("Sound/Objects/Balloon/Pop.wav") -> True when an authors.txt CC0 entry names it: by
    the tail of its path ("Balloon/Pop") or, for entries without a folder, by its name; "1-3"
    ranges and "*" are read as patterns. Entries that match nothing (a typo, a renamed file)
    leave those files at the CC-BY-3.0 default: the matcher never guesses towards CC0."""
    patterns = []
    for entry in entries:
        regex = re.escape(entry).replace(r"\*", ".*")
        regex = re.sub(r"(\d+)\\-(\d+)", r"\\d+", regex)
        patterns.append(re.compile(r"(?:^|/)" + regex + r"$", re.I))

    def match(rel: str) -> bool:
        stem = rel.rsplit(".", 1)[0]
        return any(p.search(stem) for p in patterns)

    return match


def discover_openclonk(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    groups = sorted(p for p in files if p.suffix.lower() in GROUP_SUFFIXES and "/openclonk/" in p.as_posix())
    data: dict[str, bytes] = {}
    originals: dict[str, str] = {}
    skipped: list[dict] = []
    authors = ""
    music = 0
    for path in groups:
        if path.is_dir():  # Debian unpacks Music.ocg into a folder of .ogg files
            continue
        try:
            members = read_c4group(path.read_bytes(), path.name)
        except (ArchiveError, OSError) as exc:
            skipped.append(skip(str(path), f"unreadable archive: {exc}"))
            continue
        for member, blob in members:
            if path.name == "Sound.ocg" and member == "authors.txt":
                authors = blob.decode("utf-8", errors="replace")
            if member.lower().endswith((".ogg", ".wav")):
                rel = _library_path(path.name, member)
                data[rel] = blob
                originals[rel] = f"{path}::{member}"
    for path in files:
        if path.suffix.lower() == ".ogg" and "/Music.ocg/" in path.as_posix():
            music += 1
    is_cc0 = cc0_matcher(cc0_names(authors))

    def licence(rel: str) -> str:
        if not rel.startswith("Sound/"):
            return OUTSIDE_SOUND_LICENCE
        return "CC0-1.0" if is_cc0(rel[len("Sound/"):]) else "CC-BY-3.0"

    entries = [(Path(rel), rel) for rel in sorted(data)]
    clips, more = table_discovery("openclonk-data", entries, OPENCLONK_CAPTIONS, OPENCLONK_SKIPS, licence,
                                  data=data, original=originals.__getitem__)
    if music:
        more.append(skip(f"Music.ocg/* ({music} files)", MUSIC))
    return clips, skipped + more
