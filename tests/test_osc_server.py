"""The OSC bridge, spoken to by python-osc clients: replies, files, limits, bad input."""
from __future__ import annotations

import math
import os
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from audiogan_bridges.osc_server import OscServer, slug
from audiogan_core import AudioGAN, InputError, preset


# Helpers ----------------------------------------------------------------------------------
def osc(address: str, *args) -> bytes:
    """Encode with explicit tags: (value, tag) pairs, or plain values (python-osc's choice)."""
    b = OscMessageBuilder(address=address)
    for a in args:
        if isinstance(a, tuple):
            b.add_arg(a[0], a[1])
        else:
            b.add_arg(a)
    return b.build().dgram


class Peer:
    """A UDP OSC peer: sends from its own socket, so replies come back to it."""

    def __init__(self, server_port: int, bind_port: int = 0):
        self.server = ("127.0.0.1", server_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind(("127.0.0.1", bind_port))
        self.port = self.sock.getsockname()[1]

    def send(self, address: str, *args) -> None:
        self.sock.sendto(osc(address, *args), self.server)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def recv(self, timeout: float = 5.0):
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(65536)
        msg = OscPacket(data).messages[0].message
        return msg.address, list(msg.params)

    def expect(self, address: str, timeout: float = 5.0):
        """The next reply, which must have this address."""
        got = self.recv(timeout)
        assert got[0] == address, f"expected {address}, got {got}"
        return got[1]

    def until(self, stop, timeout: float = 10.0) -> list:
        """Replies up to and including the first one for which stop(address, args) is true."""
        out, deadline = [], time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; got {out}"
            a, p = self.recv(left)
            out.append((a, p))
            if stop(a, p):
                return out

    def close(self):
        self.sock.close()


def generate_and_wait(peer: Peer, *args, files: int = 1, timeout: float = 20.0) -> tuple[int, list]:
    peer.send("/audiogan/generate", *args)
    reply = peer.recv(timeout)
    assert reply[0] == "/audiogan/accepted", reply
    job = reply[1][0]
    done = []

    def stop(address, params):
        if address == "/audiogan/done":
            done.append(params)
        return len(done) == files or address in ("/audiogan/error", "/audiogan/cancelled")

    replies = peer.until(stop, timeout)
    assert replies[-1][0] == "/audiogan/done", replies
    return job, replies


class SlowModel:
    """The real model, but each request first reports progress `steps` times, `delay` s apart."""

    def __init__(self, model, steps=10, delay=0.05, fake=False):
        self._model, self.steps, self.delay, self.fake = model, steps, delay, fake
        self.started = threading.Event()

    def __getattr__(self, name):
        return getattr(self._model, name)

    def generate(self, texts, *, progress=None, **kw):
        self.started.set()
        for i in range(self.steps):
            if progress is not None:
                progress(0.4 * i / self.steps)
            time.sleep(self.delay)
        if self.fake:  # skip the network: a quiet tone of the right length
            from audiogan_core.api import Clip

            request = self._model.check_request(texts, kw.get("seconds"), kw.get("variations", 1), kw.get("seed"))
            sr = self._model.sample_rate
            tone = (0.1 * np.sin(np.arange(round(request.seconds * sr)) * 0.1)).astype(np.float32)
            return [Clip(t, s, v, tone, sr) for _, t, s, v in request.clips]
        return self._model.generate(texts, progress=progress, **kw)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# Fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model():
    return AudioGAN.from_config(preset("tiny"))


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(model, **kw):
        kw.setdefault("out_dir", tmp_path / "out")
        server = OscServer(model, host="127.0.0.1", port=0, **kw).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def peers():
    made = []

    def make(port, bind_port=0):
        p = Peer(port, bind_port)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


# Happy paths ------------------------------------------------------------------------------
def test_generate_round_trip_writes_wav_at_server_rate_and_depth(model, make_server, peers):
    server = make_server(model, sample_rate=48000, bit_depth=24)
    peer = peers(server.port)
    job, replies = generate_and_wait(peer, "a dog barks", 7, 0.2)
    assert job == 1
    progress = [p for a, p in replies if a == "/audiogan/progress"]
    assert progress[0] == [job, 0.0] and progress[-1] == [job, 1.0]
    assert all(p[0] == job and 0.0 <= p[1] <= 1.0 for p in progress)
    assert [p[1] for p in progress] == sorted(p[1] for p in progress)
    _, (done_job, path) = replies[-1]
    assert done_job == job
    path = Path(path)
    assert path.is_absolute() and path.parent == server.out_dir
    assert path.name == "00001_a-dog-barks_seed7.wav"
    info = sf.info(str(path))
    assert info.samplerate == 48000 and info.subtype == "PCM_24" and info.channels == 1
    assert info.frames == round(0.2 * 48000)
    audio, _ = sf.read(str(path))
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert not list(server.out_dir.glob(".*.tmp"))  # atomic writes leave no temp files


def test_variations_and_pd_style_arguments(model, make_server, peers):
    """Pd/Max send numbers as floats and split sentences into symbols; both are accepted."""
    server = make_server(model)
    peer = peers(server.port)
    job, replies = generate_and_wait(peer, "rain", "on", "a", "tin", "roof", (3.0, "f"), (0.1, "f"), (3.0, "f"),
                                     files=3)
    done = [p for a, p in replies if a == "/audiogan/done"]
    assert [Path(p[1]).name for p in done] == [f"{job:05d}_rain-on-a-tin-roof_seed{s}.wav" for s in (3, 4, 5)]
    for _, path in done:
        info = sf.info(path)
        assert info.samplerate == model.sample_rate and info.subtype == "PCM_16"
        assert info.frames == round(0.1 * model.sample_rate)


def test_random_seed_and_default_length(model, make_server, peers):
    server = make_server(model)
    peer = peers(server.port)
    _, replies = generate_and_wait(peer, "wind", -1)
    name = Path(replies[-1][1][1]).name
    assert name.startswith("00001_wind_seed") and name.endswith(".wav")
    assert sf.info(replies[-1][1][1]).frames == round(model.max_seconds * model.sample_rate)


def test_ping_pong_and_status(model, make_server, peers):
    server = make_server(model)
    peer = peers(server.port)
    peer.send("/audiogan/ping")
    assert peer.expect("/audiogan/pong") == []
    peer.send("/audiogan/ping", 42, "hello")
    assert peer.expect("/audiogan/pong") == [42, "hello"]
    peer.send("/audiogan/status")
    assert peer.expect("/audiogan/status") == [0, "tiny", "cpu"]
    # A bundle of messages is answered message by message.
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(OscMessageBuilder("/audiogan/ping").build())
    bundle.add_content(OscMessageBuilder("/audiogan/status").build())
    peer.send_raw(bundle.build().dgram)
    assert peer.recv()[0] == "/audiogan/pong"
    assert peer.recv()[0] == "/audiogan/status"


def test_reply_port(model, make_server, peers):
    listener = peers(0)  # only receives
    server = make_server(model, reply_port=listener.port)
    sender = peers(server.port)
    sender.send("/audiogan/ping")
    assert listener.expect("/audiogan/pong") == []
    listener.server = ("127.0.0.1", server.port)
    sender.send("/audiogan/generate", "a bell", 1, 0.05)
    assert listener.expect("/audiogan/accepted") == [1]
    replies = listener.until(lambda a, p: a == "/audiogan/done")
    assert Path(replies[-1][1][1]).is_file()
    sender.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        sender.sock.recvfrom(65536)  # nothing went to the sender's own port


# Cancel -----------------------------------------------------------------------------------
def test_cancel_running_and_queued(model, make_server, peers):
    slow = SlowModel(model, steps=40, delay=0.05)
    server = make_server(slow)
    peer = peers(server.port)
    peer.send("/audiogan/generate", "first", 1, 0.1)
    assert peer.expect("/audiogan/accepted") == [1]
    assert slow.started.wait(5)
    peer.send("/audiogan/generate", "second", 2, 0.1)
    replies = peer.until(lambda a, p: a == "/audiogan/accepted")
    assert replies[-1][1] == [2]
    peer.send("/audiogan/status")
    replies = peer.until(lambda a, p: a == "/audiogan/status")
    assert replies[-1][1][0] == 1  # job 2 waits
    peer.send("/audiogan/cancel", 2)  # queued: dropped at once
    replies = peer.until(lambda a, p: a == "/audiogan/cancelled")
    assert replies[-1][1] == [2]
    peer.send("/audiogan/cancel", 1)  # running: abandoned at its next progress call
    replies = peer.until(lambda a, p: a == "/audiogan/cancelled", timeout=5)
    assert replies[-1][1] == [1]
    assert not any(a == "/audiogan/done" for a, _ in replies)
    assert server.wait_idle(5)
    assert not list(server.out_dir.glob("*.wav"))
    # Cancelling again, or a job that never existed, is an error; the server keeps serving.
    peer.send("/audiogan/cancel", 1)
    assert "already cancelled" in peer.expect("/audiogan/error")[1]
    peer.send("/audiogan/cancel", 77)
    assert peer.expect("/audiogan/error") == [-1, "/audiogan/cancel: no job 77 (unknown, or forgotten)"]
    slow.steps = 0
    job, replies = generate_and_wait(peer, "third", 3, 0.1)
    assert job == 3 and Path(replies[-1][1][1]).is_file()


# Files ------------------------------------------------------------------------------------
def test_path_traversal_text_gets_a_safe_name(model, make_server, peers, tmp_path):
    server = make_server(model)
    peer = peers(server.port)
    before = set(tmp_path.rglob("*"))
    _, replies = generate_and_wait(peer, "../../etc/passwd", 5, 0.05)
    path = Path(replies[-1][1][1])
    assert path.name == "00001_etc-passwd_seed5.wav" and path.parent == server.out_dir
    assert set(tmp_path.rglob("*")) - before == {path}
    assert slug("/ABSOLUTE\\path\x00 with ünïcode!! and \n newline") == "absolute-path-with-unicode-and-newline"
    assert slug("...") == "clip" and slug("x" * 100) == "x" * 40


def test_never_overwrites(model, make_server, peers):
    server = make_server(model)
    server.out_dir.mkdir(parents=True, exist_ok=True)
    taken = server.out_dir / "00001_a-cat_seed9.wav"
    taken.write_bytes(b"not mine")
    peer = peers(server.port)
    _, replies = generate_and_wait(peer, "a cat", 9, 0.05)
    assert Path(replies[-1][1][1]).name == "00001_a-cat_seed9_1.wav"
    assert taken.read_bytes() == b"not mine"


# Bad input --------------------------------------------------------------------------------
BAD_GENERATE = [
    ([], "missing text"),
    ([7], "text must be a string (s), got 7 (i)"),
    ([(b"\x00\x01", "b")], "text must be a string (s)"),
    (["   "], "text is empty"),
    (["x", 1.5], "seed must be a whole number"),
    (["x", True], "seed must be an integer (i), got True (T)"),
    (["x", -5], "seed must be >= 0"),
    (["x", 1, (1, "T")], "seconds must be a number (f), got True (T)"),
    (["x", 1, None], "seconds must be a number (f), got None (N)"),
    (["x", 1, 0.0], "seconds must be a positive finite number, got 0.0"),
    (["x", 1, -1.0], "seconds must be a positive finite number, got -1.0"),
    (["x", 1, float("nan")], "seconds must be a positive finite number, got nan"),
    (["x", 1, float("inf")], "seconds must be a positive finite number, got inf"),
    (["x", 1, 1e9], "at most 0.256 s per clip"),
    (["x", 1, (1e9, "d")], "at most 0.256 s per clip"),
    (["x", 1, 1e-6], "at least"),
    (["x", 1, 0.1, 10_000], "variations must be between 1 and 16, got 10000"),
    (["x", 1, 0.1, 0], "variations must be between 1 and 16, got 0"),
    (["x", 1, 0.1, 2.5], "variations must be a whole number"),
    (["x", 1, 0.1, 2, 5], "too many arguments"),
    (["x" * 60_000], "text is 60000 characters long; the limit is 1000"),
]


@pytest.mark.parametrize("args, message", BAD_GENERATE)
def test_bad_generate_arguments_answered_with_error(model, make_server, peers, args, message):
    server = make_server(model)
    peer = peers(server.port)
    peer.send("/audiogan/generate", *args)
    job, text = peer.expect("/audiogan/error")
    assert job == -1
    assert text.startswith("/audiogan/generate: ") and message in text, text
    assert len(text) < 1000  # a long text is not echoed back
    peer.send("/audiogan/ping")
    assert peer.expect("/audiogan/pong") == []
    assert server.queue_length == 0 and not list(server.out_dir.glob("*.wav"))


def test_garbage_oversize_unknown_and_misc_errors_keep_server_alive(model, make_server, peers):
    server = make_server(model)
    peer = peers(server.port)
    # Bytes that are not OSC, and an empty datagram: ignored, no reply.
    noise = np.random.default_rng(5).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    assert noise[:1] not in (b"/", b"#")
    for raw in (b"hello world", b"\xff" * 100, b"", noise):
        peer.send_raw(raw)
    # A truncated message is answered with what is wrong; a bundle whose element runs past its
    # end is refused whole.
    peer.send_raw(b"/audiogan/generate\x00\x00,s\x00\x00abc")
    assert peer.expect("/audiogan/error") == [-1, "/audiogan/generate: argument 1 (s) has no terminating NUL "
                                                   "before the end of the message; 1 of 1 type tags not read"]
    peer.send_raw(b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 1000) + b"/x\x00\x00")
    job, text = peer.expect("/audiogan/error")
    assert job == -1 and text.startswith("datagram refused: bundle element at offset 16 has size 1000;"), text
    # Larger than any UDP datagram: the sender's kernel refuses it; nothing reaches the server.
    with pytest.raises(OSError):
        peer.send("/audiogan/generate", "x" * 100_000)
    # The largest datagram loopback carries, with a too-long text: an error, not a crash.
    peer.send("/audiogan/generate", "y" * 65_400)
    job, text = peer.expect("/audiogan/error")
    assert job == -1 and "65400 characters long" in text
    for address in ("/x", "/audiogan", "/audiogan/nope", "/audiogan/generate/extra", "/AUDIOGAN/PING"):
        peer.send(address)
        job, text = peer.expect("/audiogan/error")
        assert job == -1 and text.startswith(f"unknown address {address};"), text
    for address, args, message in [
        ("/audiogan/play", [], "/audiogan/play: missing job number"),
        ("/audiogan/play", ["one"], "/audiogan/play: job must be an integer (i), got 'one' (s)"),
        ("/audiogan/play", [999], "/audiogan/play: no job 999"),
        ("/audiogan/cancel", [1.5], "/audiogan/cancel: job must be a whole number"),
        ("/audiogan/cancel", [], "/audiogan/cancel: missing job number"),
    ]:
        peer.send(address, *args)
        job, text = peer.expect("/audiogan/error")
        assert job == -1 and text.startswith(message), text
    job, _ = generate_and_wait(peer, "drums", 1, 0.05)
    peer.send("/audiogan/play", job)
    job_, text = peer.expect("/audiogan/error")
    assert "no audio device; start the server with --audio-device NAME" in text
    peer.send("/audiogan/ping")
    assert peer.expect("/audiogan/pong") == []
    assert server._garbage == 4 and server._refused == 1


