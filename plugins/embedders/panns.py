"""`panns`: PANNs CNN14 (Kong et al. 2020) for the paper's FD, IS and KL, loaded from the
published checkpoint given as checkpoint=PATH: `Cnn14_mAP=0.431.pth` (32 kHz,
https://zenodo.org/record/3987831) or `Cnn14_16k_mAP=0.438.pth` (16 kHz, same record) — a
dict whose "model" entry is the state dict.

Front end as in PANNs / audioldm_eval: mono, DC removed, resampled; clips shorter than
32000 samples zero-padded to 32000; |STFT|^2 with a periodic Hann window, centred with
reflect padding; 64 Slaney mel bands (librosa.filters.mel); 10 log10(max(x, 1e-10)).
32 kHz: n_fft 1024, hop 320, 50-14000 Hz; 16 kHz: n_fft 512, hop 160, 50-8000 Hz. The rate is
taken from the checkpoint's own STFT kernel when present (else the sample_rate option).
Network: bn0 over mel bins, six conv blocks (avg-pool), mean over frequency, max + mean over
time, fc1 + ReLU -> the 2048-d embedding; fc_audioset -> 527 AudioSet logits.
Probabilities are softmax(logits): audioldm_eval (the published IS and KL) applies softmax to
the pre-sigmoid logits, not the sigmoid clip-wise output.

Widths and class count are read from the checkpoint (tests use a small one with the same key
names); the published checkpoints give 2048-d embeddings and 527 classes.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiogan_core.checkpoint import load_state_dict_checked, read_torch_checkpoint
from audiogan_core.errors import CheckpointError, InputError
from audiogan_core.interfaces import Embedder, EmbeddingResult

from .common import ConvBlock, pick_device, prepare_audio, require_file, state_dict_from

CONFIGS = {
    32000: dict(n_fft=1024, hop=320, fmin=50.0, fmax=14000.0),
    16000: dict(n_fft=512, hop=160, fmin=50.0, fmax=8000.0),
}
N_MELS = 64
MIN_SAMPLES = 32000  # audioldm_eval pad_short_audio
WHERE = ("PANNs CNN14, Cnn14_mAP=0.431.pth (32 kHz) or Cnn14_16k_mAP=0.438.pth (16 kHz): "
         "https://zenodo.org/record/3987831")
FRONT_END_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.")


class _Cnn14(nn.Module):
    """PANNs Cnn14 without its torchlibrosa front end (same parameter names otherwise)."""

    def __init__(self, widths, n_mels, hidden, classes):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(n_mels)
        cin = 1
        for i, w in enumerate(widths, 1):
            setattr(self, f"conv_block{i}", ConvBlock(F.avg_pool2d, cin, w))
            cin = w
        self.fc1 = nn.Linear(cin, hidden)
        self.fc_audioset = nn.Linear(hidden, classes)

    def forward(self, logmel):  # [B, 1, frames, mels]
        x = self.bn0(logmel.transpose(1, 3)).transpose(1, 3)
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x, (2, 2) if i < 6 else (1, 1))
        x = x.mean(dim=3)
        x = x.max(dim=2).values + x.mean(dim=2)
        x = F.relu(self.fc1(x))
        return x, self.fc_audioset(x)


class PannsFrontEnd(nn.Module):
    def __init__(self, sample_rate: int):
        super().__init__()
        import librosa

        cfg = CONFIGS[sample_rate]
        self.n_fft, self.hop = cfg["n_fft"], cfg["hop"]
        self.register_buffer("window", torch.hann_window(self.n_fft, periodic=True))
        mel = librosa.filters.mel(sr=sample_rate, n_fft=self.n_fft, n_mels=N_MELS, fmin=cfg["fmin"], fmax=cfg["fmax"])
        self.register_buffer("mel", torch.from_numpy(mel.T.astype(np.float32)))  # [bins, mels]

    def forward(self, wave):  # [B, samples] -> [B, 1, frames, mels]
        spec = torch.stft(wave, self.n_fft, self.hop, self.n_fft, self.window, center=True, pad_mode="reflect",
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2  # [B, bins, frames]
        mel = power.transpose(1, 2) @ self.mel
        return (10.0 * torch.log10(mel.clamp(min=1e-10))).unsqueeze(1)


def checkpoint_rate(state: dict, default: int) -> int:
    kernel = state.get("spectrogram_extractor.stft.conv_real.weight")
    if kernel is None:
        return default
    n_fft = int(kernel.shape[-1])
    for rate, cfg in CONFIGS.items():
        if cfg["n_fft"] == n_fft:
            return rate
    raise CheckpointError(f"panns embedder: checkpoint STFT size {n_fft} matches neither the 16 kHz nor the 32 kHz CNN14")


def build_cnn14(state: dict) -> _Cnn14:
    try:
        widths = [int(state[f"conv_block{i}.conv1.weight"].shape[0]) for i in range(1, 7)]
        n_mels = int(state["bn0.weight"].shape[0])
        hidden = int(state["fc1.weight"].shape[0])
        classes = int(state["fc_audioset.weight"].shape[0])
    except KeyError as exc:
        raise CheckpointError(f"panns embedder: not a PANNs CNN14 state dict (no {exc.args[0]})") from None
    if n_mels != N_MELS:
        raise CheckpointError(f"panns embedder: checkpoint expects {n_mels} mel bins; CNN14 uses {N_MELS}")
    model = _Cnn14(widths, n_mels, hidden, classes)
    load_state_dict_checked(model, state, "panns embedder", ignore_prefixes=FRONT_END_PREFIXES)
    return model.eval()


class PannsEmbedder(Embedder):
    name = "panns"
    dim = 2048
    num_classes = 527

    def __init__(self, checkpoint: str | None = None, sample_rate: int = 32000, device: str | None = "cpu",
                 batch_size: int = 8):
        if int(sample_rate) not in CONFIGS:
            raise InputError(f"panns embedder: sample_rate must be 32000 or 16000, got {sample_rate}")
        self.checkpoint = checkpoint
        self.sample_rate = int(sample_rate)
        self._device = device
        self.batch_size = int(batch_size)
        self._model = None

    def load(self, device=None) -> "PannsEmbedder":
        if device is not None:
            self._device = device
        if self._model is None:
            path = require_file(self.checkpoint, "panns embedder", WHERE)
            state = state_dict_from(read_torch_checkpoint(path, "panns checkpoint"), "panns embedder")
            self.sample_rate = checkpoint_rate(state, self.sample_rate)
            self._model = build_cnn14(state)
            self._front = PannsFrontEnd(self.sample_rate)
            self.dim = self._model.fc1.out_features
            self.num_classes = self._model.fc_audioset.out_features
        self._dev = pick_device(self._device)
        self._model.to(self._dev)
        self._front.to(self._dev)
        return self

    @torch.inference_mode()
    def embed(self, audio, sample_rate: int) -> EmbeddingResult:
        self.load()
        clips = prepare_audio(audio, sample_rate, self.sample_rate, name=self.name)
        embs, probs = [], []
        # One clip at a time inside a batch of equal lengths (no padding artefacts across clips).
        order = sorted(range(len(clips)), key=lambda i: len(clips[i]))
        results: dict[int, tuple] = {}
        group: list[int] = []

        def flush():
            if not group:
                return
            wave = torch.stack([torch.from_numpy(self._prep(clips[i])) for i in group]).to(self._dev)
            emb, logits = self._model(self._front(wave))
            for j, i in enumerate(group):
                results[i] = (emb[j].float().cpu(), torch.softmax(logits[j].float(), -1).cpu())
            group.clear()

        for i in order:
            if group and (len(clips[group[0]]) != len(clips[i]) or len(group) >= self.batch_size):
                flush()
            group.append(i)
        flush()
        for i in range(len(clips)):
            embs.append(results[i][0])
            probs.append(results[i][1])
        return EmbeddingResult(torch.stack(embs), torch.stack(probs))

    @staticmethod
    def _prep(clip: np.ndarray) -> np.ndarray:
        x = clip - clip.mean()
        if len(x) < MIN_SAMPLES:
            x = np.pad(x, (0, MIN_SAMPLES - len(x)))
        return x.astype(np.float32)
