"""Captions from file and folder names, and whitespace cleaning for human-written captions.

Two steps, both pure functions of a string:

``path_caption("ambient/weather/rain_11.ogg") -> "rain, weather, ambient"``
    The *raw path caption*: one comma-separated phrase per path component, file name first,
    then its folders from the innermost outwards. Each component is split on ``_ - . /``,
    spaces, camelCase and letter/digit boundaries; numbers, single letters, version tags
    (``v2``, ``take3``) and junk tokens (``sfx``, ``snd``, ``loop``, ``audio``, ``default``...)
    are dropped; abbreviations and run-together words common in game sound names are expanded
    (``fs`` -> footsteps, ``amb`` -> ambience, ``wpn`` -> weapon, ``expl`` -> explosion, ``jav``
    -> javelin, ``swordhit`` -> sword hit...; the table was built from the file names of the
    Debian packages 0ad-data, wesnoth-1.16-data, minetest-data, tuxpaint-stamps-default and
    openttd-opensfx); a word already used by an inner component (or its singular/plural) is
    not repeated (of two neighbouring words with the same stem the second is kept, so
    Minetest's ``doors/doors_door_open.ogg`` gives "door open, doors").

``normalise_path_caption(raw) -> "rain (weather, ambient)"``
    Makes the raw form read like what people type. The file-name phrase is the *head*; it is
    rewritten by a few rule families - footsteps ("footsteps snow" -> "footsteps on snow"),
    weapons ("bow" -> "bow shot", "sword miss" -> "missed sword attack", "shield metal" in an
    impact folder -> "hit on a metal shield"), magic ("magic holy" -> "holy magic spell"),
    creatures ("wolf die" -> "wolf dying", "orc small hit" -> "small orc hurt"), verbs to
    gerunds ("door open" -> "door opening"), trailing size adjectives moved first ("fire large"
    -> "large fire") and a phrase table for the rest. The folder phrases become a parenthesised
    context, minus words the head already says and purely organisational folder names
    (``attack``, ``movement``, ``fauna``...). The result is ``head`` or ``head (context, ...)``.

Human-written captions (caption files, sidecars, package metadata) only go through
`clean_caption`: whitespace collapsed, control characters removed, nothing reworded.
"""
from __future__ import annotations

import re
from pathlib import Path

from audiogan_core.library import AUDIO_EXTENSIONS, clean_caption  # noqa: F401 (clean_caption: its old home)

# Tokens that never describe a sound: formats, bookkeeping, folder conventions of game data,
# and the names of the games/packages the files come from.
JUNK = frozenset("""
sfx snd snds sound sounds audio fx se wav ogg mp3 flac aif aiff
loop loops looped looping mono stereo take var alt alternate final mix mixed edit edited master mastered
default data core mod mods actor generic gen misc sample samples effect effects
asset assets file files raw copy tmp temp test new version ver rev mn lr lp hp
gaia civ global dummy unused nothing game games minetest wesnoth openttd opensfx tuxpaint stamps ad zero
""".split())

