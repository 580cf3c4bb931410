"""The speed benchmark: its tiny CI mode end to end, the AudioLDM-S configuration, the table."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run import format_table
from benchmarks.timing import summarise

ROOT = Path(__file__).resolve().parent.parent


def test_summarise_median_and_iqr():
    s = summarise([4.0, 1.0, 3.0, 2.0, 5.0])
    assert s["median_s"] == 3.0 and s["q1_s"] == 2.0 and s["q3_s"] == 4.0 and s["iqr_s"] == 2.0 and s["n"] == 5
    assert summarise([0.5])["iqr_s"] == 0.0


def _stage(x):
    return {"median_s": x, "iqr_s": x / 10}


def test_format_table_lists_configs_and_peer():
    report = {"threads": 2, "device": "cpu", "batches": [1, 8], "load_average": [1.0, 1.0, 1.0],
              "machine": {"cpu": "test cpu", "cpu_count": 2, "torch": "2.x"},
              "audiogan": [{"config": "paper-hifigan", "clip_seconds": 10.0, "rtf": 0.2,
                            "stages": {k: _stage(v) for k, v in
                                       {"text": 0.05, "generator": 1.0, "vocoder": 1.0, "total": 2.0}.items()},
                            "first_clip": {"total_s": 9.0, "peak_rss_mb": 900.0},
                            "params": {"generator": 7.2e6, "text_encoder": 125e6, "vocoder": 14e6},
                            "throughput": {"1": {"clips_per_s": 0.5}, "8": {"clips_per_s": 0.7}},
                            "cuda_max_memory_gib": None},
                           {"config": "small-griffinlim", "error": "worker exited 1: boom"}],
              "peer": {"peer": "AudioLDM-S", "ours": "paper-hifigan", "guidance_scale": 2.5, "clip_seconds": 10.0,
                       "text_tokens": 512, "peak_rss_mb": 3000.0, "ours_seconds": 10.0,
                       "params": {"unet": 185e6, "vae": 55e6, "vocoder": 55e6, "text_encoder": 125e6},
                       "ours_total": {"median_s": 2.0},
                       "steps": {"10": {"text": _stage(0.2), "unet_step": _stage(1.5), "denoise": _stage(15.0),
                                        "vae": _stage(2.0), "vocoder": _stage(3.0), "total": _stage(20.2),
                                        "speedup_of_ours": 10.1}}}}
    table = format_table(report)
    assert "paper-hifigan" in table and "2000 ±200" in table and "0.50" in table
    assert "error: worker exited 1: boom" in table
    assert "10.1x" in table and "UNet 185.0M" in table


@pytest.mark.slow
def test_audioldm_s_configuration_matches_published_sizes():
    pytest.importorskip("diffusers")
    import torch

    from benchmarks.audioldm_peer import load_config

    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(load_config("unet"))
        vae = AutoencoderKL.from_config(load_config("vae"))
        vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**load_config("vocoder")))
    count = lambda m: sum(p.numel() for p in m.parameters()) / 1e6  # noqa: E731
    assert round(count(unet)) == 185 and round(count(vocoder)) == 55 and round(count(vae)) == 55


@pytest.mark.slow
def test_tiny_benchmark_runs_end_to_end(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--tiny", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    (entry,) = report["audiogan"]
    assert entry["config"] == "tiny-griffinlim"
    assert set(entry["stages"]) == {"text", "generator", "vocoder", "total", "rerank_8"}
    assert set(entry["throughput"]) == {"1", "2"} and entry["first_clip"]["total_s"] > 0
    assert entry["peak_rss_mb"] > 0 and entry["params"]["generator"] > 0
    assert "tiny-griffinlim" in proc.stdout and "RTF" in proc.stdout
    peer = report["peer"]
    try:
        import diffusers  # noqa: F401
        assert peer["steps"]["1"]["total"]["median_s"] > 0 and peer["steps"]["1"]["speedup_of_ours"] > 0
    except ImportError:
        assert "diffusers is not installed" in peer


def test_a_benchmark_entry_can_time_a_model_folder_as_shipped(tmp_path):
    """A spec with "model" times that folder (its own config: here an output median the preset lacks),
    not a random model of its preset, and no random one is prepared for it."""
    from audiogan_core import AudioGAN, preset
    from benchmarks.run import AudioGANBench, prepare

    cfg = preset("tiny").replace(name="tiny-blocks", noise_input="blocks", noise_block=2, position_channels=2,
                                 d_pooling="mean", d_pool_scale=2.0, output_median=3)
    model = AudioGAN.from_config(cfg, seed=0, text_encoder="hash", vocoder="griffinlim",
                                 text_encoder_options={"word_dim": cfg.word_dim, "sentence_dim": cfg.sentence_dim})
    model.save(tmp_path / "shipped")
    spec = {"preset": "tiny", "model": str(tmp_path / "shipped"), "vocoder": "griffinlim", "text": "hash"}
    prepare(tmp_path / "work", ["mine"], {"mine": spec})
    assert not (tmp_path / "work" / "models").exists()
    bench = AudioGANBench("mine", spec, tmp_path / "work", "cpu")
    assert bench.model.config.output_median == 3
    mel = bench.generate_mel(bench.encode(["a door"]))
    assert mel.shape == (1, cfg.n_mels, bench.frames)
