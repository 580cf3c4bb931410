"""The order training sees the library in, and what it never sees.

`ResumableSampler` is an infinite, deterministic, DDP-sharded index stream with a
`state_dict()` that resumes exactly (optionally weighted: `balance_weights` draws small
caption categories more often); `draw_weights` mixes clip-length weights with a category mix
(the vocoder trainer's draws); `split_holdout` makes a held-out split that depends only on
each file's relative path (stable when files are added); `read_holdout` reads the list of
held-out files a library ships (holdout.json).
"""
from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from audiogan_core.errors import DataError, InputError

from .library_scan import LibraryItem


class ResumableSampler(torch.utils.data.Sampler):
    """Infinite deterministic index stream. Epoch e is ``torch.randperm(n)`` seeded with
    ``seed + e``, padded (by wrapping) to a multiple of `world_size` and sharded
    ``perm[rank::world_size]``, so every rank sees ``ceil(n / world_size)`` indices per epoch.

    `state_dict()` holds (epoch, position) of the next index to yield; `load_state_dict` resumes
    exactly there. A DataLoader prefetches, so the sampler runs ahead of training: pass the
    number of batches training really consumed since this sampler started (or was loaded) as
    ``state_dict(consumed_batches=k)`` to save the state right after those batches.

    ``with_epoch=True`` yields ``(epoch, index)`` pairs, which `FoleyDataset` accepts, so crop
    randomness follows the sampler's epoch even inside DataLoader workers.

    ``weights`` (one non-negative number per item) turns an epoch into n draws *with
    replacement*, item i drawn with probability weights[i] / sum(weights), from the same seeded
    generator; epoch length, sharding and resume work as above. See `balance_weights`.
    """

    def __init__(self, n: int, seed: int, batch_size: int, rank: int = 0, world_size: int = 1, *,
                 shuffle: bool = True, with_epoch: bool = False, weights: Sequence[float] | None = None):
        if n <= 0:
            raise DataError("cannot sample from an empty dataset")
        if weights is not None:
            weights = torch.as_tensor(weights, dtype=torch.float64)
            if weights.shape != (n,):
                raise InputError(f"weights must have one entry per item ({n}), got shape {tuple(weights.shape)}")
            if not torch.isfinite(weights).all() or (weights < 0).any() or not weights.sum() > 0:
                raise InputError("weights must be finite, non-negative and not all zero")
            if not shuffle:
                raise InputError("weighted sampling draws at random: it cannot be combined with shuffle=False")
        self.weights = weights
        if batch_size <= 0:
            raise InputError(f"batch_size must be positive, got {batch_size}")
        if world_size <= 0 or not 0 <= rank < world_size:
            raise InputError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
        self.n, self.seed, self.batch_size = int(n), int(seed), int(batch_size)
        self.rank, self.world_size = int(rank), int(world_size)
        self.shuffle, self.with_epoch = shuffle, with_epoch
        self.epoch = 0
        self.position = 0
        self._start = (0, 0)
        self._order_cache: tuple[int, list[int]] | None = None

    @property
    def per_epoch(self) -> int:
        """Indices per epoch on this rank."""
        return -(-self.n // self.world_size)

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.per_epoch // self.batch_size)

    def epoch_order(self, epoch: int) -> list[int]:
        """This rank's indices for `epoch`."""
        if self._order_cache is not None and self._order_cache[0] == epoch:
            return self._order_cache[1]
        g = torch.Generator().manual_seed(self.seed + epoch)
        if self.weights is not None:
            perm = torch.multinomial(self.weights, self.n, replacement=True, generator=g).tolist()
        elif self.shuffle:
            perm = torch.randperm(self.n, generator=g).tolist()
        else:
            perm = list(range(self.n))
        total = self.per_epoch * self.world_size
        while len(perm) < total:
            perm += perm[: total - len(perm)]
        order = perm[self.rank::self.world_size]
        self._order_cache = (epoch, order)
        return order

    def __iter__(self) -> Iterator:
        self._start = (self.epoch, self.position)
        while True:
            order = self.epoch_order(self.epoch)
            while self.position < len(order):
                index = order[self.position]
                epoch = self.epoch
                self.position += 1
                yield (epoch, index) if self.with_epoch else index
            self.epoch += 1
            self.position = 0

    def batches(self) -> Iterator[list]:
        """Infinite stream of index lists of `batch_size` (batches may span epoch boundaries)."""
        it = iter(self)
        while True:
            yield [next(it) for _ in range(self.batch_size)]

    def _advance(self, start: tuple[int, int], count: int) -> tuple[int, int]:
        absolute = start[0] * self.per_epoch + start[1] + count
        return absolute // self.per_epoch, absolute % self.per_epoch

    def state_dict(self, consumed_batches: int | None = None) -> dict[str, int]:
        if consumed_batches is None:
            epoch, position = self.epoch, self.position
        else:
            epoch, position = self._advance(self._start, int(consumed_batches) * self.batch_size)
        return {"epoch": epoch, "position": position, "seed": self.seed, "n": self.n, "rank": self.rank,
                "world_size": self.world_size, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        for key in ("seed", "n", "world_size"):
            if key in state and int(state[key]) != getattr(self, key):
                raise DataError(f"sampler state was saved with {key}={state[key]} but this run has "
                                f"{key}={getattr(self, key)}; the data or setup changed, resuming would not "
                                f"continue the same order")
        epoch, position = int(state["epoch"]), int(state["position"])
        if epoch < 0 or not 0 <= position <= self.per_epoch:
            raise DataError(f"invalid sampler state: epoch {epoch}, position {position}")
        self.epoch, self.position = self._advance((epoch, 0), position)
        self._start = (self.epoch, self.position)

    def __len__(self) -> int:  # one epoch; the stream itself is infinite
        return self.per_epoch


def balance_weights(groups: Sequence[str | None], power: float) -> list[float]:
    """Per-item sampling weights that draw small groups more often: an item of a group with c
    members (None is a group of its own) gets weight c ** -power. 0 keeps uniform weights, 1
    draws every group equally often. Weights are normalised to mean 1."""
    if not 0.0 <= float(power) <= 1.0:
        raise InputError(f"balance power must be in [0, 1], got {power}")
    counts = Counter(groups)
    raw = [counts[g] ** -float(power) for g in groups]
    mean = sum(raw) / len(raw) if raw else 1.0
    return [w / mean for w in raw]


def draw_weights(length_weights: np.ndarray, categories: list, mix: dict, share: float) -> np.ndarray:
    """Each clip's chance of being drawn: (1 - share) of it by length alone, `share` by the
    category mix (each category's weight split among its clips by length). Mix categories the
    library lacks are dropped; clips of categories outside the mix only get the first part."""
    base = length_weights / length_weights.sum()
    if share == 0:
        return base
    known = set(categories)
    present = {c: w for c, w in mix.items() if w > 0 and c in known}
    if not present:
        raise DataError(f"category_mix names no category of the training clips (mix: {sorted(mix)}; "
                        f"the clips have: {sorted({c for c in categories if c})[:20]})")
    total = sum(present.values())
    cats = np.array([c if c in present else "" for c in categories], dtype=object)
    by_mix = np.zeros_like(base)
    for c, w in present.items():
        rows = cats == c
        by_mix[rows] = w / total * length_weights[rows] / length_weights[rows].sum()
    return (1 - share) * base + share * by_mix


def _unit_hash(text: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}\0{text}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def _item_key(item) -> str:
    if isinstance(item, LibraryItem):
        return item.rel or item.path.as_posix()
    if isinstance(item, dict):
        return str(item.get("file") or item.get("rel") or item.get("path"))
    return str(item)


def split_holdout(items: Sequence, fraction: float | Iterable[str] = 0.08, seed: int = 0, *,
                  group: Callable[[Any], str | None] | None = None, min_per_group: int = 1,
                  key: Callable[[Any], str] | None = None) -> tuple[list, list]:
    """Deterministic (train, holdout) split.

    - `fraction` a float: an item is held out when blake2b(seed, relative path) maps below
      `fraction`; each file's side depends only on its own path, so adding files never moves
      existing ones. With `group` (e.g. a caption -> category function), every group with at
      least two items and fewer than `min_per_group` held-out members gets its lowest-hash
      members added, so each category is represented. `key` replaces the relative path as
      the hashed string: ``key=lambda it: it.caption`` keeps every clip of a caption on one
      side (no caption seen in both train and held-out).
    - `fraction` a list of relative paths: exactly those items are held out.
    Items may be `LibraryItem`s, dicts with a "file" key, or path strings."""
    items = list(items)
    if isinstance(fraction, (int, float)) and not isinstance(fraction, bool):
        if not 0.0 <= float(fraction) < 1.0:
            raise InputError(f"holdout fraction must be in [0, 1), got {fraction}")
        scores = [_unit_hash((key or _item_key)(item), seed) for item in items]
        held = {i for i, s in enumerate(scores) if s < fraction}
        if group is not None and fraction > 0:
            members: dict[str, list[int]] = {}
            for i, item in enumerate(items):
                g = group(item)
                if g is not None:
                    members.setdefault(g, []).append(i)
            for g, idx in members.items():
                if len(idx) < 2:
                    continue
                have = sum(1 for i in idx if i in held)
                for i in sorted(idx, key=lambda i: scores[i]):
                    if have >= min(min_per_group, len(idx) - 1):
                        break
                    if i not in held:
                        held.add(i)
                        have += 1
    else:
        wanted = {str(p).replace("\\", "/") for p in fraction}
        keys = [_item_key(item) for item in items]
        unknown = wanted - set(keys)
        if unknown:
            raise DataError(f"holdout list names {len(unknown)} file(s) not in the library, e.g. {sorted(unknown)[:3]}")
        held = {i for i, k in enumerate(keys) if k in wanted}
    train = [item for i, item in enumerate(items) if i not in held]
    holdout = [item for i, item in enumerate(items) if i in held]
    return train, holdout


def read_holdout(path: str | Path) -> list[str]:
    """The relative paths listed in a holdout file: a JSON list, or {"files": [...]}. Any fault
    (missing, not UTF-8 JSON, another shape) raises DataError naming the file."""
    from audiogan_core.io import read_json

    data = read_json(path, "holdout file", types=(dict, list), error=DataError)
    files = data.get("files") if isinstance(data, dict) else data
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise DataError(f"holdout file {path} must hold a list of relative paths (or {{'files': [...]}})")
    return files


def library_split(root: str | Path) -> tuple[list[dict], list[dict]]:
    """(training rows, held-out rows) of a library: its caption rows (audiogan_core.library's
    caption_table: dicts with file, caption and the rows' other columns, such as category),
    split by its holdout.json; the held-out rows sorted by file. For the evaluation scripts."""
    from audiogan_core.library import caption_table

    root = Path(root)
    table, _ = caption_table(root)
    rows = [{"file": row.file, "caption": row.caption, **row.extra} for row in table.values()]
    held = set(read_holdout(root / "holdout.json"))
    return ([r for r in rows if r["file"] not in held],
            sorted((r for r in rows if r["file"] in held), key=lambda r: r["file"]))