# Abbreviations and run-together words seen in the packages' file names -> plain words.
# Expansions are not filtered by JUNK.
ABBREVIATIONS: dict[str, str] = {
    # footsteps and movement
    "fs": "footsteps", "ftstep": "footsteps", "ftsteps": "footsteps", "footstep": "footsteps",
    "foorstep": "footsteps", "singlesteps": "footsteps", "steps": "footsteps", "step": "footsteps",
    "hstep": "footsteps", "mstep": "hooves", "smove": "ship moving", "canter": "cantering",
    # ambience and weather
    "amb": "ambience", "ambi": "ambience", "ambiance": "ambience", "dayscape": "daytime",
    "windgust": "wind gust", "windleaves": "wind in leaves", "windstorm": "wind storm", "snowstorm": "snow storm",
    "wavecrash": "waves crashing", "waverocky": "waves on rocks",
    # weapons and combat
    "wpn": "weapon", "weap": "weapon", "exp": "explosion", "expl": "explosion", "explo": "explosion",
    "explode": "explosion", "explodes": "explosion", "jav": "javelin", "ballist": "ballista",
    "swordhit": "sword hit", "arrowfly": "arrow flying", "fleshimp": "flesh impact", "fleshstab": "flesh stab",
    "siegeprojectilehit": "siege projectile impact", "imp": "impact", "dmg": "damage", "atk": "attack",
    "xbow": "crossbow", "puny": "weak", "rome": "roman",
    # interface
    "gui": "ui", "btn": "button", "sel": "select", "chk": "checkbox", "notif": "notification",
    "alarmalert": "alarm alert", "alarmally": "alarm ally", "alarmattackcity": "alarm city attacked",
    "alarmattackplayer": "alarm player attacked", "alarmattackunit": "alarm unit attacked",
    "alarmcreatecavalry": "alarm cavalry ready", "alarmcreatefemale": "alarm female citizen ready",
    "alarmcreatemiltaryfoot": "alarm infantry ready", "alarmcreatemilitaryfoot": "alarm infantry ready",
    "alarmcreatepriest": "alarm priest ready", "alarmcreateworker": "alarm worker ready",
    "alarmdefeat": "alarm defeat", "alarmgarrison": "alarm garrison", "alarmherodead": "alarm hero dead",
    "alarmherojoin": "alarm hero joined", "alarmnoresource": "alarm no resources",
    "alarmobjectives": "alarm objectives", "alarmresearchphase": "alarm research phase",
    "alarmresearchtech": "alarm research technology", "alarmunitturn": "alarm unit turn",
    "alarmupgradearmory": "alarm armory upgrade", "alarmvictory": "alarm victory",
    "gamesetup": "game setup", "gamestart": "game start",
    # work and buildings
    "con": "construction", "constr": "construction", "ffactri": "fish factory",
    "civcenter": "civic center", "fieldexpire": "field exhausted", "fruitexpire": "fruit exhausted",
    "meatexpire": "meat exhausted", "treeexpire": "tree falling", "onager": "onager catapult",
    "stonegate": "stone gate", "fencegate": "fence gate", "iber": "iberian",
    # minetest dig groups: what the block is made of
    "choppy": "wood", "cracky": "stone", "crumbly": "dirt", "snappy": "leaves",
    "xpanes": "", "env": "", "carts": "cart",
    # creatures and objects (Tux Paint, Wesnoth)
    "mountaingoat": "mountain goat", "tucan": "toucan", "nandou": "rhea", "drumkit": "drum kit",
    "tomtom": "tom tom", "lightningbolt": "lightning bolt", "rubberduck": "rubber duck", "blackcat": "black cat",
    "santahat": "santa hat", "checkeredflag": "checkered flag", "firetruck": "fire truck", "uturn": "u turn",
    "xing": "crossing", "ped": "pedestrian", "dreydl": "dreidel", "greatblue": "great blue",
    "mermen": "merman", "magicmissile": "magic missile", "faeriefire": "faerie fire", "wardrums": "war drums",
    "sml": "small", "med": "medium", "lg": "large", "lrg": "large", "sm": "small", "bg": "background",
    "vo": "voice", "vox": "voice", "mus": "music", "stinger": "sting", "ugg": "grunt",
}

# Folder words that only organise a collection: dropped from the normalised context.
ORGANISATIONAL = frozenset("""
attack attacks impact impacts weapon weapons fauna animal animals human humans movement death
building buildings complete select resource resources construction gathering mining lumbering foraging farming
interface alarm alarms ambient ambience weather water daytime siege destruction mounted
signal signals player campaigns conquest world tools household music string percussion wind hobbies
emergency vehicles cartoon seasonal christmas halloween hanukkah newyears symbols math faces alphabets
german filled outlined lowercase uppercase town flags roadsigns food fruit space military naturalforces
birds insects lizards mammals apes aquatic bears bovines camel cats deer dogs equines rodents marsupials
amphibians arttools dishes doors gate footsteps fire tnt
""".split())

SURFACES = frozenset("""
snow grass gravel rock stone wood dirt sand mud water ice metal glass leaves hard carpet tile concrete
marble wooden floor earth clay puddle
""".split())

CREATURES = frozenset("""
bat bear cat cow dog drake duck dwarf elf elephant ghoul goat goblin gryphon horse human lich lion
mermaid merman naga ogre orc pig sheep skeleton troll tusker wolf wose yeti zombie camel chicken cattle
animal player man woman witch hiss creature
""".split())

MELEE = frozenset("""
sword axe mace club flail hatchet knife dagger staff spear pike fist claws bite pincers tail torch hammer
whip blade squishy
""".split())
NATURAL_ATTACKS = {"bite": "bite", "claws": "claw swipe", "tail": "tail whip", "pincers": "pincer snap",
                   "fist": "punch"}
