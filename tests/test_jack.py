"""Playback through JACK: audiogan's Player (and `audiogan serve --audio-device jack`) on a
JACK server with the dummy driver (no sound card), recorded by jack_rec, a JACK client
written by others, and compared sample by sample after alignment.

Needs (Debian/Ubuntu): apt-get install jackd2 libportaudio2 (Debian's PortAudio is built
with JACK support; PortAudio lists the JACK host API only while a JACK server runs).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = [
    pytest.mark.external,
    pytest.mark.skipif(not all(shutil.which(p) for p in ("jackd", "jack_lsp", "jack_rec", "jack_wait")),
                       reason="JACK not installed (apt-get install jackd2)"),
]

RATE = 48000
PERIOD = 1024


def _portaudio_available() -> bool:
    try:
        import sounddevice  # noqa: F401
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def jack_env():
    if not _portaudio_available():
        pytest.skip("PortAudio not installed (apt-get install libportaudio2)")
    name = f"audiogan-test-{os.getpid()}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1",
               PYTHONUNBUFFERED="1")
    server = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", str(RATE), "-p",
                               str(PERIOD)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ok = subprocess.run(["jack_wait", "-w", "-t", "10"], env=env, capture_output=True, text=True, timeout=15)
        if server.poll() is not None or ok.returncode != 0:
            pytest.fail(f"jackd did not start: {server.stdout.read() if server.poll() is not None else ok.stdout}")
        # PortAudio must see JACK; Debian's libportaudio2 is built with it.
        apis = subprocess.run([sys.executable, "-c", "import sounddevice as sd; "
                               "print([a['name'] for a in sd.query_hostapis()])"],
                              env=env, capture_output=True, text=True, timeout=30).stdout
        assert "JACK Audio Connection Kit" in apis, f"PortAudio has no JACK host API: {apis}"
        yield env
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def jack_ports(env, connections=False) -> list[str]:
    args = ["jack_lsp", "-c"] if connections else ["jack_lsp"]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=10).stdout.splitlines()


def connections(env, port: str) -> list[str]:
    """The ports `port` is connected to (jack_lsp -c lists them indented under it)."""
    found, inside = [], False
    for line in jack_ports(env, connections=True):
        if not line.startswith((" ", "\t")):
            inside = line == port
        elif inside:
            found.append(line.strip())
    return found


def wait_for_port(env, prefix: str, suffix: str, timeout=20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ports = [p for p in jack_ports(env) if p.startswith(prefix) and p.endswith(suffix)]
        if ports:
            return ports[0]
        time.sleep(0.1)
    raise AssertionError(f"no JACK port {prefix}*{suffix}; ports: {jack_ports(env)}")


def start_recorder(env, port: str, path: Path, seconds: float) -> subprocess.Popen:
    """jack_rec records `port` into a 32-bit WAV; returns once it is connected."""
    rec = subprocess.Popen(["jack_rec", "-f", str(path), "-d", str(seconds), "-b", "32", port], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(peer.startswith("jackrec") for peer in connections(env, port)):
            return rec
        assert rec.poll() is None, rec.stdout.read()
        time.sleep(0.05)
    raise AssertionError(f"jack_rec never connected to {port}: {jack_ports(env, connections=True)}")


def align(recorded: np.ndarray, reference: np.ndarray) -> int:
    """Offset of `reference` inside `recorded` (FFT cross-correlation)."""
    n = len(recorded) + len(reference)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(reference, size)), size)
    return int(np.argmax(corr[:len(recorded)]))


PLAYER_SCRIPT = r"""
import sys, time, numpy as np
from audiogan_bridges.audio_device import Player
player = Player("jack")
player.start()
print("READY", player.sample_rate, player.channels, player.device["hostapi"], flush=True)
sys.stdin.readline()
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
player.play(a, 48000)          # played as is
player.play(b, 16000)          # resampled to the device's rate on the player's thread
assert player.wait_idle(30)
time.sleep(0.3)
print("DONE", player.frames_played, player.underflows, flush=True)
player.stop()
"""


def test_player_plays_known_signals_through_jack_in_order_and_complete(jack_env, tmp_path):
    from audiogan_core.io import resample

    # A: a 0.5 s ramp at the device's rate (order and completeness visible sample by sample).
    a = np.linspace(-0.9, 0.9, RATE // 2, dtype=np.float32)
    # B: 0.25 s of a 440 Hz sine at 16 kHz, with a click marker, resampled by the player.
    t = np.arange(4000) / 16000
    b = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    b[2000] = 0.95
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    player = subprocess.Popen([sys.executable, "-c", PLAYER_SCRIPT, str(tmp_path / "a.npy"), str(tmp_path / "b.npy")],
                              env=jack_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        ready = player.stdout.readline().split()
        assert ready[:2] == ["READY", str(RATE)], (ready, player.stderr.read() if player.poll() is not None else "")
        assert "JACK" in " ".join(ready[3:])
        port = wait_for_port(jack_env, "audiogan", ":out_0")
        rec = start_recorder(jack_env, port, tmp_path / "rec.wav", 2.5)
        player.stdin.write("go\n")
        player.stdin.flush()
        done = player.stdout.readline().split()
        b48 = np.clip(resample(b, 16000, RATE), -1, 1)
        expected = np.concatenate([a, b48])
        assert done[0] == "DONE" and int(done[1]) == len(expected), done
        rec.wait(20)
    finally:
        if player.poll() is None:
            player.kill()
        player.wait()
    recorded, rate = sf.read(str(tmp_path / "rec.wav"), dtype="float32", always_2d=True)
    recorded = recorded[:, 0]
    assert rate == RATE
    start = align(recorded, expected)
    got = recorded[start:start + len(expected)]
    assert len(got) == len(expected), "recording ended before the clips did"
    # Every sample arrived, in order, back to back: A then B without a gap or a repeat.
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert np.abs(recorded[:start]).max(initial=0) < 1e-6  # silence before
    assert np.abs(recorded[start + len(expected):]).max(initial=0) < 1e-6  # and after


STREAM_SCRIPT = r"""
import sys, time, numpy as np
from audiogan_bridges.audio_device import Player
player = Player("jack")
player.start()
print("READY", flush=True)
sys.stdin.readline()
signal = np.load(sys.argv[1])
started_before_end = []

