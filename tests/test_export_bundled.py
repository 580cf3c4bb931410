"""scripts/export_bundled.py on two tiny real runs, as the bundled model is made: stage 1's raw
generator exported from its checkpoint, an any-length stage 2 initialised from it, and stage 2's
EMA generator exported with a two-stage model card."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_trainer import ANY_LENGTH_SWITCHES, library, tiny_config  # noqa: F401 (library: a module fixture)

from audiogan_core import AudioGAN
from audiogan_training.trainer import CHECKPOINT_NAME, Trainer, read_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import export_bundled  # noqa: E402

LONG_REPORT = {  # scripts/evaluate_long.py's report.json, only the fields the card reads
    "textures": {"clips": 2, "window_accuracy": [0.5, 0.5, 0.0], "target_met": False},
    "one_shots": {"clips": 3, "target_met": False, "per_category": {
        "door": {"generated_mean": 3.0, "real_mean": 2.0, "ok": False},
        "bow_arrow": {"generated_mean": 1.0, "real_mean": 2.5, "ok": True}}},
    "loops": {"clips": 100, "seconds": 8.9, "flux_ok": 97, "step_ok": 94}}


def same_tensors(folder: Path, state: dict) -> bool:
    saved = load_file(str(folder / "generator.safetensors"))
    return saved.keys() == state.keys() and all(torch.equal(saved[k], state[k]) for k in saved)


@pytest.fixture(scope="module")
def stages(library, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("bundled")
    Trainer(tiny_config(steps=3), library, root / "stage1", cache_dir=root / "cache", progress=False).fit()
    export_bundled.export_checkpoint_generator(root / "stage1" / CHECKPOINT_NAME, root / "stage1-model", "raw")
    Trainer(tiny_config(steps=4, **ANY_LENGTH_SWITCHES), library, root / "stage2", cache_dir=root / "cache",
            progress=False, init_from=str(root / "stage1-model")).fit()
    return root


def test_a_checkpoints_raw_or_ema_generator_becomes_a_model_folder(stages, tmp_path):
    state, _ = read_checkpoint(stages / "stage1" / CHECKPOINT_NAME)
    assert same_tensors(stages / "stage1-model", state["G"]) and not same_tensors(stages / "stage1-model",
                                                                                 state["G_ema"])
    summary = json.loads((stages / "stage1-model" / "training_summary.json").read_text())
    assert summary["summary"]["steps"] == 3 and summary["train_config"]["model"]["name"] == "tiny"
    export_bundled.export_checkpoint_generator(stages / "stage1" / CHECKPOINT_NAME, tmp_path / "ema", "ema")
    assert same_tensors(tmp_path / "ema", state["G_ema"])
    with pytest.raises(ValueError, match="'raw' or 'ema'"):
        export_bundled.export_checkpoint_generator(stages / "stage1" / CHECKPOINT_NAME, tmp_path / "x", "best")


def test_two_stage_export_writes_a_loadable_model_and_its_card(stages, tmp_path):
    data = tmp_path / "library"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({
        "packages": {"some-game-data": {"clips": 7, "duration_s": 30.0, "licences": ["GPL-2+"]}},
        "categories": {"door": 12, "bow_arrow": 3}, "holdout": {"clips": 2}}))
    (tmp_path / "long.json").write_text(json.dumps(LONG_REPORT))
    rc = export_bundled.main(["--run", str(stages / "stage2"), "--checkpoint", str(stages / "stage2" / CHECKPOINT_NAME),
                              "--weights", "ema", "--data", str(data), "--init-model", str(stages / "stage1-model"),
                              "--long-eval", str(tmp_path / "long.json"), "--models-dir", str(tmp_path / "models"),
                              "--name", "mine", "--vocoder", "griffinlim", "--vocoder-fallback", ""])
    assert rc == 0
    folder = tmp_path / "models" / "mine"
    state, _ = read_checkpoint(stages / "stage2" / CHECKPOINT_NAME)
    assert same_tensors(folder, state["G_ema"])
    card = (folder / "MODEL_CARD.md").read_text()
    for expected in ("preset `tiny`", "any length from 0.1 to 60 s (default 10 s)", "generator EMA",
                     "**Stage 1**, the first bundled model (`tiny`", "**3** steps", "**4** steps",
                     "| some-game-data | 7 | 0.5 | GPL-2+ |", "door (12)",
                     "bow arrow 1.0 (real 2.5); door 3.0 (real 2.0)", "generated (seed 0; real clips of the category)", "**not met** (1 of 2 categories over)",
                     "| 97 of 100 | 95: met |", "| 94 of 100 | 95: **not met** |", "50% / 50% / 0%"):
        assert expected in card, expected
    assert "bow arrow (3)" not in card  # kinds with fewer than 10 clips are not listed
    summary = json.loads((folder / "training_summary.json").read_text())
    assert summary["init"]["summary"]["steps"] == 3 and summary["summary"]["steps"] == 4
    assert summary["long"] == LONG_REPORT and summary["evaluation"] is None
    model = AudioGAN.load(str(folder))
    assert model.config.any_length and model.config.vocoder == "griffinlim"
    (clip,) = model.generate("a door", seed=1, seconds=0.5)
    assert clip.audio.shape[0] == pytest.approx(0.5 * model.sample_rate, rel=0.1)


def test_an_export_can_set_the_output_median_and_refuses_an_invalid_one(stages, tmp_path):
    data = tmp_path / "library"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"packages": {}, "categories": {}, "holdout": {"clips": 0}}))
    common = ["--run", str(stages / "stage2"), "--checkpoint", str(stages / "stage2" / CHECKPOINT_NAME), "--weights",
              "ema", "--data", str(data), "--init-model", str(stages / "stage1-model"), "--models-dir",
              str(tmp_path / "models"), "--name", "mine", "--vocoder", "griffinlim", "--vocoder-fallback", ""]
    assert export_bundled.main([*common, "--output-median", "4"]) == 1  # even: refused, nothing written
    assert not (tmp_path / "models" / "mine").exists() and not (tmp_path / "models" / "mine.tmp").exists()
    assert export_bundled.main([*common, "--output-median", "3"]) == 0
    folder = tmp_path / "models" / "mine"
    assert AudioGAN.load(str(folder)).config.output_median == 3
    assert "its output ends with a 3-frame median along time (no weights: flicker" in \
        (folder / "MODEL_CARD.md").read_text()
    assert export_bundled.main([*common, "--output-median", "5", "--output-median-of", "level"]) == 0
    assert AudioGAN.load(str(folder)).config.output_median_of == "level"
    assert "a 5-frame median along time of each frame's level (one gain per frame, no weights: flicker" in \
        (folder / "MODEL_CARD.md").read_text()
    level = ["--output-median", "5", "--output-median-of", "level"]
    assert export_bundled.main([*common, *level, "--output-median-strength", "0"]) == 1  # refused: the last one stays
    assert AudioGAN.load(str(folder)).config.output_median_strength == 1.0
    assert export_bundled.main([*common, *level, "--output-median-strength", "0.5"]) == 0
    assert AudioGAN.load(str(folder)).config.output_median_strength == 0.5
    assert "a 5-frame median along time of each frame's level, each frame moved 0.5 of the way to it (one gain" in \
        (folder / "MODEL_CARD.md").read_text()
    assert export_bundled.main([*common, *level, "--output-median-below-peak", "-1"]) == 1  # refused
    assert export_bundled.main([*common, *level, "--output-median-below-peak", "4"]) == 0
    assert AudioGAN.load(str(folder)).config.output_median_below_peak == 4.0
    assert "of each frame's level, on frames more than 4 nats under the clip's loudest (one gain" in \
        (folder / "MODEL_CARD.md").read_text()
    assert export_bundled.main(common) == 0  # by default the source config's (none)
    assert AudioGAN.load(str(folder)).config.output_median == 0
    assert "-frame median" not in (folder / "MODEL_CARD.md").read_text()


def test_a_probe_folder_exported_from_a_checkpoint_exports_like_the_checkpoint(stages, tmp_path):
    data = tmp_path / "library"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"packages": {}, "categories": {}, "holdout": {"clips": 0}}))
    probe = tmp_path / "probe"
    export_bundled.export_checkpoint_generator(stages / "stage2" / CHECKPOINT_NAME, probe, "raw", history=False)
    common = ["--run", str(stages / "stage2"), "--checkpoint", str(probe), "--data", str(data),
              "--models-dir", str(tmp_path / "models"), "--vocoder", "griffinlim", "--vocoder-fallback", ""]
    assert export_bundled.main(common + ["--weights", "ema", "--name", "wrong"]) == 1  # the probe holds raw weights
    assert not list((tmp_path / "models").glob("wrong*"))
    assert export_bundled.main(common + ["--weights", "raw", "--name", "mine"]) == 0
    state, _ = read_checkpoint(stages / "stage2" / CHECKPOINT_NAME)
    folder = tmp_path / "models" / "mine"
    assert same_tensors(folder, state["G"])
    assert json.loads((folder / "training_summary.json").read_text())["summary"]["steps"] == 4
    assert "the raw generator (not the EMA)" in (folder / "MODEL_CARD.md").read_text()


def test_a_fitted_level_envelope_exports_with_the_record_of_the_model_it_started_from(stages, library, tmp_path):  # noqa: F811
    from audiogan_training.level_fit import LevelFitConfig, fit_level

    data = tmp_path / "library"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"packages": {}, "categories": {"door": 12}}))
    common = ["--data", str(data), "--models-dir", str(tmp_path / "models"), "--name", "mine",
              "--vocoder", "griffinlim", "--vocoder-fallback", ""]
    assert export_bundled.main(["--run", str(stages / "stage2"), "--init-model", str(stages / "stage1-model"),
                                *common]) == 0
    base = tmp_path / "models" / "mine"
    fit_level(str(base), library, tmp_path / "fitted", LevelFitConfig(seconds=1.0, steps=5),
              cache_dir=tmp_path / "cache", progress=False)
    assert export_bundled.main(["--from-model", str(tmp_path / "fitted"), *common]) == 0  # history: mine, as it was
    card = (base / "MODEL_CARD.md").read_text()
    for expected in ("**Stage 1**, the first bundled model (`tiny`", "**3** steps", "**4** steps",
                     "a level envelope fitted by `audiogan fit-level`", "a level envelope of the caption and the clock"):
        assert expected in card, expected
    record = json.loads((base / "training_summary.json").read_text())
    assert record["init"]["summary"]["steps"] == 3 and record["level_fit"]["config"]["steps"] == 5
    assert same_tensors(base, load_file(str(tmp_path / "fitted" / "generator.safetensors")))
    model = AudioGAN.load(str(base))
    assert model.config.level_envelope and model.config.vocoder == "griffinlim"
    with pytest.raises(SystemExit):
        export_bundled.main(["--from-model", str(tmp_path / "fitted"), "--run", str(stages / "stage2"), *common])


def third_stage(stages, library, tmp_path):  # noqa: F811
    """Stage 2's EMA with a fitted envelope, trained 2 steps (tmp_path/stage3); returns the data folder."""
    from audiogan_training.level_fit import LevelFitConfig, fit_level

    data = tmp_path / "library"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"packages": {}, "categories": {"door": 12}}))
    stage2 = tmp_path / "stage2-model"
    export_bundled.export_checkpoint_generator(stages / "stage2" / CHECKPOINT_NAME, stage2, "ema",
                                               init=stages / "stage1-model")
    fit_level(str(stage2), library, tmp_path / "stage2-level", LevelFitConfig(seconds=1.0, steps=5),
              cache_dir=tmp_path / "cache", progress=False)
    record = json.loads((tmp_path / "stage2-level" / "training_summary.json").read_text())
    assert record["summary"]["steps"] == 4 and record["init"]["summary"]["steps"] == 3
    assert record["level_fit"]["config"]["steps"] == 5  # the source's record, then the fit
    switches = dict(ANY_LENGTH_SWITCHES, model=ANY_LENGTH_SWITCHES["model"].replace(level_envelope=True))
    Trainer(tiny_config(steps=2, **switches), library, tmp_path / "stage3", cache_dir=tmp_path / "cache",
            progress=False, init_from=str(tmp_path / "stage2-level")).fit()
    return data


