"""TrainConfig: every number of a run, saved as JSON beside each checkpoint."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiogan_core.config import ModelConfig, preset
from audiogan_core.errors import ConfigError
from audiogan_core.losses import MOMENT_TERMS, LossConfig


def _is_number(value: Any) -> bool:
    """A JSON number: int or float, and not a bool (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=lambda: preset("small"))
    losses: LossConfig = field(default_factory=LossConfig)
    steps: int = 100_000  # generator updates
    batch_size: int = 8
    lr_g: float = 1e-4  # paper, sec. 4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.5, 0.999)
    d_steps_per_g: int = 2
    ema_decay: float = 0.999
    # Fresh runs only (not --resume / --init-from): before the first step, set the generator's
    # output bias to the mean log-mel of the training crops. The output layer is a spectrally
    # normalised 1x1 conv that starts near 0 while log-mels sit around -5..-7, and Adam moves the
    # bias by ~lr per step: without this, thousands of steps go into finding the level.
    init_output_level: bool = True
    seed: int = 0
    checkpoint_every: int = 250
    preview_every: int = 500
    log_every: int = 10
    num_previews: int = 4
    holdout_fraction: float = 0.0  # clips kept out of training (by a hash of the path)
    holdout_file: str | None = None  # JSON list (or {"files": [...]}) of paths, relative to the data folder
    max_file_seconds: float = 600.0
    amp: bool = True  # bf16 autocast, CUDA only
    compile: bool = False  # torch.compile, CUDA only
    num_workers: int = 0
    # How the discriminator sees the caption. "paired" (the paper): its SDT stages attend to it.
    # "blind": its trunk sees a null text and the caption enters only through the projection
    # head, so the contrastive losses compare audio-only features with the text (with "paired",
    # D learns to copy the sentence into g and those losses stop depending on the audio).
    d_text: str = "paired"
    # Matching-aware hinge (GAN-INT-CLS): D also scores real audio with another item's caption
    # as fake, weighted by this. 0 turns it off. Pairs whose captions are equal are left out.
    mismatch_weight: float = 0.0
    # Auxiliary category classifier (AC-GAN, not in the paper): a head on D's global feature
    # learns the sound category of real clips' captions (training/categories.py; clips whose
    # caption has none are left out), and G is trained so its clips get its caption's category,
    # weighted by this. 0 turns it off. The head is kept in the training checkpoint only.
    category_weight: float = 0.0
    # With the category head on: give it one more class, "generated", learnt on G's clips (the
    # K+1 classifier of semi-supervised GANs, Salimans et al. 2016). G then meets the head only
    # with clips it cannot tell from real ones of that category, not with any feature that
    # happens to move the K real-category logits. A K-class head in the checkpoint is grown.
    category_fakes: bool = False
    # Paired spectral moments (not in the paper): L1 between the per-mel-bin mean and standard
    # deviation over time of G's clip and of the real clip its caption came with
    # (audiogan_core.losses.spectral_moment_loss), weighted by this. The adversarial terms leave
    # G free to make any clip D cannot tell apart; this ties each caption to its recordings'
    # spectral shape directly. 0 (default): off.
    moment_weight: float = 0.0
    # Which per-bin statistics the moment loss compares (audiogan_core.losses.MOMENT_TERMS):
    # "mean" and "std" (default), "flux", each band's mean frame-to-frame change, and "envelope",
    # each band's mean in 1.5 s windows from the crop's start (an event, then its tail), and "onset",
    # the clip's onset rate (how often and how sharply it rises).
    moment_terms: tuple[str, ...] = ("mean", "std")
    # A weight per moment term by name (1 for any not named): the per-bin terms are a few tenths of a
    # nat, "onset" a few hundredths, so on its own it barely moves the loss.
    moment_term_weights: dict[str, float] = field(default_factory=dict)
    # Limit a moment term by name to the clips whose caption's category (training/categories.py) is
    # listed, e.g. {"onset_count": ["ui"]}: a term aimed at one kind's fault leaves the other kinds
    # to the rest of the loss. Terms not named apply to every clip. A mapping instead of a list weighs
    # each kind's clips, e.g. {"onset_count": {"ui": 1, "sword_melee_hit": 0.3}} (a list: 1 each).
    moment_term_categories: dict[str, tuple[str, ...] | dict[str, float]] = field(default_factory=dict)
    # An anchor for short fine-tunes (not in the paper): L1 between G's log-mel and the log-mel a
    # frozen copy of G as this run started (after --init-from) makes for the same text and noise,
    # weighted by this. Every term moves every clip a little; the anchor makes each small move
    # cost, so only a term that pushes hard on some clips (the onset count on a warbling alarm)
    # changes them, and the rest stay as the starting model made them. Under Adam a heavier anchor
    # turns each step more than it shortens it (runs Z in docs/bundled-model-experiments.md); a lower
    # lr_g shortens them. 0 (default): off.
    anchor_weight: float = 0.0
    # Which clips the anchor compares. "train": both in training mode (each batch's own statistics),
    # which batch norm keeps the same under changes it normalises away while its running
    # statistics, which the exported model uses, drift (run ZD). "eval": a second forward of G in
    # eval mode against the anchor in eval mode, so the generator as exported is what is held.
    anchor_mode: str = "train"
    # The same anchor on loops (any-length models): L1 between a one-block loop (config.model.loop_step_frames,
    # `loop=True`) the generator makes and the one its frozen start makes, same captions, fresh noise, weighted by
    # this. Training never makes a loop, so without it nothing holds the starting model's seams (run ZM moved them).
    # 0 (default): off.
    loop_anchor_weight: float = 0.0
    # Fine-tunes of a model you like (not in the paper): G's batch norm layers normalise with the
    # running statistics it starts with, in training as in the exported model, and never update
    # them; each batch's own statistics are not used. Off (default): batch norm as in the paper.
    freeze_norm_stats: bool = False
    # Category-balanced batches (not in the paper): a clip whose caption's category
    # (training/categories.py; clips with none form one group) has c training clips is drawn
    # with probability proportional to c ** -category_balance, with replacement. 0 (default):
    # every clip once per epoch; 1: every category equally often. Rare kinds (animal calls,
    # voices) are otherwise seen a few times an epoch.
    category_balance: float = 0.0
    # Differentiable augmentation of everything D sees, real and generated alike (DiffAugment /
    # ADA; training/augment.py): any of "gain", "shift", "timemask", "freqmask", each applied to a
    # clip with probability augment_p. Empty (default): none.
    augment: tuple[str, ...] = ()
    augment_p: float = 0.5
    # Any-length models (noise_input "sequence" or "blocks") only: the crop lengths to train on, in mel frames
    # (multiples of 32); each step draws one. Empty (default): the model's base_frames * 32.
    crop_frames: tuple[int, ...] = ()
    # --init-from a fixed-length model into an any-length one: start the noise projection from the
    # old one's grid weights (audiogan_core.generator.sequence_projection_from_grid) rather than afresh.
    init_noise_projection: bool = False

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        if isinstance(self.losses, dict):
            self.losses = LossConfig.from_dict(self.losses)
        self.betas = tuple(self.betas)
        for name in ("steps", "batch_size", "d_steps_per_g", "checkpoint_every", "preview_every", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ConfigError("TrainConfig.batch_size must be at least 2: the contrastive losses need negatives")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"TrainConfig.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.d_text not in ("paired", "blind"):
            raise ConfigError(f"TrainConfig.d_text must be 'paired' or 'blind', got {self.d_text!r}")
        if self.anchor_mode not in ("train", "eval"):
            raise ConfigError(f"TrainConfig.anchor_mode must be 'train' or 'eval', got {self.anchor_mode!r}")
        for name in ("mismatch_weight", "category_weight", "moment_weight", "anchor_weight", "loop_anchor_weight"):
            value = getattr(self, name)
            if not _is_number(value) or not value >= 0:
                raise ConfigError(f"TrainConfig.{name} must be a number >= 0, got {value!r}")
        terms = self.moment_terms
        if isinstance(terms, str) or not isinstance(terms, (list, tuple)) or not terms \
                or any(t not in MOMENT_TERMS for t in terms) or len(set(terms)) != len(terms):
            raise ConfigError(f"TrainConfig.moment_terms must be distinct names from {list(MOMENT_TERMS)}, got {terms!r}")
        self.moment_terms = tuple(terms)
        weights = self.moment_term_weights
        if not isinstance(weights, dict) or any(k not in self.moment_terms for k in weights) \
                or any(not _is_number(v) or not v >= 0 for v in weights.values()):
            raise ConfigError(f"TrainConfig.moment_term_weights must map some of moment_terms {list(self.moment_terms)} "
                              f"to numbers >= 0, got {weights!r}")
        self.moment_term_weights = {k: float(v) for k, v in weights.items()}
        from .categories import category_names

        limits, known = self.moment_term_categories, set(category_names())

        def kinds_ok(v) -> bool:  # a non-empty list of known kinds, or a mapping of them to weights >= 0
            if isinstance(v, dict):
                return bool(v) and not set(v) - known and all(_is_number(w) and w >= 0 for w in v.values())
            return isinstance(v, (list, tuple)) and bool(v) and not set(v) - known

        if not isinstance(limits, dict) or any(k not in self.moment_terms for k in limits) \
                or not all(kinds_ok(v) for v in limits.values()):
            raise ConfigError(f"TrainConfig.moment_term_categories must map some of moment_terms "
                              f"{list(self.moment_terms)} to non-empty lists of categories from "
                              f"training/categories.py (or to mappings of them to weights >= 0), got {limits!r}")
        self.moment_term_categories = {k: {c: float(w) for c, w in v.items()} if isinstance(v, dict) else tuple(v)
                                       for k, v in limits.items()}
        value = self.category_balance
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"TrainConfig.category_balance must be a number in [0, 1], got {value!r}")
        if not isinstance(self.init_noise_projection, bool):
            raise ConfigError(f"TrainConfig.init_noise_projection must be true or false, "
                              f"got {self.init_noise_projection!r}")
        if self.init_noise_projection and self.model.noise_input != "sequence":
            raise ConfigError("TrainConfig.init_noise_projection is for noise_input 'sequence' (a 'blocks' model "
                              "takes a fixed-length model's noise projection as it is)")
        if not isinstance(self.freeze_norm_stats, bool):
            raise ConfigError(f"TrainConfig.freeze_norm_stats must be true or false, got {self.freeze_norm_stats!r}")
        if not isinstance(self.category_fakes, bool):
            raise ConfigError(f"TrainConfig.category_fakes must be true or false, got {self.category_fakes!r}")
        if self.category_fakes and not self.category_weight > 0:
            raise ConfigError("TrainConfig.category_fakes needs the category head: set category_weight > 0")
        from .augment import OPS

        self.augment = tuple(self.augment)
        bad = [op for op in self.augment if op not in OPS]
        if bad or len(set(self.augment)) != len(self.augment):
            raise ConfigError(f"TrainConfig.augment must list distinct ops from {OPS}, got {list(self.augment)}")
        if not _is_number(self.augment_p) or not 0.0 <= self.augment_p <= 1.0:
            raise ConfigError(f"TrainConfig.augment_p must be a number in [0, 1], got {self.augment_p!r}")
        self.crop_frames = tuple(self.crop_frames)
        step = self.model.frames_per_base_frame
        if self.crop_frames and not self.model.any_length:
            raise ConfigError("TrainConfig.crop_frames needs an any-length model (noise_input 'sequence' or 'blocks')")
        if self.loop_anchor_weight > 0 and not self.model.any_length:
            raise ConfigError("TrainConfig.loop_anchor_weight needs an any-length model (noise_input 'sequence' or "
                              "'blocks'): only those make loops")
        if any(not isinstance(n, int) or isinstance(n, bool) or n < step or n % step for n in self.crop_frames):
            raise ConfigError(f"TrainConfig.crop_frames must be multiples of {step} frames, got {list(self.crop_frames)}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ConfigError(f"TrainConfig.holdout_fraction must be in [0, 1), got {self.holdout_fraction}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model"] = self.model.to_dict()
        data["losses"] = self.losses.to_dict()
        data["betas"] = list(self.betas)
        data["augment"] = list(self.augment)
        data["crop_frames"] = list(self.crop_frames)
        data["moment_terms"] = list(self.moment_terms)
        data["moment_term_categories"] = {k: dict(v) if isinstance(v, dict) else list(v)
                                          for k, v in self.moment_term_categories.items()}
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        data = {k: v for k, v in data.items() if k != "about"}  # recipes carry a note for people
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"TrainConfig: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        from audiogan_core.io import read_json_object

        return cls.from_dict(read_json_object(path, "training config"))

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)
