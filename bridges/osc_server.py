"""OSC bridge: DAWs, Max, Pure Data and anything else that speaks OSC over UDP ask for
sounds and get WAV files back.

    from audiogan_core import AudioGAN, preset
    from audiogan_bridges.osc_server import OscServer
    server = OscServer(AudioGAN.from_config(preset("tiny")), port=0, out_dir="out").start()
    server.port            # the bound UDP port (port=0 picks a free one)
    ...
    server.stop()

One thread receives and answers datagrams; it validates requests and never generates.
Accepted jobs wait in a bounded queue for ONE worker thread that runs the model and writes
the files; a full queue answers "busy" at once. Playback (optional) has its own thread.

Address space (stable; replies go to the sender's host and port, or to the sender's host at
--reply-port when set):

  /audiogan/generate s:text [i:seed] [f:seconds] [i:variations] [s:KEY=VALUE ...]
        options, after at least one number (seed -1 = random): normalize=peak|loudness|none,
        loudness=LUFS (implies normalize=loudness), trim=1|0; unset ones keep the server's
        level settings (serve --loudness / --no-normalize / --trim; default: true peak -1 dBTP)
        -> /audiogan/accepted i:job
        -> /audiogan/progress i:job f:fraction      (0.0 first, 1.0 last, a few in between)
        -> /audiogan/done i:job s:path              (once per file, text-major, variation order)
        or /audiogan/error i:job s:message          (or /audiogan/cancelled i:job)
  /audiogan/play i:job [i:variation]   -> /audiogan/playing i:job  (or /audiogan/error)
  /audiogan/cancel i:job               -> /audiogan/cancelled i:job (or /audiogan/error)
  /audiogan/ping [any...]              -> /audiogan/pong [the same arguments]
  /audiogan/status                     -> /audiogan/status i:queued s:model s:device
  anything else                        -> /audiogan/error i:-1 s:"unknown address /x; ..."

Errors that belong to no job (bad arguments, unknown address) carry job -1.
Every file is normalised as its request asks and carries its recipe (bext + iXML chunks;
`audiogan info FILE` shows it).
"""
from __future__ import annotations

import collections
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from audiogan_core.errors import AudioGANError, InputError
from audiogan_core.delivery import Delivery
from audiogan_core.io import slug
from audiogan_core.limits import MAX_VARIATIONS, check_output_rate
from audiogan_core.request import Request

log = logging.getLogger(__name__)

PREFIX = "/audiogan"
DEFAULT_PORT = 9000
DEFAULT_QUEUE_SIZE = 32
DEFAULT_MAX_VARIATIONS = 16
MAX_REPLY_CHARS = 600  # error messages quote client input; keep replies small
PROGRESS_STEP = 0.1  # send a progress reply when the fraction moved at least this much
INT32 = 2**31


class _Cancelled(Exception):
    pass


class QueueFull(Exception):
    pass


@dataclass
class Job:
    id: int
    request: Request  # checked, one text
    reply_to: tuple
    state: str = "queued"  # queued, running, done, error, cancelled
    files: list = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    extra_reply_to: set = field(default_factory=set)
    announced: threading.Event = field(default_factory=threading.Event)  # "accepted" went out first

    @property
    def text(self) -> str:
        return self.request.texts[0]

    @property
    def seed(self) -> int:
        return self.request.seed

    @property
    def seconds(self) -> float:
        return self.request.seconds

    @property
    def variations(self) -> int:
        return self.request.variations

    @property
    def delivery(self) -> Delivery:
        return self.request.delivery


class _JobQueue:
    """A bounded FIFO that also lets a queued job be taken out (cancel)."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()

    def put_nowait(self, job: Job) -> None:
        with self._cond:
            if len(self._items) >= self.maxsize:
                raise QueueFull
            self._items.append(job)
            self._cond.notify()

    def get(self, timeout: float) -> Job | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None

    def remove(self, job: Job) -> bool:
        with self._cond:
            try:
                self._items.remove(job)
                return True
            except ValueError:
                return False

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


def _tag(value) -> str:
    """The OSC type tag a parsed argument most likely came with (for error messages)."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if value is None:
        return "N"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    if isinstance(value, str):
        return "s"
    if isinstance(value, bytes):
        return "b"
    return type(value).__name__


def _show(value) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:50] + "..." + f" ({len(value) if hasattr(value, '__len__') else '?'} long)"
    return f"{text} ({_tag(value)})"


