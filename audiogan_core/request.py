"""A generate request, checked once.

`check_request` turns what a caller typed into a `Request` (or raises InputError naming the bad
field), the delivery settings (level, trim: delivery.Delivery) included; it needs no model, so
the CLI can check before loading one. `Request.fit` adds the model's side (the clip length,
default and bounds). `AudioGAN.check_request` does both, and
`AudioGAN.generate` takes the result as it is. Front ends keep only what is theirs: file paths
(CLI), OSC argument types and the "-1 = random seed" convention (OSC server).
"""
from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .delivery import Delivery
from .errors import InputError
from .limits import MAX_CANDIDATES, MAX_TEXT_CHARS, MAX_VARIATIONS, RANDOM_SEED_LIMIT, SEED_LIMIT


@dataclass(frozen=True)
class Request:
    """Texts, seed, variations, length, delivery (level, trim) and loop of one request, already
    checked. Variation k of text t has seed `seed + k`; clips are in text-major order. `seconds`
    is None until `fit` sets the model's length (None asks for the model's default)."""

    texts: tuple[str, ...]
    seed: int
    variations: int = 1
    seconds: float | None = None
    delivery: Delivery = field(default_factory=Delivery)
    loop: bool = False  # a seamless loop (any-length models)
    candidates: int | None = None  # noise draws each clip is chosen from by the model's scorer (None: its default)

    @property
    def clips(self) -> list[tuple[int, str, int, int]]:
        """(text index, text, seed, variation) per clip, text-major."""
        return [(i, t, self.seed + v, v) for i, t in enumerate(self.texts) for v in range(self.variations)]

    def fit(self, *, min_seconds: float, max_seconds: float, default_seconds: float | None = None,
            min_label: str = "") -> "Request":
        """This request with `seconds` set for a model making min_seconds to max_seconds per
        clip; None becomes default_seconds (default: max_seconds). `min_label` says what the
        minimum is ("one frame")."""
        seconds = (max_seconds if default_seconds is None else default_seconds) if self.seconds is None \
            else self.seconds
        if seconds < min_seconds - 1e-9:
            label = f" ({min_label})" if min_label else ""
            raise InputError(f"seconds must be at least {min_seconds:.4g}{label}, got {seconds}")
        if seconds > max_seconds + 1e-6:
            raise InputError(f"this model makes at most {max_seconds:g} s per clip, got seconds={seconds:g}")
        return dataclasses.replace(self, seconds=float(seconds))


def draw_seed() -> int:
    """A random seed, small enough to type back and to add any variation to. The one place
    seeds are drawn."""
    return secrets.randbelow(RANDOM_SEED_LIMIT)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_request(texts, *, seed=None, variations=1, seconds=None, delivery: Delivery | None = None,
                  loop: bool = False, candidates: int | None = None, max_variations: int = MAX_VARIATIONS) -> Request:
    """A Request from a text (or list of texts), a seed (None: drawn), variations, seconds
    (None: the model's default), a Delivery (None: the default, true peak at -1 dBTP), loop and
    candidates (None: the model's default). Checks everything that does not depend on the model."""
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise InputError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    texts = list(texts)
    if not texts:
        raise InputError("no text given: pass at least one description")
    for i, text in enumerate(texts):
        label = "text" if len(texts) == 1 else f"text {i + 1}"
        if not isinstance(text, str):
            raise InputError(f"{label} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise InputError(f"{label} is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"{label} is {len(text)} characters long; the limit is {MAX_TEXT_CHARS}")
    if seconds is not None:
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise InputError(f"seconds must be a number, got {seconds!r}") from None
        if not math.isfinite(seconds) or seconds <= 0:
            raise InputError(f"seconds must be a positive finite number, got {seconds}")
    if not _is_int(variations):
        raise InputError(f"variations must be an integer, got {variations!r}")
    if not 1 <= variations <= max_variations:
        raise InputError(f"variations must be between 1 and {max_variations}, got {variations}")
    if seed is None:
        seed = draw_seed()
    if not _is_int(seed) or not 0 <= seed < SEED_LIMIT:
        raise InputError(f"seed must be a non-negative integer below 2**63 - {MAX_VARIATIONS}, got {seed!r}")
    if delivery is not None and not isinstance(delivery, Delivery):
        raise InputError(f"delivery must be an audiogan_core.delivery.Delivery, got {type(delivery).__name__}")
    delivery = delivery or Delivery()
    if not isinstance(loop, bool):
        raise InputError(f"loop must be true or false, got {loop!r}")
    if loop and delivery.trim:
        raise InputError("trim and loop exclude each other: a trimmed loop would no longer wrap around")
    if candidates is not None and (not _is_int(candidates) or not 1 <= candidates <= MAX_CANDIDATES):
        raise InputError(f"candidates must be an integer from 1 to {MAX_CANDIDATES}, got {candidates!r}")
    return Request(tuple(texts), int(seed), int(variations), seconds, delivery, loop,
                   None if candidates is None else int(candidates))
