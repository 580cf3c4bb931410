"""The OSC server's level options and metadata: /audiogan/generate's KEY=VALUE options, the
server's defaults (serve --loudness / --no-normalize / --trim), and the recipe in its files."""
from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from audiogan_bridges.osc_server import OscServer
from audiogan_core import AudioGAN, preset
from audiogan_core.cli import main
from audiogan_core.delivery import Delivery
from audiogan_core.levels import db, integrated_loudness, true_peak
from audiogan_core.recipe import read_metadata


class Peer:
    def __init__(self, port):
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(20)

    def send(self, address, *args):
        b = OscMessageBuilder(address=address)
        for a in args:
            b.add_arg(*a) if isinstance(a, tuple) else b.add_arg(a)
        self.sock.sendto(b.build().dgram, self.server)

    def recv(self):
        msg = OscPacket(self.sock.recvfrom(65536)[0]).messages[0].message
        return msg.address, list(msg.params)

    def generate(self, *args, files: int = 1) -> list[str]:
        """Send a request; the paths of its files (failing on an error reply)."""
        self.send("/audiogan/generate", *args)
        paths = []
        while len(paths) < files:
            address, params = self.recv()
            assert address != "/audiogan/error", params
            if address == "/audiogan/done":
                paths.append(params[1])
        return paths


@pytest.fixture(scope="module")
def model():
    return AudioGAN.from_config(preset("tiny"))


@pytest.fixture
def server(model, tmp_path):
    servers = []

    def make(model=model, **kw):
        s = OscServer(model, port=0, out_dir=tmp_path / f"out{len(servers)}", **kw).start()
        servers.append(s)
        return s, Peer(s.port)

    yield make
    for s in servers:
        s.stop()


def refused_and_still_serving(srv, peer, message):
    """The request got one error naming `message`; the server answers a ping and made no file."""
    address, (job, text) = peer.recv()
    assert address == "/audiogan/error" and job == -1
    assert text.startswith("/audiogan/generate: ") and message in text, text
    peer.send("/audiogan/ping", 5)
    assert peer.recv() == ("/audiogan/pong", [5])
    assert srv.queue_length == 0 and not list(srv.out_dir.glob("*.wav"))


def test_default_request_is_peak_normalised_and_carries_its_recipe(server, model):
    srv, peer = server(sample_rate=48000, bit_depth=24)
    (path,) = peer.generate("a dog barks", 7, 0.2)
    audio, rate = sf.read(path, dtype="float64")
    assert rate == 48000 and db(true_peak(audio, rate)) == pytest.approx(-1.0, abs=0.05)
    raw = model.generate("a dog barks", seed=7, seconds=0.2, normalize=None)[0].audio
    assert abs(db(true_peak(raw, model.sample_rate)) + 1.0) > 1  # raw, it is elsewhere: the server set it
    meta = read_metadata(path)
    # OSC's f is 32-bit: the recipe keeps the length the server really used, to the last bit
    assert meta.bext.description == "a dog barks" and meta.recipe.seed == 7
    assert meta.recipe.seconds == float(np.float32(0.2)) == 0.20000000298023224
    assert meta.recipe.model == "untrained:tiny" and meta.recipe.delivery == Delivery()
    (info,) = json.loads(CliRunner().invoke(main, ["info", "--json", path]).output)
    assert ("--seed 7 --seconds 0.20000000298023224 --sample-rate 48000 --bit-depth 24 --candidates 1 -- 'a dog barks'"
            in info["command"])


def test_request_options_set_level_and_trim(server, model):
    srv, peer = server()
    (path,) = peer.generate("rain on", "a roof", 3, (0.25, "f"), "loudness=-30", "trim=1")  # Pd-style text
    recipe = read_metadata(path).recipe
    assert recipe.prompt == "rain on a roof" and recipe.delivery == Delivery(loudness=-30, trim=True)
    expected = model.generate("rain on a roof", seed=3, seconds=0.25, loudness=-30, trim=True)[0].audio
    audio, _ = sf.read(path, dtype="float32")
    assert len(audio) == len(expected) and np.abs(audio - expected).max() < 1e-4  # 16-bit rounding
    assert integrated_loudness(audio, model.sample_rate) == pytest.approx(-30, abs=0.5)
    # -1 for a random seed lets a client give options without choosing a seed
    paths = peer.generate("wind", -1, (0.1, "f"), 2, "normalize=none", files=2)
    assert len(paths) == 2 and all(read_metadata(p).recipe.delivery.normalize is None for p in paths)


def test_server_defaults_and_per_request_overrides(server):
    srv, peer = server(delivery=Delivery(normalize=None, trim=True))
    (path,) = peer.generate("wind", 1, (0.2, "f"))
    assert read_metadata(path).recipe.delivery == Delivery(normalize=None, trim=True)
    (path,) = peer.generate("wind", 1, (0.2, "f"), "normalize=peak")
    assert read_metadata(path).recipe.delivery == Delivery(trim=True)


