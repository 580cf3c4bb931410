"""Bad input through `audiogan train` and `python -m audiogan_training`: one-line errors with
meaningful exit codes, no tracebacks, and nothing written for a run that cannot start.
The trainer's own must-shows are in test_trainer.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner, Result
from test_trainer import CHECKPOINT_NAME, library  # noqa: F401 (a module-scoped fixture, one per module)

from audiogan_core.config import preset

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args) -> Result:
    from audiogan_core.cli import main

    return CliRunner().invoke(main, ["train", *map(str, args), "--device", "cpu", "--no-progress"])


def assert_one_line_error(result, code: int, *needles: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("audiogan: error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def test_bad_input_empty_and_all_bad_folders(tmp_path, library):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("no sounds here")
    result = run_cli("--data", empty, "--out", tmp_path / "run1", "--preset", "tiny", "--steps", 2)
    assert_one_line_error(result, 2, "no audio files found", str(empty))
    assert not (tmp_path / "run1").exists()  # nothing created for a run that cannot start

    bad = tmp_path / "bad"
    bad.mkdir()
    good = sorted(library.glob("*.wav"))[0].read_bytes()
    (bad / "cut.wav").write_bytes(good[: len(good) // 3])  # truncated WAV
    (bad / "notes.wav").write_text("this is a text file renamed to .wav\n" * 20)
    result = run_cli("--data", bad, "--out", tmp_path / "run2", "--preset", "tiny", "--steps", 2)
    line = assert_one_line_error(result, 2, "no usable audio", "cut.wav", "notes.wav")
    assert "truncated" in line
    assert not (tmp_path / "run2").exists()


def test_bad_input_some_corrupt_files_are_reported_and_skipped(tmp_path, library):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for wav in sorted(library.glob("*.wav"))[:3]:
        (mixed / wav.name).write_bytes(wav.read_bytes())
        (mixed / wav.name).with_suffix(".txt").write_bytes(wav.with_suffix(".txt").read_bytes())
    good = sorted(library.glob("*.wav"))[0].read_bytes()
    (mixed / "cut.wav").write_bytes(good[: len(good) // 3])
    (mixed / "notes.wav").write_text("this is a text file renamed to .wav\n" * 20)
    run = tmp_path / "run"
    result = run_cli("--data", mixed, "--out", run, "--preset", "tiny", "--steps", 2, "--batch-size", 2)
    assert result.exit_code == 0, result.output
    assert "2 skipped" in result.stderr and "data_report.json" in result.stderr
    report = json.loads((run / "data_report.json").read_text())
    assert report["accepted"] == 3
    assert {s["path"]: s["kind"] for s in report["skipped"]} == {"cut.wav": "truncated", "notes.wav": "corrupt"}
    assert torch.load(run / CHECKPOINT_NAME, weights_only=True)["step"] == 2

    # re-using an --out that holds a run, without --resume
    again = run_cli("--data", mixed, "--out", run, "--preset", "tiny", "--steps", 4, "--batch-size", 2)
    assert_one_line_error(again, 2, "already holds a run", "--resume")
    assert torch.load(run / CHECKPOINT_NAME, weights_only=True)["step"] == 2  # untouched

    # --init-from a model folder of another config: the differing fields are named
    from audiogan_core.checkpoint import save_model
    from audiogan_core.generator import Generator

    other = preset("tiny").replace(channels=24, noise_dim=32)
    save_model(tmp_path / "other_model", Generator(other), other)
    result = run_cli("--data", mixed, "--out", tmp_path / "run3", "--preset", "tiny", "--steps", 2,
                     "--init-from", tmp_path / "other_model")
    assert_one_line_error(result, 2, "model config differs", "channels", "noise_dim")
    assert not (tmp_path / "run3").exists()  # fails before the data scan writes anything

    # --init-from a generator.pt of another shape: ConfigMismatchError naming the tensors
    torch.save(Generator(other).state_dict(), tmp_path / "generator.pt")
    result = run_cli("--data", mixed, "--out", tmp_path / "run4", "--preset", "tiny", "--steps", 2,
                     "--init-from", tmp_path / "generator.pt")
    assert_one_line_error(result, 3, "does not fit", "with another shape", "lin_code.weight_orig")


def test_bad_input_resume_without_a_run(tmp_path, library):
    result = run_cli("--data", library, "--out", tmp_path / "nothing", "--resume")
    assert_one_line_error(result, 2, "--resume", "no checkpoint", str(tmp_path / "nothing"))


def test_python_m_audiogan_training_usage_error_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "audiogan_training", "--data", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "Missing option '--out'" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "audiogan_training", "--data", str(tmp_path), "--out",
                           str(tmp_path / "run"), "--preset", "tiny", "--device", "cpu"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "no audio files found" in proc.stderr


@pytest.mark.parametrize("kind", ["run", "vocoder run", "scorer run"])
def test_every_trainer_refuses_the_same_run_folder_mistakes(tmp_path, kind):
    from audiogan_core.errors import InputError
    from audiogan_training.run_folder import check_run_folder

    check_run_folder(tmp_path / "new", resume=False, kind=kind)  # a new folder is fine
    a_file = tmp_path / "file"
    a_file.write_text("not a run")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_run_folder(a_file, resume=False, kind=kind)
    with pytest.raises(InputError, match="--resume: no checkpoint.pt"):
        check_run_folder(tmp_path / "new", resume=True, kind=kind)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / CHECKPOINT_NAME).write_bytes(b"")
    with pytest.raises(InputError, match=f"already holds a {kind}; pass --resume"):
        check_run_folder(tmp_path / "old", resume=False, kind=kind)
    check_run_folder(tmp_path / "old", resume=True, kind=kind)


@pytest.mark.parametrize("command", ["train", "train-vocoder", "train-scorer", "fit-level"])
@pytest.mark.parametrize("content, needle", [(b'{"steps": 3', "is not valid JSON"),
                                             (b"[1, 2]", "must hold a JSON object"),
                                             (b"\xff\xfe{}", "is not valid JSON")])
def test_every_config_flag_refuses_a_file_that_is_not_a_json_object(tmp_path, command, content, needle):
    from audiogan_core.cli import main

    config = tmp_path / "recipe.json"
    config.write_bytes(content)
    (tmp_path / "data").mkdir()
    args = [command, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--config", str(config)]
    result = CliRunner().invoke(main, args)
    assert_one_line_error(result, 2, needle, str(config))
    assert not (tmp_path / "out").exists()


def test_json_object_reader_names_a_missing_file_and_a_folder(tmp_path):
    from audiogan_core.errors import ConfigError, MissingResourceError
    from audiogan_core.io import read_json_object

    with pytest.raises(MissingResourceError, match=r"weights config .*nope.json is missing \(beside them\)"):
        read_json_object(tmp_path / "nope.json", "weights config", missing_error=MissingResourceError,
                         missing_hint=" (beside them)")
    with pytest.raises(ConfigError, match="is a folder, not a JSON file"):
        read_json_object(tmp_path, "training config")
    (tmp_path / "ok.json").write_text('{"steps": 3}')
    assert read_json_object(tmp_path / "ok.json", "training config") == {"steps": 3}


@pytest.mark.parametrize("command", ["train", "train-vocoder", "train-scorer"])
def test_no_trainer_leaves_a_run_folder_behind_when_the_data_is_unusable(tmp_path, command):
    from audiogan_core.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("no sounds here")
    for data in (empty, tmp_path / "missing"):
        result = CliRunner().invoke(main, [command, "--data", str(data), "--out", str(tmp_path / "run")])
        assert_one_line_error(result, 2, str(data))
        assert not (tmp_path / "run").exists(), (command, data)
