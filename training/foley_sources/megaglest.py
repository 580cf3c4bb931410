"""MegaGlest (megaglest-data): unit sounds of the megapack factions, the shared unit sounds in
``techs/megapack/commondata``, the tilesets' ambiences and animal calls, and the water and menu
sounds of ``data/core``.

Captions come from a hand-written table of the file names (`name_key`: "swordman_die3.wav" ->
"swordman_die"), written from the names, not by listening. Unit names tell who makes the sound
and the suffix what happens: ``_die`` is a death cry ("swordman_die" -> "a man dying",
"archer_die" -> "a person dying" as the name says no more, "daemon_die" -> "a demon dying"), an
animal's ``_ack``/``_select`` is its usual call. A human unit's ``_ack``/``_select`` is a
spoken reply to an order, so it is left out as speech; attacks whose name does not say whether
they are a shout or a weapon, game cues and the faction music are left out and listed. Files
are captioned by their own name even where a unit borrows another's sound (the Norse battle-axe
uses the "daemon" files). Licence: CC-BY-SA-3.0 (the package's copyright file).
"""
from __future__ import annotations

from pathlib import Path

from .common import GAME_CUE, MUSIC, SPEECH, UNCLEAR, Clip, CopyrightInfo, audio_under, table_discovery

HUMANS = ("archer", "archmage", "axe_thrower", "battlemage", "cudgel", "dr", "guard", "horseman", "initiate",
          "shaman", "spearman", "stickfighter", "summoner", "swordman", "technician", "worker", "warrior",
          "princess", "valkyrie", "genie", "mummy", "carpet", "ghost_armor", "golem")
WOMEN = ("princess", "valkyrie")

