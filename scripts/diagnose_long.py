"""Where a long clip's later events come from, for a "blocks" any-length model (foley2).

    python scripts/diagnose_long.py --data /work/data/debian-foley --out OUT [--model default]

A foley2 generator makes a 10 s clip as 2.97 s noise blocks side by side (each block's noise vector
through the paper's linear layer), with a saturating position clock added, and attention and
conditional batch norm over the whole clip. When a one-shot caption sounds again in a later block
(`scripts/evaluate_long.py` counts onsets), three things could cause it; each is switched here:

- noise: every later block's noise vector scaled by s (s = 0: all later blocks get the mean noise);
- clock: the position clock held from H seconds on at its value there (H = the longest training
  crop's last base frame: nothing later is extrapolation);
- context: each block generated alone (its own noise vector, the clock at its true offset), against
  the same block inside the 10 s clip; the difference is what the rest of the clip does to it.

Captions are drawn from the library's *training* rows by default (`--rows heldout` for the held-out
ones), `--per-category` distinct captions of each one-shot category of evaluate_long (seed 1234). Prints
and writes OUT/report.json: onsets per category for each variant (evaluate_long's strict count) and
each block's RMS level in dB relative to the 10 s clip's peak, inside the clip and alone.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate_bundled as eb  # noqa: E402
import evaluate_long as el  # noqa: E402

CLIP_S = el.CLIP_S


@contextlib.contextmanager
def clock(offset_seconds: float = 0.0, hold_seconds: float | None = None):
    """Patch the generator's position clock (the grid's channels and a level envelope's alike):
    start it `offset_seconds` in (a block generated alone at its place in a longer clip), and/or
    hold it from `hold_seconds` on."""
    import audiogan_core.generator as gmod

    orig = gmod.clock

    def patched(config, seconds, loop=False):
        t = seconds + offset_seconds
        if hold_seconds is not None:
            t = t.clamp(max=hold_seconds)
        return orig(config, t, loop)

    gmod.clock = patched
    try:
        yield
    finally:
        gmod.clock = orig


@torch.inference_mode()
def render(model, features, z: torch.Tensor, frames: int) -> np.ndarray:
    """z [noise_dim, T0] for one text's features -> raw waveform of `frames` mel frames."""
    mel = model.generator(z[None].to(model.device), features.sentence, features.words, features.lengths)
    mel = mel[:, 0, :, :frames].float()  # [1, F, frames]
    return model.vocoder(mel)[0].float().cpu().numpy()


def level_db(audio: np.ndarray, ref: float) -> float:
    """RMS level in dB relative to `ref`, floored at -240 dB so silence stays a number in the report."""
    from audiogan_core.levels import db

    return db(max(float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) / ref, 1e-12))


def diagnose_caption(model, caption: str, seed: int, noise_scales=(0.0, 0.5), hold_seconds: float | None = None,
                     seconds: float = CLIP_S) -> dict:
    """The variants above for one caption: onsets of the 10 s clip as it is, with later blocks'
    noise scaled, and with the clock held; each block's level inside the clip and alone."""
    cfg, rate = model.config, model.sample_rate
    if cfg.noise_input != "blocks":
        raise SystemExit(f"model {cfg.name!r} has noise_input {cfg.noise_input!r}: this looks at 'blocks' models")
    hop, n = cfg.mel.hop_length, cfg.noise_block
    frames = int(np.ceil(seconds * rate / hop))
    t0 = cfg.base_frames_for(frames)
    block_frames = n * cfg.frames_per_base_frame
    base_s = cfg.mel.seconds_for(cfg.frames_per_base_frame)
    feats = model.text_encoder.encode([caption]).to(model.device)
    z = model.noise(seed, t0)  # [noise_dim, T0]
    full = render(model, feats, z, frames)
    peak = float(np.abs(full).max()) or 1.0
    block_samples = block_frames * hop
    blocks = -(-t0 // n)
    out = {"caption": caption, "onsets": el.onsets(full, rate), "inside_db": [], "alone_db": []}
    for k in range(blocks):
        out["inside_db"].append(level_db(full[k * block_samples:(k + 1) * block_samples], peak))
        with clock(offset_seconds=k * n * base_s):
            alone = render(model, feats, z[:, k * n:(k + 1) * n], min(block_frames, frames - k * block_frames))
        out["alone_db"].append(level_db(alone, peak))
    for s in noise_scales:
        zs = z.clone()
        zs[:, n:] *= s
        out[f"onsets_noise_{s:g}"] = el.onsets(render(model, feats, zs, frames), rate)
    if hold_seconds is not None:
        with clock(hold_seconds=hold_seconds):
            out[f"onsets_clock_held_{hold_seconds:g}s"] = el.onsets(render(model, feats, z, frames), rate)
    return out


def summarise(results: list[dict]) -> dict:
    """Per category: the mean of every onset count, and of each block's level inside and alone."""
    by_cat: dict[str, list[dict]] = {}
    for r in results:
        by_cat.setdefault(r["category"], []).append(r)
    summary = {}
    for cat, rs in sorted(by_cat.items()):
        keys = [k for k in rs[0] if k.startswith("onsets")]
        row = {k: float(np.mean([r[k] for r in rs])) for k in keys}
        for k in ("inside_db", "alone_db"):
            row[k] = [float(v) for v in np.mean([r[k] for r in rs], axis=0)]
        row["clips"] = len(rs)
        summary[cat] = row
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the foley library (captions.jsonl, holdout.json)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default="default")
    ap.add_argument("--vocoder", default=None, help="vocoder plugin (default: the model's)")
    ap.add_argument("--rows", choices=("train", "heldout"), default="train")
    ap.add_argument("--per-category", type=int, default=6)
    ap.add_argument("--categories", default=",".join(sorted(el.ONE_SHOTS)))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hold-seconds", type=float, default=5.57,
                    help="hold the clock from here (default: the last base frame of a 512-frame crop)")
    args = ap.parse_args(argv)

    from audiogan_core import AudioGAN
    from audiogan_training.sampling import library_split

    model = AudioGAN.load(args.model, vocoder=args.vocoder)
    if model.config.noise_input != "blocks":  # fixed-length and "sequence" models have no noise blocks
        print(f"model {args.model} has noise_input {model.config.noise_input!r}: this looks at 'blocks' models",
              file=sys.stderr)
        return 2
    train_rows, test_rows = library_split(args.data)
    pool = train_rows if args.rows == "train" else test_rows
    pick = random.Random(1234)
    results = []
    for cat in args.categories.split(","):
        captions = sorted({r["caption"] for r in pool if r["category"] == cat})  # distinct: rows repeat captions
        for caption in pick.sample(captions, min(args.per_category, len(captions))):
            res = diagnose_caption(model, caption, args.seed, hold_seconds=args.hold_seconds)
            results.append({"category": cat, **res})
            eb.say(f"{cat}: {caption[:40]!r} onsets {res['onsets']}, inside "
                   f"{[round(v) for v in res['inside_db']]} dB, alone {[round(v) for v in res['alone_db']]} dB")
    report = {"model": args.model, "vocoder": model.vocoder.name, "rows": args.rows, "seed": args.seed,
              "summary": summarise(results), "clips": results}
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "report.json.tmp"
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    tmp.replace(args.out / "report.json")
    print(json.dumps(report["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