def test_a_third_stage_from_a_fitted_envelope_carries_the_lineage_into_the_card(stages, library, tmp_path):  # noqa: F811
    data = third_stage(stages, library, tmp_path)
    assert export_bundled.main(["--run", str(tmp_path / "stage3"), "--weights", "raw", "--init-model",
                                str(tmp_path / "stage2-level"), "--data", str(data), "--models-dir",
                                str(tmp_path / "models"), "--name", "mine", "--vocoder", "griffinlim",
                                "--vocoder-fallback", ""]) == 0
    card = (tmp_path / "models" / "mine" / "MODEL_CARD.md").read_text()
    for expected in ("Three stages", "**Stage 1**, the first bundled model (`tiny`", "**3** steps",
                     "**Stage 2**, its successor", "**4** steps", "**Then** onto its EMA generator",
                     "**Stage 3**, this model", "**2** steps", "the raw generator at step 2"):
        assert expected in card, expected
    saved = json.loads((tmp_path / "models" / "mine" / "training_summary.json").read_text())
    assert saved["init"]["init"]["summary"]["steps"] == 3 and saved["init"]["level_fit"]["config"]["steps"] == 5



def fine_tune_stage(n: int, library, tmp_path, kinds: list[str] | dict[str, float],  # noqa: F811
                    loop_anchor_weight: float = 0.0):
    """Stage n - 1's raw generator exported (tmp_path/stageN-1-model), then fine-tuned 1 step with the onset
    count on `kinds` (tmp_path/stageN)."""
    before = tmp_path / f"stage{n - 1}"
    export_bundled.export_checkpoint_generator(before / CHECKPOINT_NAME, tmp_path / f"stage{n - 1}-model", "raw",
                                               init=tmp_path / ("stage2-level" if n == 4 else f"stage{n - 2}-model"))
    switches = dict(ANY_LENGTH_SWITCHES, model=ANY_LENGTH_SWITCHES["model"].replace(level_envelope=True))
    aimed = dict(moment_weight=1.0, moment_terms=("mean", "onset_count"), moment_term_weights={"onset_count": 3.0},
                 moment_term_categories={"onset_count": kinds}, anchor_weight=100.0, freeze_norm_stats=True,
                 loop_anchor_weight=loop_anchor_weight)
    Trainer(tiny_config(steps=1, **switches, **aimed), library, tmp_path / f"stage{n}", cache_dir=tmp_path / "cache",
            progress=False, init_from=str(tmp_path / f"stage{n - 1}-model")).fit()


