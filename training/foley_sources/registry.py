"""Which Debian packages the builder knows, in build order, and which it builds by default."""
from __future__ import annotations

from . import classic
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
}

PACKAGES = V1_PACKAGES
