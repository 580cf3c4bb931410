"""Shared helpers for the evaluation embedders: input checking, resampling, finding the state dict in a
checkpoint (read with audiogan_core.checkpoint.read_torch_checkpoint, checked with load_state_dict_checked)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiogan_core.errors import CheckpointError, InputError, MissingResourceError
from audiogan_core.interfaces import EmbeddingResult


class ConvBlock(nn.Module):
    """Two 3x3 conv + BN + ReLU, then pooling: the block of PANNs CNN14 (`F.avg_pool2d`) and of
    aisfx's EmbeddingNet (`F.max_pool2d`), with their parameter names (conv1, bn1, conv2, bn2)."""

    def __init__(self, pool, cin: int, cout: int):
        super().__init__()
        self.pool = pool
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x, pool):  # [B, cin, T, F] -> [B, cout, T / pool[0], F / pool[1]]
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.pool(x, kernel_size=pool)


@dataclass
class FramedEmbeddingResult(EmbeddingResult):
    """EmbeddingResult plus the per-window embeddings each clip embedding was pooled from.

    `frames[i]` is [windows_i, dim]. VGGish sets it: the FAD convention (Kilgour et al.,
    audioldm_eval) fits the Gaussians to all 0.96 s frame embeddings, not to clip means."""

    frames: list | None = None


def prepare_audio(audio, sample_rate: int, target_rate: int, *, name: str) -> list[np.ndarray]:
    """A list of 1-D float32 clips at `target_rate`. Accepts a list of arrays (mono, or
    [samples, channels] which is mixed down) or a 2-D array [clips, samples]."""
    from audiogan_core.io import resample

    if isinstance(audio, np.ndarray) and audio.ndim == 2:
        audio = list(audio)
    if isinstance(audio, torch.Tensor):
        audio = [a for a in audio.detach().cpu().numpy()] if audio.ndim == 2 else [audio.detach().cpu().numpy()]
    if not isinstance(audio, (list, tuple)) or not audio:
        raise InputError(f"{name} embedder: pass a non-empty list of clips")
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise InputError(f"{name} embedder: sample_rate must be a positive integer, got {sample_rate!r}")
    clips = []
    for i, clip in enumerate(audio):
        if isinstance(clip, torch.Tensor):
            clip = clip.detach().cpu().numpy()
        clip = np.asarray(clip, dtype=np.float32)
        if clip.ndim == 2:
            clip = clip.mean(axis=1)
        if clip.ndim != 1:
            raise InputError(f"{name} embedder: clip {i} must be 1-D (or [samples, channels]), got shape {clip.shape}")
        if clip.size == 0:
            raise InputError(f"{name} embedder: clip {i} is empty")
        if not np.isfinite(clip).all():
            raise InputError(f"{name} embedder: clip {i} contains NaN or infinite samples")
        if int(sample_rate) != target_rate:
            clip = resample(clip, int(sample_rate), target_rate)
        clips.append(np.ascontiguousarray(clip, dtype=np.float32))
    return clips


def require_file(path, what: str, where: str) -> Path:
    """The checkpoint path, or MissingResourceError naming the file and where to get it."""
    if path is None or str(path) == "":
        raise MissingResourceError(f"{what} needs its checkpoint: pass checkpoint=PATH ({where})")
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingResourceError(f"{what} checkpoint not found: {p} ({where})")
    return p


def state_dict_from(obj, what: str, keys=("model", "state_dict")) -> dict:
    """The tensor dict inside a checkpoint: the object itself or obj[key] for the first key present."""
    if isinstance(obj, dict):
        for key in keys:
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{what}: the checkpoint holds no state dict of tensors")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def pick_device(device) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
