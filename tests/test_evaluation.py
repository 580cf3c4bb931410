"""Evaluation: folders -> report, floors and ceilings, bad input, and the bundled-model checks."""
import json
import re
import types

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from audiogan_core.errors import DataError, InputError
from audiogan_core.evaluation import (classify_accuracy, evaluate, format_report, load_folder,
                                      nearest_neighbour_similarity, pair_items, pairwise_diversity,
                                      parse_embedder_spec, read_captions, reference_halves, run_eval)
from audiogan_core.metrics import frechet_distance
from audiogan_plugins import Embedder, EmbeddingResult, hookimpl, register_plugin, unregister_plugin


class FakeEmbedder(Embedder):
    """Cheap deterministic features (rms, zero-crossing rate, spectral centroid), a 3-class
    softmax head, and a text embedding from word hashes: enough to exercise every metric."""

    name = "fake"
    sample_rate = 8000
    dim = 3
    num_classes = 3
    supports_text = True

    def __init__(self, device="cpu"):
        self.calls = []

    def load(self, device="cpu"):
        return self

    def embed(self, audio, sample_rate):
        assert sample_rate == self.sample_rate
        rows = []
        for a in audio:
            a = np.asarray(a, np.float64)
            spec = np.abs(np.fft.rfft(a))
            centroid = (spec * np.arange(len(spec))).sum() / max(spec.sum(), 1e-9) / len(spec)
            rows.append([np.sqrt((a ** 2).mean()), (np.diff(np.sign(a)) != 0).mean(), centroid])
        emb = torch.tensor(rows, dtype=torch.float32)
        return EmbeddingResult(emb, torch.softmax(emb * 10, dim=1))

    def embed_text(self, texts):
        return torch.tensor([[len(t) % 3 + 1.0, t.count("o") + 0.5, 1.0] for t in texts])


@pytest.fixture(autouse=True)
def fake_embedder():
    plugin = types.SimpleNamespace(register_embedders=hookimpl(lambda register: register("fake", FakeEmbedder)))
    register_plugin(plugin, name="test_fake_embedder")
    yield
    unregister_plugin("test_fake_embedder")


def tone(freq, seconds=0.5, rate=16000, noise=0.01, seed=0):
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * freq * t) + noise * rng.normal(size=t.size)).astype(np.float32)


def make_folder(path, n, *, rate=16000, shift=1.0, captions=True, noise=0.01):
    path.mkdir(parents=True, exist_ok=True)
    caps = []
    for i in range(n):
        sf.write(path / f"clip{i:02d}.wav", tone(300 * (i + 1) * shift, rate=rate, noise=noise, seed=i), rate)
        caps.append({"file": f"clip{i:02d}.wav", "caption": f"tone {i} of {n}"})
    if captions:
        (path / "captions.jsonl").write_text("\n".join(json.dumps(c) for c in caps) + "\n")
    return path


def test_read_captions_formats_and_errors(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"file": "x/rain.wav", "caption": "rain"}\n\n{"file": "dog.flac", "caption": " dog "}\n')
    assert read_captions(tmp_path / "a.jsonl") == {"rain": "rain", "dog": "dog"}
    (tmp_path / "b.csv").write_text("file,caption\nrain.wav,\"rain, heavy\"\n")
    assert read_captions(tmp_path / "b.csv") == {"rain": "rain, heavy"}
    (tmp_path / "bad.jsonl").write_text('{"file": "x.wav"\n')
    with pytest.raises(InputError, match="bad.jsonl:1"):
        read_captions(tmp_path / "bad.jsonl")
    (tmp_path / "c.csv").write_text("name,text\nx,y\n")
    with pytest.raises(InputError, match="'file' and 'caption'"):
        read_captions(tmp_path / "c.csv")
    with pytest.raises(InputError, match="not found"):
        read_captions(tmp_path / "none.jsonl")


def test_bad_folders(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="no audio files"):
        load_folder(tmp_path / "empty")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.wav").write_bytes(b"RIFF garbage")
    with pytest.raises(DataError, match="all 1 file"):
        load_folder(tmp_path / "junk")
    folder = make_folder(tmp_path / "mixed", 3)
    (folder / "broken.wav").write_bytes(b"nope")
    sf.write(folder / "silent.wav", np.zeros(0, np.float32), 16000)
    coll = load_folder(folder)
    assert len(coll) == 3 and coll.items[0].caption == "tone 0 of 3"
    assert sorted(p.split("/")[-1] for p, _ in coll.skipped) == ["broken.wav", "silent.wav"]