def test_a_fourth_stage_fine_tune_of_stage_3_is_described_with_what_it_aimed_at(stages, library, tmp_path):  # noqa: F811
    data = third_stage(stages, library, tmp_path)
    fine_tune_stage(4, library, tmp_path, ["ui", "gathering_coins"])
    common = ["--run", str(tmp_path / "stage4"), "--weights", "raw", "--init-model", str(tmp_path / "stage3-model"),
              "--data", str(data), "--models-dir", str(tmp_path / "models"), "--name", "mine", "--vocoder",
              "griffinlim", "--vocoder-fallback", ""]
    assert export_bundled.main([*common, "--output-median", "2"]) == 1  # even: refused, nothing written
    assert not (tmp_path / "models" / "mine").exists() and not (tmp_path / "models" / "mine.tmp").exists()
    assert export_bundled.main([*common, "--output-median", "3", "--output-median-of", "level",
                                "--output-median-strength", "0.5"]) == 0
    assert json.loads((tmp_path / "models" / "mine" / "config.json").read_text())["output_median_strength"] == 0.5
    card = (tmp_path / "models" / "mine" / "MODEL_CARD.md").read_text()
    for expected in ("3-frame median along time of each frame's level, each frame moved 0.5 of the way to it as the "
                     "generator's last step",
                     "`--output-median 3 --output-median-of level --output-median-strength 0.5`",
                     "its output ends with a 3-frame median", "Four stages", "**Stage 2**, its successor", "**4** steps", "**Stage 3**, the model after it",
                     "**2** steps", "**Stage 4**, this model", "stage 3's raw generator", "**1** steps",
                     "the onset_count term (weight 3) on ui, gathering_coins clips only",
                     "an anchor of weight 100", "batch norm's statistics frozen", "the raw generator at step 1"):
        assert expected in card, expected
    saved = json.loads((tmp_path / "models" / "mine" / "training_summary.json").read_text())
    assert saved["init"]["summary"]["steps"] == 2 and saved["init"]["init"]["init"]["summary"]["steps"] == 3