def test_large_int64_seed_accepted(model, make_server, peers):
    server = make_server(model)
    peer = peers(server.port)
    _, replies = generate_and_wait(peer, "hum", (2**40, "h"), 0.05)
    assert Path(replies[-1][1][1]).name == f"00001_hum_seed{2**40}.wav"


def test_burst_of_1000_requests_bounded_queue(model, make_server, peers):
    slow = SlowModel(model, steps=1, delay=0.02, fake=True)
    server = make_server(slow, queue_size=32)
    peer = peers(server.port)
    rss0 = rss_mb()
    replies = []
    stop = threading.Event()

    def reader():  # drain replies while sending so neither socket buffer overflows
        while not stop.is_set():
            try:
                replies.append(peer.recv(0.2))
            except (socket.timeout, TimeoutError):
                pass

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    n = 1000
    for i in range(n):
        peer.send("/audiogan/generate", f"burst {i}", i, 0.02)
        if i % 50 == 49:
            time.sleep(0.005)  # loopback drops datagrams when a socket buffer is full; stay honest
    assert server.wait_idle(60)
    time.sleep(0.3)
    peer.send("/audiogan/ping")
    deadline = time.monotonic() + 5
    while not any(a == "/audiogan/pong" for a, _ in replies) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    t.join()
    accepted = [p[0] for a, p in replies if a == "/audiogan/accepted"]
    busy = [p for a, p in replies if a == "/audiogan/error"]
    done = [p for a, p in replies if a == "/audiogan/done"]
    assert any(a == "/audiogan/pong" for a, _ in replies)
    assert busy and all(m == "busy: queue full (32 waiting)" and j > 0 for j, m in busy)
    assert len(accepted) + len(busy) == n  # every request got exactly one answer
    assert len(done) == len(accepted) == len(list(server.out_dir.glob("*.wav")))
    assert rss_mb() - rss0 < 200
    assert not server._active and len(server._finished) == min(len(accepted), server.keep_jobs)


