"""Probe during vocoder training: the aisfx category classifier of scripts/evaluate_vocoder.py on the
held-out clips resynthesised by one vocos snapshot only (HiFi-GAN's figure on the same protocol does
not change between snapshots, so it is not recomputed). About 1.5 min on 2 cores.

    python scripts/probe_vocoder_classifier.py --data data/debian-foley \
        --checkpoint runs/vocos-gan/snapshots/vocos-0001000.safetensors [--cache eval/cache]

Prints one JSON line: the checkpoint, the accuracy and the number of held-out clips. The full
evaluation (distances, HiFi-GAN beside it, images) is scripts/evaluate_vocoder.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate_bundled as eb  # noqa: E402  (the category classifier and the real-clip preparation)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the foley library (captions.jsonl, holdout.json)")
    ap.add_argument("--checkpoint", required=True, help="vocos weights (.safetensors with its .json beside it)")
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache of the real training clips")
    args = ap.parse_args()

    import torch

    from audiogan_core.config import MelConfig
    from audiogan_core.plugins import get_vocoder
    from audiogan_training.mel_dataset import compute_log_mel

    t0 = time.time()
    mel_cfg = MelConfig.hifigan_universal()
    vocos = get_vocoder("vocos", checkpoint=args.checkpoint).load("cpu")
    test_clips, accuracies, _ = eb.resynthesis_classifier(args.data, args.cache)
    clips = [vocos(torch.from_numpy(compute_log_mel(c, mel_cfg))[None])[0].numpy()[: c.size] for c in test_clips]
    accuracy = accuracies({"heldout_vocos": clips})["heldout_vocos"]
    print(json.dumps({"checkpoint": args.checkpoint, "accuracy": accuracy, "held_out_clips": len(test_clips),
                      "seconds": round(time.time() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
