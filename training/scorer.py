"""`audiogan train-scorer`: train the mel-text scorer that reranks candidate clips
(audiogan_core/scorer.py) on the real recordings of a library.

Contrastive (InfoNCE, both directions) between a crop of each clip's log-mel and its caption's
sentence vector from the model's frozen text encoder; clips whose captions are equal are all
positives of each other (a library's captions repeat: "footsteps (gravel)"). Only the
library's training clips are used (never holdout.json's), and never generated audio. Every
batch is drawn from (seed, step), so --resume continues exactly where a run stopped.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from audiogan_core.config import _from_dict
from audiogan_core.errors import ConfigError, DataError
from audiogan_core.io import atomic_save, atomic_write_text
from audiogan_core.scorer import MelTextScorer, ScorerConfig, save_scorer

from .run_folder import cache_folder, check_run_folder

CHECKPOINT_FORMAT = "audiogan-scorer-checkpoint-1"
STATS_CLIPS = 200  # clips the input standardisation is measured on


@dataclass
class ScorerTrainConfig:
    model: str = "default"  # whose mel front end and text encoder the scorer serves
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3  # one-cycle peak (warm-up pct_start, then cosine down)
    pct_start: float = 0.05
    weight_decay: float = 1e-4
    crop_frames: int = 256  # random crops of this many frames (2.97 s at 22.05 kHz / hop 256)
    gain_nats: float = 1.5  # a random level offset of +-this on the log-mel (+-13 dB): level is no clue
    val_fraction: float = 0.05  # training clips kept aside (hashed by path) to report caption retrieval
    seed: int = 0
    holdout_file: str = "holdout.json"
    log_every: int = 100
    checkpoint_every: int = 200
    scorer: dict = field(default_factory=dict)  # ScorerConfig fields to set (n_mels, sentence_dim and the
    # input statistics come from the model and the data)

    def __post_init__(self):
        for name in ("steps", "batch_size", "crop_frames", "log_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ScorerTrainConfig.{name} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ConfigError("ScorerTrainConfig.batch_size must be at least 2 (contrastive batches)")
        if not 0 <= self.val_fraction < 0.5:
            raise ConfigError(f"ScorerTrainConfig.val_fraction must be in [0, 0.5), got {self.val_fraction}")
        if not 0 < self.pct_start < 1:
            raise ConfigError(f"ScorerTrainConfig.pct_start must be in (0, 1), got {self.pct_start}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ScorerTrainConfig":
        return _from_dict(cls, data, "scorer training config")


def _in_val(rel: str, fraction: float) -> bool:
    h = int.from_bytes(hashlib.blake2b(rel.encode(), digest_size=8).digest(), "big")
    return h / 2**64 < fraction


class ScorerTrainer:
    def __init__(self, config: ScorerTrainConfig, data_dir: str | Path, run_dir: str | Path, *,
                 resume: bool = False, cache_dir: str | Path | None = None, progress: bool = True):
        from audiogan_core import AudioGAN

        self.config, self.data_dir, self.run_dir = config, Path(data_dir), Path(run_dir)
        self.progress = progress
        self.cache_dir = cache_folder(self.run_dir, cache_dir)
        check_run_folder(self.run_dir, resume=resume, kind="scorer run")  # created once the data scan found clips
        model = AudioGAN.load(config.model)
        self.mel_config = model.config.mel
        self.text_encoder = model.text_encoder.load("cpu")
        self._build_data()
        state = self._read_checkpoint() if resume else None
        if state is not None:
            scorer_config = ScorerConfig.from_json(state["scorer_config"])
        else:
            sample = np.concatenate([np.asarray(m).ravel() for m in self.mels[:STATS_CLIPS]])
            scorer_config = ScorerConfig(**{**config.scorer, "n_mels": self.mel_config.n_mels,
                                            "sentence_dim": int(self.captions.shape[1]),
                                            "mel_mean": round(float(sample.mean()), 4),
                                            "mel_std": round(float(sample.std()), 4)})
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            self.scorer = MelTextScorer(scorer_config)
        self.optimiser = torch.optim.AdamW(self.scorer.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(self.optimiser, max_lr=config.lr, total_steps=config.steps,
                                                            pct_start=config.pct_start)
        self.step = 0
        if state is not None:
            self.scorer.load_state_dict(state["model"])
            self.optimiser.load_state_dict(state["optimiser"])
            self.schedule.load_state_dict(state["schedule"])
            self.step = int(state["step"])
        atomic_write_text(self.run_dir / "train_config.json", json.dumps(config.to_dict(), indent=2))

    def _build_data(self) -> None:
        from .library_scan import scan_library
        from .mel_dataset import FoleyDataset
        from .sampling import read_holdout, split_holdout

        cfg = self.config
        scan = scan_library(self.data_dir, mel_config=self.mel_config, clip_frames=cfg.crop_frames,
                            exclude=[self.cache_dir])
        holdout = self.data_dir / cfg.holdout_file
        items = split_holdout(scan.items, read_holdout(holdout))[0] if holdout.is_file() else scan.items
        val = [i for i, it in enumerate(items) if _in_val(it.rel or str(it.path), cfg.val_fraction)]
        if len(items) - len(val) < cfg.batch_size:
            raise DataError(f"{self.data_dir}: {len(items) - len(val)} training clips, fewer than a batch "
                            f"({cfg.batch_size})")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ds = FoleyDataset(items, self.mel_config, cfg.crop_frames, self.cache_dir, seed=cfg.seed)
        ds.precompute(progress=self.progress)
        self.mels = [ds.full_mel(i) for i in range(len(ds))]  # memory-mapped [n_mels, frames]
        captions = sorted({it.caption for it in items})
        index = {c: k for k, c in enumerate(captions)}
        self.caption_ids = np.array([index[it.caption] for it in items])
        with torch.no_grad():
            self.captions = torch.cat([self.text_encoder.encode(captions[k:k + 64]).sentence.float()
                                       for k in range(0, len(captions), 64)])  # [C, Ds]
        val_set = set(val)
        self.train_idx = np.array([i for i in range(len(items)) if i not in val_set])
        self.val_idx = np.array(val, dtype=np.int64)

    def crops(self, idx, rng: np.random.Generator | None) -> torch.Tensor:
        """Log-mel crops [B, n_mels, crop_frames]: random offsets with `rng`, the start without."""
        from .mel_dataset import SILENCE_LOG_MEL

        n = self.config.crop_frames
        out = []
        for i in idx:
            m = self.mels[i]
            t = m.shape[1]
            off = int(rng.integers(0, t - n + 1)) if rng is not None and t > n else 0
            c = np.array(m[:, off: off + n], dtype=np.float32)
            out.append(np.pad(c, ((0, 0), (0, n - c.shape[1])), constant_values=SILENCE_LOG_MEL))
        return torch.from_numpy(np.stack(out))

    def loss(self, mel: torch.Tensor, ids: np.ndarray) -> torch.Tensor:
        cid = torch.from_numpy(ids)
        logits = self.scorer.logits(mel, self.captions[cid])  # [B, B]
        same = (cid[:, None] == cid[None, :]).float()
        target = same / same.sum(1, keepdim=True)  # equal captions share the probability mass
        return 0.5 * (-(target * logits.log_softmax(1)).sum(1).mean() - (target * logits.log_softmax(0)).sum(0).mean())

    def train_step(self) -> float:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, self.step])
        idx = rng.choice(self.train_idx, size=cfg.batch_size, replace=False)
        mel = self.crops(idx, rng)
        mel = mel + torch.from_numpy(rng.uniform(-cfg.gain_nats, cfg.gain_nats, (len(idx), 1, 1)).astype(np.float32))
        self.scorer.train()
        loss = self.loss(mel, self.caption_ids[idx])
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        self.schedule.step()
        self.step += 1
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Caption retrieval on the clips kept aside: how often a clip's best-scoring caption, among
        all the library's captions, is its own (R@1)."""
        if not len(self.val_idx):
            return {}
        self.scorer.eval()
        a = self.scorer.embed_mel(self.crops(self.val_idx, None))
        t = self.scorer.embed_text(self.captions)
        top = (a @ t.T).argmax(1).numpy()
        return {"val_caption_r1": float((top == self.caption_ids[self.val_idx]).mean()),
                "val_clips": int(len(self.val_idx))}

    def save(self) -> None:
        state = {"format": CHECKPOINT_FORMAT, "config": json.dumps(self.config.to_dict()), "step": self.step,
                 "scorer_config": self.scorer.config.to_json(), "model": self.scorer.state_dict(),
                 "optimiser": self.optimiser.state_dict(), "schedule": self.schedule.state_dict()}
        atomic_save(self.run_dir / "checkpoint.pt", lambda tmp: torch.save(state, tmp))
        save_scorer(self.run_dir, self.scorer, {"step": self.step})

    def _read_checkpoint(self) -> dict:
        from audiogan_core.checkpoint import read_torch_checkpoint

        path = self.run_dir / "checkpoint.pt"  # check_run_folder made sure it is there
        state = read_torch_checkpoint(path, "scorer checkpoint")
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"{path} is not a scorer checkpoint")
        saved = ScorerTrainConfig.from_dict(json.loads(state["config"]))
        if saved.steps != self.config.steps or saved.seed != self.config.seed:
            raise ConfigError(f"{path} was a run of {saved.steps} steps with seed {saved.seed}; resume it with "
                              f"the same settings")
        return state

    def _log(self, record: dict) -> None:
        with open(self.run_dir / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def fit(self) -> None:
        from tqdm import tqdm

        from .vocoder import _on_stop_signals

        cfg = self.config
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, unit="step", desc="scorer")
        started, window, stop = time.time(), [], []
        restore = _on_stop_signals(lambda name: stop.append(name))
        try:
            while self.step < cfg.steps and not stop:
                window.append(self.train_step())
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    record = {"step": self.step, "time": round(time.time() - started, 1),
                              "loss": float(np.mean(window)), **self.evaluate()}
                    window = []
                    bar.set_postfix(loss=f"{record['loss']:.3f}", r1=f"{record.get('val_caption_r1', 0):.3f}")
                    self._log(record)
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
        finally:
            restore()
            bar.close()
            self.save()
        if stop:
            raise KeyboardInterrupt(f"stopped by {stop[0]} at step {self.step}")