def _as_int(value, what: str, where: str) -> int:
    """int (i, h) or a float with an integral value (Pd and Max send numbers as f)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {what} must be an integer (i), got {_show(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise InputError(f"{where}: {what} must be a whole number, got {_show(value)}")
        value = int(value)
    return value


def _as_float(value, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {what} must be a number (f), got {_show(value)}")
    return float(value)


class OscServer:
    """OSC over UDP in front of one loaded model. See the module docstring for addresses."""

    def __init__(self, model, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, reply_port: int | None = None,
                 out_dir: str | os.PathLike = "audiogan-out", sample_rate: int | None = None, bit_depth: int = 16,
                 queue_size: int = DEFAULT_QUEUE_SIZE, max_variations: int = DEFAULT_MAX_VARIATIONS,
                 player=None, autoplay: bool = True, keep_jobs: int = 1000, delivery: Delivery | None = None):
        from audiogan_core.io import BIT_DEPTHS

        if bit_depth not in BIT_DEPTHS:
            raise InputError(f"bit depth must be one of {sorted(BIT_DEPTHS)} (32 = float), got {bit_depth}")
        check_output_rate(sample_rate)
        if not 1 <= queue_size <= 100_000:
            raise InputError(f"queue size must be between 1 and 100000, got {queue_size}")
        if not 1 <= max_variations <= MAX_VARIATIONS:
            raise InputError(f"max variations must be between 1 and {MAX_VARIATIONS}, got {max_variations}")
        if reply_port is not None and not 1 <= reply_port <= 65535:
            raise InputError(f"reply port must be between 1 and 65535, got {reply_port}")
        if not 0 <= port <= 65535:
            raise InputError(f"OSC port must be between 0 and 65535, got {port}")
        self.model = model
        self.host = host
        self._port = port
        self.reply_port = reply_port
        self.out_dir = Path(out_dir).expanduser().resolve()
        self.sample_rate = int(sample_rate or model.sample_rate)
        self.bit_depth = bit_depth
        self.max_variations = max_variations
        self.player = player
        self.autoplay = autoplay
        self.keep_jobs = keep_jobs
        self.delivery = delivery or Delivery()
        self._queue = _JobQueue(queue_size)
        self._jobs: collections.OrderedDict[int, Job] = collections.OrderedDict()
        self._jobs_lock = threading.Lock()
        self._next_job = 1
        self._running: Job | None = None
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._garbage = 0
        self._idle = threading.Event()
        self._idle.set()
        self.handlers = {
            f"{PREFIX}/generate": self._on_generate,
            f"{PREFIX}/play": self._on_play,
            f"{PREFIX}/cancel": self._on_cancel,
            f"{PREFIX}/ping": self._on_ping,
            f"{PREFIX}/status": self._on_status,
        }

    # Life cycle -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound UDP port (the ephemeral one when constructed with port=0)."""
        if self._sock is not None:
            return self._sock.getsockname()[1]
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self) -> "OscServer":
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(self.out_dir, os.W_OK):
            raise InputError(f"output folder is not writable: {self.out_dir}")
        try:
            infos = socket.getaddrinfo(self.host, self._port, type=socket.SOCK_DGRAM)
        except socket.gaierror as exc:
            raise InputError(f"cannot resolve host {self.host!r}: {exc}") from None
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            sock.close()
            raise InputError(f"cannot listen on udp {self.host}:{self._port}: {exc.strerror or exc} "
                             f"(another audiogan serve? choose another --osc-port)") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # ride out bursts
        except OSError:
            pass
        sock.settimeout(0.2)
        self._sock = sock
        self._stopping.clear()
        self._threads = [threading.Thread(target=self._receive_loop, name="audiogan-osc-receiver", daemon=True),
                         threading.Thread(target=self._work_loop, name="audiogan-osc-worker", daemon=True)]
        for t in self._threads:
            t.start()
        log.info("OSC server on udp://%s:%d, model %s on %s, files in %s (%d Hz, %d-bit)", self.host, self.port,
                 getattr(self.model.config, "name", "?"), self.model.device, self.out_dir, self.sample_rate,
                 self.bit_depth)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        running = self._running
        if running is not None:
            running.cancel.set()
        for t in self._threads:
            t.join(timeout)
        self._threads = []
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def serve_forever(self) -> None:
        """start() (if needed) and block until KeyboardInterrupt or stop()."""
        if self._sock is None:
            self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            log.info("stopping")
        finally:
            self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once no job is queued or running (tests, benchmarks)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._idle.wait(0.05) and len(self._queue) == 0 and self._running is None:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    def job(self, job_id: int) -> Job | None:
        with self._jobs_lock:
            return self._jobs.get(job_id)

    # Sending --------------------------------------------------------------------------
    def _reply_address(self, addr: tuple) -> tuple:
        if self.reply_port is not None:
            return (addr[0], self.reply_port) + tuple(addr[2:])
        return addr

    def send(self, to: tuple, address: str, *args) -> None:
        from pythonosc.osc_message_builder import OscMessageBuilder

        builder = OscMessageBuilder(address=address)
        for a in args:
            if isinstance(a, bool):
                builder.add_arg(a)
            elif isinstance(a, int):
                builder.add_arg(a, "i" if -INT32 <= a < INT32 else "h")
            elif isinstance(a, float):
                builder.add_arg(a, "f")
            else:
                a = str(a)
                if len(a) > MAX_REPLY_CHARS:
                    a = a[:MAX_REPLY_CHARS] + "..."
                builder.add_arg(a, "s")
        sock = self._sock
        if sock is None:
            return
        try:
            sock.sendto(builder.build().dgram, to)
        except OSError as exc:  # peer gone, network down: never the server's problem
            log.debug("could not send %s to %s: %s", address, to, exc)

    def _error(self, to: tuple, job: int, message: str) -> None:
        log.info("error to %s:%s (job %d): %s", to[0], to[1], job, message)
        self.send(to, f"{PREFIX}/error", job, message)

    # Receiving ------------------------------------------------------------------------
    def _receive_loop(self) -> None:
        while not self._stopping.is_set():
            sock = self._sock
            if sock is None:
                break
            try:
                data, addr = sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError as exc:  # e.g. ICMP port unreachable reported on some systems
                if self._stopping.is_set():
                    break
                log.debug("receive error ignored: %s", exc)
                continue
            try:
                self.handle_datagram(data, addr)
            except Exception:  # never let one datagram end the server
                log.exception("unexpected error handling a datagram from %s", addr)

    def handle_datagram(self, data: bytes, addr: tuple) -> None:
        from pythonosc.osc_packet import OscPacket

        try:
            messages = [m.message for m in OscPacket(data).messages]
        except Exception as exc:
            self._garbage += 1
            if self._garbage == 1:
                log.debug("ignoring datagrams that are not OSC (first from %s: %s); further ones ignored "
                          "silently", addr, exc)
            return
        for msg in messages:
            self._dispatch(msg.address, list(msg.params), addr)

    def _dispatch(self, address: str, args: list, addr: tuple) -> None:
        to = self._reply_address(addr)
        handler = self.handlers.get(address)
        if handler is None:
            shown = address if len(address) <= 80 else address[:80] + "..."
            self._error(to, -1, f"unknown address {shown}; known: {' '.join(self.handlers)}")
            return
        try:
            handler(args, to)
        except InputError as exc:
            self._error(to, -1, str(exc))
        except Exception as exc:
            log.exception("error handling %s", address)
            self._error(to, -1, f"{address}: internal error: {type(exc).__name__}: {exc}")

    # Handlers -------------------------------------------------------------------------
    def _parse_generate(self, args: list, delivery: Delivery | None = None):
        """OSC arguments (options already split off) -> a checked Request with `delivery` (default:
        the server's). Only what is OSC's is done here: words joined, argument types coerced, -1
        read as "random seed"; the request rules are the model's."""
        from audiogan_core.request import check_request

        where = f"{PREFIX}/generate"
        if not args:
            raise InputError(f"{where}: missing text; usage: {where} s:text [i:seed] [f:seconds] [i:variations]")
        words = []
        while args and isinstance(args[0], str):  # Pd and Max split a sentence into symbols: join them
            words.append(args.pop(0))
        if not words:
            raise InputError(f"{where}: text must be a string (s), got {_show(args[0])}; "
                             f"usage: {where} s:text [i:seed] [f:seconds] [i:variations]")
        if len(args) > 3:
            raise InputError(f"{where}: too many arguments ({len(words) + len(args)}); "
                             f"usage: {where} s:text [i:seed] [f:seconds] [i:variations]")
        seed = seconds = None
        variations = 1
        if len(args) >= 1:
            seed = _as_int(args[0], "seed", where)
            if seed == -1:
                seed = None  # -1 = pick a random seed (lets Pd/Max give seconds without a seed)
            elif seed < 0:
                raise InputError(f"{where}: seed must be >= 0 (or -1 for a random one), got {seed}")
        if len(args) >= 2:
            seconds = _as_float(args[1], "seconds", where)
        if len(args) >= 3:
            variations = _as_int(args[2], "variations", where)
        try:
            return self.model.check_request(check_request(" ".join(words), seed=seed, variations=variations,
                                                          seconds=seconds, delivery=delivery or self.delivery,
                                                          max_variations=self.max_variations))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None

    def _split_options(self, args: list) -> tuple[list, Delivery]:
        """Strings after /audiogan/generate's first number are KEY=VALUE options: the positional
        arguments without them, and this request's delivery."""
        where = f"{PREFIX}/generate"
        first_number = next((i for i, a in enumerate(args) if not isinstance(a, str)), len(args))
        first_option = next((i for i, a in enumerate(args) if i > first_number and isinstance(a, str)), len(args))
        options = {}
        for arg in args[first_option:]:
            if not isinstance(arg, str) or "=" not in arg:
                raise InputError(f"{where}: options come last, as KEY=VALUE strings (normalize=peak|loudness|none, "
                                 f"loudness=LUFS, trim=1|0), got {_show(arg)}")
            key, value = arg.split("=", 1)
            options[key.strip().lower()] = value
        try:
            return args[:first_option], self.delivery.with_options(options)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None

    def _on_generate(self, args: list, to: tuple) -> None:
        args, delivery = self._split_options(args)
        request = self._parse_generate(args, delivery)
        with self._jobs_lock:
            job = Job(self._next_job, request, to)
            self._next_job += 1
        try:
            self._queue.put_nowait(job)
        except QueueFull:
            self._error(to, job.id, f"busy: queue full ({self._queue.maxsize} waiting)")
            return
        with self._jobs_lock:
            self._jobs[job.id] = job
            self._forget_old_jobs()
        self._idle.clear()
        log.info("job %d from %s:%s: %r seed %d, %.3g s, %d variation(s)", job.id, to[0], to[1], job.text, job.seed,
                 job.seconds, job.variations)
        self.send(to, f"{PREFIX}/accepted", job.id)
        job.announced.set()

    def _forget_old_jobs(self) -> None:
        finished = [j for j, job in self._jobs.items() if job.state in ("done", "error", "cancelled")]
        for j in finished[:max(0, len(finished) - self.keep_jobs)]:
            del self._jobs[j]

    def _job_arg(self, args: list, where: str, usage: str) -> tuple[Job, list]:
        if not args:
            raise InputError(f"{where}: missing job number; usage: {where} {usage}")
        job_id = _as_int(args[0], "job", where)
        job = self.job(job_id)
        if job is None:
            raise InputError(f"{where}: no job {job_id} (unknown, or forgotten)")
        return job, args[1:]

    def _on_play(self, args: list, to: tuple) -> None:
        where = f"{PREFIX}/play"
        job, rest = self._job_arg(args, where, "i:job [i:variation]")
        if self.player is None:
            raise InputError(f"{where}: no audio device; start the server with --audio-device NAME")
        if job.state != "done":
            raise InputError(f"{where}: job {job.id} is {job.state}, not done")
        files = list(job.files)
        if rest:
            v = _as_int(rest[0], "variation", where)
            if not 0 <= v < len(files):
                raise InputError(f"{where}: job {job.id} has variations 0..{len(files) - 1}, got {v}")
            files = [files[v]]
        for path in files:
            self.player.play_file(path)
        self.send(to, f"{PREFIX}/playing", job.id)

    def _on_cancel(self, args: list, to: tuple) -> None:
        where = f"{PREFIX}/cancel"
        job, _ = self._job_arg(args, where, "i:job")
        if job.state == "queued" and self._queue.remove(job):
            job.state = "cancelled"
            job.cancel.set()
            self._maybe_idle()
            log.info("job %d cancelled while queued", job.id)
            self.send(to, f"{PREFIX}/cancelled", job.id)
            if to != job.reply_to:
                self.send(job.reply_to, f"{PREFIX}/cancelled", job.id)
        elif job.state in ("queued", "running"):  # the worker answers once it notices
            if to != job.reply_to:
                job.extra_reply_to.add(to)
            job.cancel.set()
        else:
            raise InputError(f"{where}: job {job.id} is already {job.state}")

    def _on_ping(self, args: list, to: tuple) -> None:
        self.send(to, f"{PREFIX}/pong", *[a for a in args if isinstance(a, (int, float, str))])

    def _on_status(self, args: list, to: tuple) -> None:
        self.send(to, f"{PREFIX}/status", self.queue_length, str(getattr(self.model.config, "name", "?")),
                  str(self.model.device))

    # Working --------------------------------------------------------------------------
    def _maybe_idle(self) -> None:
        if len(self._queue) == 0 and self._running is None:
            self._idle.set()

    def _work_loop(self) -> None:
        while not self._stopping.is_set():
            job = self._queue.get(timeout=0.2)
            if job is None:
                self._maybe_idle()
                continue
            if job.cancel.is_set():  # cancelled between leaving the queue and here
                job.state = "cancelled"
                for t in self._targets(job):
                    self.send(t, f"{PREFIX}/cancelled", job.id)
                self._maybe_idle()
                continue
            job.announced.wait(5)  # never reply about a job before its "accepted"
            self._running = job
            job.state = "running"
            try:
                self._run_job(job)
            except Exception:  # the worker outlives every job
                log.exception("job %d failed", job.id)
                job.state = "error"
            finally:
                self._running = None
                self._maybe_idle()

    def _targets(self, job: Job) -> list:
        return [job.reply_to, *job.extra_reply_to]

    def _run_job(self, job: Job) -> None:
        to = job.reply_to
        last = [0.0]

        def progress(fraction: float) -> None:
            if job.cancel.is_set() or self._stopping.is_set():
                raise _Cancelled
            fraction = float(min(max(fraction, 0.0), 1.0))
            if PROGRESS_STEP <= fraction - last[0] and fraction < 1.0:
                last[0] = fraction
                self.send(to, f"{PREFIX}/progress", job.id, fraction)

        self.send(to, f"{PREFIX}/progress", job.id, 0.0)
        t0 = time.perf_counter()
        try:
            clips = self.model.generate(job.request, progress=progress)
            for clip in clips:
                if getattr(clip, "level", None) is not None and clip.level.warning:
                    log.warning("job %d, seed %d: %s", job.id, clip.seed, clip.level.warning)
            if job.cancel.is_set():
                raise _Cancelled
            paths = [self._write(job, clip) for clip in clips]
        except _Cancelled:
            job.state = "cancelled"
            log.info("job %d cancelled while running", job.id)
            for t in self._targets(job):
                self.send(t, f"{PREFIX}/cancelled", job.id)
            return
        except AudioGANError as exc:
            job.state = "error"
            self._error(to, job.id, str(exc))
            return
        except Exception as exc:
            log.exception("job %d failed", job.id)
            job.state = "error"
            self._error(to, job.id, f"internal error: {type(exc).__name__}: {exc}")
            return
        job.files = paths
        job.state = "done"
        log.info("job %d done in %.2f s: %s", job.id, time.perf_counter() - t0, ", ".join(p.name for p in paths))
        self.send(to, f"{PREFIX}/progress", job.id, 1.0)
        for path in paths:
            self.send(to, f"{PREFIX}/done", job.id, str(path))
        if self.player is not None and self.autoplay:
            for clip in clips:
                try:
                    self.player.play(clip.audio, clip.sample_rate)
                except Exception as exc:
                    log.warning("could not play job %d: %s", job.id, exc)

    def _write(self, job: Job, clip) -> Path:
        from audiogan_core.io import write_wav

        stem = f"{job.id:05d}_{slug(job.text)}_seed{clip.seed}"
        for n in range(1000):
            path = self.out_dir / (f"{stem}.wav" if n == 0 else f"{stem}_{n}.wav")
            if path.exists():
                continue
            try:
                return write_wav(path, clip.audio, clip.sample_rate, target_rate=self.sample_rate,
                                 bit_depth=self.bit_depth, overwrite=False, recipe=getattr(clip, "recipe", None),
                                 level=getattr(clip, "level", None))
            except InputError:
                if path.exists():  # lost a race for the name: take the next suffix
                    continue
                raise
        raise InputError(f"could not find a free file name for {stem}.wav in {self.out_dir}")
