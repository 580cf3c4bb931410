"""An any-length model folder made from a fixed-length one with no training: what an any-length
fine-tune (`audiogan train --init-from MODEL` with a "sequence" or "blocks" model) starts from,
so its step 0 can be scored like any checkpoint.

    python scripts/any_length_from_fixed.py --model default --out runs/foley2-step0
    python scripts/any_length_from_fixed.py --recipe training/recipes/bundled-foley2-grid-init.json \
        --out runs/sequence-step0 [--carry-projection]
    python scripts/any_length_from_fixed.py --recipe training/recipes/bundled-foley2-blocks.json --out runs/blocks-step0
    python scripts/evaluate_bundled.py --data data/debian-foley --quick --seeds 0 --seconds 2.97 \
        --model runs/foley2-step0 --out runs/foley2-step0-eval
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from audiogan_core.api import locate_model
from audiogan_core.checkpoint import load_model_folder, save_model
from audiogan_core.config import preset
from audiogan_core.discriminator import Discriminator
from audiogan_core.generator import Generator
from audiogan_training.config import TrainConfig
from audiogan_training.init_from import LENGTH_FIELDS, carry_into_any_length


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="a fixed-length model: 'default' or a model folder")
    ap.add_argument("--out", type=Path, required=True, help="the new model folder (must not exist)")
    ap.add_argument("--preset", default="foley2", help="the any-length preset whose switches it takes (foley2)")
    ap.add_argument("--recipe", type=Path, help="take the switches from this training recipe's model instead")
    ap.add_argument("--carry-projection", action="store_true",
                    help="start the noise projection from the fixed-length one's (init_noise_projection)")
    ap.add_argument("--seed", type=int, default=0, help="the trainer's seed: the fresh layers' initial weights")
    args = ap.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; choose a new folder")
    _, path = locate_model(args.model)
    old, g_state = load_model_folder(path)
    target = TrainConfig.load(args.recipe).model if args.recipe else preset(args.preset)
    if args.carry_projection and target.noise_input != "sequence":
        raise SystemExit(f"--carry-projection is for noise_input 'sequence'; {target.name} is {target.noise_input!r} "
                         f"and takes the old noise projection as it is")
    # the old default length, so the folder's clips are the old model's length unless asked otherwise
    new = old.replace(name=target.name, **{k: getattr(target, k) for k in LENGTH_FIELDS - {"base_frames"}})
    torch.manual_seed(args.seed)  # as the trainer builds G, then D
    G, D = Generator(new), Discriminator(new)
    fresh = carry_into_any_length(G, D, old, g_state, None, args.carry_projection)
    save_model(args.out, G.eval(), new)
    print(f"{args.out}: {new.name} from {args.model}; started afresh: {', '.join(fresh) or 'nothing'}")


if __name__ == "__main__":
    main()