def test_a_fifth_stage_names_both_fine_tunes_and_only_the_last_ones_median(stages, library, tmp_path,  # noqa: F811
                                                                          monkeypatch):
    data = third_stage(stages, library, tmp_path)
    fine_tune_stage(4, library, tmp_path, ["ui", "gathering_coins"])
    fine_tune_stage(5, library, tmp_path, {"ui": 1.0, "sword_melee_hit": 0.3}, loop_anchor_weight=100.0)
    schedule = json.loads(export_bundled.PHASES.read_text())
    schedule["stage4"] = dict(schedule.get("stage4", {}), recipe="four.json", weights="raw")
    schedule["stage5"] = {"recipe": "five.json", "until_step": 1, "weights": "raw"}
    phases = tmp_path / "phases.json"
    phases.write_text(json.dumps(schedule))
    monkeypatch.setattr(export_bundled, "PHASES", phases)
    assert export_bundled.main(["--run", str(tmp_path / "stage5"), "--weights", "raw", "--init-model",
                                str(tmp_path / "stage4-model"), "--data", str(data), "--models-dir",
                                str(tmp_path / "models"), "--name", "mine", "--vocoder", "griffinlim",
                                "--vocoder-fallback", "", "--output-median", "3", "--output-median-of", "level",
                                "--output-median-below-peak", "2"]) == 0
    card = (tmp_path / "models" / "mine" / "MODEL_CARD.md").read_text()
    four = card[card.index("**Stage 4**"):card.index("**Stage 5**")]
    five = card[card.index("**Stage 5**"):]
    assert "Five stages" in card and "**Stage 3**, the model after it" in card
    assert "**Stage 4**, the model after it" in four and "`training/recipes/four.json`" in four
    assert "on ui, gathering_coins clips only" in four and "median" not in four
    assert "**Stage 5**, this model" in five and "stage 4's raw generator" in five
    assert "`training/recipes/five.json`" in five and "on sword_melee_hit (x0.3), ui clips only" in five
    assert "an anchor of weight 100 to stage 4's clips" in five and "frozen at stage 4's" in five
    assert "the same anchor on one-block loops (weight 100)" in five and "loops" not in four
    assert "`--output-median 3 --output-median-of level --output-median-below-peak 2`" in five
    saved = json.loads((tmp_path / "models" / "mine" / "training_summary.json").read_text())
    assert saved["init"]["summary"]["steps"] == 1 and saved["init"]["init"]["summary"]["steps"] == 2


