"""One request type: checked once (audiogan_core.request), used as it is by the API, the CLI and
the OSC server; one module of limits; seeds drawn in one place."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from audiogan_core import api, request as request_mod
from audiogan_core.api import AudioGAN
from audiogan_core.config import preset
from audiogan_core.delivery import Delivery
from audiogan_core.errors import InputError
from audiogan_core.limits import MAX_OUTPUT_RATE, MAX_TEXT_CHARS, MIN_OUTPUT_RATE, check_output_rate
from audiogan_core.request import Request, check_request

TINY = preset("tiny")


@pytest.fixture(scope="module")
def tiny():
    return AudioGAN.from_config(TINY, seed=1)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("request-models") / "tiny"
    AudioGAN.from_config(TINY, seed=1).save(folder)
    return folder


def test_check_request_needs_no_model_and_fit_adds_the_length():
    req = check_request(["rain", "wind"], seed=5, variations=2)
    assert req == Request(("rain", "wind"), 5, 2, None)
    assert req.clips == [(0, "rain", 5, 0), (0, "rain", 6, 1), (1, "wind", 5, 0), (1, "wind", 6, 1)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.seed = 3
    fitted = req.fit(min_seconds=0.01, max_seconds=2.0)
    assert fitted.seconds == 2.0 and fitted.fit(min_seconds=0.01, max_seconds=2.0) == fitted
    assert check_request("x", seed=0, seconds=0.5).fit(min_seconds=0.01, max_seconds=2.0).seconds == 0.5
    with pytest.raises(InputError, match="at most 2 s per clip"):
        check_request("x", seed=0, seconds=3).fit(min_seconds=0.01, max_seconds=2.0)
    with pytest.raises(InputError, match=r"at least 0.01 \(one frame\), got 0.001"):
        check_request("x", seed=0, seconds=0.001).fit(min_seconds=0.01, max_seconds=2.0, min_label="one frame")
    # an any-length model: a default below its maximum
    assert req.fit(min_seconds=0.1, max_seconds=60.0, default_seconds=10.0).seconds == 10.0
    # delivery and loop belong to the request too
    assert check_request("x", seed=0, loop=True).loop
    with pytest.raises(InputError, match="trim and loop exclude each other"):
        check_request("x", seed=0, loop=True, delivery=Delivery(trim=True))


@pytest.mark.parametrize("kwargs, message", [
    ({"texts": []}, "no text given"),
    ({"texts": "  "}, "text is empty"),
    ({"texts": ["a", ""]}, "text 2 is empty"),
    ({"texts": "x" * (MAX_TEXT_CHARS + 1)}, f"text is {MAX_TEXT_CHARS + 1} characters long"),
    ({"texts": [3]}, "text is a int, not a string"),
    ({"texts": None}, "texts must be a string or a list of strings, got NoneType"),
    ({"texts": b"a door"}, "texts must be a string or a list of strings, got bytes"),
    ({"texts": "x", "seconds": 0}, "seconds must be a positive finite number, got 0.0"),
    ({"texts": "x", "seconds": "long"}, "seconds must be a number"),
    ({"texts": "x", "variations": 0}, "variations must be between 1 and 256, got 0"),
    ({"texts": "x", "variations": 5, "max_variations": 4}, "variations must be between 1 and 4, got 5"),
    ({"texts": "x", "variations": 2.0}, "variations must be an integer"),
    ({"texts": "x", "seed": -1}, "seed must be a non-negative integer"),
    ({"texts": "x", "seed": 2**63}, "seed must be a non-negative integer"),
])
def test_bad_requests_named_once_for_every_front_end(kwargs, message):
    texts = kwargs.pop("texts")
    with pytest.raises(InputError, match=message):
        check_request(texts, **kwargs)


def test_generate_takes_a_checked_request_as_it_is(tiny, monkeypatch):
    req = tiny.check_request(["a dog barks", "rain"], 0.1, 2, 9)
    assert req.seconds == 0.1 and req.seed == 9
    expected = tiny.generate(["a dog barks", "rain"], seed=9, variations=2, seconds=0.1)

    def no_second_check(*args, **kwargs):
        raise AssertionError("the request was checked again")

    monkeypatch.setattr(api, "check_request", no_second_check)
    clips = tiny.generate(req)
    assert [(c.text, c.seed, c.variation) for c in clips] == [(c.text, c.seed, c.variation) for c in expected]
    assert np.array_equal(np.stack([c.audio for c in clips]), np.stack([c.audio for c in expected]))
    mels, jobs, seconds = tiny.generate_mel(req)
    assert mels.shape[0] == 4 and seconds == 0.1 and jobs[1] == ("a dog barks", 10, 1)
    with pytest.raises(InputError, match="either a Request or texts"):
        tiny.generate(req, seed=3)
    with pytest.raises(InputError, match="at most"):  # a request made for a longer model
        tiny.generate(check_request("x", seed=0, seconds=5))


def test_seeds_are_drawn_in_one_place(tiny, tiny_folder, tmp_path, monkeypatch):
    from audiogan_bridges.osc_server import OscServer
    from audiogan_core.cli import main

    monkeypatch.setattr(request_mod, "draw_seed", lambda: 4242)
    assert tiny.generate("wind", seconds=0.05)[0].seed == 4242
    result = CliRunner().invoke(main, ["generate", "--model", str(tiny_folder), "wind", "--seconds", "0.05",
                                       "-o", str(tmp_path) + "/"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["wind_seed4242.wav"]
    server = OscServer(tiny, port=0, out_dir=tmp_path / "osc")
    assert server._parse_generate(["wind", -1, 0.05]).seed == 4242


def test_one_sample_rate_range_for_generate_and_serve(tiny_folder, tmp_path, monkeypatch):
    from audiogan_bridges.osc_server import OscServer
    from audiogan_core.cli import main

    assert check_output_rate(None) is None and check_output_rate(48000.0) == 48000
    for bad in (MIN_OUTPUT_RATE - 1, MAX_OUTPUT_RATE + 1, 44100.5, float("nan")):
        with pytest.raises(InputError, match=f"between {MIN_OUTPUT_RATE} and {MAX_OUTPUT_RATE} Hz"):
            check_output_rate(bad)
    runner = CliRunner()
    low = str(MIN_OUTPUT_RATE - 1)
    result = runner.invoke(main, ["generate", "--model", str(tiny_folder), "x", "-o", str(tmp_path / "x.wav"),
                                  "--sample-rate", low])
    assert result.exit_code == 2 and f"--sample-rate must be between {MIN_OUTPUT_RATE}" in result.output
    result = runner.invoke(main, ["serve", "--sample-rate", low])
    assert result.exit_code == 2 and f"--sample-rate must be between {MIN_OUTPUT_RATE}" in result.output
    with pytest.raises(InputError, match=f"between {MIN_OUTPUT_RATE}"):
        OscServer(AudioGAN.from_config(TINY), port=0, out_dir=tmp_path, sample_rate=MIN_OUTPUT_RATE - 1)
    result = runner.invoke(main, ["generate", "--model", str(tiny_folder), "x", "--seconds", "0.05", "-o",
                                  str(tmp_path / "x.wav"), "--sample-rate", str(MIN_OUTPUT_RATE)])
    assert result.exit_code == 0, result.output


def test_text_limit_is_defined_once():
    """The OSC server and the CLI have no text limit of their own: the same request check."""
    import audiogan_bridges.osc_server as osc
    import audiogan_core.cli as cli

    assert not hasattr(osc, "MAX_TEXT_CHARS") and not hasattr(cli, "MAX_TEXT_CHARS")
    assert api.MAX_TEXT_CHARS is MAX_TEXT_CHARS  # the old import path still works
