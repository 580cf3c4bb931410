"""RIFF/WAVE chunks: list them, insert metadata chunks before the audio, and the Broadcast Wave
`bext` chunk (EBU Tech 3285 v2). soundfile writes the audio (fmt, fact for float, data);
this module adds what it cannot write. Bytes in, bytes out: the caller does the atomic write.

A chunk is a 4-byte id, a little-endian uint32 size and the payload, padded to an even length
(the pad byte is not counted in the size). The RIFF header's size covers everything after it.
"""
from __future__ import annotations

import os
import struct
import unicodedata
from dataclasses import dataclass, field, fields

from .errors import InputError

MAX_RIFF_SIZE = 2**32 - 1


@dataclass(frozen=True)
class Chunk:
    id: bytes  # 4 bytes, e.g. b"fmt ", b"data", b"bext", b"iXML"
    offset: int  # where its payload starts in the file
    size: int  # payload bytes (without the pad byte)


def _check_header(head: bytes, name: str) -> int:
    """The RIFF size from a file's first 12 bytes, or InputError."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        kind = "an RF64/BW64 file (not supported)" if head[:4] in (b"RF64", b"BW64") else "not a RIFF/WAVE file"
        raise InputError(f"{name}: {kind}")
    return struct.unpack_from("<I", head, 4)[0]


def list_chunks(data: bytes, name: str = "file") -> list[Chunk]:
    """The chunks of a RIFF/WAVE file, in file order. A bad header or a chunk running past
    the end raises InputError (a truncated data chunk is allowed: some writers leave one)."""
    end = min(len(data), 8 + _check_header(data[:12], name))
    chunks, pos = [], 12
    while pos + 8 <= end:
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if pos + 8 + size > len(data):
            if cid == b"data":
                chunks.append(Chunk(cid, pos + 8, len(data) - pos - 8))
                break
            raise InputError(f"{name}: chunk {cid!r} at byte {pos} runs past the end of the file")
        chunks.append(Chunk(cid, pos + 8, size))
        pos += 8 + size + (size & 1)
    return chunks


def read_chunk(data: bytes, cid: bytes, name: str = "file") -> bytes | None:
    """The payload of the first chunk with this id, or None."""
    for chunk in list_chunks(data, name):
        if chunk.id == cid:
            return data[chunk.offset:chunk.offset + chunk.size]
    return None


def read_file_chunks(path: str | os.PathLike, ids: set[bytes], limit: int = 1 << 20) -> dict[bytes, bytes]:
    """The payloads of the first chunks with these ids in a WAV file, read by seeking from
    header to header (the audio is never read). A wanted chunk over `limit` bytes or running
    past the end of the file raises InputError."""
    name = os.path.basename(os.fspath(path))
    out: dict[bytes, bytes] = {}
    with open(path, "rb") as fh:
        end = min(os.fstat(fh.fileno()).st_size, 8 + _check_header(fh.read(12), name))
        pos = 12
        while pos + 8 <= end and len(out) < len(ids):
            fh.seek(pos)
            header = fh.read(8)
            cid, size = header[:4], struct.unpack_from("<I", header, 4)[0]
            if cid in ids and cid not in out:
                if pos + 8 + size > end:
                    raise InputError(f"{name}: chunk {cid!r} at byte {pos} runs past the end of the file")
                if size > limit:
                    raise InputError(f"{name}: {cid.decode('latin-1')} chunk of {size} bytes is too large to read")
                out[cid] = fh.read(size)
            pos += 8 + size + (size & 1)
    return out


def encode_chunk(cid: bytes, payload: bytes) -> bytes:
    if len(cid) != 4:
        raise ValueError(f"a chunk id has 4 bytes, got {cid!r}")
    return cid + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def insert_chunks(data: bytes, new: list[tuple[bytes, bytes]], name: str = "file") -> bytes:
    """The file with these (id, payload) chunks placed just before the data chunk, replacing
    any chunks with the same ids. Metadata before the audio lets a browser read it without
    seeking past the samples; every other chunk keeps its place and order."""
    chunks = list_chunks(data, name)
    if not any(c.id == b"data" for c in chunks):
        raise InputError(f"{name}: no data chunk")
    ids = {cid for cid, _ in new}
    body = [b"WAVE"]
    for chunk in chunks:
        if chunk.id in ids:
            continue
        if chunk.id == b"data":
            body += [encode_chunk(cid, payload) for cid, payload in new]
        body.append(encode_chunk(chunk.id, data[chunk.offset:chunk.offset + chunk.size]))
    out = b"".join(body)
    if len(out) > MAX_RIFF_SIZE:
        raise InputError(f"{name}: over 4 GiB, too large for a RIFF/WAVE file")
    return b"RIFF" + struct.pack("<I", len(out)) + out


# bext ---------------------------------------------------------------------------------------
_BEXT = struct.Struct("<256s32s32s10s8sIIH64s5h180s")  # 602 bytes, then CodingHistory
UNSET = 0x7FFF  # a v2 loudness field with no value


def ascii_text(text: str, limit: int) -> str:
    """Text folded to printable ASCII (bext fields are ASCII), cut to `limit` with '...'."""
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    s = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in s)
    return s if len(s) <= limit else s[:limit - 3] + "..."


@dataclass
class Bext:
    """The fields of a bext chunk. Loudness fields are in LUFS / LU / dBTP, None when unset."""

    description: str = ""
    originator: str = ""
    originator_reference: str = ""
    origination_date: str = ""  # yyyy-mm-dd
    origination_time: str = ""  # hh:mm:ss
    time_reference: int = 0  # samples since midnight of the first sample
    version: int = 2
    umid: bytes = b""
    loudness_value: float | None = None
    loudness_range: float | None = None
    max_true_peak_level: float | None = None
    max_momentary_loudness: float | None = None
    max_short_term_loudness: float | None = None
    coding_history: str = field(default="")

    def encode(self) -> bytes:
        def text(value: str, size: int) -> bytes:
            return ascii_text(value, size).encode("ascii")  # struct pads with NULs

        def centi(value: float | None) -> int:
            return UNSET if value is None else max(-32768, min(32766, round(value * 100)))

        fixed = _BEXT.pack(text(self.description, 256), text(self.originator, 32),
                           text(self.originator_reference, 32), text(self.origination_date, 10),
                           text(self.origination_time, 8), self.time_reference & 0xFFFFFFFF,
                           self.time_reference >> 32, self.version, self.umid[:64],
                           centi(self.loudness_value), centi(self.loudness_range), centi(self.max_true_peak_level),
                           centi(self.max_momentary_loudness), centi(self.max_short_term_loudness), b"")
        # EBU R98: one line per process, each ended by CR LF
        lines = [ascii_text(line, 1024) for line in self.coding_history.splitlines() if line.strip()]
        return fixed + "".join(line + "\r\n" for line in lines).encode("ascii")

    @classmethod
    def decode(cls, payload: bytes) -> "Bext":
        if len(payload) < _BEXT.size:
            raise InputError(f"bext chunk is {len(payload)} bytes, shorter than the {_BEXT.size} it must have")
        v = _BEXT.unpack_from(payload)

        def text(raw: bytes) -> str:
            return raw.split(b"\0", 1)[0].decode("latin-1").strip()

        version = v[7]

        def centi(raw: int) -> float | None:
            return None if version < 2 or raw == UNSET else raw / 100

        return cls(text(v[0]), text(v[1]), text(v[2]), text(v[3]), text(v[4]), v[5] | (v[6] << 32), version,
                   v[8].rstrip(b"\0"), *[centi(x) for x in v[9:14]],
                   coding_history=payload[_BEXT.size:].split(b"\0", 1)[0].decode("latin-1"))

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["umid"] = d["umid"].hex()
        return d
