"""Train the `vocos` vocoder (plugins/vocoders/vocos.py) on a library of real recordings.

    audiogan train-vocoder --data data/debian-foley --out runs/vocos            # or --resume

Targets, per random segment of `segment_frames` mel frames:
- the real audio: log-mel L1 and a multi-resolution STFT loss (spectral convergence + log
  magnitude) at three resolutions: these fix the magnitudes;
- optionally a teacher vocoder's waveform for the same mel (`teacher: "hifigan"`, the universal
  HiFi-GAN): a magnitude-weighted phase loss at two resolutions. A mel does not determine the
  real recording's phase, so magnitude losses alone leave phase free (the "phasey" sound of
  non-adversarial vocoders); the teacher's output is a deterministic function of the mel, so its
  phase is a target the student can learn;
- optionally (`generated_share` > 0) segments of mels that a text-to-audio model made for the
  library's training captions: a generator's mels are not quite a recording's, and this is the
  input the vocoder meets behind `audiogan generate`. With `generated_target` "teacher" the
  teacher's waveform for them stands in for the real audio in every loss; with "mel" they have no
  waveform target at all: the output's log-mel must match the mel it was made from, and the critic
  (which only ever sees recordings as real) must take it for a recording;
- optionally the recordings' segments augmented before their mel is taken (`aug_gain_db`: a random
  gain; `aug_mix_share`: a second segment added), so the vocoder meets levels and blends the
  library itself lacks, each still paired with its exact waveform.

The corpus (training/vocoder_corpus.py) is prepared once into `<cache>/vocoder-corpus/` (per
clip: the loudness-normalised waveform at the model's rate, its log-mel and the teacher's waveform,
as .npy keyed by the file's hash) and memory-mapped. The held-out clips of the library (`holdout.json`) are never trained on;
a fixed subset of them is scored every `eval_every` steps (log-mel L1 and MR-STFT distance to the
real audio, beside the teacher's own scores on the same clips) and written to `log.jsonl`.

A run folder holds `checkpoint.pt` (model, optimiser, step; `weights_only=True`, written
atomically), `vocos.safetensors` + `vocos.json` (the exported weights, float16), `log.jsonl` and
`train_config.json`. Segment choice and everything random at step s come from a generator seeded
by (seed, s), so `--resume` continues the same stream.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from audiogan_core.config import _from_dict
from audiogan_core.errors import CheckpointError, ConfigError, DataError, InputError
from audiogan_core.io import atomic_save, atomic_write_text
from audiogan_core.mel import SILENCE_LOG_MEL, MelFrontEnd
from audiogan_plugins.vocoders.vocos import VocosConfig, VocosModel, save_vocos

from .precision import bf16_autocast
from .run_folder import cache_folder, check_run_folder
from .vocoder_corpus import prepare_corpus, prepare_generated_corpus
from .vocoder_losses import aggregate_scores, envelope_loss, mrstft_loss, phase_loss, resynthesis_scores

CHECKPOINT_FORMAT = "audiogan-vocoder-train-1"
SILENT_SEGMENT_RMS = 10 ** (-60 / 20)
HEAD_PREFIXES = ("head.", "short_head.", "short_gate", "envelope.")  # what train_head_only trains
NEW_HEAD_PREFIXES = ("short_head.", "short_gate", "envelope.")  # what learns during new_heads_warmup_steps
OPTIONAL_CRITICS = ("period_discriminators.", "envelope_discriminators.")  # may start afresh beside a loaded critic
RENAMED = {"short_head_warmup_steps": "new_heads_warmup_steps", "short_head_warmup_lr": "new_heads_warmup_lr"}
# short_head_init "long": -1 for the shorter frame (a sinusoid's peak scales with n_fft, noise with its
# square root), -3 for about 5% of the long head's amplitude
SHORT_FROM_LONG_LOG_OFFSET = -4.0


@dataclass
class VocoderTrainConfig:
    model: VocosConfig = field(default_factory=VocosConfig)
    steps: int = 60000
    batch_size: int = 16
    segment_frames: int = 64
    lr: float = 5e-4
    lr_min: float = 1e-5
    warmup_steps: int = 200
    betas: tuple = (0.8, 0.99)
    weight_decay: float = 0.01
    w_mel: float = 1.0
    w_stft: float = 1.0
    w_phase: float = 1.0  # the teacher's phase; 0 (or teacher "") trains on the real audio alone
    # L1 between the log levels (ENVELOPE_WINDOW / ENVELOPE_STEP) of the output and the target: an L1
    # in the log domain is least for the median of the places an attack could be, a sharp step, where
    # the magnitude losses' squared terms favour one spread over them
    w_envelope: float = 0.0
    # Adversarial phase (training/vocoder_discriminator.py): 0 leaves the critic out entirely.
    w_adv: float = 0.0
    w_fm: float = 0.0
    disc_resolutions: tuple = ((512, 128), (1024, 256), (2048, 512))
    disc_channels: int = 32
    # Periods of the waveform critics beside the spectrogram ones (HiFi-GAN's MPD, narrow; () = none)
    disc_periods: tuple = ()
    disc_period_channels: int = 16
    # Width of the envelope critic (band levels every 32 samples beside the mel; 0 = none)
    disc_envelope_channels: int = 0
    disc_lr: float = 2e-4
    # the critic trains alone for this many steps first, so the vocoder never follows an untrained one
    adv_start_step: int = 0
    # Only the inverse-STFT head learns; the backbone is frozen. Warms up a fresh head (another
    # head_n_fft / head_subframes) cheaply before joint training, so a random head's gradients never
    # reach a trained backbone.
    train_head_only: bool = False
    # Only the heads that join afresh (short head and gate, envelope) learn, all run long and with the
    # critic: the rest of the vocoder stays exactly the one it starts from.
    train_new_heads_only: bool = False
    # The heads that join afresh (the short head and its gate, the envelope) first learn alone for
    # this many steps: the rest frozen, regression losses only, no critic step, at the constant
    # new_heads_warmup_lr. The run's own schedule (warmup_steps, cosine to `steps`) starts after it;
    # `steps` itself ends a run that is only the warm-up. A fresh short head's log-magnitudes sit near
    # 0, so its raw output is louder than the signal; a gate at 0 beside it never opens.
    new_heads_warmup_steps: int = 0
    new_heads_warmup_lr: float = 5e-4
    short_gate_init: float = 0.0  # the gate of a short head that starts afresh (step 0 is the source at 0)
    # How a short head that starts afresh is initialised: "random", or "long": its magnitude rows copy
    # the long head's at the same frequencies, SHORT_FROM_LONG_LOG_OFFSET nats down (about 5% of its
    # amplitude), so its output follows the signal's spectrum from step 0 instead of being loud noise.
    short_head_init: str = "random"
    teacher: str = "hifigan"
    # What every loss and the critic compare against on real-mel rows: "audio" (the recording) or
    # "teacher" (the teacher's waveform for that mel: pure distillation; the input is still the
    # recording's mel). Generated-mel rows always use the teacher's waveform.
    target: str = "audio"
    # Share of each batch taken from generated mels (see the module docstring; needs the teacher):
    # one clip per training caption from `generated_model`, noise seed `generated_seed` + its index,
    # `generated_seconds` long (0: the model's default length).
    generated_share: float = 0.0
    # "teacher": generated rows are drawn row by row and target the teacher's waveform; "mel": the
    # last round(generated_share * batch_size) rows are generated, with no waveform target (their own
    # log-mel and the critic only; needs the critic and no teacher rows)
    generated_target: str = "teacher"
    generated_model: str = "default"
    generated_seconds: float = 0.0
    generated_seed: int = 1000
    bf16: bool = True  # bf16 autocast for the backbone and the teacher (where the CPU has bf16 units)
    stft_resolutions: tuple = ((512, 128), (1024, 256), (2048, 512))
    phase_resolutions: tuple = ((1024, 256), (512, 128))
    max_clip_seconds: float = 10.0  # longer files: only their first 10 s enter the corpus
    # A near-silent segment (RMS below -60 dBFS) is drawn again up to this many times. 0 keeps the
    # library's own share of silence, which the vocoder must learn to reproduce as silence.
    silent_redraws: int = 3
    # Share of draws that follow `category_mix` ({category: weight}, the captions' `category`) instead of
    # the clip lengths alone: a vocoder for one text-to-audio model should hear most of the sounds that
    # model makes. Within a category clips keep their length weights; 0 keeps the length-only stream.
    category_draws: float = 0.0
    category_mix: dict = field(default_factory=dict)
    # Waveform augmentation of the recordings' segments, before their mel is taken (input and target
    # stay a pair): each row's gain uniform in dB over `aug_gain_db`, and in a share `aug_mix_share` of
    # the rows a second segment added at `aug_mix_db` relative to it (two sounds at once, as a text
    # model's mels often are). Drawn from a stream of its own, so the segments are those of a run without it.
    aug_gain_db: tuple = (0.0, 0.0)
    aug_mix_share: float = 0.0
    aug_mix_db: tuple = (-12.0, 0.0)
    holdout_file: str = "holdout.json"
    eval_clips: int = 48
    eval_seconds: float = 4.0
    eval_every: int = 1000
    checkpoint_every: int = 200
    snapshot_every: int = 1000  # also keep the weights of every such step (snapshots/vocos-STEP.safetensors)
    log_every: int = 20
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = VocosConfig.from_dict(self.model)
        self.betas = tuple(self.betas)
        self.stft_resolutions = tuple(tuple(r) for r in self.stft_resolutions)
        self.phase_resolutions = tuple(tuple(r) for r in self.phase_resolutions)
        self.disc_resolutions = tuple(tuple(r) for r in self.disc_resolutions)
        periods = self.disc_periods
        if not isinstance(periods, (list, tuple)) or len(set(periods)) != len(periods) or any(
                not isinstance(p, int) or isinstance(p, bool) or p < 2 for p in periods):
            raise ConfigError(f"VocoderTrainConfig.disc_periods must be distinct integers >= 2, got {periods!r}")
        self.disc_periods = tuple(periods)
        for name in ("w_adv", "w_fm"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise ConfigError(f"VocoderTrainConfig.{name} must be a number >= 0, got {value!r}")
        for name in ("steps", "batch_size", "segment_frames", "checkpoint_every", "snapshot_every", "log_every",
                     "eval_every", "disc_channels", "disc_period_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"VocoderTrainConfig.{name} must be a positive integer, got {value!r}")
        value = self.disc_envelope_channels
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"VocoderTrainConfig.disc_envelope_channels must be 0 (none) or a positive integer, "
                              f"got {value!r}")
        if self.teacher not in ("", "hifigan"):
            raise ConfigError(f"VocoderTrainConfig.teacher must be 'hifigan' or '', got {self.teacher!r}")
        if self.target not in ("audio", "teacher"):
            raise ConfigError(f"VocoderTrainConfig.target must be 'audio' or 'teacher', got {self.target!r}")
        if self.target == "teacher" and not self.teacher:
            raise ConfigError("VocoderTrainConfig.target 'teacher' needs a teacher")
        share = self._check_share("generated_share")
        if self.generated_target not in ("teacher", "mel"):
            raise ConfigError(f"VocoderTrainConfig.generated_target must be 'teacher' or 'mel', "
                              f"got {self.generated_target!r}")
        if share > 0 and self.generated_target == "teacher" and not self.teacher:
            raise ConfigError("VocoderTrainConfig.generated_share needs a teacher (generated mels have no real "
                              "audio), or generated_target 'mel'")
        if share > 0 and self.generated_target == "mel":
            n = self.generated_rows
            if not 1 <= n < self.batch_size:
                raise ConfigError(f"VocoderTrainConfig.generated_share {share} gives {n} generated rows of "
                                  f"{self.batch_size}: generated_target 'mel' needs at least one of each kind")
            if self.needs_teacher_rows:
                raise ConfigError("VocoderTrainConfig.generated_target 'mel' trains against recordings only: "
                                  "set w_phase 0 (or teacher '') and target 'audio'")
            if not self.w_adv > 0:
                raise ConfigError("VocoderTrainConfig.generated_target 'mel' needs the critic (w_adv > 0): "
                                  "a log-mel alone leaves the generated rows' fine structure untrained")
        seconds = self.generated_seconds
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 60:
            raise ConfigError(f"VocoderTrainConfig.generated_seconds must be from 0 to 60, got {seconds!r}")
        for name in ("train_head_only", "train_new_heads_only"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"VocoderTrainConfig.{name} must be true or false, got {getattr(self, name)!r}")
        if self.train_head_only and self.train_new_heads_only:
            raise ConfigError("VocoderTrainConfig: train_head_only and train_new_heads_only exclude each other")
        if self.train_new_heads_only and not (self.model.short_head_n_fft or self.model.envelope_steps):
            raise ConfigError("VocoderTrainConfig.train_new_heads_only needs a short head (model.short_head_n_fft) "
                              "or an envelope (model.envelope_steps)")
        warm = self.new_heads_warmup_steps
        if not isinstance(warm, int) or isinstance(warm, bool) or not 0 <= warm <= self.steps:
            raise ConfigError(f"VocoderTrainConfig.new_heads_warmup_steps must be an integer from 0 to steps, "
                              f"got {warm!r}")
        if warm and not (self.model.short_head_n_fft or self.model.envelope_steps):
            raise ConfigError("VocoderTrainConfig.new_heads_warmup_steps needs a short head (model.short_head_n_fft) "
                              "or an envelope (model.envelope_steps)")
        for name in ("new_heads_warmup_lr", "short_gate_init", "w_envelope"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ConfigError(f"VocoderTrainConfig.{name} must be a number, got {value!r}")
        if self.short_head_init not in ("random", "long"):
            raise ConfigError(f"VocoderTrainConfig.short_head_init must be 'random' or 'long', got {self.short_head_init!r}")
        if not self.new_heads_warmup_lr > 0:
            raise ConfigError(f"VocoderTrainConfig.new_heads_warmup_lr must be > 0, got {self.new_heads_warmup_lr!r}")
        if not self.w_envelope >= 0:
            raise ConfigError(f"VocoderTrainConfig.w_envelope must be >= 0, got {self.w_envelope!r}")
        draws = self._check_share("category_draws")
        mix = self.category_mix
        if not isinstance(mix, dict) or any(
                not isinstance(k, str) or not isinstance(v, (int, float)) or isinstance(v, bool)
                or not (math.isfinite(v) and v >= 0) for k, v in mix.items()):
            raise ConfigError(f"VocoderTrainConfig.category_mix must map category names to weights >= 0, got {mix!r}")
        if draws > 0 and not sum(mix.values()) > 0:
            raise ConfigError("VocoderTrainConfig.category_draws > 0 needs a category_mix with a positive weight")
        for name in ("aug_gain_db", "aug_mix_db"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or len(value) != 2 or any(
                    not isinstance(v, (int, float)) or isinstance(v, bool) or not -60 <= v <= 24 for v in value) \
                    or value[0] > value[1]:
                raise ConfigError(f"VocoderTrainConfig.{name} must be [low, high] in dB, -60 <= low <= high <= 24, "
                                  f"got {value!r}")
            setattr(self, name, tuple(float(v) for v in value))
        self._check_share("aug_mix_share")
        if self.augments and (self.needs_teacher_rows or self.generated_share > 0):
            raise ConfigError("VocoderTrainConfig: waveform augmentation (aug_gain_db, aug_mix_share) changes the "
                              "recording, so it cannot share a batch with a teacher's waveform or generated mels "
                              "(set w_phase 0 or teacher '', and generated_share 0)")

    def _check_share(self, name: str) -> float:
        value = getattr(self, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ConfigError(f"VocoderTrainConfig.{name} must be a number from 0 to 1, got {value!r}")
        return value

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "VocoderTrainConfig":
        data = {RENAMED.get(k, k): v for k, v in data.items() if k != "about"}  # recipes carry a note for people
        return _from_dict(cls, data, "VocoderTrainConfig")

    @property
    def generated_rows(self) -> int:
        """How many rows of each batch are generated mels with no waveform target (generated_target "mel")."""
        return round(self.generated_share * self.batch_size) if self.generated_target == "mel" else 0

    @property
    def augments(self) -> bool:
        """Whether the recordings' segments are augmented (a gain range or mixing)."""
        return self.aug_gain_db != (0.0, 0.0) or self.aug_mix_share > 0

    @property
    def needs_teacher_rows(self) -> bool:
        """Whether every batch carries the teacher's waveform (for the phase loss or as the target)."""
        return bool(self.teacher) and (self.w_phase > 0 or self.target == "teacher")


