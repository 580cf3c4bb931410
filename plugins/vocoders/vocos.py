"""`vocos`: audiogan's own fast vocoder, a ConvNeXt backbone at frame rate + an inverse-STFT head
(the Vocos family: Siuzdak 2023, "Vocos: Closing the gap between time-domain and Fourier-based
neural vocoders"), trained by `audiogan train-vocoder` on the project's real recordings.

Why this shape on a CPU: HiFi-GAN up-samples to the sample rate inside the network, so most of
its work runs at 22,050 positions a second; here every layer runs at the frame rate (86 frames a
second at hop 256) and one inverse FFT makes the waveform. On 2 cores a 10-second clip takes
about a tenth of a second (`benchmarks/`).

    log-mel [B, n_mels, T]
      -> Conv1d(k7) -> LayerNorm                              # [B, dim, T]
      -> ConvNeXt block x layers (dwconv k7, LN, MLP x3, layer scale, residual)
      -> LayerNorm -> Linear(dim, S * (n_fft + 2))            # [B, T, S * (n_fft + 2)]
      -> S sub-frames per frame                                # [B, T * S, n_fft + 2]
      -> magnitude exp(m) (capped), phase p: mag * e^{ip}       # [B, n_fft / 2 + 1, T * S]
      -> irfft, Hann window, overlap-add / window^2 sum        # [B, T * hop]

The head's frames line up with the mel front end's (frame t centred on sample t * hop + hop / 2,
reflect padding (n_fft - hop) / 2), so T frames give exactly T * hop samples. With
`head_subframes` S > 1 each backbone frame predicts S short spectra at hop / S (the shipped
weights: S = 1, n_fft 1024): the backbone's cost is unchanged, and with n_fft 256 at S = 4 an
attack is placed by an 11.6 ms window instead of being spread over 46 ms.
With `short_head_n_fft` > 0 a second, short-window head of that kind joins the first: its
waveform is added, scaled by a learnt gate that starts at 0, so weights without it load as the
same vocoder and the long window keeps the partials of tonal sounds. With `envelope_steps` E > 0 the
waveform is multiplied by a gain curve with E steps per frame (32 samples at E = 8), which can put a
frame's energy in a burst with a gap before it.

After the network, `match_mel` rounds (default 3; `match_mel=0` turns them off) rescale the
output's STFT band by band so that its mel is the one asked for (audiogan_core.mel.match_mel): on
the bundled model's mels the network alone strays further from its input than HiFi-GAN does, and
the text-control check hears it (docs/vocoder.md, phase 27).

`stream(log_mel, chunk_frames)` yields the same waveform piece by piece: each piece is computed on
the chunk plus `context_frames()` frames of real context each side (the backbone's receptive
field and the overlap-add's reach), so the concatenation equals the one-pass output to float
rounding, and playback can start after the first chunk.

The weights that ship in the package (`weights/vocos-foley.*`) cover the universal mel
configuration (22.05 kHz, 80 mels, hop 256); `checkpoint=PATH` loads another `.safetensors` with
its `.json` config beside it. A checkpoint made for another mel config is refused with
MelConfigMismatchError, a damaged file with CheckpointError.
"""
from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from audiogan_core.checkpoint import load_state_dict_checked
from audiogan_core.config import MelConfig, _from_dict
from audiogan_core.errors import (ConfigError, ConfigMismatchError, InputError, MelConfigMismatchError,
                                  MissingResourceError)
from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import Vocoder
from audiogan_core.io import atomic_write_text, read_json_object
from audiogan_core.mel import match_mel, match_mel_reach, overlap_add

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
BUNDLED = WEIGHTS_DIR / "vocos-foley.safetensors"
MAX_LOG_MAGNITUDE = math.log(100.0)  # caps exp(m): a wild frame cannot blow up the overlap-add
# Rounds of audiogan_core.mel.match_mel after the network: the rendering's mel moved to the one asked for.
# 3 = the smallest within 10% of 4 rounds' tracking (docs/vocoder.md, phase 27); match_mel=0 turns it off.
MATCH_ROUNDS = 3


