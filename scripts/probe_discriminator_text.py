"""Does a run's discriminator judge the audio or copy the caption? (the check behind d_text="blind")

Runs D on N real training clips three ways and reports how often the global feature g is closest
(cosine) to which caption: with the true captions, with the captions rolled by one, and with one
neutral caption for all. If g follows the shuffled captions rather than the audio, the contrastive
losses (G2S, OCC, F2R) are met whatever the audio is.

  python scripts/probe_discriminator_text.py --run runs/bundled --data data/debian-foley --cache-dir CACHE
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="run folder with checkpoint.pt")
    ap.add_argument("--data", type=Path, required=True, help="the library the run trained on")
    ap.add_argument("--cache-dir", type=Path, required=True, help="the run's mel/text cache (--cache-dir of train)")
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from audiogan_core.checkpoint import load_state_dict_checked
    from audiogan_core.discriminator import Discriminator
    from audiogan_core.losses import cosine_matrix
    from audiogan_core.plugins import get_text_encoder
    from audiogan_training.mel_dataset import FoleyDataset
    from audiogan_training.trainer import CHECKPOINT_NAME, TextFeatureCache, read_checkpoint, training_split

    state, cfg = read_checkpoint(args.run / CHECKPOINT_NAME)
    mc = cfg.model
    D = Discriminator(mc)
    load_state_dict_checked(D, state["D"], "discriminator (checkpoint)")
    D.eval()
    _, items, _ = training_split(args.data, cfg)
    ds = FoleyDataset(items, mel_config=mc.mel, clip_frames=mc.frames, cache_dir=args.cache_dir)
    text = TextFeatureCache(get_text_encoder(mc.text_encoder, **mc.text_encoder_options).load(torch.device("cpu")),
                            args.cache_dir / f"text-{mc.text_encoder}.safetensors")
    # distinct captions, so "matched" is unambiguous
    order = list(range(len(ds)))
    random.Random(args.seed).shuffle(order)
    picked, seen = [], set()
    for i in order:
        if ds.items[i].caption not in seen:
            picked.append(i)
            seen.add(ds.items[i].caption)
        if len(picked) == args.clips:
            break
    n = len(picked)
    mel = torch.stack([ds[i]["mel"] for i in picked]).unsqueeze(1)  # [N, 1, F, T]
    words, lengths, sentence = text.batch([ds.items[i].caption for i in picked], "cpu")
    own = torch.arange(n)
    rolled = torch.roll(own, 1)
    blind = cfg.d_text == "blind"
    with torch.no_grad():
        true = D(mel, sentence, words, lengths, blind=blind)
        shuffled = D(mel, sentence[rolled], words[rolled], lengths[rolled], blind=blind)
        nw, nl, ns = text.batch(["sound"] * n, "cpu")
        neutral = D(mel, ns, nw, nl, blind=blind)
        best = {name: cosine_matrix(out.global_feature, sentence).argmax(1)
                for name, out in (("true", true), ("shuffled", shuffled), ("neutral", neutral))}
    result = {"step": int(state["step"]), "d_text": cfg.d_text, "clips": n,
              "true_captions_g_matches_caption": int((best["true"] == own).sum()),
              "shuffled_g_matches_given_caption": int((best["shuffled"] == rolled).sum()),
              "shuffled_g_matches_audio_caption": int((best["shuffled"] == own).sum()),
              "neutral_g_matches_audio_caption": int((best["neutral"] == own).sum()),
              "mean_logit_true": float(true.logit.mean()), "mean_logit_shuffled": float(shuffled.logit.mean())}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
