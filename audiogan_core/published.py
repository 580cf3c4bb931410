"""Loading the authors' released generator weights (SeaSky1027/AudioGAN, `generator.pt`).

Their file is a plain state dict of their `Generator` (preset "paper" here). It differs from
ours in two ways that this module bridges:
  * their spectral norm also saves the derived buffers `<layer>.weight` (last normalised
    weight) and `<layer>.weight_sv` (last sigma); both are recomputed from `weight_orig` and
    `weight_u` at every forward, so they are dropped;
  * their SDT per-head gates were never registered (see attention.SDTAttention), so the file
    has none; ours are added as zeros, which is the value their code always used.
"""
from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch

from .config import ModelConfig, preset
from .errors import CheckpointError, ConfigMismatchError, MissingResourceError
from .generator import Generator

__all__ = ["convert_published_state_dict", "load_published_generator"]

_WRAPPER_KEYS = ("state_dict", "generator", "model", "netG", "G")
_LIST_LIMIT = 8  # names shown per category in error messages


def _unwrap(sd: Any) -> dict[str, Any]:
    """Accept the bare state dict, or one nested under a usual key, with or without the
    DataParallel 'module.' prefix."""
    if not isinstance(sd, Mapping):
        raise CheckpointError(f"expected a state dict (a mapping of names to tensors), got {type(sd).__name__}")
    if not any(isinstance(v, torch.Tensor) for v in sd.values()):
        for key in _WRAPPER_KEYS:
            if isinstance(sd.get(key), Mapping):
                return _unwrap(sd[key])
    out = {}
    for name, value in sd.items():
        if not isinstance(name, str):
            raise CheckpointError(f"state dict key {name!r} is not a string")
        out[name[len("module."):] if name.startswith("module.") else name] = value
    return out


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    return shown + (f" ... ({len(items) - _LIST_LIMIT} more)" if len(items) > _LIST_LIMIT else "")


def convert_published_state_dict(sd: Mapping[str, Any], config: ModelConfig | None = None) -> dict[str, torch.Tensor]:
    """The released generator's state dict -> one that `Generator(config).load_state_dict`
    accepts with strict=True. `config` defaults to preset("paper").

    Raises ConfigMismatchError naming missing, unexpected and mis-shaped tensors, and
    CheckpointError when the object is not a state dict of tensors.
    """
    config = config or preset("paper")
    return _convert(sd, config, Generator(config))


def _convert(sd: Mapping[str, Any], config: ModelConfig, model: Generator) -> dict[str, torch.Tensor]:
    sd = _unwrap(sd)
    bad = sorted(k for k, v in sd.items() if not isinstance(v, torch.Tensor))
    if bad:
        raise CheckpointError(f"state dict entries that are not tensors: {_names(bad)}")

    derived = {k for k in sd if k.endswith(".weight") and k[: -len("weight")] + "weight_orig" in sd}
    derived |= {k for k in sd if k.endswith(".weight_sv")}
    converted = {k: v for k, v in sd.items() if k not in derived}

    template = {k: v.shape for k, v in model.state_dict().items()}
    for name, ref in template.items():
        if name.endswith("head_gates") and name not in converted:
            converted[name] = torch.zeros(ref)  # the published gates: always 0

    # in model order (missing, mis-shaped) and file order (unexpected): the first names shown
    # are the earliest layers, usually the most telling
    missing = [k for k in template if k not in converted]
    unexpected = [k for k in converted if k not in template]
    misshaped = [f"{k} (file {list(converted[k].shape)}, model {list(ref)})"
                 for k, ref in template.items() if k in converted and converted[k].shape != ref]
    if missing or unexpected or misshaped:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing: {_names(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: {_names(unexpected)}")
        if misshaped:
            parts.append(f"{len(misshaped)} with another shape: {_names(misshaped)}")
        raise ConfigMismatchError(f"checkpoint does not fit the {config.name!r} generator config; " + "; ".join(parts))
    return converted


def _read(path: Path, device) -> Any:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device=str(device))
        except Exception as exc:  # safetensors raises its own SafetensorError for bad headers
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        # weights_only=True: the unpickler accepts tensors and plain containers only, never
        # arbitrary objects, so a malicious file cannot run code.
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing them
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        raise CheckpointError(
            f"{path}: refused or unreadable checkpoint ({first}). Only plain tensor state dicts are "
            "loaded (torch.load weights_only=True); objects that need code to rebuild are not.") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({type(exc).__name__}: "
                              f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no detail'})") from None


def load_published_generator(path: str | Path, device: str | torch.device = "cpu",
                             config: ModelConfig | None = None) -> Generator:
    """Build Generator(config or preset("paper")) from the authors' `generator.pt` (or a
    .safetensors with the same names), in eval mode on `device`."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(f"published generator weights not found: {path}")
    config = config or preset("paper")
    raw = _read(path, device)
    model = Generator(config)
    model.load_state_dict(_convert(raw, config, model), strict=True)
    return model.to(device).eval()
