"""`hash`: a weight-free, deterministic text encoder for tests and tiny configurations.

Each lower-cased word token (``[a-z0-9']+``) maps to a fixed pseudo-random unit vector whose
entries come from SHAKE-256 of the token (salted with the vector kind and size), so the same
token gives the same vector in every process, on every platform and with every torch version
(no dependence on PYTHONHASHSEED or on torch's random generator). The sentence vector is the
L2-normalised mean of per-token sentence vectors (a second, independently salted table), so
texts sharing words have similar sentence vectors.
"""
from __future__ import annotations

import functools
import hashlib
import re

import numpy as np
import torch

from audiogan_core.errors import ConfigError
from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import TextEncoder, TextFeatures

TOKEN_RE = re.compile(r"[a-z0-9']+")
EMPTY_TOKEN = "<empty>"  # stands in for a text without any word so that lengths >= 1


@functools.lru_cache(maxsize=65536)
def token_vector(token: str, dim: int, salt: str) -> np.ndarray:
    """Unit vector [dim] (float32) determined only by (token, dim, salt)."""
    digest = hashlib.shake_256(f"audiogan-hash/{salt}/{dim}/{token}".encode("utf-8")).digest(4 * dim)
    raw = np.frombuffer(digest, dtype="<u4").astype(np.float64)
    values = (raw + 0.5) / 2.0 ** 32 * 2.0 - 1.0  # uniform in (-1, 1)
    values /= np.linalg.norm(values) + 1e-12
    out = values.astype(np.float32)
    out.setflags(write=False)
    return out


def tokenize(text: str) -> list[str]:
    return TOKEN_RE.findall(text.lower())


class HashTextEncoder(TextEncoder):
    """Deterministic bag-of-words encoder: no weights, no downloads, any sizes."""

    name = "hash"

    def __init__(self, word_dim: int = 32, sentence_dim: int = 32, max_words: int = 64):
        for key, value in (("word_dim", word_dim), ("sentence_dim", sentence_dim), ("max_words", max_words)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"hash text encoder: {key} must be a positive integer, got {value!r}")
        self.word_dim = word_dim
        self.sentence_dim = sentence_dim
        self.max_words = max_words

    def load(self, device="cpu") -> "HashTextEncoder":
        return self

    def encode(self, texts: list[str]) -> TextFeatures:
        texts = self.check_texts(texts)
        token_lists = []
        for text in texts:
            tokens = tokenize(text)[: self.max_words] or [EMPTY_TOKEN]
            token_lists.append(tokens)
        longest = max(len(t) for t in token_lists)
        words = np.zeros((len(texts), longest, self.word_dim), dtype=np.float32)
        sentence = np.zeros((len(texts), self.sentence_dim), dtype=np.float32)
        for i, tokens in enumerate(token_lists):
            for j, token in enumerate(tokens):
                words[i, j] = token_vector(token, self.word_dim, "word")
            mean = np.mean([token_vector(t, self.sentence_dim, "sentence") for t in tokens], axis=0)
            sentence[i] = mean / (np.linalg.norm(mean) + 1e-12)
        lengths = torch.tensor([len(t) for t in token_lists], dtype=torch.long)
        return TextFeatures(torch.from_numpy(words), lengths, torch.from_numpy(sentence))

    __call__ = encode


@hookimpl
def register_text_encoders(register):
    register("hash", HashTextEncoder,
             description="weight-free deterministic bag-of-words vectors (tests, tiny configs); "
                         "options: word_dim=32, sentence_dim=32")
