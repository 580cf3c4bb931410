"""OSC bridge timings: request -> /audiogan/done latency for one clip, and requests per
minute sustained, measured by a python-osc client against an in-process OscServer.

    python benchmarks/osc_latency.py                              # small preset, griffinlim + hifigan
    python benchmarks/osc_latency.py --vocoder griffinlim --seconds 10 --sustain 60
    python benchmarks/osc_latency.py --model default              # a trained model instead of a preset

With a preset the generator has random weights: the timings are those of the network's
shape, which is what serving costs. Prints one JSON object per vocoder.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket


class Client:
    def __init__(self, port: int):
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def send(self, address: str, *args) -> None:
        b = OscMessageBuilder(address=address)
        for a in args:
            b.add_arg(a)
        self.sock.sendto(b.build().dgram, self.server)

    def recv(self, timeout: float):
        self.sock.settimeout(timeout)
        msg = OscPacket(self.sock.recvfrom(65536)[0]).messages[0].message
        return msg.address, list(msg.params)


def one_request(client: Client, text: str, seed: int, seconds: float, timeout: float = 600) -> dict:
    t0 = time.perf_counter()
    client.send("/audiogan/generate", text, seed, float(seconds))
    accepted = None
    while True:
        address, args = client.recv(timeout)
        if address == "/audiogan/accepted":
            accepted = time.perf_counter() - t0
        elif address == "/audiogan/done":
            return {"accepted_s": accepted, "done_s": time.perf_counter() - t0, "path": args[1]}
        elif address == "/audiogan/error":
            raise RuntimeError(args[1])


def sustained(client: Client, seconds: float, duration: float, in_flight: int = 2) -> dict:
    """Keep `in_flight` requests outstanding for `duration` seconds; count finished ones."""
    start = time.perf_counter()
    sent = done = 0
    outstanding = 0
    while True:
        now = time.perf_counter()
        if now - start < duration:
            while outstanding < in_flight:
                client.send("/audiogan/generate", f"sustained request {sent}", sent, float(seconds))
                sent += 1
                outstanding += 1
        elif outstanding == 0:
            break
        address, args = client.recv(600)
        if address == "/audiogan/done":
            outstanding -= 1
            if time.perf_counter() - start <= duration:
                done += 1
        elif address == "/audiogan/error":
            raise RuntimeError(args[1])
    return {"window_s": duration, "finished_in_window": done, "requests_per_minute": done * 60.0 / duration}


def build_model(args, vocoder: str):
    from audiogan_core import AudioGAN, preset

    if args.model:
        return AudioGAN.load(args.model, vocoder=vocoder, device=args.device)
    return AudioGAN.from_config(preset(args.preset), text_encoder=args.text_encoder,
                                text_encoder_options={"word_dim": 384, "sentence_dim": 384}
                                if args.text_encoder == "hash" else None,
                                vocoder=vocoder, device=args.device)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="small")
    p.add_argument("--model", default=None, help="load this model instead of a random-weight preset")
    p.add_argument("--text-encoder", default="hash", help="with --preset: hash (no download) or minilm")
    p.add_argument("--vocoder", action="append", help="griffinlim, hifigan (repeatable; default both)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=3, help="single-request latency samples")
    p.add_argument("--warmup", type=int, default=2, help="requests before timing (CPU kernels warm up over a few)")
    p.add_argument("--sustain", type=float, default=60.0, help="seconds of sustained load (0 = skip)")
    p.add_argument("--sample-rate", type=int, default=48000)
    p.add_argument("--bit-depth", type=int, default=24)
    args = p.parse_args(argv)

    from audiogan_bridges.osc_server import OscServer
    from audiogan_core.errors import AudioGANError

    import torch

    results = []
    for vocoder in args.vocoder or ["griffinlim", "hifigan"]:
        try:
            model = build_model(args, vocoder)
        except AudioGANError as exc:
            print(f"skipping {vocoder}: {exc}", file=sys.stderr)
            continue
        seconds = min(args.seconds, model.max_seconds)
        with tempfile.TemporaryDirectory() as out:
            server = OscServer(model, port=0, out_dir=out, sample_rate=args.sample_rate,
                               bit_depth=args.bit_depth, queue_size=8).start()
            try:
                client = Client(server.port)
                t = time.perf_counter()
                client.send("/audiogan/ping")
                client.recv(10)
                ping_ms = (time.perf_counter() - t) * 1000
                warm = [one_request(client, "warm up", i, seconds) for i in range(max(1, args.warmup))][0]
                runs = [one_request(client, "a dog barks in the distance", 7 + i, seconds)
                        for i in range(args.repeats)]
                # Generation alone, without OSC or file writing, for comparison.
                t = time.perf_counter()
                model.generate(["a dog barks in the distance"], seed=1, seconds=seconds)
                bare = time.perf_counter() - t
                load = sustained(client, seconds, args.sustain) if args.sustain > 0 else None
            finally:
                server.stop()
        result = {
            "model": args.model or f"untrained:{args.preset}", "text_encoder": model.text_encoder.name,
            "vocoder": model.vocoder.name, "device": str(model.device), "clip_seconds": seconds,
            "file": f"{args.sample_rate} Hz {args.bit_depth}-bit", "ping_ms": round(ping_ms, 2),
            "first_request_s": round(warm["done_s"], 3),
            "latency_done_s_median": round(statistics.median(r["done_s"] for r in runs), 3),
            "latency_done_s_all": [round(r["done_s"], 3) for r in runs],
            "accepted_ms_median": round(1000 * statistics.median(r["accepted_s"] for r in runs), 2),
            "generate_only_s": round(bare, 3), "sustained": load,
            "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                    f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        }
        results.append(result)
        print(json.dumps(result), flush=True)
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
