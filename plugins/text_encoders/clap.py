"""`clap`: the LAION CLAP text branch (RoBERTa-base + text projection) that AudioGAN conditions on.

The published AudioGAN uses CLAP ``HTSAT-base`` + ``roberta`` with the LAION checkpoint
``music_speech_audioset_epoch_15_esc_89.98.pt`` (https://huggingface.co/lukewys/laion_clap) and
the ``roberta-base`` tokenizer. Only the text branch is needed to generate, so this module loads
just the ``text_branch.*`` (a transformers RobertaModel) and ``text_projection.*`` (Linear 768->512,
ReLU, Linear 512->512) tensors of that checkpoint.

Options: ``checkpoint`` (the .pt file or a folder holding it; default $AUDIOGAN_CLAP_CHECKPOINT),
``tokenizer`` (a roberta-base tokenizer folder or tokenizer.json; default $AUDIOGAN_CLAP_TOKENIZER,
else a ``roberta-base/`` folder or tokenizer files beside the checkpoint, else the Hugging Face cache),
``variant`` (see below), ``max_words`` (77), ``num_heads`` (hidden / 64).

Why not the ``laion-clap`` PyPI package: it pins numpy<2, imports torchvision (no CPU build here)
and the whole HTSAT audio tower, and fetches tokenizers from the hub at import time. Instead we use
transformers' RobertaModel (sizes read from the checkpoint tensors), our own projection, and the
``tokenizers`` library on a local roberta-base tokenizer folder. The checkpoint is read with
``torch.load(weights_only=True, mmap=True)``: LAION's training script saves a plain dict
(``epoch``, ``name``, ``state_dict``, ``optimizer`` / ``scaler`` state: tensors, numbers, strings,
lists, tuples), which the weights-only unpickler accepts (tested on a checkpoint of that layout; the
real 2.3 GB file could not be fetched offline); with mmap only the text-branch tensors (~0.5 GB)
are paged in. A checkpoint the safe unpickler refuses raises CheckpointError naming the offending
pickled global (we never fall back to unrestricted pickle).

What the features are ("variant"):

- ``release`` (default; what the authors' released inference code feeds their generator, needed
  to use their ``generator.pt``): the text is normalised as their ``infer.py`` does (one trailing
  "." dropped, first letter upper-cased); tokens padded/truncated to at most 77;
  sentence = text_projection(RoBERTa pooler_output), *not* normalised; words = RoBERTa's input
  token embedding table looked up for each token (``text_branch.embeddings.word_embeddings``,
  768-d, not contextual); lengths = attention-mask sum - 1 (the closing ``</s>`` is masked out).
- ``laion``: CLAP's own text embedding: sentence = L2-normalised projection, words = RoBERTa's last
  hidden state (768-d, contextual), lengths = attention-mask sums; text used as given.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import torch
from torch import nn

from audiogan_core.checkpoint import check_state_dict, read_torch_checkpoint
from audiogan_core.errors import CheckpointError, ConfigError, MissingResourceError
from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import TextEncoder, TextFeatures

CHECKPOINT_NAME = "music_speech_audioset_epoch_15_esc_89.98.pt"
CHECKPOINT_URL = f"https://huggingface.co/lukewys/laion_clap/resolve/main/{CHECKPOINT_NAME}"
TOKENIZER_URL = "https://huggingface.co/FacebookAI/roberta-base (files tokenizer.json, or vocab.json + merges.txt)"
ENV_CHECKPOINT = "AUDIOGAN_CLAP_CHECKPOINT"
ENV_TOKENIZER = "AUDIOGAN_CLAP_TOKENIZER"
VARIANTS = ("release", "laion")
CONTEXT_LENGTH = 77  # CLAP's tokenizer: padding="max_length", truncation, max_length=77


def _optional_path(value, env: str) -> Path | None:
    if value is None:
        value = os.environ.get(env) or None
    return Path(value).expanduser() if value is not None else None


def load_roberta_tokenizer(path: Path, max_length: int):
    """A `tokenizers.Tokenizer` for RoBERTa from a folder (tokenizer.json, or vocab.json + merges.txt)
    or a tokenizer.json file; adds <s> ... </s>, truncates to max_length, pads to the longest."""
    from tokenizers import Tokenizer
    from tokenizers.processors import RobertaProcessing

    if path.is_file():
        tokenizer_json, vocab, merges = path, None, None
    else:
        tokenizer_json, vocab, merges = path / "tokenizer.json", path / "vocab.json", path / "merges.txt"
    try:
        if tokenizer_json.is_file():
            tok = Tokenizer.from_file(str(tokenizer_json))
        elif vocab is not None and vocab.is_file() and merges.is_file():
            from tokenizers.implementations import ByteLevelBPETokenizer

            tok = ByteLevelBPETokenizer(str(vocab), str(merges))._tokenizer
        else:
            raise MissingResourceError(
                f"clap text encoder: RoBERTa tokenizer missing: {path} has neither tokenizer.json nor "
                f"vocab.json + merges.txt; get the roberta-base tokenizer from {TOKENIZER_URL} and pass "
                f"tokenizer=FOLDER (or set {ENV_TOKENIZER})")
    except MissingResourceError:
        raise
    except Exception as exc:
        raise CheckpointError(f"clap text encoder: cannot read the tokenizer in {path}: {exc}") from None
    ids = {name: tok.token_to_id(name) for name in ("<s>", "</s>", "<pad>")}
    missing = [name for name, i in ids.items() if i is None]
    if missing:
        raise CheckpointError(f"clap text encoder: tokenizer {path} is not a RoBERTa tokenizer "
                              f"(no {', '.join(missing)} token)")
    # The hub's tokenizer.json already has this post-processor; vocab/merges files do not.
    tok.post_processor = RobertaProcessing(("</s>", ids["</s>"]), ("<s>", ids["<s>"]))
    tok.enable_truncation(max_length=max_length)
    tok.enable_padding(pad_id=ids["<pad>"], pad_token="<pad>")
    return tok, ids


def extract_text_branch(checkpoint, path: Path) -> dict[str, torch.Tensor]:
    """Keys `text_branch.*` and `text_projection.*` (prefix `module.` removed) of a LAION CLAP checkpoint."""
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"CLAP checkpoint {path}: expected a dict with a 'state_dict', got "
                              f"{type(checkpoint).__name__}")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not torch.is_tensor(value):
            continue
        if key.startswith("module."):
            key = key[len("module."):]
        if key.startswith(("text_branch.", "text_projection.")):
            out[key] = value
    if not any(k.startswith("text_branch.embeddings.word_embeddings") for k in out) or \
            "text_projection.0.weight" not in out or "text_projection.2.weight" not in out:
        raise CheckpointError(f"CLAP checkpoint {path} has no RoBERTa text branch (text_branch.* and "
                              f"text_projection.0/2.*): is it a LAION CLAP checkpoint with tmodel='roberta'?")
    return out


def roberta_config_from_state(text_state: dict[str, torch.Tensor], pad_token_id: int, num_heads: int | None):
    from transformers import RobertaConfig

    emb = text_state["text_branch.embeddings.word_embeddings.weight"]
    vocab, hidden = emb.shape
    layers = {int(m.group(1)) for k in text_state
              if (m := re.match(r"text_branch\.encoder\.layer\.(\d+)\.", k))}
    if not layers:
        raise CheckpointError("CLAP checkpoint: text branch has no encoder layers")
    intermediate = text_state["text_branch.encoder.layer.0.intermediate.dense.weight"].shape[0]
    heads = num_heads or max(1, hidden // 64)
    if hidden % heads:
        raise ConfigError(f"clap text encoder: hidden size {hidden} is not divisible by num_heads={heads}")
    return RobertaConfig(
        vocab_size=vocab, hidden_size=hidden, num_hidden_layers=max(layers) + 1, num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=text_state["text_branch.embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=text_state["text_branch.embeddings.token_type_embeddings.weight"].shape[0],
        layer_norm_eps=1e-5, pad_token_id=pad_token_id, bos_token_id=0, eos_token_id=2,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


class CLAPTextBranch(nn.Module):
    """RoBERTa (with pooler) + CLAP's text projection MLP."""

    def __init__(self, config, projection_in: int, projection_hidden: int, projection_out: int):
        super().__init__()
        from transformers import RobertaModel

        self.text_branch = RobertaModel(config, add_pooling_layer=True)
        self.text_projection = nn.Sequential(nn.Linear(projection_in, projection_hidden), nn.ReLU(),
                                             nn.Linear(projection_hidden, projection_out))


