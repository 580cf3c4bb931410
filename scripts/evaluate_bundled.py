"""Held-out evaluation of a bundled model (issue: "a bundled default model that makes
recognisable sounds"), with the `aisfx` embedder and `audiogan eval`'s own metric code.

    python scripts/evaluate_bundled.py --data /work/data/debian-foley --out /work/eval/bundled \
        [--model default] [--images docs/images/bundled]
    python scripts/evaluate_bundled.py --data ... --out ... --model RUN/model --quick --seeds 0,1,2

--quick runs only the category check (the "quick check" of the README's training notes): the
same classifier, held-out clips and captions, one generated set per seed, in 2-5 minutes
instead of about 12.

Only held-out clips and captions (the library's holdout.json) are generated from or compared
with; the training clips are used only to fit the category classifier and as the corpus for
the near-copy check. Real clips are prepared exactly like training targets: the first
`--seconds` seconds (default: the model's default length), mono, loudness-normalised, zero-padded to the clip
length, so real and generated clips have the same length and level conventions.

Writes OUT/report.json (the model card takes it: scripts/export_bundled.py --eval) and
OUT/reference/ (the prepared held-out clips + captions.jsonl), so the FD part can be rerun
with the CLI:  audiogan eval -m default --captions OUT/reference/captions.jsonl -r OUT/reference
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

MIN_TRAIN_PER_CATEGORY = 10
EXCLUDED_CATEGORIES = {None, "", "uncategorised"}  # not a kind of sound a caption names
# The category check's clips: 256 mel frames (2.97 s at 22.05 kHz, hop 256), the length of the first bundled
# model's clips, so that every figure since then compares whatever the model's own default length.
CHECK_FRAMES = 256


def check_seconds(model) -> float:
    """Length of the clips (real and generated) the category classifier is fit on and scores; a
    fixed-length model shorter than that (test presets) makes its own length."""
    return min(model.config.mel.seconds_for(CHECK_FRAMES), model.max_seconds)


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def prepare_real(path: Path, model, seconds: float) -> np.ndarray:
    from audiogan_training.mel_dataset import load_audio, normalise_loudness

    rate = model.config.mel.sample_rate
    audio = load_audio(path, rate, max_seconds=seconds)
    audio = normalise_loudness(audio, rate)
    n = int(round(seconds * rate))
    return np.pad(audio[:n], (0, max(0, n - audio[:n].size))).astype(np.float32)


def prepare_rows(data: Path, rows: list[dict], model, seconds: float) -> tuple[list[np.ndarray], list[dict]]:
    """The audible clips of `rows`, prepared like training targets, and the rows they came from.
    An unreadable clip is reported and left out, not fatal."""
    clips, kept = [], []
    for r in rows:
        try:
            clip = prepare_real(data / r["file"], model, seconds)
        except Exception as exc:
            say(f"skipping {r['file']}: {exc}")
            continue
        if float(np.abs(clip).max()) > 0:
            clips.append(clip)
            kept.append(r)
    return clips, kept


def embed(embedder, name: str, clips: list[np.ndarray], rate: int, cache: Path | None = None):
    """[n, dim] embeddings and [n, classes] probabilities, cached by embedder and content hash."""
    from audiogan_core.evaluation import AudioCollection, AudioItem, embed_collection

    # another embedder's embeddings must not be taken from the cache; aisfx keys stay as they were
    # (existing caches stay valid)
    tag = b"" if embedder.name == "aisfx" else embedder.name.encode() + b"\0"
    key = hashlib.blake2b(tag + b"".join(c.tobytes() for c in clips), digest_size=12).hexdigest()
    if cache is not None:
        f = cache / f"{name}-{key}.npz"
        if f.exists():
            d = np.load(f)
            return d["emb"], d["prob"]
    coll = AudioCollection(name, name, [AudioItem(str(i), c, rate, None) for i, c in enumerate(clips)])
    res = embed_collection(embedder, coll, progress=say if len(clips) > 64 else None)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"{name}-{key}.tmp.npz"
        np.savez(tmp, emb=res.embeddings, prob=res.probabilities)
        tmp.replace(cache / f"{name}-{key}.npz")
    return res.embeddings, res.probabilities


def category_split(categories, train_rows, test_rows):
    """Indices and labels of the rows whose category the classifier knows:
    (train indices, test indices, train labels, test labels)."""
    cat_train = [i for i, r in enumerate(train_rows) if r["category"] in categories]
    cat_test = [i for i, r in enumerate(test_rows) if r["category"] in categories]
    return (cat_train, cat_test, [train_rows[i]["category"] for i in cat_train],
            [test_rows[i]["category"] for i in cat_test])


def real_clip_split(data: Path, train_rows, test_rows, model, seconds: float):
    """The classifier's real clips, for scripts that score resynthesised ones: (training clips, held-out
    clips, the categories it knows, category_split's indices and labels, the held-out rows kept)."""
    test_clips, test_kept = prepare_rows(data, test_rows, model, seconds)
    train_clips, train_kept = prepare_rows(data, train_rows, model, seconds)
    counts = Counter(r["category"] for r in train_kept)
    categories = sorted(c for c, n in counts.items() if n >= MIN_TRAIN_PER_CATEGORY and c not in
                        EXCLUDED_CATEGORIES and any(r["category"] == c for r in test_kept))
    return train_clips, test_clips, categories, category_split(categories, train_kept, test_kept), test_kept


