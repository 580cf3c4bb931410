"""Sound categories from captions, for per-category evaluation of bundled models.

`category_for(caption)` returns the first category in `CATEGORIES` whose keywords match a
whole word (or word prefix, for entries ending in ``*``) of the lower-cased caption, or None.
`OVERRIDES` (whole phrases such as "fire truck" -> vehicle) are tried first, then the table in
order: specific before general ("flaming crossbow shot" is bow/arrow, not fire; "horse hooves"
is footsteps, not horse). The keyword table was built by reading the captions of the Debian foley
library (`foley_sources`): first 0ad, Wesnoth, Minetest, Tux Paint stamps, OpenSFX; then, for the
wider library of issue #23, Widelands, MegaGlest, Red Eclipse, SuperTuxKart, Battle Tanks,
Scorched 3D, OpenClonk, qABCs, Scratch, Lugaru, Flare, Unknown Horizons and TripleA, which added
the categories bell, crowd, insect, scifi, machine, impact and whoosh and keywords to others.
Additions never move a caption of the first library to another category
(tests/test_foley_sources.py checks every one of them), so evaluations of models trained on it
stay comparable: new keywords are whole words or phrases that no earlier caption contains, or
categories placed after every category such a caption matches. The class order of the category
head (`category_names`) keeps the first 26 categories' indices.
"""
from __future__ import annotations

import re
from typing import Iterable

# Phrases decided before the table (the table would get them wrong): phrase -> category or None.
OVERRIDES: dict[str, str | None] = {
    "fire truck": "vehicle_engine", "rubber duck": None, "crash cymbal": "music_sting",
    "glass of water": "water", "electric kettle": "water", "lightning bolt": "wind_weather",
    "washing machine": "machine_household", "vacuum cleaner": "machine_household", "camera": "ui",
    "drake dying": "monster", "drake hurt": "monster", "lumber mill": "wood_chopping",
    "building bridge": "construction_tools", "horn signal": "music_sting", "mining machinery": "construction_tools",
    "chopping": "wood_chopping", "battering ram": "siege_weapon", "research vessel": "vehicle_engine",
    "water blast": "water",
    # added with the wider library (issue #23); none of these phrases occurs in the first library
    "dolphin clicking": "wild_animal", "hyena laughing": "wild_animal", "zombie groaning": "monster",
    "gun clicking": "explosion_gunshot", "steam hissing": "machine", "pneumatic hiss": "machine",
    "spray can hissing": "machine", "electrical buzzing": "machine", "stick fighting": "sword_melee_hit",
    "sword fighting": "sword_melee_hit", "medieval battle": "sword_melee_hit", "alien siren": "scifi",
    "police car": "vehicle_engine",
}

