"""OSC datagrams in and out, read by a bounded walker of our own.

No third-party parser ever sees a datagram: python-osc 1.10.2's bundle parser loops forever on
a bundle element of negative size (`#bundle\\0`, a time tag, then size -4: 20 bytes), so
every byte the server receives is read here, in one pass with no recursion:

- a bundle's element sizes must be positive multiples of 4 that end inside the bundle, and a
  bundle must hold only messages and bundles; bundles nest at most MAX_DEPTH deep and a
  datagram holds at most MAX_MESSAGES messages. Anything else refuses the whole datagram
  (`Refused`); nothing in it is acted on.
- each message is decoded on its own. A message that cannot be read to its end (truncated,
  invalid UTF-8, a blob of negative size, a type tag OSC does not define, unbalanced arrays)
  keeps the arguments read before the problem and says what the problem is (`Message.problem`).
- bytes that are neither a message nor a bundle raise `NotOsc`.

Every loop advances by at least one byte of the datagram and every list holds at most one
entry per byte read, so time and memory are linear in the datagram's size (at most 64 KiB).
Time tags are read but not honoured: messages are handled at once, in the order they appear.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

BUNDLE = b"#bundle\x00"
MAX_DEPTH = 4  # a bundle inside a bundle inside a bundle inside a bundle
MAX_MESSAGES = 64
MAX_ARRAY_DEPTH = 8
FLOAT32_MAX = 3.4028234663852886e38
INT32 = 2**31
INT64 = 2**63

# Type tags with a fixed payload: struct format (big-endian), bytes.
_FIXED = {"i": (">i", 4), "f": (">f", 4), "h": (">q", 8), "d": (">d", 8), "t": (">Q", 8),
          "c": (">i", 4), "r": (">I", 4), "m": (">4s", 4)}
_NO_DATA = {"T": True, "F": False, "N": None, "I": None}
KNOWN_TAGS = "ifsbhtdScrmTFNI[]"


class NotOsc(Exception):
    """The datagram is neither an OSC message nor an OSC bundle."""


class Refused(Exception):
    """The datagram is OSC but its structure is broken or over the limits; refused whole."""


@dataclass(frozen=True)
class Raw:
    """An argument of a type no request takes (t time tag, c char, r colour, m MIDI, I impulse).
    Handlers see it as neither number nor string; ping echoes it unchanged."""
    tag: str
    value: object

    def __repr__(self) -> str:
        return f"<{self.tag} {self.value!r}>"


class Args(list):
    """Decoded arguments (arrays as nested lists) that also remember their type tags."""

    def __init__(self, values=(), tags: str | None = None):
        super().__init__(values)
        self.tags = tags


@dataclass
class Message:
    address: str
    args: Args = field(default_factory=Args)
    problem: str | None = None  # why the message could not be read to its end


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def _show_bytes(b: bytes, limit: int = 60) -> str:
    text = b[:limit].decode("utf-8", "backslashreplace")
    return text + ("..." if len(b) > limit else "")


def split(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every message in the datagram, in order. Raises NotOsc or Refused."""
    if data.startswith(b"/"):
        return [(0, len(data))]
    if not data.startswith(BUNDLE):
        raise NotOsc(f"starts with {_show_bytes(data, 16)!r}, not '/' or '#bundle'")
    if len(data) < 16:
        raise Refused(f"bundle of {len(data)} bytes; a bundle has at least 16 (#bundle, time tag)")
    spans: list[tuple[int, int]] = []
    frames = [[16, len(data), 1]]  # per open bundle: next element offset, end, depth
    while frames:
        frame = frames[-1]
        i, end, depth = frame
        if i == end:
            frames.pop()
            continue
        if end - i < 4:
            raise Refused(f"{end - i} stray bytes at offset {i}, after the last bundle element")
        size = struct.unpack_from(">i", data, i)[0]
        if size <= 0 or size % 4 or size > end - i - 4:
            raise Refused(f"bundle element at offset {i} has size {size}; sizes must be positive multiples "
                          f"of 4 that end inside the bundle ({end - i - 4} bytes left)")
        start, stop = i + 4, i + 4 + size
        frame[0] = stop
        if data.startswith(BUNDLE, start, stop):
            if depth >= MAX_DEPTH:
                raise Refused(f"bundles nested more than {MAX_DEPTH} deep")
            if size < 16:
                raise Refused(f"bundle at offset {start} has {size} bytes; a bundle has at least 16")
            frames.append([start + 16, stop, depth + 1])
        elif data[start] == 0x2F:  # "/"
            spans.append((start, stop))
            if len(spans) > MAX_MESSAGES:
                raise Refused(f"more than {MAX_MESSAGES} messages in one datagram")
        else:
            raise Refused(f"bundle element at offset {i} is neither a message nor a bundle "
                          f"(starts with {_show_bytes(data[start:start + 8], 8)!r})")
    return spans


def _string(data: bytes, i: int, end: int, what: str) -> tuple[str, int]:
    """A NUL-terminated, 4-padded UTF-8 string at i: (text, next offset). Raises ValueError."""
    nul = data.find(b"\x00", i, end)
    if nul < 0:
        raise ValueError(f"{what} has no terminating NUL before the end of the message")
    raw = data[i:nul]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start} of "
                         f"{_show_bytes(raw)!r})") from None
    return text, min(i + _pad4(nul - i + 1), end)  # lenient about missing padding at the very end


