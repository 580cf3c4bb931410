"""Captions from paths (training/captions.py) and categories (training/categories.py), on real
file names from the Debian packages 0ad-data, wesnoth-1.16-data, minetest-data and
tuxpaint-stamps-default (as laid out by debian_foley.py)."""
from __future__ import annotations

import pytest

from audiogan_training.captions import (caption_from_path, clean_caption, normalise_path_caption, path_caption,
                                        split_words)
from audiogan_training.categories import CATEGORIES, category_counts, category_for, category_names


@pytest.mark.parametrize("name, words", [
    ("fs_snow_17", ["footsteps", "snow"]),
    ("Foorstep_Sand_Running", ["footsteps", "sand", "running"]),
    ("hstep_run_dirt_MN_11", ["footsteps", "run", "dirt"]),
    ("swordhit_12b", ["sword", "hit"]),
    ("alarmcreatemiltaryfoot_1", ["alarm", "infantry", "ready"]),
    ("amb_port_v2_loop.ogg", ["ambience", "port"]),
    ("WpnExplSfx01", ["weapon", "explosion"]),
    ("bow-puny-fire-miss", ["bow", "weak", "fire", "miss"]),
    ("default_dig_choppy.1.ogg", ["dig", "wood"]),
    ("mstep110", ["hooves"]),
    ("sz11", ["sz"]),
    ("snd_ui_click_take3", ["ui", "click"]),
])
def test_split_words(name, words):
    assert split_words(name) == words


@pytest.mark.parametrize("path, raw", [
    ("ambient/weather/rain_11.ogg", "rain, weather, ambient"),
    ("actor/singlesteps/fs_snow_17.ogg", "footsteps snow"),
    ("attack/impact/arrow_metal_04.ogg", "arrow metal, impact, attack"),
    ("doors/doors_door_open.ogg", "door open"),
    ("actor/fauna/death/death_camel_10.ogg", "death camel, fauna"),
    ("interface/alarm/alarmattackcity_1.ogg", "alarm city attacked, interface"),
    ("sounds/ambient/birds1.ogg", "birds, ambient"),
])
def test_raw_path_caption(path, raw):
    assert path_caption(path) == raw