def normalise_prompt(text: str) -> str:
    """The authors' infer.py: drop one trailing '.', upper-case the first letter."""
    if text.endswith("."):
        text = text[:-1]
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    return text


class CLAPTextEncoder(TextEncoder):
    """LAION CLAP RoBERTa text branch: words [B, L, 768], sentence [B, 512]."""

    name = "clap"

    def __init__(self, checkpoint: str | os.PathLike | None = None, tokenizer: str | os.PathLike | None = None,
                 variant: str = "release", max_words: int = CONTEXT_LENGTH, num_heads: int | None = None):
        if variant not in VARIANTS:
            raise ConfigError(f"clap text encoder: variant must be one of {VARIANTS}, got {variant!r}")
        if not isinstance(max_words, int) or not 3 <= max_words <= 512:
            raise ConfigError(f"clap text encoder: max_words must be an integer in 3..512, got {max_words!r}")
        self.checkpoint = _optional_path(checkpoint, ENV_CHECKPOINT)  # file, or a folder holding it
        self.tokenizer_path = _optional_path(tokenizer, ENV_TOKENIZER)
        self.variant = variant
        self.max_words = max_words
        self.num_heads = num_heads
        self.word_dim = 768  # RoBERTa-base hidden size (re-read from the checkpoint at load)
        self.sentence_dim = 512  # CLAP joint embedding size
        self.device = torch.device("cpu")
        self._model: CLAPTextBranch | None = None
        self._tokenizer = None
        self._lock = threading.Lock()

    # Resources ------------------------------------------------------------------------
    def _checkpoint_file(self) -> Path:
        path = self.checkpoint
        if path is None:
            raise MissingResourceError(
                f"clap text encoder: no CLAP checkpoint given; download {CHECKPOINT_NAME} from {CHECKPOINT_URL} "
                f"and pass checkpoint=PATH (or set {ENV_CHECKPOINT})")
        if path.is_dir():
            path = path / CHECKPOINT_NAME
        if not path.is_file():
            raise MissingResourceError(
                f"clap text encoder: CLAP checkpoint {path} is missing; download {CHECKPOINT_NAME} from "
                f"{CHECKPOINT_URL}")
        return path

    def _tokenizer_candidates(self) -> list[Path]:
        """Where a tokenizer is looked for when none is given: beside the checkpoint, then the
        Hugging Face cache (where `RobertaTokenizer.from_pretrained("roberta-base")` leaves it)."""
        found = []
        if self.checkpoint is not None:
            folder = self.checkpoint if self.checkpoint.is_dir() else self.checkpoint.parent
            found += [folder / "roberta-base", folder]
        hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
        hub = Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub"))
        for repo in ("models--FacebookAI--roberta-base", "models--roberta-base"):
            found += sorted((hub / repo / "snapshots").glob("*"))
        return [c for c in found if (c / "tokenizer.json").is_file()
                or ((c / "vocab.json").is_file() and (c / "merges.txt").is_file())]

    def _tokenizer_folder(self) -> Path:
        path = self.tokenizer_path
        if path is None:
            candidates = self._tokenizer_candidates()
            if candidates:
                return candidates[0]
            raise MissingResourceError(
                f"clap text encoder: no RoBERTa tokenizer given or found (beside the checkpoint, in a "
                f"roberta-base/ folder there, or in the Hugging Face cache); get the roberta-base tokenizer from "
                f"{TOKENIZER_URL} and pass tokenizer=FOLDER (or set {ENV_TOKENIZER})")
        if not path.exists():
            raise MissingResourceError(
                f"clap text encoder: RoBERTa tokenizer {path} is missing; get the roberta-base tokenizer from "
                f"{TOKENIZER_URL}")
        return path

    def missing_resources(self) -> list[str]:
        """Messages for files that load() would need and cannot find (empty when all are there)."""
        problems = []
        for check in (self._checkpoint_file, self._tokenizer_folder):
            try:
                check()
            except MissingResourceError as exc:
                problems.append(str(exc))
        return problems

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self, device="cpu") -> "CLAPTextEncoder":
        device = torch.device(device)
        with self._lock:
            if self._model is None:
                ckpt_path = self._checkpoint_file()
                tok_path = self._tokenizer_folder()
                tokenizer, ids = load_roberta_tokenizer(tok_path, self.max_words)
                text_state = extract_text_branch(read_torch_checkpoint(ckpt_path, "CLAP checkpoint", mmap=True),
                                                 ckpt_path)
                config = roberta_config_from_state(text_state, ids["<pad>"], self.num_heads)
                proj0, proj2 = text_state["text_projection.0.weight"], text_state["text_projection.2.weight"]
                if proj0.shape[1] != config.hidden_size:
                    raise CheckpointError(f"CLAP checkpoint {ckpt_path}: text_projection takes {proj0.shape[1]} "
                                          f"features but RoBERTa has {config.hidden_size}")
                if tokenizer.get_vocab_size() > config.vocab_size:
                    raise CheckpointError(f"clap text encoder: tokenizer {tok_path} has "
                                          f"{tokenizer.get_vocab_size()} tokens but the checkpoint's RoBERTa "
                                          f"only {config.vocab_size}: wrong tokenizer?")
                if self.max_words + 2 > config.max_position_embeddings:
                    raise ConfigError(f"clap text encoder: max_words={self.max_words} exceeds the checkpoint's "
                                      f"{config.max_position_embeddings - 2} positions")
                model = CLAPTextBranch(config, proj0.shape[1], proj0.shape[0], proj2.shape[0])
                # index buffers are rebuilt by transformers; LAION files may hold extra ones
                expected = {k: v for k, v in model.state_dict().items()
                            if not k.endswith(("position_ids", "token_type_ids"))}
                known = {k: v for k, v in text_state.items() if k in expected}
                check_state_dict(expected, known, f"CLAP checkpoint {ckpt_path} (text branch)")
                model.load_state_dict(known, strict=False)
                model.eval().requires_grad_(False)
                self.word_dim = config.hidden_size
                self.sentence_dim = proj2.shape[0]
                self._tokenizer = tokenizer
                self._model = model
            self._model.to(device)
            self.device = device
        return self

    # Encoding -------------------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        if self._tokenizer is None:
            self.load(self.device)
        if self.variant == "release":
            texts = [normalise_prompt(t) for t in texts]
        encodings = self._tokenizer.encode_batch(texts)
        input_ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        attention_mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    @torch.no_grad()
    def encode(self, texts: list[str]) -> TextFeatures:
        texts = self.check_texts(texts)
        if self._model is None:
            self.load(self.device)
        batch = {k: v.to(self.device) for k, v in self.tokenize(texts).items()}
        out = self._model.text_branch(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        sentence = self._model.text_projection(out.pooler_output)
        mask_sum = batch["attention_mask"].sum(-1)
        if self.variant == "release":
            words = self._model.text_branch.embeddings.word_embeddings(batch["input_ids"])
            lengths = (mask_sum - 1).clamp(min=1)
        else:
            sentence = nn.functional.normalize(sentence, dim=-1)
            words = out.last_hidden_state
            lengths = mask_sum
        return TextFeatures(words, lengths.long(), sentence)

    __call__ = encode


@hookimpl
def register_text_encoders(register):
    register("clap", CLAPTextEncoder,
             description=f"LAION CLAP RoBERTa text branch (AudioGAN's encoder): 768-d words, 512-d sentence; "
                         f"options: checkpoint={CHECKPOINT_NAME}, tokenizer=roberta-base folder, "
                         f"variant=release|laion")
