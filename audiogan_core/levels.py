"""Level and length of the clips we deliver, the signal processing behind a `Delivery`
(delivery.py): true-peak and loudness normalisation, a true-peak limiter, and silence trimming.
`generate` (CLI, OSC server, Python API) calls `deliver()` on every clip.

True peak (ITU-R BS.1770-4 Annex 2) is measured by oversampling to at least 4x and 192 kHz
(4x at 48 kHz, 12x at 16 kHz) with a polyphase FIR, so inter-sample peaks count: a clip
peak-normalised here does not clip when a DAW or `--sample-rate` resamples it. Loudness is
BS.1770-4 / EBU R128 integrated loudness (pyloudnorm: K-weighting, 400 ms blocks, gates at
-70 LUFS and -10 LU); a clip shorter than one 400 ms block is measured as one block.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .delivery import SILENT_DBFS, TRIM_THRESHOLD_DB, Delivery

TRIM_WINDOW_S = 0.010  # short-term RMS: one stray sample in a noise floor does not count as sound
TRIM_FADE_IN_S = 0.002  # short: the fade sits in the quiet lead-in, not on the attack
TRIM_FADE_OUT_S = 0.020
BS1770_BLOCK_S = 0.4
LIMITER_LOOKAHEAD_S = 0.005  # gain ramps over 5 ms ...
LIMITER_HOLD_S = 0.020  # ... and holds 20 ms after a peak, so it does not flutter on a waveform
MAX_LIMITING_DB = 12.0  # loudness mode never pushes more than this into the limiter
LOUDNESS_ROUNDS = 6  # gain-and-measure rounds towards a loudness target


def db(linear: float) -> float:
    return 20.0 * math.log10(linear) if linear > 0 else -math.inf


def undb(decibels: float) -> float:
    return 10.0 ** (decibels / 20.0)


@dataclass
class LevelReport:
    """What deliver() did to one clip. Levels in dBTP / LUFS; None where not measured."""

    normalize: str | None
    gain_db: float = 0.0
    true_peak: float | None = None  # dBTP after
    loudness: float | None = None  # LUFS after
    true_peak_before: float | None = None
    loudness_before: float | None = None
    limited_db: float = 0.0  # most gain the limiter took away (loudness mode)
    trimmed_start: int = 0  # samples cut from the start / end
    trimmed_end: int = 0
    warning: str | None = None  # set when the clip was left quieter than asked

    def to_dict(self) -> dict:
        """JSON-ready: floats rounded to 0.001, -inf (silence) as None."""
        return {k: ((round(v, 3) if math.isfinite(v) else None) if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


# Measuring ----------------------------------------------------------------------------------
def oversampling(rate: int) -> int:
    """BS.1770's 4x at 48 kHz, as a minimum of 4x and 192 kHz for other rates."""
    return max(4, math.ceil(192000 / rate))


