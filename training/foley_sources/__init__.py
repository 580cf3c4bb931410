"""A real, freely licensed foley library assembled from Debian game-data packages.

`build_debian_foley(out_dir)` finds the installed files of each package (``dpkg -L``), copies
(or extracts) the sound effects into ``out_dir/<package>/...`` keeping their format (WAV,
Ogg/Vorbis or MP3, which libsndfile reads), and writes, atomically:

- ``out_dir/<package>/captions.jsonl`` and the union ``out_dir/captions.jsonl`` (keys ``file``,
  ``caption``, ``package``, ``licence``, ``raw_name``, ``category``, plus ``caption_source``,
  ``duration``, ``sample_rate``, ``channels``, ``original``), so `scan_library(out_dir)` (or
  one package folder) uses these captions;
- ``out_dir/manifest.json``: per-package counts, durations, licences (short names read from
  ``/usr/share/doc/<pkg>/copyright`` or the package's own credits), skipped entries, category
  and call counts, a duration histogram;
- ``out_dir/holdout.json``: a fixed held-out list (~8 %, by hash of the path, every category
  with at least two clips represented; see `builder.held_out_files`).

Byte-identical files (the same sound shipped twice) are kept once; the other captions go to
the kept row's ``also_captioned`` and the duplicates are listed in the manifest's ``skipped``.
Long recordings are kept whole: training takes random windows of the clip length from them.

Captions come from the packages' own names - file names, folders, metadata titles - through
the caption rewriter (`captions.py`) or hand-written tables of file names, never from listening
to the sounds. What a name does not describe is skipped and listed, not guessed; music and
spoken words are left out. The modules:

- `common`: the `Clip` record, dpkg/apt helpers, copyright files;
- `archives`: readers for OpenTTD ``.cat`` and OpenClonk C4Group archives;
- `classic`: the version-1 sources (OpenTTD, Tux Paint, Minetest, 0 A.D., Wesnoth) and Widelands;
- `megaglest`, `action` (Battle Tanks, Scorched 3D, Red Eclipse, TripleA), `openclonk`, `casual`
  (SuperTuxKart, Lugaru, Scratch, qABCs), `adventure` (Flare, Unknown Horizons): the sources
  added for issue #23, each captioned from a hand-written table of its file names;
- `registry`: the known packages (`DISCOVER`), the default set (`PACKAGES`) and the named sets
  (`PACKAGE_SETS`: "default", "v1" - the first library, which the bundled model was trained
  on -, "all");
- `builder`: writing the clips and the index files.
"""
from __future__ import annotations

from .archives import ArchiveError, parse_c4group, parse_cat, read_c4group, write_c4group
from .builder import (BUILDER_VERSION, DURATION_BINS, HOLDOUT_FRACTION, HOLDOUT_SEED, LONG_SECONDS,
                      build_debian_foley, duration_histogram, held_out_files, write_library_index)
from .classic import (WIDELANDS_CAPTIONS, ZEROAD_PREFIXES, discover_0ad, discover_minetest, discover_openttd,
                      discover_tuxpaint, discover_wesnoth, discover_widelands)
from .common import (Clip, CopyrightInfo, ensure_installed, install_command, licence_short_name, package_files,
                     package_installed, package_version, read_copyright)
from .registry import DISCOVER, PACKAGE_SETS, PACKAGES, V1_PACKAGES, expand_packages

__all__ = [
    "ArchiveError", "BUILDER_VERSION", "Clip", "CopyrightInfo", "DISCOVER", "DURATION_BINS", "HOLDOUT_FRACTION",
    "HOLDOUT_SEED", "LONG_SECONDS", "PACKAGES", "PACKAGE_SETS", "V1_PACKAGES", "expand_packages",
    "WIDELANDS_CAPTIONS", "ZEROAD_PREFIXES",
    "build_debian_foley", "discover_0ad", "discover_minetest", "discover_openttd", "discover_tuxpaint",
    "discover_wesnoth", "discover_widelands", "duration_histogram", "ensure_installed", "held_out_files",
    "install_command", "licence_short_name", "package_files", "package_installed", "package_version",
    "parse_c4group", "parse_cat", "read_c4group", "read_copyright", "write_c4group", "write_library_index",
]