# ------------------------------------------------------------------------------------------
# Trainer
# ------------------------------------------------------------------------------------------
class VocoderTrainer:
    def __init__(self, config: VocoderTrainConfig, data_dir: str | Path, run_dir: str | Path, *,
                 resume: bool = False, cache_dir: str | Path | None = None, progress: bool = True,
                 init_from: str | Path | None = None):
        self.config, self.data_dir, self.run_dir = config, Path(data_dir), Path(run_dir)
        self.progress = progress
        self.cache_dir = cache_folder(self.run_dir, cache_dir)
        check_run_folder(self.run_dir, resume=resume, kind="vocoder run")  # created once the data scan found clips
        mel = config.model.mel
        self.front_end = MelFrontEnd(mel)
        with torch.random.fork_rng():  # the same seed gives the same initial weights
            torch.manual_seed(config.seed)
            self.model = VocosModel(config.model)
        if self.model.short_gate is not None:
            with torch.no_grad():
                self.model.short_gate.fill_(config.short_gate_init)
        # which of these learn is set each step (_set_trainable): the short head's warm-up ends part-way
        only = HEAD_PREFIXES if config.train_head_only else NEW_HEAD_PREFIXES if config.train_new_heads_only else None
        trained = [p for name, p in self.model.named_parameters() if only is None or name.startswith(only)]
        self.optimiser = torch.optim.AdamW(trained, lr=config.lr, betas=config.betas,
                                           weight_decay=config.weight_decay)
        self.discriminator = self.disc_optimiser = None
        if config.w_adv > 0 or config.w_fm > 0:
            from .vocoder_discriminator import MultiResolutionDiscriminator

            with torch.random.fork_rng():
                torch.manual_seed(config.seed + 1)
                self.discriminator = MultiResolutionDiscriminator(
                    config.disc_resolutions, config.disc_channels, config.disc_periods, config.disc_period_channels,
                    config.disc_envelope_channels, mel.n_mels, mel.hop_length)
            self.disc_optimiser = torch.optim.AdamW(self.discriminator.parameters(), lr=config.disc_lr,
                                                    betas=config.betas, weight_decay=config.weight_decay)
        self.step = 0
        if resume:
            self._load(self.run_dir / "checkpoint.pt")
        elif init_from is not None:
            self.model.load_state_dict(_initial_weights(Path(init_from), self.model, config.short_head_init))
            critic = _initial_critic(Path(init_from), config) if self.discriminator is not None else None
            if critic is not None:  # a trained critic needs no solo warm-up (its optimiser starts fresh)
                missing, unexpected = self.discriminator.load_state_dict(critic, strict=False)
                if unexpected or any(not k.startswith(OPTIONAL_CRITICS) for k in missing):
                    raise CheckpointError(f"{init_from}: its critic does not fit this run's ({unexpected or missing})")
        self._build_data()

    def _build_data(self) -> None:
        from .library_scan import scan_library
        from .sampling import draw_weights, read_holdout, split_holdout

        cfg = self.config
        scan = scan_library(self.data_dir, mel_config=cfg.model.mel, clip_frames=cfg.segment_frames,
                            exclude=[self.cache_dir])
        holdout_path = self.data_dir / cfg.holdout_file
        if holdout_path.is_file():
            train, held = split_holdout(scan.items, read_holdout(holdout_path))
        else:
            train, held = split_holdout(scan.items, 0.08, seed=cfg.seed)
        if not train:
            raise DataError(f"no training clips in {self.data_dir} after the held-out split")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run_dir / "train_config.json", json.dumps(cfg.to_dict(), indent=2))
        self.train = prepare_corpus(train, self.cache_dir, cfg.model.mel, max_seconds=cfg.max_clip_seconds,
                                    teacher=cfg.teacher if cfg.needs_teacher_rows else "", bf16=cfg.bf16,
                                    progress=self.progress)
        held = sorted(held, key=lambda it: hashlib.blake2b(it.rel.encode(), digest_size=8).digest())[: cfg.eval_clips]
        self.generated = None
        if cfg.generated_share > 0:
            self.generated = prepare_generated_corpus(
                train, self.cache_dir, cfg.model.mel, model_name=cfg.generated_model,
                seconds=cfg.generated_seconds, seed=cfg.generated_seed,
                teacher=cfg.teacher if cfg.generated_target == "teacher" else "", bf16=cfg.bf16,
                progress=self.progress)
        self.held = prepare_corpus(held, self.cache_dir, cfg.model.mel, max_seconds=cfg.max_clip_seconds,
                                   teacher="hifigan", progress=self.progress) if held else None  # scores: float32
        # draw clips in proportion to their length (a 30 s rain bed offers more segments than a click)
        frames = np.array([max(1, self.train.frames(i) - cfg.segment_frames + 1) for i in range(len(self.train))],
                          dtype=np.float64)
        self.weights = torch.from_numpy(draw_weights(np.sqrt(frames), [it.meta.get("category") for it in train],
                                                     cfg.category_mix, cfg.category_draws))

    # batches ------------------------------------------------------------------------------
    def batch(self, step: int) -> dict[str, torch.Tensor]:
        cfg, hop, S = self.config, self.train.hop, self.config.segment_frames
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        audio, teacher, generated_mels = [], [], {}
        for row in range(cfg.batch_size):
            # generated_share 0 draws nothing here, so older recipes keep their exact stream
            if cfg.generated_rows:
                use_generated = row >= cfg.batch_size - cfg.generated_rows
            else:
                use_generated = self.generated is not None and \
                    float(torch.rand(1, generator=gen)) < cfg.generated_share
            corpus = self.generated if use_generated else self.train
            for attempt in range(cfg.silent_redraws + 1):  # redraw near-silent segments (silent_redraws)
                if use_generated:
                    i = int(torch.randint(0, len(corpus), (1,), generator=gen))
                else:
                    i = int(torch.multinomial(self.weights, 1, generator=gen))
                T = corpus.frames(i)
                f0 = int(torch.randint(0, max(1, T - S + 1), (1,), generator=gen))
                if use_generated and cfg.generated_rows:  # no waveform: judge silence by the mel
                    seg = np.zeros(0, np.float32)
                    m = np.asarray(corpus.array(i, "mel")[:, f0: f0 + S])
                    if attempt == cfg.silent_redraws or m.size and float(m.max()) > SILENCE_LOG_MEL + 1.0:
                        break
                    continue
                kind = "teacher" if use_generated else "audio"
                seg = np.asarray(corpus.array(i, kind)[f0 * hop: (f0 + S) * hop])
                if attempt == cfg.silent_redraws or seg.size and \
                        float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) > SILENT_SEGMENT_RMS:
                    break
            pad = S * hop - seg.size
            audio.append(np.pad(seg, (0, pad)))
            if use_generated:  # the generator's own mel is the input; the teacher's waveform the target
                m = np.asarray(corpus.array(i, "mel")[:, f0: f0 + S], dtype=np.float32)
                generated_mels[row] = np.pad(m, ((0, 0), (0, S - m.shape[1])), constant_values=SILENCE_LOG_MEL)
            if cfg.needs_teacher_rows:  # every row or none, so the phase loss lines up with the batch
                teacher.append(audio[-1] if use_generated else
                               np.pad(np.asarray(self.train.array(i, "teacher")[f0 * hop: (f0 + S) * hop]), (0, pad)))
        real = torch.from_numpy(np.stack(audio).astype(np.float32))
        if cfg.augments:
            real = self._augment(real, step)
        mel = self.front_end(real)  # the segment's own mel: what the student hears
        for row, m in generated_mels.items():
            mel[row] = torch.from_numpy(m)
        out = {"real": real, "mel": mel}
        if cfg.generated_rows:  # rows whose "real" is silence standing in for a waveform they lack
            out["generated"] = torch.arange(cfg.batch_size) >= cfg.batch_size - cfg.generated_rows
        if teacher:
            out["teacher"] = torch.from_numpy(np.stack(teacher))
            if cfg.target == "teacher":  # the recording's mel in, the teacher's waveform as the target
                out["real"] = out["teacher"]
                out["mel_target"] = self.front_end(out["teacher"])
        return out

    def _augment(self, real: torch.Tensor, step: int) -> torch.Tensor:
        """real [B, S * hop] -> the same rows with a random gain, some with a second segment added."""
        cfg, hop, S = self.config, self.train.hop, self.config.segment_frames
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step + 500_000_000)  # not the segments' stream
        out = real.clone()
        for row in range(real.shape[0]):
            lo, hi = cfg.aug_gain_db
            gain_db = lo + (hi - lo) * float(torch.rand(1, generator=gen))
            if float(torch.rand(1, generator=gen)) < cfg.aug_mix_share:
                i = int(torch.multinomial(self.weights, 1, generator=gen))
                f0 = int(torch.randint(0, max(1, self.train.frames(i) - S + 1), (1,), generator=gen))
                # a copy: the corpus is memory-mapped read-only
                other = np.array(self.train.array(i, "audio")[f0 * hop: (f0 + S) * hop], dtype=np.float32)
                lo2, hi2 = cfg.aug_mix_db
                mix_db = lo2 + (hi2 - lo2) * float(torch.rand(1, generator=gen))
                out[row, : other.size] += torch.from_numpy(other) * 10 ** (mix_db / 20)
            out[row] *= 10 ** (gain_db / 20)
        return out

    def lr_at(self, step: int) -> float:
        cfg = self.config
        if step < cfg.new_heads_warmup_steps:
            return cfg.new_heads_warmup_lr
        step, steps = step - cfg.new_heads_warmup_steps, cfg.steps - cfg.new_heads_warmup_steps
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        t = min(1.0, (step - cfg.warmup_steps) / max(1, steps - cfg.warmup_steps))
        return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))

    def warming_new_heads(self) -> bool:
        return self.step < self.config.new_heads_warmup_steps

    def _set_trainable(self) -> None:
        """Which vocoder parameters learn this step (a frozen one keeps no gradient, so AdamW skips it)."""
        cfg, warming = self.config, self.warming_new_heads()
        for name, p in self.model.named_parameters():
            p.requires_grad_(name.startswith(NEW_HEAD_PREFIXES) if warming or cfg.train_new_heads_only else
                             name.startswith(HEAD_PREFIXES) or not cfg.train_head_only)

    def train_step(self) -> dict[str, float]:
        cfg = self.config
        self.model.train()
        self._set_trainable()
        b = self.batch(self.step)
        for group in self.optimiser.param_groups:
            group["lr"] = self.lr_at(self.step)
        with bf16_autocast("cpu", cfg.bf16):
            features = self.model.features(b["mel"])  # [B, dim, S]
        fake = self.model.waveform(features.float())  # [B, S * hop]: the inverse STFT in float32
        mel_l1 = (self.front_end(fake) - b.get("mel_target", b["mel"])).abs().mean()
        # rows with a waveform target; generated rows without one get the log-mel and the critic only
        keep = ~b["generated"] if "generated" in b else slice(None)
        fake_audio, real = fake[keep], b["real"][keep]
        stft = mrstft_loss(fake_audio, real, cfg.stft_resolutions)
        loss = cfg.w_mel * mel_l1 + cfg.w_stft * stft
        logs = {"mel_l1": mel_l1.item(), "mrstft": stft.item()}
        if "teacher" in b:
            ph = phase_loss(fake, b["teacher"], b["real"], cfg.phase_resolutions)
            loss = loss + cfg.w_phase * ph
            logs["phase"] = ph.item()
        if cfg.w_envelope > 0:
            env = envelope_loss(fake_audio, real)
            loss = loss + cfg.w_envelope * env
            logs["envelope"] = env.item()
        if self.discriminator is not None and not self.warming_new_heads():
            loss = loss + self._adversarial_step(fake, real, b["mel"], keep, logs)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"vocoder loss is {float(loss)} at step {self.step}")
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        logs["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1000.0))
        self.optimiser.step()
        self.step += 1
        logs["loss"] = loss.item()
        return logs

    def _adversarial_step(self, fake: torch.Tensor, real: torch.Tensor, mel: torch.Tensor, keep,
                          logs: dict) -> torch.Tensor:
        """Update the critic on (real, fake), then return the vocoder's adversarial and
        feature-matching terms (zero before adv_start_step). `fake` [B, N] was made from `mel`;
        `real` holds the recordings of the rows `keep` selects (all rows unless some are generated
        mels without one); feature matching pairs those rows alone."""
        from .vocoder_discriminator import discriminator_loss, feature_matching_loss, generator_adversarial_loss

        cfg = self.config
        self.discriminator.train()
        for group in self.disc_optimiser.param_groups:
            # the vocoder's cosine decay, scaled, but no warm-up: the critic starts from scratch
            group["lr"] = cfg.disc_lr * self.lr_at(max(self.step, cfg.new_heads_warmup_steps + cfg.warmup_steps)) / cfg.lr
        with bf16_autocast("cpu", cfg.bf16):
            real_out = self.discriminator(real, mel[keep])
            d_loss = discriminator_loss(real_out, self.discriminator(fake.detach(), mel))
        self.disc_optimiser.zero_grad(set_to_none=True)
        d_loss.float().backward()
        self.disc_optimiser.step()
        logs["disc"] = d_loss.item()
        if self.step < cfg.adv_start_step:
            return fake.new_zeros(())
        for p in self.discriminator.parameters():  # the vocoder's backward leaves the critic alone
            p.requires_grad_(False)
        try:
            with bf16_autocast("cpu", cfg.bf16):
                fake_out = self.discriminator(fake, mel)
                adv = generator_adversarial_loss(fake_out).float()
                paired = [(logits[keep], [f[keep] for f in feats]) for logits, feats in fake_out]
                fm = feature_matching_loss(real_out, paired).float()
        finally:
            for p in self.discriminator.parameters():
                p.requires_grad_(True)
        logs["adv"], logs["fm"] = adv.item(), fm.item()
        return cfg.w_adv * adv + cfg.w_fm * fm

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean scores on the held-out subset (first `eval_seconds` of each), with the teacher's."""
        if self.held is None:
            return {}
        cfg, hop = self.config, self.held.hop
        self.model.eval()
        frames = max(1, int(cfg.eval_seconds * cfg.model.mel.sample_rate / hop))
        ours, theirs = [], []
        for i in range(len(self.held)):
            n = min(frames, self.held.frames(i))
            mel = torch.from_numpy(np.ascontiguousarray(self.held.array(i, "mel")[:, :n]))[None]
            real = torch.from_numpy(np.array(self.held.array(i, "audio")[: n * hop]))
            teacher = torch.from_numpy(np.array(self.held.array(i, "teacher")[: n * hop]))
            ours.append(resynthesis_scores(self.model(mel)[0], real, self.front_end, cfg.stft_resolutions))
            theirs.append(resynthesis_scores(teacher, real, self.front_end, cfg.stft_resolutions))
        ours, theirs = aggregate_scores(ours), aggregate_scores(theirs)
        out = {}
        for k in ("mel_l1", "mrstft"):
            out[f"eval_{k}"], out[f"eval_{k}_hifigan"] = ours[k], theirs[k]
            out[f"eval_{k}_ratio"] = ours[k] / max(theirs[k], 1e-9)
        return out

    # checkpoints ----------------------------------------------------------------------------
    def save(self) -> None:
        state = {"format": CHECKPOINT_FORMAT, "config": json.dumps(self.config.to_dict()), "step": self.step,
                 "model": self.model.state_dict(), "optimiser": self.optimiser.state_dict()}
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["disc_optimiser"] = self.disc_optimiser.state_dict()
        atomic_save(self.run_dir / "checkpoint.pt", lambda tmp: torch.save(state, tmp))
        save_vocos(self.run_dir / "vocos.safetensors", self.model, extra={"step": self.step})

    def _load(self, path: Path) -> None:
        state = read_vocoder_checkpoint(path)
        saved = VocoderTrainConfig.from_dict(json.loads(state["config"]))
        if saved.model != self.config.model:
            raise ConfigError(f"{path} was trained with model {saved.model}, not {self.config.model}")
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.step = int(state["step"])
        if self.discriminator is not None:
            if "discriminator" not in state:
                raise ConfigError(f"{path} has no critic: start the adversarial phase in a new run folder with "
                                  f"--init-from {path}")
            self.discriminator.load_state_dict(state["discriminator"])
            self.disc_optimiser.load_state_dict(state["disc_optimiser"])

    def _log(self, record: dict) -> None:
        with open(self.run_dir / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def fit(self, steps: int | None = None) -> None:
        from tqdm import tqdm

        target = steps or self.config.steps
        bar = tqdm(total=target, initial=self.step, disable=not self.progress, unit="step", desc="vocoder")
        started, window = time.time(), []
        stop = []  # SIGTERM (and SIGINT) finish the step, write a checkpoint and stop
        restore = _on_stop_signals(lambda name: stop.append(name))
        try:
            while self.step < target and not stop:
                logs = self.train_step()
                window.append(logs)
                bar.update(1)
                evaluate = self.step % self.config.eval_every == 0  # on its own schedule, not only on logged steps
                if evaluate or self.step % self.config.log_every == 0:
                    record = {"step": self.step, "time": round(time.time() - started, 1),
                              "lr": self.lr_at(self.step - 1)}
                    record.update({k: float(np.mean([w[k] for w in window])) for k in window[0]})
                    window = []
                    bar.set_postfix(mel=f"{record['mel_l1']:.3f}", stft=f"{record['mrstft']:.3f}")
                    if evaluate:
                        record.update(self.evaluate())
                    self._log(record)
                if self.step % self.config.checkpoint_every == 0:
                    self.save()
                if self.step % self.config.snapshot_every == 0:
                    (self.run_dir / "snapshots").mkdir(exist_ok=True)
                    save_vocos(self.run_dir / "snapshots" / f"vocos-{self.step:07d}.safetensors", self.model,
                               extra={"step": self.step})
        finally:
            restore()
            bar.close()
            self.save()
        if stop:
            raise KeyboardInterrupt(f"stopped by {stop[0]} at step {self.step}")


def _on_stop_signals(callback):
    """Route SIGINT/SIGTERM to `callback(name)` (main thread only); returns a function that puts
    the previous handlers back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, lambda signum, frame: callback(signal.Signals(signum).name))
                for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore():
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _initial_weights(path: Path, model: VocosModel, short_head_init: str = "random") -> dict:
    """The vocoder weights to start from: exported vocos weights (.safetensors + .json) or another
    run's checkpoint.pt (float32, where the export is float16). Weights with fewer ConvNeXt blocks
    than `model` are grown into it (the new blocks start as the identity: `deepen_state_dict`);
    weights with another inverse-STFT head (head_n_fft, head_subframes) give their backbone only,
    and the head starts afresh."""
    from audiogan_plugins.vocoders.vocos import deepen_state_dict, load_vocos

    mel = model.cfg.mel
    if path.suffix == ".pt":
        state = read_vocoder_checkpoint(path)
        saved = VocoderTrainConfig.from_dict(json.loads(state["config"]))
        if saved.model.mel != mel:
            from audiogan_core.errors import MelConfigMismatchError

            raise MelConfigMismatchError(f"{path} was trained for mel {saved.model.mel}, not {mel}")
        weights, source = state["model"], saved.model
    else:
        source_model = load_vocos(path, mel)
        weights, source = source_model.state_dict(), source_model.cfg
    if (source.head_n_fft, source.head_subframes) != (model.cfg.head_n_fft, model.cfg.head_subframes):
        print(f"note: {path} has another inverse-STFT head (n_fft {source.head_n_fft}, {source.head_subframes} "
              f"sub-frame(s)); its backbone is kept and the head starts afresh", file=sys.stderr)
        fresh = model.state_dict()
        weights = {**{k: v for k, v in weights.items() if not k.startswith("head.")},
                   **{k: v for k, v in fresh.items() if k.startswith("head.")}}
    if model.short_head is not None and not any(k.startswith("short_") for k in weights):
        # at gate 0 (the default) step 0 is exactly the vocoder these weights make
        print(f"note: {path} has no short head; it starts afresh, its gate at {model.short_gate.item():g}",
              file=sys.stderr)
        weights = {**weights, **{k: v for k, v in model.state_dict().items() if k.startswith("short_")}}
        if short_head_init == "long":
            weights.update(short_head_from_long(weights, model))
    if model.envelope is not None and not any(k.startswith("envelope.") for k in weights):
        print(f"note: {path} has no envelope; it starts afresh at gain 1", file=sys.stderr)
        weights = {**weights, **{k: v for k, v in model.state_dict().items() if k.startswith("envelope.")}}
    if sum(k.endswith(".gamma") for k in weights) < model.cfg.layers:
        return deepen_state_dict(weights, model)
    return weights


def short_head_from_long(weights: dict, model: VocosModel) -> dict:
    """The short head's out layer with its magnitude rows taken from the long head's at the same
    frequencies (every n_fft_long / n_fft_short-th bin, the same rows for each sub-frame), biased
    SHORT_FROM_LONG_LOG_OFFSET down; its phase rows stay as they were."""
    long, short = model.head, model.short_head
    if long.subframes != 1 or long.n_fft % short.n_fft:
        raise ConfigError(f"short_head_init 'long' needs a one-frame long head whose n_fft ({long.n_fft}) is a "
                          f"multiple of the short head's ({short.n_fft})")
    ratio, bins_long, bins = long.n_fft // short.n_fft, long.n_fft // 2 + 1, short.n_fft // 2 + 1
    w_long, b_long = weights["head.out.weight"], weights["head.out.bias"]  # [n_fft_long + 2, dim], [n_fft_long + 2]
    w = weights["short_head.out.weight"].clone().reshape(short.subframes, 2 * bins, -1)  # [S, 2 * bins, dim]
    b = weights["short_head.out.bias"].clone().reshape(short.subframes, 2 * bins)
    rows = torch.arange(bins) * ratio  # the long head's magnitude rows at the short head's bin frequencies
    assert int(rows[-1]) == bins_long - 1
    w[:, :bins] = w_long[rows]
    b[:, :bins] = b_long[rows] + SHORT_FROM_LONG_LOG_OFFSET
    return {"short_head.out.weight": w.reshape(-1, w.shape[-1]), "short_head.out.bias": b.reshape(-1)}


def _initial_critic(path: Path, config: VocoderTrainConfig) -> dict | None:
    """Another run's critic, when `path` is a checkpoint.pt holding one of the same shape (the
    spectrogram critics alone when this run adds or changes period or envelope critics: those start
    afresh)."""
    if path.suffix != ".pt":
        return None
    state = read_vocoder_checkpoint(path)
    saved = VocoderTrainConfig.from_dict(json.loads(state["config"]))
    if "discriminator" not in state or (saved.disc_resolutions, saved.disc_channels) != \
            (config.disc_resolutions, config.disc_channels):
        return None
    differ = tuple(prefix for prefix, same in (
        ("period_discriminators.", (saved.disc_periods, saved.disc_period_channels) ==
         (config.disc_periods, config.disc_period_channels)),
        ("envelope_discriminators.", saved.disc_envelope_channels == config.disc_envelope_channels)) if not same)
    return {k: v for k, v in state["discriminator"].items() if not k.startswith(differ)}


def compose_init_checkpoint(weights: str | Path, critic_from: str | Path, out: str | Path) -> int:
    """Write `out`: a copy of the run checkpoint `critic_from` with exported vocos `weights` in place
    of its vocoder, so a run started from averaged weights (which have no critic) with `--init-from
    out` keeps that run's trained critic. Both optimisers are dropped (they belong to other weights).
    Returns the critic's step."""
    from audiogan_plugins.vocoders.vocos import load_vocos

    out = Path(out)
    if out.exists():
        raise InputError(f"{out} exists: not overwritten")
    state = read_vocoder_checkpoint(critic_from)
    if "discriminator" not in state:
        raise CheckpointError(f"{critic_from} holds no critic")
    model = load_vocos(weights)
    saved = VocoderTrainConfig.from_dict(json.loads(state["config"]))
    if saved.model != model.cfg:
        raise ConfigError(f"{weights} is a {model.cfg}, the vocoder of {critic_from} a {saved.model}")
    state["model"] = {k: v.float() for k, v in model.state_dict().items()}
    for key in ("optimiser", "disc_optimiser"):
        state.pop(key, None)
    atomic_save(out, lambda tmp: torch.save(state, tmp))
    return int(state["step"])


def read_vocoder_checkpoint(path: str | Path) -> dict:
    from audiogan_core.checkpoint import read_torch_checkpoint

    path = Path(path)
    state = read_torch_checkpoint(path, "vocoder training checkpoint")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an audiogan vocoder training checkpoint")
    return state
