"""Every limit on what users may ask for, in one place: the API, the CLI and the OSC server all
check against these names."""
from __future__ import annotations

import math
import numbers

from .errors import InputError

MAX_TEXT_CHARS = 1000  # CLAP and MiniLM read at most ~64-77 tokens; longer input is a mistake
MAX_VARIATIONS = 256  # clips per text in one request
MAX_CANDIDATES = 64  # noise draws a clip may be chosen from (the generator runs once per draw)
SEED_LIMIT = 2**63 - MAX_VARIATIONS  # seed + variation must stay a valid 64-bit torch seed
RANDOM_SEED_LIMIT = 2**31 - MAX_VARIATIONS  # drawn seeds stay small enough to type back
# Any-length models (noise_input "sequence"): the default clip length, the shortest and the longest
# a request may ask for (a fixed-length model: its clip length, one frame, its clip length).
ANY_LENGTH_DEFAULT_SECONDS = 10.0
ANY_LENGTH_MIN_SECONDS = 0.1
ANY_LENGTH_MAX_SECONDS = 60.0
MIN_OUTPUT_RATE = 8000  # Hz; --sample-rate of written files (generate and serve)
MAX_OUTPUT_RATE = 384000


def check_output_rate(rate: int | None, what: str = "sample rate") -> int | None:
    """None (the model's own rate) or a rate between MIN_OUTPUT_RATE and MAX_OUTPUT_RATE Hz."""
    if rate is None:
        return None
    if (isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not math.isfinite(rate) or rate != int(rate)
            or not MIN_OUTPUT_RATE <= rate <= MAX_OUTPUT_RATE):
        raise InputError(f"{what} must be between {MIN_OUTPUT_RATE} and {MAX_OUTPUT_RATE} Hz, got {rate}")
    return int(rate)
