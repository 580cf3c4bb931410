"""`vggish`: VGGish (Hershey et al. 2017) for the FAD, loaded from the torchvggish state dict
`vggish-10086976.pth` (https://github.com/harritaylor/torchvggish/releases, a conversion of
Google's AudioSet VGGish) given as checkpoint=PATH.

Preprocessing (AudioSet `vggish_input` / `mel_features`): 16 kHz mono; STFT magnitude with a
25 ms periodic Hann window (400 samples), 10 ms hop (160), FFT 512, no centring; 64 HTK-mel
bands 125-7500 Hz (triangles on the linear bins, DC bin zeroed); log(mel + 0.01); frames cut
into 96 x 64 examples of 0.96 s with hop 0.96 s (a trailing partial example is dropped; a clip
shorter than 0.96 s is zero-padded to one example).
Network: VGG (conv 64, pool, 128, pool, 256, 256, pool, 512, 512, pool) and fc 12288-4096-4096-128.
As in audioldm_eval (the published FAD numbers): no PCA post-processing and no final ReLU
(activation=False; pass activation=True to keep it). The FAD is the Fréchet distance between
Gaussians fitted to all frame embeddings (`frames` in the result); the clip embedding is their mean.

Layer widths are read from the checkpoint, so a smaller checkpoint with the same key names
(used by the tests) loads too; the published one gives 128-d embeddings.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiogan_core.checkpoint import load_state_dict_checked, read_torch_checkpoint
from audiogan_core.errors import CheckpointError
from audiogan_core.interfaces import Embedder

from .common import FramedEmbeddingResult, pick_device, prepare_audio, require_file, state_dict_from

SAMPLE_RATE = 16000
WINDOW = 400
HOP = 160
FFT = 512
N_MELS = 64
MEL_MIN, MEL_MAX = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96
CONV_KEYS = (0, 3, 6, 8, 11, 13)  # features.N of make_layers(): conv/relu/pool indices
POOL_AFTER = {0, 3, 8, 13}
FC_KEYS = (0, 2, 4)
WHERE = ("the torchvggish conversion of AudioSet VGGish, vggish-10086976.pth: "
         "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth")


def _hertz_to_mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)


def vggish_mel_matrix(num_spectrogram_bins: int = FFT // 2 + 1) -> np.ndarray:
    """[bins, 64] as mel_features.spectrogram_to_mel_matrix (HTK mel, unnormalised triangles)."""
    bins_mel = _hertz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, num_spectrogram_bins))
    edges = np.linspace(_hertz_to_mel(MEL_MIN), _hertz_to_mel(MEL_MAX), N_MELS + 2)
    weights = np.empty((num_spectrogram_bins, N_MELS))
    for i in range(N_MELS):
        lo, center, hi = edges[i:i + 3]
        lower = (bins_mel - lo) / (center - lo)
        upper = (hi - bins_mel) / (hi - center)
        weights[:, i] = np.maximum(0.0, np.minimum(lower, upper))
    weights[0, :] = 0.0
    return weights


_MEL = None


def vggish_examples(clip: np.ndarray) -> np.ndarray:
    """[examples, 96, 64] log-mel patches of one 16 kHz clip."""
    global _MEL
    if _MEL is None:
        _MEL = vggish_mel_matrix()
    x = clip.astype(np.float64)
    min_len = WINDOW + HOP * (EXAMPLE_FRAMES - 1)  # 0.96 s (15600 samples) -> exactly one example
    if len(x) < min_len:
        x = np.pad(x, (0, min_len - len(x)))
    n_frames = 1 + (len(x) - WINDOW) // HOP
    idx = np.arange(WINDOW)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi / WINDOW * np.arange(WINDOW))  # periodic Hann
    mag = np.abs(np.fft.rfft(x[idx] * window, FFT))
    log_mel = np.log(mag @ _MEL + LOG_OFFSET)
    n_ex = 1 + (n_frames - EXAMPLE_FRAMES) // EXAMPLE_FRAMES
    return np.stack([log_mel[i * EXAMPLE_FRAMES:(i + 1) * EXAMPLE_FRAMES] for i in range(n_ex)]).astype(np.float32)


class _VGG(nn.Module):
    """torchvggish.vggish.VGG with widths taken from a state dict (same parameter names)."""

    def __init__(self, conv_widths, fc_sizes):
        super().__init__()
        layers, cin = [], 1
        for i, (key, cout) in enumerate(zip(CONV_KEYS, conv_widths)):
            while len(layers) < key:
                layers.append(nn.Identity())
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
            if key in POOL_AFTER:
                layers.append(nn.MaxPool2d(2, 2))
            cin = cout
        self.features = nn.Sequential(*layers)
        fin = conv_widths[-1] * 4 * 6
        self.embeddings = nn.Sequential(nn.Linear(fin, fc_sizes[0]), nn.ReLU(), nn.Linear(fc_sizes[0], fc_sizes[1]),
                                        nn.ReLU(), nn.Linear(fc_sizes[1], fc_sizes[2]), nn.ReLU())

    def forward(self, x, activation: bool):  # [B, 1, 96, 64]
        x = self.features(x)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # the TF (NHWC) flattening order
        emb = self.embeddings
        x = emb[4](emb[3](emb[2](emb[1](emb[0](x)))))
        return F.relu(x) if activation else x


def build_vggish(state: dict) -> _VGG:
    try:
        widths = [int(state[f"features.{k}.weight"].shape[0]) for k in CONV_KEYS]
        fcs = [int(state[f"embeddings.{k}.weight"].shape[0]) for k in FC_KEYS]
        fin = int(state["embeddings.0.weight"].shape[1])
    except KeyError as exc:
        raise CheckpointError(f"vggish embedder: not a torchvggish state dict (no {exc.args[0]})") from None
    if fin != widths[-1] * 24:
        raise CheckpointError(f"vggish embedder: embeddings.0 takes {fin} inputs, but the conv stack gives "
                              f"{widths[-1]} x 4 x 6 = {widths[-1] * 24}")
    model = _VGG(widths, fcs)
    load_state_dict_checked(model, state, "vggish embedder", ignore_prefixes=("pproc.",))
    return model.eval()


class VGGishEmbedder(Embedder):
    name = "vggish"
    sample_rate = SAMPLE_RATE
    dim = 128
    num_classes = 0

    def __init__(self, checkpoint: str | None = None, activation: bool = False, device: str | None = "cpu",
                 batch_size: int = 128):
        self.checkpoint = checkpoint
        self.activation = bool(activation)
        self._device = device
        self.batch_size = int(batch_size)
        self._model = None

    def load(self, device=None) -> "VGGishEmbedder":
        if device is not None:
            self._device = device
        if self._model is None:
            path = require_file(self.checkpoint, "vggish embedder", WHERE)
            state = state_dict_from(read_torch_checkpoint(path, "vggish checkpoint"), "vggish embedder")
            self._model = build_vggish(state)
            self.dim = int(state["embeddings.4.weight"].shape[0])
        self._dev = pick_device(self._device)
        self._model.to(self._dev)
        return self

    @torch.inference_mode()
    def embed(self, audio, sample_rate: int) -> FramedEmbeddingResult:
        clips = prepare_audio(audio, sample_rate, SAMPLE_RATE, name=self.name)
        self.load()
        examples = [vggish_examples(c) for c in clips]
        data = torch.from_numpy(np.concatenate(examples))[:, None]
        out = []
        for start in range(0, len(data), self.batch_size):
            out.append(self._model(data[start:start + self.batch_size].to(self._dev), self.activation).float().cpu())
        out = torch.cat(out)
        frames, pos = [], 0
        for ex in examples:
            frames.append(out[pos:pos + len(ex)])
            pos += len(ex)
        return FramedEmbeddingResult(torch.stack([f.mean(0) for f in frames]), None, frames=frames)
