"""How well a log-mel matches a caption: a small contrastive mel-text model used to rerank
candidate clips (generate N noise draws, keep the one it rates closest to the text).

A GAN's generator costs milliseconds per clip, so drawing several and keeping the best is
cheap; the vocoder, the expensive part on a CPU, runs once. The scorer is trained on real
clips only (`audiogan train-scorer`), never on the generator's output, and the generator is
never trained against it. A model folder that holds scorer.safetensors + scorer.json accepts
`candidates=N`; `ScorerConfig.default_candidates` (1 unless set) applies when a request does not
say. Measured on the bundled models' held-out captions it has not lifted text control (README,
"Reranking"), so no bundled model ships a scorer.

    mel [B, n_mels, T] -> standardise -> stages x (Conv2d 3x3 stride 2, BN, ReLU) -> [B, C, F', T']
      -> mean over frequency -> [mean; max] over time -> Linear -> unit vector [B, dim]
    sentence [B, Ds] -> Linear -> unit vector [B, dim];   score = cosine
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .config import _from_dict
from .errors import CheckpointError, ConfigError
from .limits import MAX_CANDIDATES

SCORER_FILE = "scorer.safetensors"
SCORER_CONFIG_FILE = "scorer.json"


@dataclass(frozen=True)
class ScorerConfig:
    n_mels: int = 80
    sentence_dim: int = 384
    width: int = 32  # channels of the first stage; doubled per stage up to 8x
    stages: int = 5
    dim: int = 256
    mel_mean: float = -5.65  # standardisation of the input log-mel (the training clips' statistics)
    mel_std: float = 3.0
    score_frames: int = 256  # candidates are generated and scored at up to this many frames
    default_candidates: int = 1  # noise draws a clip is chosen from when a request does not say (1: off)

    def __post_init__(self):
        for name in ("n_mels", "sentence_dim", "width", "stages", "dim", "score_frames", "default_candidates"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ScorerConfig.{name} must be a positive integer, got {value!r}")
        if self.default_candidates > MAX_CANDIDATES:
            raise ConfigError(f"ScorerConfig.default_candidates must be at most {MAX_CANDIDATES}, "
                              f"got {self.default_candidates}")
        if not self.mel_std > 0:
            raise ConfigError(f"ScorerConfig.mel_std must be positive, got {self.mel_std}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "ScorerConfig":
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ConfigError("scorer config: expected a JSON object")
        return _from_dict(cls, data, "scorer config")


class MelTextScorer(nn.Module):
    def __init__(self, config: ScorerConfig):
        super().__init__()
        self.config = config
        widths = [1] + [config.width * 2 ** min(i, 3) for i in range(config.stages)]
        layers = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.BatchNorm2d(b), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        self.mel_proj = nn.Linear(2 * widths[-1], config.dim)
        self.text_proj = nn.Linear(config.sentence_dim, config.dim)
        self.log_scale = nn.Parameter(torch.tensor(2.302585))  # contrastive temperature, ln 10

    def embed_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """mel [B, n_mels, T] (any T >= 1) -> [B, dim], unit length."""
        cfg = self.config
        x = (mel - cfg.mel_mean) / cfg.mel_std
        x = self.convs(x[:, None])  # [B, C, F', T']
        x = x.mean(2)  # [B, C, T']
        x = torch.cat([x.mean(-1), x.amax(-1)], 1)  # [B, 2C]
        return F.normalize(self.mel_proj(x), dim=-1)  # [B, dim]

    def embed_text(self, sentence: torch.Tensor) -> torch.Tensor:
        """sentence [B, Ds] -> [B, dim], unit length."""
        return F.normalize(self.text_proj(sentence), dim=-1)

    def forward(self, mel: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """mel [B, n_mels, T], sentence [B, Ds] or [1, Ds] -> cosine similarity [B]."""
        return (self.embed_mel(mel) * self.embed_text(sentence)).sum(-1)

    def logits(self, mel: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """All pairs of a batch: [B_mel, B_text], scaled by the learnt temperature."""
        scale = self.log_scale.exp().clamp(max=100.0)
        return scale * self.embed_mel(mel) @ self.embed_text(sentence).T


def save_scorer(folder: str | Path, scorer: MelTextScorer, metadata: dict | None = None) -> Path:
    """Write scorer.safetensors, then scorer.json, into `folder` (atomically, each)."""
    from .checkpoint import save_state_dict
    from .io import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": "audiogan", "kind": "scorer", "config": scorer.config.to_json(), **(metadata or {})}
    save_state_dict(folder / SCORER_FILE, scorer.state_dict(), meta)
    atomic_write_text(folder / SCORER_CONFIG_FILE, scorer.config.to_json() + "\n")
    return folder


def load_scorer(folder: str | Path) -> MelTextScorer | None:
    """The scorer in a model folder, or None if it has none (safetensors only: no pickled code)."""
    from .checkpoint import load_state_dict, load_state_dict_checked

    folder = Path(folder)
    weights, cfg_path = folder / SCORER_FILE, folder / SCORER_CONFIG_FILE
    if not weights.exists() and not cfg_path.exists():
        return None
    if not (weights.is_file() and cfg_path.is_file()):
        missing = SCORER_CONFIG_FILE if weights.exists() else SCORER_FILE
        raise CheckpointError(f"{folder}: has one half of a scorer; {missing} is missing")
    try:
        config = ScorerConfig.from_json(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, TypeError) as exc:
        raise ConfigError(f"{cfg_path}: invalid scorer config ({exc})") from None
    scorer = MelTextScorer(config)
    load_state_dict_checked(scorer, load_state_dict(weights), f"scorer in {folder}")
    return scorer.eval()


def check_scorer(scorer: MelTextScorer, n_mels: int, sentence_dim: int, where: str) -> None:
    cfg = scorer.config
    if (cfg.n_mels, cfg.sentence_dim) != (n_mels, sentence_dim):
        raise ConfigError(f"{where}: the scorer takes {cfg.n_mels} mels and {cfg.sentence_dim}-d sentence features, "
                          f"the model makes {n_mels} mels from {sentence_dim}-d ones")
