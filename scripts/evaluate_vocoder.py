"""Quality of the `vocos` vocoder against the universal HiFi-GAN, on held-out real recordings
(the library's holdout.json: never trained on by either the vocoder or the bundled model).

    python scripts/evaluate_vocoder.py --data /work/data/debian-foley --out /work/eval/vocoder \
        [--checkpoint runs/vocos/vocos.safetensors] [--match-mel N] [--images docs/images/vocoder]

For every held-out clip (mono, loudness-normalised like training, its first 10 s), both vocoders
resynthesise the clip's own log-mel. Per clip and vocoder:
- log-mel L1 and multi-resolution STFT distance (spectral convergence of the whole set + mean log
  magnitude L1, at 512/1024/2048-point FFTs) to the real audio
  (`audiogan_training.vocoder.resynthesis_scores`, `aggregate_scores`);
- the aisfx category classifier of scripts/evaluate_bundled.py (fit on the training clips'
  embeddings, the same 2.97 s preparation) labels the resynthesised clips: accuracy beside the
  real clips' own.
Targets (issue: our own fast vocoder): both distances within 1.25x of HiFi-GAN's, category
accuracy within 3 points of HiFi-GAN's. Writes OUT/report.json and, with --images, real /
HiFi-GAN / vocos spectrograms of six clips.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate_bundled as eb  # noqa: E402  (the category classifier and the real-clip preparation)

MAX_SECONDS = 10.0


def three_panel(path: Path, mels: list[np.ndarray], titles: list[str], caption: str, mel_config) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = mels[0].shape[1] * mel_config.hop_length / mel_config.sample_rate
    fig, axes = plt.subplots(1, len(mels), figsize=(4 * len(mels), 3), sharey=True)
    lo = min(float(m.min()) for m in mels)
    hi = max(float(m.max()) for m in mels)
    for ax, mel, title in zip(axes, mels, titles):
        ax.imshow(mel, origin="lower", aspect="auto", vmin=max(lo, hi - 12), vmax=hi, cmap="magma",
                  extent=(0, seconds, 0, mel.shape[0]))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("seconds")
    axes[0].set_ylabel("mel bin")
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the foley library (captions.jsonl, holdout.json)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--checkpoint", default=None, help="vocos weights (default: the ones in the package)")
    ap.add_argument("--match-mel", type=int, default=None, metavar="N",
                    help="vocos's rounds of mel matching (default: the plugin's, 3; 0: the network alone)")
    ap.add_argument("--images", type=Path, default=None, help="write six real / HiFi-GAN / vocos PNGs here")
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache (default OUT/cache)")
    args = ap.parse_args()

    import torch

    from audiogan_core import AudioGAN
    from audiogan_core.config import MelConfig
    from audiogan_core.mel import MelFrontEnd
    from audiogan_core.plugins import get_embedder, get_vocoder
    from audiogan_training.mel_dataset import compute_log_mel, load_audio, normalise_loudness
    from audiogan_training.sampling import library_split
    from audiogan_training.vocoder import VocoderTrainConfig
    from audiogan_training.vocoder_losses import aggregate_scores, resynthesis_scores

    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or args.out / "cache"
    mel_cfg = MelConfig.hifigan_universal()
    front = MelFrontEnd(mel_cfg)
    resolutions = VocoderTrainConfig().stft_resolutions
    hifigan = get_vocoder("hifigan").load("cpu")
    options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    if args.match_mel is not None:
        options["match_mel"] = args.match_mel
    vocos = get_vocoder("vocos", **options).load("cpu")
    vocoders = {"hifigan": hifigan, "vocos": vocos}

    train_rows, test_rows = library_split(args.data)  # the library's captions, read as training reads them
    eb.say(f"{len(test_rows)} held-out clips; {len(train_rows)} training clips (for the classifier only)")

    # 1. Resynthesis distances on each held-out clip's first 10 s (not padded) ----------------
    per_clip, seconds_vocoded, vocoder_time = [], 0.0, Counter()
    for r in test_rows:
        audio = normalise_loudness(load_audio(args.data / r["file"], mel_cfg.sample_rate, MAX_SECONDS),
                                   mel_cfg.sample_rate)
        if float(np.abs(audio).max()) == 0:
            continue
        mel = torch.from_numpy(compute_log_mel(audio, mel_cfg))[None]  # [1, 80, T]
        real = torch.from_numpy(np.pad(audio, (0, mel.shape[-1] * mel_cfg.hop_length - audio.size)))
        entry = {"file": r["file"], "caption": r["caption"], "seconds": audio.size / mel_cfg.sample_rate}
        for name, voc in vocoders.items():
            start = time.perf_counter()
            wave = voc(mel)[0]
            vocoder_time[name] += time.perf_counter() - start
            entry[name] = resynthesis_scores(wave, real, front, resolutions)
        seconds_vocoded += entry["seconds"]
        per_clip.append(entry)
    distances = {}
    totals = {name: aggregate_scores([c[name] for c in per_clip]) for name in vocoders}
    for metric in ("mel_l1", "mrstft"):
        h, v = totals["hifigan"][metric], totals["vocos"][metric]
        distances[metric] = {"hifigan": h, "vocos": v, "ratio": v / h, "target_met": bool(v <= 1.25 * h)}
    eb.say("distances: " + ", ".join(f"{k} hifigan {d['hifigan']:.4f} vocos {d['vocos']:.4f} (x{d['ratio']:.3f})"
                                     for k, d in distances.items()))

    # 2. Category classifier on resynthesised clips (evaluate_bundled's protocol) -------------
    model = AudioGAN.load("default", vocoder="griffinlim")  # its mel front end and loudness target
    seconds = eb.check_seconds(model)
    rate = mel_cfg.sample_rate
    train_clips, test_clips, categories, (cat_train, cat_test, ytr, yte), _ = eb.real_clip_split(
        args.data, train_rows, test_rows, model, seconds)
    emb = get_embedder("aisfx").load("cpu")
    tr_emb, _ = eb.embed(emb, "train_real", train_clips, rate, cache)
    sets = {"real": test_clips}
    for name, voc in vocoders.items():
        sets[name] = [voc(torch.from_numpy(compute_log_mel(c, mel_cfg))[None])[0].numpy()[: c.size] for c in test_clips]
    embedded = {name: eb.embed(emb, f"heldout_{name}" if name != "real" else "heldout_real", clips, rate,
                               cache if name == "real" else None)[0] for name, clips in sets.items()}
    preds = eb.classify_sets(tr_emb[cat_train], ytr, [embedded[n][cat_test] for n in sets])
    accuracy = {n: float(np.mean([p == t for p, t in zip(pred, yte)])) for n, pred in zip(sets, preds)}
    classifier = {"test_clips": len(yte), "categories": len(categories), "accuracy": accuracy,
                  "vocos_minus_hifigan_points": 100 * (accuracy["vocos"] - accuracy["hifigan"]),
                  "target_met": bool(accuracy["vocos"] >= accuracy["hifigan"] - 0.03)}
    eb.say("category accuracy: " + ", ".join(f"{n} {100 * a:.1f}%" for n, a in accuracy.items()))

    # 3. Images ----------------------------------------------------------------------------------
    images = []
    if args.images:
        picks = sorted(per_clip, key=lambda c: -c["seconds"])
        chosen, seen = [], set()
        for c in picks:  # six clips of different categories, longest first
            cat = next(r["category"] for r in test_rows if r["file"] == c["file"])
            if cat not in seen and c["seconds"] >= 1.5:
                chosen.append((c, cat))
                seen.add(cat)
            if len(chosen) == 6:
                break
        for c, cat in chosen:
            audio = normalise_loudness(load_audio(args.data / c["file"], rate, 4.0), rate)
            mel = compute_log_mel(audio, mel_cfg)
            mels = [mel] + [compute_log_mel(v(torch.from_numpy(mel)[None])[0].numpy(), mel_cfg) for v in vocoders.values()]
            path = args.images / f"{cat}.png"
            three_panel(path, mels, ["real (held out)", "HiFi-GAN universal V1", "vocos (ours)"],
                        f"{c['file']}: \"{c['caption']}\"", mel_cfg)
            images.append(str(path))

    out = {"heldout_clips": len(per_clip), "seconds_of_audio": seconds_vocoded, "distances": distances,
           "category_classifier": classifier, "images": images,
           "vocoder_seconds_total": dict(vocoder_time), "threads": torch.get_num_threads(),
           "vocos_checkpoint": str(vocos.checkpoint_path), "vocos_match_mel": vocos.match_rounds, "per_clip": per_clip,
           "seconds": time.time() - t0}
    tmp = args.out / "report.json.tmp"
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(args.out / "report.json")
    print(json.dumps({k: out[k] for k in ("heldout_clips", "distances", "category_classifier")}, indent=1))
    eb.say(f"done in {time.time() - t0:.0f} s -> {args.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
