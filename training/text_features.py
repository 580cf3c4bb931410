"""Frozen text-encoder features per caption, computed once and cached on disk for training."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from audiogan_core.io import atomic_save, atomic_write_text


class TextFeatureCache:
    """Frozen text encoder features per caption, computed once (and kept on the CPU)."""

    def __init__(self, encoder, cache_file: Path | None = None):
        self.encoder = encoder
        self.cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.cache_file = cache_file
        if cache_file is not None and cache_file.is_file():
            try:
                from audiogan_core.checkpoint import load_state_dict

                data = load_state_dict(cache_file)
                captions = json.loads(cache_file.with_suffix(".json").read_text(encoding="utf-8"))
                for i, caption in enumerate(captions):
                    self.cache[caption] = (data[f"w{i}"], data[f"s{i}"])
            except Exception:  # a stale or broken cache is only a cache
                self.cache = {}

    def save(self) -> None:
        if self.cache_file is None:
            return
        from safetensors.torch import save_file

        captions = sorted(self.cache)
        tensors = {}
        for i, caption in enumerate(captions):
            tensors[f"w{i}"], tensors[f"s{i}"] = self.cache[caption]
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(self.cache_file, lambda tmp: save_file(tensors, tmp))
        atomic_write_text(self.cache_file.with_suffix(".json"), json.dumps(captions))

    def warm(self, captions, batch: int = 64) -> None:
        todo = sorted({c for c in captions if c not in self.cache})
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            feats = self.encoder.encode(chunk)
            for j, caption in enumerate(chunk):
                n = int(feats.lengths[j])
                self.cache[caption] = (feats.words[j, :n].float().cpu().contiguous(),
                                       feats.sentence[j].float().cpu().contiguous())

    def batch(self, captions: list[str], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        self.warm(captions)
        words = [self.cache[c][0] for c in captions]
        lengths = torch.tensor([w.shape[0] for w in words])
        padded = torch.zeros(len(words), int(lengths.max()), words[0].shape[1])  # [B, L, Dw]
        for i, w in enumerate(words):
            padded[i, :w.shape[0]] = w
        sentence = torch.stack([self.cache[c][1] for c in captions])  # [B, Ds]
        return padded.to(device), lengths.to(device), sentence.to(device)
