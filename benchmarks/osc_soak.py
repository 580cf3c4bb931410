"""OSC bridge soak: many short jobs through a real `audiogan serve` process, its resident
memory sampled as they go, and the request -> /audiogan/done latency of each.

    python benchmarks/osc_soak.py                         # 2,000 jobs, untrained tiny model (fast)
    python benchmarks/osc_soak.py --jobs 400 --sample-every 50 --model untrained:small

The server is a subprocess started exactly as a user would (`audiogan serve --osc-port 0`,
default log level); RSS comes from /proc/PID/status. The target (issue 26) is that RSS after
200 jobs and after 2,000 jobs are within 5% of each other: what the server keeps per job is
small and bounded. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audiogan_bridges.osc_wire import encode, read


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentiles(values: list[float]) -> dict:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": round(1000 * q[49], 2), "p90_ms": round(1000 * q[89], 2), "p99_ms": round(1000 * q[98], 2),
            "max_ms": round(1000 * max(values), 2), "mean_ms": round(1000 * statistics.fmean(values), 2)}


WORDS = ("rain", "door", "dog", "barks", "wind", "metal", "glass", "steps", "snow", "fire", "water", "bell",
         "engine", "bird", "crowd", "thunder", "paper", "chain", "clock", "wood", "splash", "hum", "knock")


def text_for(i: int) -> str:
    """A different text for every job, from a fixed vocabulary: the test text encoder (hash)
    caches one vector per distinct word (up to 65,536), which would otherwise grow with the
    job count and be counted against the server."""
    return " ".join(WORDS[(i * k + i // len(WORDS)) % len(WORDS)] for k in (1, 3, 7, 11, 13)[:1 + i % 5])


class Client:
    def __init__(self, port: int):
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind(("127.0.0.1", 0))

    def send(self, address: str, *args) -> None:
        self.sock.sendto(encode(address, list(args)), self.server)

    def recv(self, timeout: float):
        self.sock.settimeout(timeout)
        msg = read(self.sock.recvfrom(65536)[0])[0]
        return msg.address, list(msg.args)


def start_server(args, out: str, log_path: Path) -> tuple[subprocess.Popen, int]:
    """`audiogan serve` with its stderr in a file (a pipe nobody reads would block its log)."""
    cmd = [sys.executable, "-m", "audiogan_core.cli", "serve", "--model", args.model, "--osc-port", "0",
           "--out", out, "--device", args.device]
    proc = subprocess.Popen(cmd, stderr=log_path.open("w"))
    deadline = time.monotonic() + 300
    while True:
        m = re.search(r"listening on udp://127\.0\.0\.1:(\d+)", log_path.read_text())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"serve did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=2000)
    p.add_argument("--model", default="untrained:tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seconds", type=float, default=0.1, help="clip length of each job")
    p.add_argument("--variations", type=int, default=2)
    p.add_argument("--sample-every", type=int, default=100, help="jobs between RSS samples")
    p.add_argument("--keep-files", type=int, default=200, help="delete older files beyond this many (disk)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        out, log_path = str(Path(tmp) / "out"), Path(tmp) / "serve.log"
        proc, port = start_server(args, out, log_path)
        try:
            client = Client(port)
            client.send("/audiogan/ping")
            client.recv(30)
            samples = [{"jobs": 0, "rss_kib": rss_kib(proc.pid)}]
            latencies, accepted_lat, t_start = [], [], time.perf_counter()
            for i in range(1, args.jobs + 1):
                t0 = time.perf_counter()
                client.send("/audiogan/generate", text_for(i), i, args.seconds, args.variations)
                done = 0
                while done < args.variations:
                    address, reply = client.recv(60)
                    if address == "/audiogan/accepted":
                        accepted_lat.append(time.perf_counter() - t0)
                    elif address == "/audiogan/done":
                        done += 1
                    elif address == "/audiogan/error":
                        raise RuntimeError(f"job {i}: {reply}")
                latencies.append(time.perf_counter() - t0)
                if i % args.sample_every == 0:
                    samples.append({"jobs": i, "rss_kib": rss_kib(proc.pid)})
                if i % 100 == 0:  # keep the disk use small; the server never looks at old files
                    files = sorted(Path(out).glob("*.wav"))
                    for f in files[:max(0, len(files) - args.keep_files)]:
                        f.unlink()
            wall = time.perf_counter() - t_start
            pings = []
            for _ in range(50):
                t0 = time.perf_counter()
                client.send("/audiogan/ping")
                client.recv(5)
                pings.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            try:
                rc = proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        log_bytes = log_path.stat().st_size
    by_jobs = {s["jobs"]: s["rss_kib"] for s in samples}
    at_200 = by_jobs.get(200)
    at_end = samples[-1]["rss_kib"]
    result = {
        "model": args.model, "device": args.device, "jobs": args.jobs, "variations": args.variations,
        "clip_seconds": args.seconds, "files_written": args.jobs * args.variations, "wall_s": round(wall, 1),
        "jobs_per_s": round(args.jobs / wall, 1),
        "rss_mib_at_start": round(samples[0]["rss_kib"] / 1024, 1),
        "rss_mib_after_200": None if at_200 is None else round(at_200 / 1024, 1),
        f"rss_mib_after_{samples[-1]['jobs']}": round(at_end / 1024, 1),
        "rss_change_200_to_end_pct": None if at_200 is None else round(100 * (at_end - at_200) / at_200, 2),
        "rss_kib_per_job_200_to_end": None if at_200 is None else
        round((at_end - at_200) / max(1, samples[-1]["jobs"] - 200), 2),
        "rss_mib_samples": [(s["jobs"], round(s["rss_kib"] / 1024, 1)) for s in samples],
        "latency_done": percentiles(latencies), "latency_accepted": percentiles(accepted_lat),
        "ping": percentiles(pings), "serve_exit_code": rc, "serve_log_bytes": log_bytes,
        "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
