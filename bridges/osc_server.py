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
        loudness=LUFS (implies normalize=loudness), trim=1|0, loop=1|0 (a seamless loop, any-length
        models); unset ones keep the server's level settings (serve --loudness / --no-normalize /
        --trim; default: true peak -1 dBTP) and make no loop
        -> /audiogan/accepted i:job
        -> /audiogan/progress i:job f:fraction      (0.0 first, 1.0 last, a few in between)
        -> /audiogan/done i:job s:path              (once per file, text-major, variation order)
        or /audiogan/error i:job s:message          (or /audiogan/cancelled i:job); a job that
           fails part-way first sends /audiogan/done for each file it did write
  /audiogan/play i:job [i:variation]   -> /audiogan/playing i:job  (or /audiogan/error)
  /audiogan/cancel i:job               -> /audiogan/cancelled i:job (or /audiogan/error); exactly one
  /audiogan/ping [any...]              -> /audiogan/pong [the same arguments, same type tags]
                                          (+ /audiogan/error for arguments it could not read)
  /audiogan/status                     -> /audiogan/status i:queued s:model s:device
  anything else                        -> /audiogan/error i:-1 s:"unknown address /x; ..."

Errors that belong to no job (bad arguments, unknown address) carry job -1. Every datagram is
read by our own bounded walker (osc_wire.py) before anything acts on it; refused ones are
answered or dropped by the rules in its docstring and the README. A datagram gets at most
MAX_ERRORS_PER_DATAGRAM error replies, then one that counts the rest.
Every file is normalised as its request asks and carries its recipe (bext + iXML chunks;
`audiogan info FILE` shows it).
"""
from __future__ import annotations

import collections
import errno
import logging
import os
import socket
import threading
import time
from pathlib import Path

from audiogan_core.errors import AudioGANError, InputError
from audiogan_core.delivery import Delivery
from audiogan_core.io import slug
from audiogan_core.limits import MAX_VARIATIONS, check_output_rate

from . import osc_args, osc_wire
from .log_limit import LIMIT as LOG_LIMIT
from .osc_jobs import FINISHED, FinishedJob, Job, JobQueue, QueueFull
from .osc_wire import Raw

log = logging.getLogger(__name__)
log.addFilter(LOG_LIMIT)  # no client can fill a disk through this log

PREFIX = "/audiogan"
DEFAULT_PORT = 9000
DEFAULT_QUEUE_SIZE = 32
DEFAULT_MAX_VARIATIONS = 16
MAX_REPLY_CHARS = 600  # error messages quote client input; keep replies small
MAX_ERRORS_PER_DATAGRAM = 8  # then one more error saying how many were not sent
PROGRESS_STEP = 0.1  # send a progress reply when the fraction moved at least this much
STOP_SECONDS = 1.0  # stop() waits at most this long for the threads; the rest of SIGTERM's 2 s is for signal
# delivery and the exit itself on a busy machine


class _Cancelled(Exception):
    pass


class JobError(InputError):
    """A refusal that belongs to a job number (busy)."""

    def __init__(self, job: int, message: str):
        super().__init__(message)
        self.job = job


class _ErrorBudget:
    """At most `limit` error replies for one datagram; the rest are counted, and said once."""

    def __init__(self, limit: int):
        self.left, self.held = limit, 0

    def take(self) -> bool:
        if self.left > 0:
            self.left -= 1
            return True
        self.held += 1
        return False


def _write_failure(exc: BaseException, folder: Path) -> str:
    """The real cause of a failed file write, in words a user can act on."""
    if not folder.is_dir():
        return f"the output folder is gone: {folder}"
    if isinstance(exc, OSError) and exc.errno is not None:
        known = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                 errno.EROFS: "the output folder is on a read-only file system",
                 errno.EACCES: f"no permission to write in {folder}", errno.EPERM: f"no permission to write in {folder}"}
        return known.get(exc.errno, f"{exc.strerror or exc} (errno {exc.errno})")
    if isinstance(exc, AudioGANError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def resolve_udp(host: str, port: int = 0) -> tuple[int, tuple]:
    """(address family, socket address) for a UDP socket on host:port; InputError if the host does
    not resolve. `audiogan serve` calls it before the (slow) model load."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise InputError(f"cannot resolve host {host!r}: {exc}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


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
        if not 0 <= keep_jobs <= 1_000_000:
            raise InputError(f"keep_jobs must be between 0 and 1000000, got {keep_jobs}")
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
        self._queue = JobQueue(queue_size)
        self._active: dict[int, Job] = {}  # queued, running or writing: at most queue_size + 1
        self._finished: collections.OrderedDict[int, FinishedJob] = collections.OrderedDict()  # oldest first
        self._jobs_lock = threading.Lock()  # the two tables and every job's state
        self._next_job = 1
        self._running: Job | None = None
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._garbage = 0  # datagrams that were not OSC
        self._refused = 0  # OSC datagrams refused whole
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
        family, sockaddr = resolve_udp(self.host, self._port)  # before anything is created
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(self.out_dir, os.W_OK):
            raise InputError(f"output folder is not writable: {self.out_dir}")
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

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop receiving, abandon the running job at its next progress step, and return within
        `timeout` s. A worker still inside one model call is left behind (a daemon thread): it
        writes no file after stop, and the process may exit under it."""
        self._stopping.set()
        running = self._running
        if running is not None:
            running.cancel.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        if self._threads:
            log.warning("stopped with job %s still %s (a model call cannot be interrupted); it writes no file",
                        getattr(running, "id", "?"), getattr(running, "state", "running"))
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        LOG_LIMIT.report(log)

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

    def job(self, job_id: int) -> Job | FinishedJob | None:
        with self._jobs_lock:
            return self._active.get(job_id) or self._finished.get(job_id)

    # Sending --------------------------------------------------------------------------
    def _reply_address(self, addr: tuple) -> tuple:
        if self.reply_port is not None:
            return (addr[0], self.reply_port) + tuple(addr[2:])
        return addr

    def send(self, to: tuple, address: str, *args, tags: str | None = None) -> None:
        """One reply datagram. Strings are cut to MAX_REPLY_CHARS unless `tags` is given (an
        echo, which is never longer than the request it answers)."""
        if tags is None:
            args = [a[:MAX_REPLY_CHARS] + "..." if isinstance(a, str) and len(a) > MAX_REPLY_CHARS else a
                    for a in args]
        sock = self._sock
        if sock is None:
            return
        try:
            data = osc_wire.encode(address, list(args), tags)
            sock.sendto(data, to)
        except (OSError, ValueError, OverflowError) as exc:  # peer gone, network down, reply too big
            log.debug("could not send %s to %s: %s", address, to, exc)

    def _error(self, to: tuple, job: int, message: str, budget: _ErrorBudget | None = None) -> None:
        if budget is not None and not budget.take():
            return
        log.info("error to %s (job %d): %s", _peer(to), job, message)
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
                log.exception("unexpected error handling a datagram from %s", _peer(addr))

    def handle_datagram(self, data: bytes, addr: tuple) -> None:
        """Read one datagram with the bounded walker, then answer its messages in order."""
        to = self._reply_address(addr)
        try:
            messages = osc_wire.read(data)
        except osc_wire.NotOsc as exc:
            self._garbage += 1
            log.debug("ignored %d bytes from %s that are not OSC: %s", len(data), _peer(addr), exc)
            return
        except osc_wire.Refused as exc:
            self._refused += 1
            log.info("refused a datagram of %d bytes from %s: %s", len(data), _peer(addr), exc)
            self.send(to, f"{PREFIX}/error", -1, f"datagram refused: {exc}")
            return
        budget = _ErrorBudget(MAX_ERRORS_PER_DATAGRAM)
        for msg in messages:
            self._answer(msg, to, budget)
        if budget.held:
            log.info("%d more errors for one datagram from %s not sent", budget.held, _peer(addr))
            self.send(to, f"{PREFIX}/error", -1, f"{budget.held} more errors in this datagram were not answered "
                                                  f"(at most {MAX_ERRORS_PER_DATAGRAM} are)")

    def _answer(self, msg: osc_wire.Message, to: tuple, budget: _ErrorBudget) -> None:
        known = msg.address in self.handlers
        if msg.problem is not None and known and msg.address != f"{PREFIX}/ping":
            self._error(to, -1, f"{msg.address}: {msg.problem}", budget)
            return
        if msg.problem is not None and not known:
            shown = msg.address if len(msg.address) <= 80 else msg.address[:80] + "..."
            self._error(to, -1, f"message from {shown!r} not read: {msg.problem}", budget)
            return
        self._dispatch(msg.address, msg.args, to, budget=budget, reply_address=False)
        if msg.problem is not None:  # a ping: it echoed what it could read; say what it could not
            self._error(to, -1, f"{msg.address}: not echoed: {msg.problem}", budget)

    def _dispatch(self, address: str, args: list, addr: tuple, *, budget: _ErrorBudget | None = None,
                  reply_address: bool = True) -> None:
        to = self._reply_address(addr) if reply_address else addr
        handler = self.handlers.get(address)
        if handler is None:
            shown = address if len(address) <= 80 else address[:80] + "..."
            self._error(to, -1, f"unknown address {shown}; known: {' '.join(self.handlers)}", budget)
            return
        log.info("%s from %s (%d arguments)", address, _peer(to), len(args))
        try:
            handler(args, to)
        except JobError as exc:
            self._error(to, exc.job, str(exc), budget)
        except InputError as exc:
            self._error(to, -1, str(exc), budget)
        except Exception as exc:
            log.exception("error handling %s", address)
            self._error(to, -1, f"{address}: internal error: {type(exc).__name__}: {exc}", budget)

    # Handlers -------------------------------------------------------------------------
    def _parse_generate(self, args: list, delivery: Delivery | None = None, loop: bool = False,
                        candidates: int | None = None):
        """OSC arguments (options already split off) -> a checked Request with `delivery` (default:
        the server's), `loop` and `candidates` (None: the model's default). Only what is OSC's is
        done here (osc_args.generate_args); the request rules are the model's."""
        from audiogan_core.request import check_request

        where = f"{PREFIX}/generate"
        text, seed, seconds, variations = osc_args.generate_args(args, where)
        try:
            return self.model.check_request(check_request(text, seed=seed, variations=variations,
                                                          seconds=seconds, delivery=delivery or self.delivery,
                                                          loop=loop, candidates=candidates,
                                                          max_variations=self.max_variations))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None

    def _split_options(self, args: list) -> tuple[list, Delivery, bool, int | None]:
        """/audiogan/generate's positional arguments, and this request's delivery (the server's with
        the request's options applied), loop and candidates (osc_args.generate_options)."""
        return osc_args.generate_options(args, self.delivery, f"{PREFIX}/generate")

    def _on_generate(self, args: list, to: tuple) -> None:
        args, delivery, loop, candidates = self._split_options(args)
        request = self._parse_generate(args, delivery, loop, candidates)
        with self._jobs_lock:
            job = Job(self._next_job, request, to)
            self._next_job += 1
            try:
                self._queue.put_nowait(job)
            except QueueFull:
                raise JobError(job.id, f"busy: queue full ({self._queue.maxsize} waiting)") from None
            self._active[job.id] = job
        self._idle.clear()
        log.info("job %d from %s: %r seed %d, %.3g s, %d variation(s)%s", job.id, _peer(to), job.text, job.seed,
                 job.seconds, job.variations, ", loop" if request.loop else "")
        self.send(to, f"{PREFIX}/accepted", job.id)
        job.announced.set()

    def _finish(self, job: Job, state: str) -> None:
        """Under _jobs_lock: the job's last state; keep only a FinishedJob, at most keep_jobs."""
        job.state = state
        self._active.pop(job.id, None)
        if self.keep_jobs:
            self._finished[job.id] = FinishedJob(job, self.out_dir)
            while len(self._finished) > self.keep_jobs:
                self._finished.popitem(last=False)

    def _job_arg(self, args: list, where: str, usage: str) -> tuple[Job | FinishedJob, list]:
        if not args:
            raise InputError(f"{where}: missing job number; usage: {where} {usage}")
        job_id = osc_args.as_int(args[0], "job", where)
        job = self.job(job_id)
        if job is None:
            raise InputError(f"{where}: no job {job_id} (unknown, or forgotten)")
        return job, list(args[1:])

    def _on_play(self, args: list, to: tuple) -> None:
        where = f"{PREFIX}/play"
        job, rest = self._job_arg(args, where, "i:job [i:variation]")
        if self.player is None:
            raise InputError(f"{where}: no audio device; start the server with --audio-device NAME")
        if job.state != "done":
            raise InputError(f"{where}: job {job.id} is {job.state}, not done")
        files = list(job.files)
        if rest:
            v = osc_args.as_int(rest[0], "variation", where)
            if not 0 <= v < len(files):
                raise InputError(f"{where}: job {job.id} has variations 0..{len(files) - 1}, got {v}")
            files = [files[v]]
        for path in files:
            self.player.play_file(path)
        self.send(to, f"{PREFIX}/playing", job.id)

    def _on_cancel(self, args: list, to: tuple) -> None:
        """Exactly one reply per cancel: `cancelled` (now, or from the worker when it stops the
        job), or an error saying why not."""
        where = f"{PREFIX}/cancel"
        job, _ = self._job_arg(args, where, "i:job")
        with self._jobs_lock:
            if job.state in FINISHED:
                raise InputError(f"{where}: job {job.id} is already {job.state}")
            if job.cancel.is_set():
                raise InputError(f"{where}: job {job.id} is already being cancelled")
            if job.state == "writing":
                raise InputError(f"{where}: job {job.id} is writing its files; too late to cancel")
            job.cancel.set()
            if not (job.state == "queued" and self._queue.remove(job)):
                job.canceller = to  # running, or just taken by the worker: it answers
                return
            self._finish(job, "cancelled")
        self._maybe_idle()
        log.info("job %d cancelled while queued", job.id)
        self._send_cancelled(job, to)

    def _send_cancelled(self, job: Job, canceller: tuple | None) -> None:
        self.send(job.reply_to, f"{PREFIX}/cancelled", job.id)
        if canceller is not None and canceller != job.reply_to:
            self.send(canceller, f"{PREFIX}/cancelled", job.id)

    def _on_ping(self, args: list, to: tuple) -> None:
        tags = getattr(args, "tags", None)
        if tags is None:  # called with a plain list: tags from the values
            args = [a for a in args if isinstance(a, (bool, int, float, str, bytes, Raw, type(None)))]
        self.send(to, f"{PREFIX}/pong", *args, tags=tags)

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
            job.announced.wait(5)  # never reply about a job before its "accepted"
            with self._jobs_lock:
                cancelled = job.cancel.is_set()  # between leaving the queue and here
                if cancelled:
                    self._finish(job, "cancelled")
                else:
                    job.state = "running"
                    self._running = job
            if cancelled:
                self._send_cancelled(job, job.canceller)
                self._maybe_idle()
                continue
            try:
                self._run_job(job)
            except Exception:  # the worker outlives every job
                log.exception("job %d failed", job.id)
                with self._jobs_lock:
                    if job.state not in FINISHED:
                        self._finish(job, "error")
            finally:
                self._running = None
                self._maybe_idle()

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
            with self._jobs_lock:  # a cancel from now on is answered "too late"
                if job.cancel.is_set() or self._stopping.is_set():
                    raise _Cancelled
                job.state = "writing"
        except Exception as exc:
            with self._jobs_lock:
                # A cancel asked for before the model stopped wins, whatever the model did: the
                # canceller is owed exactly one reply, and "cancelled" is the truth for the job.
                cancelled = isinstance(exc, _Cancelled) or job.cancel.is_set()
                self._finish(job, "cancelled" if cancelled else "error")
            if cancelled:
                log.info("job %d cancelled while running", job.id)
                self._send_cancelled(job, job.canceller)
            elif isinstance(exc, AudioGANError):
                self._error(to, job.id, str(exc))
            else:
                log.exception("job %d failed", job.id)
                self._error(to, job.id, f"internal error: {type(exc).__name__}: {exc}")
            return
        failure = None
        for clip in clips:
            if self._stopping.is_set():
                failure = "the server is stopping"
                break
            try:
                job.files.append(self._write(job, clip))
            except Exception as exc:  # disk full, folder gone: report it, and what was written
                failure = _write_failure(exc, self.out_dir)
                log.warning("job %d: could not write file %d of %d: %s", job.id, len(job.files) + 1, len(clips),
                            failure)
                break
        with self._jobs_lock:
            self._finish(job, "error" if failure else "done")
        if failure is None:
            log.info("job %d done in %.2f s: %s", job.id, time.perf_counter() - t0,
                     ", ".join(p.name for p in job.files))
            self.send(to, f"{PREFIX}/progress", job.id, 1.0)
        for path in job.files:
            self.send(to, f"{PREFIX}/done", job.id, str(path))
        if failure is not None:
            self._error(to, job.id, f"could not write file {len(job.files) + 1} of {len(clips)}: {failure}; "
                                    f"{len(job.files)} written (each sent as /audiogan/done)")
            return
        if self.player is not None and self.autoplay:
            for clip in clips:
                try:
                    self.player.play(clip.audio, clip.sample_rate)
                except Exception as exc:
                    log.warning("could not play job %d: %s", job.id, exc)

    def _write(self, job: Job, clip) -> Path:
        """The clip under the first free name; a broken symbolic link takes a name as any file does."""
        from audiogan_core.io import write_wav

        stem = f"{job.id:05d}_{slug(job.text)}_seed{clip.seed}"
        for n in range(1000):
            path = self.out_dir / (f"{stem}.wav" if n == 0 else f"{stem}_{n}.wav")
            if os.path.lexists(path):
                continue
            try:
                return write_wav(path, clip.audio, clip.sample_rate, target_rate=self.sample_rate,
                                 bit_depth=self.bit_depth, overwrite=False, recipe=getattr(clip, "recipe", None),
                                 level=getattr(clip, "level", None))
            except InputError:
                if os.path.lexists(path):  # lost a race for the name: take the next suffix
                    continue
                raise
        raise InputError(f"could not find a free file name for {stem}.wav in {self.out_dir}")


def _peer(addr: tuple) -> str:
    return f"{addr[0]}:{addr[1]}" if len(addr) >= 2 else str(addr)
