"""Evaluation embedders: the bundled aisfx model, and VGGish / PANNs / CLAP loaded from small
random checkpoints saved in the published formats (same key names, smaller widths)."""
import json
import pickle

import librosa
import numpy as np
import pytest
import torch

from audiogan_core.errors import CheckpointError, MissingResourceError, PluginError
from audiogan_plugins import get_embedder, registered

RNG = np.random.default_rng(0)


def noise(seconds, rate, scale=0.1):
    return (RNG.normal(size=int(seconds * rate)) * scale).astype(np.float32)


def test_all_embedders_registered():
    assert {"aisfx", "vggish", "panns", "clap"} <= set(registered("embedders"))


# aisfx ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def aisfx():
    return get_embedder("aisfx").load()


def test_aisfx_shapes_and_probabilities(aisfx):
    res = aisfx.embed([noise(3.0, 16000), noise(0.5, 16000)], 16000)  # resampled to 44.1 kHz; 0.5 s < one block
    assert res.embeddings.shape == (2, 512)
    assert res.probabilities.shape == (2, 69) and aisfx.num_classes == 69
    assert torch.allclose(res.probabilities.sum(1), torch.ones(2), atol=1e-5)
    again = aisfx.embed([noise(0.5, 16000)], 16000)
    assert again.embeddings.shape == (1, 512)


def test_aisfx_matches_the_package_network(aisfx):
    # Same blocks through aisfx's own CrossNet (weights from our safe loader): identical outputs.
    from aisfx.models.cnn2d import CrossNet, EmbeddingNet

    from audiogan_plugins.embedders.aisfx import aisfx_features, blocks_of, load_packaged_weights

    weights, heads = load_packaged_weights()
    ref = CrossNet(EmbeddingNet("max", 3, 1, 64), heads, "cpu")
    ref.load_state_dict(weights)
    ref.eval()
    clip = noise(5.0, 44100)
    blocks = torch.from_numpy(blocks_of(aisfx_features(clip)))
    assert blocks.shape == (3, 100, 96)  # 216 frames -> blocks at 0, 50, 100 (partial last dropped)
    with torch.no_grad():
        emb, logits = ref(blocks, "ucsMixed")
    res = aisfx.embed([clip], 44100)
    assert torch.allclose(res.embeddings[0], emb.mean(0), atol=1e-5)
    assert torch.allclose(res.probabilities[0], torch.softmax(logits, -1).mean(0), atol=1e-5)


def test_aisfx_loads_only_the_packaged_file():
    from audiogan_plugins.embedders.aisfx import packaged_checkpoint

    path = packaged_checkpoint()
    assert path.name == "checkpoint.pth" and path.parent.parent.name == "aisfx"
    with pytest.raises(PluginError, match="checkpoint"):
        get_embedder("aisfx", checkpoint="/tmp/other.pth")


# VGGish -----------------------------------------------------------------------------------
VGG_WIDTHS = (4, 4, 8, 8, 8, 8)


def vggish_state(widths=VGG_WIDTHS, fc=(16, 16, 128)):
    from audiogan_plugins.embedders.vggish import _VGG

    torch.manual_seed(0)
    return _VGG(list(widths), list(fc)).state_dict()


@pytest.fixture(scope="module")
def vggish_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("vggish") / "vggish-10086976.pth"
    torch.save(vggish_state(), path)  # torchvggish format: a bare state dict
    return path


def test_vggish_key_names_match_torchvggish():
    keys = set(vggish_state())
    expected = {f"features.{i}.{p}" for i in (0, 3, 6, 8, 11, 13) for p in ("weight", "bias")}
    expected |= {f"embeddings.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")}
    assert keys == expected


def test_vggish_full_size_has_published_parameter_count():
    from audiogan_plugins.embedders.vggish import _VGG

    with torch.device("meta"):
        model = _VGG([64, 128, 256, 256, 512, 512], [4096, 4096, 128])
    assert sum(p.numel() for p in model.parameters()) == 72_141_184


def test_vggish_frames_and_embeddings(vggish_ckpt):
    emb = get_embedder("vggish", checkpoint=str(vggish_ckpt))
    res = emb.embed([noise(10.0, 16000), noise(0.5, 16000), noise(2.0, 44100)], 16000)
    assert res.embeddings.shape == (3, 128)
    assert [len(f) for f in res.frames] == [10, 1, 5]  # 0.96 s examples; 2 s at 44.1k read as 16k = 5.5 s
    assert torch.allclose(res.embeddings[0], res.frames[0].mean(0))
    assert res.probabilities is None


