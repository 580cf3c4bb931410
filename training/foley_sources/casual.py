"""Kart racing, a rabbit fighting game and two children's programs: SuperTuxKart
(supertuxkart-data), Lugaru (lugaru-data), Scratch 1.4's sound library (scratch) and qABCs'
picture noises (qabcs-data).

Captions come from hand-written tables of the file names (`name_key`), written from the names
and folders, not by listening; an animal's verb is its usual call ("Rooster" -> crowing), and
where the usual call is not clear the caption names the animal only. Music (soundtracks, jingles,
Scratch's instruments and loops), spoken or sung words and names that only make sense inside
the game are left out and listed.
"""
from __future__ import annotations

import re
from pathlib import Path

from .common import (GAME_CUE, MUSIC, SPEECH, UNCLEAR, Clip, CopyrightInfo, as_wav, audio_under, skip,
                     table_discovery)

# ---------------------------------------------------------------------------------------------
# SuperTuxKart: data/sfx/*, plus the track and library sounds that no .music file names
# ---------------------------------------------------------------------------------------------
STK_CAPTIONS = {
    "sfx/wilhelmscream": "a man screaming (the Wilhelm scream)", "sfx/airplane_jetengine": "jet engine roaring",
    "sfx/anvil": "anvil strike", "sfx/ball_bounce": "ball bouncing", "sfx/boing": "cartoon boing",
    "sfx/bowling_roll": "bowling ball rolling", "sfx/bubblegum_explode": "bubble gum popping",
    "sfx/bzzt": "electric buzz", "sfx/car_accel": "car accelerating", "sfx/car_revup": "car engine revving",
    "sfx/clock": "clock ticking", "sfx/crash": "crash", "sfx/engine_large": "large engine running",
    "sfx/engine_small": "small engine running", "sfx/exotic-birds": "exotic birds singing",
    "sfx/explosion": "explosion", "sfx/fireworks_show": "fireworks", "sfx/forcefield": "force field humming",
    "sfx/goo": "goo splat", "sfx/hammer": "hammer hit", "sfx/horn": "car horn honking",
    "sfx/inflate": "inflating", "sfx/lenautile_restaurant": "restaurant ambience",
    "sfx/machine_sound": "machine running", "sfx/metal_clang": "metal clang", "sfx/parachute": "parachute opening",
    "sfx/plopp": "plop", "sfx/plunger": "rubber plunger pop", "sfx/rain": "rain", "sfx/river_loop": "a river flowing",
    "sfx/shoot": "shot", "sfx/skid": "tyres skidding", "sfx/spaceship": "spaceship humming",
    "sfx/splash": "water splash", "sfx/static-radio": "radio static", "sfx/swatter": "fly swatter swat",
    "sfx/thunder": "thunder", "sfx/tractor_beam": "sci-fi tractor beam", "sfx/ugh": "a person grunting",
    "sfx/waterfall_loop": "a waterfall", "sfx/wooden_bridge": "rolling over a wooden bridge",
    "karts/sara_the_racer/skid": "tyres skidding", "tracks/black_forest/cow": "a cow mooing",
    "tracks/black_forest/steamlocomotive": "steam locomotive running",
    "library/stklib_steamlocomotive_a/steamlocomotive": "steam locomotive running",
    "tracks/scotland/sheep": "sheep bleating", "tracks/introcutscene/button": "button press",
    "tracks/introcutscene/spaceship_engine": "spaceship engine", "tracks/introcutscene/spaceship_engine_short":
    "spaceship engine", "tracks/introcutscene2/spaceship": "spaceship engine",
    "tracks/introcutscene2/spaceship_engine_short": "spaceship engine", "tracks/stk_enterprise/bzzt": "electric buzz",
}
STK_SKIPS = {
    "sfx/gnu_flute": MUSIC, "sfx/gp_end": MUSIC, "sfx/last_lap_fanfare": MUSIC, "sfx/race_finish": MUSIC,
    "sfx/race_finish_victory": MUSIC, "sfx/track_intro": MUSIC, "sfx/goal_scored": GAME_CUE,
    "sfx/sara_airport_pa": SPEECH + " (airport announcement)", "tracks/introcutscene2/nolok_speech": SPEECH,
    "sfx/appear": GAME_CUE, "sfx/grab_collectable": GAME_CUE, "sfx/energy_bar_full": GAME_CUE,
    "sfx/energy_bar_unfull": GAME_CUE, "sfx/locked": GAME_CUE, "sfx/portal": GAME_CUE, "sfx/swap": GAME_CUE,
    "sfx/pre_start_race": GAME_CUE, "sfx/start_race": GAME_CUE, "sfx/wee": UNCLEAR, "sfx/jump": UNCLEAR,
    "sfx/bowling_shoot": UNCLEAR, "sfx/break": UNCLEAR, "sfx/dark": UNCLEAR, "sfx/nitro": UNCLEAR,
    "sfx/strike": UNCLEAR, "tracks/xr591/hot": UNCLEAR,
}


def _stk_music(files: list[Path]) -> set[str]:
    """File names that the game's .music files play (track themes, menu music)."""
    names: set[str] = set()
    for path in files:
        if path.suffix == ".music":
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            names |= set(re.findall(r'file\s*=\s*"([^"]+)"', text))
    return names


