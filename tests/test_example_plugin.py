"""The example third-party plugin (plugins/examples/audiogan-example-vocoder), pip-installed for real.

It is installed with `pip install --target` into a temporary folder put on sys.path rather than
into the shared virtual environment: entry-point discovery works exactly the same way (it scans
sys.path for *.dist-info), nothing leaks into other test runs, and teardown is deleting a folder.
"""
import importlib
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import MelConfigMismatchError, PluginError
from audiogan_plugins import get_vocoder, registered, reset_plugin_manager

EXAMPLE = Path(__file__).resolve().parents[1] / "plugins" / "examples" / "audiogan-example-vocoder"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("example-plugin")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert any(p.name.startswith("audiogan_example_vocoder") and p.suffix == ".dist-info" for p in target.iterdir())
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    reset_plugin_manager()
    yield target
    sys.path.remove(str(target))
    sys.modules.pop("audiogan_example_vocoder", None)
    importlib.invalidate_caches()
    reset_plugin_manager()


def test_not_there_before_install():
    reset_plugin_manager()
    if "sine-bank" in registered("vocoders"):
        pytest.skip("audiogan-example-vocoder is installed in this environment")
    with pytest.raises(PluginError, match="sine-bank"):
        get_vocoder("sine-bank")


def test_example_plugin_registers_sine_bank(installed):
    reg = registered("vocoders")
    assert "sine-bank" in reg and reg["sine-bank"].plugin == "example_vocoder"
    assert {"hifigan", "griffinlim"} <= set(reg)  # built-ins still there
    cfg = MelConfig(16000, 512, 512, 128, 32, 0.0, 8000.0)
    voc = get_vocoder("sine-bank", mel_config=cfg.to_dict())
    assert voc.mel_config == cfg and type(voc).__module__ == "audiogan_example_vocoder"
    assert str(installed) in sys.modules["audiogan_example_vocoder"].__file__
    # A 1 kHz tone in, something near 1 kHz out.
    from audiogan_core.mel import log_mel

    t = torch.arange(cfg.hop_length * 40) / cfg.sample_rate
    lm = log_mel(0.5 * torch.sin(2 * math.pi * 1000.0 * t), cfg)
    out = voc(lm)
    assert out.shape == (1, 40 * cfg.hop_length) and out.abs().max() <= 1.0
    spectrum = torch.fft.rfft(out[0]).abs()
    peak_hz = spectrum.argmax().item() * cfg.sample_rate / out.shape[-1]
    assert abs(peak_hz - 1000.0) < 150.0
    assert 0.1 < out.abs().max() <= 1.0
    with pytest.raises(MelConfigMismatchError):
        voc(torch.zeros(1, 64, 3))
