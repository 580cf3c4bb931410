"""`audiogan train`: fine-tune or train AudioGAN on a folder of sounds. This module adds `train`
and `data` (training/cli_data.py) to `audiogan` through the register_commands hook (entry point
`train` of the `audiogan.commands` group)."""
from __future__ import annotations

import os
from pathlib import Path

# OpenMP threads that spin while waiting make CPU training several times slower on a machine
# shared with other jobs (measured: 2 threads, 2 busy cores: 6.3 s/step spinning, 2.4 s passive,
# 0.8 s with one thread). Only a default: export OMP_WAIT_POLICY=ACTIVE to override. Must be set
# before torch loads its OpenMP runtime; this module is imported before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click

from audiogan_core.hookspecs import hookimpl


@click.command(name="train")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of audio files (wav/flac/ogg/mp3) with captions.csv / captions.jsonl, NAME.txt "
                   "sidecars, or captions taken from file and folder names.")
@click.option("--out", "run_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoint.pt, model/ (EMA weights for `generate --model`), log.jsonl, previews/.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="TrainConfig JSON (every number of the run); flags below override it.")
@click.option("--preset", type=click.Choice(["small", "foley", "paper", "tiny"]), default=None,
              help="Model shape when no --config is given (default: small).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Total generator updates to reach.")
@click.option("--batch-size", type=click.IntRange(min=2), default=None, help="Clips per batch (per process).")
@click.option("--resume", is_flag=True, help="Continue the run in --out: same optimiser, EMA, step and data order.")
@click.option("--init-from", default=None, metavar="PATH",
              help="Start from released weights: a model folder, 'default', or the published generator.pt.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where decoded mels and text features are cached (default: RUN_DIR/cache).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=None, help="Steps between checkpoints.")
@click.option("--preview-every", type=click.IntRange(min=1), default=None, help="Steps between preview WAV/PNGs.")
@click.option("--preview-vocoder", default=None, help="Vocoder for previews (default: the model's).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed for init, data order and noise.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs still go to log.jsonl).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's choice, one per core). On a machine shared with "
                   "other jobs, 1 is often several times faster.")
def train(data_dir, run_dir, config_file, preset, steps, batch_size, resume, init_from, device, cache_dir,
          checkpoint_every, preview_every, preview_vocoder, seed, no_progress, threads):
    """Train AudioGAN on your own sounds (the paper's recipe: hinge + G2S + L2W + F2R + OCC,
    Adam(0.5, 0.999), lr G 1e-4 / D 4e-4, two D steps per G step).

    \b
    Examples:
      audiogan train --data ~/foley --out runs/foley --steps 20000
      audiogan train --data ~/foley --out runs/foley --resume
      audiogan train --data ~/kicks --out runs/kicks --init-from default --steps 2000
      torchrun --nproc_per_node 4 -m audiogan_training --data ~/foley --out runs/foley
      python -m torch.distributed.run --nproc_per_node 2 -m audiogan_training --device cpu ...

    \b
    Ctrl-C (or SIGTERM) finishes the current step, writes a checkpoint and exits; --resume
    then continues exactly where it stopped.
    """
    from .distributed import shutdown_distributed

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        _train(data_dir, run_dir, config_file, preset, steps, batch_size, resume, init_from, device, cache_dir,
               checkpoint_every, preview_every, preview_vocoder, seed, no_progress)
    finally:
        shutdown_distributed()  # under torchrun: leave the process group cleanly, also after an error


def _train(data_dir, run_dir, config_file, preset, steps, batch_size, resume, init_from, device, cache_dir,
           checkpoint_every, preview_every, preview_vocoder, seed, no_progress):
    from audiogan_core.config import preset as make_preset

    from .config import TrainConfig
    from .trainer import Trainer

    if resume and (run_dir / "train_config.json").is_file() and config_file is None:
        config = TrainConfig.load(run_dir / "train_config.json")
    elif config_file is not None:
        config = TrainConfig.load(config_file)
    else:
        config = TrainConfig(model=make_preset(preset or "small"))
    if preset and config_file is not None:
        config = config.replace(model=make_preset(preset))
    changes = {k: v for k, v in dict(steps=steps, batch_size=batch_size, checkpoint_every=checkpoint_every,
                                     preview_every=preview_every, seed=seed).items() if v is not None}
    config = config.replace(**changes)
    trainer = Trainer(config, data_dir, run_dir, device=device, resume=resume, init_from=init_from,
                      cache_dir=cache_dir, progress=not no_progress, preview_vocoder=preview_vocoder)
    trainer.fit()
    if trainer.dist.is_main:
        click.echo(f"audiogan train: step {trainer.step}; model in {run_dir / 'model'} "
                   f"(use: audiogan generate --model {run_dir / 'model'} \"...\")")


def _side_run_config(cls, config_file, run_dir: Path, resume: bool, threads):
    """Thread count set, and the config of a vocoder or scorer run: --config, else (with --resume)
    the run's own train_config.json, else the defaults."""
    from audiogan_core.io import read_json_object

    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    if resume and config_file is None and (run_dir / "train_config.json").is_file():
        config_file = run_dir / "train_config.json"
    return cls.from_dict(read_json_object(config_file, "config")) if config_file is not None else cls()


@click.command(name="train-vocoder")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of real recordings (the same library format as `audiogan train`); its holdout.json "
                   "clips are never trained on.")
@click.option("--out", "run_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoint.pt, vocos.safetensors + vocos.json, log.jsonl.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="VocoderTrainConfig JSON (training/recipes/vocos-foley.json is the shipped vocoder's).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Total updates to reach.")
@click.option("--resume", is_flag=True, help="Continue the run in --out (same optimiser, step and segment stream).")
@click.option("--init-from", default=None, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Start from these vocos weights (.safetensors with its .json beside it) or another run's "
                   "checkpoint.pt. A --config with more ConvNeXt blocks grows them: the new blocks start as "
                   "the identity. A --config with another head (head_n_fft, head_subframes) keeps their "
                   "backbone and starts the head afresh (train_head_only warms it up first).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the prepared corpus (audio, mels, teacher waveforms) is kept (default: RUN/cache).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs still go to log.jsonl).")
def train_vocoder(data_dir, run_dir, config_file, steps, resume, init_from, cache_dir, threads, no_progress):
    """Train audiogan's own fast vocoder (`--vocoder vocos`) on real recordings.

    \b
    Examples:
      audiogan train-vocoder --data data/debian-foley --out runs/vocos --config training/recipes/vocos-foley.json
      audiogan train-vocoder --data data/debian-foley --out runs/vocos --resume
      audiogan generate "rain" --vocoder vocos --vocoder-option checkpoint=runs/vocos/vocos.safetensors

    Ctrl-C writes a checkpoint before exiting; --resume continues from it.
    """
    from .vocoder import VocoderTrainConfig, VocoderTrainer

    config = _side_run_config(VocoderTrainConfig, config_file, run_dir, resume, threads)
    if steps is not None:
        config.steps = steps
    trainer = VocoderTrainer(config, data_dir, run_dir, resume=resume, cache_dir=cache_dir,
                             progress=not no_progress, init_from=init_from)
    trainer.fit()
    click.echo(f"audiogan train-vocoder: step {trainer.step}; weights in {run_dir / 'vocos.safetensors'}")


@click.command(name="train-scorer")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of real recordings with captions (the library format of `audiogan train`); its "
                   "holdout.json clips are never trained on.")
@click.option("--out", "run_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoint.pt, scorer.safetensors + scorer.json, log.jsonl.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="ScorerTrainConfig JSON (training/recipes/scorer-foley.json: the recipe measured on the bundled "
                   "model, docs/bundled-model-experiments.md).")
@click.option("--model", default=None, help="Model whose mel front end and text encoder the scorer serves "
                                            "(default: the config's, 'default').")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Total updates.")
@click.option("--resume", is_flag=True, help="Continue the run in --out exactly where it stopped.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where decoded mels are cached (default: RUN/cache; `audiogan train`'s cache works too).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs still go to log.jsonl).")
def train_scorer(data_dir, run_dir, config_file, model, steps, resume, cache_dir, threads, no_progress):
    """Train the mel-text scorer that picks each clip among several noise draws (`generate
    --candidates N`) on real recordings.

    \b
    Examples:
      audiogan train-scorer --data ~/foley --out runs/scorer --config training/recipes/scorer-foley.json
      audiogan train-scorer --data ~/foley --out runs/scorer --resume
      cp runs/scorer/scorer.safetensors runs/scorer/scorer.json runs/foley/model/   # then --candidates N

    Ctrl-C writes a checkpoint before exiting; --resume continues from it.
    """
    from .scorer import ScorerTrainConfig, ScorerTrainer

    config = _side_run_config(ScorerTrainConfig, config_file, run_dir, resume, threads)
    if steps is not None:
        config.steps = steps
    if model is not None:
        config.model = model
    trainer = ScorerTrainer(config, data_dir, run_dir, resume=resume, cache_dir=cache_dir, progress=not no_progress)
    trainer.fit()
    click.echo(f"audiogan train-scorer: step {trainer.step}; weights in {run_dir / 'scorer.safetensors'}")


@click.command(name="fit-level")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The library whose training clips the level contours come from (its holdout.json is left out).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New model folder (must not exist): the model with its fitted envelope, level_fit.json.")
@click.option("--model", default="default", show_default=True,
              help="An any-length model (a folder or 'default'); every weight but the envelope is kept.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="LevelFitConfig JSON (training/recipes/level-fit*.json; default: level-fit-q25-hold.json's settings); flags below override it.")
@click.option("--seconds", type=click.FloatRange(min=1.0, max=60.0), default=None,
              help="Clip length the contours are compared over (default 12).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Envelope updates (default 3000).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Decoded-mel cache (default: DATA.cache beside the library; `audiogan train`'s works too).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def fit_level_command(data_dir, out, model, config_file, seconds, steps, cache_dir, device, threads, no_progress):
    """Fit a model's level envelope to how loud a library's recordings are over time, the rest of
    the generator frozen: a one-shot made 10 s long stays quiet after its event, a texture keeps
    going. Minutes on a CPU.

    \b
    Examples:
      audiogan fit-level --data ~/foley --out models/foley-level
      audiogan fit-level --data ~/foley --out models/foley-level --config training/recipes/level-fit-q25.json
      audiogan generate "a door slams" --model models/foley-level --seconds 10
    """
    import torch

    from audiogan_core.io import read_json_object

    from .level_fit import LevelFitConfig, fit_level

    if threads:
        torch.set_num_threads(threads)
    from audiogan_core.errors import InputError

    data = read_json_object(config_file, "level-fit config") if config_file else {}
    try:
        cfg = LevelFitConfig.from_dict(data)
    except (ValueError, TypeError) as exc:  # unknown or invalid settings
        raise InputError(f"{config_file}: {exc}") from None
    if seconds is not None:
        cfg.seconds = seconds
    if steps is not None:
        cfg.steps = steps
    report = fit_level(model, data_dir, out, cfg, cache_dir=cache_dir, device=device, progress=not no_progress)
    click.echo(f"audiogan fit-level: {report['clips']} clips; loss to the targets on the {report['aside_clips']} set "
               f"aside {report['before']['aside']:.3f} -> {report['after']['aside']:.3f}; model in {out}")


@hookimpl
def register_commands(cli):
    from .cli_data import data_group

    cli.add_command(train)
    cli.add_command(train_vocoder)
    cli.add_command(train_scorer)
    cli.add_command(fit_level_command)
    cli.add_command(data_group)
