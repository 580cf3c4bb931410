"""bridges/osc_args.py: /audiogan/generate's arguments read without a server or a model."""
from __future__ import annotations

import pytest

from audiogan_bridges import osc_args
from audiogan_core.delivery import Delivery
from audiogan_core.errors import InputError

WHERE = "/audiogan/generate"


def test_generate_args_join_words_and_coerce_pd_numbers():
    assert osc_args.generate_args(["a", "dog", "barks"], WHERE) == ("a dog barks", None, None, 1)
    # Pd sends every number as f; -1 asks for a random seed
    assert osc_args.generate_args(["rain", 7.0, 2.5, 3.0], WHERE) == ("rain", 7, 2.5, 3)
    assert osc_args.generate_args(["rain", -1, 4], WHERE) == ("rain", None, 4.0, 1)


@pytest.mark.parametrize("args, message", [
    ([], "missing text"), ([3], "text must be a string"), (["x", 1, 2.0, 1, 5], "too many arguments"),
    (["x", 1.5], "whole number"), (["x", -2], "seed must be >= 0"), (["x", float("nan")], "whole number"),
    (["x", 1e30], "out of range"), (["x", 1, "2"], None), (["x", 1, 2.0, [1, 2]], "must be an integer"),
    (["x", True], "must be an integer")])
def test_generate_args_refuse_with_the_address_and_the_value(args, message):
    if message is None:  # a string after a number is an option, split off before this is called
        assert osc_args.generate_args(args[:2], WHERE) == ("x", 1, None, 1)
        return
    with pytest.raises(InputError, match=message) as info:
        osc_args.generate_args(args, WHERE)
    assert str(info.value).startswith(WHERE)


def test_generate_options_split_off_key_value_strings_after_the_first_number():
    server = Delivery()
    positional, delivery, loop, candidates = osc_args.generate_options(
        ["wind", "in", "trees", -1, 8.0, "loop=1", "Candidates=4", "loudness=-23"], server, WHERE)
    assert positional == ["wind", "in", "trees", -1, 8.0] and loop is True and candidates == 4
    assert delivery.normalize == "loudness" and delivery.loudness == -23.0
    assert osc_args.generate_options(["a", "b=c"], server, WHERE) == (["a", "b=c"], server, False, None)  # all text
    for bad, message in ((["x", 1, "colour=red"], "unknown option 'colour'"), (["x", 1, "loop"], "KEY=VALUE"),
                         (["x", 1, "loop=1", 3], "KEY=VALUE"), (["x", 1, "candidates=many"], "integer")):
        with pytest.raises(InputError, match=message):
            osc_args.generate_options(bad, server, WHERE)
    trimming = server.with_options({"trim": "1"})
    with pytest.raises(InputError, match="send trim=0 with loop=1"):
        osc_args.generate_options(["x", 1, "loop=1"], trimming, WHERE)
    assert osc_args.generate_options(["x", 1, "loop=1", "trim=0"], trimming, WHERE)[2] is True


def test_show_shortens_long_values_and_names_their_type():
    assert osc_args.show(3) == "3 (i)" and osc_args.show([1]) == "[1] (array)"
    long = osc_args.show("y" * 500)
    assert len(long) < 90 and "500 long" in long
