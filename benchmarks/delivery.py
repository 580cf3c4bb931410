"""What delivery adds to each clip: normalisation (peak, loudness with the limiter), trim, and
writing the WAV with its bext/iXML metadata (which measures true peak and loudness of the file).

    python benchmarks/delivery.py                 # 3 s at 22.05 kHz and 10 s at 16 kHz, -> 48 kHz 24-bit
    python benchmarks/delivery.py --repeats 10

The audio is band-limited noise bursts with a decay (a sound-effect-like crest factor), so the
limiter has work to do in loudness mode. Prints one JSON object per clip length.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from audiogan_core.io import write_wav
from audiogan_core.delivery import Delivery
from audiogan_core.levels import deliver


def clip(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = round(seconds * rate)
    t = np.arange(n) / rate
    bursts = np.zeros(n)
    for start in np.arange(0.1, seconds * 0.6, 0.35):
        bursts += (t >= start) * np.exp(-np.clip(t - start, 0, None) / 0.05)
    return (0.05 * rng.standard_normal(n) * bursts).astype(np.float32)


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for seconds, rate in ((2.97, 22050), (10.24, 16000)):
            x = clip(seconds, rate)
            row = {"seconds": seconds, "rate": rate, "machine": platform.machine()}
            for name, d in (("peak", Delivery()), ("loudness_-16", Delivery(loudness=-16)),
                            ("peak_trim", Delivery(trim=True))):
                row[f"{name}_ms"] = round(1000 * timed(lambda: deliver(x, rate, d), args.repeats), 1)
            y, _ = deliver(x, rate, Delivery())
            k = iter(range(10_000))
            stem = f"{seconds:g}s"
            row["write_48k_24bit_ms"] = round(1000 * timed(
                lambda: write_wav(Path(tmp) / f"{stem}-{next(k)}.wav", y, rate, target_rate=48000, bit_depth=24),
                args.repeats), 1)
            print(json.dumps(row))


if __name__ == "__main__":
    main()