def resynthesis_classifier(data: Path, cache: Path | None):
    """What scripts that classify resynthesised held-out clips share: (the held-out real clips, in
    this script's 2.97 s preparation; `accuracies({name: clips})`, the category accuracy of each
    set of clips made from them, by the classifier fit on the training clips' embeddings; the
    clips' captions, for sets generated from them)."""
    from audiogan_core import AudioGAN
    from audiogan_core.config import MelConfig
    from audiogan_core.plugins import get_embedder
    from audiogan_training.sampling import library_split

    rate = MelConfig.hifigan_universal().sample_rate
    model = AudioGAN.load("default", vocoder="griffinlim")  # only for its mel front end and loudness target
    train_rows, test_rows = library_split(data)
    train_clips, test_clips, _, (cat_train, cat_test, ytr, yte), test_kept = real_clip_split(
        data, train_rows, test_rows, model, check_seconds(model))
    embedder = get_embedder("aisfx").load("cpu")
    train_emb, _ = embed(embedder, "train_real", train_clips, rate, cache)

    def accuracies(sets: dict) -> dict:
        embedded = [embed(embedder, name, [np.asarray(c, np.float32) for c in clips], rate, None)[0][cat_test]
                    for name, clips in sets.items()]
        predictions = classify_sets(train_emb[cat_train], ytr, embedded)
        return {name: float(np.mean([p == t for p, t in zip(pred, yte)])) for name, pred in zip(sets, predictions)}

    return test_clips, accuracies, [r["caption"] for r in test_kept]


