"""One `--init-from` checkpoint out of exported vocos weights and another run's critic.

    python scripts/compose_vocoder_init.py --weights W.safetensors --critic-from runs/X/checkpoint.pt --out INIT.pt

Averaged weights (scripts/average_vocos.py) have no critic of their own; a run started from them
with `--init-from` would train a fresh critic alone first. This puts them into a copy of a run's
checkpoint in place of its vocoder (training/vocoder.py, `compose_init_checkpoint`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    from audiogan_core.errors import AudioGANError
    from audiogan_training.vocoder import compose_init_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="exported vocos weights (.safetensors with its .json)")
    ap.add_argument("--critic-from", required=True, help="a vocoder run's checkpoint.pt holding a critic")
    ap.add_argument("--out", required=True, help="the checkpoint to write (refused if it exists)")
    args = ap.parse_args(argv)
    try:
        step = compose_init_checkpoint(args.weights, args.critic_from, args.out)
    except (AudioGANError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {args.weights} with the critic of {args.critic_from} (its step {step})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
