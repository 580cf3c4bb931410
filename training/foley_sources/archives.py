"""Readers for the archive formats game packages keep their sounds in, written here (no game
tools needed): OpenTTD's ``.cat`` sound archive and OpenClonk's C4Group (``.ocg``/``.ocd``/
``.ocf``/``.ocs``). Zip archives (0 A.D.) go through `zipfile`.

Every reader raises `ArchiveError` (a `DataError`) for input it does not understand: truncated
data, a wrong magic number, offsets outside the file, member names that would leave the output
folder. Callers skip such an archive and list it, never crash the build."""
from __future__ import annotations

import struct
import zlib

from audiogan_core.errors import DataError


class ArchiveError(DataError):
    """An archive that is corrupt or not in the expected format."""


def safe_member_name(name: str, archive: str = "archive") -> str:
    """`name` with backslashes as slashes, refused (ArchiveError) when it is empty, absolute,
    or climbs out of its folder: member names become paths inside the library."""
    clean = name.replace("\\", "/")
    parts = clean.split("/")
    if not clean or clean.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in clean \
            or (len(parts[0]) >= 2 and parts[0][1] == ":"):
        raise ArchiveError(f"{archive}: unsafe member name {name!r}")
    return clean


# ---------------------------------------------------------------------------------------------
# OpenTTD .cat (catcodec)
# ---------------------------------------------------------------------------------------------
def parse_cat(data: bytes) -> list[tuple[str, bytes]]:
    """Entries of an OpenTTD .cat sound archive (catcodec format): a table of (offset, size)
    uint32 pairs - the first offset / 8 is the entry count, bit 31 flags the new format -
    then at each offset a length-prefixed NUL-terminated name and a RIFF/WAVE file."""
    if len(data) < 8:
        raise ArchiveError("OpenTTD sound archive is too short")
    first = struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF
    count = first // 8
    if count <= 0 or first > len(data):
        raise ArchiveError("OpenTTD sound archive has an invalid header")
    entries = []
    for i in range(count):
        offset, size = struct.unpack_from("<II", data, 8 * i)
        offset &= 0x7FFFFFFF
        if offset >= len(data):
            raise ArchiveError(f"OpenTTD sound archive entry {i} starts past the end of the file")
        name_len = data[offset]
        name = data[offset + 1: offset + 1 + name_len].rstrip(b"\0").decode("utf-8", errors="replace")
        start = offset + 1 + name_len
        if data[start: start + 4] != b"RIFF" or start + 8 > len(data):
            raise ArchiveError(f"OpenTTD sound archive entry {i} ({name!r}) is not a RIFF/WAVE file")
        riff_size = struct.unpack_from("<I", data, start + 4)[0]
        if start + 8 + riff_size > len(data):
            raise ArchiveError(f"OpenTTD sound archive entry {i} ({name!r}) is cut off")
        entries.append((name, data[start: start + 8 + riff_size]))
    return entries


# ---------------------------------------------------------------------------------------------
# OpenClonk C4Group
# ---------------------------------------------------------------------------------------------
# A C4Group file is a gzip stream whose first two bytes are 1E 8C instead of 1F 8B. Inside: a
# 204-byte header, "scrambled" (every byte XOR 237, then bytes 0 and 2 of each 3-byte triple
# swapped; the operation is its own inverse), one plain 316-byte core per entry (name, child-group
# flag, size, offset from the end of the core table, ...), then the entries' data. A child group
# (a folder) is stored as a nested, uncompressed C4Group.
C4GROUP_MAGIC = b"\x1e\x8c"
C4GROUP_ID = b"RedWolf Design GrpFolder"
_HEADER = 204
_CORE = 316
_MAX_DEPTH = 16
MAX_UNPACKED = 2 << 30  # refuse to inflate more than 2 GiB (a damaged or hostile stream)


def c4_scramble(block: bytes) -> bytes:
    """OpenClonk's MemScramble; applying it twice gives the input back."""
    out = bytearray(b ^ 237 for b in block)
    for i in range(0, len(out) - 2, 3):
        out[i], out[i + 2] = out[i + 2], out[i]
    return bytes(out)