def test_same_sets_score_zero_and_floor_is_half_vs_half(tmp_path):
    ref = load_folder(make_folder(tmp_path / "ref", 8))
    report = evaluate(ref, ref, embedders=["fake"], ceiling=False)
    entry = report["embedders"]["fake"]
    assert entry["value"]["fd"] == pytest.approx(0.0, abs=1e-6)
    assert entry["value"]["kl"] == pytest.approx(0.0, abs=1e-5)
    assert report["pairs"] == {"count": 8, "by": "file stem"}
    # floor = FD between even and odd positions, computed independently
    from audiogan_core.io import resample

    emb = FakeEmbedder().embed([resample(i.audio, 16000, 8000) for i in ref.items], 8000).embeddings.numpy()
    a, b = reference_halves(8)
    assert (a, b) == ([0, 2, 4, 6], [1, 3, 5, 7])
    assert entry["floor"]["fd"] == pytest.approx(frechet_distance(emb[a], emb[b]), rel=1e-6)
    assert entry["floor"]["is"] is not None and entry["floor"]["kl"] is None
    assert entry["value"]["text_audio"] is not None and entry["floor"]["text_audio"] is not None
    assert any("resampled to 8000 Hz (8 at 16000 Hz)" in n for n in entry["notes"])
    text = format_report(report)
    assert "floor (ref vs ref)" in text and "not comparable with published" in text


def test_generated_worse_than_floor_and_ceiling_from_untrained_model(tmp_path):
    ref = load_folder(make_folder(tmp_path / "ref", 8))
    gen = load_folder(make_folder(tmp_path / "gen", 6, shift=1.7, noise=0.2, rate=22050, captions=False))
    report = evaluate(gen, ref, embedders=["fake"], ceiling_preset="tiny")
    entry = report["embedders"]["fake"]
    assert report["ceiling_model"]["preset"] == "tiny" and report["ceiling_model"]["clips"] == 6
    assert entry["value"]["fd"] > entry["floor"]["fd"]
    assert entry["ceiling"]["fd"] is not None and entry["ceiling"]["kl"] is not None
    # generated clips have no captions: paired reference captions are used for the ceiling
    assert report["pairs"]["by"] == "file stem"


def test_pairing_by_caption_and_missing_captions(tmp_path):
    ref = load_folder(make_folder(tmp_path / "ref", 4))
    gen_dir = tmp_path / "gen"
    gen_dir.mkdir()
    for i in range(3):
        sf.write(gen_dir / f"out-{i}.wav", tone(500 + i), 16000)
    (gen_dir / "captions.csv").write_text("file,caption\n" + "".join(f"out-{i}.wav,Tone {i} of 4\n" for i in range(3)))
    gen = load_folder(gen_dir, name="generated")
    pairs, how = pair_items(gen, ref)
    assert how == "caption" and pairs == [(0, 0), (1, 1), (2, 2)]
    bare = load_folder(make_folder(tmp_path / "bare", 3, captions=False))
    refbare = load_folder(make_folder(tmp_path / "refbare", 4, captions=False), name="reference")
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for i, item in enumerate(bare.items):
        sf.write(renamed / f"x{i}.wav", item.audio, 16000)
    report = evaluate(load_folder(renamed, name="generated"), refbare, embedders=["fake"], ceiling_preset="tiny")
    assert report["embedders"]["fake"]["value"]["kl"] is None
    assert any("ceiling skipped: no captions" in n for n in report["notes"])
    assert any("KL: no generated clip" in n for n in report["notes"])


def test_too_small_sets(tmp_path):
    one = load_folder(make_folder(tmp_path / "one", 1))
    three = load_folder(make_folder(tmp_path / "three", 3))
    with pytest.raises(DataError, match="reference set has 1 usable clip.*at least 2"):
        evaluate(three, one, embedders=["fake"], ceiling=False)
    report = evaluate(three, three, embedders=["fake"], ceiling=False)
    assert any("floor skipped" in n and "at least 4" in n for n in report["notes"])