MEGAGLEST_CAPTIONS = {
    # death cries
    # "a man" where the unit's name says so, "a person" where it does not
    **{f"{unit}_die": "a man dying" for unit in ("horseman", "spearman", "swordman")},
    **{f"{unit}_die": "a person dying" for unit in ("archer", "archmage", "axe_thrower", "battlemage", "guard",
                                                     "initiate", "shaman", "stickfighter", "summoner", "technician",
                                                     "worker", "warrior")},
    **{f"{unit}_die": "a woman dying" for unit in WOMEN},
    "die": "a person dying",  # the Persian magician's files are named ack/die/hit/select
    "bull_die": "a bull dying", "chicken_die": "a chicken dying", "cow_die": "a cow dying", "pig_die": "a pig dying",
    "sheep_die": "a sheep dying", "eagle_die": "an eagle dying", "daemon_die": "a demon dying",
    "behemoth_die": "a behemoth monster dying", "mummy_die": "a mummy dying", "dragon_die": "a dragon dying",
    "evil_dragon_die": "a dragon dying",
    # animal and monster calls
    "bull_ack": "a bull bellowing", "bull_select": "a bull bellowing", "bull_attack": "a bull charging",
    "chicken_ack": "a chicken clucking", "chicken_select": "a chicken clucking",
    "chicken_standing": "a chicken clucking", "cow_ack": "a cow mooing", "cow_select": "a cow mooing",
    "pig_ack": "a pig grunting", "pig_select": "a pig grunting", "pig_attack": "a pig attacking",
    "sheep": "a sheep bleating", "eagle_ack": "an eagle screeching", "eagle_select": "an eagle screeching",
    "eagle_attack": "an eagle attacking", "eagle_fly": "an eagle flapping its wings", "bee": "bees buzzing",
    "ele": "an elephant trumpeting", "eleattack": "an elephant attacking", "elewalk": "an elephant walking",
    "snake_attack": "a snake striking", "daemon_ack": "a demon growling", "daemon_select": "a demon growling",
    "daemon_attack": "a demon attacking", "behemoth_ack": "a behemoth monster roaring",
    "behemoth_select": "a behemoth monster roaring", "behemoth_attack": "a behemoth monster attacking",
    "behemoth_walk": "a behemoth monster walking", "dragon_ack": "a dragon roaring",
    "dragon_select": "a dragon roaring", "evil_dragon_ack": "a dragon roaring",
    "evil_dragon_select": "a dragon roaring",
    "dragon_attack": "a dragon attacking", "evil_dragon_fly": "a dragon flapping its wings",
    # weapons, spells, work
    "archer_attack": "bow shot", "arrow_hit": "arrow hit", "firearrowhit": "flaming arrow hit",
    "axe_thrower_attack": "throwing an axe", "swordman_attack": "sword attack", "spearman_attack": "spear attack",
    "stickfighter_attack": "stick fighting blow", "cudgel_attack": "club hit", "knife": "knife attack",
    "archmage_attack": "magic spell", "battlemage_attack": "magic spell", "summoner_attack": "magic spell",
    "initiate_attack": "magic spell", "summoner_summon": "summoning spell", "shaman_heal": "healing spell",
    "catapult_attack": "catapult launch", "catapult_hit": "catapult stone impact",
    "catapult_walk": "catapult wheels rolling", "horseman_walk": "horse hooves", "golem_walk": "heavy footsteps",
    "machine_walk": "mechanical walker steps", "airship_fly": "an airship flying",
    "orni_fly": "an ornithopter flapping", "anvil": "hammer on an anvil", "worker_harvest_wood": "chopping wood",
    "worker_mine": "mining with a pickaxe", "technician_mine": "mining with a pickaxe",
    "worker_build": "construction hammering", "technician_build": "construction hammering",
    "initiate_build": "construction hammering", "magic_building_fall": "building collapsing",
    "tech_building_fall": "building collapsing", "wicker_fire": "wicker figure burning",
    "magic_click": "interface click", "tech_click": "interface click",
    # tilesets (most share the same few files: the copies are dropped as identical audio)
    "day": "daytime ambience", "night": "night ambience", "nightime": "night ambience", "rain": "rain",
    "sunny_day": "sunny day ambience", "desertday": "desert daytime ambience", "wind": "winter wind",
    "wolf": "a wolf howling", "chicken": "a chicken clucking", "hawk": "a hawk calling", "owl": "an owl hooting",
    "rooster": "a rooster crowing", "mudchute_cow": "a cow mooing",
    **{f"tilesets/{t}/{k}": f"{kind} {v}" for t, kind in (
        ("birch_forest", "forest"), ("dark_forest", "forest"), ("forest", "forest"), ("evergreen", "forest"),
        ("pine_peat", "forest"), ("pine_rock", "forest"), ("jungle", "jungle"), ("desert2", "desert"),
        ("desert4", "desert"), ("spring", "spring"))
       for k, v in (("day", "daytime ambience"), ("night", "night ambience"))},
    # data/core
    "core/water_sounds/water": "water splash", "core/menu/click_a": "interface click",
    "core/menu/click_b": "interface click", "core/menu/click_c": "interface click",
    "core/menu/click_d": "interface click", "core/menu/sonar": "sonar ping",
}
_SPOKEN = {f"{unit}_{what}": SPEECH + " (unit reply)" for unit in HUMANS for what in ("ack", "select", "sel")}
MEGAGLEST_SKIPS = {
    **_SPOKEN, "ack": SPEECH + " (unit reply)", "select": SPEECH + " (unit reply)",
    "tilesets/hell/good_morning": SPEECH, "tilesets/hell/hell": UNCLEAR, "core/menu/attention": GAME_CUE,
    "core/menu/highlight": GAME_CUE, "minarett": UNCLEAR,
}


def discover_megaglest(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    entries = []
    music = 0
    for path, rel in audio_under(files, "/megaglest/"):
        parts = rel.split("/")
        if "music" in parts:
            music += 1
            continue
        if parts[:3] == ["techs", "megapack", "factions"] and "units" in parts:  # .../<faction>/units/<unit>/sounds/x
            rel = "/".join(["factions", parts[3], parts[5], parts[-1]])
        elif parts[:3] == ["techs", "megapack", "commondata"]:
            rel = "/".join(["commondata", parts[-1]])
        elif parts[0] == "tilesets":
            rel = "/".join(["tilesets", parts[1], parts[-1]])
        elif parts[:2] == ["data", "core"]:
            rel = "/".join(["core"] + [p for p in parts[2:] if p != "sound"])
        else:
            continue
        entries.append((path, rel))
    clips, skipped = table_discovery("megaglest-data", entries, MEGAGLEST_CAPTIONS, MEGAGLEST_SKIPS,
                                     lambda path: copyright.licence_for(path) or "CC-BY-SA-3.0")
    if music:
        skipped.append({"raw_name": f"**/music/* ({music} files)", "reason": MUSIC})
    return clips, skipped