# (path as laid out under out_dir/<package>/, expected normalised caption)
REAL_EXAMPLES = [
    # 0ad-data
    ("ambient/weather/rain_11.ogg", "rain (weather)"),
    ("actor/singlesteps/fs_snow_17.ogg", "footsteps on snow"),
    ("actor/human/movement/Footsteps/Footstep_Gravel_Running.ogg", "running footsteps on gravel"),
    ("actor/human/movement/hstep_run_dirt_MN_11.ogg", "running footsteps on dirt"),
    ("actor/mounted/movement/mstep110.ogg", "horse hooves"),
    ("actor/human/death/male_death_17.ogg", "man dying"),
    ("actor/human/death/female_death_03.ogg", "woman dying"),
    ("actor/human/death/death_11.ogg", "human dying"),
    ("actor/fauna/death/death_camel_10.ogg", "camel dying"),
    ("actor/fauna/animal/elephant_attack1.ogg", "elephant attacking"),
    ("actor/fauna/animal/horse_select1.ogg", "horse call"),
    ("actor/fauna/animal/pig_squeal_move.ogg", "pig squealing"),
    ("actor/gate/stonegate_open_21.ogg", "stone gate opening"),
    ("actor/ship/warship_death_01.ogg", "warship sinking (ship)"),
    ("ambient/water/river_med_21.ogg", "medium river"),
    ("ambient/water/wavecrash_21.ogg", "waves crashing"),
    ("ambient/weather/windleaves_10.ogg", "wind in leaves"),
    ("ambient/dayscape/day_temperate_gen_01.ogg", "temperate daytime ambience"),
    ("ambient/building/amb_port_10.ogg", "port ambience"),
    ("attack/impact/arrow_metal_04.ogg", "arrow hitting metal"),
    ("attack/impact/shield_wood_07.ogg", "hit on a wood shield"),
    ("attack/impact/sling_stone_05.ogg", "sling stone hitting stone"),
    ("attack/impact/fleshstab_02.ogg", "stab into flesh"),
    ("attack/weapon/swordhit_14a.ogg", "sword hit"),
    ("attack/weapon/bow_attack_03.ogg", "bow shot"),
    ("attack/weapon/jav_attack_02.ogg", "javelin throw"),
    ("attack/weapon/Musket_2.ogg", "musket shot"),
    ("attack/weapon/arrowfly_05.ogg", "arrow flying"),
    ("attack/siege/ram_attack.ogg", "battering ram attack"),
    ("attack/siege/onager_shooting_11.ogg", "onager catapult shooting"),
    ("attack/destruction/building_collapse_large_02.ogg", "large building collapsing"),
    ("attack/fire/crackling_fire.ogg", "crackling fire"),  # c_11.ogg, named by its SoundGroup
    ("interface/alarm/alarmattackcity_1.ogg", "city attacked alarm"),
    ("interface/select/building/sel_forge.ogg", "forge (building selected)"),
    ("interface/complete/building/complete_temple.ogg", "temple (building completed)"),
    ("interface/select/resource/sel_tree_01.ogg", "tree (resource selected)"),
    ("resource/construction/con_saw_04.ogg", "sawing wood"),
    ("resource/construction/con_stone_02.ogg", "hammering stone (construction)"),
    ("resource/mining/mine_metal_11.ogg", "mining metal with a pickaxe"),
    ("resource/lumbering/lumber_tree_13.ogg", "chopping a tree with an axe"),
    ("resource/lumbering/lumber_treeexpire_02.ogg", "tree falling"),
    ("resource/gathering/gather_field_22.ogg", "harvesting grain"),
    ("resource/farming/hoe_12.ogg", "hoeing soil"),
    # wesnoth-1.16-data
    ("wolf-growl-3.ogg", "wolf growling"),
    ("orc-small-hit-2.ogg", "small orc hurt"),
    ("human-female-die-1.ogg", "woman dying"),
    ("human-old-hit-4.ogg", "old man hurt"),
    ("skeleton-big-die.ogg", "big skeleton dying"),
    ("bow-puny-fire-miss.ogg", "missed weak flaming bow shot"),
    ("crossbow.ogg", "crossbow shot"),
    ("sword-1.ogg", "sword hit"),
    ("mace-miss.ogg", "missed mace attack"),
    ("claws.ogg", "claw swipe"),
    ("magic-holy-miss-3.ogg", "missed holy magic spell"),
    ("magic-dark-big.ogg", "big dark magic spell"),
    ("magic-missile-2.ogg", "magic missile"),
    ("horse-canter.wav", "horse cantering"),
    ("dwarf-laugh.wav", "dwarf laughing"),
    ("ambient/birds2.ogg", "birds (ambient)"),
    ("horn-signals/horn-5.ogg", "horn signal"),
    ("open-chest.wav", "chest opening"),
    ("ui/button.wav", "button (interface sound)"),
    ("fanfare-short.wav", "short fanfare"),
    # minetest-data (the builder strips the "<mod>_" prefix when two or more words remain)
    ("default/dirt_footstep.1.ogg", "footsteps on dirt"),
    ("default/hard_footstep.2.ogg", "footsteps on a hard floor"),
    ("default/dig_choppy.2.ogg", "chopping wood"),
    ("default/dig_cracky.1.ogg", "mining stone"),
    ("default/dug_node.1.ogg", "block breaking"),
    ("default/place_node_metal.2.ogg", "placing a metal block"),
    ("default/break_glass.3.ogg", "glass breaking"),
    ("doors/door_open.ogg", "door opening"),
    ("doors/fencegate_close.ogg", "fence gate closing"),
    ("fire/fire_large.ogg", "large fire"),
    ("fire/flint_and_steel.ogg", "striking flint and steel"),
    ("tnt/tnt_explode.ogg", "tnt explosion"),
    ("tnt/tnt_ignite.ogg", "tnt igniting"),
    ("carts/cart_moving.1.ogg", "cart moving"),
    ("env_sounds/env_sounds_water.1.ogg", "flowing water"),
    # tuxpaint (the builder prefers the stamp's sentence; the path caption is the fallback)
    ("animals/insects/mosquito.ogg", "mosquito"),
]


@pytest.mark.parametrize("path, caption", REAL_EXAMPLES)
def test_normalised_captions_of_real_names(path, caption):
    assert caption_from_path(path) == caption


def test_issue_examples():
    assert path_caption("ambient/weather/rain_11.ogg") == "rain, weather, ambient"
    assert caption_from_path("fs_snow_17") == "footsteps on snow"
    assert caption_from_path("fs_snow_17.ogg") == "footsteps on snow"


def test_normalise_is_idempotent_on_plain_phrases_and_empty_input():
    assert normalise_path_caption("") == ""
    assert normalise_path_caption("rain") == "rain"
    assert path_caption("") == "" and path_caption("01.wav") == "" and path_caption("sfx/snd_01.ogg") == ""


def test_clean_caption_only_touches_whitespace():
    assert clean_caption("  A frog.\n\tCroaks  twice ") == "A frog. Croaks twice"
    assert clean_caption("Hard candy—yum!") == "Hard candy—yum!"
    assert clean_caption("Cafe\u0301") == "Café"  # NFC
    assert clean_caption("bell\x00ring") == "bell ring"
    assert clean_caption(None) == ""


