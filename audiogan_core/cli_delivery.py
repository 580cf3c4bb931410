"""The command-line side of delivery: the level and trim options shared by `audiogan generate`
and `audiogan serve`, and `audiogan info FILE.wav`. Imports stay light (no torch)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from .errors import InputError
from .delivery import LUFS_RANGE, TRIM_THRESHOLD_DB, Delivery

SUBTYPE_BITS = {"PCM_16": 16, "PCM_24": 24, "FLOAT": 32}


def level_options(command):
    """--loudness LUFS, --no-normalize and --trim, in that order in --help."""
    options = [
        click.option("--loudness", type=float, default=None, metavar="LUFS",
                     help="Normalise to this integrated loudness (EBU R128 / ITU-R BS.1770), e.g. -23 or -18, "
                          "true peak limited to -1 dBTP. Default: true peak to -1 dBTP."),
        click.option("--no-normalize", is_flag=True, help="Keep the model's raw level."),
        click.option("--trim", is_flag=True,
                     help=f"Cut leading and trailing silence (more than {-TRIM_THRESHOLD_DB:g} dB under the "
                          "clip's peak, in 10 ms RMS), with short fades."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def delivery_from_options(loudness: float | None, no_normalize: bool, trim: bool) -> Delivery:
    if loudness is not None and no_normalize:
        raise InputError("--loudness and --no-normalize contradict each other; give one of them")
    if loudness is not None and not (math.isfinite(loudness) and LUFS_RANGE[0] <= loudness <= LUFS_RANGE[1]):
        raise InputError(f"--loudness must be between {LUFS_RANGE[0]:g} and {LUFS_RANGE[1]:g} LUFS, got {loudness:g}")
    return Delivery(normalize=None if no_normalize else "peak", loudness=loudness, trim=trim)


def _format(info) -> str:
    kind = {"PCM_16": "16-bit PCM", "PCM_24": "24-bit PCM", "FLOAT": "32-bit float"}.get(info.subtype, info.subtype)
    chans = "mono" if info.channels == 1 else f"{info.channels} channels"
    return f"{info.samplerate} Hz, {kind}, {chans}, {info.frames / info.samplerate:.3f} s ({info.frames} samples)"


def describe(path: Path) -> dict:
    """Everything `audiogan info` shows, as plain data (the --json output)."""
    import soundfile as sf

    from .recipe import read_metadata

    try:
        info = sf.info(str(path))
    except RuntimeError as exc:  # soundfile's error for unreadable audio
        raise InputError(f"{path}: not a readable audio file ({exc})") from None
    if info.format != "WAV":
        raise InputError(f"{path}: a {info.format} file; audiogan info reads WAV files")
    meta = read_metadata(path)
    out = {"file": str(path), "format": _format(info), "sample_rate": info.samplerate, "frames": info.frames,
           "subtype": info.subtype, "bext": meta.bext.to_dict() if meta.bext else None,
           "audiogan": meta.fields or None, "recipe": meta.recipe.to_dict() if meta.recipe else None,
           "command": None}
    if meta.recipe is not None:
        bits = SUBTYPE_BITS.get(info.subtype) or int(meta.fields.get("BIT_DEPTH", 16))
        out["command"] = meta.recipe.command(sample_rate=info.samplerate, bit_depth=bits)
    return out


def _lines(d: dict) -> list[tuple[str, str]]:
    rows = [("file", f"{d['file']}: {d['format']}")]
    r, f, b = d["recipe"], d["audiogan"] or {}, d["bext"]
    if r is not None:
        dl = Delivery.from_dict(r["delivery"])
        rows += [("prompt", r["prompt"]),
                 ("seed", f"{r['seed']} (variation {r['variation']} of its request)"),
                 ("seconds asked", f"{r['seconds']:g}" + (" (then trimmed)" if dl.trim else "")),
                 ("model", f"{r['model']} (generator weights sha256 {r['model_sha256'][:16]}...)"),
                 ("text encoder", r["text_encoder"] + _opts(r["text_encoder_options"])),
                 ("vocoder", r["vocoder"] + _opts(r["vocoder_options"])),
                 ("device", r["device"]),
                 ("level", dl.describe().replace(", trimmed", "")
                  + (f"; gain {float(f['GAIN_DB']):+.1f} dB" if f.get("GAIN_DB") else "")),
                 ("trim", "yes" if dl.trim else "no"),
                 ("loop", "yes" if r["loop"] else "no")]
        if f.get("LEVEL_NOTE"):
            rows.append(("level note", f["LEVEL_NOTE"]))
    if f.get("LOUDNESS") or f.get("TRUE_PEAK"):
        rows.append(("measured", f"{f.get('LOUDNESS', '?')} LUFS integrated, true peak {f.get('TRUE_PEAK', '?')} dBTP"))
    if b is not None:
        rows.append(("made", f"{b['origination_date']} {b['origination_time']} by {b['originator'] or '?'}"
                             + (f", id {b['originator_reference']}" if b["originator_reference"] else "")))
        if b["description"]:
            rows.append(("bext description", b["description"]))
        for k, line in enumerate(b["coding_history"].splitlines()):
            rows.append(("coding history" if k == 0 else "", line))
    if r is None:
        rows.append(("recipe", "none: this file was not made by audiogan generate/serve (or predates recipes)"))
    else:
        rows.append(("make it again", d["command"]))
    return rows


def _opts(options: dict) -> str:
    return (" (" + ", ".join(f"{k}={v}" for k, v in options.items()) + ")") if options else ""


@click.command(name="info")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE...")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (a list, one object per file).")
def info_command(files, as_json):
    """Show what a WAV file says about itself: prompt, seed, model, level, and the command
    that makes the same clip again."""
    results = []
    for path in files:
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        results.append(describe(path))
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for k, d in enumerate(results):
        if k:
            click.echo()
        rows = _lines(d)
        width = max(len(key) for key, _ in rows)
        for key, value in rows:
            click.echo(f"{key:<{width}}  {value}")