def _oversample(audio: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(np.asarray(audio, np.float64), oversampling(rate), 1, window=("kaiser", 8.0))


def true_peak(audio: np.ndarray, rate: int) -> float:
    """The true peak (linear, >= the sample peak) of a mono clip."""
    x = np.asarray(audio, np.float64).reshape(-1)
    if x.size == 0:
        return 0.0
    return float(max(np.abs(x).max(), np.abs(_oversample(x, rate)).max()))


def true_peak_envelope(audio: np.ndarray, rate: int) -> np.ndarray:
    """Per input sample, the largest oversampled magnitude between it and the next sample."""
    x = np.asarray(audio, np.float64).reshape(-1)
    n, factor = x.size, oversampling(rate)
    up = np.abs(_oversample(x, rate)).reshape(n, factor).max(axis=1)
    up[:-1] = np.maximum(up[:-1], up[1:])
    return np.maximum(up, np.abs(x))


def integrated_loudness(audio: np.ndarray, rate: int) -> float:
    """BS.1770-4 integrated loudness in LUFS (-inf for silence). A clip shorter than the
    standard's 400 ms block is measured as one block (its K-weighted mean square)."""
    import pyloudnorm

    x = np.asarray(audio, np.float64).reshape(-1)
    if x.size == 0:
        return -math.inf
    # (pyloudnorm wants strictly more samples than one block holds)
    block = min(BS1770_BLOCK_S, (x.size - 0.5) / rate)
    import warnings

    with warnings.catch_warnings():  # pyloudnorm warns about clipping when |x| > 1; we are measuring
        warnings.simplefilter("ignore")
        return float(pyloudnorm.Meter(rate, block_size=block).integrated_loudness(x))


# Processing ---------------------------------------------------------------------------------
def limit(audio: np.ndarray, rate: int, ceiling_dbtp: float, *, envelope: np.ndarray | None = None,
          exact: bool = True) -> np.ndarray:
    """A look-ahead true-peak limiter: the gain ramps down over 5 ms before a peak, holds
    20 ms and ramps back up, so it stays under the ceiling at every (oversampled) point.
    `envelope`: the audio's true_peak_envelope when already known (it scales with a gain).
    exact=False skips the final true-peak check (for trial rounds; see _to_loudness)."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    x = np.asarray(audio, np.float64).reshape(-1)
    if x.size == 0:
        return x.astype(np.float32)
    ceiling = undb(ceiling_dbtp)
    env = true_peak_envelope(x, rate) if envelope is None else envelope
    need = np.minimum(1.0, ceiling / np.maximum(env, 1e-12))  # the gain each sample can take
    if need.min() >= 1.0:
        return x.astype(np.float32)
    ramp = max(1, round(LIMITER_LOOKAHEAD_S * rate))
    hold = max(1, round(LIMITER_HOLD_S * rate))
    # held[n] = min(need[n - hold .. n + ramp - 1]); the causal mean over ramp samples of that is
    # <= need[n] (every term's window contains n) and ramps linearly.
    size = hold + ramp
    held = minimum_filter1d(need, size=size, origin=hold - size // 2, mode="nearest")
    gain = uniform_filter1d(held, size=ramp, origin=(ramp - 1) // 2, mode="nearest")
    y = x * np.minimum(gain, need)
    return (_under_ceiling(y, rate, ceiling) if exact else y).astype(np.float32)


def _under_ceiling(y: np.ndarray, rate: int, ceiling: float) -> np.ndarray:
    tp = true_peak(y, rate)  # a varying gain can nudge an inter-sample peak: trim what is left
    return y * (ceiling / tp) if tp > ceiling else y


def trim_silence(audio: np.ndarray, rate: int, threshold_db: float = TRIM_THRESHOLD_DB) -> tuple[np.ndarray, int, int]:
    """Cut what lies below `threshold_db` relative to the clip's peak at both ends, keeping a
    short lead-in and tail that fade from and to zero, so neither end clicks. Levels are a
    10 ms RMS envelope, the peak its loudest 10 ms. Returns the audio and the samples cut from
    the start and from the end."""
    from scipy.ndimage import uniform_filter1d

    x = np.asarray(audio, np.float32).reshape(-1)
    if x.size == 0 or not np.any(x):
        return x.copy(), 0, 0
    window = max(1, round(TRIM_WINDOW_S * rate))
    envelope = np.sqrt(uniform_filter1d(x.astype(np.float64) ** 2, size=window, mode="constant"))
    loud = np.flatnonzero(envelope >= envelope.max() * undb(threshold_db))
    fade_in = max(1, round(TRIM_FADE_IN_S * rate))
    fade_out = max(1, round(TRIM_FADE_OUT_S * rate))
    start = max(0, int(loud[0]) - fade_in)
    end = min(x.size, int(loud[-1]) + 1 + fade_out)
    y = x[start:end].copy()
    sharpest = float(np.abs(np.diff(y)).max()) if y.size > 1 else 0.0
    y = _fade(y, fade_in, sharpest, at_start=True)
    y = _fade(y[::-1], fade_out, sharpest, at_start=False)[::-1]
    return np.ascontiguousarray(y), start, x.size - end


def _fade(y: np.ndarray, n: int, sharpest: float, at_start: bool) -> np.ndarray:
    """A raised-cosine fade from zero over y's first n samples, lengthened (doubling, up to a
    quarter of the clip) while it would make a step larger than the clip's own sharpest one:
    a smooth sound (a low hum) needs a gentler fade than a crackle."""
    longest = max(1, y.size // 4)
    n = min(n, longest)
    while True:
        # never exactly 0 or 1: no sample is zeroed and none repeats
        w = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 1) / (n + 1))).astype(np.float32)
        faded = y[:n] * w
        steps = np.abs(np.diff(np.concatenate([[0.0], faded, y[n:n + 1]])))
        if steps.max() <= sharpest or n >= longest:
            out = y.copy()
            out[:n] = faded
            return out
        n = min(2 * n, longest)


def deliver(audio: np.ndarray, rate: int, delivery: Delivery = Delivery()) -> tuple[np.ndarray, LevelReport]:
    """Trim (if asked), then normalise one mono clip. Returns float32 audio and a report."""
    x = np.asarray(audio, np.float32).reshape(-1)
    report = LevelReport(delivery.normalize)
    if delivery.trim:
        x, report.trimmed_start, report.trimmed_end = trim_silence(x, rate, delivery.trim_threshold)
    if delivery.normalize is None or x.size == 0:
        return x, report
    tp_before = true_peak(x, rate)
    report.true_peak_before = db(tp_before)
    if report.true_peak_before < SILENT_DBFS:
        report.true_peak = report.true_peak_before
        report.warning = (f"near silent (peak {report.true_peak_before:.1f} dBFS, below {SILENT_DBFS:g} dBFS): "
                          "left at its level, not amplified into noise")
        return x, report
    if delivery.normalize == "peak":
        gain = undb(delivery.peak) / tp_before
        y = (x.astype(np.float64) * gain).astype(np.float32)
        report.gain_db = db(gain)
        report.true_peak = db(tp_before * gain)  # a gain scales the true peak exactly
    else:
        y = _to_loudness(x, rate, delivery, report)
        if y is None:
            return x, report
        report.true_peak = db(true_peak(y, rate))
    report.loudness = integrated_loudness(y, rate)
    return y, report


def _to_loudness(x: np.ndarray, rate: int, delivery: Delivery, report: LevelReport) -> np.ndarray | None:
    """Gain to the loudness target, the limiter holding the true peak; a few rounds, since
    limiting takes some loudness away. None (and a warning) for a clip with no gated loudness."""
    before = integrated_loudness(x, rate)
    report.loudness_before = before
    if not math.isfinite(before):
        report.warning = "no measurable loudness (every block below -70 LUFS): left at its level"
        return None
    target = delivery.loudness
    static = delivery.peak - report.true_peak_before  # the gain that puts the true peak at the ceiling
    gain = target - before
    x64 = x.astype(np.float64)
    envelope = true_peak_envelope(x64, rate)  # once: it scales with the gain
    cap = static + MAX_LIMITING_DB
    best = None  # (distance to the target, gain, clip, loudness)
    below = above = last = None  # rounds that fell short of / went past the target: (gain, loudness)
    for _ in range(LOUDNESS_ROUNDS):
        gain = min(gain, cap)
        y = limit(x64 * undb(gain), rate, delivery.peak, envelope=envelope * undb(gain), exact=False)
        measured = integrated_loudness(y, rate)
        if best is None or abs(measured - target) < best[0]:
            best = (abs(measured - target), gain, y, measured)
        if abs(measured - target) < 0.05 or (measured < target and gain >= cap):
            break
        if measured < target:
            below = (gain, measured)
        else:
            above = (gain, measured)
        # Loudness rises with gain, by less than the gain once the limiter takes some back: step along the
        # line through two rounds (the last two, or the two either side of the target once there are such).
        ref = last
        if below is not None and above is not None:
            ref = below if measured > target else above
        slope = 1.0
        if ref is not None and ref[0] != gain:
            slope = min(1.0, max(0.05, (measured - ref[1]) / (gain - ref[0])))
        last = (gain, measured)
        gain += (target - measured) / slope
    _, gain, y, measured = best
    y = _under_ceiling(y.astype(np.float64), rate, undb(delivery.peak)).astype(np.float32)
    report.gain_db = gain
    report.limited_db = max(0.0, gain - static)
    if measured < target - 0.5:
        report.warning = (f"reached {measured:.1f} LUFS, not {target:g}: more would need over "
                          f"{MAX_LIMITING_DB:g} dB of limiting to hold the true peak at {delivery.peak:g} dBTP")
    return y
