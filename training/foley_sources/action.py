"""Action and war games: Battle Tanks (btanks-data), Scorched 3D (scorched3d-data), Red Eclipse
(redeclipse-data) and TripleA (triplea).

Captions come from hand-written tables of the file names (`name_key`), written from the names
and folders, not by listening: an animal's verb is its usual call ("cow" -> mooing), a weapon
name becomes its shot. Names that only make sense inside the game (power-ups, "notify", numbered
"ambient3"), music and spoken lines (announcer, taunts) are left out and listed.
"""
from __future__ import annotations

from pathlib import Path

from .common import (GAME_CUE, MUSIC, SPEECH, UNCLEAR, Clip, CopyrightInfo, audio_under, name_key, skip,
                     table_discovery)

# ---------------------------------------------------------------------------------------------
# Battle Tanks: data/sounds/** (data/tunes is the soundtrack)
# ---------------------------------------------------------------------------------------------
BTANKS_CAPTIONS = {
    "ambient/city": "city ambience", "ambient/country": "countryside ambience",
    "ambient/forest": "forest ambience", "ambient/horror": "eerie horror ambience",
    "ambient/space": "outer space ambience", "ambient/swamp": "swamp ambience",
    "boomerang-hit": "boomerang hit", "building-explosion": "building explosion", "cannon": "cannon shot",
    "cow": "a cow mooing", "deadman": "a man dying", "dirt-bullet-explosion": "bullet hitting dirt",
    "dispersion-bullet": "dispersion bullet shot", "dumb-missile": "missile flying",
    "guided-missile": "guided missile flying", "smoke-missile": "smoke missile flying",
    "stun-missile": "stun missile flying", "boomerang-missile": "boomerang missile flying",
    "nuke-missile": "nuclear missile flying", "engine-car": "car engine", "engine-start": "engine starting",
    "engine-vehicle": "vehicle engine", "vehicle-sound": "vehicle engine running", "explosion": "explosion",
    "fire-fadeout": "fire dying down", "fire": "fire burning", "helicopter": "helicopter flying",
    "kamikaze-scream": "a person screaming", "klaxon-funny": "funny klaxon horn", "klaxon": "klaxon horn",
    "laugh": "a man laughing", "machinegunner-bullet": "machine gun shot", "man-steps": "footsteps",
    "mine-tick": "a mine ticking", "old-mine-tick": "a mine ticking", "nuke-explosion": "nuclear explosion",
    "old-nuke-explosion": "nuclear explosion", "shot": "tank gun shot", "slime-dead": "slime monster dying",
    "slime-fire": "slime monster spitting", "submarine": "submarine", "tank-move": "tank moving",
    "teleport": "teleport whoosh", "train": "train passing", "vehicle-explosion": "vehicle explosion",
    "worm-eat": "giant worm eating", "worm-move": "giant worm burrowing", "zombie-dead": "zombie dying",
    "zombie-strike": "zombie attacking", "zombie": "zombie groaning",
    "menu/change": "menu click (interface sound)", "menu/move": "menu click (interface sound)",
    "menu/return": "menu click (interface sound)", "menu/select": "menu click (interface sound)",
}
BTANKS_SKIPS = {"disembark": UNCLEAR, "respawn": GAME_CUE, "taking-item": GAME_CUE}