@dataclass
class VocosConfig:
    """Architecture + the mel front end it reads. Saved as JSON beside the weights."""

    mel: MelConfig = field(default_factory=MelConfig.hifigan_universal)
    dim: int = 256
    intermediate: int = 768
    layers: int = 8
    kernel: int = 7
    head_n_fft: int = 1024  # the inverse STFT's size; its hop is the mel hop / head_subframes
    head_subframes: int = 1  # inverse-STFT frames per mel frame
    # A second, short-window head whose waveform is added to the first's, scaled by a learnt gate
    # that starts at 0 (so weights without it load as exactly the same vocoder): the long window
    # keeps tonal sounds' partials, the short one can place attacks. 0 = none.
    short_head_n_fft: int = 0
    short_head_subframes: int = 4
    # A level envelope at a finer step than the frame: this many log-gains per mel frame, linearly
    # interpolated and multiplied onto the waveform, so a frame's energy can sit in a burst with a
    # gap before it (a hammer blow) where an inverse-STFT frame spreads it as steady noise. Starts
    # at gain 1 (weights without it load as the same vocoder). 0 = none.
    envelope_steps: int = 0
    # The envelope's read of the features: 0 = each frame's own (one linear layer); H > 0 = two
    # 3-frame convolutions of width H first, so a frame's gain curve sees its neighbours (the gap
    # before a blow sits in the frame before the blow's).
    envelope_hidden: int = 0

    def __post_init__(self):
        if isinstance(self.mel, dict):
            self.mel = MelConfig.from_dict(self.mel)
        for name in ("dim", "intermediate", "layers", "kernel", "head_n_fft", "head_subframes",
                     "short_head_subframes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"VocosConfig.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.short_head_n_fft, int) or isinstance(self.short_head_n_fft, bool) \
                or self.short_head_n_fft < 0:
            raise ConfigError(f"VocosConfig.short_head_n_fft must be 0 (none) or a positive integer, "
                              f"got {self.short_head_n_fft!r}")
        steps = self.envelope_steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0 or (steps and self.mel.hop_length % steps):
            raise ConfigError(f"VocosConfig.envelope_steps must be 0 (none) or a divisor of the mel hop "
                              f"({self.mel.hop_length}), got {steps!r}")
        hidden = self.envelope_hidden
        if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 0 or (hidden and not steps):
            raise ConfigError(f"VocosConfig.envelope_hidden must be 0 or, with envelope_steps, a positive integer, "
                              f"got {hidden!r}")
        if self.kernel % 2 == 0:
            raise ConfigError(f"VocosConfig.kernel must be odd, got {self.kernel}")
        self._check_head("head", self.head_n_fft, self.head_subframes)
        if self.short_head_n_fft:
            self._check_head("short_head", self.short_head_n_fft, self.short_head_subframes)

    def _check_head(self, name: str, n_fft: int, subframes: int) -> None:
        if self.mel.hop_length % subframes:
            raise ConfigError(f"VocosConfig.{name}_subframes ({subframes}) must divide the mel hop "
                              f"({self.mel.hop_length})")
        hop = self.mel.hop_length // subframes
        # at least half-overlapping Hann windows: with less, the window-square sum the overlap-add
        # divides by falls to (near) zero between frames and the output blows up there
        if n_fft < 2 * hop or (n_fft - hop) % 2:
            raise ConfigError(f"VocosConfig.{name}_n_fft ({n_fft}) must be at least twice the head's hop "
                              f"({hop}) and differ from it by an even number")

    @property
    def head_hop(self) -> int:
        return self.mel.hop_length // self.head_subframes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mel"] = self.mel.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "VocosConfig":
        return _from_dict(cls, dict(data), "VocosConfig")


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (time mixing) -> LN -> pointwise MLP (channel mixing), scaled residual."""

    def __init__(self, dim: int, intermediate: int, kernel: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, dim, T] -> [B, dim, T]
        y = self.dwconv(x).transpose(1, 2)  # [B, T, dim]
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class ISTFTHead(nn.Module):
    """[B, dim, T] features -> waveform [B, T * frame_hop]; frames aligned with MelFrontEnd's.
    `subframes` spectra per feature frame, each at hop = frame_hop / subframes."""

    def __init__(self, dim: int, n_fft: int, frame_hop: int, subframes: int = 1):
        super().__init__()
        self.n_fft, self.subframes = n_fft, subframes
        self.frame_hop, self.hop = frame_hop, frame_hop // subframes
        self.pad = (n_fft - self.hop) // 2
        self.out = nn.Linear(dim, subframes * (n_fft + 2))
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:  # [B, dim, T] -> complex [B, n_fft / 2 + 1, T * S]
        B, _, T = x.shape
        y = self.out(x.transpose(1, 2)).reshape(B, T * self.subframes, self.n_fft + 2)  # [B, T * S, n_fft + 2]
        m, p = y.transpose(1, 2).chunk(2, dim=1)
        mag = torch.exp(m.clamp(max=MAX_LOG_MAGNITUDE))
        return torch.complex(mag * torch.cos(p), mag * torch.sin(p))

    def overlap_add(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """complex [B, F, T] -> [B, (T - 1) * hop + n_fft] windowed overlap-add and its window^2 sum."""
        return overlap_add(spec, self.n_fft, self.hop, self.window)

    def reach(self) -> int:
        """How many feature frames each side a piece of the output depends on (the overlap-add's reach)."""
        return math.ceil(math.ceil((self.pad + self.hop) / self.hop) / self.subframes)

    def piece(self, x: torch.Tensor, offset: int, frames: int) -> torch.Tensor:
        """The output for feature frames [offset, offset + frames) of x: [B, dim, T] -> [B, frames * frame_hop]."""
        ola, env = self.overlap_add(self.spectrum(x))
        start = self.pad + offset * self.frame_hop
        return (ola / env.clamp(min=1e-8))[:, start: start + frames * self.frame_hop]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, dim, T] -> [B, T * frame_hop]
        return self.piece(x, 0, x.shape[-1])


