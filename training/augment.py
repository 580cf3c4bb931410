"""Differentiable augmentation of what the discriminator sees (DiffAugment, Zhao et al. 2020;
ADA, Karras et al. 2020), for GANs trained on a few thousand clips.

With little data, D memorises the real clips and its gradients stop telling G anything useful.
Augmenting every mel D sees, real and generated alike, with transforms that are differentiable
(so G's gradient flows through them), widens what D has to learn without changing the
distribution G is asked to match: G is never shown an augmented target, only judged through one.

Ops on log-mels [B, 1, F, T], each applied to each clip with probability `p`, with parameters
drawn per clip from a seeded generator:
- ``gain``: add a level change of up to +-6 dB (clamped at the silence floor, as real mels are);
- ``shift``: move the clip by up to 1/8 of its length in time, filling with silence;
- ``timemask``: silence one run of up to 1/8 of the frames (cutout along time);
- ``freqmask``: silence one band of up to 1/8 of the mel bins.
"""
from __future__ import annotations

import math

import torch

from audiogan_core.mel import SILENCE_LOG_MEL

OPS = ("gain", "shift", "timemask", "freqmask")
MAX_GAIN_DB = 6.0
FRACTION = 1 / 8


def _apply(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), new, old)


def augment(mel: torch.Tensor, ops, p: float, generator: torch.Generator) -> torch.Tensor:
    """mel [B, 1, F, T] -> the same shape, each op in `ops` applied with probability p per clip."""
    if not ops or p <= 0:
        return mel
    b, _, f, t = mel.shape
    dev = mel.device

    def draw(*shape):
        return torch.rand(*shape, generator=generator).to(dev)

    x = mel
    for op in ops:
        on = draw(b) < p  # [B]
        if op == "gain":
            db = (draw(b) * 2 - 1) * MAX_GAIN_DB
            shifted = (x + (db * math.log(10) / 20).view(-1, 1, 1, 1)).clamp(min=SILENCE_LOG_MEL)
            x = _apply(on, shifted, x)
        elif op == "shift":
            most = max(1, int(t * FRACTION))
            offsets = torch.round((draw(b) * 2 - 1) * most).long()  # [B]
            index = torch.arange(t, device=dev)[None, :] - offsets[:, None]  # [B, T]: source frame
            valid = (index >= 0) & (index < t)
            moved = torch.gather(x, 3, index.clamp(0, t - 1)[:, None, None, :].expand(b, 1, f, t))
            moved = torch.where(valid[:, None, None, :], moved, torch.full_like(moved, SILENCE_LOG_MEL))
            x = _apply(on, moved, x)
        elif op in ("timemask", "freqmask"):
            size = t if op == "timemask" else f
            width = (draw(b) * size * FRACTION).long() + 1  # [B]
            start = (draw(b) * (size - width + 1).float()).long()  # [B]
            pos = torch.arange(size, device=dev)[None, :]
            hole = (pos >= start[:, None]) & (pos < (start + width)[:, None])  # [B, size]
            hole = hole[:, None, None, :] if op == "timemask" else hole[:, None, :, None]
            x = _apply(on, torch.where(hole, torch.full_like(x, SILENCE_LOG_MEL), x), x)
        else:
            raise ValueError(f"unknown augmentation {op!r}; known: {', '.join(OPS)}")
    return x
