"""Click options shared by several commands (generate, serve, eval), defined once. Light: click
and the error types only, so every command module can use it without loading models."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import click

from .errors import InputError
from .limits import check_output_rate

MODEL_HELP = "Bundled model name, a model folder, the published generator.pt, or untrained:PRESET."


def parse_options(pairs: tuple[str, ...], what: str) -> dict:
    """KEY=VALUE pairs -> dict; numbers and true/false are converted."""
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"{what} option {pair!r} must look like KEY=VALUE")
        key, value = pair.split("=", 1)
        low = value.lower()
        if low in ("true", "false"):
            options[key] = low == "true"
        else:
            try:
                options[key] = int(value)
            except ValueError:
                try:
                    options[key] = float(value)
                except ValueError:
                    options[key] = value
    return options


@dataclass(frozen=True)
class ModelChoice:
    """What the model options asked for; `load()` makes the AudioGAN. `name` is None when the
    command's --model has no default and none was given."""

    name: str | None
    text_encoder: str | None = None
    vocoder: str | None = None
    text_encoder_options: dict = field(default_factory=dict)
    vocoder_options: dict = field(default_factory=dict)
    device: str = "cpu"

    def load_kwargs(self) -> dict:
        """AudioGAN.load's keyword arguments (all but the name)."""
        return {"text_encoder": self.text_encoder, "vocoder": self.vocoder, "device": self.device,
                "text_encoder_options": self.text_encoder_options, "vocoder_options": self.vocoder_options}

    def load(self):
        from .api import AudioGAN

        model = AudioGAN.load(self.name, **self.load_kwargs())
        for note in model.notes:
            click.echo(f"audiogan: note: {note}", err=True)
        return model


def model_options(*, default: str | None = "default", model_help: str = MODEL_HELP):
    """--model/-m, --text-encoder, --vocoder, --text-encoder-option, --vocoder-option, --device.
    The command receives them as one `model` argument, a ModelChoice (KEY=VALUE options already
    parsed, so a typo fails before any model loads)."""
    options = [
        click.option("--model", "-m", "model_name", default=default, show_default=default is not None,
                     metavar="NAME_OR_PATH", help=model_help),
        click.option("--text-encoder", default=None, help="Text encoder plugin (default: the model's own)."),
        click.option("--vocoder", default=None,
                     help="Vocoder plugin, e.g. vocos, hifigan or griffinlim (default: the model's own)."),
        click.option("--text-encoder-option", "te_options", multiple=True, metavar="KEY=VALUE",
                     help="Option for the text encoder, e.g. checkpoint=/path/clap.pt (repeatable)."),
        click.option("--vocoder-option", "vo_options", multiple=True, metavar="KEY=VALUE",
                     help="Option for the vocoder, e.g. checkpoint=/path/g_02500000 (repeatable)."),
        click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto."),
    ]

    def decorate(command):
        @functools.wraps(command)
        def with_model(*args, model_name, text_encoder, vocoder, te_options, vo_options, device, **kwargs):
            choice = ModelChoice(model_name, text_encoder, vocoder, parse_options(te_options, "text encoder"),
                                 parse_options(vo_options, "vocoder"), device)
            return command(*args, model=choice, **kwargs)

        for option in reversed(options):
            with_model = option(with_model)
        return with_model

    return decorate


def _output_rate(ctx, param, value):
    return check_output_rate(value, "--sample-rate")


def wav_options(command):
    """--sample-rate (checked against audiogan_core.limits) and --bit-depth of written WAV files."""
    command = click.option("--bit-depth", type=click.Choice(["16", "24", "32"]), default="16", show_default=True,
                           help="WAV sample format; 32 means 32-bit float.")(command)
    return click.option("--sample-rate", type=int, default=None, callback=_output_rate,
                        help="Sample rate of the files (resampled with soxr), e.g. 44100 or 48000 for a DAW "
                             "project; default: the model's rate.")(command)