def pieces():  # a slow producer: 8 pieces, 80 ms apart
    for k in range(8):
        if k == 7:
            started_before_end.append(player.frames_played > 0)
        yield signal[k * len(signal) // 8:(k + 1) * len(signal) // 8]
        time.sleep(0.08)

n = player.play_stream(pieces(), 16000)
assert player.wait_idle(30)
time.sleep(0.3)
print("DONE", n, player.frames_played, int(started_before_end[0]), flush=True)
player.stop()
"""


def test_player_streams_pieces_as_they_arrive(jack_env, tmp_path):
    """play_stream starts the device on the first piece, resamples the pieces as one stream and
    plays every sample in order, without gaps at the joins."""
    from audiogan_core.io import resample

    t = np.arange(16000) / 16000  # 1 s at 16 kHz: a glide, so any repeated or lost piece shows
    signal = (0.5 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32)
    np.save(tmp_path / "s.npy", signal)
    proc = subprocess.Popen([sys.executable, "-c", STREAM_SCRIPT, str(tmp_path / "s.npy")], env=jack_env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().split() == ["READY"], proc.stderr.read() if proc.poll() is not None else ""
        port = wait_for_port(jack_env, "audiogan", ":out_0")
        rec = start_recorder(jack_env, port, tmp_path / "rec.wav", 3.0)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        done = proc.stdout.readline().split()
        rec.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    expected = resample(signal, 16000, RATE)
    assert done[0] == "DONE" and abs(int(done[1]) - len(expected)) <= 2, done
    assert done[3] == "1", "playback had not started before the last piece was made"
    recorded = sf.read(str(tmp_path / "rec.wav"), dtype="float32", always_2d=True)[0][:, 0]
    start = align(recorded, expected)
    got = recorded[start:start + len(expected)]
    assert len(got) == len(expected)
    # streamed and one-shot resampling agree closely; a gap or a repeated piece would not
    assert np.abs(got - expected).max() < 2e-3


class Peer:
    """A minimal python-osc peer (replies come back to its own socket)."""

    def __init__(self, port: int):
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def send(self, address: str, *args) -> None:
        from pythonosc.osc_message_builder import OscMessageBuilder

        b = OscMessageBuilder(address=address)
        for a in args:
            b.add_arg(a)
        self.sock.sendto(b.build().dgram, self.server)

    def recv(self, timeout: float = 5.0):
        from pythonosc.osc_packet import OscPacket

        self.sock.settimeout(timeout)
        msg = OscPacket(self.sock.recvfrom(65536)[0]).messages[0].message
        return msg.address, list(msg.params)

    def expect(self, address: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.recv(max(0.01, deadline - time.monotonic()))
            if got[0] == address:
                return got[1]
            assert got[0] not in ("/audiogan/error",), got


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_with_audio_device_jack_plays_finished_clip(jack_env, tmp_path):
    """`audiogan serve --audio-device jack`: /audiogan/play streams the finished file to JACK."""
    port = free_udp_port()
    out = tmp_path / "out"
    log = open(tmp_path / "serve.log", "w+")
    server = subprocess.Popen([sys.executable, "-m", "audiogan_core.cli", "serve", "--model", "untrained:tiny",
                               "--osc-port", str(port), "--out", str(out), "--audio-device", "jack",
                               "--sample-rate", str(RATE), "--bit-depth", "32"], env=jack_env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        peer = Peer(port)
        deadline = time.monotonic() + 60
        while True:  # wait for the model to load
            peer.send("/audiogan/ping")
            try:
                if peer.recv(0.5)[0] == "/audiogan/pong":
                    break
            except (socket.timeout, TimeoutError):
                pass
            assert server.poll() is None and time.monotonic() < deadline, open(tmp_path / "serve.log").read()
        peer.send("/audiogan/generate", "a bell", 3, 0.25)
        assert peer.expect("/audiogan/accepted") == [1]
        path = peer.expect("/audiogan/done", timeout=30)[1]
        time.sleep(1.0)  # the automatic playback of the new clip (0.25 s) is over
        port_name = wait_for_port(jack_env, "audiogan", ":out_0")
        rec = start_recorder(jack_env, port_name, tmp_path / "rec.wav", 1.5)
        peer.send("/audiogan/play", 1)
        assert peer.expect("/audiogan/playing") == [1]
        rec.wait(20)
        peer.send("/audiogan/ping")
        assert peer.expect("/audiogan/pong") == []
    finally:
        server.terminate()
        server.wait(10)
    clip, rate = sf.read(path, dtype="float32")
    assert rate == RATE and len(clip) == round(0.25 * RATE)
    expected = np.clip(clip, -1, 1)
    assert np.abs(expected).max() > 1e-3
    recorded = sf.read(str(tmp_path / "rec.wav"), dtype="float32", always_2d=True)[0][:, 0]
    start = align(recorded, expected)
    got = recorded[start:start + len(expected)]
    assert len(got) == len(expected)
    # jack_rec's 32-bit PCM file wraps +1.0 to -1.0 (float -> int32 overflow): skip full-scale samples.
    ok = np.abs(expected) < 0.999
    assert ok.mean() > 0.95
    np.testing.assert_allclose(got[ok], expected[ok], atol=1e-6)
