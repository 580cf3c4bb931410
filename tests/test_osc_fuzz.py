"""Seeded fuzz run against the OSC bridge (issue 26): a few thousand hostile datagrams over
UDP, then the server must answer a ping within 1 s, make a valid file, have written nothing
outside its output folder, and have logged no traceback."""
from __future__ import annotations

import logging
import random
import socket
import struct
import threading
import time
from pathlib import Path

import soundfile as sf

from audiogan_bridges import log_limit, osc_wire
from test_osc_hostile import HANG, Records, bundle, ping_within
from test_osc_server import generate_and_wait, make_server, model, osc, peers  # noqa: F401

SEED = 2026
ADDRESSES = ["/audiogan/generate", "/audiogan/ping", "/audiogan/cancel", "/audiogan/play", "/audiogan/status",
             "/audiogan/nope", "/", "/audiogan/generate/x", "/\u00e9t\u00e9"]
TAGS = "ifsbhtdScrmTFNI[]"
BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80abc", b"\xc0\xaf"]


def pad(b: bytes) -> bytes:
    return b + b"\x00" * (-len(b) % 4)


def ostr(b: bytes) -> bytes:
    return pad(b + b"\x00")


class Fuzz:
    """Datagram makers, each drawing from one seeded random.Random."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def blob(self, n_max: int) -> bytes:
        return self.r.randbytes(self.r.randrange(n_max + 1))

    def value(self, tag: str) -> bytes:
        """A well-formed payload for `tag`, with random content."""
        r = self.r
        if tag in "ifcr":
            return r.randbytes(4)
        if tag in "hdt":
            return r.randbytes(8)
        if tag == "m":
            return r.randbytes(4)
        if tag in "sS":
            return ostr(r.choice([b"a dog barks", r.randbytes(r.randrange(20)).replace(b"\x00", b""),
                                  r.choice(BAD_UTF8), b"x" * r.randrange(2000)]))
        if tag == "b":
            data = self.blob(64)
            return struct.pack(">i", len(data)) + pad(data)
        return b""

    def message(self, address: str | bytes | None = None) -> bytes:
        """A message with random type tags and well-formed (or random) payloads."""
        r = self.r
        if address is None:
            address = r.choice(ADDRESSES)
        if isinstance(address, str):
            address = address.encode()
        tags = "".join(r.choice(TAGS + "xZ\x01\u00e9") for _ in range(r.randrange(8)))
        body = b"".join(self.value(t) for t in tags) if r.random() < 0.7 else self.blob(64)
        return ostr(address) + ostr(("," + tags).encode()) + body

    def random_bytes(self) -> bytes:
        return self.r.choice([b"", b"/", osc_wire.BUNDLE, b"#bun"]) + self.blob(600)

    def truncated(self) -> bytes:
        r = self.r
        m = r.choice([osc("/audiogan/generate", "rain on a roof", 3, 0.05, 2), osc("/audiogan/ping", 1, 2.0, "x"),
                      osc("/audiogan/cancel", 5), self.message()])
        return m[:r.randrange(1, len(m))] if len(m) > 1 else m

    def nested_bundle(self) -> bytes:
        """Bundles 1-7 deep whose sizes are sometimes negative, zero, unaligned or huge."""
        r = self.r
        inner = self.message()
        for _ in range(r.randrange(1, 8)):
            parts = [inner] + [self.message() for _ in range(r.randrange(3))]
            r.shuffle(parts)
            sizes = [r.choice([None, None, -4, -1, -2**31, 0, 1, 3, 2**31 - 1, 2**31 - 4, len(p) + 4, len(p) - 4])
                     for p in parts]
            inner = bundle(*parts, sizes=sizes)
        return inner

    def oversized(self) -> bytes:
        r = self.r
        kind = r.randrange(6)
        if kind == 0:  # one huge string
            return osc(r.choice(ADDRESSES[:2]), "y" * r.randrange(10_000, 60_000))
        if kind == 1:  # thousands of tiny messages
            return bundle(*[b"/a\x00\x00"] * r.randrange(65, 8000))
        if kind == 2:  # well-formed but 100 deep
            inner = osc("/audiogan/ping")
            for _ in range(100):
                inner = bundle(inner)
            return inner
        if kind == 3:  # 60,000 type tags
            return ostr(b"/audiogan/ping") + ostr(("," + r.choice("xTN[]") * 60_000).encode())
        if kind == 4:  # a blob claiming more than the datagram holds
            return ostr(b"/audiogan/ping") + ostr(b",b") + struct.pack(">i", r.choice([2**31 - 1, 70_000, -8]))
        return bundle(*[osc("/audiogan/ping", "z" * 900)] * 64)  # the most pongs one datagram may earn

    def non_utf8(self) -> bytes:
        r = self.r
        bad = r.choice(BAD_UTF8)
        if r.random() < 0.5:
            return ostr(b"/audiogan/" + bad) + ostr(b",s") + ostr(b"x")
        return ostr(b"/audiogan/generate") + ostr(b",ss") + ostr(b"a " + bad) + ostr(bad)

    def valid(self) -> bytes:
        """Real requests in between, so jobs run, finish and are cancelled during the fuzz."""
        r = self.r
        if r.random() < 0.5:
            text = r.choice(["rain", "../../etc/passwd", "été ♪", "a" * 999, "/abs\\path"])
            return osc("/audiogan/generate", text, r.randrange(2**31), r.uniform(0.01, 0.25), r.randrange(1, 4))
        return osc(r.choice(["/audiogan/cancel", "/audiogan/play"]), r.randrange(-2, 60))

    def datagrams(self, n: int) -> list[bytes]:
        makers = [self.random_bytes, self.truncated, self.message, self.nested_bundle, self.oversized, self.non_utf8,
                  self.valid]
        out = [HANG]
        while len(out) < n:
            d = self.r.choice(makers)()
            if len(d) <= 65_000:
                out.append(d)
        return out


def test_fuzz_datagrams_leave_the_server_healthy(model, make_server, peers, tmp_path, monkeypatch):
    datagrams = Fuzz(SEED).datagrams(3000)
    # The walker alone: every datagram is read, refused or ignored; nothing else ever raises.
    outcomes = {"read": 0, "refused": 0, "not osc": 0, "problem": 0}
    for d in datagrams:
        try:
            messages = osc_wire.read(d)
        except osc_wire.Refused:
            outcomes["refused"] += 1
            continue
        except osc_wire.NotOsc:
            outcomes["not osc"] += 1
            continue
        assert len(messages) <= osc_wire.MAX_MESSAGES
        outcomes["read"] += 1
        outcomes["problem"] += any(m.problem for m in messages)
    assert all(outcomes.values()), outcomes  # every kind of outcome was exercised
    # The server, over UDP: the log at -vv with no rate limit, so a traceback could not hide.
    monkeypatch.setattr(log_limit.LIMIT, "burst", 10**9)
    before = {p for p in tmp_path.rglob("*")}
    server = make_server(model, queue_size=8)
    peer = peers(server.port)
    replies = []
    pongs: dict[int, threading.Event] = {}
    stop = threading.Event()

    def drain():  # reads every reply, and tells the sender which pacing pings came back
        peer.sock.settimeout(0.1)
        while not stop.is_set():
            try:
                data = peer.sock.recvfrom(65536)[0]
            except (socket.timeout, TimeoutError):
                continue
            replies.append(data)
            for m in osc_wire.read(data):
                if m.address == "/audiogan/pong" and m.args[:1] == ["pace"] and m.args[1] in pongs:
                    pongs[m.args[1]].set()

    reader = threading.Thread(target=drain, daemon=True)
    thread_errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: thread_errors.append(args))
    with Records(verbose=2) as log:
        reader.start()
        t0 = time.monotonic()
        for i, d in enumerate(datagrams):
            peer.send_raw(d)
            if i % 10 == 9:  # one receiver answers in order: once this pong is back, so is the rest
                pongs[i] = threading.Event()
                peer.send("/audiogan/ping", "pace", i)
                assert pongs[i].wait(10), f"no answer after datagram {i}"
        sent_s = time.monotonic() - t0
        assert server.wait_idle(60)
        time.sleep(0.3)
        stop.set()
        reader.join()
        rtt = ping_within(peer, 1.0)
        job, got = generate_and_wait(peer, "a dog barks", 7, 0.05)
    path = Path(got[-1][1][1])
    assert sf.info(str(path)).frames == round(0.05 * model.sample_rate)
    assert rtt < 1.0 and not thread_errors
    assert all(t.is_alive() for t in server._threads)
    after = {p for p in tmp_path.rglob("*")}
    assert all(server.out_dir in p.parents or p == server.out_dir for p in after - before), after - before
    assert not list(server.out_dir.glob(".*"))  # no temp files
    bad = [r for r in log.records if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()]
    assert bad == [], [r.getMessage() for r in bad[:3]]
    lines = [r.getMessage() for r in log.records]
    assert any(line.startswith("refused a datagram") for line in lines)
    assert any(line.startswith("ignored ") for line in lines)
    print(f"fuzz: {len(datagrams)} datagrams ({sum(map(len, datagrams))} bytes) sent in {sent_s:.1f} s; walker "
          f"{outcomes}; {len(replies)} replies; {server._garbage} not OSC, {server._refused} refused; "
          f"{len(list(server.out_dir.glob('*.wav')))} files; {len(lines)} log lines; ping {1000 * rtt:.0f} ms")
    assert server._garbage == outcomes["not osc"] and server._refused == outcomes["refused"]  # none lost