RANGED = frozenset("bow crossbow sling musket thunderstick dragonstick javelin dart net ink glob gun".split())
SIZE_WORDS = ("large", "small", "big", "long", "short", "fast", "slow", "medium", "raging", "heavy", "light",
              "weak", "old", "young", "female", "male", "great")

_VERB_ING = {"open": "opening", "close": "closing", "break": "breaking", "breaks": "breaking", "ignite": "igniting",
             "burn": "burning", "move": "moving", "fly": "flying", "collapse": "collapsing", "shoot": "shooting",
             "run": "running", "walk": "walking", "dig": "digging", "place": "placing", "fall": "falling",
             "crash": "crashing", "growl": "growling", "laugh": "laughing", "shriek": "shrieking",
             "flap": "flapping", "charge": "charging", "squeal": "squealing", "cool": "cooling",
             "extinguish": "extinguishing", "wail": "wailing", "groan": "groaning", "drip": "dripping",
             "splash": "splashing", "roar": "roaring", "bark": "barking", "swing": "swinging", "hiss": "hissing",
             "heal": "healing", "rumble": "rumbling", "creak": "creaking", "slam": "slamming", "knock": "knocking"}
_CREATURE_EVENTS = {"hit": "hurt", "hurt": "hurt", "die": "dying", "death": "dying", "dead": "dying",
                    "attack": "attacking", "growl": "growling", "shriek": "shrieking", "charge": "charging",
                    "select": "call", "order": "call", "trained": "call", "idle": "idle", "laugh": "laughing",
                    "call": "call", "damage": "hurt", "bark": "barking", "roar": "roaring", "move": "moving"}