class EnvelopeHead(nn.Module):
    """[B, dim, T] features -> a gain curve [B, T * frame_hop] >= 0: `steps` log-gains per frame,
    each centred on its step, linearly interpolated between centres (held at the ends)."""

    MIN_LOG_GAIN, MAX_LOG_GAIN = math.log(1e-4), math.log(4.0)

    def __init__(self, dim: int, steps: int, frame_hop: int, hidden: int = 0):
        super().__init__()
        self.steps, self.step_len = steps, frame_hop // steps
        self.body = None
        if hidden:
            self.body = nn.Sequential(nn.Conv1d(dim, hidden, 3, padding=1), nn.GELU(),
                                      nn.Conv1d(hidden, hidden, 3, padding=1), nn.GELU())
        self.out = nn.Linear(hidden or dim, steps)

    def reach(self) -> int:
        """Frames each side whose features a frame's gains depend on (the interpolation reaches one)."""
        return 1 + (2 if self.body is not None else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.body is not None:
            x = self.body(x)  # [B, hidden, T]
        B, _, T = x.shape
        log_gain = self.out(x.transpose(1, 2)).reshape(B, 1, T * self.steps)  # [B, 1, T * steps]
        gain = torch.exp(log_gain.clamp(self.MIN_LOG_GAIN, self.MAX_LOG_GAIN))
        return F.interpolate(gain, scale_factor=self.step_len, mode="linear", align_corners=False)[:, 0]


class VocosModel(nn.Module):
    def __init__(self, cfg: VocosConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Conv1d(cfg.mel.n_mels, cfg.dim, cfg.kernel, padding=cfg.kernel // 2)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg.dim, cfg.intermediate, cfg.kernel, 1.0 / cfg.layers)
                                    for _ in range(cfg.layers))
        self.final_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = ISTFTHead(cfg.dim, cfg.head_n_fft, cfg.mel.hop_length, cfg.head_subframes)
        self.short_head = self.short_gate = None
        if cfg.short_head_n_fft:
            self.short_head = ISTFTHead(cfg.dim, cfg.short_head_n_fft, cfg.mel.hop_length, cfg.short_head_subframes)
            self.short_gate = nn.Parameter(torch.zeros(1))
        self.envelope = (EnvelopeHead(cfg.dim, cfg.envelope_steps, cfg.mel.hop_length, cfg.envelope_hidden)
                         if cfg.envelope_steps else None)
        self.apply(self._init)
        if self.envelope is not None:  # gain 1 everywhere until it learns otherwise
            nn.init.zeros_(self.envelope.out.weight)

    @staticmethod
    def _init(module):
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def features(self, log_mel: torch.Tensor) -> torch.Tensor:  # [B, n_mels, T] -> [B, dim, T]
        x = self.norm(self.embed(log_mel).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.final_norm(x.transpose(1, 2)).transpose(1, 2)

    def waveform(self, x: torch.Tensor, offset: int = 0, frames: int | None = None) -> torch.Tensor:
        """Features [B, dim, T] -> the waveform of frames [offset, offset + frames): [B, frames * hop]."""
        frames = x.shape[-1] - offset if frames is None else frames
        wave = self.head.piece(x, offset, frames)
        if self.short_head is not None:
            wave = wave + self.short_gate * self.short_head.piece(x, offset, frames)
        if self.envelope is not None:  # [B, T * hop]: what a step reads lies within context_frames' reach
            hop = self.cfg.mel.hop_length
            wave = wave * self.envelope(x)[:, offset * hop: (offset + frames) * hop]
        return wave

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:  # [B, n_mels, T] -> [B, T * hop]
        return self.waveform(self.features(log_mel))

    def heads(self) -> list[ISTFTHead]:
        return [self.head] + ([self.short_head] if self.short_head is not None else [])

    def context_frames(self) -> tuple[int, int]:
        """(backbone radius, output radius: the overlap-add's or the envelope's) in mel frames: what a
        chunk needs on each side."""
        radius = (self.cfg.kernel // 2) * (self.cfg.layers + 1)
        reach = max(head.reach() for head in self.heads())
        if self.envelope is not None:  # its edge frames see zero padding: keep them outside the chunk
            reach = max(reach, self.envelope.reach())
        return radius, reach


# ------------------------------------------------------------------------------------------
# Weights
# ------------------------------------------------------------------------------------------
def config_path_for(weights: Path) -> Path:
    return weights.with_suffix(".json")


def read_vocos_config(path: Path) -> VocosConfig:
    data = read_json_object(path, "vocos vocoder: config", missing_error=MissingResourceError,
                            missing_hint=" (it sits beside the weights)")
    return VocosConfig.from_dict(data.get("model", data))


def save_vocos(path: str | os.PathLike, model: VocosModel, *, half: bool = True, extra: dict | None = None) -> Path:
    """Weights (float16 by default: half the size, no audible change) + `<name>.json` beside them."""
    from audiogan_core.checkpoint import save_state_dict

    path = Path(path)
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    save_state_dict(path, state, metadata={"format": "audiogan-vocos", "config": model.cfg.to_dict()})
    atomic_write_text(config_path_for(path), json.dumps({"model": model.cfg.to_dict(), **(extra or {})}, indent=2))
    return path


def load_vocos(path: str | os.PathLike, expected_mel: MelConfig | None = None,
               device: str | torch.device = "cpu") -> VocosModel:
    from audiogan_core.checkpoint import load_state_dict

    path = Path(path).expanduser()
    cfg = read_vocos_config(config_path_for(path))
    if expected_mel is not None and cfg.mel != expected_mel:
        raise MelConfigMismatchError(f"vocos vocoder {path} expects another mel front end "
                                     f"({expected_mel.differences(cfg.mel)})")
    model = VocosModel(cfg)
    load_state_dict_checked(model, {k: v.float() for k, v in load_state_dict(path).items()}, f"vocos vocoder {path}")
    return model.eval().requires_grad_(False).to(device)


def deepen_state_dict(state: dict, model: VocosModel) -> dict:
    """`state` (weights of a vocos with fewer ConvNeXt blocks, otherwise the same) as weights for
    `model`: the blocks it has keep their weights, the blocks after them keep `model`'s fresh
    initialisation with their layer scale at zero, so each starts as the identity and the deeper
    network begins as exactly the shallower one (growing a trained vocoder instead of retraining)."""
    target = model.state_dict()
    own_blocks = {int(k.split(".")[1]) for k in state if k.startswith("blocks.")}
    have = len(own_blocks)
    if own_blocks != set(range(have)) or not 0 < have <= model.cfg.layers:
        raise ConfigMismatchError(f"vocos: cannot grow weights with blocks {sorted(own_blocks)} into "
                                  f"{model.cfg.layers} blocks")
    grown = dict(target)
    for key, value in state.items():
        if key not in target or target[key].shape != value.shape:
            raise ConfigMismatchError(f"vocos: cannot grow these weights into this config: tensor {key!r} "
                                      f"{tuple(value.shape)} does not fit "
                                      f"{tuple(target[key].shape) if key in target else 'any tensor'}")
        grown[key] = value
    for i in range(have, model.cfg.layers):
        grown[f"blocks.{i}.gamma"] = torch.zeros_like(target[f"blocks.{i}.gamma"])
    return grown


def average_vocos(paths, out: str | os.PathLike) -> Path:
    """The uniform average of several vocos weights of one config (snapshots of one run) saved as `out`
    (float16, its .json beside it): averaging smooths the snapshot-to-snapshot noise of adversarial
    training. Refuses weights of different configs and an `out` that exists."""
    paths = [Path(p).expanduser() for p in paths]
    out = Path(out).expanduser()
    if len(paths) < 2:
        raise ConfigMismatchError(f"vocos: averaging needs at least two weight files, got {len(paths)}")
    if out.exists() or config_path_for(out).exists():
        raise FileExistsError(f"vocos: {out} (or its .json) exists; not overwriting it")
    models = [load_vocos(p) for p in paths]
    if any(m.cfg != models[0].cfg for m in models[1:]):
        raise ConfigMismatchError(f"vocos: {', '.join(map(str, paths))} are not all of one config")
    states = [m.state_dict() for m in models]
    average = {k: sum(s[k].double() for s in states).div(len(states)).float() for k in states[0]}
    models[0].load_state_dict(average)
    return save_vocos(out, models[0], extra={"averaged_from": [str(p) for p in paths]})


class VocosVocoder(Vocoder):
    """log-mel [B, n_mels, T] -> waveform [B, T * hop] with a VocosModel; `stream()` for playback.
    `match_mel` rounds of audiogan_core.mel.match_mel then move the rendering's mel to the one given."""

    name = "vocos"

    def __init__(self, checkpoint: str | os.PathLike | None = None, mel_config=None,
                 match_mel: int | str = MATCH_ROUNDS):
        # an option from the command line arrives as text
        rounds = int(match_mel) if isinstance(match_mel, str) and match_mel.strip().isdigit() else match_mel
        if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 0:
            raise ConfigError(f"vocos vocoder: match_mel must be a whole number of rounds >= 0 (0: off), "
                              f"got {match_mel!r}")
        self.match_rounds = rounds
        self.checkpoint_path = Path(checkpoint).expanduser() if checkpoint is not None else BUNDLED
        if checkpoint is None and not BUNDLED.is_file():
            raise MissingResourceError(f"vocos vocoder: the bundled weights {BUNDLED} are missing from the "
                                       f"installation; reinstall audiogan or pass checkpoint=PATH")
        self.config = read_vocos_config(config_path_for(self.checkpoint_path))
        self.mel_config = self.config.mel
        self.check_mel_config(mel_config, str(self.checkpoint_path))
        self.device = torch.device("cpu")
        self._model: VocosModel | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> VocosModel:
        if self._model is None:
            self.load(self.device)
        return self._model

    def load(self, device="cpu") -> "VocosVocoder":
        device = torch.device(device)
        with self._lock:
            if self._model is None:
                self._model = load_vocos(self.checkpoint_path, self.mel_config, device)
            self._model.to(device)
            self.device = device
        return self

    def _check(self, log_mel) -> tuple[torch.Tensor, bool]:
        log_mel, squeeze = self.check_input(log_mel)
        if log_mel.shape[-1] < 1:
            raise InputError("vocos vocoder: log-mel has no frames")
        return log_mel, squeeze

    @torch.no_grad()
    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        log_mel, squeeze = self._check(log_mel)
        in_device = log_mel.device
        x = log_mel.to(self.device, torch.float32)
        wave = match_mel(self.model(x), x, self.mel_config, self.match_rounds)  # 0 rounds: the network alone
        wave = wave.clamp(-1.0, 1.0).to(in_device)
        return wave[0] if squeeze else wave

    @torch.no_grad()
    def stream(self, log_mel: torch.Tensor, chunk_frames: int = 32) -> Iterator[torch.Tensor]:
        """Yield waveform chunks ([B, chunk * hop], the last one shorter) whose concatenation equals
        `self(log_mel)` to float rounding; the first arrives after one chunk's work."""
        log_mel, squeeze = self._check(log_mel)
        if not isinstance(chunk_frames, int) or isinstance(chunk_frames, bool) or chunk_frames < 1:
            raise InputError(f"vocos vocoder: chunk_frames must be a positive integer, got {chunk_frames!r}")
        model = self.model
        in_device = log_mel.device
        x = log_mel.to(self.device, torch.float32)
        T = x.shape[-1]
        cfg = self.mel_config
        hop, extra = cfg.hop_length, match_mel_reach(cfg, self.match_rounds)
        for a in range(0, T, chunk_frames):
            b = min(T, a + chunk_frames)
            pa, pb = max(0, a - extra), min(T, b + extra)
            piece = self._frames(model, x, pa, pb)
            piece = match_mel(piece, x[..., pa:pb], cfg, self.match_rounds)  # 0 rounds: as it is
            piece = piece[:, (a - pa) * hop: (b - pa) * hop].clamp(-1.0, 1.0).to(in_device)
            yield piece[0] if squeeze else piece

    @staticmethod
    def _frames(model: VocosModel, x: torch.Tensor, a: int, b: int) -> torch.Tensor:
        """The one-pass waveform of mel frames [a, b), computed from the frames it depends on alone."""
        T = x.shape[-1]
        radius, reach = model.context_frames()
        fa, fb = max(0, a - reach), min(T, b + reach)  # spectral frames that reach samples [a, b) * hop
        xa, xb = max(0, fa - radius), min(T, fb + radius)  # mel frames those frames depend on
        features = model.features(x[..., xa:xb])[..., fa - xa: fb - xa]
        return model.waveform(features, a - fa, b - a)


@hookimpl
def register_vocoders(register):
    register("vocos", VocosVocoder,
             description="audiogan's own ConvNeXt + inverse-STFT vocoder (Vocos family), weights in the package "
                         "(22.05 kHz, 80 mels, hop 256); ~35x HiFi-GAN's speed on a CPU; checkpoint=PATH.safetensors, "
                         "match_mel=N rounds of mel matching (default 3, 0: off)")
