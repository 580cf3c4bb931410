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

from pathlib import Path
from typing import Any, Mapping

import torch

from .checkpoint import check_state_dict, load_state_dict, read_torch_checkpoint
from .config import ModelConfig, preset
from .errors import CheckpointError, MissingResourceError
from .generator import Generator

__all__ = ["convert_published_state_dict", "load_published_generator"]

_WRAPPER_KEYS = ("state_dict", "generator", "model", "netG", "G")


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
        raise CheckpointError(f"state dict entries that are not tensors: {', '.join(bad[:8])}"
                              + (f" ... ({len(bad) - 8} more)" if len(bad) > 8 else ""))

    derived = {k for k in sd if k.endswith(".weight") and k[: -len("weight")] + "weight_orig" in sd}
    derived |= {k for k in sd if k.endswith(".weight_sv")}
    converted = {k: v for k, v in sd.items() if k not in derived}

    template = {k: v.shape for k, v in model.state_dict().items()}
    for name, ref in template.items():
        if name.endswith("head_gates") and name not in converted:
            converted[name] = torch.zeros(ref)  # the published gates: always 0
    check_state_dict(template, converted, f"the {config.name!r} generator")
    return converted


def load_published_generator(path: str | Path, device: str | torch.device = "cpu",
                             config: ModelConfig | None = None) -> Generator:
    """Build Generator(config or preset("paper")) from the authors' `generator.pt` (or a
    .safetensors with the same names), in eval mode on `device`."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(f"published generator weights not found: {path}")
    config = config or preset("paper")
    raw = load_state_dict(path, device) if path.suffix == ".safetensors" else \
        read_torch_checkpoint(path, "published generator weights")
    model = Generator(config)
    model.load_state_dict(_convert(raw, config, model), strict=True)
    return model.to(device).eval()
