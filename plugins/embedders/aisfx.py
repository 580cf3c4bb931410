"""`aisfx`: the default evaluation embedder, from the PyPI package `aisfx` (Ma & Lerch, ISMIR 2022,
"Representation Learning for the Automatic Indexing of Sound Effects Libraries").

A 6.2M-parameter CNN (four conv blocks, 64-128-256-512 channels) trained on sound-effects
libraries, with nine classifier heads (one per training library). It needs no download: the
checkpoint ships inside the package, which is why it is the default. Its numbers are for
comparing audiogan models with each other (and with the floor/ceiling printed beside them);
they are not comparable with published AudioCaps tables (those use VGGish, PANNs and CLAP:
see `reference.py`).

Preprocessing, as in aisfx's own inference code (librosa path):
  44.1 kHz mono, peak-normalised; mel power spectrogram n_fft = win = 2048, hop 1024,
  96 HTK mel bands over 0-22050 Hz, each filter normalised to unit sum (essentia 'unit_sum');
  log10(1e4 * S + 1), divided by 9.457798957824707 (the package's 'original' min/max);
  frames x bands, cut into blocks of 100 frames (~2.3 s) with hop 50 (emb_hop_size 0.5),
  a last partial block dropped unless it is the only one (zero-padded then).
  (aisfx's own librosa path hands the model bands x frames; its essentia path, which the
  paper used and the model was trained on, gives frames x bands: we follow the latter.)
Embedding: the 512-d block embeddings, averaged over blocks.
Probabilities: softmax of the chosen head (default `ucsMixed`, 69 UCS categories), averaged
over blocks; used for IS and KL. Heads: prosfx 78, soundlyTrain 79, ucsMixed 69,
soundstormBalanced 81, productionelementsBalanced 10, cartoonexpressBalanced 27,
hpxdigitalBalanced 3, series6000Balanced 23, series9000Balanced 8 classes.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiogan_core.checkpoint import load_state_dict_checked, read_torch_checkpoint
from audiogan_core.errors import CheckpointError, InputError, MissingResourceError
from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import Embedder, EmbeddingResult

from .common import ConvBlock, pick_device, prepare_audio

SAMPLE_RATE = 44100
N_FFT = 2048
HOP = 1024
N_MELS = 96
SPEC_MAX = 9.457798957824707  # aisfx spectrogram_normalize(spec_norm='original'): (spec - 0) / (max - 0)
BLOCK = 100  # frames per embedding block (~2.3 s)
BLOCK_HOP = 50  # emb_hop_size 0.5
DEFAULT_HEAD = "ucsMixed"
CHECKPOINT_IN_PACKAGE = "aisfx/models/checkpoint.pth"


class _EmbeddingNet(nn.Module):
    """aisfx.models.cnn2d.EmbeddingNet('max', 3, 1, 64) (same parameter names)."""

    def __init__(self, width=64):
        super().__init__()
        w = [width, width * 2, width * 4, width * 8]
        self.conv_block1 = ConvBlock(F.max_pool2d, 1, w[0])
        self.conv_block2 = ConvBlock(F.max_pool2d, w[0], w[1])
        self.conv_block3 = ConvBlock(F.max_pool2d, w[1], w[2])
        self.conv_block4 = ConvBlock(F.max_pool2d, w[2], w[3])

    def forward(self, x):  # [B, frames, bands]
        x = x.unsqueeze(1)
        x = self.conv_block1(x, (2, 2))
        x = self.conv_block2(x, (2, 2))
        x = self.conv_block3(x, (2, 2))
        x = self.conv_block4(x, (1, 1))
        x = x.mean(dim=3)  # over bands
        return x.max(dim=2).values  # over time -> [B, 512]


class _CrossNet(nn.Module):
    """aisfx.models.cnn2d.CrossNet: the embedding net plus one MLP head per training library."""

    def __init__(self, heads: dict[str, tuple[int, int]], width=64):
        super().__init__()
        self.embedding_net = _EmbeddingNet(width)
        d = width * 8
        ordered = sorted(heads.items(), key=lambda kv: kv[1][0])
        self.head_index = {name: idx for name, (idx, _) in ordered}
        self.fc = nn.ModuleList([nn.Sequential(nn.Linear(d, d // 2), nn.ReLU(), nn.Linear(d // 2, d // 4), nn.ReLU(),
                                               nn.Linear(d // 4, n)) for _, (_, n) in ordered])


def packaged_checkpoint() -> Path:
    """The checkpoint file of the installed aisfx distribution, verified against the sha256
    recorded in the distribution's RECORD. No other path is ever loaded."""
    try:
        dist = importlib.metadata.distribution("aisfx")
    except importlib.metadata.PackageNotFoundError:
        raise MissingResourceError(
            "the aisfx embedder needs the PyPI package aisfx (it ships the model weights): "
            "pip install --no-deps aisfx") from None
    record = next((f for f in (dist.files or []) if str(f).replace("\\", "/") == CHECKPOINT_IN_PACKAGE), None)
    if record is None:
        raise MissingResourceError(f"the installed aisfx distribution lists no {CHECKPOINT_IN_PACKAGE}; "
                                   f"reinstall it: pip install --no-deps --force-reinstall aisfx")
    path = Path(dist.locate_file(record)).resolve()
    if not path.is_file():
        raise MissingResourceError(f"aisfx model weights missing: {path}; reinstall: "
                                   f"pip install --no-deps --force-reinstall aisfx")
    if record.hash is not None and record.hash.mode == "sha256":
        digest = hashlib.sha256(path.read_bytes()).digest()
        actual = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if actual != record.hash.value:
            raise CheckpointError(f"{path} does not match the sha256 recorded when aisfx was installed; "
                                  f"reinstall it: pip install --no-deps --force-reinstall aisfx")
    return path


