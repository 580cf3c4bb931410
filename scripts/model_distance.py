"""How far generators have moved from a reference one, as they are used (eval mode).

    python scripts/model_distance.py --data data/debian-foley-wide --reference default MODEL [MODEL ...]

For the first `--n` held-out captions of the library (its holdout.json, sorted by file), each
model makes a clip for seed `--seed` at `--seconds` (one noise draw, no scorer), and the figure is
the mean absolute log-mel difference (nats) to the reference model's clip for the same caption
and noise. The fine-tunes of docs/bundled-model-experiments.md ("Runs Z") lose text control on
the wider library in step with it. Prints one JSON line per model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audiogan_core.api import AudioGAN  # noqa: E402
from audiogan_training.sampling import library_split  # noqa: E402


def mels_for(model: str, captions: list[str], seed: int, seconds: float) -> torch.Tensor:
    gan = AudioGAN.load(model, vocoder="griffinlim")  # mels only: the weight-free vocoder is never run
    with torch.no_grad():
        mels = [gan.generate_mel(c, seed=seed, seconds=seconds, candidates=1)[0] for c in captions]
    return torch.cat(mels)  # [N, F, T]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the library (captions and holdout.json)")
    ap.add_argument("--reference", default="default", help="the model the distance is measured from")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=2.97)
    args = ap.parse_args(argv)
    _, held = library_split(args.data)
    captions = [row["caption"] for row in held[: args.n]]
    reference = mels_for(args.reference, captions, args.seed, args.seconds)
    for model in args.models:
        mels = mels_for(model, captions, args.seed, args.seconds)
        print(json.dumps({"model": model, "reference": args.reference, "clips": len(captions),
                          "distance": round(float((mels - reference).abs().mean()), 4)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