_NUMBER = re.compile(r"^\d+[a-z]?$")
_VERSION = re.compile(r"^(v|ver|take|tk|var|alt|mix|r)\d+[a-z]?$")
_CAMEL_1 = re.compile(r"([a-z])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_ALNUM = re.compile(r"([A-Za-z])(\d)|(\d)([A-Za-z])")
_SPACE = re.compile(r"\s+")
_SEPARATORS = re.compile(r"[\s_\-./\\,;:()\[\]{}+&#@!?'\"]+")


# ---------------------------------------------------------------------------------------------
def _strip_suffix(name: str) -> str:
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix.lower() in AUDIO_EXTENSIONS else name


def split_words(name: str) -> list[str]:
    """Lower-case words of one name: split on separators, camelCase and letter/digit
    boundaries; numbers, single letters, version tags and junk tokens dropped; abbreviations
    expanded. ``"fs_snow_17"`` -> ``["footsteps", "snow"]``."""
    words: list[str] = []
    for piece in _SEPARATORS.split(_strip_suffix(name)):
        if not piece:
            continue
        low = piece.lower()
        if _VERSION.match(low) or _NUMBER.match(low):
            continue
        if low in ABBREVIATIONS:
            words += ABBREVIATIONS[low].split()
            continue
        spaced = _CAMEL_2.sub(r"\1 \2", _CAMEL_1.sub(r"\1 \2", piece))
        for _ in range(2):
            spaced = _ALNUM.sub(lambda m: f"{m.group(1) or m.group(3)} {m.group(2) or m.group(4)}", spaced)
        for token in spaced.lower().split():
            if _NUMBER.match(token) or len(token) < 2 or token in JUNK or _VERSION.match(token):
                continue
            words += ABBREVIATIONS[token].split() if token in ABBREVIATIONS else [token]
    return words


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")) and len(word) > 5:
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def path_caption(rel_path: str) -> str:
    """Raw caption from a relative path: file-name words, then each folder's words from the
    innermost outwards, as comma-separated phrases; words seen before are not repeated.
    ``"ambient/weather/rain_11.ogg"`` -> ``"rain, weather, ambient"``."""
    parts = [p for p in re.split(r"[/\\]+", str(rel_path)) if p and p not in (".", "..")]
    if not parts:
        return ""
    parts = [_strip_suffix(parts[-1])] + list(reversed(parts[:-1]))
    seen: set[str] = set()
    phrases: list[str] = []
    for part in parts:
        kept = []
        words = split_words(part)
        # "doors_door_open" (Minetest's mod-name prefix) -> "door open": of two neighbours with
        # the same stem keep the second
        words = [w for i, w in enumerate(words) if i + 1 >= len(words) or _stem(words[i + 1]) != _stem(w)]
        for word in words:
            key = _stem(word)
            if key in seen:
                continue
            seen.add(key)
            kept.append(word)
        if kept:
            phrases.append(" ".join(kept))
    return ", ".join(phrases)


# ---------------------------------------------------------------------------------------------
# Normalisation of the raw path caption
# ---------------------------------------------------------------------------------------------
_PHRASES: list[tuple[re.Pattern, str]] = [(re.compile(p), r) for p, r in [
    # Minetest block actions
    (r"^dug node$", "block breaking"),
    (r"^dug (\w+)$", r"\1 block breaking"),
    (r"^(\w+) dug$", r"\1 block breaking"),
    (r"^place node$", "placing a block"),
    (r"^place node (\w+)$", r"placing a \1 block"),
    (r"^dig wood$", "chopping wood"),
    (r"^dig stone$", "mining stone"),
    (r"^dig leaves$", "cutting leaves"),
    (r"^dig immediate$", "breaking a fragile block"),
    (r"^dig oddly breakable by hand$", "breaking a block by hand"),
    (r"^dig (\w+)$", r"digging \1"),
    (r"^(\w+) dig$", r"digging \1"),
    (r"^(fire )?flint and steel$", "striking flint and steel"),
    (r"^(tnt )?gunpowder burning$", "gunpowder fuse burning"),
    (r"^(fire )?extinguish flame$", "extinguishing a flame"),
    (r"^item smoke$", "smoke puff"),
    (r"^furnace active$", "furnace burning"),
    (r"^cool lava$", "lava cooling"),
    (r"^player damage$", "player hurt"),
    (r"^lava$", "bubbling lava"),
    (r"^water$", "flowing water"),
    # 0ad work sounds
    (r"^construction saw$", "sawing wood"),
    (r"^construction (stone|wood)$", r"hammering \1 (construction)"),
    (r"^mine (metal|stone)$", r"mining \1 with a pickaxe"),
    (r"^lumber tree$", "chopping a tree with an axe"),
    (r"^lumber tree falling$", "tree falling"),
    (r"^gather field$", "harvesting grain"),
    (r"^gather (fruit|meat)$", r"gathering \1"),
    (r"^gather (\w+) exhausted$", r"last \1 gathered"),
    (r"^hoe$", "hoeing soil"),
    (r"^leaves$", "rustling leaves"),
    # 0ad ambience, water, weather, destruction
    (r"^river (fast|medium|slow|raging)$", r"\1 river"),
    (r"^wave$", "waves"),
    (r"^day (temperate|tropical)$", r"\1 daytime ambience"),
    (r"^ambience (\w+)$", r"\1 ambience"),
    (r"^building collapse large$", "large building collapsing"),
    (r"^explosion debris$", "explosion with debris"),
    (r"^flesh impact$", "blow hitting flesh"),
    (r"^flesh stab$", "stab into flesh"),
    (r"^ship select$", "ship"),
    (r"^siege select$", "siege engine"),
    (r"^warship death$", "warship sinking"),
    (r"^warship move$", "warship moving"),
    (r"^ram attack( order)?$", "battering ram attack"),
    (r"^ram move$", "battering ram moving"),
    (r"^pig squeal move$", "pig squealing"),
    (r"^arrow flying$", "arrow flying"),
    # Wesnoth odds and ends
    (r"^cave in$", "cave-in rumble"),
    (r"^open chest$", "chest opening"),
    (r"^gold$", "gold coins"),
    (r"^bat flapping$", "bat wings flapping"),
    (r"^horse elf cantering$", "elvish horse cantering"),
    (r"^melee fire$", "flaming melee attack"),
    (r"^flame big$", "big flames"),
    (r"^flame big miss$", "missed big flame attack"),
    (r"^fuse$", "burning fuse"),
    (r"^lightning$", "lightning strike"),
    (r"^lightning miss$", "missed lightning strike"),
    (r"^miss$", "missed attack swish"),
    (r"^throw$", "throwing"),
    (r"^throwing knife$", "thrown knife"),
    (r"^throwing knife miss$", "missed thrown knife"),
    (r"^water blast$", "water blast"),
    (r"^witches laugh$", "witch laughing"),
    (r"^hiss big$", "big hiss"),
    (r"^hiss die$", "hissing creature dying"),
    (r"^hiss hit$", "hissing creature hurt"),
    (r"^dagger swish$", "dagger swish"),
    (r"^squishy strike$", "squishy strike"),
    (r"^petrified$", "petrifying spell"),
    (r"^slowed$", "slowing spell"),
    (r"^entangle$", "entangling spell"),
    (r"^heal$", "healing spell"),
    (r"^poison$", "poison spell"),
    (r"^potion$", "drinking a potion"),
    (r"^fanfare short$", "short fanfare"),
    (r"^horn$", "horn signal"),
    (r"^game start$", "game start"),
]]


def _subject(words: list[str]) -> str:
    """Reorder adjectives before the noun: "orc small" -> "small orc", "human female" -> "woman"."""
    adjectives = [w for w in words if w in SIZE_WORDS]
    nouns = [w for w in words if w not in SIZE_WORDS]
    if nouns == ["human"] or not nouns:
        if "female" in adjectives:
            adjectives.remove("female")
            nouns = ["woman"]
        elif "male" in adjectives:
            adjectives.remove("male")
            nouns = ["man"]
        elif "old" in adjectives:
            adjectives.remove("old")
            nouns = ["old man"]
    return " ".join(adjectives + nouns)


def _rewrite_head(words: list[str], context: list[str]) -> str:
    text = " ".join(words)
    for pattern, repl in _PHRASES:
        if pattern.search(text):
            return pattern.sub(repl, text)
    ctx = set(context)

    # footsteps: "footsteps snow", "snow footsteps", "footsteps sand running"
    if "footsteps" in words:
        rest = [w for w in words if w != "footsteps"]
        gait = [{"run": "running", "walk": "walking"}.get(w, w) for w in rest if w in ("running", "walking", "run", "walk")]
        surfaces = [w for w in rest if w in SURFACES]
        others = [w for w in rest if w not in surfaces and w not in ("running", "walking", "run", "walk")]
        base = " ".join(gait[:1] + ["footsteps"])
        if surfaces == ["hard"]:
            base += " on a hard floor"
        elif surfaces:
            base += " on " + " and ".join(surfaces)
        return " ".join(others + [base])
    if words == ["hooves"]:
        return "horse hooves"

    # magic: "magic holy miss" -> "missed holy magic spell"
    if words[0] == "magic" or (len(words) >= 2 and words[-1] == "magic"):
        rest = [w for w in words if w not in ("magic", "miss")]
        rest = [w for w in rest if w in SIZE_WORDS] + [w for w in rest if w not in SIZE_WORDS]
        spell = " ".join(rest + ["magic spell"]) if rest != ["missile"] else "magic missile"
        return ("missed " + spell) if "miss" in words else spell
    if words[:2] == ["faerie", "fire"]:  # ("magic missile" is handled just above)
        base = " ".join(w for w in words if w != "miss")
        return ("missed " if "miss" in words else "") + base + " spell"

    # impacts on surfaces
    if "impact" in ctx or "impact" in words:
        if words[0] == "shield" and len(words) == 2:
            return f"hit on a {words[1]} shield"
        if words[0] == "sling" and len(words) == 2 and words[1] in SURFACES:
            return f"sling stone hitting {words[1]}"
        if len(words) == 2 and words[1] in SURFACES:
            return f"{words[0]} hitting {words[1]}"
        if words in (["arrow"], ["sling"]):
            return words[0] + " impact"

    # weapons
    weapon = [w for w in words if w in MELEE or w in RANGED]
    if weapon and (weapon[0] == words[0] or words[0] in ("big", "small", "weak", "fire")) \
            and not any(w in CREATURES for w in words if w not in MELEE):
        name = weapon[0]
        mods = [w for w in words if w not in (name, "miss", "attack", "hit", "fire")]
        if "fire" in words:
            mods.append("flaming")
        noun = " ".join(mods + [name])
        ranged = name in RANGED
        if name in NATURAL_ATTACKS and "miss" not in words:
            return " ".join(mods + [NATURAL_ATTACKS[name]])
        if "miss" in words:
            return f"missed {noun} {'shot' if ranged else 'attack'}"
        if "attack" in words:
            return f"{noun} {'shot' if ranged and name not in ('javelin',) else 'throw' if name == 'javelin' else 'attack'}"
        if "hit" in words or not ranged:
            return f"{noun} hit"
        return f"{noun} shot"

    # 0ad building/resource select and complete cues
    if words[0] in ("select", "complete") and len(words) >= 2 and ctx & {"building", "resource"}:
        what = "resource" if "resource" in ctx else "building"
        return f"{' '.join(words[1:])} ({what} {'selected' if words[0] == 'select' else 'completed'})"

    # creature + event: "wolf die" -> "wolf dying", "orc small hit" -> "small orc hurt"
    events = [w for w in words if w in _CREATURE_EVENTS]
    subject_words = [w for w in words if w not in _CREATURE_EVENTS and w != "miss"]
    if events and subject_words and any(w in CREATURES or w in ("female", "male") for w in subject_words):
        event = _CREATURE_EVENTS[events[-1]]
        subject = _subject(subject_words)
        if "miss" in words:
            return f"missed {subject} {events[-1]}"
        return f"{subject} {event}"
    if events and not subject_words and len(words) <= 2:
        # "death" in a human/death folder -> "human dying"
        for word in context:
            if word in CREATURES:
                return f"{_subject([word])} {_CREATURE_EVENTS[events[-1]]}"
    if words[0] == "death" and len(words) >= 2:
        return _subject(words[1:]) + " dying"
    if len(words) == 1 and words[0] in CREATURES and "movement" in ctx:
        return f"{words[0]} moving"

    # "X miss" for anything else
    if len(words) >= 2 and words[-1] == "miss":
        return f"missed {' '.join(words[:-1])}"

    # interface: "alarm city attacked" -> "city attacked alarm"; 0ad building select/complete
    if words[0] == "alarm" and len(words) >= 2:
        return " ".join(words[1:]) + " alarm"
    if words[0] == "select" and len(words) >= 2:
        return " ".join(words[1:]) + " selected"

    # object + verb -> gerund ("door open" -> "door opening"); verb first -> object first
    if len(words) >= 2 and words[-1] in _VERB_ING:
        return " ".join(words[:-1] + [_VERB_ING[words[-1]]])
    if len(words) == 2 and words[0] in _VERB_ING and words[1] not in SIZE_WORDS:
        return f"{words[1]} {_VERB_ING[words[0]]}"
    if len(words) == 1 and words[0] in _VERB_ING:
        return _VERB_ING[words[0]]
    # trailing size/speed adjective goes first ("fire large" -> "large fire")
    if len(words) >= 2 and words[-1] in SIZE_WORDS:
        return " ".join([words[-1]] + words[:-1])
    return text


_CONTEXT_KEEP = ("weather", "ambient", "water", "impact", "siege", "ship", "magic", "animal", "horn", "building")


def normalise_path_caption(raw: str) -> str:
    """Raw path caption -> ``head`` or ``head (context, ...)`` (see the module docstring)."""
    raw = clean_caption(raw)
    if not raw:
        return ""
    phrases = [p.strip() for p in raw.split(",") if p.strip()]
    head_words = phrases[0].split()
    folders = phrases[1:]
    folder_words = [w for p in folders for w in p.split()]
    head = _SPACE.sub(" ", _rewrite_head(head_words, folder_words)).strip()
    inner = ""
    m = re.match(r"^(.*?) \((.*)\)$", head)
    if m:  # the head rule already wrote a context
        head, inner = m.group(1), m.group(2)
    head_stems = {_stem(w) for w in re.split(r"[\s,()-]+", head + " " + inner) if w}
    context: list[str] = [inner] if inner else []
    for phrase in folders:
        words = [w for w in phrase.split() if w not in ORGANISATIONAL and _stem(w) not in head_stems]
        if words:
            context.append(" ".join(words))
            head_stems |= {_stem(w) for w in words}
    if len(head.split()) == 1:  # a bare noun: keep the most telling folder word as context
        for w in folder_words:
            if w in _CONTEXT_KEEP and _stem(w) not in head_stems:
                context.append(w)
                break
    context = [("interface sound" if c == "ui" else c) for c in context]
    return f"{head} ({', '.join(context)})" if context else head


def caption_from_path(rel_path: str) -> str:
    """Convenience: `normalise_path_caption(path_caption(rel_path))`."""
    return normalise_path_caption(path_caption(rel_path))