def test_constructor_rejects_bad_settings(model, tmp_path):
    for kw, message in [({"bit_depth": 8}, "bit depth"), ({"sample_rate": 100}, "sample rate"),
                        ({"queue_size": 0}, "queue size"), ({"max_variations": 0}, "max variations"),
                        ({"reply_port": 70000}, "reply port")]:
        with pytest.raises(InputError, match=message):
            OscServer(model, out_dir=tmp_path, **kw)
    a = OscServer(model, port=0, out_dir=tmp_path).start()
    try:
        with pytest.raises(InputError, match="cannot listen on udp 127.0.0.1"):
            OscServer(model, port=a.port, out_dir=tmp_path).start()
    finally:
        a.stop()


def test_receiver_never_blocks_on_generation(model, make_server, peers):
    slow = SlowModel(model, steps=20, delay=0.05)
    server = make_server(slow)
    peer = peers(server.port)
    peer.send("/audiogan/generate", "long one", 1, 0.1)
    assert peer.expect("/audiogan/accepted") == [1]
    assert slow.started.wait(5)
    t0 = time.perf_counter()
    peer.send("/audiogan/ping")
    replies = peer.until(lambda a, p: a == "/audiogan/pong")
    assert time.perf_counter() - t0 < 0.5
    assert not any(a == "/audiogan/done" for a, _ in replies)
    peer.until(lambda a, p: a == "/audiogan/done")
    assert math.isclose(sf.info(str(next(server.out_dir.glob("*.wav")))).duration, 0.1, abs_tol=1e-3)


