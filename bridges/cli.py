"""`audiogan serve`: the OSC server for DAWs, Max and Pure Data, added to `audiogan` through the
register_commands hook (entry point `serve` of the `audiogan.commands` group). Imports stay
light until the command runs (the `audiogan` group lists it without loading torch)."""
from __future__ import annotations

import logging
import os
import sys

import click

from audiogan_core.cli_delivery import delivery_from_options, level_options
from audiogan_core.cli_options import model_options, wav_options
from audiogan_core.hookspecs import hookimpl
from audiogan_core.limits import MAX_VARIATIONS


@click.command(name="serve")
@click.option("--osc-port", type=click.IntRange(0, 65535), default=9000, show_default=True,
              help="UDP port to listen on (0 = any free port, printed at start).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback lets other machines make files here.")
@click.option("--reply-port", type=click.IntRange(1, 65535), default=None,
              help="Send replies to the sender's host at this port (default: the port the request came from).")
@click.option("--out", "out_dir", default="audiogan-out", show_default=True, metavar="DIR",
              help="Folder for the WAV files (created if missing). File names are made by the server.")
@model_options()
@click.option("--audio-device", default=None, metavar="NAME",
              help="Also play every finished clip (and /audiogan/play) on this output: a device name or a "
                   "unique part of one, an index, a host API such as 'jack', or 'default'.")
@click.option("--list-audio-devices", is_flag=True, help="List output devices and exit.")
@wav_options
@click.option("--queue-size", type=click.IntRange(1, 100_000), default=32, show_default=True,
              help="Requests that may wait; more get /audiogan/error 'busy'.")
@click.option("--max-variations", type=click.IntRange(1, MAX_VARIATIONS), default=16, show_default=True,
              help="Most variations one request may ask for.")
@level_options
@click.option("-v", "--verbose", count=True,
              help="Log each request and error reply to stderr (-vv: also debugging detail). "
                   "Without it only the server's own failures are logged.")
def serve(osc_port, host, reply_port, out_dir, model, audio_device, list_audio_devices, sample_rate, bit_depth,
          queue_size, max_variations, loudness, no_normalize, trim, verbose):
    """Listen for OSC requests and answer with WAV files.

    \b
    /audiogan/generate s:text [i:seed] [f:seconds] [i:variations] [s:KEY=VALUE ...]
        seconds: 0.1 to 60, default 10, with an any-length model such as the bundled one;
        up to (and by default) the clip length with a fixed-length model
        options (after a number): normalize=peak|loudness|none, loudness=LUFS, trim=1|0, loop=1|0
        -> /audiogan/accepted i:job, /audiogan/progress i:job f:fraction,
           /audiogan/done i:job s:path (one per file) or /audiogan/error i:job s:message
    /audiogan/play i:job [i:variation]   /audiogan/cancel i:job
    /audiogan/ping -> /audiogan/pong     /audiogan/status -> /audiogan/status i:queued s:model s:device
    """
    from .log_limit import configure

    configure(verbose)  # warnings only; -v one line per request; -vv debugging detail
    from .audio_device import describe_devices, list_output_devices

    if list_audio_devices:
        click.echo("output devices:\n" + describe_devices(list_output_devices()))
        return
    delivery = delivery_from_options(loudness, no_normalize, trim)
    from .osc_server import resolve_udp

    resolve_udp(host)  # a mistyped host fails here, not after the model has loaded
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"audiogan serve: warning: listening on {host}: other machines can send requests and fill "
                   f"{out_dir} (there is no authentication)", err=True)

    from .osc_server import OscServer

    player = None
    if audio_device is not None:  # open the sound card before the (slow) model load: fail fast
        from .audio_device import Player

        player = Player(audio_device)
    tts = model.load()
    server = OscServer(tts, host=host, port=osc_port, reply_port=reply_port, out_dir=out_dir,
                       sample_rate=sample_rate, bit_depth=int(bit_depth), queue_size=queue_size,
                       max_variations=max_variations, player=player, delivery=delivery)
    import warnings

    from audiogan_core.delivery import LevelWarning

    warnings.filterwarnings("ignore", category=LevelWarning)  # the server logs them, with the job number
    if player is not None:
        player.start()
    try:
        server.start()
    except BaseException:
        if player is not None:
            player.stop()
        raise
    signalled = []

    def on_signal(signum, frame):  # Ctrl-C, or a service manager's stop; a second one while stopping waits
        if not signalled:
            signalled.append(signum)
            raise KeyboardInterrupt

    import signal

    # Before "listening on" is printed: a client that sees that line may stop us at once, and a
    # signal taking Python's default path would skip the quick exit below.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        replies = f"sender's host, port {reply_port}" if reply_port else "the sender's address"
        click.echo(f"audiogan serve: listening on udp://{host}:{server.port} ({tts.config.name} on {tts.device}, "
                   f"{tts.text_encoder.name} -> {tts.vocoder.name}); replies to {replies}; files in "
                   f"{server.out_dir} ({server.sample_rate} Hz, "
                   f"{'32-bit float' if bit_depth == '32' else bit_depth + '-bit'}, {delivery.describe()})"
                   + (f"; playing on {player.device['name']} ({player.device['hostapi']}, {player.sample_rate} Hz)"
                      if player else "") + ". Ctrl-C stops.", err=True)
        sys.stderr.flush()
        server.serve_forever()  # returns within 2 s of Ctrl-C or SIGTERM, whatever the server is doing
    except KeyboardInterrupt:  # the signal came before serve_forever was waiting for it
        server.stop()
    finally:
        if player is not None:
            player.stop()
    # Everything is closed and every file complete. End the process here rather than finalize
    # the interpreter: tearing down torch takes seconds on a busy machine (13 s seen at nice 10),
    # and aborts outright when the worker is still inside one model call (stop() does not wait
    # for that; no file is being written then).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@hookimpl
def register_commands(cli):
    cli.add_command(serve)
