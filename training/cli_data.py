"""`audiogan data ...` commands. `data_group` is a click.Group the main CLI adds as `data`."""
from __future__ import annotations

import click

from audiogan_core.errors import AudioGANError


@click.group("data")
def data_group():
    """Build and inspect training libraries."""


@data_group.command("debian-foley")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to build the library in (created if needed).")
@click.option("--packages", default=None, metavar="A,B",
              help="Comma-separated Debian packages or sets: 'default' (18 packages, see README), 'v1' (the "
                   "first library: openttd-opensfx, tuxpaint-stamps-default, minetest-data, 0ad-data, "
                   "wesnoth-1.16-data; the bundled model's data), 'all'. Default: 'default'.")
@click.option("--install/--no-install", default=False, show_default=True,
              help="Run 'apt-get install -y --no-install-recommends' for missing packages (needs root).")
@click.option("--copy/--symlink", default=True, show_default=True,
              help="Copy installed sound files, or symlink them (archive members are always extracted).")
@click.option("--progress/--no-progress", default=True, show_default=True)
def debian_foley_command(out_dir, packages, install, copy, progress):
    """Assemble a captioned foley library from Debian game-data packages."""
    from .debian_foley import build_debian_foley

    chosen = [p.strip() for p in packages.split(",") if p.strip()] if packages else None
    try:
        manifest = build_debian_foley(out_dir, packages=chosen, install=install, copy=copy, progress=progress)
    except AudioGANError as exc:
        raise click.ClickException(str(exc)) from None
    for name, info in manifest["packages"].items():
        click.echo(f"{name:26s} {info['clips']:5d} clips {info['duration_s'] / 60:7.1f} min  "
                   f"{', '.join(info['licences'])}")
    hist = ", ".join(f"{k}: {v}" for k, v in manifest["duration_histogram"].items())
    click.echo(f"{'total':26s} {manifest['clips']:5d} clips {manifest['duration_s'] / 60:7.1f} min  ({hist})")
    calls = manifest.get("calls", {})
    click.echo(f"{manifest['long_duration_s'] / 60:.1f} min in files of {manifest['long_seconds']:g} s or more; "
               f"calls: {', '.join(f'{k} {v}' for k, v in calls.items() if k != 'by_category')}")
    click.echo(f"{manifest['categories_with_10_or_more']} categories with >= 10 clips; "
               f"held-out: {manifest['holdout']['clips']} clips in holdout.json")
    click.echo(f"wrote {out_dir}/captions.jsonl, manifest.json, holdout.json")


__all__ = ["data_group", "debian_foley_command"]