@pytest.mark.parametrize("args, message", [
    (["x", 1, "loudness=loud"], "loudness must be a number of LUFS, got 'loud'"),
    (["x", 1, "loudness=3"], "loudness must be a number of LUFS between -60 and -5"),
    (["x", 1, "trim=maybe"], "trim must be 1 or 0"),
    (["x", 1, "normalize=rms"], "normalize must be peak, loudness or none"),
    (["x", 1, "gain=3"], "unknown option 'gain'; known: normalize, loudness, trim, loop"),
    (["x", 1, "trim"], "options come last, as KEY=VALUE strings"),
    (["x", 1, "trim=1", 0.2], "options come last"),
    (["x", 1, 0.1, 2, 5, "trim=1"], "too many arguments"),
])
def test_bad_options_get_an_error_and_the_server_keeps_serving(server, args, message):
    srv, peer = server()
    peer.send("/audiogan/generate", *args)
    refused_and_still_serving(srv, peer, message)


def test_serve_command_has_the_level_options():
    runner = CliRunner()
    result = runner.invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for text in ("--loudness LUFS", "--no-normalize", "--trim", "normalize=peak|loudness|none"):
        assert text in result.output, text
    result = runner.invoke(main, ["serve", "--loudness", "-20", "--no-normalize"])
    assert result.exit_code == 2 and "contradict" in result.output


@pytest.fixture(scope="module")
def any_length_model():
    cfg = preset("tiny").replace(noise_input="sequence", position_channels=2, d_pooling="mean")
    return AudioGAN.from_config(cfg, seed=0)


def test_loop_option_makes_a_loop_of_whole_generator_frames(server, any_length_model):
    model = any_length_model
    assert model.config.any_length and model.config.frames_per_base_frame == 32
    grid = 32 * model.config.mel.hop_length  # samples per generator frame (32 mel frames, hop 64)
    srv, peer = server(model=model)
    (path,) = peer.generate("rain loop", 5, (0.5, "f"), "loop=1")
    audio, rate = sf.read(path, dtype="float32")
    assert rate == model.sample_rate and len(audio) > 0 and len(audio) % grid == 0
    recipe = read_metadata(path).recipe
    assert recipe.loop is True and recipe.seed == 5 and recipe.prompt == "rain loop"
    expected = model.generate("rain loop", seed=5, seconds=float(np.float32(0.5)), loop=True)[0].audio
    assert len(audio) == len(expected) and np.abs(audio - expected).max() < 1e-4  # 16-bit rounding
    (path,) = peer.generate("rain loop", 5, (0.5, "f"), "loop=0")  # the same request, not a loop
    assert read_metadata(path).recipe.loop is False and len(sf.read(path)[0]) == round(np.float32(0.5) * rate)


@pytest.mark.parametrize("server_kw, options, message", [
    ({}, ["loop=1"], "loops need an any-length model"),
    ({"any_length": True}, ["loop=1", "trim=1"], "trim and loop exclude each other"),
    ({"any_length": True, "delivery": Delivery(trim=True)}, ["loop=1"], "send trim=0 with loop=1"),
    ({"any_length": True}, ["loop=maybe"], "loop must be 1 or 0"),
])
def test_loop_option_refused_with_the_model_s_reason(server, model, any_length_model, server_kw, options, message):
    kw = dict(server_kw)
    srv, peer = server(model=any_length_model if kw.pop("any_length", False) else model, **kw)
    peer.send("/audiogan/generate", "rain", 1, (0.5, "f"), *options)
    refused_and_still_serving(srv, peer, message)


@pytest.mark.parametrize("options, message", [
    (["candidates=2"], "needs a model with a scorer"),
    (["candidates=lots"], "candidates must be an integer"),
    (["candidates=0"], "candidates must be an integer from 1 to 64"),
])
def test_candidates_option_refused_with_the_reason(server, model, options, message):
    srv, peer = server(model=model)
    peer.send("/audiogan/generate", "rain", 1, (0.5, "f"), *options)
    refused_and_still_serving(srv, peer, message)


def test_candidates_option_reaches_the_recipe(server):
    from audiogan_core import AudioGAN
    from audiogan_core.config import preset
    from audiogan_core.scorer import MelTextScorer, ScorerConfig

    model = AudioGAN.from_config(preset("tiny"))
    model.scorer = MelTextScorer(ScorerConfig(n_mels=16, sentence_dim=12, width=4, stages=2, dim=8,
                                              default_candidates=5)).eval()
    srv, peer = server(model=model)
    (path,) = peer.generate("rain", 5, (0.25, "f"), "candidates=3")
    assert read_metadata(path).recipe.candidates == 3
    (path,) = peer.generate("rain", 5, (0.25, "f"))  # the model's default
    assert read_metadata(path).recipe.candidates == 5
