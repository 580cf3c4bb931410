"""`clap`: LAION CLAP (Wu et al. 2023) audio and text embeddings for the CLAP score, run through
transformers' ClapModel (HTSAT audio encoder, RoBERTa text encoder): audiogan does not
reimplement HTSAT.

checkpoint=PATH is either
  * a transformers folder (config.json + weights + tokenizer + preprocessor_config.json), e.g.
    a local copy of `laion/clap-htsat-unfused` (the conversion of 630k-audioset-best.pt), or
  * the original LAION file `630k-audioset-best.pt` (https://huggingface.co/lukewys/laion_clap),
    as the AudioLDM evaluation uses for the CLAP score: its tensors are renamed into
    ClapModel's layout (the renaming transformers' own conversion script applies) and the
    sizes read from it. The RoBERTa tokenizer is not inside that file: pass
    tokenizer=FOLDER holding roberta-base's vocab.json and merges.txt (or tokenizer.json).

Audio: 48 kHz mono, int16-quantised as laion_clap does, at most 10 s (the first 10 s; the
original picks a random crop, we keep results deterministic), shorter clips repeat-padded;
64-bin mel (ClapFeatureExtractor). Text: RoBERTa tokens, max 77. Both embeddings are the
L2-normalised 512-d projections; the CLAP score is their mean cosine over (caption, clip) pairs.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from audiogan_core.checkpoint import check_state_dict, read_torch_checkpoint
from audiogan_core.errors import CheckpointError, InputError, MissingResourceError
from audiogan_core.interfaces import Embedder, EmbeddingResult

from .common import pick_device, prepare_audio, require_file, state_dict_from

SAMPLE_RATE = 48000
MAX_SECONDS = 10
MAX_TOKENS = 77
WHERE = ("a transformers copy of laion/clap-htsat-unfused (https://huggingface.co/laion/clap-htsat-unfused) or "
         "LAION's 630k-audioset-best.pt (https://huggingface.co/lukewys/laion_clap)")

# The renaming transformers' convert_clap_original_pytorch_to_hf.py applies (Apache-2.0).
RENAMES = {"text_branch": "text_model", "audio_branch": "audio_model.audio_encoder", "attn": "attention.self",
           "self.proj": "output.dense", "attention.self_mask": "attn_mask", "mlp.fc1": "intermediate.dense",
           "mlp.fc2": "output.dense", "norm1": "layernorm_before", "norm2": "layernorm_after", "bn0": "batch_norm"}
IGNORED = ("text_transform", "audio_transform", "stft", "logmel_extractor", "tscam_conv", ".head.", "attn_mask",
           "spectrogram_extractor")
OPTIONAL_BUFFERS = ("position_ids", "token_type_ids", "relative_position_index")


def rename_laion_state_dict(state: dict) -> dict:
    """LAION CLAP tensor names -> transformers ClapModel names (qkv split into query/key/value)."""
    out = {}
    for key, value in state.items():
        if any(tag in key for tag in IGNORED):
            continue
        for old, new in RENAMES.items():
            if old in key:
                key = key.replace(old, new)
        seq = re.match(r".*sequential\.(\d+)\.", key)
        proj = re.match(r".*_projection\.(\d+)\.", key)
        if seq:
            key = key.replace(f"sequential.{seq.group(1)}.", f"layers.{int(seq.group(1)) // 3}.linear.")
        elif proj:
            key = key.replace(f"_projection.{proj.group(1)}.", f"_projection.linear{1 if proj.group(1) == '0' else 2}.")
        if "audio" in key and "qkv" in key:
            q, k, v = value.chunk(3, dim=0)
            out[key.replace("qkv", "query")] = q
            out[key.replace("qkv", "key")] = k
            out[key.replace("qkv", "value")] = v
        else:
            out[key] = value
    return out


def config_from_state(state: dict):
    """A ClapConfig whose sizes match a renamed LAION state dict."""
    from transformers import ClapConfig

    a = "audio_model.audio_encoder."
    t = "text_model."
    try:
        embed = int(state[a + "patch_embed.proj.weight"].shape[0])
        patch = int(state[a + "patch_embed.proj.weight"].shape[-1])
        depths, heads = [], []
        i = 0
        while f"{a}layers.{i}.blocks.0.layernorm_before.weight" in state:
            j = 0
            while f"{a}layers.{i}.blocks.{j}.layernorm_before.weight" in state:
                j += 1
            depths.append(j)
            heads.append(int(state[f"{a}layers.{i}.blocks.0.attention.self.relative_position_bias_table"].shape[1]))
            i += 1
        table = int(state[f"{a}layers.0.blocks.0.attention.self.relative_position_bias_table"].shape[0])
        window = (int(round(table ** 0.5)) + 1) // 2
        mlp_ratio = state[f"{a}layers.0.blocks.0.intermediate.dense.weight"].shape[0] / embed
        audio_hidden = int(state[a + "norm.weight"].shape[0])
        mels = int(state[a + "batch_norm.weight"].shape[0])
        proj = int(state["audio_projection.linear1.weight"].shape[0])
        text_hidden = int(state[t + "embeddings.word_embeddings.weight"].shape[1])
        vocab = int(state[t + "embeddings.word_embeddings.weight"].shape[0])
        positions = int(state[t + "embeddings.position_embeddings.weight"].shape[0])
        types = int(state[t + "embeddings.token_type_embeddings.weight"].shape[0])
        layers = 0
        while f"{t}encoder.layer.{layers}.attention.self.query.weight" in state:
            layers += 1
        inter = int(state[t + "encoder.layer.0.intermediate.dense.weight"].shape[0])
    except KeyError as exc:
        raise CheckpointError(f"clap embedder: not a LAION CLAP checkpoint (no {exc.args[0]})") from None
    fusion = any("fusion_model" in k or "mel_conv2d" in k for k in state)
    audio_cfg = dict(patch_embeds_hidden_size=embed, patch_size=patch, depths=depths, num_attention_heads=heads,
                     window_size=window, mlp_ratio=mlp_ratio, hidden_size=audio_hidden, num_mel_bins=mels,
                     projection_dim=proj, enable_fusion=fusion)
    text_cfg = dict(vocab_size=vocab, hidden_size=text_hidden, num_hidden_layers=layers,
                    num_attention_heads=max(1, text_hidden // 64),  # RoBERTa: 64-d heads (not stored in weights)
                    intermediate_size=inter, max_position_embeddings=positions, type_vocab_size=types,
                    projection_dim=proj)
    return ClapConfig(text_config=text_cfg, audio_config=audio_cfg, projection_dim=proj)


def load_laion_checkpoint(path: Path):
    from transformers import ClapModel

    checkpoint = read_torch_checkpoint(path, "clap checkpoint")
    state = state_dict_from(checkpoint, "clap embedder", keys=("state_dict", "model"))
    renamed = rename_laion_state_dict(state)
    model = ClapModel(config_from_state(renamed)).eval()
    own = {k: v for k, v in model.state_dict().items() if not k.endswith(OPTIONAL_BUFFERS)}
    check_state_dict(own, {k: v for k, v in renamed.items() if not k.endswith(OPTIONAL_BUFFERS)},
                     f"clap embedder {path} (ClapModel)")
    model.load_state_dict(renamed, strict=False)
    return model


def _load_tokenizer(folder: Path):
    from transformers import AutoTokenizer, RobertaTokenizer

    if (folder / "tokenizer_config.json").is_file() or (folder / "tokenizer.json").is_file():
        try:
            return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:
            raise CheckpointError(f"clap embedder: cannot read the tokenizer in {folder}: {exc}") from None
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    if vocab.is_file() and merges.is_file():
        return RobertaTokenizer(vocab=str(vocab), merges=str(merges))
    raise MissingResourceError(f"clap embedder: no RoBERTa tokenizer in {folder} (needs tokenizer.json, or "
                               f"vocab.json + merges.txt from roberta-base: https://huggingface.co/roberta-base)")


def _pooled(out) -> torch.Tensor:
    """transformers >= 5 returns a model output whose pooler_output is the normalised projection."""
    if isinstance(out, torch.Tensor):
        return torch.nn.functional.normalize(out, dim=-1)
    return torch.nn.functional.normalize(out.pooler_output, dim=-1)


class ClapEmbedder(Embedder):
    name = "clap"
    sample_rate = SAMPLE_RATE
    dim = 512
    num_classes = 0
    supports_text = True

    def __init__(self, checkpoint: str | None = None, tokenizer: str | None = None, device: str | None = "cpu",
                 batch_size: int = 8):
        self.checkpoint = checkpoint
        self.tokenizer_path = tokenizer
        self._device = device
        self.batch_size = int(batch_size)
        self._model = None

    def load(self, device=None) -> "ClapEmbedder":
        if device is not None:
            self._device = device
        if self._model is None:
            path = require_file(self.checkpoint, "clap embedder", WHERE)
            from transformers import ClapFeatureExtractor, ClapModel

            if path.is_dir():
                if not (path / "config.json").is_file():
                    raise MissingResourceError(f"clap embedder: {path} has no config.json; expected {WHERE}")
                try:
                    model = ClapModel.from_pretrained(str(path), local_files_only=True).eval()
                except Exception as exc:
                    raise CheckpointError(f"clap embedder: cannot load the model in {path}: {exc}") from None
                tok_dir = Path(self.tokenizer_path) if self.tokenizer_path else path
                fe_file = path / "preprocessor_config.json"
                extractor = ClapFeatureExtractor.from_pretrained(str(path)) if fe_file.is_file() else None
            else:
                if not self.tokenizer_path:
                    raise MissingResourceError(
                        "clap embedder: the LAION .pt checkpoint holds no tokenizer; pass tokenizer=FOLDER with "
                        "roberta-base's vocab.json and merges.txt (https://huggingface.co/roberta-base)")
                model = load_laion_checkpoint(path)
                tok_dir = Path(self.tokenizer_path)
                extractor = None
            if not tok_dir.is_dir():
                raise MissingResourceError(f"clap embedder: tokenizer folder not found: {tok_dir}")
            self._tokenizer = _load_tokenizer(tok_dir)
            fusion = bool(model.config.audio_config.enable_fusion)
            if extractor is None:
                extractor = ClapFeatureExtractor(feature_size=model.config.audio_config.num_mel_bins)
            self._extractor = extractor
            self._truncation = "fusion" if fusion else "rand_trunc"
            self._model = model
            self.dim = int(model.config.projection_dim)
        self._dev = pick_device(self._device)
        self._model.to(self._dev)
        return self

    @torch.inference_mode()
    def embed(self, audio, sample_rate: int) -> EmbeddingResult:
        self.load()
        clips = prepare_audio(audio, sample_rate, SAMPLE_RATE, name=self.name)
        out = []
        for start in range(0, len(clips), self.batch_size):
            batch = []
            for clip in clips[start:start + self.batch_size]:
                clip = clip[:MAX_SECONDS * SAMPLE_RATE]  # deterministic crop (first 10 s)
                clip = (np.clip(clip, -1.0, 1.0) * 32767.0).astype(np.int16).astype(np.float32) / 32767.0
                batch.append(clip)
            feats = self._extractor(batch, sampling_rate=SAMPLE_RATE, truncation=self._truncation, padding="repeatpad",
                                    return_tensors="pt")
            kwargs = {"input_features": feats["input_features"].to(self._dev)}
            if "is_longer" in feats:
                kwargs["is_longer"] = feats["is_longer"].to(self._dev)
            out.append(_pooled(self._model.get_audio_features(**kwargs)).float().cpu())
        return EmbeddingResult(torch.cat(out), None)

    @torch.inference_mode()
    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """[N, dim] L2-normalised text embeddings."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise InputError("clap embedder: pass a non-empty list of non-empty texts")
        self.load()
        out = []
        for start in range(0, len(texts), self.batch_size):
            tok = self._tokenizer(texts[start:start + self.batch_size], padding="max_length", truncation=True,
                                  max_length=MAX_TOKENS, return_tensors="pt")
            out.append(_pooled(self._model.get_text_features(input_ids=tok["input_ids"].to(self._dev),
                                                             attention_mask=tok["attention_mask"].to(self._dev)))
                       .float().cpu())
        return torch.cat(out)
