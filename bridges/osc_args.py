"""Reading the arguments of /audiogan/... messages: OSC types coerced as Pd and Max send them
(numbers as f, a sentence as several symbols), /audiogan/generate's positional arguments and its
KEY=VALUE options. Every fault is an InputError that names the address (`where`) and quotes the
offending value, shortened. The request rules themselves (lengths, variations) are the model's.
"""
from __future__ import annotations

import math

from audiogan_core.delivery import Delivery, parse_switch
from audiogan_core.errors import InputError

from . import osc_wire

GENERATE_OPTIONS = ("normalize", "loudness", "trim", "loop", "candidates")  # /audiogan/generate's KEY=VALUE keys


def tag(value) -> str:
    """The OSC type tag a parsed argument most likely came with (for error messages)."""
    if isinstance(value, list):
        return "array"
    return osc_wire.tag_for(value)


def show(value) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:50] + "..." + f" ({len(value) if hasattr(value, '__len__') else '?'} long)"
    return f"{text} ({tag(value)})"


def as_int(value, what: str, where: str) -> int:
    """int (i, h) or a float with an integral value (Pd and Max send numbers as f)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {what} must be an integer (i), got {show(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise InputError(f"{where}: {what} must be a whole number, got {show(value)}")
        if not -osc_wire.INT64 <= value < osc_wire.INT64:
            raise InputError(f"{where}: {what} is out of range (a 64-bit integer at most), got {value:g}")
        value = int(value)
    return value


def as_float(value, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {what} must be a number (f), got {show(value)}")
    return float(value)


def option_int(key: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InputError(f"{key} must be an integer, got {value!r}") from None


def generate_args(args: list, where: str) -> tuple[str, int | None, float | None, int]:
    """/audiogan/generate's positional arguments (options already split off) -> (text, seed,
    seconds, variations): words joined, types coerced, seed -1 read as "random" (None)."""
    args = list(args)
    if not args:
        raise InputError(f"{where}: missing text; usage: {where} s:text [i:seed] [f:seconds] [i:variations]")
    words = []
    while args and isinstance(args[0], str):  # Pd and Max split a sentence into symbols: join them
        words.append(args.pop(0))
    if not words:
        raise InputError(f"{where}: text must be a string (s), got {show(args[0])}; "
                         f"usage: {where} s:text [i:seed] [f:seconds] [i:variations]")
    if len(args) > 3:
        raise InputError(f"{where}: too many arguments ({len(words) + len(args)}); "
                         f"usage: {where} s:text [i:seed] [f:seconds] [i:variations]")
    seed = seconds = None
    variations = 1
    if len(args) >= 1:
        seed = as_int(args[0], "seed", where)
        if seed == -1:
            seed = None  # -1 = pick a random seed (lets Pd/Max give seconds without a seed)
        elif seed < 0:
            raise InputError(f"{where}: seed must be >= 0 (or -1 for a random one), got {seed}")
    if len(args) >= 2:
        seconds = as_float(args[1], "seconds", where)
    if len(args) >= 3:
        variations = as_int(args[2], "variations", where)
    return " ".join(words), seed, seconds, variations


def generate_options(args: list, server_delivery: Delivery, where: str) -> tuple[list, Delivery, bool, int | None]:
    """Strings after /audiogan/generate's first number are KEY=VALUE options: the positional
    arguments without them, this request's delivery (`server_delivery` with its options applied),
    whether it asks for a loop, and its candidates (None: the model's default)."""
    first_number = next((i for i, a in enumerate(args) if not isinstance(a, str)), len(args))
    first_option = next((i for i, a in enumerate(args) if i > first_number and isinstance(a, str)), len(args))
    options = {}
    for arg in args[first_option:]:
        if not isinstance(arg, str) or "=" not in arg:
            raise InputError(f"{where}: options come last, as KEY=VALUE strings (normalize=peak|loudness|none, "
                             f"loudness=LUFS, trim=1|0, loop=1|0, candidates=N), got {show(arg)}")
        key, value = arg.split("=", 1)
        key = key.strip().lower()
        if key not in GENERATE_OPTIONS:
            raise InputError(f"{where}: unknown option {key!r}; known: {', '.join(GENERATE_OPTIONS)}")
        options[key] = value
    try:
        loop = parse_switch("loop", options.pop("loop")) if "loop" in options else False
        candidates = option_int("candidates", options.pop("candidates")) if "candidates" in options else None
        delivery = server_delivery.with_options(options)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    if loop and delivery.trim and "trim" not in options:  # the trim is the server's, not the client's
        raise InputError(f"{where}: trim and loop exclude each other, and this server trims every file "
                         f"(serve --trim): send trim=0 with loop=1")
    return args[:first_option], delivery, loop, candidates
