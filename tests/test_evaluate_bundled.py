"""scripts/evaluate_bundled.py, the held-out checks in the bundled model's card, end to end on a
synthetic three-category library with an untrained tiny model and a cheap fake embedder (the
wiring, not quality; the real aisfx embedder has its own tests in test_embedders.py)."""
import json
import runpy
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import Embedder, EmbeddingResult
from audiogan_core.plugins import register_plugin, unregister_plugin

RATE = 16000
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "evaluate_bundled.py"


class BandEmbedder(Embedder):
    """Spectral shape in 8 bands, zero-crossing rate and crest factor: enough to tell the
    synthetic beeps, noise bursts and clicks apart, in milliseconds. A 3-class softmax head."""

    name = "bands"
    sample_rate = RATE
    dim = 10
    num_classes = 3

    def embed(self, audio, sample_rate):
        assert sample_rate == self.sample_rate
        rows = []
        for a in audio:
            a = np.asarray(a, np.float64)
            power = np.abs(np.fft.rfft(a)) ** 2
            bands = np.log([b.sum() + 1e-9 for b in np.array_split(power, 8)])
            zcr = (np.diff(np.sign(a)) != 0).mean()
            crest = np.abs(a).max() / (np.sqrt((a ** 2).mean()) + 1e-9)
            # centred (spectral shape, not level), so cosine distances between clips mean something
            rows.append(list(bands - bands.mean()) + [zcr - 0.5, np.log(crest + 1e-9) - 1.5])
        emb = torch.tensor(rows, dtype=torch.float32)
        return EmbeddingResult(emb, torch.softmax(emb[:, :3], dim=1))


@pytest.fixture(autouse=True)
def band_embedder():
    register_plugin(types.SimpleNamespace(register_embedders=hookimpl_bands), name="test_band_embedder")
    yield
    unregister_plugin("test_band_embedder")


@hookimpl
def hookimpl_bands(register):
    register("bands", BandEmbedder)


def make_library(root):
    rng = np.random.default_rng(0)
    t = np.arange(int(0.8 * RATE)) / RATE
    kinds = {
        "beep": lambda k: 0.5 * np.sin(2 * np.pi * (300 + 40 * k) * t),
        "noise": lambda k: 0.3 * rng.standard_normal(t.size) * np.exp(-t * (2 + k % 3)),
        "click": lambda k: np.where((np.arange(t.size) % (800 + 50 * k)) < 20, 0.8, 0.0),
    }
    rows, holdout = [], []
    for cat, make in kinds.items():
        for k in range(14):
            name = f"{cat}/{cat}_{k:02d}.wav"
            (root / cat).mkdir(parents=True, exist_ok=True)
            sf.write(root / name, make(k).astype(np.float32), RATE)
            rows.append({"file": name, "caption": f"a {cat} sound number {k}", "category": cat})
            if k >= 11:
                holdout.append(name)
    # a row without a category and an unreadable file: left out of the classifier / skipped
    rows.append({"file": "beep/odd.wav", "caption": "something", "category": None})
    sf.write(root / "beep/odd.wav", kinds["beep"](1).astype(np.float32), RATE)
    (root / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    rows.append({"file": "broken.wav", "caption": "broken", "category": "beep"})
    holdout.append("broken.wav")
    (root / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "holdout.json").write_text(json.dumps({"files": holdout}))


def test_evaluate_bundled_end_to_end(tmp_path, monkeypatch, capsys):
    lib, out = tmp_path / "lib", tmp_path / "out"
    make_library(lib)
    monkeypatch.setattr(sys, "argv", ["evaluate_bundled.py", "--data", str(lib), "--out", str(out),
                                      "--model", "untrained:tiny", "--images", str(out / "img"), "--embedder", "bands"])
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    except SystemExit as exc:
        assert exc.code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["heldout_clips"] == 9 and report["train_clips"] == 34  # broken.wav skipped
    cl = report["category_classifier"]
    assert cl["categories"] == 3 and cl["test_clips"] == 9
    assert abs(cl["chance_uniform"] - 1 / 3) < 1e-9 and abs(cl["chance_majority"] - 1 / 3) < 1e-9
    # three very different synthetic sounds: the embedder separates the real held-out clips
    assert cl["real_heldout_accuracy"] >= 0.6
    assert len(cl["generated_misses"]) == round(9 * (1 - cl["generated_accuracy"]))
    fd = report["fd_bands"]
    assert "bands embeddings" in cl["method"] and set(report["audiogan_eval"]["embedders"]) == {"bands"}
    assert fd["sets"] == 9 and fd["floor_real_vs_real"] < fd["ceiling_untrained"]
    assert fd["generated_over_floor"] == fd["generated"] / fd["floor_real_vs_real"]
    dv = report["diversity"]
    assert len(dv["per_prompt"]) == 3 and dv["variations"] == 4 and dv["all_distinct"]
    assert 0 < report["no_copying"]["real_same_category_nn_similarity_median"] <= 1
    assert sorted(p.name for p in (out / "img").iterdir()) == ["beep.png", "click.png", "noise.png"]
    assert (out / "reference" / "captions.jsonl").read_text().count("\n") == 9
    assert "FD" in capsys.readouterr().out


def test_evaluate_bundled_quick_seeds(tmp_path, monkeypatch, capsys):
    lib, out = tmp_path / "lib", tmp_path / "out"
    make_library(lib)
    monkeypatch.setattr(sys, "argv", ["evaluate_bundled.py", "--data", str(lib), "--out", str(out),
                                      "--model", "untrained:tiny", "--quick", "--seeds", "0,3", "--embedder", "bands"])
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    except SystemExit as exc:
        assert exc.code == 0
    quick = json.loads((out / "quick.json").read_text())
    assert not (out / "report.json").exists()  # the full report is not written in quick mode
    assert quick["test_clips"] == 9 and quick["seeds"] == [0, 3] and len(quick["runs"]) == 2
    for run in quick["runs"]:
        assert run["correct"] == round(9 * run["generated_accuracy"])
        assert sum(run["predicted_counts"].values()) == 9
        assert len(run["generated_misses"]) == 9 - run["correct"]
        assert {m["category"] for m in run["generated_misses"]} <= {"beep", "noise", "click"}
    assert abs(quick["mean_accuracy"] - np.mean([r["generated_accuracy"] for r in quick["runs"]])) < 1e-12
    # the real held-out clips through the same classifier: the "75% of real" reference point
    assert quick["real_heldout_accuracy"] >= 0.6  # three very different synthetic sounds
    assert quick["mean_over_real"] == quick["mean_accuracy"] / quick["real_heldout_accuracy"]


def test_evaluate_bundled_seeds_needs_quick(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["evaluate_bundled.py", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                                      "--seeds", "0,1"])
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("--seeds without --quick should be refused")