def load_packaged_weights() -> tuple[dict, dict]:
    """(state_dict, heads) from the package's checkpoint: a pickled (OrderedDict, ds_dict) tuple
    whose ds_dict holds numpy int64 indices. It loads with weights_only=True once numpy's
    scalar constructor is allowed (audiogan_core.checkpoint.read_torch_checkpoint); full unpickling
    (weights_only=False) is never needed, and the path comes only from the installed
    distribution, checked against its RECORD hash, so no user-supplied pickle is read here."""
    path = packaged_checkpoint()
    obj = read_torch_checkpoint(path, "aisfx checkpoint")
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2 and isinstance(obj[0], dict) and isinstance(obj[1], dict)):
        raise CheckpointError(f"aisfx checkpoint {path} is not the expected (weights, datasets) pair")
    weights, ds = obj
    heads = {str(k): (int(v[0]), int(v[1])) for k, v in ds.items()}
    return dict(weights), heads


def htk_mel_unit_sum(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 0.0,
                     fmax: float | None = None) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangles on the HTK mel scale, each scaled to unit sum:
    librosa.filters.mel(htk=True, norm=1.0), essentia MelBands(htkMel, unit_sum)."""
    fmax = sr / 2 if fmax is None else fmax
    to_mel = lambda f: 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)  # noqa: E731
    mel_f = 700.0 * (10.0 ** (np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2) / 2595.0) - 1.0)
    fft_f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_f[None, :]
    weights = np.maximum(0.0, np.minimum(-ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]))
    sums = weights.sum(axis=1, keepdims=True)
    return (weights / np.where(sums > 0, sums, 1.0)).astype(np.float32)


_MEL_BASIS: torch.Tensor | None = None


def aisfx_features(clip: np.ndarray) -> np.ndarray:
    """[frames, 96] normalised log-mel of one 44.1 kHz clip (aisfx preprocessing; numerically the
    librosa path: centred frames, zero padding, periodic Hann window, power spectrum)."""
    global _MEL_BASIS
    if _MEL_BASIS is None:
        _MEL_BASIS = torch.from_numpy(htk_mel_unit_sum())
    peak = float(np.max(np.abs(clip))) if clip.size else 0.0
    y = torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32)) / (peak if peak > 0 else 1.0)
    pad = N_FFT // 2
    y = torch.nn.functional.pad(y, (pad, pad))  # librosa >= 0.10: center=True, pad_mode="constant"
    spec = torch.stft(y, N_FFT, HOP, N_FFT, torch.hann_window(N_FFT, periodic=True), center=False,
                      return_complex=True)
    power = spec.real ** 2 + spec.imag ** 2  # [bins, frames]
    mel = _MEL_BASIS @ power
    return (torch.log10(mel * 10000.0 + 1.0) / SPEC_MAX).T.contiguous().numpy()


def blocks_of(spec: np.ndarray) -> np.ndarray:
    """aisfx.preprocessing.blocking(spec, 100, 50, drop_partial_block=True), safe for short clips."""
    frames = spec.shape[0]
    n = int(np.ceil((frames - BLOCK) / BLOCK_HOP + 1))
    if (frames - BLOCK) % BLOCK_HOP != 0:
        n -= 1
    n = max(n, 1)
    padded = np.vstack([spec, np.zeros((BLOCK, spec.shape[1]), np.float32)])
    return np.stack([padded[i * BLOCK_HOP:i * BLOCK_HOP + BLOCK] for i in range(n)])


class AisfxEmbedder(Embedder):
    name = "aisfx"
    sample_rate = SAMPLE_RATE
    dim = 512

    def __init__(self, head: str = DEFAULT_HEAD, device: str | None = "cpu", batch_size: int = 64):
        self.head = head
        self._device = device
        self.batch_size = int(batch_size)
        self._model: _CrossNet | None = None
        self.heads: dict[str, tuple[int, int]] | None = None
        self.num_classes = 69 if head == DEFAULT_HEAD else 0  # exact after load()

    def load(self, device=None) -> "AisfxEmbedder":
        if device is not None:
            self._device = device
        dev = pick_device(self._device)
        if self._model is None:
            weights, heads = load_packaged_weights()
            if self.head not in heads:
                raise InputError(f"aisfx has no classifier head {self.head!r}; heads: {', '.join(sorted(heads))}")
            model = _CrossNet(heads)
            load_state_dict_checked(model, weights, "aisfx embedder")
            self._model = model.eval()
            self.heads = heads
            self.num_classes = heads[self.head][1]
        self._model.to(dev)
        self._dev = dev
        return self

    @torch.inference_mode()
    def embed(self, audio, sample_rate: int) -> EmbeddingResult:
        clips = prepare_audio(audio, sample_rate, SAMPLE_RATE, name=self.name)
        self.load()
        blocks, owner = [], []
        for i, clip in enumerate(clips):
            b = blocks_of(aisfx_features(clip))
            blocks.append(b)
            owner.extend([i] * len(b))
        data = torch.from_numpy(np.concatenate(blocks))
        owner_t = torch.tensor(owner)
        head = self._model.fc[self._model.head_index[self.head]]
        embs, probs = [], []
        for start in range(0, len(data), self.batch_size):
            x = data[start:start + self.batch_size].to(self._dev)
            e = self._model.embedding_net(x)
            embs.append(e.float().cpu())
            probs.append(torch.softmax(head(e).float(), dim=-1).cpu())
        embs, probs = torch.cat(embs), torch.cat(probs)
        counts = torch.bincount(owner_t, minlength=len(clips)).clamp(min=1).unsqueeze(1).float()
        clip_emb = torch.zeros(len(clips), embs.shape[1]).index_add_(0, owner_t, embs) / counts
        clip_prob = torch.zeros(len(clips), probs.shape[1]).index_add_(0, owner_t, probs) / counts
        return EmbeddingResult(clip_emb, clip_prob / clip_prob.sum(dim=1, keepdim=True))


@hookimpl
def register_embedders(register):
    register("aisfx", AisfxEmbedder,
             description="aisfx sound-effects CNN (PyPI aisfx, bundled weights): 512-d, 69 UCS classes; "
                         "for comparing audiogan models, not comparable with published tables")