def discover_btanks(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    entries = [(p, rel) for p, rel in audio_under(files, "/btanks/data/")]
    entries = [(p, rel[len("sounds/"):] if rel.startswith("sounds/") else rel) for p, rel in entries]
    return table_discovery("btanks-data", entries, BTANKS_CAPTIONS, BTANKS_SKIPS,
                           lambda path: copyright.licence_for(path) or "GPL-2+", folder_skips={"tunes/": MUSIC})


# ---------------------------------------------------------------------------------------------
# Scorched 3D: data/globalmods/{none,apoc}/data/wav/** (the base game and the Apocalypse mod)
# ---------------------------------------------------------------------------------------------
SCORCHED_CAPTIONS = {
    # Apocalypse mod
    "explosions/acid": "acid explosion", "explosions/bees": "a swarm of bees buzzing",
    "explosions/beesting": "a bee sting", "explosions/dirt": "dirt explosion",
    "explosions/empsmall": "small electric pulse blast", "explosions/exp": "explosion",
    "explosions/gas": "gas explosion", "explosions/lightning": "lightning strike",
    "explosions/lightningbolt": "lightning bolt", "explosions/meteor": "meteor impact",
    "explosions/quake": "earthquake rumbling", "explosions/shockwave": "shockwave blast",
    "explosions/tank": "tank explosion", "explosions/thud": "heavy thud", "explosions/thunder": "thunder",
    "misc/beamup": "teleporter beam", "misc/carhorn": "a car horn honking",
    "misc/cessna": "a small propeller plane flying", "misc/cheeringloop": "a crowd cheering",
    "misc/citysounds": "city street ambience", "misc/cows": "cows mooing", "misc/dog": "a dog barking",
    "misc/factoryloop": "factory machinery", "misc/firetruck": "a fire truck siren",
    "misc/helicopter": "helicopter flying", "misc/moo": "a cow mooing",
    "misc/policecar": "a police car siren", "misc/rooster": "a rooster crowing",
    "misc/scream": "a person screaming", "misc/screaming": "a person screaming",
    "misc/sheep": "a sheep bleating", "shoot/launch": "rocket launch", "shoot/machinegun": "machine gun firing",
    "shoot/shotgun": "shotgun shot", "shoot/tripleshot": "three quick gunshots",
    # base game
    "explosions/crunch": "crunching impact", "explosions/gloop": "gloopy splat",
    "explosions/large": "large explosion", "explosions/medium": "medium explosion",
    "explosions/small": "small explosion", "explosions/xlarge": "huge explosion",
    "explosions/napalm": "napalm explosion and fire", "misc/apache": "helicopter flying",
    "misc/bats": "bats squeaking", "misc/beep": "electronic beep", "misc/birdchirp": "a bird chirping",
    "misc/birds": "birds singing", "misc/camera": "camera shutter click", "misc/f": "a fighter jet flying",
    "misc/frogs": "frogs croaking", "misc/gull": "a seagull crying", "misc/jet": "a jet plane flying",
    "misc/lava": "bubbling lava", "misc/oceanwaves": "ocean waves", "misc/para": "parachute opening",
    "misc/rain": "rain", "misc/rocket": "rocket engine", "misc/splash": "water splash",
    "misc/t": "a jet plane flying", "misc/thunder": "thunder", "misc/teleport": "teleport whoosh",
    "misc/wolf": "a wolf howling",
    "movement/elevate": "tank gun elevating", "movement/movement": "tank moving",
    "movement/tankmove": "tank moving", "movement/turn": "tank turret turning",
    "shield/activate": "force field activating", "shield/activateforce": "force field activating",
    "shield/activmag": "magnetic shield activating", "shield/hit": "shot hitting a force field",
    "shoot/flare": "flare launch", "shoot/large": "large cannon shot", "shoot/medium": "medium cannon shot",
    "shoot/small": "small cannon shot", "shoot/xlarge": "huge cannon shot", "shoot/laser": "laser shot",
    "shoot/tracer": "tracer shot",
}
SCORCHED_SKIPS = {"misc/extralife": GAME_CUE, "misc/lockon": GAME_CUE, "misc/play": GAME_CUE,
                  "misc/text": GAME_CUE, "misc/fight4life": UNCLEAR, "misc/nuclearloop": UNCLEAR,
                  "misc/riftcollapse": UNCLEAR, "misc/laserdeath": UNCLEAR, "explosions/radiation": UNCLEAR,
                  "explosions/bhit": UNCLEAR, "battery/battery": GAME_CUE, "movement/power": GAME_CUE}


def discover_scorched3d(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    entries = []
    for path, rel in audio_under(files, "/scorched3d/data/globalmods/"):
        mod, _, rest = rel.partition("/data/")  # "none/data/wav/misc/x.wav" -> ("none", "wav/misc/x.wav")
        entries.append((path, f"{mod}/{rest[len('wav/'):] if rest.startswith('wav/') else rest}"))
    # the tables hold "<folder>/<key>"; the library paths start with the mod's folder
    captions = {f"{mod}/{k}": v for mod in ("none", "apoc") for k, v in SCORCHED_CAPTIONS.items()}
    skips = {f"{mod}/{k}": v for mod in ("none", "apoc") for k, v in SCORCHED_SKIPS.items()}
    return table_discovery("scorched3d-data", entries, captions, skips,
                           lambda path: copyright.licence_for(path) or "GPL-2+", folder_skips={"none/music/": MUSIC})


# ---------------------------------------------------------------------------------------------
# Red Eclipse: data/sounds/** (music/, the announcer's and players' spoken lines and the theme
# tracks are left out)
# ---------------------------------------------------------------------------------------------
REDECLIPSE_CAPTIONS = {
    "ambience/alienwind": "eerie wind", "ambience/blowwind": "wind blowing",
    "ambience/cavedrip": "water dripping in a cave", "ambience/creek": "a creek flowing",
    "ambience/cycadas": "cicadas chirping", "ambience/distant_cars": "distant traffic",
    "ambience/dizzywind": "wind howling", "ambience/door": "a door", "ambience/electro": "electric buzz",
    "ambience/fire": "fire burning", "ambience/forest": "forest ambience", "ambience/hollowwind": "hollow wind",
    "ambience/hum": "electrical hum", "ambience/lava": "bubbling lava", "ambience/lavarumble": "lava rumbling",
    "ambience/machine": "machine running", "ambience/nightcrickets": "crickets chirping at night",
    "ambience/pneumatic": "pneumatic hiss", "ambience/river": "a river flowing",
    "ambience/switch": "a switch clicking", "ambience/teleport": "teleport whoosh",
    "ambience/vapour": "steam hissing", "ambience/wastewind": "wind over a wasteland", "ambience/water": "water",
    "ambience/waterfall": "a waterfall", "ambience/waterfall_deep": "a deep waterfall",
    "ambience/waterfall_huge": "a huge waterfall", "ambience/waterfall_indoor": "a waterfall indoors",
    "ambience/waterfall_medium": "a waterfall", "ambience/wind": "wind",
    "ambience/morph/door": "a door", "ambience/morph/machine": "machinery running",
    "ambience/morph/rain": "rain", "ambience/morph/stormbolts": "a thunderstorm",
    "ambience/morph/stormrain": "rain in a storm", "ambience/morph/stormwind": "storm wind",
    "ambience/morph/wind": "wind",
    "interface/back": "interface click", "interface/change": "interface click", "interface/press": "interface click",
    "player/concstep": "footsteps on concrete", "player/footstep": "footsteps", "player/death": "a person dying",
    "player/pain": "a person grunting in pain", "player/jump": "a person grunting as they jump",
    "player/land": "landing after a jump",
    "player/swimstep": "swimming strokes",
    "sfx/alarm": "alarm", "sfx/bounce": "bouncing", "sfx/burnfire": "fire burning", "sfx/burning": "burning",
    "sfx/debris": "debris falling", "sfx/error": "error beep (interface sound)",
    "sfx/extinguish": "extinguishing a flame", "sfx/shell": "shell casing dropping",
    "sfx/splashin": "splashing into water", "sfx/splashout": "climbing out of water",
    "sfx/splosh": "splashing in water", "sfx/underwater": "underwater ambience",
    "weapons/burn": "burning", "weapons/bzap": "electric zap", "weapons/bzzt": "electric zap",
    "weapons/explode": "explosion", "weapons/hum": "electrical hum", "weapons/reload": "weapon reloading",
    "weapons/ricochet": "bullet ricochet", "weapons/singe": "singeing sizzle", "weapons/thud": "thud",
    "weapons/thwack": "thwack", "weapons/tink": "metal tink", "weapons/whizz": "bullet whizzing past",
    "weapons/flamer/primary": "flamethrower firing", "weapons/flamer/secondary": "flamethrower firing",
    "weapons/flamer/reload": "flamethrower reloading", "weapons/grenade/beep": "grenade beeping",
    "weapons/grenade/primary": "grenade throw", "weapons/mine/beep": "mine beeping",
    "weapons/mine/explode": "mine explosion", "weapons/pistol/primary": "pistol shot",
    "weapons/pistol/secondary": "pistol shot", "weapons/pistol/reload": "pistol reloading",
    "weapons/plasma/primary": "plasma gun shot", "weapons/plasma/secondary": "plasma gun shot",
    "weapons/plasma/reload": "plasma gun reloading", "weapons/rifle/primary": "rifle shot",
    "weapons/rifle/secondary": "rifle shot", "weapons/rifle/reload": "rifle reloading",
    "weapons/rifle/explode": "explosion", "weapons/rocket/primary": "rocket launch",
    "weapons/rocket/reload": "rocket launcher reloading", "weapons/rocket/transit": "rocket flying",
    "weapons/shotgun/primary": "shotgun shot", "weapons/shotgun/secondary": "shotgun shot",
    "weapons/shotgun/reload": "shotgun reloading", "weapons/smg/primary": "submachine gun firing",
    "weapons/smg/secondary": "submachine gun firing", "weapons/smg/reload": "submachine gun reloading",
    "weapons/sword/primary": "sword swing", "weapons/sword/secondary": "sword swing",
    "weapons/zapper/primary": "electric zapper shot", "weapons/zapper/secondary": "electric zapper shot",
}
REDECLIPSE_SKIPS = {"ambience/jumppad": UNCLEAR, "ambience/wakawaka": UNCLEAR, "ambience/morph/ambient": UNCLEAR,
                    "ambience/morph/criticalcore": UNCLEAR, "ambience/morph/outdoorsignal": UNCLEAR,
                    "player/impulse": UNCLEAR, "sfx/bleeddamage": GAME_CUE, "sfx/burndamage": GAME_CUE,
                    "sfx/shockdamage": GAME_CUE, "sfx/damage": GAME_CUE, "sfx/critical": GAME_CUE,
                    "sfx/catch": GAME_CUE, "sfx/chat": GAME_CUE, "sfx/itemspawn": GAME_CUE, "sfx/itemuse": GAME_CUE,
                    "sfx/regenerate": GAME_CUE, "sfx/respawn": GAME_CUE, "weapons/energy": UNCLEAR,
                    "weapons/notify": GAME_CUE, "weapons/switch": GAME_CUE, "weapons/shotgun/explode": UNCLEAR,
                    "weapons/plasma/transit": UNCLEAR, "weapons/rifle/transit": UNCLEAR}
# rel is the path under data/sounds/ ("weapons/rifle/primary.ogg"); the three theme tracks at the
# top of data/sounds/ keep their "sounds/" prefix, map soundtracks are under "maps/"
REDECLIPSE_FOLDER_SKIPS = {"music/": MUSIC, "announcer/": SPEECH + " (announcer)",
                           "voice/": SPEECH + " (player taunts)", "sounds/": MUSIC + " (theme tracks)",
                           "maps/": MUSIC + " (map soundtrack)"}
WEAPON_CUES = ("notify", "power", "switch", "transit")  # per-weapon game cues


def discover_redeclipse(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    entries = []
    for path, rel in audio_under(files, "/redeclipse/data/"):
        if rel.startswith("sounds/") and rel.count("/") >= 2:
            rel = rel[len("sounds/"):]
        entries.append((path, rel))
    skips = dict(REDECLIPSE_SKIPS)
    for path, rel in entries:
        if rel.startswith("weapons/") and rel.count("/") == 2 and rel.rsplit("/", 1)[1].split(".")[0] in WEAPON_CUES:
            skips.setdefault(rel.rsplit(".", 1)[0], GAME_CUE)
    return table_discovery("redeclipse-data", entries, REDECLIPSE_CAPTIONS, skips,
                           lambda path: copyright.licence_for(path) or "CC-BY-SA-3.0",
                           folder_skips=REDECLIPSE_FOLDER_SKIPS)


# ---------------------------------------------------------------------------------------------
# TripleA: assets/sounds/<era>/<event>/<event>_NN_<what it is>.mp3. The part after the number
# describes the sound in words ("cannons_and_muskets"); the table turns it into a caption and
# leaves out the anthems, overtures, fanfares and drum rolls (music) and the game's own cues.
# ---------------------------------------------------------------------------------------------
TRIPLEA_CAPTIONS = {
    "hawk_scream": "a hawk screeching", "hawk_call": "a hawk calling", "sword_fighting": "sword fighting",
    "sword_fighting_with_horse_in_background": "sword fighting with a horse in the background",
    "sword_fighting_with_no_cannon": "sword fighting", "medieval_chaos": "chaotic medieval battle",
    "coins": "coins clinking", "horses_galloping": "horses galloping", "single_lasershot": "laser shot",
    "laser_cannon": "laser cannon shot", "lasers": "laser fire", "lasers_cut": "laser fire",
    "radiation_alert": "radiation alert alarm", "alien_siren": "alien siren", "door_open": "a door opening",
    "engine_powerup": "engine powering up", "hyperspace_drive": "spaceship hyperspace drive",
    "force_field_activated": "force field activating", "ship_deceleration": "spaceship decelerating",
    "engine_failure": "engine failing", "energy_arc": "electrical energy arc",
    "small_ship_flyby": "small spaceship flying by", "huge_ship_flyby": "huge spaceship flying by",
    "door_bell": "a doorbell ringing", "air_raid_alarm": "an air raid siren",
    "people_cheering_with_bells": "a crowd cheering with bells ringing",
    "dice_shaken_then_rolled": "dice shaken and rolled", "type_writer_short": "typing on a typewriter",
    "morse_code": "morse code beeps", "naval_sonar_ping": "naval sonar ping", "bell": "a bell ringing",
    "industrial_noise": "industrial machinery noise", "sawing_wood": "sawing wood",
    "boots_landing": "boots landing on the ground", "splash_and_waves": "a splash and waves",
    "click_click": "two clicks (interface sound)", "whirling_noise": "a whirring machine",
    "circuit_breaker_switched_off": "a circuit breaker switched off",
    "crazy_invention_powering_up": "a machine powering up", "marching": "soldiers marching",
    "swords_and_cannons": "swords clashing and cannons firing", "cannons_and_muskets": "cannons and muskets firing",
    "cavalry_and_cannons": "cavalry charging and cannons firing", "cavalry_saber_charge": "a cavalry saber charge",
    "musket_volley": "a musket volley", "ship_of_the_line": "a sailing warship firing its cannons",
    "aa_artillery_and_crashing_plane": "anti-aircraft guns and a plane crashing",
    "aa_artillery_and_flyby": "anti-aircraft guns and a plane flying by",
    "just_aa_artillery": "anti-aircraft guns firing", "air_flyby": "aircraft flying by",
    "air_close_flyby": "aircraft flying close by", "air_flyby_with_strafing": "aircraft flying by and strafing",
    "distant_explosions": "distant explosions", "echoing_distant_explosions": "echoing distant explosions",
    "infantry_being_shot_at": "infantry under gunfire", "machine_gun_fire": "machine gun fire",
    "machine_gun_with_background_fighting": "machine gun fire and fighting",
    "sub_diving_alarm": "submarine diving alarm", "battleship_volley": "a battleship firing a volley",
    "submarine_launched_torpedo": "a submarine launching a torpedo",
    "rockets_launched_then_explosion": "rockets launched, then an explosion",
    "flyby_then_falling_bombs_with_explosions": "planes flying over, then falling bombs and explosions",
    "falling_bomb_with_explosion": "a falling bomb and an explosion", "paper_being_ripped": "paper being ripped",
    "typewriter": "typing on a typewriter", "motor_engine_noise": "motor engine running",
}
TRIPLEA_SKIPS = {
    **{k: MUSIC for k in ("drums_with_waves", "start_of_lotr_company_of_the_ring",
                          "middle_of_lotr_company_of_the_ring", "gladiator_entrance", "colosseum_games_begin",
                          "eerie_fantasy_horn", "warhorn", "fantasy_battlemarch", "sad_trumpet", "short_fanfare",
                          "drums", "drumming", "serious_epic_theme", "buildup_to_epic_scene",
                          "start_of_1812_overture", "end_of_1812_overture", "la_reine_et_ses_enfants",
                          "classic_music")},
    "appear": GAME_CUE, "scientific_happy_bell_noise": GAME_CUE, "robot_chatter": UNCLEAR, "robot": UNCLEAR,
    "massacre": UNCLEAR, "2608_cut": UNCLEAR,
}


def _triplea_key(name: str) -> str:
    """"battle_land_02_cannons_and_muskets.mp3" -> "cannons_and_muskets"; "chat_slap_01.mp3" -> ""
    (nothing after the number); "alien_siren.mp3" -> "alien_siren"."""
    stem = name.rsplit(".", 1)[0].lower()
    parts = stem.split("_")
    for i, part in enumerate(parts):
        if len(part) == 2 and part.isdigit():
            tail = "_".join(parts[i + 1:])
            return name_key(tail) if tail else ""
    return name_key(stem)


def discover_triplea(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    clips, skipped = [], []
    anthems = 0
    for path, rel in audio_under(files, "/triplea/assets/sounds/", extensions=(".mp3", ".wav", ".ogg")):
        if "anthem" in rel.lower():
            anthems += 1
            continue
        key = _triplea_key(path.name)
        caption = TRIPLEA_CAPTIONS.get(key)
        if caption is None:
            skipped.append(skip(rel, TRIPLEA_SKIPS.get(key, UNCLEAR if key else GAME_CUE)))
            continue
        clips.append(Clip(package="triplea", rel=rel, raw_name=rel, caption=caption, caption_source="table",
                          original=path.as_posix(), source_path=path,
                          licence=copyright.licence_for(path.as_posix()) or "GPL-2+"))
    if anthems:
        skipped.append(skip(f"**/*Anthem* ({anthems} files)", MUSIC + " (national anthems)"))
    return clips, skipped
