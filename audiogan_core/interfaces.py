"""What a plugin provides. Construction is cheap and tells sizes / mel config;
weights load on first use (or `load()`), so configs can be checked before anything runs."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from .config import MelConfig
from .errors import InputError, MelConfigMismatchError


@dataclass
class TextFeatures:
    words: torch.Tensor  # [B, L, Dw] float, padded positions arbitrary (masked by lengths)
    lengths: torch.Tensor  # [B] int64, number of valid word features (>= 1)
    sentence: torch.Tensor  # [B, Ds] float

    def to(self, device) -> "TextFeatures":
        return TextFeatures(self.words.to(device), self.lengths.to(device), self.sentence.to(device))

    def select(self, i: int) -> "TextFeatures":
        """Text i alone (batch 1)."""
        return TextFeatures(self.words[i:i + 1], self.lengths[i:i + 1], self.sentence[i:i + 1])

    def repeat_interleave(self, k: int) -> "TextFeatures":
        return TextFeatures(self.words.repeat_interleave(k, 0), self.lengths.repeat_interleave(k, 0),
                            self.sentence.repeat_interleave(k, 0))


class TextEncoder(ABC):
    """texts -> TextFeatures. Frozen: never trained by audiogan."""

    name: str = "?"
    word_dim: int
    sentence_dim: int
    max_words: int = 64  # longer texts are truncated to this many tokens

    def load(self, device: str | torch.device = "cpu") -> "TextEncoder":
        """Load weights (idempotent) and move to `device`."""
        return self

    @abstractmethod
    def encode(self, texts: list[str]) -> TextFeatures: ...

    def check_texts(self, texts) -> list[str]:
        """`texts` as a non-empty list of strings (one string is a list of one), else InputError."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise InputError(f"{self.name} text encoder: no texts to encode")
        bad = [t for t in texts if not isinstance(t, str)]
        if bad:
            raise InputError(f"{self.name} text encoder: texts must be strings, got {type(bad[0]).__name__}")
        return texts


class Vocoder(ABC):
    """log-mel [B, n_mels, T] (MelConfig's front end) -> waveform [B, T * hop]."""

    name: str = "?"
    mel_config: MelConfig

    @property
    def sample_rate(self) -> int:
        return self.mel_config.sample_rate

    def load(self, device: str | torch.device = "cpu") -> "Vocoder":
        return self

    @abstractmethod
    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor: ...

    def check_mel_config(self, asked, source: str = "") -> None:
        """For a vocoder with a fixed front end (its weights'): `asked` (a MelConfig or its dict,
        e.g. the model's; None: nothing asked) must be mel_config, else MelConfigMismatchError
        naming the fields that differ."""
        if asked is None:
            return
        expected = asked if isinstance(asked, MelConfig) else MelConfig.from_dict(asked)
        if expected != self.mel_config:
            where = f" {source}" if source else ""
            raise MelConfigMismatchError(f"{self.name} vocoder{where} expects another mel front end "
                                         f"({expected.differences(self.mel_config)})")

    def check_input(self, log_mel) -> tuple[torch.Tensor, bool]:
        """(log_mel as a tensor [B, n_mels, T], squeezed): a single [n_mels, T] is given a batch
        dimension (`squeezed` True: drop it from the output). InputError for another shape,
        MelConfigMismatchError for another number of mel bins than mel_config's."""
        if not torch.is_tensor(log_mel):
            log_mel = torch.as_tensor(log_mel)
        squeezed = log_mel.dim() == 2
        if squeezed:
            log_mel = log_mel.unsqueeze(0)
        if log_mel.dim() != 3:
            raise InputError(f"{self.name} vocoder: log-mel must be [B, n_mels, T] (or [n_mels, T]), "
                             f"got {tuple(log_mel.shape)}")
        if log_mel.shape[1] != self.mel_config.n_mels:
            raise MelConfigMismatchError(f"{self.name} vocoder takes {self.mel_config.n_mels} mel bins, "
                                         f"got {log_mel.shape[1]}")
        return log_mel, squeezed


class Embedder(ABC):
    """Audio -> embeddings (and optionally class probabilities) for evaluation metrics."""

    name: str = "?"
    sample_rate: int
    dim: int
    num_classes: int = 0  # 0 when the embedder has no classifier head (no IS / KL)
    supports_text: bool = False  # True when embed_text() works (text-audio similarity, CLAP score)

    def load(self, device: str | torch.device = "cpu") -> "Embedder":
        return self

    @abstractmethod
    def embed(self, audio: list, sample_rate: int) -> "EmbeddingResult": ...

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """[N, dim] text embeddings in the audio embedding space (only if supports_text)."""
        raise NotImplementedError(f"embedder {self.name!r} cannot embed text")


@dataclass
class EmbeddingResult:
    embeddings: "torch.Tensor"  # [N, dim] float
    probabilities: "torch.Tensor | None" = None  # [N, num_classes], rows sum to 1