def c4group_unpack(data: bytes, name: str = "C4Group") -> bytes:
    """The uncompressed group of a C4Group file (magic 1E 8C + gzip)."""
    if data[:2] != C4GROUP_MAGIC:
        raise ArchiveError(f"{name}: not a C4Group file (magic {data[:2].hex() or 'missing'}, expected 1e8c)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(b"\x1f\x8b" + data[2:], MAX_UNPACKED)
    except zlib.error as exc:
        raise ArchiveError(f"{name}: damaged compressed stream ({exc})") from None
    if inflater.unconsumed_tail:
        raise ArchiveError(f"{name}: unpacks to more than {MAX_UNPACKED >> 30} GiB")
    if not inflater.eof:
        raise ArchiveError(f"{name}: compressed stream is cut off")
    return raw


def read_c4group(data: bytes, name: str = "C4Group") -> list[tuple[str, bytes]]:
    """Every file of a C4Group file as (path inside the group, bytes); child groups become
    folders (``"Animals.ocg/Bat.ocg/Chirp.wav"``)."""
    return parse_c4group(c4group_unpack(data, name), name)


def parse_c4group(raw: bytes, name: str = "C4Group", _depth: int = 0) -> list[tuple[str, bytes]]:
    """The files of an uncompressed group (see `read_c4group`)."""
    if _depth > _MAX_DEPTH:
        raise ArchiveError(f"{name}: groups nested more than {_MAX_DEPTH} deep")
    if len(raw) < _HEADER:
        raise ArchiveError(f"{name}: group header cut off ({len(raw)} of {_HEADER} bytes)")
    header = c4_scramble(raw[:_HEADER])
    if not header.startswith(C4GROUP_ID):
        raise ArchiveError(f"{name}: not a C4Group (header id {header[:24]!r})")
    ver1, _ver2, count = struct.unpack_from("<iii", header, 28)
    if ver1 != 1:
        raise ArchiveError(f"{name}: unsupported C4Group version {ver1}")
    if count < 0 or _HEADER + count * _CORE > len(raw):
        raise ArchiveError(f"{name}: entry table of {count} entries does not fit in {len(raw)} bytes")
    base = _HEADER + count * _CORE
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        core = raw[_HEADER + i * _CORE: _HEADER + (i + 1) * _CORE]
        entry = core[:260].split(b"\0", 1)[0].decode("latin-1")
        entry = safe_member_name(entry, name)
        _packed, child, size, _entry_size, offset = struct.unpack_from("<iiiii", core, 260)
        if size < 0 or offset < 0 or base + offset + size > len(raw):
            raise ArchiveError(f"{name}: entry {entry!r} lies outside the group ({offset}+{size})")
        blob = raw[base + offset: base + offset + size]
        if child:
            out += [(f"{entry}/{sub}", b) for sub, b in parse_c4group(blob, f"{name}/{entry}", _depth + 1)]
        else:
            out.append((entry, blob))
    return out


def write_c4group(files: dict[str, bytes | dict], compress: bool = True) -> bytes:
    """A C4Group holding `files` (name -> bytes, or name -> dict for a child group): the
    inverse of `read_c4group`, for tests and small tools."""
    entries, blobs, offset = [], [], 0
    for entry, value in files.items():
        blob = write_c4group(value, compress=False) if isinstance(value, dict) else value
        core = entry.encode("latin-1")[:259].ljust(260, b"\0")
        core += struct.pack("<iiiiii", 0, int(isinstance(value, dict)), len(blob), len(blob), offset, 0)
        core += b"\0" + struct.pack("<I", 0) + b"\0" + bytes(26)
        entries.append(core)
        blobs.append(blob)
        offset += len(blob)
    header = C4GROUP_ID.ljust(28, b"\0") + struct.pack("<iii", 1, 2, len(files)) + bytes(164)
    raw = c4_scramble(header) + b"".join(entries) + b"".join(blobs)
    if not compress:
        return raw
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    gz = packer.compress(raw) + packer.flush()
    return C4GROUP_MAGIC + gz[2:]