def discover_supertuxkart(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    music = _stk_music(files)
    entries, skipped = [], []
    for path, rel in audio_under(files, "/supertuxkart/data/"):
        if rel.startswith("music/"):
            continue
        if path.name in music:
            skipped.append(skip(rel, MUSIC + " (named in a .music file)"))
            continue
        entries.append((path, rel))
    captions = {k.lower(): v for k, v in STK_CAPTIONS.items()}
    clips, more = table_discovery("supertuxkart-data", entries, captions, STK_SKIPS,
                                  lambda path: copyright.licence_for(path) or "GPL-3+")
    n_music = sum(1 for path, rel in audio_under(files, "/supertuxkart/data/") if rel.startswith("music/"))
    return clips, skipped + more + ([skip(f"music/* ({n_music} files)", MUSIC)] if n_music else [])


# ---------------------------------------------------------------------------------------------
# Lugaru: Sounds/*.ogg (Music*.ogg is the soundtrack)
# ---------------------------------------------------------------------------------------------
LUGARU_CAPTIONS = {
    "alarm": "alarm", "bark": "barking", "barkgrowl": "barking and growling", "break": "something breaking",
    "bushrustle": "bush rustling", "clank": "metal clank", "clawslice": "claw slash",
    "desertambient": "desert ambience", "fire": "fire burning", "fireend": "fire going out",
    "firestart": "fire igniting", "fleshstab": "stab into flesh", "fleshstabremove": "blade pulled out of flesh",
    "footstepgrass": "footsteps on grass", "footstepsnow": "footsteps on snow", "footstepstone": "footsteps on stone",
    "growl": "growling", "hawk": "a hawk calling", "heavyimpact": "heavy impact", "highwhoosh": "whoosh",
    "lowwhoosh": "whoosh", "midwhoosh": "whoosh", "movewhoosh": "whoosh", "whoosh": "whoosh",
    "whooshhit": "whoosh and hit", "knifedraw": "knife drawn", "knifesheathe": "knife sheathed",
    "knifeslice": "knife slice", "knifeswish": "knife swish", "land": "landing on the ground",
    "metalhit": "metal hit", "rabbitchitter": "a rabbit chittering", "rabbitpain": "a rabbit squealing in pain",
    "skid": "skidding", "snowskid": "skidding on snow", "snarl": "snarling", "splatter": "splatter",
    "staffbody": "wooden staff hitting a body", "staffhead": "wooden staff hitting a head",
    "staffbreak": "wooden staff breaking", "swordslice": "sword slice", "swordstaff": "sword hitting a staff",
    "thud": "thud", "wind": "wind",
}
LUGARU_SKIPS = {"broken": UNCLEAR, "consolefail": GAME_CUE, "consolesuccess": GAME_CUE, "jump": UNCLEAR,
                "rabbitattack": UNCLEAR}


def discover_lugaru(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    entries = audio_under(files, "/lugaru/Sounds/")
    music = [(p, r) for p, r in entries if r.lower().startswith("music")]
    clips, skipped = table_discovery("lugaru-data", [e for e in entries if e not in music], LUGARU_CAPTIONS,
                                     LUGARU_SKIPS,
                                     # the copyright file names upstream's layout (Data/Sounds/...)
                                     lambda path: copyright.licence_for("Data/Sounds/" + Path(path).name)
                                     or "CC-BY-SA-3.0")
    return clips, skipped + ([skip(f"Music* ({len(music)} files)", MUSIC)] if music else [])


# ---------------------------------------------------------------------------------------------
# Scratch 1.4: Media/Sounds/<category>/<Name>.{wav,mp3}
# ---------------------------------------------------------------------------------------------
SCRATCH_CAPTIONS = {
    "animal/bird": "a bird chirping", "animal/cat": "a cat meowing", "animal/cricket": "a cricket chirping",
    "animal/crickets": "crickets chirping", "animal/dog": "a dog barking", "animal/duck": "a duck quacking",
    "animal/goose": "a goose honking", "animal/horse": "a horse neighing", "animal/horsegallop": "a horse galloping",
    "animal/kitten": "a kitten meowing", "animal/meow": "a cat meowing", "animal/owl": "an owl hooting",
    "animal/rooster": "a rooster crowing", "animal/sealion": "a sea lion barking", "animal/wolfhowl": "a wolf howling",
    "effects/balloonscratch": "rubbing a balloon", "effects/belltoll": "a bell tolling", "effects/bubbles": "bubbles",
    "effects/carpassing": "a car passing", "effects/doorclose": "a door closing",
    "effects/doorcreak": "a door creaking",
    "effects/motorcyclepassing": "a motorcycle passing", "effects/pop": "pop", "effects/rattle": "rattle",
    "effects/ripples": "water rippling", "effects/sewingmachine": "a sewing machine",
    "effects/typing": "typing on a keyboard", "effects/waterdrop": "a water drop",
    "effects/waterrunning": "running water",
    "electronic/computerbeeps": "computer beeps", "electronic/fairydust": "magic fairy dust sparkle",
    "electronic/laser": "laser zap", "electronic/screech": "screech",
    "human/babycry": "a baby crying", "human/cough-female": "a woman coughing", "human/cough-male": "a man coughing",
    "human/fingersnap": "a finger snap", "human/footsteps": "footsteps", "human/laugh-female": "a woman laughing",
    "human/laugh-male": "a man laughing", "human/partynoise": "a crowd at a party",
    "human/scream-female": "a woman screaming", "human/scream-male": "a man screaming", "human/slurp": "slurping",
    "human/sneeze-female": "a woman sneezing", "human/sneeze-male": "a man sneezing",
}
SCRATCH_SKIPS = {"effects/plunge": UNCLEAR, "electronic/aliencreak": UNCLEAR, "electronic/dirtywhir": UNCLEAR,
                 "electronic/peculiar": UNCLEAR, "electronic/spaceripple": UNCLEAR, "electronic/spiral": UNCLEAR,
                 "electronic/whoop": UNCLEAR, "electronic/zoop": UNCLEAR}
SCRATCH_FOLDER_SKIPS = {"Instruments/": MUSIC + " (instrument notes)", "Music Loops/": MUSIC,
                        "Percussion/": MUSIC + " (percussion instruments)", "Vocals/": SPEECH + " (singing, beatbox)"}


def discover_scratch(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    entries = audio_under(files, "/scratch/Media/Sounds/", extensions=(".wav", ".mp3"))
    clips, skipped = table_discovery("scratch", entries, SCRATCH_CAPTIONS, SCRATCH_SKIPS,
                                     lambda path: copyright.licence_for(path) or "CC-BY-SA-3.0",
                                     folder_skips=SCRATCH_FOLDER_SKIPS)
    # most of Scratch's MP3s end in frames that do not decode: keep them as WAV
    return [as_wav(c) if c.rel.lower().endswith(".mp3") and c.source_path.is_file() else c for c in clips], skipped


# ---------------------------------------------------------------------------------------------
# qABCs: abcs/all/noises/<name>.ogg (the sound of the picture for a letter); abcs/<lang>/sounds/
# are spoken letters and words. Animal calls and a few machines are kept; instruments are music,
# and most objects' names (a glove, a quilt) do not say what their noise is.
# ---------------------------------------------------------------------------------------------
QABCS_CAPTIONS = {
    "albatross": "an albatross calling", "bear": "a bear growling", "bird": "a bird singing", "calf": "a calf mooing",
    "cat": "a cat meowing", "chimpanzee": "a chimpanzee calling", "cow": "a cow mooing", "crow": "a crow cawing",
    "deer": "a deer calling", "dog": "a dog barking", "dolphin": "a dolphin clicking", "duck": "a duck quacking",
    "eagle-owl": "an eagle owl hooting", "elephant": "an elephant trumpeting", "flamingo": "flamingos calling",
    "foal": "a foal neighing", "frog": "a frog croaking", "goose": "a goose honking",
    "guinea_fowl": "guinea fowl calling", "heron": "a heron calling", "horse": "a horse neighing",
    "hyena": "a hyena laughing", "jaguar": "a jaguar growling", "lion": "a lion roaring",
    "little_monkey": "a monkey chattering", "moose": "a moose calling", "mouse": "a mouse squeaking",
    "owl": "an owl hooting", "pheasant": "a pheasant calling", "pig": "a pig oinking", "quail": "a quail calling",
    "rooster": "a rooster crowing", "sheep": "sheep bleating", "sparrow": "a sparrow chirping",
    "tiger": "a tiger roaring", "whale": "a whale calling", "wolf": "a wolf howling",
    "wood_grouse": "a wood grouse calling", "york": "a small dog barking",
    "koala": "a koala (animal)", "raccoon": "a raccoon (animal)", "rhinoceros": "a rhinoceros (animal)",
    "zebra": "a zebra (animal)", "yak": "a yak (animal)", "vulture": "a vulture (animal)", "emu": "an emu (animal)",
    "stork": "a stork (animal)", "hedgehog": "a hedgehog (animal)",
    "airplane": "an airplane flying", "clock": "a clock ticking", "excavator": "an excavator",
    "helicopter": "a helicopter flying", "tractor": "a tractor", "train": "a train", "watch": "a watch ticking",
    "zipper": "a zipper",
}


def discover_qabcs(files: list[Path], copyright: CopyrightInfo) -> tuple[list[Clip], list[dict]]:
    noises = audio_under(files, "/qabcs/abcs/all/noises/")
    clips, _unlisted = table_discovery("qabcs-data", noises, QABCS_CAPTIONS, {},
                                       lambda path: copyright.licence_for(path) or "GPL-3+")
    spoken = [rel for _, rel in audio_under(files, "/qabcs/abcs/") if "/sounds/" in rel]
    skipped = [skip(f"all/noises/* ({len(noises) - len(clips)} files)",
                    "instruments (music) and objects whose name does not say what the noise is")]
    if spoken:
        skipped.append(skip(f"<language>/sounds/* ({len(spoken)} files)", SPEECH + " (letters and words)"))
    return clips, skipped
