"""Job bookkeeping for the OSC server: a job while it waits, runs and writes; the small
record kept once it has finished; the bounded queue in front of the one worker."""
from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from pathlib import Path

from audiogan_core.delivery import Delivery
from audiogan_core.request import Request

FINISHED = ("done", "error", "cancelled")


class QueueFull(Exception):
    pass


@dataclass
class Job:
    id: int
    request: Request  # checked (audiogan_core.request), one text
    reply_to: tuple
    state: str = "queued"  # queued, running, writing, then done, error or cancelled
    files: list = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    canceller: tuple | None = None  # who asked to cancel, when the worker must answer
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


class FinishedJob:
    """What is kept of a finished job: its state and file names (one string), nothing else.
    At most keep_jobs of these are kept, each at most max_variations file names long."""
    __slots__ = ("id", "state", "_names", "_folder")

    def __init__(self, job: Job, folder: Path):
        self.id, self.state, self._folder = job.id, job.state, folder
        self._names = "\n".join(p.name for p in job.files)

    @property
    def files(self) -> list[Path]:
        return [self._folder / n for n in self._names.split("\n")] if self._names else []


class JobQueue:
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