def test_an_exported_generator_can_be_averaged_with_the_model_it_started_from(stages, tmp_path):
    """--average-with: each weight (1 - w) * start + w * run; a model of another shape is refused
    (exit 1, nothing written); the weights' metadata says what the blend is."""
    from audiogan_core.checkpoint import read_safetensors_metadata

    start = stages / "stage1-model"
    ema = tmp_path / "ema"
    export_bundled.export_checkpoint_generator(stages / "stage1" / CHECKPOINT_NAME, ema, "ema")
    before = load_file(str(ema / "generator.safetensors"))
    export_bundled.average_generator(ema, start, 0.25)
    base, mixed = load_file(str(start / "generator.safetensors")), load_file(str(ema / "generator.safetensors"))
    moved = 0
    for k, v in mixed.items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.75 * base[k] + 0.25 * before[k])
            moved += not torch.equal(v, base[k])
    assert moved > 0
    assert "0.75 of that, 0.25 of this" in read_safetensors_metadata(ema / "generator.safetensors")["weights"]
    assert AudioGAN.load(str(ema)).config.name == "tiny"
    with pytest.raises(ValueError, match="between 0 and 1"):
        export_bundled.average_generator(ema, start, 1.0)
    data = tmp_path / "library"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"packages": {}, "categories": {}}))
    # stage 2 is an any-length model: its generator has another shape than stage 1's
    assert export_bundled.main(["--run", str(stages / "stage2"), "--init-model", str(start), "--average-with",
                                str(start), "--data", str(data), "--models-dir", str(tmp_path / "models"),
                                "--name", "mine", "--vocoder", "griffinlim", "--vocoder-fallback", ""]) == 1
    assert not (tmp_path / "models" / "mine").exists()
    # the same shape: written, and the card says what the blend is
    assert export_bundled.main(["--run", str(stages / "stage1"), "--weights", "raw", "--average-with", str(start),
                                "--average-weight", "0.5", "--data", str(data), "--models-dir",
                                str(tmp_path / "models"), "--name", "mine", "--vocoder", "griffinlim",
                                "--vocoder-fallback", ""]) == 0
    assert "averaged weight by weight with the model it started from (0.5 of that, 0.5 of this" in (
        tmp_path / "models" / "mine" / "MODEL_CARD.md").read_text()


def test_the_cards_onset_row_says_over_which_seeds_it_counted():
    three = json.loads(json.dumps(LONG_REPORT))
    three["one_shots"]["seeds"] = 3
    assert "generated (mean over seeds 0-2; real clips" in export_bundled.length_section(three)
    assert "generated (seed 0; real clips" in export_bundled.length_section(LONG_REPORT)
