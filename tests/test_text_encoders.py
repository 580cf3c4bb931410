"""Text encoders: hash (weight-free), minilm (bundled weights), clap (tiny checkpoint in LAION's format)."""
import os
import subprocess
import sys

import pytest
import torch

from audiogan_core.errors import CheckpointError, ConfigError, InputError, MissingResourceError
from audiogan_plugins import TextFeatures, get_text_encoder, reset_plugin_manager
from audiogan_plugins.text_encoders.clap import CHECKPOINT_NAME, CLAPTextEncoder
from audiogan_plugins.text_encoders.hashing import HashTextEncoder
from audiogan_plugins.text_encoders.minilm import MiniLMTextEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def cosine(a, b):
    return torch.nn.functional.cosine_similarity(a, b, dim=-1).item()


# hash -------------------------------------------------------------------------------------
def test_hash_shapes_lengths_and_options():
    enc = HashTextEncoder(word_dim=10, sentence_dim=12)
    feats = enc.encode(["A dog barks", "rain", ""])
    assert isinstance(feats, TextFeatures)
    assert feats.words.shape == (3, 3, 10) and feats.sentence.shape == (3, 12)
    assert feats.lengths.dtype == torch.long and feats.lengths.tolist() == [3, 1, 1]
    assert torch.allclose(feats.sentence.norm(dim=-1), torch.ones(3), atol=1e-5)
    # Case-insensitive, punctuation ignored, same token -> same vector wherever it appears.
    again = enc(["a DOG barks!"])
    assert torch.equal(again.words[0], feats.words[0]) and torch.equal(again.sentence[0], feats.sentence[0])
    dog = enc.encode(["dog"]).words[0, 0]
    assert torch.equal(feats.words[0, 1], dog)
    assert enc.encode(["x " * 100]).lengths.item() == enc.max_words == 64
    with pytest.raises(ConfigError):
        HashTextEncoder(word_dim=0)
    with pytest.raises(InputError):
        enc.encode([])


def test_hash_shared_words_are_closer():
    enc = HashTextEncoder(word_dim=32, sentence_dim=64)
    s = enc.encode(["a dog barks loudly", "a dog barks", "violin music plays softly"]).sentence
    assert cosine(s[0], s[1]) > cosine(s[0], s[2]) + 0.3


def test_hash_is_stable_across_processes():
    code = ("from audiogan_plugins.text_encoders.hashing import HashTextEncoder as H;"
            "f = H(word_dim=8, sentence_dim=6).encode(['Thunder rumbles far away']);"
            "print(repr(f.words.flatten().tolist()), repr(f.sentence.flatten().tolist()))")
    env = dict(os.environ, PYTHONHASHSEED="12345")  # this process has another (random) hash seed
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    here = HashTextEncoder(word_dim=8, sentence_dim=6).encode(["Thunder rumbles far away"])
    assert out.strip() == f"{here.words.flatten().tolist()!r} {here.sentence.flatten().tolist()!r}"


def test_hash_registered_through_entry_point():
    reset_plugin_manager()
    enc = get_text_encoder("hash", word_dim=4, sentence_dim=5)
    assert (enc.word_dim, enc.sentence_dim) == (4, 5)


# minilm -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def minilm():
    enc = MiniLMTextEncoder()
    assert not enc.loaded and enc.word_dim == enc.sentence_dim == 384  # known before loading
    return enc.load()


def test_minilm_shapes_and_padding(minilm):
    feats = minilm.encode(["a dog", "heavy rain falls on a metal roof while thunder rumbles far away"])
    B, L, D = feats.words.shape
    assert (B, D) == (2, 384) and feats.sentence.shape == (2, 384)
    assert feats.lengths.dtype == torch.long
    short, long_ = feats.lengths.tolist()
    assert long_ == L and short < long_ and short == 4  # [CLS] a dog [SEP]
    assert torch.allclose(feats.sentence.norm(dim=-1), torch.ones(2), atol=1e-4)
    # Padding does not change a text's features.
    alone = minilm.encode(["a dog"])
    assert torch.allclose(alone.words[0, :short], feats.words[0, :short], atol=1e-4)
    assert torch.allclose(alone.sentence[0], feats.sentence[0], atol=1e-4)
    assert minilm.encode(["word " * 200]).lengths.item() == 64  # truncated


