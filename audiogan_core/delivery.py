"""How a clip leaves audiogan: the level and length settings (`Delivery`) that `generate`
(CLI, OSC server, Python API) applies to every clip, validated, with a JSON round trip. The
signal processing is in levels.py; this module is light (no numpy) so `audiogan --help` and
the option parsing stay instant.

    Delivery()                                   true peak to -1 dBTP (the default)
    Delivery(loudness=-18)                       integrated loudness -18 LUFS, limited to -1 dBTP
    Delivery(normalize=None)                     the raw output
    Delivery(trim=True)                          ... and cut leading/trailing silence, with fades
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import InputError

NORMALIZE_MODES = ("peak", "loudness")
PEAK_CEILING_DBTP = -1.0
DEFAULT_LUFS = -23.0  # EBU R128's programme target, used when loudness mode is asked without a target
LUFS_RANGE = (-60.0, -5.0)
SILENT_DBFS = -70.0  # below this the clip is left alone: amplifying it would only raise noise
TRIM_THRESHOLD_DB = -50.0  # relative to the clip's loudest 10 ms (levels.trim_silence)


def parse_switch(name: str, value) -> bool:
    """A client's on/off string (OSC KEY=VALUE options: trim=1, loop=0): 1/0, true/false,
    yes/no, on/off, any case."""
    text = str(value).strip().lower()
    if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise InputError(f"{name} must be 1 or 0, got {value!r}")
    return text in ("1", "true", "yes", "on")


class LevelWarning(UserWarning):
    """A clip left quieter than asked: near silent, or a loudness target it cannot reach."""


@dataclass(frozen=True)
class Delivery:
    """How a clip leaves audiogan. normalize: "peak", "loudness" or None (raw output);
    loudness: the LUFS target in loudness mode; peak: the true-peak ceiling in dBTP (both
    modes); trim: cut leading and trailing silence (threshold relative to the peak) with fades."""

    normalize: str | None = "peak"
    loudness: float | None = None
    peak: float = PEAK_CEILING_DBTP
    trim: bool = False
    trim_threshold: float = TRIM_THRESHOLD_DB

    def __post_init__(self):
        if self.normalize not in (*NORMALIZE_MODES, None):
            raise InputError(f"normalize must be 'peak', 'loudness' or None, got {self.normalize!r}")
        if self.loudness is not None:
            if self.normalize is None:
                raise InputError("a loudness target was given with normalisation off; drop one of them")
            if isinstance(self.loudness, bool) or not isinstance(self.loudness, (int, float)) \
                    or not LUFS_RANGE[0] <= self.loudness <= LUFS_RANGE[1]:
                raise InputError(f"loudness must be a number of LUFS between {LUFS_RANGE[0]:g} and "
                                 f"{LUFS_RANGE[1]:g}, got {self.loudness!r}")
            object.__setattr__(self, "normalize", "loudness")  # a target implies loudness mode
            object.__setattr__(self, "loudness", float(self.loudness))
        elif self.normalize == "loudness":
            object.__setattr__(self, "loudness", DEFAULT_LUFS)
        if isinstance(self.peak, bool) or not isinstance(self.peak, (int, float)) or not -20.0 <= self.peak <= 0.0:
            raise InputError(f"the true-peak ceiling must be between -20 and 0 dBTP, got {self.peak!r}")
        if not isinstance(self.trim, bool):
            raise InputError(f"trim must be true or false, got {self.trim!r}")
        if isinstance(self.trim_threshold, bool) or not isinstance(self.trim_threshold, (int, float)) \
                or not -90.0 <= self.trim_threshold <= -10.0:
            raise InputError(f"the trim threshold must be between -90 and -10 dB, got {self.trim_threshold!r}")

    def describe(self) -> str:
        if self.normalize == "peak":
            level = f"peak {self.peak:g} dBTP"
        elif self.normalize == "loudness":
            level = f"loudness {self.loudness:g} LUFS, true peak limited to {self.peak:g} dBTP"
        else:
            level = "not normalised"
        return level + (", trimmed" if self.trim else "")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Delivery":
        return cls(**{k: d[k] for k in ("normalize", "loudness", "peak", "trim", "trim_threshold") if k in d})

    def with_options(self, options: dict) -> "Delivery":
        """This delivery changed by KEY=VALUE strings from a client (OSC): normalize=peak|loudness|none,
        loudness=LUFS, trim=1|0. Unknown keys and bad values raise InputError."""
        d = self.to_dict()
        for key, value in options.items():
            text = str(value).strip().lower()
            if key == "normalize":
                if text not in ("peak", "loudness", "none"):
                    raise InputError(f"normalize must be peak, loudness or none, got {value!r}")
                d["normalize"] = None if text == "none" else text
                if text != "loudness":
                    d["loudness"] = None
            elif key == "loudness":
                try:
                    lufs = float(text)
                except ValueError:
                    raise InputError(f"loudness must be a number of LUFS, got {value!r}") from None
                if not math.isfinite(lufs):
                    raise InputError(f"loudness must be a finite number of LUFS, got {value!r}")
                d["loudness"], d["normalize"] = lufs, "loudness"
            elif key == "trim":
                d["trim"] = parse_switch("trim", value)
            else:
                raise InputError(f"unknown option {key!r}; known: normalize, loudness, trim")
        if d["normalize"] is None:
            d["loudness"] = None
        return Delivery.from_dict(d)