# (category, keywords) in priority order. A keyword is a word or a phrase; "word*" matches any
# word starting so. Every keyword was chosen by reading the library's captions.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("ui", ("interface sound", "alarm", "ui", "button", "click*", "beep", "morse", "building selected",
            "building completed", "resource selected", "chat", "checkbox", "slider", "timer", "notification*",
            "selected", "beeps", "siren*")),
    ("crowd", ("crowd*", "cheering", "party")),
    ("bell", ("bell", "bells", "doorbell", "tolling", "chime", "chimes", "gong")),
    ("voice", ("voice", "saying", "human", "man", "woman", "old man", "player hurt", "laughing", "applause", "oooh",
               "grunt", "groaning", "wail*", "excited", "happy", "mad", "sad", "dwarf", "elf", "scream*",
               "shout*", "person", "baby crying")),
    ("monster", ("orc", "troll", "ogre", "goblin", "zombie", "skeleton", "lich", "naga", "mermaid", "merman", "wose",
                 "yeti", "ghoul", "gryphon", "hissing creature", "ghost", "monster*", "demon*", "dragon", "mummy",
                 "behemoth", "slime")),
    ("footsteps", ("footstep*", "hooves", "canter*", "marching")),
    ("horse", ("horse*", "foal")),
    ("dog_wolf", ("dog*", "wolf", "wolves", "fox", "bark*")),
    ("bird", ("bird*", "blackbird", "crow", "cuckoo", "drake", "duck", "gander", "hen", "heron", "lark", "rhea",
              "owl", "penguin", "quetzal", "rooster", "seagull", "toucan", "turkey", "vulture", "chicken*",
              "flamingo", "peacock", "goose", "geese", "hawk", "eagle*", "pheasant", "quail", "sparrow", "grouse",
              "albatross", "gull*", "flamingos", "fowl")),
    ("farm_animal", ("cow*", "cattle", "bull", "bison", "goat*", "sheep", "lamb", "ram", "pig*", "donkey",
                     "camel*", "dromedary", "mountaingoat", "calf", "mooing", "oinking")),
    ("insect", ("cricket*", "cicada*", "bees", "swarm", "buzzing", "bee sting")),
    ("wild_animal", ("animal*", "frog", "lion", "tiger", "bear", "elephant*", "monkey*", "chimpanzee", "gorilla",
                     "dolphin", "orca", "whale", "sea lion", "badger", "deer", "doe", "caribou", "zebra", "ferret",
                     "giraffe", "hippopotamus", "beaver", "mouse", "rabbit", "squirrel", "koala", "wombat", "bee",
                     "grasshopper", "hornet", "insect*", "mosquito", "iguana", "bat", "cat", "tusker", "spider",
                     "xanthia", "hiss", "hissing", "jaguar", "kitten", "moose", "snake", "bats", "growling", "snarling",
                     "frogs")),
    ("siege_weapon", ("siege", "ballista", "onager", "catapult", "battering ram")),
    ("explosion_gunshot", ("explosion*", "explode*", "tnt", "fireworks", "blast", "gunpowder", "bomb*", "musket*",
                           "gunshot", "thunderstick", "dragonstick", "gun", "cave-in", "cave in", "collaps*",
                           "crash", "big crash", "pistol", "rifle", "shotgun", "cannon", "bullet*", "ricochet",
                           "grenade", "missile flying", "firecracker", "machine gun", "tracer shot", "flare launch",
                           "rocket*", "gunshots", "shell casing", "reloading", "guns",
                           "gunfire", "volley", "cannons")),
    ("bow_arrow", ("arrow*", "bow", "crossbow", "javelin", "dart", "sling*", "thrown", "throwing", "net")),
    ("sword_melee_hit", ("sword*", "shield", "mace", "flail", "axe", "hatchet", "knife", "dagger", "club", "staff",
                         "spear", "pike", "torch", "blade*", "flesh", "stab*", "punch", "bite", "claw*", "tail whip",
                         "pincer*", "squishy", "mud", "ink", "melee", "attack swish",
                         "saber")),
    ("magic", ("magic*", "spell", "holy", "faerie", "potion", "electric sparking")),
    ("scifi", ("laser*", "force field", "teleport*", "tractor beam", "spaceship*", "zap*", "zapper", "sonar", "sci fi",
               "plasma")),
    ("wind_weather", ("wind*", "storm*", "thunder*", "weather", "rain", "lightning", "rumble", "rumbling")),
    ("fire", ("fire", "flame*", "flaming", "burning", "campfire", "lava", "furnace", "smoke", "flint", "fuse",
              "fireball", "sparks", "sizzl*")),
    ("water", ("water*", "river", "waves", "splash*", "bubble*", "waterfall", "toilet", "drip*", "glass of water",
               "creek", "swimming", "underwater", "diving")),
    ("train", ("train*", "locomotive", "railway", "level crossing", "monorail", "maglev", "steam", "cart")),
    ("vehicle_engine", ("engine*", "truck*", "bus", "car", "plane*", "jet", "helicopter", "propeller", "vehicle*",
                        "ship", "warship", "ferry", "boat", "vessel", "horn", "lander", "motor*", "tractor",
                        "excavator", "airplane", "airship", "submarine", "tank", "tyres", "klaxon", "ornithopter",
                        "aircraft")),
    ("door", ("door*", "gate*", "chest")),
    ("wood_chopping", ("chopping", "tree falling", "crashing tree", "falling tree", "lumber*", "chainsaw",
                       "sawmill")),
    ("machine", ("machinery running", "factory machinery", "elevator", "fan", "pump*", "pumpjack", "drill*",
                 "mechanical", "electrical", "electric buzz", "hum", "humming", "typing", "sewing machine", "clock*",
                 "ticking", "radio static", "machine running", "whirring", "powering up", "circuit breaker",
                 "industrial")),
    ("gathering_coins", ("gather*", "harvest*", "rustling", "leaves", "coin*", "gold", "cash", "money")),
    ("construction_tools", ("construction", "hammer*", "saw", "sawing", "jackhammer", "mining", "pickaxe",
                            "digging", "block", "tool*", "mallet", "scissors", "machinery", "hoeing", "splat",
                            "build*", "placing")),
    ("ambience", ("ambience", "ambient", "daytime", "night", "morning")),
    ("music_sting", ("fanfare", "drum*", "cymbal", "cello", "violin", "bassoon", "music*", "sting*", "year",
                     "whistle*", "horn signal", "trumpet*")),
    ("machine_household", ("machine", "vacuum", "kettle")),
    ("impact", ("hit", "thud", "clank", "clang", "thwack", "tink", "impact", "splatter", "crunch*", "shatter*",
                "debris", "rocks falling")),
    ("whoosh", ("whoosh*", "swish*", "swing")),
]