def test_minilm_semantics(minilm):
    s = minilm(["A dog is barking loudly.", "A puppy yelps and barks.", "Soft piano music in a concert hall."]).sentence
    assert cosine(s[0], s[1]) > cosine(s[0], s[2]) + 0.2
    assert cosine(s[1], s[0]) > cosine(s[1], s[2]) + 0.2


def test_minilm_lazy_load():
    enc = get_text_encoder("minilm")
    assert not enc.loaded
    feats = enc.encode(["birds chirp"])  # loads on first use
    assert enc.loaded and feats.words.shape[-1] == 384


# clap -------------------------------------------------------------------------------------
CORPUS = ["A dog barks in the distance", "Birds chirp in a quiet forest", "Rain falls on a tin roof",
          "A man speaks while cars pass by", "Thunder rumbles and wind blows"]


def build_roberta_tokenizer(folder, with_post_processor=True):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS * 5, trainer)
    if with_post_processor:
        tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return tok


def build_clap_checkpoint(path, vocab_size, hidden=128, layers=2, proj=(96, 48)):
    """A randomly initialised checkpoint laid out like LAION's training saves (module. prefix,
    audio branch and optimizer state alongside)."""
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=2 * hidden, max_position_embeddings=81, type_vocab_size=1,
                        pad_token_id=1, layer_norm_eps=1e-5)
    roberta = RobertaModel(cfg, add_pooling_layer=True)
    projection = torch.nn.Sequential(torch.nn.Linear(hidden, proj[0]), torch.nn.ReLU(),
                                     torch.nn.Linear(proj[0], proj[1]))
    state = {}
    for k, v in roberta.state_dict().items():
        state[f"module.text_branch.{k}"] = v.clone()
    state["module.text_branch.embeddings.position_ids"] = torch.arange(81).unsqueeze(0)
    for k, v in projection.state_dict().items():
        state[f"module.text_projection.{k}"] = v.clone()
    state["module.audio_branch.patch_embed.proj.weight"] = torch.randn(8, 1, 4, 4)
    state["module.audio_projection.0.weight"] = torch.randn(4, 4)
    state["module.logit_scale_t"] = torch.tensor(2.65)
    checkpoint = {"epoch": 15, "name": "tiny-test", "state_dict": state,
                  "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(3)}},
                                "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.99), "eps": 1e-8,
                                                  "weight_decay": 0.0, "amsgrad": False, "params": [0]}]}}
    torch.save(checkpoint, path)
    return roberta.eval(), projection.eval()


@pytest.fixture(scope="module")
def clap_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("clap")
    tok = build_roberta_tokenizer(root / "roberta-base")
    ckpt = root / CHECKPOINT_NAME
    roberta, projection = build_clap_checkpoint(ckpt, tok.get_vocab_size())
    return {"root": root, "checkpoint": ckpt, "tokenizer": root / "roberta-base", "tok": tok,
            "roberta": roberta, "projection": projection}


def _reference_ids(tok, texts):
    enc = [tok.encode(t).ids for t in texts]
    longest = max(map(len, enc))
    ids = torch.tensor([e + [1] * (longest - len(e)) for e in enc])
    mask = torch.tensor([[1] * len(e) + [0] * (longest - len(e)) for e in enc])
    return ids, mask


def test_clap_release_variant_matches_authors_recipe(clap_files):
    enc = get_text_encoder("clap", checkpoint=str(clap_files["checkpoint"]), tokenizer=str(clap_files["tokenizer"]))
    assert (enc.word_dim, enc.sentence_dim) == (768, 512) and not enc.loaded  # nominal until loaded
    feats = enc.encode(["a dog barks in the distance.", "Rain falls"])
    assert (enc.word_dim, enc.sentence_dim) == (128, 48)  # read from the checkpoint
    ids, mask = _reference_ids(clap_files["tok"], ["A dog barks in the distance", "Rain falls"])
    roberta, projection = clap_files["roberta"], clap_files["projection"]
    with torch.no_grad():
        out = roberta(input_ids=ids, attention_mask=mask)
        sentence = projection(out.pooler_output)
        words = roberta.embeddings.word_embeddings(ids)
    assert feats.words.shape == words.shape and feats.sentence.shape == (2, 48)
    assert torch.allclose(feats.sentence, sentence, atol=1e-5)  # not normalised
    assert torch.allclose(feats.words, words)
    assert feats.lengths.tolist() == (mask.sum(-1) - 1).tolist()