def test_vggish_mel_front_end():
    from audiogan_plugins.embedders.vggish import vggish_examples, vggish_mel_matrix

    mel = vggish_mel_matrix()
    assert mel.shape == (257, 64) and (mel[0] == 0).all()
    # a 1 kHz tone peaks in the band whose HTK-mel centre is closest to 1 kHz
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)
    ex = vggish_examples(tone)
    edges = np.linspace(1127 * np.log(1 + 125 / 700), 1127 * np.log(1 + 7500 / 700), 66)
    centres_hz = 700 * (np.exp(edges[1:-1] / 1127) - 1)
    assert ex.shape == (1, 96, 64)
    assert abs(int(np.argmax(ex[0].mean(0))) - int(np.argmin(np.abs(centres_hz - 1000)))) <= 1


def test_missing_and_bad_checkpoints(tmp_path):
    with pytest.raises(MissingResourceError, match="vggish-10086976.pth"):
        get_embedder("vggish").embed([noise(1, 16000)], 16000)
    with pytest.raises(MissingResourceError, match="not found.*Cnn14"):
        get_embedder("panns", checkpoint=str(tmp_path / "Cnn14_mAP=0.431.pth")).load()
    with pytest.raises(MissingResourceError, match="clap-htsat-unfused"):
        get_embedder("clap", checkpoint=str(tmp_path / "nothing")).load()
    junk = tmp_path / "junk.pth"
    torch.save({"foo.weight": torch.zeros(3)}, junk)
    with pytest.raises(CheckpointError, match="torchvggish"):
        get_embedder("vggish", checkpoint=str(junk)).load()
    with pytest.raises(CheckpointError, match="CNN14"):
        get_embedder("panns", checkpoint=str(junk)).load()

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as fh:
        pickle.dump({"x": Evil()}, fh)
    with pytest.raises(CheckpointError, match="cannot read"):
        get_embedder("vggish", checkpoint=str(evil)).load()
    truncated = tmp_path / "truncated.pth"
    torch.save(vggish_state(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:500])
    with pytest.raises(CheckpointError):
        get_embedder("vggish", checkpoint=str(truncated)).load()