_WORD = re.compile(r"[a-z0-9']+")


def _compile():
    compiled = []
    for name, keywords in CATEGORIES:
        parts = []
        for kw in keywords:
            words = kw.split()
            pieces = [re.escape(w[:-1]) + r"[a-z']*" if w.endswith("*") else re.escape(w) for w in words]
            parts.append(r"\b" + r"\s+".join(pieces) + r"\b")
        compiled.append((name, re.compile("|".join(parts))))
    return compiled


_COMPILED = _compile()


def category_for(caption: str) -> str | None:
    """The first matching category of `CATEGORIES` for a caption, or None."""
    text = " ".join(_WORD.findall(str(caption).lower().replace("-", " ")))
    for phrase, category in OVERRIDES.items():
        if re.search(r"\b" + re.escape(phrase) + r"\b", text):
            return category
    for name, pattern in _COMPILED:
        if pattern.search(text):
            return name
    return None


def category_counts(captions: Iterable[str]) -> dict[str, int]:
    """{category: count} (None counted as "uncategorised"), largest first."""
    counts: dict[str, int] = {}
    for caption in captions:
        key = category_for(caption) or "uncategorised"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# The category head's class order (training/trainer.py): the first table's 26 categories keep
# their indices and the ones added since come after them, so a head trained on the first table
# still means the same classes (the trainer grows it by the new rows when resuming).
V1_CATEGORIES = ("ui", "voice", "monster", "footsteps", "horse", "dog_wolf", "bird", "farm_animal", "wild_animal",
                 "siege_weapon", "explosion_gunshot", "bow_arrow", "sword_melee_hit", "magic", "wind_weather", "fire",
                 "water", "train", "vehicle_engine", "door", "wood_chopping", "gathering_coins", "construction_tools",
                 "ambience", "music_sting", "machine_household")


def category_names() -> list[str]:
    """Every category, in the head's class order: `V1_CATEGORIES`, then the later ones in table
    order (not the matching priority order of `CATEGORIES`)."""
    return list(V1_CATEGORIES) + [name for name, _ in CATEGORIES if name not in V1_CATEGORIES]


# Calls: sounds an animal or a person makes with its voice, counted by kind for the library's
# manifest. A kind is a set of categories, so the counts follow the table above.
CALL_KINDS: dict[str, tuple[str, ...]] = {
    "animal": ("bird", "dog_wolf", "farm_animal", "horse", "insect", "wild_animal"),
    "voice": ("voice",),
    "crowd": ("crowd",),
}


def call_counts(captions: Iterable[str]) -> dict[str, dict[str, int] | int]:
    """{kind: total, ..., "by_category": {category: count}} for the categories in `CALL_KINDS`."""
    kinds = {c: kind for kind, cats in CALL_KINDS.items() for c in cats}
    by_category: dict[str, int] = {}
    totals = {kind: 0 for kind in CALL_KINDS}
    for caption in captions:
        category = category_for(caption)
        if category in kinds:
            totals[kinds[category]] += 1
            by_category[category] = by_category.get(category, 0) + 1
    return {**totals, "by_category": dict(sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0])))}