def test_clap_laion_variant_and_vocab_merges_tokenizer(clap_files, tmp_path):
    folder = tmp_path / "tok"
    folder.mkdir()
    clap_files["tok"].model.save(str(folder))  # vocab.json + merges.txt only
    enc = CLAPTextEncoder(checkpoint=clap_files["root"], tokenizer=folder, variant="laion")  # folder -> file name
    texts = ["a dog barks in the distance.", "Rain falls"]
    feats = enc(texts)
    ids, mask = _reference_ids(clap_files["tok"], texts)
    with torch.no_grad():
        out = clap_files["roberta"](input_ids=ids, attention_mask=mask)
        sentence = torch.nn.functional.normalize(clap_files["projection"](out.pooler_output), dim=-1)
    assert torch.allclose(feats.sentence, sentence, atol=1e-5)
    assert torch.allclose(feats.words[0], out.last_hidden_state[0], atol=1e-4)
    assert torch.allclose(feats.words[1, :4], out.last_hidden_state[1, :4], atol=1e-4)
    assert feats.lengths.tolist() == mask.sum(-1).tolist()
    assert enc.encode(["rain " * 200]).lengths.item() == 77  # truncated to CLAP's context length


def test_clap_missing_resources(tmp_path, clap_files, monkeypatch):
    monkeypatch.delenv("AUDIOGAN_CLAP_CHECKPOINT", raising=False)
    monkeypatch.delenv("AUDIOGAN_CLAP_TOKENIZER", raising=False)
    enc = CLAPTextEncoder(checkpoint=tmp_path / CHECKPOINT_NAME, tokenizer=clap_files["tokenizer"])  # cheap
    with pytest.raises(MissingResourceError, match=r"music_speech_audioset_epoch_15_esc_89\.98\.pt.*lukewys/laion_clap"):
        enc.load()
    assert len(enc.missing_resources()) == 1
    enc = CLAPTextEncoder(checkpoint=clap_files["checkpoint"], tokenizer=tmp_path / "nowhere")
    with pytest.raises(MissingResourceError, match="roberta-base"):
        enc.encode(["x"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingResourceError, match="tokenizer.json"):
        CLAPTextEncoder(checkpoint=clap_files["checkpoint"], tokenizer=tmp_path / "empty").load()
    with pytest.raises(MissingResourceError, match="AUDIOGAN_CLAP_CHECKPOINT"):
        CLAPTextEncoder().load()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    problems = CLAPTextEncoder(checkpoint=tmp_path / "x.pt").missing_resources()  # neither file there
    assert len(problems) == 2 and "x.pt" in problems[0] and "AUDIOGAN_CLAP_TOKENIZER" in problems[1]


def test_clap_finds_tokenizer_beside_checkpoint(clap_files, monkeypatch):
    monkeypatch.delenv("AUDIOGAN_CLAP_TOKENIZER", raising=False)
    enc = CLAPTextEncoder(checkpoint=clap_files["checkpoint"])  # root/roberta-base/tokenizer.json
    assert enc.encode(["a dog barks"]).sentence.shape == (1, 48)
    with pytest.raises(ConfigError):
        CLAPTextEncoder(variant="nope")


def test_clap_bad_checkpoints(tmp_path, clap_files):
    data = clap_files["checkpoint"].read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        CLAPTextEncoder(checkpoint=truncated, tokenizer=clap_files["tokenizer"]).load()
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"state_dict": {}, "args": ConfigError("pickled object")}, unsafe)
    with pytest.raises(CheckpointError, match="weights_only.*ConfigError"):
        CLAPTextEncoder(checkpoint=unsafe, tokenizer=clap_files["tokenizer"]).load()
    audio_only = tmp_path / "audio_only.pt"
    torch.save({"state_dict": {"audio_branch.x": torch.zeros(2)}}, audio_only)
    with pytest.raises(CheckpointError, match="text branch"):
        CLAPTextEncoder(checkpoint=audio_only, tokenizer=clap_files["tokenizer"]).load()
