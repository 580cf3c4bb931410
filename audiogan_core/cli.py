"""The `audiogan` command. Heavy imports (torch, models) happen inside the commands so
`audiogan --help` is instant. Exit codes: 0 ok, 1 failure, 2 bad input or usage,
3 unreadable checkpoint, 4 missing file the user must supply, 130 interrupted."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# Before torch is imported (inside the commands): idle OpenMP threads sleep instead of spinning.
# On a busy 2-core machine (shared with a training run) spinning threads made generation 5x
# (foley + griffinlim) to 50x (tiny model) slower. Set OMP_WAIT_POLICY=ACTIVE to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click  # noqa: E402

from .cli_delivery import delivery_from_options, info_command, level_options  # noqa: E402
from .cli_eval import eval_command  # noqa: E402
from .cli_options import model_options, parse_options, wav_options  # noqa: E402,F401 (parse_options: old home)
from .errors import AudioGANError, InputError  # noqa: E402
from .plugins import load_commands  # noqa: E402


class AudioGANGroup(click.Group):
    """Turns AudioGANError anywhere below into one line on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AudioGANError as exc:
            click.echo(f"audiogan: error: {one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:  # disk full, permission denied, read-only file system...
            click.echo(f"audiogan: error: {one_line(exc)}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("audiogan: interrupted", err=True)
            sys.exit(130)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (messages from libraries can span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def check_writable(folder: Path) -> None:
    """Create and remove a temp file in `folder`: os.access says yes to root even on read-only
    file systems and /proc, so only trying tells."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".audiogan-probe.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"output folder is not writable: {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError:
        pass


@click.group(cls=AudioGANGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="audiogan", prog_name="audiogan")
def main():
    """audiogan: text to sound in one forward pass.

    \b
    Quick start:
      audiogan generate "footsteps on snow" -o steps.wav
      audiogan plugins            # text encoders, vocoders, embedders
      audiogan serve              # OSC server for DAWs (Reaper, Max, Pd)
      audiogan train --data FOLDER --out runs/mine
    """


@main.command()
@click.argument("texts", nargs=-1, required=True, metavar="TEXT...")
@click.option("-o", "--output", default=".", show_default=True, metavar="PATH",
              help="A .wav file (one clip) or an existing folder (file names made from the text and seed). "
                   "With several clips and a .wav path, clips are numbered: NAME-01.wav, NAME-02.wav ...")
@model_options()
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Random seed; the same seed gives the same sound. Variation k uses seed+k.")
@click.option("--variations", "-n", type=int, default=1, show_default=True, help="Clips per text.")
@click.option("--seconds", type=float, default=None,
              help="Clip length in seconds: 0.1 to 60 (default 10) with an any-length model; up to the "
                   "model's clip length (also the default) with a fixed-length one.")
@click.option("--loop", is_flag=True,
              help="Make a seamless loop: the clip's end runs into its start (any-length models; the length is "
                   "rounded to whole noise blocks of the generator, 2.97 s for foley2, or to its grid of "
                   "32 frames, 0.37 s at 22.05 kHz, for a 'sequence' model).")
@click.option("--candidates", type=int, default=None, metavar="N",
              help="Generate N noise draws per clip and keep the one the model's scorer rates closest to the "
                   "text (1 to 64; needs a model folder with a scorer, see `audiogan train-scorer`; default: "
                   "the scorer's default_candidates, else 1). The generator runs N more times, the vocoder once.")
@wav_options
@click.option("--overwrite", is_flag=True, help="Replace existing files instead of refusing.")
@level_options
def generate(texts, output, model, seed, variations, seconds, loop, candidates, sample_rate, bit_depth, overwrite,
             loudness, no_normalize, trim):
    """Generate sounds from text descriptions and write WAV files.

    Every clip is normalised (true peak -1 dBTP, or --loudness) unless --no-normalize, and
    every file carries its recipe: `audiogan info FILE.wav` shows it and the command that
    makes the same clip again."""
    from .request import check_request

    # Check everything the user typed before loading a model; the seed is drawn here, so file
    # names are known before anything is generated.
    request = check_request(texts, seed=seed, variations=variations, seconds=seconds,
                            delivery=delivery_from_options(loudness, no_normalize, trim), loop=loop,
                            candidates=candidates)
    n_clips = len(request.clips)
    out = Path(output)
    as_folder = out.is_dir() or output.endswith(("/", "\\"))
    if as_folder and not out.is_dir():
        raise InputError(f"output folder does not exist: {out}")
    if not as_folder:
        if out.suffix.lower() != ".wav":
            raise InputError(f"output must be a .wav file or an existing folder, got {output}")
        if not out.parent.is_dir():
            raise InputError(f"output folder does not exist: {out.parent}")
    check_writable(out if as_folder else out.parent)
    targets = plan_outputs(out, as_folder, list(request.texts), request.seed, request.variations)  # text-major
    if not overwrite:
        existing = [str(p) for p in targets if p.exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise InputError(f"{existing[0]} already exists{more}; pass --overwrite to replace")

    import time

    from tqdm import tqdm

    from .io import write_wav

    started = time.perf_counter()
    tts = model.load()
    request = tts.check_request(request)  # the model's side: the clip length
    tts.text_encoder.load(tts.device)  # plugin weights load here, so the timing below is honest
    tts.vocoder.load(tts.device)
    loaded = time.perf_counter()
    bar = tqdm(total=100, desc="generating", unit="%", disable=n_clips < 4 or not sys.stderr.isatty(),
               file=sys.stderr)

    def progress(fraction):
        bar.update(round(fraction * 100) - bar.n)

    import warnings

    from .delivery import LevelWarning

    with warnings.catch_warnings(record=True) as caught:  # near-silent clips: one line each
        warnings.simplefilter("always", LevelWarning)
        clips = tts.generate(request, progress=progress)
    bar.close()
    for w in caught:
        if issubclass(w.category, LevelWarning):
            click.echo(f"audiogan: warning: {w.message}", err=True)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    done = time.perf_counter()
    for path, clip in zip(targets, clips):
        path = write_wav(path, clip.audio, clip.sample_rate, target_rate=sample_rate,
                         bit_depth=int(bit_depth), overwrite=overwrite, recipe=clip.recipe, level=clip.level)
        click.echo(f"{path}\t{clip.seconds:.2f} s\tseed {clip.seed}\t{clip.text}")
    click.echo(f"audiogan: {len(clips)} clip(s) in {done - loaded:.2f} s after {loaded - started:.2f} s loading "
               f"({tts.source}, {tts.text_encoder.name} -> {tts.vocoder.name}, {tts.device})", err=True)


def plan_outputs(out: Path, as_folder: bool, texts: list[str], seed: int, variations: int) -> list[Path]:
    """Output paths in generate()'s order (text-major; variation v has seed + v).

    A .wav path names one clip as given and several as NAME-01.wav, NAME-02.wav ...; a folder
    gets SLUG_seedN.wav, with -2, -3 ... after the slug of a text whose slug an earlier text
    already has (repeated texts, or texts that differ only in punctuation or case)."""
    from .io import slug  # numpy: not at import time, `audiogan --help` stays light

    n_clips = len(texts) * variations
    if not as_folder:
        if n_clips == 1:
            return [out]
        return [out.with_name(f"{out.stem}-{i + 1:02d}{out.suffix}") for i in range(n_clips)]
    used: set[str] = set()
    paths = []
    for text in texts:
        base = stem = slug(text)
        n = 1
        while stem in used:
            n += 1
            stem = f"{base}-{n}"
        used.add(stem)
        paths += [out / f"{stem}_seed{seed + v}.wav" for v in range(variations)]
    return paths


@main.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json):
    """List registered text encoders, vocoders and embedders, with where they come from."""
    import json

    from .plugins import KINDS, registered

    rows = []
    for kind in KINDS:
        for name, reg in sorted(registered(kind).items()):
            row = {"kind": kind[:-1].replace("_", " "), "name": name, "plugin": reg.plugin,
                   "description": reg.description}
            try:
                instance = reg.create()
                mel = getattr(instance, "mel_config", None)
                if mel is not None:
                    row["mel"] = (f"{mel.sample_rate} Hz, {mel.n_mels} mels, n_fft {mel.n_fft}, "
                                  f"hop {mel.hop_length}, fmax {mel.fmax}")
                if hasattr(instance, "word_dim"):
                    row["dims"] = f"words {instance.word_dim}-d, sentence {instance.sentence_dim}-d"
            except AudioGANError as exc:  # e.g. needs a checkpoint path
                row["note"] = f"needs options: {exc}"
            rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for kind in ("text encoder", "vocoder", "embedder"):
        click.echo(f"{kind}s:")
        for row in [r for r in rows if r["kind"] == kind]:
            click.echo(f"  {row['name']:<14} [{row['plugin']}] {row['description']}")
            for key in ("mel", "dims", "note"):
                if key in row:
                    click.echo(f"  {'':<14} {key}: {row[key]}")


# Commands from other packages (serve, train, train-vocoder, data, and third-party ones) come
# through the register_commands hook; `eval` and `info` are core's own.
main.add_command(eval_command)
main.add_command(info_command)
load_commands(main)

if __name__ == "__main__":
    main()
