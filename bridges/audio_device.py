"""Play finished clips on a sound card (or a JACK server) through PortAudio (sounddevice).

    from audiogan_bridges.audio_device import Player, list_output_devices
    player = Player("jack")            # a device name, part of one, an index, a host API name, "default"
    player.start()
    player.play(clip.audio, clip.sample_rate)   # returns at once; resampled (soxr) to the device's rate
    player.wait_idle(5.0)
    player.stop()

One output stream is opened at start and kept open: a PortAudio callback pulls samples from
a queue and writes silence while nothing is queued, so clips play back to back without
gaps, clicks or re-opening the device, and under JACK the client's ports (`audiogan:out_0`,
`audiogan:out_1`) stay put for the user's routing. Resampling happens on the player's own
thread, never on the caller's (the OSC receiver) and never in the audio callback.

JACK: PortAudio only lists the JACK host API when a JACK server is running at the moment
PortAudio initialises; `Player` re-scans once if the asked-for device is not found, so a
server started after `import sounddevice` is still seen. The JACK client is named
"audiogan" (PaJack_SetClientName) and PortAudio connects its outputs to the physical
playback ports; connect them elsewhere with jack_connect or a patchbay.
"""
from __future__ import annotations

import collections
import ctypes
import logging
import queue
import threading

import numpy as np

from audiogan_core.errors import AudioGANError, InputError

from .log_limit import LIMIT

log = logging.getLogger(__name__)
log.addFilter(LIMIT)  # /audiogan/play comes from clients: bounded log

JACK_CLIENT_NAME = "audiogan"
_jack_name_buffer = None  # PortAudio keeps the pointer: the buffer must live as long as the process


class AudioDeviceError(AudioGANError):
    """No PortAudio, no such output device, or the device refused to open."""

    exit_code = 2


def _sd(rescan: bool = False):
    """The sounddevice module (imported late: it raises OSError when PortAudio is missing)."""
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio shared library not installed
        raise AudioDeviceError(
            f"audio output needs the PortAudio library ({exc}); on Debian/Ubuntu: apt-get install libportaudio2"
        ) from None
    global _jack_name_buffer
    if _jack_name_buffer is None:
        # Name our JACK client "audiogan" instead of "PortAudio". Only takes effect at the next
        # Pa_Initialize, so re-initialise once. Harmless where PortAudio has no JACK support.
        _jack_name_buffer = ctypes.create_string_buffer(JACK_CLIENT_NAME.encode())
        try:
            ctypes.CDLL(sd._libname).PaJack_SetClientName(_jack_name_buffer)
            rescan = True
        except (AttributeError, OSError):
            pass
    if rescan:
        sd._terminate()
        sd._initialize()
    return sd


def list_output_devices(rescan: bool = False) -> list[dict]:
    """Every output device PortAudio sees: index, name, hostapi, channels, default_samplerate."""
    sd = _sd(rescan)
    apis = sd.query_hostapis()
    out = []
    for dev in sd.query_devices():
        if dev["max_output_channels"] > 0:
            out.append({"index": dev["index"], "name": dev["name"], "hostapi": apis[dev["hostapi"]]["name"],
                        "channels": dev["max_output_channels"],
                        "default_samplerate": int(dev["default_samplerate"])})
    return out


def describe_devices(devices: list[dict]) -> str:
    if not devices:
        return "  (none: PortAudio sees no output device; is a sound server such as JACK running?)"
    return "\n".join(f"  [{d['index']}] {d['name']} ({d['hostapi']}, {d['channels']} ch, "
                     f"{d['default_samplerate']} Hz)" for d in devices)


def _match(query: str, devices: list[dict], sd) -> dict | None:
    q = query.strip()
    if q.isdigit():
        return next((d for d in devices if d["index"] == int(q)), None)
    if q.lower() == "default":
        idx = sd.default.device[1]
        if idx is None or idx < 0:
            return devices[0] if devices else None
        return next((d for d in devices if d["index"] == idx), None)
    exact = [d for d in devices if d["name"] == q]
    if exact:
        return exact[0]
    # A host API by name ("jack", "JACK Audio Connection Kit", "alsa"): its default output.
    for api in sd.query_hostapis():
        if q.lower() in api["name"].lower().split() or q.lower() == api["name"].lower():
            idx = api["default_output_device"]
            hit = next((d for d in devices if d["index"] == idx), None)
            if hit is None:
                hit = next((d for d in devices if d["hostapi"] == api["name"]), None)
            if hit is not None:
                return hit
    part = [d for d in devices if q.lower() in d["name"].lower()]
    if len(part) > 1:
        raise AudioDeviceError(f"audio device {query!r} is ambiguous; it matches:\n{describe_devices(part)}")
    return part[0] if part else None


def find_output_device(query: str | int) -> dict:
    """Resolve a user's device name to one output device. Accepts an index, "default", an
    exact name, a host API name ("jack") or a unique part of a name (case-insensitive)."""
    query = str(query)
    devices = list_output_devices()
    sd = _sd()
    hit = _match(query, devices, sd)
    if hit is None:  # a JACK server started after PortAudio initialised: look again
        devices = list_output_devices(rescan=True)
        hit = _match(query, devices, sd)
    if hit is None:
        raise AudioDeviceError(f"no audio output device {query!r}; output devices:\n{describe_devices(devices)}")
    return hit


