"""The wider Debian foley library (issue #23): archive readers, each new source's discovery on
synthetic paths, category stability for the first library's captions, the held-out list, and a
small end-to-end build from a fake package."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiogan_training.categories import call_counts, category_for
from audiogan_training.sampling import _unit_hash
from audiogan_training.foley_sources import (action, adventure, builder, casual, classic, common, megaglest,
                                             openclonk, registry)
from audiogan_training.foley_sources.archives import (ArchiveError, c4_scramble, parse_c4group, parse_cat,
                                                      read_c4group, write_c4group)

FIXTURE = Path(__file__).parent / "fixtures" / "debian_foley_v1.json"
NO_LICENCE = common.CopyrightInfo([], "")  # a package whose copyright file says nothing usable


def _wav(seconds=0.05, rate=8000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, (0.1 * np.sin(np.arange(int(seconds * rate)) * 0.2)).astype(np.float32), rate, format="WAV",
             subtype="PCM_16")
    return buf.getvalue()


def _by_rel(clips):
    return {c.rel: c.caption for c in clips}


def _reasons(skipped):
    return {s["raw_name"]: s["reason"] for s in skipped}


# ------------------------------------------------------------------------------------------------
# Archives
# ------------------------------------------------------------------------------------------------
def test_c4group_round_trip_with_child_groups():
    wav = _wav()
    data = write_c4group({"authors.txt": b"hello", "Animals.ocg": {"Bat.ocg": {"Chirp.wav": wav}, "Buzz.ogg": b"O"}})
    assert data[:2] == b"\x1e\x8c"
    assert read_c4group(data) == [("authors.txt", b"hello"), ("Animals.ocg/Bat.ocg/Chirp.wav", wav),
                                  ("Animals.ocg/Buzz.ogg", b"O")]
    assert c4_scramble(c4_scramble(b"RedWolf Design")) == b"RedWolf Design"


def test_c4group_reads_the_real_openclonk_sound_group():
    path = Path("/usr/share/games/openclonk/Sound.ocg")
    if not path.is_file():
        pytest.skip("openclonk-data not installed")
    members = dict(read_c4group(path.read_bytes(), path.name))
    assert members["Animals.ocg/Bat.ocg/Chirp.wav"][:4] == b"RIFF"
    assert "CC Attribution 3.0" in members["authors.txt"].decode("latin-1")


@pytest.mark.parametrize("damage, message", [
    (lambda d: b"\x1f\x8b" + d[2:], "not a C4Group file"),  # a plain gzip, not a group
    (lambda d: d[: len(d) // 2], "cut off"),  # truncated download
    (lambda d: d[:40] + bytes(b ^ 0xFF for b in d[40:80]) + d[80:], "damaged|cut off"),  # flipped bytes
    (lambda d: b"", "not a C4Group file"),
])
def test_c4group_damaged_files_raise_archive_error(damage, message):
    good = write_c4group({"a.wav": _wav(0.2), "b.wav": _wav(0.3)})
    with pytest.raises(ArchiveError, match=message):
        read_c4group(damage(good))


def test_c4group_bad_headers_and_entries_are_refused():
    raw = write_c4group({"a.wav": b"1234"}, compress=False)
    with pytest.raises(ArchiveError, match="not a C4Group"):
        parse_c4group(b"X" * len(raw))
    with pytest.raises(ArchiveError, match="header cut off"):
        parse_c4group(raw[:100])
    # an entry whose offset points past the end
    bad = bytearray(raw)
    bad[204 + 260 + 16: 204 + 260 + 20] = (10_000).to_bytes(4, "little")
    with pytest.raises(ArchiveError, match="outside the group"):
        parse_c4group(bytes(bad))
    # a member name that would leave the library folder
    with pytest.raises(ArchiveError, match="unsafe member name"):
        read_c4group(write_c4group({"../../evil.wav": b"x"}))


def test_parse_cat_refuses_cut_off_entries():
    wav = _wav()
    name = b'"Horn".\x00'
    good = (8 | 0x80000000).to_bytes(4, "little") + len(wav).to_bytes(4, "little") + bytes([len(name)]) + name + wav
    assert parse_cat(good)[0][1] == wav
    with pytest.raises(ArchiveError, match="cut off"):
        parse_cat(good[:-10])


def test_damaged_archives_of_the_first_sources_are_skipped_and_listed(tmp_path):
    cat = tmp_path / "opensfx.cat"
    cat.write_bytes(b"\x10\x00\x00\x80" + b"\x00" * 3)
    assert classic.discover_openttd([cat], NO_LICENCE)[0] == []
    assert "unreadable archive" in classic.discover_openttd([cat], NO_LICENCE)[1][0]["reason"]
    zpath = tmp_path / "mods" / "public" / "public.zip"
    zpath.parent.mkdir(parents=True)
    zpath.write_bytes(b"PK\x03\x04 this is not a zip")
    clips, skipped = classic.discover_0ad([zpath], NO_LICENCE)
    assert clips == [] and "unreadable archive" in skipped[0]["reason"]
    # a member name that climbs out of the folder is skipped, its neighbours kept
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("audio/actor/fauna/animal/dog_bark.ogg", b"x")
        z.writestr("audio/actor/../../../evil.ogg", b"x")
    clips, skipped = classic.discover_0ad([zpath], NO_LICENCE)
    assert [c.rel for c in clips] == ["actor/fauna/animal/dog_bark.ogg"]
    assert any("unsafe member name" in s["reason"] for s in skipped)


# ------------------------------------------------------------------------------------------------
# Sources, on synthetic paths (the files need not exist: discovery reads names only)
# ------------------------------------------------------------------------------------------------
def test_discover_btanks():
    root = "/usr/share/games/btanks/data"
    paths = [f"{root}/sounds/ambient/swamp.ogg", f"{root}/sounds/cannon3.ogg", f"{root}/sounds/cow.ogg",
             f"{root}/sounds/taking-item-2.ogg", f"{root}/sounds/menu/select.ogg", f"{root}/tunes/glory.ogg",
             f"{root}/tunes/boss-1.ogg", f"{root}/sounds/no-such-name.ogg", f"{root}/maps/x.map"]
    clips, skipped = action.discover_btanks([Path(p) for p in paths], NO_LICENCE)
    assert _by_rel(clips) == {"ambient/swamp.ogg": "swamp ambience", "cannon3.ogg": "cannon shot",
                              "cow.ogg": "a cow mooing", "menu/select.ogg": "menu click (interface sound)"}
    reasons = _reasons(skipped)
    assert reasons["tunes/* (2 files)"] == common.MUSIC
    assert reasons["taking-item-2.ogg"] == common.GAME_CUE and reasons["no-such-name.ogg"] == common.UNCLEAR
    assert {c.licence for c in clips} == {"GPL-2+"} and {c.caption_source for c in clips} == {"table"}


def test_discover_scorched3d_uses_the_mod_licence():
    root = "/usr/share/games/scorched3d/data/globalmods"
    paths = [f"{root}/none/data/wav/misc/birds1.wav", f"{root}/apoc/data/wav/misc/cheeringloop.wav",
             f"{root}/none/data/wav/misc/f16_2.wav", f"{root}/none/data/music/mix3_loop1.ogg",
             f"{root}/none/data/wav/misc/laserdeath.wav"]
    licences = common.CopyrightInfo([(["*"], "GPL-2+"), (["data/globalmods/apoc/*"], "CC-BY-SA-3")], "")
    clips, skipped = action.discover_scorched3d([Path(p) for p in paths], licences)
    assert _by_rel(clips) == {"none/misc/birds1.wav": "birds singing", "apoc/misc/cheeringloop.wav": "a crowd cheering",
                              "none/misc/f16_2.wav": "a fighter jet flying"}
    assert {c.rel: c.licence for c in clips}["apoc/misc/cheeringloop.wav"] == "CC-BY-SA-3"
    assert {c.rel: c.licence for c in clips}["none/misc/birds1.wav"] == "GPL-2+"
    assert set(_reasons(skipped)) == {"none/music/* (1 files)", "none/misc/laserdeath.wav"}


def test_discover_redeclipse_leaves_out_speech_and_music():
    root = "/usr/share/games/redeclipse/data"
    paths = [f"{root}/sounds/ambience/waterfall_deep.ogg", f"{root}/sounds/ambience/morph/stormbolts.ogg",
             f"{root}/sounds/ambience/morph/ambient7.ogg", f"{root}/sounds/weapons/rifle/primary2.ogg",
             f"{root}/sounds/weapons/rifle/notify.ogg", f"{root}/sounds/voice/niceshot.ogg",
             f"{root}/sounds/announcer/firstblood.ogg", f"{root}/sounds/music/track_01.ogg",
             f"{root}/sounds/theme.ogg", f"{root}/maps/tonatiuh.ogg", f"{root}/sounds/player/pain3.ogg"]
    clips, skipped = action.discover_redeclipse([Path(p) for p in paths], NO_LICENCE)
    assert _by_rel(clips) == {"ambience/waterfall_deep.ogg": "a deep waterfall",
                              "ambience/morph/stormbolts.ogg": "a thunderstorm",
                              "weapons/rifle/primary2.ogg": "rifle shot",
                              "player/pain3.ogg": "a person grunting in pain"}
    reasons = _reasons(skipped)
    assert reasons["voice/* (1 files)"].startswith(common.SPEECH)
    assert reasons["announcer/* (1 files)"].startswith(common.SPEECH)
    assert reasons["music/* (1 files)"] == common.MUSIC and reasons["sounds/* (1 files)"].startswith(common.MUSIC)
    assert reasons["weapons/rifle/notify.ogg"] == common.GAME_CUE
    assert reasons["ambience/morph/ambient7.ogg"] == common.UNCLEAR
    assert {c.licence for c in clips} == {"CC-BY-SA-3.0"}  # the fallback when the copyright file says nothing


def test_discover_supertuxkart_finds_music_through_music_files(tmp_path):
    data = tmp_path / "supertuxkart" / "data"
    (data / "tracks" / "cave").mkdir(parents=True)
    (data / "tracks" / "cave" / "cave.music").write_text('<music title="x" file="beneath_the_rabbit_hole.ogg"/>')
    paths = [data / "sfx" / "exotic-birds_2.ogg", data / "sfx" / "sara_airport_pa.ogg", data / "sfx" / "gp_end.ogg",
             data / "tracks" / "cave" / "beneath_the_rabbit_hole.ogg", data / "tracks" / "scotland" / "sheep.ogg",
             data / "library" / "stklib_steamLocomotive_a" / "steamLocomotive.ogg", data / "music" / "menu.ogg",
             data / "tracks" / "cave" / "cave.music"]
    clips, skipped = casual.discover_supertuxkart(paths, NO_LICENCE)
    assert _by_rel(clips) == {"sfx/exotic-birds_2.ogg": "exotic birds singing",
                              "tracks/scotland/sheep.ogg": "sheep bleating",
                              "library/stklib_steamLocomotive_a/steamLocomotive.ogg": "steam locomotive running"}
    reasons = _reasons(skipped)
    assert reasons["tracks/cave/beneath_the_rabbit_hole.ogg"].startswith(common.MUSIC)
    assert reasons["sfx/sara_airport_pa.ogg"].startswith(common.SPEECH)
    assert reasons["sfx/gp_end.ogg"] == common.MUSIC and reasons["music/* (1 files)"] == common.MUSIC
    assert {c.licence for c in clips} == {"GPL-3+"}


def test_discover_lugaru_maps_licences_to_the_upstream_layout():
    root = "/usr/share/games/lugaru/Sounds"
    paths = [f"{root}/FootStepSnow2.ogg", f"{root}/Wind.ogg", f"{root}/Music1Snow.ogg", f"{root}/RabbitAttack3.ogg"]
    licences = common.CopyrightInfo([(["*"], "GPL-2+"), (["Data/*"], "CC-BY-SA-3.0")], "")
    clips, skipped = casual.discover_lugaru([Path(p) for p in paths], licences)
    assert _by_rel(clips) == {"FootStepSnow2.ogg": "footsteps on snow", "Wind.ogg": "wind"}
    assert {c.licence for c in clips} == {"CC-BY-SA-3.0"}
    assert _reasons(skipped) == {"RabbitAttack3.ogg": common.UNCLEAR, "Music* (1 files)": common.MUSIC}


def test_mp3_with_undecodable_tail_is_kept_as_wav(tmp_path):
    from audiogan_training.library_scan import probe_audio

    rate = 16000
    sf.write(tmp_path / "full.mp3", (0.3 * np.sin(np.arange(rate) * 0.05)).astype(np.float32), rate, format="MP3")
    cut = tmp_path / "Scream-male2.mp3"
    cut.write_bytes((tmp_path / "full.mp3").read_bytes()[:-300])  # Scratch's MP3s end like this
    assert probe_audio(cut, 600)[1].kind == "truncated"  # the library scan would refuse it
    clip = common.as_wav(common.table_clip("scratch", cut, "Human/Scream-male2.mp3", "a man screaming", "CC-BY-SA-3.0"))
    assert clip.rel == "Human/Scream-male2.wav" and clip.source_path is None and clip.original == str(cut)
    (tmp_path / "out.wav").write_bytes(clip.data)
    duration, problem = probe_audio(tmp_path / "out.wav", 600)
    assert problem is None and 0.8 < duration < 1.0


def test_discover_scratch_and_qabcs(tmp_path):
    root = f"{tmp_path}/usr/share/scratch/Media/Sounds"  # no files there: the MP3 stays as it is named
    paths = [f"{root}/Animal/WolfHowl.wav", f"{root}/Human/Laugh-male2.wav", f"{root}/Human/BabyCry.mp3",
             f"{root}/Effects/BellToll.wav", f"{root}/Vocals/Sing-me-a-song.mp3", f"{root}/Music Loops/Cave.mp3",
             f"{root}/Electronic/Zoop.wav"]
    clips, skipped = casual.discover_scratch([Path(p) for p in paths], NO_LICENCE)
    assert _by_rel(clips) == {"Animal/WolfHowl.wav": "a wolf howling", "Human/Laugh-male2.wav": "a man laughing",
                              "Human/BabyCry.mp3": "a baby crying", "Effects/BellToll.wav": "a bell tolling"}
    assert _reasons(skipped)["Vocals/* (1 files)"].startswith(common.SPEECH)
    assert _reasons(skipped)["Music Loops/* (1 files)"] == common.MUSIC
    root = "/usr/share/qabcs/abcs"
    paths = [f"{root}/all/noises/rooster.ogg", f"{root}/all/noises/quilt.ogg", f"{root}/all/noises/violin.ogg",
             f"{root}/en/sounds/words/apple.ogg", f"{root}/en/sounds/alpha/A.ogg"]
    clips, skipped = casual.discover_qabcs([Path(p) for p in paths], NO_LICENCE)
    assert _by_rel(clips) == {"rooster.ogg": "a rooster crowing"} and clips[0].licence == "GPL-3+"
    assert [s["reason"] for s in skipped] == [
        "instruments (music) and objects whose name does not say what the noise is",
        common.SPEECH + " (letters and words)"]


def test_discover_megaglest_speech_deaths_calls_and_tilesets():
    root = "/usr/share/games/megaglest"
    units = f"{root}/techs/megapack/factions"
    paths = [f"{units}/tech/units/swordman/sounds/swordman_die3.wav",
             f"{units}/tech/units/swordman/sounds/swordman_ack2.wav",
             f"{units}/persian/units/princess/sounds/princess_die1.wav",
             f"{units}/indian/units/bull/sounds/bull_select2.wav",
             f"{units}/norsemen/units/battleaxe/sounds/daemon_attack4.wav",
             f"{units}/magic/units/ghost_armor/sounds/ghost_armor_attack1.wav",
             f"{units}/magic/music/music_magic.ogg", f"{root}/techs/megapack/commondata/sounds/arrow_hit3.wav",
             f"{root}/tilesets/birch_forest/sounds/night.ogg", f"{root}/tilesets/meadow/sounds/night.ogg",
             f"{root}/data/core/water_sounds/water3.wav"]
    clips, skipped = megaglest.discover_megaglest([Path(p) for p in paths], NO_LICENCE)
    assert _by_rel(clips) == {
        "factions/tech/swordman/swordman_die3.wav": "a man dying",
        "factions/persian/princess/princess_die1.wav": "a woman dying",
        "factions/indian/bull/bull_select2.wav": "a bull bellowing",
        "factions/norsemen/battleaxe/daemon_attack4.wav": "a demon attacking",  # the file's own name
        "commondata/arrow_hit3.wav": "arrow hit", "tilesets/birch_forest/night.ogg": "forest night ambience",
        "tilesets/meadow/night.ogg": "night ambience", "core/water_sounds/water3.wav": "water splash"}
    reasons = _reasons(skipped)
    assert reasons["factions/tech/swordman/swordman_ack2.wav"].startswith(common.SPEECH)
    assert reasons["factions/magic/ghost_armor/ghost_armor_attack1.wav"] == common.UNCLEAR
    assert reasons["**/music/* (1 files)"] == common.MUSIC
    assert {c.licence for c in clips} == {"CC-BY-SA-3.0"}


def test_discover_openclonk_from_groups_with_licences_from_authors_txt(tmp_path):
    root = tmp_path / "usr/share/games/openclonk"
    root.mkdir(parents=True)
    authors = (b"If not stated otherwise, the sound effects are licensed under the\nCC Attribution 3.0 license\n\n"
               b"someone  - Fire/Fire, Hits/GeneralHit1\n\n"
               b"The following sound effects are licensed under the CC 0 license (public domain):\n\n"
               b"mrmayo\t\t- Balloon/Pop (http://example.org/1)\n"
               b"adcbicycle\t- SoftTouch* (http://example.org/2)\n\t\t\t\t- RockHit1-3 (http://example.org/3)\n")
    wav = _wav()
    (root / "Sound.ocg").write_bytes(write_c4group({
        "authors.txt": authors,
        "Objects.ocg": {"Balloon.ocg": {"Pop.wav": wav, "Inflate.wav": wav}},
        "Hits.ocg": {"SoftTouch2.ogg": wav, "Materials.ocg": {"Rock.ocg": {"RockHit2.ogg": wav}}},
        "Fire.ocg": {"Fire.ogg": wav},
        "Clonk.ocg": {"Skin.ocg": {"Farmer.ocg": {"Die1.wav": wav, "Confirm1.wav": wav}}},
        "UI.ocg": {"Fanfare.wav": wav, "Mystery.wav": wav}}))
    (root / "Objects.ocd").write_bytes(b"\x1e\x8c\x08\x00garbage")  # a damaged group: skipped, listed
    (root / "Music.ocg").mkdir()
    files = sorted(root.iterdir()) + [root / "Music.ocg" / "Cavern.ogg"]
    clips, skipped = openclonk.discover_openclonk(files, NO_LICENCE)
    by_rel = {c.rel: (c.caption, c.licence) for c in clips}
    assert by_rel == {
        "Sound/Objects/Balloon/Pop.wav": ("balloon popping", "CC0-1.0"),
        "Sound/Objects/Balloon/Inflate.wav": ("balloon inflating", "CC-BY-3.0"),
        "Sound/Hits/SoftTouch2.ogg": ("soft touch", "CC0-1.0"),
        "Sound/Hits/Materials/Rock/RockHit2.ogg": ("rock hit", "CC0-1.0"),
        "Sound/Fire/Fire.ogg": ("fire burning", "CC-BY-3.0"),
        "Sound/Clonk/Skin/Farmer/Die1.wav": ("a person dying", "CC-BY-3.0")}
    assert all(c.data == wav and "Sound.ocg::" in c.original for c in clips)
    reasons = _reasons(skipped)
    assert reasons[str(root / "Objects.ocd")].startswith("unreadable archive")
    assert reasons["Sound/Clonk/Skin/Farmer/Confirm1.wav"].startswith(common.SPEECH)
    assert reasons["Sound/UI/Fanfare.wav"] == common.MUSIC and reasons["Sound/UI/Mystery.wav"] == common.UNCLEAR
    assert reasons["Music.ocg/* (1 files)"] == common.MUSIC


def test_discover_triplea_reads_the_words_after_the_number():
    root = "/usr/share/games/triplea/assets/sounds"
    paths = [f"{root}/ww2/battle_land/battle_land_02_machine_gun_fire.mp3",
             f"{root}/preindustrial/battle_land/battle_land_05_musket_volley.mp3",
             f"{root}/future/others/alien_siren.mp3", f"{root}/generic/chat_slap/chat_slap_01.mp3",
             f"{root}/classical/game_start/game_start_02_gladiator_entrance.mp3",
             f"{root}/ww2/required_your_turn_series_Germans/Germans_Anthem_Intro.mp3",
             f"{root}/misc/territory_capture_land/territory_capture_land_01_massacre.mp3"]
    clips, skipped = action.discover_triplea([Path(p) for p in paths], NO_LICENCE)
    assert _by_rel(clips) == {"ww2/battle_land/battle_land_02_machine_gun_fire.mp3": "machine gun fire",
                              "preindustrial/battle_land/battle_land_05_musket_volley.mp3": "a musket volley",
                              "future/others/alien_siren.mp3": "alien siren"}
    assert {c.licence for c in clips} == {"GPL-2+"}
    assert _reasons(skipped) == {
        "generic/chat_slap/chat_slap_01.mp3": common.GAME_CUE,  # nothing after the number
        "classical/game_start/game_start_02_gladiator_entrance.mp3": common.MUSIC,
        "misc/territory_capture_land/territory_capture_land_01_massacre.mp3": common.UNCLEAR,
        "**/*Anthem* (1 files)": common.MUSIC + " (national anthems)"}


def test_discover_flare_and_unknown_horizons():
    root = "/usr/share/games/flare/mods"
    core = f"{root}/fantasycore/soundfx"
    paths = [f"{core}/environment/wind_loop.ogg", f"{core}/male_die.ogg", f"{core}/steps/step_metal3.ogg",
             f"{core}/npcs/male_merchant_02.ogg", f"{core}/level_up.ogg", f"{core}/powers/timestop.ogg",
             f"{root}/empyrean_campaign/soundfx/environment/rain.ogg", f"{root}/fantasycore/music/title_theme.ogg"]
    clips, skipped = adventure.discover_flare([Path(p) for p in paths], NO_LICENCE)
    assert _by_rel(clips) == {"fantasycore/environment/wind_loop.ogg": "wind",
                              "fantasycore/male_die.ogg": "a man dying",
                              "fantasycore/steps/step_metal3.ogg": "footsteps in metal armour",
                              "empyrean_campaign/environment/rain.ogg": "rain"}
    reasons = _reasons(skipped)
    assert reasons["fantasycore/npcs/* (1 files)"].startswith(common.SPEECH)
    assert reasons["fantasycore/level_up.ogg"] == common.GAME_CUE
    assert reasons["fantasycore/powers/timestop.ogg"] == common.UNCLEAR
    assert reasons["<mod>/music/* (1 files)"] == common.MUSIC and {c.licence for c in clips} == {"CC-BY-SA-3.0+"}
    root = "/usr/share/unknown-horizons/content/audio"
    paths = [f"{root}/sounds/windmill.ogg", f"{root}/sounds/chapel.ogg", f"{root}/voice/en/0/new_world/1.ogg",
             f"{root}/sounds/events/new_era.ogg"]
    licences = common.CopyrightInfo([(["*"], "GPL-2+"), (["content/*"], "CC-BY-SA-3.0")], "")
    clips, skipped = adventure.discover_unknown_horizons([Path(p) for p in paths], licences)
    assert _by_rel(clips) == {"sounds/windmill.ogg": "a windmill turning"} and clips[0].licence == "CC-BY-SA-3.0"
    assert _reasons(skipped)["voice/* (1 files)"].startswith(common.SPEECH)
    assert _reasons(skipped)["sounds/chapel.ogg"] == common.UNCLEAR


def test_registry_default_set():
    new = [p for p in registry.PACKAGES if p not in registry.V1_PACKAGES]
    assert len(new) >= 8 and set(registry.PACKAGES) <= set(registry.DISCOVER)
    assert list(registry.DISCOVER)[:5] == list(registry.V1_PACKAGES)  # built first: their clips win duplicates


# ------------------------------------------------------------------------------------------------
# Categories and held-out list against the first library
# ------------------------------------------------------------------------------------------------
def test_categories_of_the_first_library_are_unchanged():
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    moved = {c: (old, category_for(c)) for c, old in fixture["categories"].items() if category_for(c) != old}
    assert len(fixture["categories"]) == 629 and moved == {}
    # the category head's classes: the first table's keep their indices, new ones come after
    from audiogan_training.categories import V1_CATEGORIES, category_names
    assert category_names()[:26] == list(V1_CATEGORIES) and len(set(category_names())) == len(category_names())
    assert {c for c in fixture["categories"].values() if c} <= set(V1_CATEGORIES)


def test_new_captions_find_their_categories():
    assert [category_for(c) for c in ("a bell tolling", "a crowd cheering", "cicadas chirping", "a mosquito buzzing",
                                      "laser shot", "elevator moving", "metal clank", "whoosh", "a demon dying",
                                      "a person grunting in pain", "rifle shot", "a hawk calling",
                                      "a dolphin clicking")] == [
        "bell", "crowd", "insect", "insect", "scifi", "machine", "impact", "whoosh", "monster", "voice",
        "explosion_gunshot", "bird", "wild_animal"]
    counts = call_counts(["a dog barking", "cicadas chirping", "a man dying", "a crowd cheering", "thunder"])
    assert counts == {"animal": 2, "voice": 1, "crowd": 1,
                      "by_category": {"crowd": 1, "dog_wolf": 1, "insect": 1, "voice": 1}}


def _v1_rows():
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    rows = [{"file": f, "caption": c, "package": f.split("/", 1)[0]} for f, c in fixture["clips"].items()]
    return rows, fixture["holdout"]


def test_held_out_list_of_the_first_library_is_reproduced():
    rows, held = _v1_rows()
    assert builder.held_out_files(rows) == [r["file"] for r in rows if r["file"] in set(held)]


def test_held_out_list_keeps_every_old_clip_when_new_packages_join():
    rows, held = _v1_rows()
    # a category whose only held-out clips were added as its lowest-hash members ("top-ups")
    topped = {}
    for r in rows:
        if r["file"] in held and _unit_hash(r["file"], 0) >= 0.08:
            topped.setdefault(category_for(r["caption"]), []).append(r["file"])
    category, lost = next((c, f) for c, f in sorted(topped.items(), key=str) if c is not None)
    caption = next(r["caption"] for r in rows if category_for(r["caption"]) == category)
    # new clips of that category; one hashes below the fraction and one below every old clip
    new = [f"new-package/{i}.ogg" for i in range(4000)]
    new = [f for f in new if _unit_hash(f, 0) < 0.08][:3] + [f for f in new if _unit_hash(f, 0) < 0.0005][:1]
    more = [{"file": f, "caption": caption, "package": "new-package"} for f in new]
    # holding out by the whole library alone would drop the old top-up...
    from audiogan_training.sampling import split_holdout
    captions = {r["file"]: r["caption"] for r in rows + more}
    naive = split_holdout([r["file"] for r in rows + more], 0.08, 0, group=lambda f: category_for(captions[f]))[1]
    assert not set(lost) <= set(naive)
    # ...the builder's rule keeps every old held-out clip and holds the new ones out by their hash
    kept = builder.held_out_files(rows + more)
    assert set(held) <= set(kept)
    assert set(kept) - set(held) == {f for f in new if _unit_hash(f, 0) < 0.08}


# ------------------------------------------------------------------------------------------------
# A small build from a fake package
# ------------------------------------------------------------------------------------------------
def test_build_from_a_fake_package(tmp_path, monkeypatch):
    root = tmp_path / "usr/share/games/btanks/data"
    (root / "sounds/ambient").mkdir(parents=True)
    (root / "tunes").mkdir()
    rate = 8000
    sf.write(root / "sounds/ambient/forest.ogg", 0.1 * np.random.default_rng(0).standard_normal(12 * rate), rate)
    (root / "sounds/cow.ogg").write_bytes(_wav(0.5, rate))  # a WAV named .ogg: libsndfile reads it anyway
    (root / "sounds/zombie.ogg").write_bytes(b"OggS but broken")  # unreadable: skipped, listed
    (root / "sounds/engine-car.ogg").write_bytes(_wav(0.5, rate))  # byte-identical to cow.ogg: kept once
    (root / "sounds/explosion.ogg").write_bytes(_wav(0.5, rate)[:-2000])  # header promises more than is there
    (root / "tunes/glory.ogg").write_bytes(_wav(0.2, rate))
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    monkeypatch.setattr(common, "package_installed", lambda name: True)
    monkeypatch.setattr(common, "package_files", lambda name: files)
    monkeypatch.setattr(common, "package_version", lambda name: "0.9-test")
    monkeypatch.setattr(builder, "read_copyright", lambda name: NO_LICENCE)
    out = tmp_path / "lib"
    manifest = builder.build_debian_foley(out, packages=["btanks-data"])
    info = manifest["packages"]["btanks-data"]
    assert manifest["builder_version"] == 2 and info["clips"] == 2 and info["version"] == "0.9-test"
    assert manifest["long_duration_s"] == pytest.approx(12.0, abs=0.01)  # long recordings are kept whole
    assert info["licence_clips"] == {"GPL-2+": 2} and manifest["calls"]["animal"] == 1
    rows = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert {r["file"]: r["caption"] for r in rows} == {"btanks-data/ambient/forest.ogg": "forest ambience",
                                                       "btanks-data/cow.ogg": "a cow mooing"}
    assert rows[1]["also_captioned"] == ["car engine"]
    reasons = _reasons(info["skipped"])
    assert "libsndfile cannot read it" in reasons["zombie.ogg"] and "identical audio" in reasons["engine-car.ogg"]
    assert "truncated" in reasons["explosion.ogg"]  # refused as the library scan would refuse it
    assert not (out / "btanks-data/zombie.ogg").exists()
