"""An action role-playing game and a city builder: Flare (flare-game) and Unknown Horizons
(unknown-horizons).

Captions come from hand-written tables of the file names (`name_key`), written from the names
and folders, not by listening. Merchants' and narrators' lines are left out as speech, the
soundtracks as music, and names that only mean something inside the game (spell effects,
inventory pickups, event jingles) are listed as skipped.
"""
from __future__ import annotations

from pathlib import Path

from .common import GAME_CUE, MUSIC, SPEECH, UNCLEAR, Clip, CopyrightInfo, audio_under, table_discovery

# ---------------------------------------------------------------------------------------------
# Flare: mods/<mod>/soundfx/** (library path "<mod>/<path under soundfx>")
# ---------------------------------------------------------------------------------------------
FLARE_CAPTIONS = {
    "environment/falling_rocks": "rocks falling", "environment/minecart": "a mine cart rolling",
    "environment/rain": "rain", "environment/anvil_loop": "hammering on an anvil",
    "environment/bird_twitter_loop": "birds twittering", "environment/cave_droplets_loop": "water dripping in a cave",
    "environment/cave_wind_loop": "wind in a cave", "environment/forest_owl_loop": "an owl hooting in a forest",
    "environment/open_fire": "an open fire burning", "environment/open_fire_loop": "an open fire burning",
    "environment/raven_loop": "ravens cawing", "environment/river_loop": "a river flowing",
    "environment/teleporter": "teleporter humming", "environment/wind_loop": "wind",
    "door_open": "a door opening", "female_die": "a woman dying", "female_hit": "a woman grunting in pain",
    "male_die": "a man dying", "male_hit": "a man grunting in pain", "heartbeat": "a heartbeat",
    "melee_attack": "melee weapon swing",
    "enemies/goblin_die": "a goblin dying", "enemies/goblin_hit": "a goblin hurt",
    "enemies/minotaur_die": "a minotaur dying", "enemies/minotaur_critdie": "a minotaur dying",
    "enemies/minotaur_hit": "a minotaur hurt", "enemies/skeleton_die": "skeleton dying",
    "enemies/skeleton_critdie": "skeleton dying", "enemies/skeleton_hit": "skeleton hurt",
    "enemies/wyvern_die": "a wyvern dying", "enemies/wyvern_hit": "a wyvern hurt", "enemies/zombie_die": "zombie dying",
    "enemies/zombie_critdie": "zombie dying", "enemies/zombie_hit": "zombie hurt",
    "inventory/inventory_coins": "coins jingling", "inventory/inventory_page": "a page turning",
    "powers/burn": "burning", "powers/fireball": "fireball whoosh", "powers/freeze": "freezing spell",
    "powers/heal": "healing spell", "powers/potion": "drinking a potion", "powers/quake": "earthquake rumbling",
    "powers/shock": "electric shock spell", "powers/teleport": "teleport whoosh", "powers/thunder": "thunder",
    "powers/warcry": "a war cry",
    "steps/step_cloth": "soft footsteps", "steps/step_echo": "echoing footsteps",
    "steps/step_leather": "footsteps in leather boots", "steps/step_metal": "footsteps in metal armour",
}
FLARE_SKIPS = {"flying_loot": GAME_CUE, "level_up": GAME_CUE, "no_mana": GAME_CUE, "wood_open": UNCLEAR,
               "environment/stairs": UNCLEAR, "environment/stone_open": UNCLEAR}


def discover_flare(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    entries, music = [], 0
    for path, rel in audio_under(files, "/flare/mods/"):
        mod, _, rest = rel.partition("/")
        if not rest.startswith("soundfx/"):
            music += rest.startswith("music/")
            continue
        entries.append((path, f"{mod}/{rest[len('soundfx/'):]}"))
    mods = {rel.split("/", 1)[0] for _, rel in entries}
    captions = {f"{m}/{k}" if "/" in k else k: v for m in mods for k, v in FLARE_CAPTIONS.items()}
    skips = {f"{m}/{k}" if "/" in k else k: v for m in mods for k, v in FLARE_SKIPS.items()}
    clips, skipped = table_discovery("flare-game", entries, captions, skips,
                                     lambda path: copyright.licence_for(path) or "CC-BY-SA-3.0+",
                                     folder_skips={f"{m}/npcs/": SPEECH + " (merchants)" for m in mods})
    if music:
        skipped.append({"raw_name": f"<mod>/music/* ({music} files)", "reason": MUSIC})
    return clips, skipped


# ---------------------------------------------------------------------------------------------
# Unknown Horizons: content/audio/sounds/** (voice/ is narration, music/ the soundtrack)
# ---------------------------------------------------------------------------------------------
UH_CAPTIONS = {
    "sounds/flippage": "a page turning", "sounds/lumberjack": "chopping wood with an axe",
    "sounds/lumberjack_long": "chopping wood with an axe", "sounds/main_square": "a busy town square",
    "sounds/sheepfield": "sheep bleating in a field", "sounds/ships_bell": "a ship's bell ringing",
    "sounds/smith": "a blacksmith hammering", "sounds/stonemason": "a stonemason chiselling stone",
    "sounds/tavern": "tavern ambience", "sounds/warehouse": "warehouse ambience",
    "sounds/windmill": "a windmill turning",
}
UH_SKIPS = {"sounds/build": UNCLEAR, "sounds/chapel": UNCLEAR, "sounds/click": UNCLEAR, "sounds/invalid": GAME_CUE,
            "sounds/refresh": GAME_CUE, "sounds/success": GAME_CUE}


def discover_unknown_horizons(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    entries = audio_under(files, "/unknown-horizons/content/audio/")
    return table_discovery("unknown-horizons", entries, UH_CAPTIONS, UH_SKIPS,
                           lambda path: copyright.licence_for(path) or "CC-BY-SA-3.0",
                           folder_skips={"sounds/events/": GAME_CUE + " (event jingles)",
                                         "voice/": SPEECH + " (narration)", "music/": MUSIC})
