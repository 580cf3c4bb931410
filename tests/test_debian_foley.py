"""The Debian foley library builder (training/debian_foley.py) and its CLI command."""
from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from audiogan_core.config import MelConfig
from audiogan_core.errors import DataError, InputError
from audiogan_training import debian_foley as df
from audiogan_training.foley_sources import common as df_common
from audiogan_training.categories import category_for
from audiogan_training.cli_data import data_group
from audiogan_training.data import scan_library


def _wav_bytes(seconds=0.1, rate=11025):
    buf = io.BytesIO()
    sf.write(buf, (0.2 * np.sin(np.arange(int(seconds * rate)) * 0.3)).astype(np.float32), rate, format="WAV",
             subtype="PCM_16")
    return buf.getvalue()


def _cat(entries):
    """Build an OpenTTD .cat archive (catcodec layout) from (name, wav bytes) pairs."""
    table_size = 8 * len(entries)
    body = b""
    offsets = []
    for name, wav in entries:
        raw = name.encode() + b"\0"
        offsets.append((table_size + len(body), len(wav)))
        body += bytes([len(raw)]) + raw + wav
    table = b"".join(struct.pack("<II", off | 0x80000000, size) for off, size in offsets)
    return table + body


def test_parse_cat_round_trip():
    wav = _wav_bytes()
    entries = [('"Ferry horn". Original "x.aif" by y. License: Creative Commons Zero 1.0.', wav),
               ('"Unused/Nothing". Trivial empty sound file.', _wav_bytes(0.0))]
    parsed = df.parse_cat(_cat(entries))
    assert [n for n, _ in parsed] == [n for n, _ in entries]
    assert parsed[0][1] == wav
    with pytest.raises(DataError):
        df.parse_cat(b"\x00\x00")


def test_discover_openttd_from_synthetic_cat(tmp_path):
    cat = tmp_path / "opensfx.cat"
    cat.write_bytes(_cat([
        ('"Toyland: Toy factory (2)". Edited by "Wuzzy". License: Creative Commons Attribution 3.0 Unported.', _wav_bytes()),
        ('"Unused/Nothing". Trivial empty sound file. License: Creative Commons Zero 1.0.', _wav_bytes(0.0)),
        ('"Ship horn". Original by Leon Milo. License: Creative Commons Zero 1.0.', _wav_bytes())]))
    clips, skipped = df.discover_openttd([cat], df.CopyrightInfo([(["src/wav/*"], "CC-BY-SA-3.0")], ""))
    assert [c.caption for c in clips] == ["Toyland: Toy factory", "Ship horn"]
    assert [c.rel for c in clips] == ["00_toyland_toy_factory.wav", "02_ship_horn.wav"]
    assert clips[0].licence == "CC-BY-SA-3.0" and clips[1].extra["clip_licence"] == "CC0-1.0"
    assert clips[0].caption_source == "metadata" and len(skipped) == 1


def test_licences(tmp_path):
    doc = tmp_path / "doc" / "pkg"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: someone\nLicense: LGPL-2.1+\n\n"
        "Files: *.ogg\n       *.png\nCopyright: artists\nLicense: CC-BY-SA-3.0\n\n"
        "Files: mtg/mods/doors/sounds/*\nCopyright: other\nLicense: CC-BY-3.0\n\n"
        "Files: debian/*\nCopyright: packager\nLicense: GPL-2+\n")
    info = df.read_copyright("pkg", doc_root=tmp_path / "doc")
    assert info.licence_for("/usr/share/games/x/mods/doors/sounds/door_open.ogg") == "CC-BY-3.0"
    assert info.licence_for("/usr/share/games/x/mods/fire/sounds/fire.ogg") == "CC-BY-SA-3.0"
    assert info.licence_for("/usr/share/games/x/README.txt") == "LGPL-2.1+"
    (doc / "copyright").write_text("This program is free software; ... under the terms of the GNU General Public "
                                   "License version 2\n        or at your option any later version.\n")
    assert df.read_copyright("pkg", doc_root=tmp_path / "doc").licence_for("a.ogg") == "GPL-2+"
    assert df.licence_short_name("Creative Commons Attribution-ShareAlike 3.0 Unported") == "CC-BY-SA-3.0"
    assert df.licence_short_name("Creative Commons Zero 1.0") == "CC0-1.0"
    assert df.read_copyright("no-such-package", doc_root=tmp_path / "doc").licence_for("x") == ""


def test_missing_package_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(df_common, "package_installed", lambda name: name != "0ad-data")
    with pytest.raises(DataError, match=r"apt-get install -y 0ad-data"):
        df.build_debian_foley(tmp_path / "out", packages=["0ad-data"], install=False)
    with pytest.raises(InputError, match="unknown package"):
        df.build_debian_foley(tmp_path / "out", packages=["not-a-package"])
    result = CliRunner().invoke(data_group, ["debian-foley", "--out", str(tmp_path / "o"), "--packages", "0ad-data",
                                             "--no-install"])
    assert result.exit_code != 0 and "apt-get install -y 0ad-data" in result.output


def test_duration_histogram():
    assert df.duration_histogram([0.2, 0.99, 1.0, 2.5, 3.0, 9.9, 10.0, 60]) == {
        "< 1 s": 2, "1-3 s": 2, "3-10 s": 2, "> 10 s": 2}


def _installed(*packages):
    missing = [p for p in packages if not df.package_installed(p)]
    if missing:
        pytest.skip(f"Debian package(s) not installed: {', '.join(missing)} ({df.install_command(missing)})")


