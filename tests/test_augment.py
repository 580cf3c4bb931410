"""Differentiable augmentation of D's inputs (training/augment.py)."""
import math

import pytest
import torch

from audiogan_core.mel import SILENCE_LOG_MEL
from audiogan_training.augment import OPS, augment


def mel(batch=6, f=16, t=64, seed=0):
    return torch.randn(batch, 1, f, t, generator=torch.Generator().manual_seed(seed)) - 5.0


def gen(seed=1):
    return torch.Generator().manual_seed(seed)


def test_probability_zero_or_no_ops_is_identity():
    x = mel()
    assert augment(x, OPS, 0.0, gen()) is x
    assert augment(x, (), 1.0, gen()) is x


def test_same_generator_same_result_and_every_op_changes_the_input():
    x = mel()
    for op in OPS:
        a, b = augment(x, (op,), 1.0, gen()), augment(x, (op,), 1.0, gen())
        assert torch.equal(a, b), op
        assert a.shape == x.shape and not torch.equal(a, x), op


def test_gain_is_a_level_change_within_six_db_above_the_floor():
    x = mel()
    y = augment(x, ("gain",), 1.0, gen())
    delta = (y - x).flatten(1)
    assert torch.allclose(delta.max(1).values, delta.min(1).values, atol=1e-5)  # one offset per clip
    assert delta.abs().max() <= 6 * math.log(10) / 20 + 1e-6
    quiet = torch.full((4, 1, 8, 32), SILENCE_LOG_MEL)
    assert augment(quiet, ("gain",), 1.0, gen()).min() >= SILENCE_LOG_MEL


def test_masks_and_shift_fill_with_silence_and_stay_small():
    x = mel(t=64)
    for op, axis_len in (("timemask", 64), ("freqmask", 16)):
        y = augment(x, (op,), 1.0, gen())
        changed = y != x
        assert torch.all(y[changed] == SILENCE_LOG_MEL), op
        per_clip = changed.flatten(1).sum(1)
        other = 16 if op == "timemask" else 64
        assert torch.all(per_clip <= (axis_len // 8 + 1) * other), op
    y = augment(x, ("shift",), 1.0, gen())
    for i in range(x.shape[0]):  # each clip is the original moved by at most 8 frames
        assert any(torch.equal(y[i, ..., max(0, k):64 + min(0, k)], x[i, ..., max(0, -k):64 - max(0, k)])
                   for k in range(-8, 9)), i


def test_applied_per_clip_with_probability_p():
    x = mel(batch=400, f=4, t=32)
    y = augment(x, ("gain",), 0.3, gen())
    rate = (y != x).flatten(1).any(1).float().mean().item()
    assert 0.22 < rate < 0.38


def test_gradients_flow_through_every_op():
    x = mel().requires_grad_(True)
    augment(x, OPS, 1.0, gen()).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unknown_op_is_refused():
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment(mel(), ("reverse",), 1.0, gen())


def test_train_config_validates_augmentation_and_crops():
    from audiogan_core.config import preset
    from audiogan_core.errors import ConfigError
    from audiogan_training.config import TrainConfig

    with pytest.raises(ConfigError, match="augment"):
        TrainConfig(model=preset("tiny"), augment=("gain", "flip"))
    with pytest.raises(ConfigError, match="augment_p"):
        TrainConfig(model=preset("tiny"), augment_p=1.5)
    with pytest.raises(ConfigError, match="any-length"):
        TrainConfig(model=preset("tiny"), crop_frames=(64,))
    seq = preset("tiny").replace(noise_input="sequence")
    with pytest.raises(ConfigError, match="multiples of 32"):
        TrainConfig(model=seq, crop_frames=(48,))
    cfg = TrainConfig.from_dict(TrainConfig(model=seq, crop_frames=(32, 96), augment=("shift",)).to_dict())
    assert cfg.crop_frames == (32, 96) and cfg.augment == ("shift",)