def test_cli_eval_folder_and_model(tmp_path):
    from audiogan_core.cli_eval import eval_command

    ref = make_folder(tmp_path / "ref", 4)
    gen = make_folder(tmp_path / "gen", 4, shift=1.3, captions=False)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(eval_command, [str(gen), "-r", str(ref), "-e", "fake", "--ceiling-preset", "tiny",
                                               "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "ceiling (untrained)" in result.output and "fake" in result.output
    data = json.loads(out.read_text())
    assert data["embedders"]["fake"]["ceiling"]["fd"] is not None
    # generate from a model and captions instead of a folder
    caps = tmp_path / "caps.jsonl"
    caps.write_text("\n".join(json.dumps({"file": f"clip{i:02d}.wav", "caption": f"tone {i}"}) for i in range(4)))
    result = CliRunner().invoke(eval_command, ["-m", "untrained:tiny", "--captions", str(caps), "-r", str(ref),
                                               "-e", "fake", "--no-ceiling", "-q"])
    assert result.exit_code == 0, result.output
    assert "paired: 4 (by file stem)" in result.output
    # the model options are the shared ones (as generate and serve): plugin choices reach the model
    result = CliRunner().invoke(eval_command, ["-m", "untrained:tiny", "--captions", str(caps), "-r", str(ref),
                                               "-e", "fake", "--no-ceiling", "-q", "--vocoder", "griffinlim",
                                               "--vocoder-option", "n_iter=0", "--text-encoder-option", "seed=3"])
    assert result.exit_code == 2 and "unexpected keyword argument 'seed'" in result.output, result.output
    result = CliRunner().invoke(eval_command, [str(gen), "-r", str(tmp_path / "nope"), "-e", "fake", "-q"])
    assert result.exit_code == 2 and "reference folder not found" in result.output
    result = CliRunner().invoke(eval_command, [str(gen), "-r", str(ref), "-E", "panns.checkpoint=x", "-q"])
    assert result.exit_code == 2 and "add --embedder panns" in result.output
    with pytest.raises(InputError, match="not both"):
        run_eval(reference=ref, generated=gen, model="untrained:tiny")


def test_parse_embedder_spec():
    assert parse_embedder_spec("aisfx") == ("aisfx", {})
    assert parse_embedder_spec("panns:checkpoint=/m/Cnn14_mAP=0.431.pth,batch_size=4") == (
        "panns", {"checkpoint": "/m/Cnn14_mAP=0.431.pth", "batch_size": 4})
    with pytest.raises(InputError):
        parse_embedder_spec("panns:checkpoint")


def test_aisfx_end_to_end_has_no_text_metric(tmp_path):
    ref = load_folder(make_folder(tmp_path / "ref", 4))
    gen = load_folder(make_folder(tmp_path / "gen", 4, shift=1.2, captions=False))
    report = evaluate(gen, ref, embedders=["aisfx"], ceiling=False)
    entry = report["embedders"]["aisfx"]
    assert entry["dim"] == 512 and entry["classes"] == 69
    assert entry["value"]["text_audio"] is None and entry["value"]["is"] >= 1.0
    assert any("cannot embed text" in n for n in entry["notes"])
    assert re.search(r"text-audio sim\s+n/a", format_report(report))


def test_classify_accuracy_diversity_and_nearest_neighbour():
    rng = np.random.default_rng(0)
    centres = np.eye(4) * 5
    train = np.concatenate([c + rng.normal(size=(20, 4)) for c in centres])
    test = np.concatenate([c + rng.normal(size=(10, 4)) for c in centres])
    ytr = np.repeat(["rain", "dog", "car", "bell"], 20)
    yte = np.repeat(["rain", "dog", "car", "bell"], 10)
    assert classify_accuracy(train, ytr, test, yte) >= 0.95
    assert classify_accuracy(train, ytr, test, yte, method="centroid") >= 0.95
    shuffled = rng.permutation(yte)
    assert classify_accuracy(train, ytr, test, shuffled) < 0.6
    assert classify_accuracy(train, ytr, test[:2], ["unseen", "unseen"]) == 0.0
    with pytest.raises(InputError, match="2 classes"):
        classify_accuracy(train, ["a"] * len(train), test, yte)
    assert pairwise_diversity(np.ones((5, 3))) == pytest.approx(0.0)
    assert pairwise_diversity(np.eye(3)) == pytest.approx(1.0)
    nn = nearest_neighbour_similarity(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 0.0], [0.0, 1.0]]))
    assert nn["index"] == [0, 0] and nn["similarity"][0] == pytest.approx(1.0)
    assert nn["mean"] == pytest.approx((1 + 1 / np.sqrt(2)) / 2) and nn["max"] == pytest.approx(1.0)


def test_half_set_fd_row_compares_equal_sizes(tmp_path):
    ref = load_folder(make_folder(tmp_path / "ref", 8))
    gen = load_folder(make_folder(tmp_path / "gen", 8, shift=1.5, captions=False))
    report = evaluate(gen, ref, embedders=["fake"], ceiling=False)
    entry = report["embedders"]["fake"]
    from audiogan_core.io import resample

    def emb(coll):
        return FakeEmbedder().embed([resample(i.audio, 16000, 8000) for i in coll.items], 8000).embeddings.numpy()

    g, r = emb(gen), emb(ref)
    assert entry["value"]["fd_half"] == pytest.approx(frechet_distance(g[[0, 2, 4, 6]], r[[1, 3, 5, 7]]), rel=1e-6)
    assert entry["floor"]["fd_half"] == entry["floor"]["fd"]
    assert "FD half-sets 4 vs 4" in format_report(report)
    two = load_folder(make_folder(tmp_path / "two", 2))
    assert evaluate(two, ref, embedders=["fake"], ceiling=False)["embedders"]["fake"]["value"]["fd_half"] is None