def classify_sets(fit, labels, sets: list[np.ndarray]) -> list[list]:
    """Labels for each of `sets` from one classifier fit once on (fit, labels): the fit sees
    only the training rows, so labelling the sets together equals labelling them apart."""
    from audiogan_core.evaluation import classify

    pred = classify(fit, labels, np.concatenate(sets))
    bounds = np.cumsum([0] + [len(e) for e in sets])
    return [pred[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def list_misses(captions, truth, pred) -> list[dict]:
    """The clips labelled wrong: caption, its category, the predicted one."""
    return [{"caption": c, "category": t, "predicted": p} for c, t, p in zip(captions, truth, pred) if p != t]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the foley library (captions.jsonl, holdout.json)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default="default")
    ap.add_argument("--vocoder", default=None, help="vocoder plugin (default: the model's own)")
    ap.add_argument("--vocoder-option", action="append", default=[], metavar="KEY=VALUE",
                    help="vocoder option, e.g. checkpoint=runs/vocos/vocos.safetensors (repeatable)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="clip length of generated and real clips (default: 256 mel frames, 2.97 s at 22.05 kHz, "
                         "the length every figure of the bundled models was measured at)")
    ap.add_argument("--images", type=Path, default=None, help="write 8 generated-vs-real spectrogram PNGs here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache of the real clips (default OUT/cache)")
    ap.add_argument("--variations", type=int, default=4)
    ap.add_argument("--limit", type=int, default=0, help="debug: use every k-th clip only (k = --limit)")
    ap.add_argument("--quick", action="store_true",
                    help="only the category check (2-5 min instead of about 12): writes OUT/quick.json")
    ap.add_argument("--embedder", default="aisfx",
                    help="evaluation embedder (default aisfx; the report and model card are written for aisfx)")
    ap.add_argument("--candidates", type=int, default=None,
                    help="noise draws per clip for the model's scorer to choose from (default: the model's own, "
                         "1 without a scorer)")
    ap.add_argument("--seeds", default=None,
                    help="with --quick: comma-separated generation seeds, e.g. 0,1,2 (default: --seed)")
    args = ap.parse_args()

    import torch

    from audiogan_core import AudioGAN
    from audiogan_core.checkpoint import read_safetensors_metadata
    from audiogan_core.evaluation import (AudioCollection, AudioItem, evaluate,
                                          format_report, generate_collection, nearest_neighbour_similarity,
                                          pairwise_diversity, untrained_model)
    from audiogan_core.io import write_wav
    from audiogan_core.metrics import cosine_matrix, frechet_distance
    from audiogan_core.plugins import get_embedder
    from audiogan_training.sampling import library_split

    if args.seeds and not args.quick:
        ap.error("--seeds needs --quick (the full report uses one seed: --seed)")
    try:
        seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    except ValueError:
        ap.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or args.out / "cache"
    train_rows, test_rows = library_split(args.data)  # the library's captions, read as training reads them
    from audiogan_core.cli_options import parse_options

    model = AudioGAN.load(args.model, vocoder=args.vocoder,
                          vocoder_options=parse_options(args.vocoder_option, "--vocoder-option"))
    rate = model.config.mel.sample_rate
    args.seconds = args.seconds or check_seconds(model)
    say(f"model {args.model} ({model.config.name}, {args.seconds:.2f} s clips); "
        f"{len(train_rows) + len(test_rows)} library clips, {len(test_rows)} held out")

    if args.limit > 1:
        train_rows, test_rows = train_rows[::args.limit], test_rows[::max(1, args.limit // 4)]
    train_counts = Counter(r["category"] for r in train_rows)
    categories = sorted(c for c, n in train_counts.items() if n >= MIN_TRAIN_PER_CATEGORY and c not in
                        EXCLUDED_CATEGORIES and any(r["category"] == c for r in test_rows))

    # Real clips, prepared like training targets ----------------------------------------------
    def load_rows(rs):
        return prepare_rows(args.data, rs, model, args.seconds)

    say("preparing real clips")
    test_clips, test_rows = load_rows(test_rows)
    train_clips, train_rows = load_rows(train_rows)
    if args.quick:
        return quick_category_check(args, model, seeds, categories, train_rows, train_clips, test_rows, test_clips,
                                    cache, t0)

    ref_dir = args.out / "reference"
    ref_dir.mkdir(exist_ok=True)
    with open(ref_dir / "captions.jsonl.tmp", "w", encoding="utf-8") as fh:
        for i, (r, clip) in enumerate(zip(test_rows, test_clips)):
            name = f"{i:04d}.wav"
            write_wav(ref_dir / name, clip, rate, overwrite=True)
            fh.write(json.dumps({"file": name, "caption": r["caption"], "category": r["category"],
                                 "source": r["file"]}) + "\n")
    (ref_dir / "captions.jsonl.tmp").replace(ref_dir / "captions.jsonl")

    # Generated clips for the held-out captions (one per held-out clip, seed fixed) ----------
    say(f"generating {len(test_rows)} clips for the held-out captions")
    reference = AudioCollection("reference", str(ref_dir))
    for i, r in enumerate(test_rows):
        reference.items.append(AudioItem(f"{i:04d}", test_clips[i], rate, r["caption"]))
    captions = [r["caption"] for r in test_rows]
    keyed = [(f"{i:04d}", c) for i, c in enumerate(captions)]
    gen = generate_collection(model, keyed, seed=args.seed, seconds=args.seconds, batch_size=16,
                              candidates=args.candidates)

    # audiogan eval's report: FD / IS / KL with floor (real half vs half) and ceiling (untrained)
    say(f"audiogan eval metrics ({args.embedder}), floor and ceiling")
    ceiling = generate_collection(untrained_model(model), keyed, seed=args.seed, seconds=args.seconds, batch_size=16,
                                  name="ceiling")
    report = evaluate(gen, reference, embedders=[args.embedder], model=model, seed=args.seed,
                      ceiling_collection=ceiling)
    print(format_report(report))

    emb = get_embedder(args.embedder).load("cpu")
    g_emb, _ = embed(emb, "generated", [c.audio for c in gen.items], rate)
    t_emb, _ = embed(emb, "heldout_real", test_clips, rate, cache)
    tr_emb, _ = embed(emb, "train_real", train_clips, rate, cache)

    # FD at equal set sizes: held-out real vs as many training real clips (the real-vs-real floor
    # at the generated set's size), generated vs held-out real, untrained vs held-out real.
    rng = np.random.default_rng(0)
    n = len(test_clips)
    floor_idx = rng.choice(len(train_clips), size=n, replace=False)
    u_clips = [item.audio for item in ceiling.items]
    u_emb, _ = embed(emb, "untrained", u_clips, rate)
    fd = {"sets": n, "floor_real_vs_real": frechet_distance(tr_emb[floor_idx], t_emb, warn=False),
          "generated": frechet_distance(g_emb, t_emb, warn=False),
          "ceiling_untrained": frechet_distance(u_emb, t_emb, warn=False),
          "note": f"{n} clips per set (< 513 = dim + 1): singular covariances bias every FD upwards, so the three "
                  f"are comparable with each other (same set sizes) but not with FDs from larger sets"}
    fd["generated_over_floor"] = fd["generated"] / fd["floor_real_vs_real"]
    fd["target_met"] = bool(fd["generated"] <= 2 * fd["floor_real_vs_real"])

    # Text controls the sound: category classifier fit on training real clips ----------------
    cat_train, cat_test, ytr, yte = category_split(categories, train_rows, test_rows)
    # one classifier, fit once on the training real clips, labels all three sets
    names = ("real", "generated", "untrained")
    pred = dict(zip(names, classify_sets(tr_emb[cat_train], ytr, [e[cat_test] for e in (t_emb, g_emb, u_emb)])))
    hits = {name: np.array([p == t for p, t in zip(labels, yte)]) for name, labels in pred.items()}
    acc_real, acc_gen, acc_untrained = (float(hits[n].mean()) for n in ("real", "generated", "untrained"))
    majority = Counter(yte).most_common(1)[0][1] / len(yte)
    misses = list_misses([test_rows[i]["caption"] for i in cat_test], yte, pred["generated"])
    # per-category generated accuracy, to say which kinds of sound it knows
    per_cat = {c: {"clips": int(sum(t == c for t in yte)),
                   "generated_accuracy": float(hits["generated"][[t == c for t in yte]].mean())}
               for c in categories if c in yte}
    classifier = {"categories": len(categories), "category_names": categories, "train_clips": len(cat_train),
                  "test_clips": len(cat_test), "chance_uniform": 1 / len(categories), "chance_majority": majority,
                  "real_heldout_accuracy": acc_real, "generated_accuracy": acc_gen,
                  "untrained_accuracy": acc_untrained, "target_met": bool(acc_gen >= 0.6),
                  "per_category": per_cat, "generated_misses": misses,
                  "method": f"multinomial logistic regression on standardised {args.embedder} embeddings of "
                            "training real clips (L2 1e-3, L-BFGS)"}

    # Diversity (--variations 4) and no copying ----------------------------------------------
    prompts = []
    for c in sorted(categories, key=lambda c: -train_counts[c]):
        r = next((i for i, r in enumerate(test_rows) if r["category"] == c), None)
        if r is not None:
            prompts.append((c, r))
        if len(prompts) == 8:
            break
    per_prompt = []
    for c, i in prompts:
        clips = model.generate([test_rows[i]["caption"]], seed=args.seed, variations=args.variations,
                               seconds=args.seconds, normalize=None, candidates=args.candidates)  # raw level, as generate_collection measures
        e, _ = embed(emb, f"variations-{c}", [cl.audio for cl in clips], rate)
        same_cat = tr_emb[[k for k, r in enumerate(train_rows) if r["category"] == c]]
        per_prompt.append({"category": c, "caption": test_rows[i]["caption"], "pairwise_cosine_distance":
                           pairwise_diversity(e), "real_same_category_pairwise": pairwise_diversity(same_cat),
                           "_clips": clips})
    diversity = {"variations": args.variations, "mean_pairwise_cosine_distance":
                 float(np.mean([p["pairwise_cosine_distance"] for p in per_prompt])),
                 "real_same_category_mean": float(np.mean([p["real_same_category_pairwise"] for p in per_prompt])),
                 "per_prompt": [{k: v for k, v in p.items() if k != "_clips"} for p in per_prompt],
                 "all_distinct": bool(all(p["pairwise_cosine_distance"] > 1e-4 for p in per_prompt))}

    nn_gen = nearest_neighbour_similarity(g_emb, tr_emb)
    # two different real recordings of the same category: each held-out real clip's most similar
    # training clip of its own category
    real_same = []
    for i, r in enumerate(test_rows):
        idx = [k for k, t in enumerate(train_rows) if t["category"] == r["category"]]
        if idx:
            real_same.append(float(cosine_matrix(t_emb[i:i + 1], tr_emb[idx]).max()))
    real_same = np.array(real_same)
    copying = {"generated_nn_similarity_mean": nn_gen["mean"], "generated_nn_similarity_max": nn_gen["max"],
               "real_same_category_nn_similarity_mean": float(real_same.mean()),
               "real_same_category_nn_similarity_median": float(np.median(real_same)),
               "real_same_category_nn_similarity_min": float(real_same.min()),
               "generated_above_real_median": int((np.array(nn_gen["similarity"]) > np.median(real_same)).sum()),
               "generated_clips": len(nn_gen["similarity"]),
               "target_met": bool(nn_gen["mean"] < float(np.median(real_same)))}
    closest = int(np.argmax(nn_gen["similarity"]))
    copying["closest_pair"] = {"caption": captions[closest], "train_file": train_rows[nn_gen["index"][closest]]["file"],
                               "similarity": nn_gen["similarity"][closest]}

    # Spectrogram images: generated next to a held-out real clip of the same category --------
    images = []
    if args.images:
        from audiogan_training.mel_dataset import compute_log_mel
        from audiogan_training.previews import save_spectrogram_pair

        args.images.mkdir(parents=True, exist_ok=True)
        for p, (c, i) in zip(per_prompt, prompts):
            fake = compute_log_mel(p["_clips"][0].audio, model.config.mel)
            real = compute_log_mel(test_clips[i], model.config.mel)
            path = args.images / f"{c}.png"
            save_spectrogram_pair(path, fake, real, f"\"{test_rows[i]['caption']}\"  (category: {c})",
                                  model.config.mel)
            write_wav(args.out / f"example_{c}.wav", p["_clips"][0].audio, rate, overwrite=True)
            images.append({"category": c, "caption": test_rows[i]["caption"], "image": str(path),
                           "real_file": test_rows[i]["file"]})

    weights = Path(model.source) / "generator.safetensors"
    step = read_safetensors_metadata(weights).get("step") if weights.exists() else None
    out = {"model": args.model, "source": str(model.source), "step": step,
           "candidates": model.check_request("x", candidates=args.candidates).candidates,
           "heldout_clips": len(test_rows), "train_clips": len(train_rows), "seed": args.seed,
           "real_clip_preparation": f"first {args.seconds:.2f} s, mono, loudness-normalised like training, "
                                    f"zero-padded", f"fd_{args.embedder}": fd, "category_classifier": classifier,
           "diversity": diversity, "no_copying": copying, "images": images,
           "audiogan_eval": report, "seconds": time.time() - t0, "torch_threads": torch.get_num_threads()}
    tmp = args.out / "report.json.tmp"
    tmp.write_text(json.dumps(out, indent=1, default=float) + "\n")
    tmp.replace(args.out / "report.json")
    print(json.dumps({k: out[k] for k in (f"fd_{args.embedder}",)}, indent=1, default=float))
    print(json.dumps({k: v for k, v in classifier.items() if k not in ("per_category", "category_names")},
                     indent=1, default=float))
    print(json.dumps({k: v for k, v in diversity.items() if k != "per_prompt"}, indent=1))
    print(json.dumps(copying, indent=1))
    say(f"done in {time.time() - t0:.0f} s -> {args.out / 'report.json'}")
    return 0


def quick_category_check(args, model, seeds, categories, train_rows, train_clips, test_rows, test_clips, cache,
                         t0) -> int:
    """The "text controls the sound" check alone, for several generation seeds: the same
    classifier, clips and captions as the full report (and its figure for the real held-out clips),
    without FD, diversity or images."""
    from audiogan_core.evaluation import generate_collection
    from audiogan_core.plugins import get_embedder

    rate = model.config.mel.sample_rate
    emb = get_embedder(args.embedder).load("cpu")
    tr_emb, _ = embed(emb, "train_real", train_clips, rate, cache)
    cat_train, cat_test, ytr, yte = category_split(categories, train_rows, test_rows)
    captions = [test_rows[i]["caption"] for i in cat_test]
    keyed = [(f"{i:04d}", c) for i, c in zip(cat_test, captions)]
    generated = []
    for seed in seeds:
        say(f"seed {seed}: generating {len(keyed)} clips")
        gen = generate_collection(model, keyed, seed=seed, seconds=args.seconds, batch_size=16,
                                  candidates=args.candidates)
        generated.append(embed(emb, f"generated-seed{seed}", [c.audio for c in gen.items], rate)[0])
    te_emb, _ = embed(emb, "heldout_real", test_clips, rate, cache)
    real_pred, *predictions = classify_sets(tr_emb[cat_train], ytr, [te_emb[cat_test]] + generated)
    real_accuracy = float(np.mean([p == t for p, t in zip(real_pred, yte)]))
    runs = []
    for seed, pred in zip(seeds, predictions):
        correct = sum(p == t for p, t in zip(pred, yte))
        runs.append({"seed": seed, "generated_accuracy": correct / len(yte), "correct": correct,
                     "predicted_counts": dict(Counter(pred).most_common()),
                     "generated_misses": list_misses(captions, yte, pred)})
        say(f"seed {seed}: {correct}/{len(yte)} = {100 * correct / len(yte):.1f}%")
    out = {"model": args.model, "source": str(model.source), "seconds_per_clip": args.seconds,
           "vocoder": model.vocoder.name, "candidates": model.check_request("x", candidates=args.candidates).candidates, "categories": len(categories),
           "test_clips": len(yte), "seeds": seeds, "runs": runs,
           "mean_accuracy": float(np.mean([r["generated_accuracy"] for r in runs])),
           "real_heldout_accuracy": real_accuracy, "seconds": time.time() - t0}
    out["mean_over_real"] = out["mean_accuracy"] / real_accuracy if real_accuracy else None
    tmp = args.out / "quick.json.tmp"
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(args.out / "quick.json")
    print(json.dumps({k: out[k] for k in ("model", "test_clips", "seeds", "mean_accuracy", "real_heldout_accuracy")} |
                     {"accuracy_per_seed": [r["generated_accuracy"] for r in runs]}, indent=1))
    say(f"done in {time.time() - t0:.0f} s -> {args.out / 'quick.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