@pytest.mark.parametrize("caption, category", [
    ("footsteps on snow", "footsteps"),
    ("horse hooves", "footsteps"),
    ("arrow hitting metal", "bow_arrow"),
    ("missed weak flaming bow shot", "bow_arrow"),
    ("hit on a metal shield", "sword_melee_hit"),
    ("sword hit", "sword_melee_hit"),
    ("chopping a tree with an axe", "wood_chopping"),
    ("crackling fire", "fire"),
    ("rain (weather)", "wind_weather"),
    ("raging river", "water"),
    ("man dying", "voice"),
    ('a voice saying "Seven"', "voice"),
    ("small orc hurt", "monster"),
    ("drake hurt", "monster"),
    ("A drake.", "bird"),
    ("wolf growling", "dog_wolf"),
    ("A dog.", "dog_wolf"),
    ("horse call", "horse"),
    ("A Tamworth pig.", "farm_animal"),
    ("An hippopotamus.", "wild_animal"),
    ("battering ram attack", "siege_weapon"),
    ("tnt explosion", "explosion_gunshot"),
    ("musket shot", "explosion_gunshot"),
    ("holy magic spell", "magic"),
    ("Maglev train station departure", "train"),
    ("cart moving", "train"),
    ("Modern car horn", "vehicle_engine"),
    ("A fire truck.", "vehicle_engine"),
    ("door opening", "door"),
    ("harvesting grain", "gathering_coins"),
    ("gold coins", "gathering_coins"),
    ("mining stone with a pickaxe", "construction_tools"),
    ("city attacked alarm", "ui"),
    ("button (interface sound)", "ui"),
    ("temperate daytime ambience", "ambience"),
    ("horn signal", "music_sting"),
    ("A violin.", "music_sting"),
    ("A rubber duck.", None),
    ("Toyland: Toy factory", None),
])
def test_category_for(caption, category):
    assert category_for(caption) == category


def test_categories_table():
    names = category_names()
    assert len(names) == len(set(names)) >= 15
    assert dict(CATEGORIES).keys() == set(names)
    counts = category_counts(["sword hit", "sword hit", "A rubber duck."])
    assert counts == {"sword_melee_hit": 2, "uncategorised": 1}


def _phrase_examples(pattern: str) -> list[str]:
    """Every string a phrase rule's (simple) regex matches, with each \\w+ standing for one word."""
    try:
        import re._constants as c
        import re._parser as parser
    except ImportError:  # Python < 3.11
        import sre_constants as c
        import sre_parse as parser

    def expand(parsed) -> list[str]:
        outs = [""]
        for op, av in parsed:
            if op is c.LITERAL:
                opts = [chr(av)]
            elif op is c.AT:
                opts = [""]
            elif op is c.SUBPATTERN:
                opts = expand(av[-1])
            elif op is c.BRANCH:
                opts = [s for branch in av[1] for s in expand(branch)]
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[:2] == (0, 1):
                opts = [""] + expand(av[2])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):  # \w+
                opts = ["wordy"]
            else:
                raise AssertionError(f"phrase rule {pattern!r} uses {op}: extend this helper")
            outs = [a + b for a in outs for b in opts]
        return outs

    return expand(parser.parse(pattern))


def test_every_phrase_rule_can_fire():
    """A rule whose every input an earlier rule already matches is dead weight (and a trap: editing
    it changes nothing). Each rule must be the first match for at least one input it accepts."""
    from audiogan_training.captions import _PHRASES

    dead = []
    for i, (pattern, _) in enumerate(_PHRASES):
        firsts = {next(j for j, (p, _) in enumerate(_PHRASES) if p.search(text))
                  for text in _phrase_examples(pattern.pattern)}
        if i not in firsts:
            dead.append(f"{pattern.pattern} (shadowed by {[_PHRASES[j][0].pattern for j in sorted(firsts)]})")
    assert dead == []


@pytest.mark.parametrize("raw, caption", [
    ("flint and steel", "striking flint and steel"), ("fire flint and steel", "striking flint and steel"),
    ("gunpowder burning", "gunpowder fuse burning"), ("extinguish flame", "extinguishing a flame"),
    ("magic missile", "magic missile"), ("magic missile miss", "missed magic missile"),
    ("faerie fire", "faerie fire spell"), ("faerie fire miss", "missed faerie fire spell"),
])
def test_rules_that_stay_after_removing_the_dead_ones(raw, caption):
    assert normalise_path_caption(raw) == caption
