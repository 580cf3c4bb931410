"""Long clips and loops from an any-length model (issue: the bundled model, second generation).

    python scripts/evaluate_long.py --data /work/data/debian-foley --out /work/eval/long --model MODEL \
        [--loops 100] [--images docs/images/long]

1. Length: a 10-second clip for every held-out caption of a texture or one-shot category (seed 0).
   - Textures (fire, water, wind and weather, ambience, vehicles and engines, trains, crowds,
     machines): the clip is cut into 3-second windows [0, 3), [3, 6), [6, 9) and each window is
     labelled by evaluate_bundled's aisfx category classifier. Target: windows 2 and 3 are given
     the caption's category within 10 points of window 1 (the sound keeps going).
   - One-shots (doors, hits, arrows, explosions, interface sounds, coins, siege weapons): onsets
     (librosa's onset detector) in the 10-second clip, beside the onsets in the real clips of the
     same categories (held-out and training, each zero-padded to 10 s). Target: no more onsets
     than real clips of the category (one event and its tail, not a string of them).
     `--onset-seeds N` counts each caption's clips at seeds 0 .. N-1 and compares the mean over all
     of them (a category's mean moves by up to 0.9 onsets from one seed to the next).
2. Loops: `--loops` clips made with loop=True (10 s, held-out captions in turn, seeds 0, 1, ...).
   For each, on the loop played twice end to end: spectral flux (L2 distance of consecutive
   log-magnitude frames, n_fft 1024, hop 256) of the frame pairs that straddle the seam (the
   largest of them) against the 95th percentile of the same statistic inside the clip (the
   largest flux of as many consecutive inner pairs); and the sample step across the seam against
   the 99th percentile of the steps inside. Target: at least 95 of 100 under both. (Until session
   24 the seam's largest pair was set against single inner pairs' 95th percentile, which an
   ordinary point of a real recording fails 13% of the time; still reported, as flux_ok_single.)
`--loops-only` runs part 2 alone (a quarter of an hour on run G's weights at one thread).
Writes OUT/report.json; --images writes spectrograms of 10 s clips (two textures, four one-shots,
two loops shown twice end to end) beside real clips of the category.
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
import evaluate_bundled as eb  # noqa: E402

TEXTURES = {"fire", "water", "wind_weather", "ambience", "vehicle_engine", "train", "crowd", "machine_household",
            "insect", "bell"}
ONE_SHOTS = {"door", "sword_melee_hit", "bow_arrow", "explosion_gunshot", "ui", "gathering_coins", "siege_weapon"}
WINDOW_S = 3.0
CLIP_S = 10.0


def onsets(audio: np.ndarray, rate: int) -> int:
    import librosa

    return int(len(librosa.onset.onset_detect(y=audio.astype(np.float32), sr=rate, units="frames",
                                              backtrack=False)))


def log_frames(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """[frames, bins] log magnitudes of non-centred frames."""
    n = 1 + (audio.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    frames = audio[idx] * np.hanning(n_fft)[None, :]
    return np.log(np.abs(np.fft.rfft(frames, axis=1)) + 1e-5)


def windows_hold(acc: list[float], points: float = 0.10) -> bool:
    """Windows 2 and 3 classified within `points` of window 1: exactly 10 points under counts as within
    (0.4 - 0.1 is 0.30000000000000004 in floats, over 3 of 10 clips' 0.3)."""
    return bool(all(acc[0] - a <= points + 1e-9 for a in acc[1:]))


def seam_check(loop: np.ndarray, n_fft: int = 1024, hop: int = 256) -> dict:
    """On the loop played twice: the largest spectral flux of the frame pairs that straddle the seam,
    against the 95th percentile of the same statistic (the largest flux of as many consecutive
    pairs) at every inner position; and the sample step across the seam against the 99th
    percentile of inner steps. Like is compared with like: set against single pairs' 95th
    percentile ("flux_ok_single"), an ordinary inner point of a real recording fails about 13% of
    the time (the largest of 4 is larger than one), so even a perfect loop would fail that often."""
    twice = np.concatenate([loop, loop])
    mags = log_frames(twice, n_fft, hop)
    flux = np.linalg.norm(np.diff(mags, axis=0), axis=1)  # flux[k]: frame k -> k + 1
    starts = hop * np.arange(len(mags))
    seam = loop.size
    # pairs (k, k + 1) whose frames together cover the seam
    straddle = [k for k in range(len(flux)) if starts[k] < seam < starts[k + 1] + n_fft]
    inner = [k for k in range(len(flux)) if starts[k + 1] + n_fft <= seam]
    w = len(straddle)
    inner_maxes = np.array([flux[k:k + w].max() for k in inner[: len(inner) - w + 1]])
    steps = np.abs(np.diff(loop))
    seam_step = float(abs(loop[0] - loop[-1]))
    out = {"seam_flux": float(flux[straddle].max()), "inner_flux_p95": float(np.percentile(inner_maxes, 95)),
           "inner_single_pair_p95": float(np.percentile(flux[inner], 95)),
           "seam_step": seam_step, "inner_step_p99": float(np.percentile(steps, 99))}
    out["flux_ok"] = out["seam_flux"] <= out["inner_flux_p95"]
    out["flux_ok_single"] = out["seam_flux"] <= out["inner_single_pair_p95"]
    out["step_ok"] = seam_step <= out["inner_step_p99"]
    return out


def length_checks(args, model, train_rows, test_rows, rows, cache):
    """Part 1: 10 s clips for the held-out texture and one-shot captions, their texture windows
    classified and their onsets counted beside real clips of the category. Returns (texture report,
    one-shot report, texture rows, one-shot rows, the clips by file)."""
    from audiogan_core.plugins import get_embedder

    rate = model.sample_rate
    seconds = eb.check_seconds(model)  # the category classifier of evaluate_bundled, fit on 2.97 s clips
    train_clips, train_kept = eb.prepare_rows(args.data, train_rows, model, seconds)
    counts = Counter(r["category"] for r in train_kept)
    categories = sorted(c for c, n in counts.items() if n >= eb.MIN_TRAIN_PER_CATEGORY and c not in
                        eb.EXCLUDED_CATEGORIES)
    emb = get_embedder(args.embedder).load("cpu")
    tr_emb, _ = eb.embed(emb, "train_real", train_clips, rate, cache)
    cat_train = [i for i, r in enumerate(train_kept) if r["category"] in categories]
    ytr = [train_kept[i]["category"] for i in cat_train]

    # 1a. textures: windows ---------------------------------------------------------------------
    textures = [r for r in test_rows if r["category"] in TEXTURES and r["category"] in categories]
    one_shots = [r for r in test_rows if r["category"] in ONE_SHOTS and r["category"] in categories]
    eb.say(f"{len(textures)} texture and {len(one_shots)} one-shot held-out captions")
    long_clips = {}
    for r in textures + one_shots:
        long_clips[r["file"]] = model.generate(r["caption"], seed=0, seconds=CLIP_S, normalize=None,
                                                candidates=args.candidates)[0].audio
    w = int(WINDOW_S * rate)
    windows = [[long_clips[r["file"]][k * w:(k + 1) * w] for r in textures] for k in range(3)]
    texture_report = {"clips": len(textures)}
    if textures:
        sets = [eb.embed(emb, f"texture-window{k}", windows[k], rate)[0] for k in range(3)]
        preds = eb.classify_sets(tr_emb[cat_train], ytr, sets)
        acc = [float(np.mean([p == r["category"] for p, r in zip(pred, textures)])) for pred in preds]
        texture_report.update({"window_accuracy": acc, "captions": [r["caption"] for r in textures],
                               "predicted": [list(p) for p in zip(*preds)],
                               "target_met": windows_hold(acc)})
        eb.say(f"texture windows: {', '.join(f'{100 * a:.0f}%' for a in acc)}")

    # 1b. one-shots: onsets against real clips of the category ---------------------------------
    def real_onsets(category):
        counts = []
        for r in rows:
            if r["category"] == category:
                clip = eb.prepare_real(args.data / r["file"], model, CLIP_S)
                counts.append(onsets(clip, rate))
        return counts

    def clip(r, seed):
        if seed == 0:
            return long_clips[r["file"]]
        return model.generate(r["caption"], seed=seed, seconds=CLIP_S, normalize=None,
                              candidates=args.candidates)[0].audio

    per_cat = {}
    for cat in sorted({r["category"] for r in one_shots}):
        by_seed = [[onsets(clip(r, seed), rate) for r in one_shots if r["category"] == cat]
                   for seed in range(args.onset_seeds)]  # [seed][clip]
        gen, real = np.mean(by_seed), real_onsets(cat)
        per_cat[cat] = {"generated_mean": float(gen), "generated": by_seed[0], "generated_by_seed": by_seed,
                        "real_mean": float(np.mean(real)), "real_clips": len(real), "ok": bool(gen <= np.mean(real))}
    one_shot_report = {"clips": len(one_shots), "seeds": args.onset_seeds, "per_category": per_cat,
                       "target_met": bool(all(v["ok"] for v in per_cat.values()))}
    eb.say("one-shot onsets (generated / real): " +
           ", ".join(f"{c} {v['generated_mean']:.1f}/{v['real_mean']:.1f}" for c, v in per_cat.items()))
    return texture_report, one_shot_report, textures, one_shots, long_clips


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default="default")
    ap.add_argument("--vocoder", default=None, help="vocoder plugin (default: the model's)")
    ap.add_argument("--loops", type=int, default=100)
    ap.add_argument("--images", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--embedder", default="aisfx", help="the category classifier's embedder (tests use a cheap one)")
    ap.add_argument("--loops-only", action="store_true",
                    help="the loop check alone (no 10 s clips, no classifier)")
    ap.add_argument("--onset-seeds", type=int, default=1,
                    help="count the one-shot clips' onsets at seeds 0 .. N-1 (default 1: seed 0)")
    ap.add_argument("--candidates", type=int, default=None,
                    help="noise draws per clip for the model's scorer (default: the model's own)")
    args = ap.parse_args()
    if args.loops_only and args.images:
        ap.error("--images needs the 10 s clips: leave out --loops-only")
    if args.onset_seeds < 1:
        ap.error(f"--onset-seeds must be at least 1, got {args.onset_seeds}")

    from audiogan_core import AudioGAN
    from audiogan_training.sampling import library_split

    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or args.out / "cache"
    model = AudioGAN.load(args.model, vocoder=args.vocoder)
    if not model.config.any_length:
        print(f"model {args.model} makes fixed-length clips ({model.max_seconds:.2f} s): nothing to check",
              file=sys.stderr)
        return 2
    rate = model.sample_rate
    train_rows, test_rows = library_split(args.data)  # the library's captions, read as training reads them
    rows = train_rows + test_rows  # real clips of a category: held-out and training alike

    if args.loops_only:
        texture_report = one_shot_report = None
        textures, one_shots, long_clips = [], [], {}
    else:
        texture_report, one_shot_report, textures, one_shots, long_clips = length_checks(
            args, model, train_rows, test_rows, rows, cache)

    # 2. loops ---------------------------------------------------------------------------------
    loop_rows, seams = [], []
    for k in range(args.loops):
        r = test_rows[k % len(test_rows)]
        seed = k // len(test_rows)
        loop = model.generate(r["caption"], seed=seed, seconds=CLIP_S, loop=True, normalize=None,
                              candidates=args.candidates)[0].audio
        check = seam_check(loop)
        seams.append(check)
        loop_rows.append({"caption": r["caption"], "seed": seed, **check})
    loops = {"clips": len(seams), "flux_ok": int(sum(s["flux_ok"] for s in seams)),
             "flux_ok_single": int(sum(s["flux_ok_single"] for s in seams)),
             "step_ok": int(sum(s["step_ok"] for s in seams)), "seconds": len(loop) / rate if seams else 0}
    loops["target_met"] = bool(loops["flux_ok"] >= 0.95 * len(seams) and loops["step_ok"] >= 0.95 * len(seams))
    eb.say(f"loops: seam flux under the 95th percentile in {loops['flux_ok']}/{len(seams)} "
           f"(under single pairs' in {loops['flux_ok_single']}), "
           f"seam step under the 99th percentile in {loops['step_ok']}/{len(seams)}")

    images = []
    if args.images:
        images = write_images(args, model, textures, one_shots, loop_rows, long_clips, rows)

    out = {"model": args.model, "vocoder": model.vocoder.name,
           "candidates": model.check_request("x", candidates=args.candidates).candidates, "textures": texture_report,
           "one_shots": one_shot_report, "loops": loops, "loop_clips": loop_rows, "images": images,
           "seconds": time.time() - t0}
    tmp = args.out / "report.json.tmp"
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(args.out / "report.json")
    print(json.dumps({k: out[k] for k in ("textures", "one_shots", "loops")}, indent=1))
    return 0


def write_images(args, model, textures, one_shots, loop_rows, long_clips, rows) -> list[str]:
    """The issue's 8 prompts: two textures and four one-shots (10 s each, each of another category
    where the held-out list allows) and two loops shown twice, beside a real clip of the category
    (its first 10 s)."""
    from audiogan_training.mel_dataset import compute_log_mel, load_audio, normalise_loudness
    from audiogan_training.previews import save_spectrogram_pair

    rate, mel_cfg = model.sample_rate, model.config.mel
    args.images.mkdir(parents=True, exist_ok=True)
    written = []

    def real_of(category):
        r = max((r for r in rows if r["category"] == category), key=lambda r: r.get("duration", 0), default=None)
        if r is None:
            return None, None
        audio = normalise_loudness(load_audio(args.data / r["file"], rate, CLIP_S), rate)
        return np.pad(audio, (0, max(0, int(CLIP_S * rate) - audio.size))), r["file"]

    def distinct(candidates, n):  # first of each category, then repeats if there are too few
        firsts = list({r["category"]: r for r in reversed(candidates)}.values())[::-1]
        return (firsts + [r for r in candidates if r not in firsts])[:n]

    picks = [("texture", r) for r in distinct(textures, 2)] + [("one-shot", r) for r in distinct(one_shots, 4)]
    for i, (kind, r) in enumerate(picks):
        real, name = real_of(r["category"])
        path = args.images / f"{i + 1}-{kind}-{r['category']}.png"  # numbered: two picks may share a category
        save_spectrogram_pair(path, compute_log_mel(long_clips[r["file"]], mel_cfg), compute_log_mel(real, mel_cfg),
                              f"10 s, {kind}: \"{r['caption']}\" (right: {name})", mel_cfg)
        written.append(str(path))
    for i, lr in enumerate(loop_rows[:2]):
        loop = model.generate(lr["caption"], seed=lr["seed"], seconds=CLIP_S, loop=True, normalize=None,
                              candidates=args.candidates)[0].audio
        cat = next(r["category"] for r in rows if r["caption"] == lr["caption"])
        real, name = real_of(cat)
        path = args.images / f"{len(picks) + i + 1}-loop-{cat}.png"
        save_spectrogram_pair(path, compute_log_mel(np.concatenate([loop, loop]), mel_cfg),
                              compute_log_mel(np.concatenate([real, real]), mel_cfg),
                              f"loop shown twice: \"{lr['caption']}\" (right: {name}, twice)", mel_cfg)
        written.append(str(path))
    return written


if __name__ == "__main__":
    sys.exit(main())
