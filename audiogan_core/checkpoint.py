"""Checkpoints: the one place files of weights are read and checked.

- `load_state_dict` / `save_state_dict`: .safetensors files (what audiogan writes);
- `read_torch_checkpoint`: torch.save files from elsewhere (published generator, CLAP, HiFi-GAN,
  embedders, training checkpoints), always weights-only, optionally memory-mapped;
- `check_state_dict` / `load_state_dict_checked`: the one mismatch report (missing, unexpected
  and mis-shaped tensors by name).

Model folders: `config.json` (ModelConfig) + `generator.safetensors` [+ `discriminator.safetensors`]
[+ `extra.safetensors`]. Every file is written atomically (temp file + fsync + rename), so a crash
leaves the previous file or the new one, never half of one. (Files are replaced one by one, so a
crash between two of them can pair new weights with an old config; load_state_dict_checked then
refuses the mismatch with a message naming the tensors.)"""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Mapping

import torch

from .config import ModelConfig
from .errors import CheckpointError, ConfigError, ConfigMismatchError, InputError, MissingResourceError
from .io import atomic_save, atomic_write_text

CONFIG_FILE = "config.json"
GENERATOR_FILE = "generator.safetensors"
DISCRIMINATOR_FILE = "discriminator.safetensors"
EXTRA_FILE = "extra.safetensors"
MAX_LISTED = 10


