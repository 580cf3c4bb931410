"""Logging for servers that strangers can talk to: levels as `audiogan serve` documents them,
and a filter that keeps any client from filling a disk through the log.

    -           warnings only: the server's own failures (disk full, output folder gone)
    -v          one line per request, reply error and refused datagram
    -vv         debugging detail (datagrams that are not OSC, replies that could not be sent)
"""
from __future__ import annotations

import logging
import sys
import threading
import time

LOGGER = "audiogan_bridges"


def level_for(verbose: int) -> int:
    return (logging.WARNING, logging.INFO, logging.DEBUG)[min(max(verbose, 0), 2)]


def configure(verbose: int, prefix: str = "audiogan serve: ") -> None:
    """Log the bridges at the level -v/-vv ask for; other libraries stay at warnings."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=prefix + "%(message)s")
    logging.getLogger(LOGGER).setLevel(level_for(verbose))


class RateLimit(logging.Filter):
    """Each kind of line (a logger's message template at one level) may come `burst` times at
    once, then once every 1/per_second s; what is held back is counted and said on the next
    line of that kind ("N more like this not logged"). Every line is cut to max_chars."""

    def __init__(self, burst: int = 10, per_second: float = 1.0, max_chars: int = 500):
        super().__init__()
        self.burst, self.per_second, self.max_chars = burst, per_second, max_chars
        self._kinds: dict[tuple, list] = {}  # kind -> [tokens, last refill time, held back]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        kind = (record.name, record.levelno, template[:200])
        now = time.monotonic()
        with self._lock:
            state = self._kinds.get(kind)
            if state is None:
                if len(self._kinds) >= 1000:  # templates come from our code; this only guards a bug
                    self._kinds.clear()
                state = self._kinds[kind] = [float(self.burst), now, 0]
            state[0] = min(float(self.burst), state[0] + (now - state[1]) * self.per_second)
            state[1] = now
            if state[0] < 1.0:
                state[2] += 1
                return False
            state[0] -= 1.0
            held, state[2] = state[2], 0
        text = record.getMessage()
        if len(text) > self.max_chars:
            text = f"{text[:self.max_chars]}... ({len(text)} characters)"
        if held:
            text += f" ({held} more like this not logged)"
        record.msg, record.args = text, None
        return True

    def held_back(self) -> int:
        """Lines held back and not yet reported."""
        with self._lock:
            return sum(state[2] for state in self._kinds.values())

    def report(self, logger: logging.Logger) -> None:
        """Say how many lines of each kind are still held back (at stop)."""
        with self._lock:
            held = [(kind, state[2]) for kind, state in self._kinds.items() if state[2]]
            for _, state in self._kinds.items():
                state[2] = 0
        for (name, level, template), count in held:
            if logger.isEnabledFor(level):
                logger.handle(logger.makeRecord(name, level, "(log_limit)", 0,
                                                "%d more lines like %r were not logged", (count, template), None))

    def reset(self) -> None:
        with self._lock:
            self._kinds.clear()


LIMIT = RateLimit(burst=20, per_second=2.0)  # shared by the bridges' loggers (osc_server, audio_device)
