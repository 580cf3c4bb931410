"""`audiogan eval`: metrics for generated audio against reference audio, with floor and ceiling.
Heavy imports happen inside the command, so `audiogan --help` stays fast."""
from __future__ import annotations

import sys

import click

from .cli_options import model_options
from .errors import AudioGANError, InputError


def _merge_options(specs: tuple[str, ...], extra: tuple[str, ...]) -> list[tuple[str, dict]]:
    from .evaluation import _option_value, parse_embedder_spec

    parsed = [parse_embedder_spec(s) for s in specs] or [("aisfx", {})]
    by_name = {name: opts for name, opts in parsed}
    for item in extra:
        key, sep, value = item.partition("=")
        name, dot, opt = key.partition(".")
        if not sep or not dot or not opt:
            raise InputError(f"--embedder-option {item!r} must look like NAME.KEY=VALUE "
                             f"(e.g. panns.checkpoint=Cnn14_mAP=0.431.pth)")
        if name not in by_name:
            raise InputError(f"--embedder-option {item!r} is for {name!r}, which is not among the embedders "
                             f"({', '.join(by_name)}); add --embedder {name}")
        by_name[name][opt] = _option_value(value)
    return [(name, by_name[name]) for name, _ in parsed]


@click.command("eval")
@click.argument("generated", required=False, metavar="[GENERATED_DIR]")
@click.option("--reference", "-r", required=True, metavar="DIR",
              help="Folder of reference (real) audio; a captions.jsonl/.csv in it pairs clips by caption.")
@model_options(default=None, model_help="Generate the clips to evaluate with this model (needs --captions) "
                                        "instead of GENERATED_DIR.")
@click.option("--captions", default=None, metavar="FILE",
              help="captions.jsonl or .csv with file,caption: the captions to generate from (--model), or the "
                   "captions of GENERATED_DIR (default: its own captions.jsonl/.csv).")
@click.option("--embedder", "-e", "embedders", multiple=True, metavar="NAME[:KEY=VALUE,...]",
              help="Evaluation embedder, repeatable (default: aisfx). Published-table embedders need "
                   "checkpoints: vggish:checkpoint=vggish-10086976.pth, panns:checkpoint=Cnn14_mAP=0.431.pth, "
                   "clap:checkpoint=CLAP_FOLDER.")
@click.option("--embedder-option", "-E", "embedder_options", multiple=True, metavar="NAME.KEY=VALUE",
              help="Option for one embedder (for paths containing commas), e.g. clap.tokenizer=roberta-base/.")
@click.option("--out", "-o", default=None, metavar="FILE", help="Write the full report as JSON.")
@click.option("--no-floor", is_flag=True, help="Skip the reference-vs-reference floor.")
@click.option("--no-ceiling", is_flag=True, help="Skip the untrained-generator ceiling.")
@click.option("--ceiling-preset", default=None, metavar="PRESET",
              help="Preset of the untrained ceiling generator (default: the evaluated model's shape, else small).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for generated and ceiling clips.")
@click.option("--seconds", default=None, type=float, help="Clip length when generating (default: the model's).")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
def eval_command(generated, reference, model, captions, embedders, embedder_options, out, no_floor, no_ceiling,
                 ceiling_preset, seed, seconds, quiet):
    """Compare GENERATED_DIR (or clips made by --model from --captions) with --reference.

    \b
    Prints FD, IS, KL and text-audio similarity per embedder, each beside
      floor   = the metric between two halves of the reference set (real vs real)
      ceiling = the metric for an untrained generator on the same captions
    Examples:
      audiogan eval out/ -r audiocaps_test/ -o report.json
      audiogan eval -m default --captions test.jsonl -r audiocaps_test/
      audiogan eval out/ -r ref/ -e aisfx -e panns:checkpoint=Cnn14_mAP=0.431.pth
    """
    try:
        from .evaluation import format_report, run_eval

        specs = _merge_options(embedders, embedder_options)
        progress = None if quiet else (lambda msg: click.echo(f"  {msg}", err=True))
        report = run_eval(reference=reference, generated=generated, model=model.name, captions=captions,
                          embedders=specs, floor=not no_floor, ceiling=not no_ceiling, ceiling_preset=ceiling_preset,
                          seed=seed, seconds=seconds, device=model.device, out=out, progress=progress,
                          load_options={k: v for k, v in model.load_kwargs().items() if k != "device"})
        click.echo(format_report(report))
        if out:
            click.echo(f"report written to {out}")
    except AudioGANError as exc:
        click.echo(f"audiogan: error: {exc}", err=True)
        sys.exit(exc.exit_code)
