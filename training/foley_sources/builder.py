"""Writing the library: clips into ``out_dir/<package>/``, then the index files at the root
(see the package docstring). Every package is read by its discovery function in `registry`."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterable

from audiogan_core.errors import InputError

from ..categories import call_counts, category_counts, category_for
from . import common
from .archives import ArchiveError
from .common import Clip, read_copyright
from .registry import DISCOVER, PACKAGE_SETS, PACKAGES, V1_PACKAGES, expand_packages

BUILDER_VERSION = 2
HOLDOUT_FRACTION = 0.08
HOLDOUT_SEED = 0
LONG_SECONDS = 10.0  # "long" recordings: training takes several different windows from each
MAX_FILE_SECONDS = 600.0  # TrainConfig.max_file_seconds: longer files would be skipped by the scan
DURATION_BINS = ((0.0, 1.0, "< 1 s"), (1.0, 3.0, "1-3 s"), (3.0, 10.0, "3-10 s"), (10.0, float("inf"), "> 10 s"))


# ---------------------------------------------------------------------------------------------
# Writing one clip
# ---------------------------------------------------------------------------------------------
def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _target(pkg_dir: Path, rel: str) -> Path:
    """out_dir/<package>/<rel>, refused when `rel` would leave the package folder (names come
    from packages and archives)."""
    parts = rel.replace("\\", "/").split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ArchiveError(f"unsafe library path {rel!r}")
    return pkg_dir.joinpath(*parts)


def _clip_bytes(clip: Clip, zips: dict) -> bytes | None:
    if clip.data is None and "_zip" in clip.extra:
        archive = zips.get(clip.extra["_zip"])
        if archive is None:
            archive = zips[clip.extra["_zip"]] = zipfile.ZipFile(clip.extra["_zip"])
        return archive.read(clip.extra["_member"])
    return clip.data


def _write_clip(clip: Clip, target: Path, copy: bool, zips: dict) -> None:
    from audiogan_core.io import atomic_write_bytes

    target.parent.mkdir(parents=True, exist_ok=True)
    data = _clip_bytes(clip, zips)
    if data is not None:
        if not _same_bytes(target, data):
            if target.is_symlink():
                target.unlink()
            atomic_write_bytes(target, data)
        return
    source = clip.source_path
    if not copy:
        if target.is_symlink() and os.readlink(target) == str(source):
            return
        if target.exists() or target.is_symlink():
            target.unlink()
        os.symlink(source, target)
        return
    if target.is_file() and not target.is_symlink() and target.stat().st_size == source.stat().st_size \
            and _file_digest(target) == _file_digest(source):
        return
    if target.is_symlink():
        target.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_digest(path: Path) -> str:
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n" for row in rows)


def duration_histogram(durations: Iterable[float]) -> dict[str, int]:
    out = {label: 0 for _, _, label in DURATION_BINS}
    for d in durations:
        for low, high, label in DURATION_BINS:
            if low <= d < high:
                out[label] += 1
                break
    return out


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------
def build_debian_foley(out_dir: str | Path, packages: Iterable[str] | None = None, install: bool = False,
                       copy: bool = True, progress: bool = False) -> dict:
    """Build (or update) the library in `out_dir` from the given Debian packages (default: all
    of `PACKAGES`; the set names of `PACKAGE_SETS` may stand for their packages). Missing
    packages: with ``install=True`` run apt-get, else raise DataError naming the ``apt-get
    install`` command. ``copy=False`` symlinks installed files instead of
    copying them (archive members are always extracted). Packages are read in the order of
    `DISCOVER` whatever order they are given in, so that of two byte-identical sounds the same
    one is kept. Returns the manifest dict."""
    import soundfile as sf
    from tqdm import tqdm

    from audiogan_core.io import atomic_write_text

    from ..library_scan import probe_audio

    packages = expand_packages(PACKAGES if packages is None else packages)
    unknown = [p for p in packages if p not in DISCOVER]
    if unknown:
        raise InputError(f"unknown package(s) {unknown}; known: {', '.join(DISCOVER)} "
                         f"(or a set: {', '.join(PACKAGE_SETS)})")
    if not packages:
        raise InputError("no packages given")
    order = list(DISCOVER)
    packages = sorted(dict.fromkeys(packages), key=order.index)
    common.ensure_installed(packages, install)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    zips: dict = {}
    per_package: dict[str, dict] = {}
    contents: dict[str, tuple[str, dict]] = {}  # blake2b of the audio -> first (package, row)
    try:
        for package in packages:
            copyright = read_copyright(package)
            clips, skipped = DISCOVER[package](common.package_files(package), copyright)
            pkg_dir = out / package
            pkg_dir.mkdir(exist_ok=True)
            rows = []
            seen: set[str] = set()
            for clip in tqdm(clips, desc=package, unit="clip", disable=not progress):
                if clip.rel in seen:
                    skipped.append({"raw_name": clip.raw_name, "reason": f"duplicate output name {clip.rel}"})
                    continue
                seen.add(clip.rel)
                try:
                    target = _target(pkg_dir, clip.rel)
                    _write_clip(clip, target, copy, zips)
                except (ArchiveError, zipfile.BadZipFile, zlib.error, KeyError, EOFError) as exc:
                    skipped.append({"raw_name": clip.raw_name, "reason": f"cannot be extracted: {exc}"})
                    continue
                try:
                    info = sf.info(str(target))
                    frames, rate, channels = info.frames, info.samplerate, info.channels
                except Exception as exc:  # keep the build going; report it
                    skipped.append({"raw_name": clip.raw_name, "reason": f"libsndfile cannot read it: {exc}"})
                    target.unlink()
                    continue
                if frames <= 0:
                    skipped.append({"raw_name": clip.raw_name, "reason": "0 s of audio"})
                    target.unlink()
                    continue
                _, unusable = probe_audio(target, MAX_FILE_SECONDS)  # what the library scan would refuse
                if unusable is not None:
                    skipped.append({"raw_name": clip.raw_name, "reason": unusable.reason})
                    target.unlink()
                    continue
                digest = _file_digest(target)
                if digest in contents:  # byte-identical audio: keep the first, note the other caption
                    first_package, first_row = contents[digest]
                    skipped.append({"raw_name": clip.raw_name,
                                    "reason": f"identical audio to {first_package}/{first_row['file']}"})
                    if clip.caption != first_row["caption"]:
                        first_row.setdefault("also_captioned", []).append(clip.caption)
                    target.unlink()
                    continue
                row = {"file": clip.rel, "caption": clip.caption, "package": package, "licence": clip.licence,
                       "raw_name": clip.raw_name, "category": category_for(clip.caption),
                       "caption_source": clip.caption_source, "duration": round(frames / rate, 4),
                       "sample_rate": rate, "channels": channels, "original": clip.original}
                row.update({k: v for k, v in clip.extra.items() if not k.startswith("_")})
                rows.append(row)
                contents[digest] = (package, row)
            # remove audio files a previous build left that are no longer part of the package set
            keep = {r["file"] for r in rows}
            for path in pkg_dir.rglob("*"):
                if (path.is_file() or path.is_symlink()) and path.suffix.lower() in (".ogg", ".wav", ".mp3") \
                        and path.relative_to(pkg_dir).as_posix() not in keep:
                    path.unlink()
            atomic_write_text(pkg_dir / "captions.jsonl", _jsonl(rows))
            per_package[package] = {"version": common.package_version(package), "skipped": skipped}
    finally:
        for archive in zips.values():
            archive.close()
    return write_library_index(out, extra=per_package)


# ---------------------------------------------------------------------------------------------
# The index files
# ---------------------------------------------------------------------------------------------
def held_out_files(rows: list[dict]) -> list[str]:
    """The held-out files of a library (rows with "file", "caption", "package"): the clips whose
    blake2b(seed, path) falls below `HOLDOUT_FRACTION`, plus the lowest-hash clip of every
    category left without one, computed over the whole library and, separately, over the clips
    of the first library's packages (`V1_PACKAGES`). The second pass keeps every clip held out
    by builder version 1 held out when other packages join (their clips could otherwise take
    over a category's top-up place); it gives the same files as version 1 because those
    packages' clips, paths and categories do not change."""
    from ..sampling import split_holdout

    captions = {r["file"]: r["caption"] for r in rows}
    group = _category_of_file(captions)
    files = [r["file"] for r in rows]
    held = set(split_holdout(files, HOLDOUT_FRACTION, HOLDOUT_SEED, group=group)[1])
    v1 = [r["file"] for r in rows if r.get("package") in V1_PACKAGES]
    if v1 and len(v1) < len(files):
        held |= set(split_holdout(v1, HOLDOUT_FRACTION, HOLDOUT_SEED, group=group)[1])
    return [f for f in files if f in held]


def write_library_index(out: Path, extra: dict | None = None) -> dict:
    """(Re)write ``captions.jsonl``, ``manifest.json`` and ``holdout.json`` at the library root
    from every ``<package>/captions.jsonl`` present (so partial builds accumulate)."""
    from audiogan_core.io import atomic_write_text

    out = Path(out)
    old_manifest = {}
    if (out / "manifest.json").is_file():
        try:
            old_manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8")).get("packages", {})
        except (ValueError, OSError):
            old_manifest = {}
    rows_all: list[dict] = []
    packages: dict[str, dict] = {}
    for pkg_dir in sorted(p for p in out.iterdir() if p.is_dir() and (p / "captions.jsonl").is_file()):
        package = pkg_dir.name
        rows = [json.loads(line) for line in (pkg_dir / "captions.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]
        info = dict(old_manifest.get(package, {}))
        info.update((extra or {}).get(package, {}))
        durations = [r["duration"] for r in rows]
        packages[package] = {
            "version": info.get("version", ""),
            "clips": len(rows),
            "duration_s": round(sum(durations), 2),
            "long_duration_s": round(sum(d for d in durations if d >= LONG_SECONDS), 2),
            "duration_histogram": duration_histogram(durations),
            "licences": sorted({r["licence"] for r in rows if r.get("licence")}),
            "licence_clips": _count(r.get("licence") or "unknown" for r in rows),
            "copyright_file": f"/usr/share/doc/{package}/copyright",
            "caption_sources": _count(r["caption_source"] for r in rows),
            "categories": category_counts(r["caption"] for r in rows),
            "calls": call_counts(r["caption"] for r in rows),
            "skipped": info.get("skipped", []),
        }
        for r in rows:
            rows_all.append({**r, "file": f"{package}/{r['file']}"})
    durations = [r["duration"] for r in rows_all]
    cats = category_counts(r["caption"] for r in rows_all)
    manifest = {
        "name": "debian-foley",
        "builder_version": BUILDER_VERSION,
        "clips": len(rows_all),
        "duration_s": round(sum(durations), 2),
        "long_duration_s": round(sum(d for d in durations if d >= LONG_SECONDS), 2),
        "long_seconds": LONG_SECONDS,
        "duration_histogram": duration_histogram(durations),
        "categories": cats,
        "categories_with_10_or_more": sum(1 for c, n in cats.items() if c != "uncategorised" and n >= 10),
        "calls": call_counts(r["caption"] for r in rows_all),
        "per_clip": "captions.jsonl: each clip's caption, licence, package and original path",
        "packages": packages,
    }
    captions = {r["file"]: r["caption"] for r in rows_all}
    held = held_out_files(rows_all)
    held_set = set(held)
    train = [f for f in captions if f not in held_set]
    shared = {captions[f] for f in held} & {captions[f] for f in train}
    manifest["holdout"] = {"file": "holdout.json", "clips": len(held), "fraction": HOLDOUT_FRACTION,
                           "seed": HOLDOUT_SEED,
                           "categories": category_counts(r["caption"] for r in rows_all if r["file"] in held_set)}
    atomic_write_text(out / "captions.jsonl", _jsonl(rows_all))
    atomic_write_text(out / "holdout.json", json.dumps(
        {"fraction": HOLDOUT_FRACTION, "seed": HOLDOUT_SEED,
         "rule": "blake2b(seed, path) < fraction, plus the lowest-hash clip of any category left without one "
                 f"(over the whole library, and over the packages {', '.join(V1_PACKAGES)})",
         "captions_also_in_train": len(shared), "captions": len({captions[f] for f in held}),
         "files": sorted(held)}, indent=1) + "\n")
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def _category_of_file(captions: dict[str, str]) -> Callable[[str], str | None]:
    def group(file: str) -> str | None:
        return category_for(captions[file])

    return group


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


__all__ = ["BUILDER_VERSION", "DURATION_BINS", "HOLDOUT_FRACTION", "HOLDOUT_SEED", "LONG_SECONDS",
           "build_debian_foley", "duration_histogram", "held_out_files", "write_library_index"]