# PANNs ------------------------------------------------------------------------------------
def panns_state(n_fft=1024, classes=527):
    from audiogan_plugins.embedders.panns import _Cnn14

    torch.manual_seed(1)
    state = _Cnn14([4, 4, 8, 8, 8, 8], 64, 16, classes).state_dict()
    # the published checkpoints also hold torchlibrosa's front-end tensors (ignored: recomputed)
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(n_fft // 2 + 1, 1, n_fft)
    state["spectrogram_extractor.stft.conv_imag.weight"] = torch.zeros(n_fft // 2 + 1, 1, n_fft)
    state["logmel_extractor.melW"] = torch.zeros(n_fft // 2 + 1, 64)
    return state


@pytest.mark.parametrize("n_fft,rate", [(1024, 32000), (512, 16000)])
def test_panns_checkpoint_format_and_outputs(tmp_path, n_fft, rate):
    path = tmp_path / "Cnn14.pth"
    torch.save({"model": panns_state(n_fft), "iteration": 0}, path)
    emb = get_embedder("panns", checkpoint=str(path)).load()
    assert emb.sample_rate == rate  # read from the checkpoint's STFT kernel
    res = emb.embed([noise(3.0, 16000), noise(0.2, 16000), noise(3.0, 16000)], 16000)
    assert res.embeddings.shape == (3, 16) and emb.dim == 16
    assert res.probabilities.shape == (3, 527)
    assert torch.allclose(res.probabilities.sum(1), torch.ones(3), atol=1e-5)
    assert (res.embeddings >= 0).all()  # post-ReLU fc1 output


def test_panns_front_end_matches_librosa():
    from audiogan_plugins.embedders.panns import PannsFrontEnd

    wave = noise(1.0, 32000)
    ours = PannsFrontEnd(32000)(torch.from_numpy(wave)[None])[0, 0].numpy()
    spec = librosa.feature.melspectrogram(y=wave, sr=32000, n_fft=1024, hop_length=320, window="hann", center=True,
                                          pad_mode="reflect", power=2.0, n_mels=64, fmin=50, fmax=14000)
    ref = librosa.power_to_db(spec, ref=1.0, amin=1e-10, top_db=None).T
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-2


# CLAP -------------------------------------------------------------------------------------
def tiny_clap():
    from transformers import ClapConfig, ClapModel

    torch.manual_seed(2)
    cfg = ClapConfig(
        text_config=dict(vocab_size=262, hidden_size=64, num_hidden_layers=1, num_attention_heads=1,
                         intermediate_size=32, max_position_embeddings=80, projection_dim=8),
        audio_config=dict(patch_embeds_hidden_size=8, depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1],
                          hidden_size=64, projection_dim=8),
        projection_dim=8)
    return ClapModel(cfg).eval()


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (byte-level BPE alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def write_tokenizer(folder):
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in bytes_to_unicode().values():
        vocab[ch] = len(vocab)
    vocab["<mask>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def to_laion(state):
    """transformers ClapModel names -> LAION CLAP names (the inverse of the conversion)."""
    out = {}
    for k, v in state.items():
        if k.endswith(("position_ids", "token_type_ids", "relative_position_index")):
            continue
        n = k.replace("text_model.", "text_branch.").replace("audio_model.audio_encoder.", "audio_branch.")
        n = n.replace("_projection.linear1.", "_projection.0.").replace("_projection.linear2.", "_projection.2.")
        if n.startswith("audio_branch."):
            n = (n.replace("layernorm_before", "norm1").replace("layernorm_after", "norm2")
                 .replace("attention.output.dense", "attn.proj").replace("attention.self.", "attn.")
                 .replace("intermediate.dense", "mlp.fc1").replace("output.dense", "mlp.fc2")
                 .replace("batch_norm", "bn0"))
            if n.endswith(("attn.query.weight", "attn.query.bias")):
                base, kind = n.rsplit(".query.", 1)
                hf = k.rsplit(".query.", 1)[0]
                out[f"{base}.qkv.{kind}"] = torch.cat([state[f"{hf}.{p}.{kind}"] for p in ("query", "key", "value")])
                continue
            if ".attn.key." in n or ".attn.value." in n:
                continue
        out["module." + n] = v
    out["module.audio_branch.head.weight"] = torch.zeros(3, 3)  # classification head: ignored
    return out


@pytest.fixture(scope="module")
def clap_folder(tmp_path_factory):
    from transformers import ClapFeatureExtractor

    folder = tmp_path_factory.mktemp("clap-htsat-unfused")
    model = tiny_clap()
    model.save_pretrained(folder)
    ClapFeatureExtractor().save_pretrained(folder)
    write_tokenizer(folder)
    return folder, model


def test_clap_from_transformers_folder(clap_folder):
    folder, _ = clap_folder
    emb = get_embedder("clap", checkpoint=str(folder))
    assert emb.supports_text
    res = emb.embed([noise(2.0, 16000), noise(12.0, 16000)], 16000)
    text = emb.embed_text(["rain on a roof", "a dog barks"])
    assert res.embeddings.shape == (2, 8) and text.shape == (2, 8)
    assert torch.allclose(res.embeddings.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(text.norm(dim=1), torch.ones(2), atol=1e-5)
    assert not torch.allclose(text[0], text[1])


def test_clap_from_laion_checkpoint_matches_folder(clap_folder, tmp_path):
    folder, model = clap_folder
    ckpt = tmp_path / "630k-audioset-best.pt"
    torch.save({"epoch": np.int64(45), "state_dict": to_laion(model.state_dict())}, ckpt)
    with pytest.raises(MissingResourceError, match="tokenizer"):
        get_embedder("clap", checkpoint=str(ckpt)).load()
    a = get_embedder("clap", checkpoint=str(ckpt), tokenizer=str(folder))
    b = get_embedder("clap", checkpoint=str(folder))
    clips = [noise(3.0, 48000)]
    assert torch.allclose(a.embed(clips, 48000).embeddings, b.embed(clips, 48000).embeddings, atol=1e-5)
    assert torch.allclose(a.embed_text(["wind"]), b.embed_text(["wind"]), atol=1e-5)


def test_aisfx_cannot_embed_text(aisfx):
    assert not aisfx.supports_text
    with pytest.raises(NotImplementedError):
        aisfx.embed_text(["x"])


def test_aisfx_front_end_matches_librosa():
    from audiogan_plugins.embedders.aisfx import SPEC_MAX, aisfx_features, htk_mel_unit_sum

    assert np.allclose(htk_mel_unit_sum(), librosa.filters.mel(sr=44100, n_fft=2048, n_mels=96, fmin=0.0,
                                                               fmax=22050.0, htk=True, norm=1.0), atol=1e-6)
    y = noise(1.0, 44100, scale=0.3)
    spec = librosa.feature.melspectrogram(y=y / np.abs(y).max(), sr=44100, n_mels=96, norm=1.0, fmin=0.0,
                                          fmax=22050.0, htk=True, power=2.0, hop_length=1024, win_length=2048)
    ref = (np.log10(spec * 10000.0 + 1) / SPEC_MAX).T
    assert np.abs(aisfx_features(y) - ref).max() < 1e-4