def test_build_real_openttd_and_minetest(tmp_path):
    _installed("openttd-opensfx", "minetest-data")
    out = tmp_path / "foley"
    manifest = df.build_debian_foley(out, packages=["openttd-opensfx", "minetest-data"], copy=False)
    # 73 entries, 2 empty placeholders, "Heavy wind" is byte-identical to "Wind"
    assert manifest["packages"]["openttd-opensfx"]["clips"] == 70
    # 109 files minus the devtest tone and 3 flame-extinguish sounds identical to "lava cooling"
    assert manifest["packages"]["minetest-data"]["clips"] == 105
    assert manifest["packages"]["openttd-opensfx"]["licences"] == ["CC-BY-SA-3.0"]
    assert "CC-BY-3.0" in manifest["packages"]["minetest-data"]["licences"]  # doors sounds
    rows = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert len(rows) == 175 and {"file", "caption", "package", "licence", "raw_name", "category"} <= set(rows[0])
    captions = {r["caption"] for r in rows}
    assert {"Ferry horn", "Cash till", "footsteps on snow", "door opening"} <= captions
    assert (out / "minetest-data" / "default" / "default_snow_footstep.1.ogg").is_symlink()
    lava = [r for r in rows if r["file"] == "minetest-data/default/default_cool_lava.1.ogg"][0]
    assert lava["also_captioned"] == ["extinguishing a flame"]
    assert "CC0-1.0" in {r["licence"] for r in rows if "tnt" in r["file"]}
    held = json.loads((out / "holdout.json").read_text())["files"]
    assert 0 < len(held) < 40
    # the built library is a valid training folder with these captions
    scan = scan_library(out, mel_config=MelConfig(16000, 256, 256, 64, 16, 0.0, 8000.0), clip_frames=64)
    assert len(scan.items) == 175 and all(i.source == "captions.jsonl" for i in scan.items)
    # rebuilding one package keeps the other in the root index
    again = df.build_debian_foley(out, packages=["openttd-opensfx"], copy=True)
    assert again["clips"] == 175 and set(again["packages"]) == {"openttd-opensfx", "minetest-data"}


def test_discover_tuxpaint_and_wesnoth_if_installed():
    _installed("tuxpaint-stamps-default", "wesnoth-1.16-data")
    tux, _ = df.discover_tuxpaint(df.package_files("tuxpaint-stamps-default"),
                                  df.read_copyright("tuxpaint-stamps-default"))
    assert 130 <= len(tux) <= 140
    assert not any("_desc" in c.rel for c in tux)
    by_rel = {c.rel: c.caption for c in tux}
    assert by_rel["animals/amphibians/frog.ogg"] == "A frog."
    assert by_rel["symbols/math/7.ogg"] == 'a voice saying "Seven"'
    assert "symbols/math/7_en_GB.ogg" not in by_rel
    wes, _ = df.discover_wesnoth(df.package_files("wesnoth-1.16-data"), df.read_copyright("wesnoth-1.16-data"))
    assert len(wes) == 291
    by_rel = {c.rel: c.caption for c in wes}
    assert by_rel["wolf-growl-1.ogg"] == "wolf growling" and by_rel["ui/button.wav"] == "button (interface sound)"


def test_discover_widelands_captions_from_the_table():
    root = "/usr/share/games/widelands/data"
    paths = [f"{root}/sound/animals/bird3_01.ogg", f"{root}/world/critters/duck/duck_02.ogg",
             f"{root}/sound/farm/sheep_00.ogg", f"{root}/sound/woodcutting/tree_falling_01.ogg",
             f"{root}/sound/barbarians/taverns/inn_00.ogg",  # no table entry: skipped, not guessed
             f"{root}/music/intro.ogg", f"{root}/sound/animals/readme.txt"]
    clips, skipped = df.discover_widelands([Path(p) for p in paths], df.CopyrightInfo([], "GPL-2+"))
    by_rel = {c.rel: c.caption for c in clips}
    assert by_rel == {"animals/bird3_01.ogg": "a bird singing", "critters/duck/duck_02.ogg": "a duck quacking",
                      "farm/sheep_00.ogg": "sheep bleating", "woodcutting/tree_falling_01.ogg": "a tree falling"}
    assert [s["raw_name"] for s in skipped] == ["barbarians/taverns/inn_00.ogg"]
    assert {c.caption_source for c in clips} == {"table"} and all(c.licence == "GPL-2+" for c in clips)
    # the captions land in the categories the evaluation uses
    assert [category_for(by_rel[r]) for r in sorted(by_rel)] == ["bird", "bird", "farm_animal", "wood_chopping"]
    # in the default set since issue #23, but not in the first library the bundled model was trained on
    assert "widelands-data" in df.PACKAGES and "widelands-data" not in df.V1_PACKAGES


def test_unknown_package_lists_every_known_one(tmp_path):
    with pytest.raises(InputError, match="widelands-data.*triplea.*or a set: default, v1, all"):
        df.build_debian_foley(tmp_path, packages=["no-such-data"])


def test_package_sets_expand_in_order_without_repeats():
    assert df.expand_packages(["v1"]) == list(df.V1_PACKAGES)
    assert df.expand_packages(["triplea", "v1", "0ad-data"]) == ["triplea", *df.V1_PACKAGES]
    assert df.expand_packages(["all"]) == list(df.DISCOVER) and len(df.PACKAGES) == 18
