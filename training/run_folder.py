"""The run folder every trainer (`train`, `train-vocoder`, `train-scorer`) writes into: one check of
what --out and --resume ask for, so that all three refuse the same mistakes with the same words."""
from __future__ import annotations

from pathlib import Path

from audiogan_core.errors import InputError

CHECKPOINT_NAME = "checkpoint.pt"


def check_run_folder(run_dir: Path, *, resume: bool, kind: str = "run") -> None:
    """Refuse --out when it is a file, when it already holds a run and --resume is not given, and
    --resume when there is no checkpoint to resume from. Only checks: each trainer creates the folder
    when it is ready to write."""
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"--out {run_dir} is a file, not a folder")
    has_run = (run_dir / CHECKPOINT_NAME).exists()
    if resume and not has_run:
        raise InputError(f"--resume: no {CHECKPOINT_NAME} in {run_dir} to resume from")
    if not resume and has_run:
        raise InputError(f"{run_dir} already holds a {kind}; pass --resume to continue it or choose another --out")


def cache_folder(run_dir: Path, cache_dir: str | Path | None) -> Path:
    """Where decoded mels and text features go: --cache-dir, or RUN/cache."""
    return Path(cache_dir) if cache_dir else run_dir / "cache"
