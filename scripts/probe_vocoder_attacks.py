"""How sharp each vocoder's attacks are: the steepest rise of a clip's level, by category.

    python scripts/probe_vocoder_attacks.py --data data/debian-foley \
        [--checkpoint runs/vocos-fine/snapshots/vocos-0001500.safetensors] \
        [--categories construction_tools,bow_arrow,sword_melee_hit,wood_chopping]

For the held-out clips of the chosen categories (evaluate_bundled's 2.97 s preparation) it renders
the clip's own log-mel and the bundled model's mel for its caption (seed 0: the text-control
check's clips) with HiFi-GAN and vocos, and prints, per category, the mean over clips of the
steepest rise of the level (RMS over 64 samples every 32, in dB per 1.45 ms at 22.05 kHz) for the
real clip and each rendering. Under 2 min on 2 cores. docs/vocoder.md (phase 11) has the figures.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate_bundled as eb  # noqa: E402  (the held-out split and the real-clip preparation)

WINDOW, STEP = 64, 32


def steepest_rise(x: np.ndarray) -> float:
    """The largest step up of the clip's short-time level, in dB per STEP samples."""
    x = np.asarray(x, np.float64)
    level = np.sqrt(np.convolve(x ** 2, np.ones(WINDOW) / WINDOW, "same")[::STEP] + 1e-12)
    return float(np.max(np.diff(20 * np.log10(level / level.max() + 1e-9))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the foley library (captions.jsonl, holdout.json)")
    ap.add_argument("--checkpoint", default=None, help="vocos weights (default: the ones in the package)")
    ap.add_argument("--categories", default="construction_tools,bow_arrow,sword_melee_hit,wood_chopping")
    args = ap.parse_args()

    import torch

    from audiogan_core import AudioGAN
    from audiogan_core.config import MelConfig
    from audiogan_core.plugins import get_vocoder
    from audiogan_training.mel_dataset import compute_log_mel
    from audiogan_training.sampling import library_split

    wanted = args.categories.split(",")
    _, test_rows = library_split(args.data)
    rows = [r for r in test_rows if r["category"] in wanted]
    if not rows:
        print(f"no held-out clips in {wanted}", file=sys.stderr)
        return 1
    model = AudioGAN.load("default", vocoder="griffinlim")  # only its mels
    seconds = eb.check_seconds(model)
    real, kept = eb.prepare_rows(args.data, rows, model, seconds)
    mel_cfg = MelConfig.hifigan_universal()
    options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    vocoders = {"hifigan": get_vocoder("hifigan").load("cpu"), "vocos": get_vocoder("vocos", **options).load("cpu")}
    rises: dict[str, dict[str, list[float]]] = {}
    with torch.no_grad():
        for row, clip in zip(kept, real):
            mels = {"real mel": torch.from_numpy(compute_log_mel(clip, mel_cfg))[None],
                    "generated": model.generate_mel(row["caption"], seed=0, seconds=seconds)[0]}
            got = rises.setdefault(row["category"], {})
            got.setdefault("real", []).append(steepest_rise(clip))
            for source, mel in mels.items():
                for name, vocoder in vocoders.items():
                    got.setdefault(f"{name} ({source})", []).append(steepest_rise(vocoder(mel)[0].numpy()))
    print(f"steepest rise, dB per {STEP} samples ({1000 * STEP / mel_cfg.sample_rate:.2f} ms)")
    for category, got in sorted(rises.items()):
        cells = ", ".join(f"{name} {np.mean(values):.1f}" for name, values in got.items())
        print(f"{category} ({len(got['real'])} clips): {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
