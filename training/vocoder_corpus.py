"""The vocoder trainer's corpus (training/vocoder.py): per clip of a library, the loudness-normalised
waveform at the model's rate, its log-mel and (optionally) a teacher vocoder's waveform for that mel;
per training caption, a mel a text-to-audio model made for it and the teacher's waveform for that.
Prepared once, cached as .npy keyed by what made them, and memory-mapped."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from audiogan_core.config import MelConfig
from audiogan_core.io import atomic_save, atomic_write_text

from .precision import bf16_autocast

CORPUS_VERSION = "vocoder-corpus-v1"


def _teacher(name: str, mel: MelConfig):
    if not name:
        return None
    from audiogan_core.plugins import get_vocoder

    return get_vocoder(name, mel_config=mel).load("cpu")


@torch.no_grad()
def teacher_waveform(teacher, mel: np.ndarray, chunk: int = 1024, context: int = 64, bf16: bool = False) -> np.ndarray:
    """The teacher's waveform for a whole clip's log-mel [n_mels, T], in chunks of `chunk` frames
    with `context` frames of real mel either side (HiFi-GAN's receptive field is ~30 frames), so
    a long clip needs bounded memory and the joins are seamless."""
    hop = teacher.mel_config.hop_length
    T = mel.shape[1]
    out = []
    for a in range(0, T, chunk):
        b = min(T, a + chunk)
        lo, hi = max(0, a - context), min(T, b + context)
        with bf16_autocast("cpu", bf16):
            wave = teacher(torch.from_numpy(np.ascontiguousarray(mel[:, lo:hi]))[None])[0].float().numpy()
        out.append(wave[(a - lo) * hop: (b - lo) * hop])
    return np.concatenate(out).astype(np.float32)


class VocoderCorpus:
    """Memory-mapped (audio, mel, teacher) per clip; see the module docstring."""

    def __init__(self, entries: list[dict], folder: Path, hop: int):
        self.entries, self.folder, self.hop = entries, folder, hop
        self._arrays: dict[tuple[int, str], np.ndarray] = {}

    def array(self, i: int, kind: str) -> np.ndarray:
        key = (i, kind)
        if key not in self._arrays:
            self._arrays[key] = np.load(self.folder / f"{self.entries[i]['key']}.{kind}.npy", mmap_mode="r")
        return self._arrays[key]

    def frames(self, i: int) -> int:
        return int(self.entries[i]["frames"])

    def __len__(self) -> int:
        return len(self.entries)


def _save_npy(path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:  # a file object: np.save would append ".npy" to a temp name
        np.save(fh, array)


def _store_entry(folder: Path, key: str, arrays: dict, meta: dict) -> None:
    """One corpus entry: each array as KEY.KIND.npy, then KEY.json, whose presence marks it complete."""
    for kind, value in arrays.items():
        atomic_save(folder / f"{key}.{kind}.npy", lambda tmp, v=value: _save_npy(tmp, v))
    atomic_write_text(folder / f"{key}.json", json.dumps(meta))


def corpus_key(file_hash: str, mel: MelConfig, max_seconds: float | None, teacher: str) -> str:
    """max_seconds is None for a file shorter than the cap: its entry is the same whatever the cap."""
    payload = json.dumps({"v": CORPUS_VERSION, "file": file_hash, "mel": mel.to_dict(), "max": max_seconds,
                          "teacher": teacher}, sort_keys=True)
    return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def prepare_corpus(items, cache_dir: Path, mel: MelConfig, *, max_seconds: float, teacher: str,
                   bf16: bool = False, progress: bool = True) -> VocoderCorpus:
    """Decode, normalise, mel and (optionally) run the teacher once per clip; cached by file hash."""
    from tqdm import tqdm

    from .mel_dataset import compute_log_mel, file_hash, load_audio, normalise_loudness

    folder = cache_dir / "vocoder-corpus"
    folder.mkdir(parents=True, exist_ok=True)
    teacher_model = None
    entries = []
    for item in tqdm(items, desc="vocoder corpus", disable=not progress, unit="clip"):
        cap = max_seconds if item.duration > max_seconds else None
        key = corpus_key(file_hash(item.path), mel, cap, f"{teacher}@bf16" if teacher and bf16 else teacher)
        meta_path = folder / f"{key}.json"
        if not meta_path.is_file():
            audio = normalise_loudness(load_audio(item.path, mel.sample_rate, max_seconds), mel.sample_rate)
            log_mel = compute_log_mel(audio, mel)
            frames = log_mel.shape[1]
            audio = np.pad(audio, (0, max(0, frames * mel.hop_length - audio.size)))[: frames * mel.hop_length]
            arrays = {"audio": audio.astype(np.float32), "mel": log_mel}
            if teacher:
                teacher_model = teacher_model or _teacher(teacher, mel)
                arrays["teacher"] = teacher_waveform(teacher_model, log_mel, bf16=bf16)
            _store_entry(folder, key, arrays, {"file": item.rel, "frames": frames})
        meta = json.loads(meta_path.read_text())
        entries.append({"key": key, "file": item.rel, "frames": meta["frames"]})
    return VocoderCorpus(entries, folder, mel.hop_length)


def _model_fingerprint(model) -> str:
    """A hash of the generator's weights and config: the generated corpus belongs to these weights."""
    h = hashlib.blake2b(json.dumps(model.config.to_dict(), sort_keys=True).encode(), digest_size=12)
    for name, tensor in sorted(model.generator.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def prepare_generated_corpus(items, cache_dir: Path, mel: MelConfig, *, model_name: str, seconds: float, seed: int,
                             teacher: str, bf16: bool = False, progress: bool = True) -> VocoderCorpus:
    """One generated log-mel per item's caption (noise seed `seed` + the item's index) and the
    teacher's waveform for it, cached under `<cache>/vocoder-generated/` by (weights, caption,
    seed, length, teacher). The entries' "audio" is the teacher's waveform: it is the target."""
    from tqdm import tqdm

    from audiogan_core.api import AudioGAN
    from audiogan_core.errors import MelConfigMismatchError

    model = AudioGAN.load(model_name, vocoder="griffinlim")  # only its mels are used
    if model.config.mel != mel:
        raise MelConfigMismatchError(f"model {model_name!r} makes mels for {model.config.mel}, not {mel}")
    fingerprint = _model_fingerprint(model)
    teacher_id = f"{teacher}@bf16" if bf16 else teacher
    folder = cache_dir / "vocoder-generated"
    folder.mkdir(parents=True, exist_ok=True)
    teacher_model, entries = None, []
    for k, item in enumerate(tqdm(items, desc="generated mels", disable=not progress, unit="clip")):
        payload = json.dumps({"v": CORPUS_VERSION, "model": fingerprint, "caption": item.caption, "seed": seed + k,
                              "seconds": seconds, "teacher": teacher_id}, sort_keys=True)
        key = hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()
        meta_path = folder / f"{key}.json"
        if not meta_path.is_file():
            mels, _, _ = model.generate_mel(item.caption, seed=seed + k, seconds=seconds or None)
            log_mel = mels[0].numpy().astype(np.float32)  # [n_mels, frames]
            arrays = {"mel": log_mel}
            if teacher:  # "" for a run that trains on generated mels without a waveform target
                teacher_model = teacher_model or _teacher(teacher, mel)
                arrays["teacher"] = teacher_waveform(teacher_model, log_mel, bf16=bf16)
            _store_entry(folder, key, arrays,
                         {"caption": item.caption, "seed": seed + k, "frames": int(log_mel.shape[1])})
        meta = json.loads(meta_path.read_text())
        entries.append({"key": key, "file": item.rel, "frames": meta["frames"]})
    return VocoderCorpus(entries, folder, mel.hop_length)
