"""The uniform average of vocos snapshots (one run, one config), as a candidate vocoder.

    python scripts/average_vocos.py runs/vocos-critic/snapshots/vocos-000{0500,0750,1000,1250,1500}.safetensors \
        --out runs/vocos-critic/vocos-average.safetensors

Writes float16 weights and the .json beside them (listing the files averaged); refuses an --out that
exists and weights of different configs. Phases 11 and 12 in docs/vocoder.md used it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="+", type=Path, help="vocos .safetensors files (each with its .json)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    from audiogan_core.errors import AudioGANError
    from audiogan_plugins.vocoders.vocos import average_vocos

    try:
        print(average_vocos(args.weights, args.out))
    except (AudioGANError, FileExistsError) as exc:
        print(f"average_vocos: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