# The click command ------------------------------------------------------------------------
def test_serve_command_help_and_bad_options():
    from click.testing import CliRunner

    from audiogan_bridges.cli import serve
    from audiogan_core.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--osc-port", "--host", "--reply-port", "--out", "--model", "--text-encoder", "--vocoder",
                   "--device", "--audio-device", "--sample-rate", "--bit-depth", "--queue-size", "--max-variations",
                   "/audiogan/generate"):
        assert option in result.output, option
    result = runner.invoke(main, ["serve", "--sample-rate", "100"])
    assert result.exit_code == 2 and "--sample-rate must be between 8000 and 384000" in result.output
    result = runner.invoke(serve, ["--bit-depth", "8"])
    assert result.exit_code == 2 and "'8'" in result.output and "--bit-depth" in result.output


@pytest.mark.slow
def test_serve_command_end_to_end(tmp_path):
    """`audiogan serve` as a process: port 0 is reported, requests answered, SIGTERM stops it."""
    import re
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "audiogan_core.cli", "serve", "--model", "untrained:tiny",
                             "--osc-port", "0", "--out", str(tmp_path / "out"), "--sample-rate", "22050"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "listening on" not in line:
            line = proc.stderr.readline()
            assert line, "serve exited early"
        port = int(re.search(r"udp://127\.0\.0\.1:(\d+)", line).group(1))
        peer = Peer(port)
        _, replies = generate_and_wait(peer, "a dog barks", 7, 0.2)
        assert sf.info(replies[-1][1][1]).samplerate == 22050
        peer.close()
    finally:
        proc.terminate()
        assert proc.wait(20) == 0


def test_serve_refuses_an_unresolvable_host_before_loading_anything(tmp_path):
    from click.testing import CliRunner

    from audiogan_core.cli import main

    out = tmp_path / "served"
    result = CliRunner().invoke(main, ["serve", "--host", "no-such-host.invalid", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "cannot resolve host 'no-such-host.invalid'" in result.stderr
    assert "other machines can send requests" not in result.stderr  # no warning about a host it never used
    assert not out.exists()


def test_server_creates_no_output_folder_for_an_unresolvable_host(model, tmp_path):
    server = OscServer(model, host="no-such-host.invalid", port=0, out_dir=tmp_path / "out")
    with pytest.raises(InputError, match="cannot resolve host"):
        server.start()
    assert not (tmp_path / "out").exists()