# ------------------------------------------------------------------------------------------
# Generic safetensors helpers
# ------------------------------------------------------------------------------------------
def _plain_tensors(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in state_dict.items():
        if not torch.is_tensor(tensor):
            raise CheckpointError(f"cannot save {name!r}: not a tensor ({type(tensor).__name__})")
        # clone: safetensors refuses tensors that share storage (tied weights, views)
        out[str(name)] = tensor.detach().to("cpu").contiguous().clone()
    return out


def _str_metadata(metadata: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not metadata:
        return None
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}


def save_state_dict(path: str | Path, state_dict: Mapping[str, torch.Tensor],
                    metadata: Mapping[str, Any] | None = None) -> Path:
    """Write tensors to a .safetensors file atomically. Non-string metadata values are JSON-encoded."""
    from safetensors.torch import save_file

    tensors = _plain_tensors(state_dict)
    meta = _str_metadata(metadata)
    return atomic_save(Path(path), lambda tmp: save_file(tensors, tmp, metadata=meta))


def _corrupt(path: Path, exc: BaseException) -> CheckpointError:
    return CheckpointError(f"{path} is truncated or not a safetensors file: {exc}")


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise MissingResourceError(f"{what} not found: {path}")
    if not path.is_file():
        raise MissingResourceError(f"{what} is not a file: {path}")


def _read_header(path: Path) -> dict[str, Any]:
    """Parse and sanity-check the safetensors header (8-byte little-endian size + JSON)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise _corrupt(path, f"only {size} bytes")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8 or n > 100 * 2**20:
            raise _corrupt(path, f"header claims {n} bytes but the file has {size}")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(path, f"bad header ({exc})") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "header is not a JSON object")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise _corrupt(path, f"bad entry for tensor {name!r}") from None
    if 8 + n + end > size:
        raise _corrupt(path, f"tensor data needs {8 + n + end} bytes but the file has {size}")
    return header


def read_safetensors_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata stored in a .safetensors header ({} if none)."""
    path = Path(path)
    _require_file(path, "safetensors file")
    meta = _read_header(path).get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise _corrupt(path, "__metadata__ is not an object")
    return {str(k): str(v) for k, v in meta.items()}


def load_state_dict(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a .safetensors file; MissingResourceError if absent, CheckpointError if damaged."""
    from safetensors.torch import load_file

    path = Path(path)
    _require_file(path, "weights file")
    _read_header(path)  # clear message for truncation before safetensors' own
    try:
        return load_file(str(path), device=str(device))
    except Exception as exc:  # SafetensorError, OSError, RuntimeError...
        raise _corrupt(path, exc) from None


def _numpy_safe_globals() -> list:
    """The numpy scalar/dtype constructors that training scripts leave in checkpoint metadata
    (an epoch counter, a class count). Allowing exactly these keeps torch.load weights-only:
    tensors and plain containers, no arbitrary code."""
    import numpy as np

    allowed = [np.dtype]
    core = getattr(np, "_core", None) or getattr(np, "core")
    allowed += [(core.multiarray.scalar, "numpy.core.multiarray.scalar"), core.multiarray.scalar]
    for name in ("Int64DType", "Int32DType", "Float64DType", "Float32DType", "BoolDType"):
        dtype_cls = getattr(getattr(np, "dtypes", None), name, None)
        if dtype_cls is not None:
            allowed.append(dtype_cls)
    return allowed


def read_torch_checkpoint(path: str | Path, what: str = "checkpoint", *, mmap: bool = False) -> Any:
    """A torch.save file, read with torch.load(weights_only=True): tensors, numbers, strings, plain
    containers and numpy scalars, never objects that need code to rebuild, so a malicious file
    cannot run anything. `mmap=True` pages tensors in on first use (only the parts used of a large
    checkpoint are read; files in the legacy non-zip format are read whole). MissingResourceError
    when the file is absent, CheckpointError naming it for everything else."""
    import pickle
    import re
    import warnings
    import zipfile

    path = Path(path)
    _require_file(path, what)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch warns about pickle protocols before refusing
            if mmap:
                try:
                    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                except RuntimeError as exc:
                    if "mmap" not in str(exc):
                        raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        match = re.search(r"\bGLOBAL ([\w.]+)", str(exc))
        if match is None:  # garbage bytes end up here too ("invalid load key", "Unsupported operand")
            raise CheckpointError(f"cannot read {what} {path}: truncated or corrupt (not a torch checkpoint)") from None
        raise CheckpointError(f"cannot read {what} {path}: refused by the safe loader (torch.load weights_only=True): "
                              f"it pickles {match.group(1)}, not just tensors and plain containers") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise CheckpointError(f"cannot read {what} {path}: truncated or corrupt ({type(exc).__name__}: "
                              f"{reason[:300]})") from None


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        shown += f", and {len(items) - MAX_LISTED} more"
    return shown


def state_dict_mismatches(expected: torch.nn.Module | Mapping[str, Any], state_dict: Mapping[str, torch.Tensor]
                          ) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, mis-shaped 'name (model [..], checkpoint [..])') of a state dict
    against a module (or its state dict, or a name -> shape mapping). Missing and mis-shaped in
    model order, unexpected in file order: the first names shown are the most telling."""
    if isinstance(expected, torch.nn.Module):
        expected = expected.state_dict()
    shapes = {k: tuple(getattr(v, "shape", v)) for k, v in expected.items()}
    missing = [k for k in shapes if k not in state_dict]
    unexpected = [k for k in state_dict if k not in shapes]
    have = {k: tuple(getattr(v, "shape", ())) for k, v in state_dict.items()}
    shaped = [f"{k} (model {list(shapes[k])}, checkpoint {list(have[k])})"
              for k in shapes if k in have and shapes[k] != have[k]]
    return missing, unexpected, shaped


def check_state_dict(expected: torch.nn.Module | Mapping[str, Any], state_dict: Mapping[str, torch.Tensor],
                     what: str = "model") -> None:
    """ConfigMismatchError naming the missing, unexpected and mis-shaped tensors, if any: the one
    mismatch report every loader gives."""
    missing, unexpected, shaped = state_dict_mismatches(expected, state_dict)
    if missing or unexpected or shaped:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing: {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: {_listing(unexpected)}")
        if shaped:
            parts.append(f"{len(shaped)} with another shape: {_listing(shaped)}")
        raise ConfigMismatchError(f"{what}: the checkpoint does not fit the model config; tensors "
                                  + "; ".join(parts))


def load_state_dict_checked(module: torch.nn.Module, state_dict: Mapping[str, torch.Tensor],
                            what: str = "model", *, ignore_prefixes: tuple[str, ...] = ()) -> torch.nn.Module:
    """Strict load; on any mismatch raise ConfigMismatchError naming the tensors. Checkpoint
    tensors under `ignore_prefixes` (parts the module rebuilds itself) are dropped first."""
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith(ignore_prefixes)}
    check_state_dict(module, state_dict, what)
    try:
        module.load_state_dict(dict(state_dict), strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied
        raise ConfigMismatchError(f"{what}: {exc}") from None
    return module


# ------------------------------------------------------------------------------------------
# Model folders
# ------------------------------------------------------------------------------------------
def save_model(folder: str | Path, generator: torch.nn.Module, config: ModelConfig, *,
               extra_tensors: Mapping[str, torch.Tensor] | None = None,
               discriminator: torch.nn.Module | None = None,
               metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a model folder (created if needed): generator.safetensors, discriminator.safetensors
    (if given), extra.safetensors (if extra_tensors), then config.json. `metadata` goes into each
    safetensors header, with format/kind/config added."""
    from . import __version__

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"cannot create model folder {folder}: {exc}") from None
    base = {"format": "audiogan", "audiogan_version": __version__, "config": config.to_json()}
    base.update(metadata or {})
    save_state_dict(folder / GENERATOR_FILE, generator.state_dict(), {**base, "kind": "generator"})
    if discriminator is not None:
        save_state_dict(folder / DISCRIMINATOR_FILE, discriminator.state_dict(), {**base, "kind": "discriminator"})
    if extra_tensors:
        save_state_dict(folder / EXTRA_FILE, extra_tensors, {**base, "kind": "extra"})
    atomic_write_text(folder / CONFIG_FILE, config.to_json() + "\n")
    return folder


def load_config(folder: str | Path) -> ModelConfig:
    folder = Path(folder)
    if folder.is_file():
        raise InputError(f"{folder} is a file: a model is a folder (config.json and its weights), a bundled "
                         f"model's name, or the authors' generator.pt")
    if not folder.is_dir():
        raise MissingResourceError(f"model folder not found: {folder}")
    path = folder / CONFIG_FILE
    _require_file(path, "model config")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc})") from None
    try:
        return ModelConfig.from_json(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ConfigError(f"{path}: invalid model config ({exc})") from None


def load_model_folder(folder: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """(ModelConfig, generator state dict) from a folder written by save_model."""
    folder = Path(folder)
    config = load_config(folder)
    return config, load_state_dict(folder / GENERATOR_FILE)


def load_discriminator_state_dict(folder: str | Path) -> dict[str, torch.Tensor]:
    return load_state_dict(Path(folder) / DISCRIMINATOR_FILE)


def load_extra_tensors(folder: str | Path) -> dict[str, torch.Tensor]:
    """The extra tensors saved with save_model(..., extra_tensors=...), {} if there are none."""
    path = Path(folder) / EXTRA_FILE
    return load_state_dict(path) if path.exists() else {}