class Player:
    """Plays mono clips, one after another, on one output device. `play()` never blocks on
    audio: clips go through a bounded queue to the player's thread (resampling), then to a
    buffer the PortAudio callback drains."""

    def __init__(self, device: str | int = "default", *, channels: int | None = None, max_queued: int = 64,
                 latency: str | float = "high"):
        self.device = find_output_device(device)
        self.sample_rate = int(self.device["default_samplerate"])
        self.channels = int(channels or min(2, self.device["channels"]))
        self.latency = latency
        self._requests: queue.Queue = queue.Queue(maxsize=max_queued)
        self._buffers: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0  # clips accepted by play() and not fully written to the device yet
        self._stream = None
        self._thread = None
        self._stopping = threading.Event()
        self.frames_played = 0  # clip samples handed to the device (for tests and status)
        self.underflows = 0

    # Life cycle -----------------------------------------------------------------------
    def start(self) -> "Player":
        sd = _sd()
        try:
            self._stream = sd.OutputStream(device=self.device["index"], samplerate=self.sample_rate,
                                           channels=self.channels, dtype="float32", latency=self.latency,
                                           callback=self._callback)
            self._stream.start()
        except Exception as exc:  # PortAudioError and friends
            raise AudioDeviceError(f"cannot open audio device {self.device['name']!r} at "
                                   f"{self.sample_rate} Hz: {exc}") from None
        self._thread = threading.Thread(target=self._run, name="audiogan-player", daemon=True)
        self._thread.start()
        log.info("playing on %s (%s, %d Hz, %d ch)", self.device["name"], self.device["hostapi"],
                 self.sample_rate, self.channels)
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._requests.put_nowait(None)
        except queue.Full:
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # device vanished (JACK server gone): nothing left to close
                pass
            self._stream = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # Playing --------------------------------------------------------------------------
    def play(self, audio: np.ndarray, sample_rate: int, *, path=None) -> None:
        """Queue a mono clip; returns at once. Raises InputError when too many are queued."""
        if self._stream is None:
            raise AudioDeviceError("player not started")
        if path is None:
            audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        with self._lock:
            self._pending += 1
            self._idle.clear()
        try:
            self._requests.put_nowait((audio, int(sample_rate), path))
        except queue.Full:
            self._done_one()
            raise InputError(f"busy: {self._requests.maxsize} clips already waiting to play") from None

    def play_stream(self, chunks, sample_rate: int) -> int:
        """Play a clip whose audio arrives in pieces (e.g. `AudioGAN.stream()`): the device starts
        on the first piece while later ones are still being made. Runs the iterator on the
        caller's thread (the caller is the producer) and returns the number of samples played
        from it. Pieces are resampled as one continuous stream (soxr), so the joins are seamless;
        if the producer falls behind, the device plays silence until the next piece arrives."""
        import soxr

        if self._stream is None:
            raise AudioDeviceError("player not started")
        rate = int(sample_rate)
        resampler = soxr.ResampleStream(rate, self.sample_rate, 1, dtype="float32") if rate != self.sample_rate \
            else None
        entry = [np.zeros(0, np.float32), 0, True]  # audio, position, still open
        with self._lock:
            self._pending += 1
            self._idle.clear()
            self._buffers.append(entry)
        total = 0
        try:
            pieces = iter(chunks)
            while True:
                piece = next(pieces, None)
                last = piece is None
                piece = np.zeros(0, np.float32) if last else np.asarray(piece, np.float32).reshape(-1)
                if resampler is not None:
                    piece = resampler.resample_chunk(piece, last=last)
                piece = np.clip(piece, -1.0, 1.0).astype(np.float32)
                total += piece.size
                with self._lock:  # keep only what is not played yet, plus the new piece
                    entry[0] = np.concatenate([entry[0][entry[1]:], piece])
                    entry[1] = 0
                if last:
                    break
        finally:
            with self._lock:
                entry[2] = False  # closed: the callback finishes it and counts it done
        return total

    def play_file(self, path) -> None:
        """Queue a sound file (read on the player's thread, mixed to mono); returns at once."""
        self.play(None, 0, path=path)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued clip has been handed to the device (plus its buffer)."""
        return self._idle.wait(timeout)

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def _done_one(self):
        with self._lock:
            self._pending -= 1
            if self._pending <= 0:
                self._pending = 0
                self._idle.set()

    def _run(self):
        from audiogan_core.io import read_audio, resample

        while not self._stopping.is_set():
            item = self._requests.get()
            if item is None:
                break
            audio, rate, path = item
            try:
                if path is not None:
                    audio, rate = read_audio(path)
                audio = resample(audio, rate, self.sample_rate)
                audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
            except Exception as exc:  # a file deleted since (one line: /audiogan/play comes from clients)
                log.warning("could not prepare %s for playback: %s", path or "a clip", exc)
                self._done_one()
                continue
            with self._lock:
                # The marker tells the callback where one clip ends (to count it done).
                self._buffers.append([audio, 0])

    def _callback(self, outdata, frames, time_info, status):
        if status.output_underflow:
            self.underflows += 1
        filled = 0
        finished = 0
        with self._lock:
            while filled < frames and self._buffers:
                entry = self._buffers[0]
                audio, pos = entry[0], entry[1]
                n = min(frames - filled, len(audio) - pos)
                outdata[filled:filled + n, :] = audio[pos:pos + n, None]
                filled += n
                entry[1] = pos + n
                if entry[1] >= len(audio):
                    if len(entry) > 2 and entry[2]:
                        break  # a stream still being made: wait for its next piece
                    self._buffers.popleft()
                    finished += 1
            self.frames_played += filled
        if filled < frames:
            outdata[filled:, :] = 0.0
        for _ in range(finished):
            self._done_one()