def decode(data: bytes, start: int, end: int) -> Message:
    """One message (data[start:end] begins with '/'); never raises."""
    try:
        address, i = _string(data, start, end, "the address")
    except ValueError as exc:
        nul = data.find(b"\x00", start, end)
        return Message(_show_bytes(data[start:nul if nul >= 0 else end], 80), Args(tags=""), str(exc))
    if i >= end:  # no type tag string at all: OSC 1.0 allows it, no arguments
        return Message(address, Args(tags=""))
    if data[i] != 0x2C:  # ","
        return Message(address, Args(tags=""), "no type tag string (it must start with ',') after the address")
    try:
        tags, i = _string(data, i, end, "the type tag string")
    except ValueError as exc:
        return Message(address, Args(tags=""), str(exc))
    tags = tags[1:]  # the comma
    top = Args()
    stack: list[list] = [top]
    read = []  # the tags read so far, brackets included
    problem = None
    n = 0  # argument number, for messages (1-based)
    for tag in tags:
        if tag == "[":
            if len(stack) > MAX_ARRAY_DEPTH:
                problem = f"arrays nested more than {MAX_ARRAY_DEPTH} deep"
                break
            inner: list = []
            stack[-1].append(inner)
            stack.append(inner)
            read.append(tag)
            continue
        if tag == "]":
            if len(stack) == 1:
                problem = "']' without '[' in the type tags"
                break
            stack.pop()
            read.append(tag)
            continue
        n += 1
        try:
            if tag in _FIXED:
                fmt, size = _FIXED[tag]
                if i + size > end:
                    raise ValueError(f"argument {n} ({tag}) runs past the end of the message")
                value = struct.unpack_from(fmt, data, i)[0]
                i += size
                if tag in "tcrm":
                    value = Raw(tag, value)
            elif tag in "sS":
                value, i = _string(data, i, end, f"argument {n} ({tag})")
            elif tag == "b":
                if i + 4 > end:
                    raise ValueError(f"argument {n} (b) runs past the end of the message")
                size = struct.unpack_from(">i", data, i)[0]
                if size < 0 or i + 4 + size > end:
                    raise ValueError(f"argument {n} (b) has size {size}; {end - i - 4} bytes are left")
                value = data[i + 4:i + 4 + size]
                i = min(i + 4 + _pad4(size), end)
            elif tag in _NO_DATA:
                value = Raw("I", None) if tag == "I" else _NO_DATA[tag]
            else:
                shown = tag if tag.isprintable() else repr(tag)
                raise ValueError(f"argument {n} has type tag '{shown}', which this server does not know "
                                 f"(known: {KNOWN_TAGS})")
        except ValueError as exc:
            problem = str(exc)
            break
        stack[-1].append(value)
        read.append(tag)
    if problem is None and len(stack) > 1:
        problem = "'[' without ']' in the type tags"
    if problem is not None:
        # Close the arrays left open so what was read stays a well-formed argument list.
        read.extend("]" * (len(stack) - 1))
        if len(tags) > len(read):
            problem += f"; {len(tags) - len(read)} of {len(tags)} type tags not read"
    top.tags = "".join(read)
    return Message(address, top, problem)


def read(data: bytes) -> list[Message]:
    """Every message of a datagram, in order. Raises NotOsc or Refused."""
    return [decode(data, s, e) for s, e in split(data)]


# Writing -------------------------------------------------------------------------------
def tag_for(value) -> str:
    """The type tag a reply argument is sent with: numbers in the smallest OSC type that holds
    them exactly (float32 when finite and in range, else float64), anything else as a string."""
    if isinstance(value, Raw):
        return value.tag
    if value is True:
        return "T"
    if value is False:
        return "F"
    if value is None:
        return "N"
    if isinstance(value, int):
        return "i" if -INT32 <= value < INT32 else "h" if -INT64 <= value < INT64 else "s"
    if isinstance(value, float):
        return "f" if not math.isfinite(value) or abs(value) <= FLOAT32_MAX else "d"
    if isinstance(value, (bytes, bytearray)):
        return "b"
    return "s"


def _encode_string(text: str) -> bytes:
    raw = text.encode("utf-8", "backslashreplace").replace(b"\x00", b"\\x00") + b"\x00"
    return raw + b"\x00" * (_pad4(len(raw)) - len(raw))


def encode(address: str, args: list, tags: str | None = None) -> bytes:
    """An OSC message. With `tags` (as Args.tags gives them, brackets for nested lists) each
    argument keeps its tag; without, tag_for() chooses. Raises ValueError if they disagree."""
    if tags is None:
        tags = _tags_of(args)
    out = [_encode_string(address), _encode_string("," + tags)]
    stack = [iter(args)]
    for tag in tags:
        if tag == "]":
            stack.pop()
            continue
        value = next(stack[-1])
        if tag == "[":
            stack.append(iter(value))
            continue
        if isinstance(value, Raw):
            value = value.value
        if tag in _FIXED:
            out.append(struct.pack(_FIXED[tag][0], value))
        elif tag in "sS":
            out.append(_encode_string(str(value)))
        elif tag == "b":
            out.append(struct.pack(">i", len(value)) + bytes(value) + b"\x00" * (_pad4(len(value)) - len(value)))
        elif tag not in _NO_DATA:
            raise ValueError(f"cannot send type tag {tag!r}")
    return b"".join(out)


def _tags_of(args: list) -> str:
    parts = []
    for value in args:
        if isinstance(value, list):
            parts.append("[" + _tags_of(value) + "]")
        else:
            parts.append(tag_for(value))
    return "".join(parts)
