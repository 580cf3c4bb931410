"""Which Debian packages the builder knows, in build order, and which it builds by default."""
from __future__ import annotations

from . import action, adventure, casual, classic, megaglest, openclonk
from .common import Discovery

# The first library (builder version 1), which the bundled model was trained and evaluated on.
V1_PACKAGES = ("openttd-opensfx", "tuxpaint-stamps-default", "minetest-data", "0ad-data", "wesnoth-1.16-data")

# Build order: the version-1 packages first, so their clips keep their paths when a newer
# package ships the same bytes (the later copy is the one dropped).
DISCOVER: dict[str, Discovery] = {
    "openttd-opensfx": classic.discover_openttd,
    "tuxpaint-stamps-default": classic.discover_tuxpaint,
    "minetest-data": classic.discover_minetest,
    "0ad-data": classic.discover_0ad,
    "wesnoth-1.16-data": classic.discover_wesnoth,
    "widelands-data": classic.discover_widelands,
    "megaglest-data": megaglest.discover_megaglest,
    "redeclipse-data": action.discover_redeclipse,
    "supertuxkart-data": casual.discover_supertuxkart,
    "btanks-data": action.discover_btanks,
    "scorched3d-data": action.discover_scorched3d,
    "openclonk-data": openclonk.discover_openclonk,
    "qabcs-data": casual.discover_qabcs,
    "scratch": casual.discover_scratch,
    "lugaru-data": casual.discover_lugaru,
    "flare-game": adventure.discover_flare,
    "unknown-horizons": adventure.discover_unknown_horizons,
    "triplea": action.discover_triplea,
}

# The default set: the version-1 packages plus the wider sources of issue #23.
PACKAGES = V1_PACKAGES + ("widelands-data", "megaglest-data", "redeclipse-data", "supertuxkart-data", "btanks-data",
                          "scorched3d-data", "openclonk-data", "qabcs-data", "scratch", "lugaru-data", "flare-game",
                          "unknown-horizons", "triplea")

# Names `--packages` accepts besides package names.
PACKAGE_SETS = {"default": PACKAGES, "v1": V1_PACKAGES, "all": tuple(DISCOVER)}


def expand_packages(names) -> list[str]:
    """Package names with set names ("v1", "default", "all") replaced by their packages, in
    the order given, without repeats."""
    out: list[str] = []
    for name in names:
        for package in PACKAGE_SETS.get(name, (name,)):
            if package not in out:
                out.append(package)
    return out
