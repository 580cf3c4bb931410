"""scripts/evaluate_long.py: the loop seam check on signals whose answer is known, and the whole
script end to end on a synthetic library with an untrained tiny any-length model and a cheap
embedder (the wiring, not quality)."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from evaluate_long import seam_check, windows_hold  # noqa: E402


def test_a_whole_number_of_periods_loops_and_a_cut_does_not():
    rate = 22050
    t = np.arange(rate * 2) / rate
    f = 441.0  # 2 s hold exactly 882 periods
    loop = (0.5 * np.sin(2 * np.pi * f * t) * (1 + 0.2 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
    good = seam_check(loop)
    assert good["flux_ok"] and good["step_ok"], good
    cut = np.concatenate([loop[: rate + 1234], 0.9 * np.random.default_rng(0).standard_normal(rate // 2)])
    bad = seam_check(cut.astype(np.float32))
    assert not bad["flux_ok"] and bad["seam_flux"] > 2 * bad["inner_flux_p95"], bad


def test_an_ordinary_inner_point_passes_the_seam_test_about_as_often_as_a_95th_percentile_says():
    """The seam's statistic (the largest of the straddling pairs) is set against the same statistic
    inside: cut a long noise texture at ordinary points and re-join it there, and about 5% fail
    (against single pairs' percentile the largest of 4 fails far more often)."""
    rng = np.random.default_rng(1)
    envelope = np.repeat(np.exp(rng.normal(0, 0.7, 80)), 2205)  # a texture whose level wanders
    noise = (0.1 * rng.standard_normal(envelope.size) * envelope).astype(np.float32)
    results = [seam_check(np.roll(noise, -int(s))) for s in rng.integers(0, noise.size, 60)]
    fails = sum(not r["flux_ok"] for r in results)
    fails_single = sum(not r["flux_ok_single"] for r in results)
    assert fails <= 9 and fails_single > fails, (fails, fails_single)


def test_texture_windows_exactly_ten_points_under_window_one_hold():
    assert windows_hold([0.4, 0.3, 0.5]) and windows_hold([0.3, 0.3, 0.3])  # 3 of 10 against 4 of 10: within
    assert not windows_hold([0.4, 0.29, 0.5]) and not windows_hold([0.5, 0.6, 0.3])


def test_a_step_at_the_seam_is_caught():
    t = np.arange(22050) / 22050
    ramp = np.sin(2 * np.pi * 3 * t) * 0.01 + np.linspace(-0.5, 0.5, t.size)  # ends far from where it starts
    result = seam_check(ramp.astype(np.float32))
    assert not result["step_ok"] and result["seam_step"] > 0.9


def run_script(monkeypatch, *args: str) -> None:
    """scripts/evaluate_long.py as a command with these arguments; an exit other than 0 raises SystemExit."""
    import runpy

    monkeypatch.setattr(sys, "argv", ["evaluate_long.py", *args])
    try:
        runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "evaluate_long.py"), run_name="__main__")
    except SystemExit as exc:
        if exc.code != 0:
            raise


def test_evaluate_long_end_to_end(tmp_path, monkeypatch):
    import json
    import types

    import soundfile as sf
    import torch

    from audiogan_core.checkpoint import save_model
    from audiogan_core.generator import Generator
    from audiogan_core.hookspecs import hookimpl
    from audiogan_core.plugins import register_plugin, unregister_plugin
    from test_any_length import blocks_tiny
    from test_evaluate_bundled import RATE, BandEmbedder

    rng = np.random.default_rng(0)
    t = np.arange(int(0.8 * RATE)) / RATE
    kinds = {"fire": lambda k: 0.3 * rng.standard_normal(t.size),  # a texture
             "door": lambda k: np.where(t < 0.05, 0.8 * np.sin(2 * np.pi * 200 * t), 0.0),  # a one-shot
             "bell": lambda k: 0.5 * np.sin(2 * np.pi * (300 + 40 * k) * t)}  # a texture too
    lib = tmp_path / "lib"
    rows, holdout = [], []
    for cat, make in kinds.items():
        (lib / cat).mkdir(parents=True)
        for k in range(13):
            name = f"{cat}/{k:02d}.wav"
            sf.write(lib / name, make(k).astype(np.float32), RATE)
            rows.append({"file": name, "caption": f"{cat} sound {k}", "category": cat})
            if k >= 11:
                holdout.append(name)
    (lib / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (lib / "holdout.json").write_text(json.dumps({"files": holdout}))
    torch.manual_seed(0)
    cfg = blocks_tiny(vocoder_options={"n_iter": 1})  # one Griffin-Lim iteration: fast
    save_model(tmp_path / "model", Generator(cfg).eval(), cfg)

    @hookimpl
    def register_embedders(register):
        register("bands", BandEmbedder)

    register_plugin(types.SimpleNamespace(register_embedders=register_embedders), name="test_long_bands")
    out = tmp_path / "out"
    try:
        run_script(monkeypatch, "--data", str(lib), "--out", str(out), "--model", str(tmp_path / "model"), "--loops",
                   "3", "--embedder", "bands", "--images", str(out / "img"))
    finally:
        unregister_plugin("test_long_bands")
    report = json.loads((out / "report.json").read_text())
    assert report["textures"]["clips"] == 4 and len(report["textures"]["window_accuracy"]) == 3
    door = report["one_shots"]["per_category"]["door"]
    assert door["real_clips"] == 13 and len(door["generated"]) == 2  # real: held-out and training clips
    assert report["loops"]["clips"] == 3 and len(report["loop_clips"]) == 3
    # 2 textures + the 2 held-out one-shots (4 where the list has them) + 2 loops
    assert len(set(report["images"])) == 6 and all(Path(p).is_file() for p in report["images"])
    textures_shown = {Path(p).name.split("-", 2)[2] for p in report["images"] if "-texture-" in p}
    assert textures_shown == {"fire.png", "bell.png"}  # one of each category before a second of one
    # --loops-only: the same loops, nothing else (no classifier, no 10 s clips)
    only = tmp_path / "only"
    run_script(monkeypatch, "--data", str(lib), "--out", str(only), "--model", str(tmp_path / "model"), "--loops", "3",
               "--loops-only")
    alone = json.loads((only / "report.json").read_text())
    assert alone["textures"] is None and alone["one_shots"] is None and alone["images"] == []
    assert alone["loop_clips"] == report["loop_clips"]
    # --onset-seeds 2: the one-shots counted at seeds 0 and 1, the mean over both; seed 0's counts as before
    two = tmp_path / "two"
    register_plugin(types.SimpleNamespace(register_embedders=register_embedders), name="test_long_bands")
    try:
        run_script(monkeypatch, "--data", str(lib), "--out", str(two), "--model", str(tmp_path / "model"), "--loops",
                   "0", "--embedder", "bands", "--onset-seeds", "2")
    finally:
        unregister_plugin("test_long_bands")
    door2 = json.loads((two / "report.json").read_text())["one_shots"]["per_category"]["door"]
    assert door2["generated"] == door["generated"] and len(door2["generated_by_seed"]) == 2
    assert door2["generated_mean"] == pytest.approx(np.mean(door2["generated_by_seed"]))
    assert door2["ok"] == (door2["generated_mean"] <= door2["real_mean"])


def test_onset_seeds_under_one_is_refused(tmp_path, monkeypatch):
    with pytest.raises(SystemExit) as exc:
        run_script(monkeypatch, "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--onset-seeds", "0")
    assert exc.value.code == 2 and not (tmp_path / "out").exists()
