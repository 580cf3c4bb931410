"""scripts/diagnose_long.py on an untrained tiny "blocks" model: the clock patch puts a block
generated alone at its true place, and the per-caption report has every variant (the wiring, not
quality)."""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import diagnose_long as dl  # noqa: E402
from audiogan_core import AudioGAN  # noqa: E402
from audiogan_core.generator import clock, position_channels  # noqa: E402
from test_any_length import blocks_tiny  # noqa: E402


def test_a_block_alone_sees_the_clock_of_its_place_in_the_long_clip():
    cfg = blocks_tiny()
    step = cfg.mel.seconds_for(cfg.frames_per_base_frame)
    whole = position_channels(cfg, 8)  # [P, 8]
    with dl.clock(offset_seconds=4 * step):
        assert torch.allclose(position_channels(cfg, 2), whole[:, 4:6])
    with dl.clock(hold_seconds=2 * step):
        held = position_channels(cfg, 8)
    assert torch.allclose(held[:, :3], whole[:, :3]) and torch.allclose(held[:, 3:], whole[:, 2:3].expand(-1, 5))
    assert torch.equal(position_channels(cfg, 8), whole)  # the patch is undone
    assert torch.equal(clock(cfg, torch.zeros(1)), -torch.ones(cfg.position_channels, 1))


def test_diagnose_caption_reports_every_variant():
    model = AudioGAN.from_config(blocks_tiny(), seed=0)
    cfg = model.config
    seconds = cfg.mel.seconds_for(3 * cfg.noise_block * cfg.frames_per_base_frame)  # three whole blocks
    out = dl.diagnose_caption(model, "a door slams", seed=1, hold_seconds=0.5, seconds=seconds)
    assert len(out["inside_db"]) == len(out["alone_db"]) == 3
    assert all(np.isfinite(v) for v in out["inside_db"] + out["alone_db"])
    assert {"onsets", "onsets_noise_0", "onsets_noise_0.5", "onsets_clock_held_0.5s"} <= set(out)
    # the first block alone is the same noise and clock as the clip's start; only the context differs
    assert abs(out["alone_db"][0] - out["inside_db"][0]) < 20
    summary = dl.summarise([{"category": "door", **out}, {"category": "door", **out}])
    assert summary["door"]["clips"] == 2 and summary["door"]["onsets"] == out["onsets"]
