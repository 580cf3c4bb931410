"""Any-length generation (noise_input "sequence" or "blocks"), seamless loops, and a discriminator that takes
any multiple of the base grid."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from audiogan_core.config import ModelConfig, preset
from audiogan_core.discriminator import Discriminator
from audiogan_core.errors import ConfigError, InputError
from audiogan_core.generator import Generator, position_channels


def any_length_tiny(**changes) -> ModelConfig:
    settings = dict(name="tiny-any", noise_input="sequence", position_channels=2, d_pooling="mean")
    return preset("tiny").replace(**{**settings, **changes})


def text(config, batch=2, n_words=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, config.sentence_dim, generator=g),
            torch.randn(batch, n_words, config.word_dim, generator=g), torch.tensor([n_words] * batch))


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    cfg = any_length_tiny()
    G = Generator(cfg)
    with torch.no_grad():  # give the gates of the attention stages some weight, as training would
        for name, p in G.named_parameters():
            if name.endswith("gamma") or name.endswith("head_gates"):
                p.fill_(0.5)
    return G.eval()


@pytest.mark.parametrize("t0", [1, 3, 8, 20])
def test_one_set_of_weights_makes_any_length(generator, t0):
    cfg = generator.config
    z = torch.randn(2, cfg.noise_dim, t0)
    with torch.no_grad():
        out = generator(z, *text(cfg))
    assert out.shape == (2, 1, cfg.n_mels, t0 * 32)
    assert torch.isfinite(out).all()


def test_loop_is_circular(generator):
    """In loop mode the generator commutes with a circular shift of its noise: shifting the noise
    by k base frames shifts the mel by 32k frames, so no frame (the seam included) is special."""
    cfg = generator.config
    z = torch.randn(2, cfg.noise_dim, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = generator(z, *text(cfg), loop=True)
        shifted = generator(torch.roll(z, 2, dims=-1), *text(cfg), loop=True)
        plain = generator(z, *text(cfg))
        plain_shifted = generator(torch.roll(z, 2, dims=-1), *text(cfg))
    assert torch.allclose(torch.roll(out, 64, dims=-1), shifted, atol=1e-4)
    # without the loop switch, the clip has a start (position clock, zero padding): no such symmetry
    assert not torch.allclose(torch.roll(plain, 64, dims=-1), plain_shifted, atol=1e-3)
    for m in generator.modules():  # the switch is undone after the call
        assert not getattr(m, "wrap_time", False)


def test_position_clock():
    cfg = any_length_tiny(position_channels=3)
    pos = position_channels(cfg, 40)
    assert pos.shape == (3, 40)
    assert torch.all(pos[:, 0] == -1.0)  # every channel starts at -1 ...
    assert torch.all(pos[:, 1:] >= pos[:, :-1]) and torch.all(pos[2, 1:] > pos[2, :-1])  # ... rises ...
    assert pos[0, -1] > 0.99 and pos[2, -1] < pos[0, -1]  # ... and the fast one saturates first
    assert torch.all(position_channels(cfg, 7, loop=True) == 1.0)


def test_fixed_length_models_refuse_loops_and_sequences():
    cfg = preset("tiny")
    G = Generator(cfg).eval()
    with pytest.raises(InputError, match="loops need"):
        G(torch.randn(1, cfg.noise_dim), *text(cfg, 1), loop=True)
    with pytest.raises(InputError, match="noise z must have shape"):
        G(torch.randn(1, cfg.noise_dim, 3), *text(cfg, 1))
    with pytest.raises(InputError, match="base frames"):
        Generator(any_length_tiny())(torch.randn(1, cfg.noise_dim), *text(cfg, 1))


def test_config_checks():
    with pytest.raises(ConfigError, match="noise_input"):
        preset("tiny").replace(noise_input="grid")
    with pytest.raises(ConfigError, match="needs noise_input"):
        preset("tiny").replace(position_channels=2)
    with pytest.raises(ConfigError, match="d_pooling"):
        preset("tiny").replace(d_pooling="max")
    cfg = ModelConfig.from_dict(any_length_tiny().to_dict())
    assert cfg.any_length and cfg.position_channels == 2 and cfg.base_frames_for(33) == 2


def test_discriminator_takes_any_multiple_of_the_grid():
    torch.manual_seed(0)
    cfg = any_length_tiny()
    D = Discriminator(cfg).eval()
    s, w, n = text(cfg)
    with torch.no_grad():
        for frames in (32, 64, 160):
            out = D(torch.randn(2, 1, cfg.n_mels, frames), s, w, n)
            assert out.logit.shape == (2,) and out.local_features.shape[-1] == frames // 32
        # mean pooling: a clip repeated end to end has (nearly) the same global feature
        x = torch.randn(2, 1, cfg.n_mels, 64)
        g1 = D(x, s, w, n).global_feature
        g2 = D(torch.cat([x, x, x], dim=-1), s, w, n).global_feature
    assert (g1 - g2).norm() < 0.35 * g1.norm()
    with pytest.raises(InputError, match="multiple of 32"):
        D(torch.randn(2, 1, cfg.n_mels, 40), s, w, n)
    fixed = Discriminator(preset("tiny"))
    with pytest.raises(InputError, match="64"):
        fixed(torch.randn(2, 1, 16, 128), s, w, n)


def test_foley2_preset_shape():
    cfg = preset("foley2")
    assert cfg.any_length and cfg.frames == 864 and abs(cfg.clip_seconds - 10.03) < 0.01
    # foley's grid is the noise block, and D's pooled scale is foley's sum over its 5 x 8 grid
    foley = preset("foley")
    assert cfg.noise_block == foley.base_frames and cfg.d_pool_scale == foley.base_freq * foley.base_frames
    G = Generator(cfg).eval()
    z = torch.randn(1, cfg.noise_dim, 2)
    with torch.no_grad():
        assert G(z, *text(cfg, 1)).shape == (1, 1, 80, 64)


# The public API -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def any_length_model():
    from audiogan_core import AudioGAN

    cfg = any_length_tiny()
    model = AudioGAN.from_config(cfg, seed=0)
    with torch.no_grad():
        for name, p in model.generator.named_parameters():
            if name.endswith("gamma") or name.endswith("head_gates"):
                p.fill_(0.5)
    return model


def test_any_length_model_lengths_and_limits(any_length_model):
    m = any_length_model
    assert m.max_seconds == 60.0 and m.default_seconds == 10.0
    for seconds in (0.1, 2.0, 12.5):
        clip = m.generate("rain", seed=1, seconds=seconds, normalize=None)[0]
        assert clip.audio.size == round(seconds * m.sample_rate)
    assert m.generate("rain", seed=1, normalize=None)[0].seconds == pytest.approx(10.0, abs=1e-3)
    for bad in (0, -1, float("nan"), 60.5, 0.05):
        with pytest.raises(InputError, match="seconds"):
            m.generate("rain", seed=1, seconds=bad)


def test_a_longer_clip_starts_from_the_same_noise(any_length_model):
    m = any_length_model
    short, long = m.noise(3, 4), m.noise(3, 9)
    assert short.shape == (m.config.noise_dim, 4) and long.shape == (m.config.noise_dim, 9)
    assert torch.equal(long[:, :4], short)


def test_loop_wraps_around_in_the_waveform(any_length_model):
    """The loop played twice end to end has no step at the join larger than its inner steps,
    and its mel is a whole number of the generator's grid."""
    m = any_length_model
    clip = m.generate("wind", seed=2, seconds=1.0, loop=True, normalize=None)[0]
    frames = clip.audio.size // m.config.mel.hop_length
    assert clip.audio.size % m.config.mel.hop_length == 0 and frames % 32 == 0
    assert clip.recipe.loop and "--loop" in clip.recipe.command()
    twice = np.concatenate([clip.audio, clip.audio])
    steps = np.abs(np.diff(twice))
    seam = steps[clip.audio.size - 1]
    assert seam <= np.percentile(steps, 99.5)
    plain = m.generate("wind", seed=2, seconds=clip.seconds, normalize=None)[0].audio
    assert plain.size == clip.audio.size and not np.allclose(plain, clip.audio)  # a loop is not the plain clip


def test_loops_need_an_any_length_model_and_exclude_trim(any_length_model):
    from audiogan_core import AudioGAN

    fixed = AudioGAN.from_config(preset("tiny"), seed=0)
    with pytest.raises(InputError, match="loops need"):
        fixed.generate("rain", seed=1, loop=True)
    with pytest.raises(InputError, match="trim and loop"):
        any_length_model.generate("rain", seed=1, loop=True, trim=True)


def test_a_grid_noise_projection_becomes_a_sequence_one():
    """The fixed-length model's noise projection, carried into an any-length model: each base
    frame's z goes through sum_t W_t / sqrt(T0) of the grid's effective (spectrally normalised)
    per-position weights, top singular value set to 1 (what spectral norm will divide by), the
    bias is the grid's mean, and the position inputs start at 0."""
    from audiogan_core.generator import sequence_projection_from_grid

    grid_cfg = preset("tiny").replace(base_frames=4)
    seq_cfg = grid_cfg.replace(noise_input="sequence", position_channels=2, d_pooling="mean")
    torch.manual_seed(0)
    grid, seq = Generator(grid_cfg), Generator(seq_cfg)
    with torch.no_grad():
        grid.lin_code.bias.normal_()
        for _ in range(100):  # power iterations, as training does: weight_u converges to the top singular vector
            grid.lin_code.train().normalized_weight()
    old = grid.lin_code.state_dict()
    seq.lin_code.load_state_dict(sequence_projection_from_grid(grid_cfg, seq_cfg, old["weight_orig"], old["bias"]))
    rows, t0 = grid_cfg.channels * grid_cfg.base_freq, grid_cfg.base_frames
    with torch.no_grad():
        w_grid = grid.lin_code.eval().normalized_weight().view(rows, t0, -1)  # [c*F0, T0, noise]
        w_seq = seq.lin_code.eval().normalized_weight()[:, :, 0]  # [c*F0, noise + P]
    assert torch.equal(w_seq[:, grid_cfg.noise_dim:], torch.zeros(rows, 2))
    want = torch.linalg.svdvals(w_grid.sum(1) / t0 ** 0.5)
    got = torch.linalg.svdvals(w_seq[:, : grid_cfg.noise_dim])
    assert got[0] == pytest.approx(1.0, abs=1e-4) and want[0] != pytest.approx(1.0, abs=1e-2)  # only the top moves
    assert torch.allclose(got[1:], want[1:], atol=1e-5)
    assert torch.allclose(seq.lin_code.bias.detach(), old["bias"].view(rows, t0).mean(1))
    with pytest.raises(ValueError, match="channels"):
        sequence_projection_from_grid(grid_cfg, seq_cfg.replace(channels=32), old["weight_orig"], old["bias"])


def blocks_tiny(**changes) -> ModelConfig:
    """tiny's fixed grid (2 base frames) as the noise block of an any-length model; D's mean pooling
    times tiny's last grid (1 x 2), which is its sum at the fixed length."""
    settings = dict(name="tiny-blocks", noise_input="blocks", noise_block=2, position_channels=2,
                    d_pooling="mean", d_pool_scale=2.0)
    return preset("tiny").replace(**{**settings, **changes})


def test_a_blocks_model_makes_the_fixed_length_models_clips_from_its_weights():
    """--init-from a fixed-length model into a "blocks" one keeps every weight (the position
    projection starts at zero): at the old length G makes the same mel from the same noise vector and
    D gives the same outputs, so the fine-tune starts where the fixed-length model is."""
    from audiogan_training.init_from import carry_into_any_length

    torch.manual_seed(0)
    fixed_cfg, blocks_cfg = preset("tiny"), blocks_tiny()
    G_old, D_old = Generator(fixed_cfg), Discriminator(fixed_cfg)
    with torch.no_grad():
        for p in list(G_old.parameters()) + list(D_old.parameters()):
            p.add_(0.1 * torch.randn_like(p))  # not the layers' own initial values
    G, D = Generator(blocks_cfg), Discriminator(blocks_cfg)
    fresh = carry_into_any_length(G, D, fixed_cfg, G_old.state_dict(), D_old.state_dict())
    assert fresh == ["pos_code"] and torch.equal(G.pos_code.weight, torch.zeros_like(G.pos_code.weight))
    G_old.eval(), G.eval(), D_old.eval(), D.eval()
    z = torch.randn(2, fixed_cfg.noise_dim)
    seq = torch.randn(2, fixed_cfg.noise_dim, 2)
    seq[:, :, 0] = z  # the vector at the block's first base frame is the block's noise
    with torch.no_grad():
        assert torch.equal(G(seq, *text(fixed_cfg)), G_old(z, *text(fixed_cfg)))
        mel = torch.randn(2, 1, fixed_cfg.n_mels, fixed_cfg.frames)
        old_out, new_out = D_old(mel, *text(fixed_cfg)), D(mel, *text(fixed_cfg))
    assert torch.allclose(new_out.logit, old_out.logit, atol=1e-5)
    assert torch.allclose(new_out.global_feature, old_out.global_feature, atol=1e-5)
    # the position clock reaches the grid once its projection has learnt something
    with torch.no_grad():
        G.pos_code.weight.fill_(0.5)
        assert not torch.allclose(G(seq, *text(fixed_cfg)), G_old(z, *text(fixed_cfg)), atol=1e-3)


@pytest.mark.parametrize("t0", [1, 2, 3, 7])
def test_a_blocks_model_makes_any_length_and_new_blocks_get_new_noise(t0):
    torch.manual_seed(0)
    G = Generator(blocks_tiny()).eval()
    cfg = G.config
    z = torch.randn(1, cfg.noise_dim, t0)
    with torch.no_grad():
        out = G(z, *text(cfg, batch=1))
        z2 = z.clone()
        z2[:, :, 1::2] = torch.randn_like(z2[:, :, 1::2])  # the frames inside a block: not used
        same = G(z2, *text(cfg, batch=1))
    assert out.shape == (1, 1, cfg.n_mels, t0 * 32) and torch.isfinite(out).all()
    assert torch.equal(out, same)
    if t0 > 2:
        z3 = z.clone()
        z3[:, :, 2] = torch.randn(cfg.noise_dim)  # the second block's vector
        with torch.no_grad():
            other = G(z3, *text(cfg, batch=1))
        assert not torch.allclose(other[..., 64:], out[..., 64:], atol=1e-4)


def test_a_blocks_loop_is_circular():
    """A loop of three whole blocks commutes with a shift by one block: no block is the start."""
    torch.manual_seed(0)
    G = Generator(blocks_tiny()).eval()
    cfg = G.config
    z = torch.randn(1, cfg.noise_dim, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = G(z, *text(cfg, batch=1), loop=True)
        shifted = G(torch.roll(z, 2, dims=-1), *text(cfg, batch=1), loop=True)
    assert torch.allclose(torch.roll(out, 64, dims=-1), shifted, atol=1e-4)


def test_blocks_and_pool_scale_settings_are_checked():
    with pytest.raises(ConfigError, match="noise_block"):
        blocks_tiny(noise_block=0)
    with pytest.raises(ConfigError, match="noise_block"):
        any_length_tiny(noise_block=4)
    with pytest.raises(ConfigError, match="noise_block"):
        blocks_tiny(noise_block=True)
    with pytest.raises(ConfigError, match="d_pool_scale"):
        preset("tiny").replace(d_pool_scale=4.0)  # sum pooling has nothing to scale
    for bad in (0.0, -1.0, float("nan"), "40"):
        with pytest.raises(ConfigError, match="d_pool_scale"):
            blocks_tiny(d_pool_scale=bad)
    cfg = blocks_tiny()
    assert cfg.any_length and ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_a_blocks_model_takes_no_carried_sequence_projection():
    from audiogan_training.config import TrainConfig

    assert TrainConfig(model=blocks_tiny(), crop_frames=[32, 64]).model.noise_block == 2
    with pytest.raises(ConfigError, match="init_noise_projection"):
        TrainConfig(model=blocks_tiny(), init_noise_projection=True)


def test_a_blocks_loop_file_starts_half_a_block_in():
    """The file wraps inside a block, not at a join: it is the circle the generator makes, rolled
    by half a block (a sequence model's loop file starts where its circle does)."""
    from audiogan_core import AudioGAN

    model = AudioGAN.from_config(blocks_tiny(), seed=0)
    cfg = model.config
    assert cfg.loop_start_frame == 32 and preset("foley2").loop_start_frame == 128
    assert any_length_tiny().loop_start_frame == 0 and preset("tiny").loop_start_frame == 0
    frames = 2 * cfg.loop_step_frames
    mels, _, _ = model.generate_mel("rain", seed=1, seconds=cfg.mel.seconds_for(frames), loop=True)
    f = model.text_encoder.encode(["rain"])
    with torch.no_grad():
        circle = model.generator(model.noise(1, cfg.base_frames_for(frames))[None], f.sentence, f.words,
                                 f.lengths, loop=True)[:, 0]  # [1, F, frames]
    assert mels.shape == circle.shape
    assert torch.allclose(mels, torch.roll(circle, -32, dims=-1), atol=1e-6)
    assert not torch.allclose(mels, circle, atol=1e-3)


def test_a_blocks_models_loops_are_whole_blocks():
    """The seam of a blocks model's loop joins the last block's end to the first block's start, as
    neighbouring blocks are joined in training: its length is a whole number of blocks (at least one)."""
    from audiogan_core import AudioGAN

    model = AudioGAN.from_config(blocks_tiny(), seed=0)
    step = model.config.loop_step_frames
    assert step == 64 and preset("foley2").loop_step_frames == 256 and any_length_tiny().loop_step_frames == 32
    seconds_per_step = model.config.mel.seconds_for(step)
    for asked, blocks in ((0.1, 1), (seconds_per_step * 2.4, 2), (seconds_per_step * 2.6, 3)):
        assert model.loop_frames(asked) == blocks * step
    clip = model.generate("rain", seed=1, seconds=seconds_per_step * 2.6, loop=True)[0]
    assert abs(clip.seconds - 3 * seconds_per_step) < 1e-6


def test_a_level_envelope_starts_as_the_identity_when_grown_onto_a_model():
    """--init-from a model without a level envelope into the same model with one: every tensor
    carries over, the envelope starts afresh, and G makes exactly the same mel (the fine-tune
    starts where the shipped model is)."""
    from audiogan_training.init_from import carry_into_any_length

    torch.manual_seed(0)
    old_cfg, new_cfg = blocks_tiny(), blocks_tiny(level_envelope=True)
    G_old, D_old = Generator(old_cfg), Discriminator(old_cfg)
    with torch.no_grad():
        for p in G_old.parameters():
            p.add_(0.1 * torch.randn_like(p))
    G, D = Generator(new_cfg), Discriminator(new_cfg)
    fresh = carry_into_any_length(G, D, old_cfg, G_old.state_dict(), D_old.state_dict())
    assert fresh == ["level"]
    G_old.eval(), G.eval()
    z = torch.randn(2, old_cfg.noise_dim, 5)
    with torch.no_grad():
        assert torch.equal(G_old(z, *text(old_cfg)), G(z, *text(new_cfg)))


def test_a_level_envelope_turns_frames_down_by_the_clock_and_a_loop_skips_it():
    """With an envelope whose gain falls as the clock rises, every bin of a frame is turned down by
    the same a_t nats (a gain: the frame's spectral shape is kept), never below the floor (the
    log-mel of silence); a loop has no start, so it skips the envelope and stays circular."""
    from audiogan_core.generator import frame_clock
    from audiogan_core.mel import SILENCE_LOG_MEL

    torch.manual_seed(0)
    cfg = blocks_tiny(level_envelope=True)
    G = Generator(cfg).eval()
    plain = Generator(blocks_tiny()).eval()
    plain.load_state_dict({k: v for k, v in G.state_dict().items() if not k.startswith("level.")})
    with torch.no_grad():  # a_t = -2 relu(clock_0 + 1): 0 at the start, -4 when saturated
        G.level.hidden.weight.zero_()
        G.level.hidden.bias.fill_(1.0)
        G.level.hidden.weight[0, cfg.sentence_dim] = 1.0  # hidden unit 0 = clock channel 0 + 1
        G.level.out.weight.zero_()
        G.level.out.weight[0, 0] = -2.0 / G.level.SCALE
        G.level.out.bias.fill_(0.0)
        G.level.hidden.bias[1:] = 0.0
    z = torch.randn(1, cfg.noise_dim, 6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out, base = G(z, *text(cfg, batch=1)), plain(z, *text(cfg, batch=1))
        t = out.shape[-1]
        a = G.level.course(text(cfg, batch=1)[0], frame_clock(cfg, t))[0]  # [T]
        assert a[0] == 0 and torch.all(a[1:] <= a[:-1]) and a[-1] < -3.5
        room = base > SILENCE_LOG_MEL - a  # bins loud enough to take the whole gain
        assert room.any() and torch.allclose((out - base)[room], a.expand_as(out)[room], atol=1e-5)
        assert torch.all(out <= base + 1e-6) and torch.all((out >= SILENCE_LOG_MEL - 1e-5) | (out == base))
        loop = G(z, *text(cfg, batch=1), loop=True)
        assert torch.equal(loop, plain(z, *text(cfg, batch=1), loop=True))  # a loop skips the envelope
        shifted = G(torch.roll(z, 2, dims=-1), *text(cfg, batch=1), loop=True)
    assert torch.allclose(torch.roll(loop, 64, dims=-1), shifted, atol=1e-4)


def test_a_level_envelope_learns_and_is_checked():
    cfg = blocks_tiny(level_envelope=True)
    G = Generator(cfg)
    z = torch.randn(2, cfg.noise_dim, 4)
    G(z, *text(cfg)).mean().backward()
    assert G.level.out.weight.grad is not None and G.level.out.weight.grad.abs().sum() > 0
    assert ModelConfig.from_dict(cfg.to_dict()).level_envelope is True
    with pytest.raises(ConfigError, match="position clock"):
        blocks_tiny(level_envelope=True, position_channels=0)
    with pytest.raises(ConfigError, match="true or false"):
        blocks_tiny(level_envelope="yes")


def test_a_ceiling_envelope_takes_down_only_frames_over_it():
    from audiogan_core.mel import SILENCE_LOG_MEL

    cfg = blocks_tiny(level_envelope=True, level_form="ceiling")
    G = Generator(cfg).eval()
    plain = Generator(blocks_tiny()).eval()
    plain.load_state_dict({k: v for k, v in G.state_dict().items() if not k.startswith("level.")})
    z = torch.randn(1, cfg.noise_dim, 6, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        base = plain(z, *text(cfg, batch=1))
        assert torch.equal(G(z, *text(cfg, batch=1)), base)  # a fresh ceiling is over every frame
        peak = (base - SILENCE_LOG_MEL).amax(dim=2)[0, 0]  # [T]
        ceiling = float(peak.median())  # half the frames over it, half under
        G.level.out.bias.fill_((ceiling - G.level.CEILING_START) / G.level.SCALE)
        out = G(z, *text(cfg, batch=1))
    over = peak > ceiling
    assert over.any() and (~over).any()
    assert torch.equal(out[..., ~over], base[..., ~over])  # frames under the ceiling are left as they are
    new_peak = (out - SILENCE_LOG_MEL).amax(dim=2)[0, 0]
    assert torch.allclose(new_peak[over], torch.full_like(new_peak[over], ceiling), atol=1e-4)
    # each frame over it is turned down as a whole (a gain): its shape above the floor is kept
    t = int(torch.nonzero(over)[0])
    loud = base[0, 0, :, t] - (peak[t] - ceiling) > SILENCE_LOG_MEL
    assert torch.allclose(out[0, 0, loud, t], base[0, 0, loud, t] - (peak[t] - ceiling), atol=1e-4)
    assert ModelConfig.from_dict(cfg.to_dict()).level_form == "ceiling"
    with pytest.raises(ConfigError, match="level_form"):
        blocks_tiny(level_envelope=True, level_form="limit")
    with pytest.raises(ConfigError, match="needs level_envelope"):
        blocks_tiny(level_form="ceiling")


def test_a_time_median_removes_flicker_and_keeps_steps():
    """A one-frame spike or dip goes, a step (an attack, a cut) and a held level stay where they
    are; a clip's ends are not wrapped onto each other unless it is a loop."""
    from audiogan_core.generator import median_along_time

    x = torch.zeros(1, 1, 2, 12)
    x[..., 4] = 5.0  # spike
    x[..., 8:] = 3.0  # step
    x[..., 10] = 0.0  # dip
    y = median_along_time(x, 3)
    expected = torch.zeros(1, 1, 2, 12)
    expected[..., 8:] = 3.0
    assert torch.equal(y, expected)
    assert torch.equal(median_along_time(x, 1), x)
    # a clip: its last frame (9.0) does not reach its first; a loop: it does, and the median commutes with a roll
    edge = torch.tensor([[0.0, 9.0, 0.0, 0.0, 9.0, 9.0]])
    assert median_along_time(edge, 3)[0, 0] == 0.0
    assert median_along_time(edge, 3, circular=True)[0, 0] == 9.0
    z = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(0))
    for width in (3, 5, 9, 15):  # 15: wider than the loop, which then wraps more than once
        assert torch.equal(median_along_time(torch.roll(z, 3, -1), width, circular=True),
                           torch.roll(median_along_time(z, width, circular=True), 3, -1))


def test_an_output_median_is_the_generators_last_step_and_is_checked():
    """output_median acts on the finished mel (after the level envelope), wraps in a loop (which
    stays circular), adds no weights, so a model without it loads into one with it, and a
    width must be 0 or odd."""
    from audiogan_core.generator import median_along_time

    torch.manual_seed(0)
    plain = Generator(blocks_tiny(level_envelope=True)).eval()
    smoothed = Generator(blocks_tiny(level_envelope=True, output_median=3)).eval()
    smoothed.load_state_dict(plain.state_dict())
    cfg = plain.config
    z = torch.randn(1, cfg.noise_dim, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = smoothed(z, *text(cfg, batch=1))
        assert torch.equal(out, median_along_time(plain(z, *text(cfg, batch=1)), 3))
        assert not torch.equal(out, plain(z, *text(cfg, batch=1)))
        loop = smoothed(z, *text(cfg, batch=1), loop=True)
        assert torch.equal(loop, median_along_time(plain(z, *text(cfg, batch=1), loop=True), 3, circular=True))
        shifted = smoothed(torch.roll(z, 2, dims=-1), *text(cfg, batch=1), loop=True)
    assert torch.allclose(torch.roll(loop, 64, dims=-1), shifted, atol=1e-4)
    assert ModelConfig.from_dict(smoothed.config.to_dict()).output_median == 3
    for bad in (2, -1, True, 3.0):
        with pytest.raises(ConfigError, match="output_median"):
            blocks_tiny(output_median=bad)


def test_a_level_median_keeps_each_frames_spectral_shape():
    """output_median_of "level": each frame's mean over the bins goes to the median level around it by one
    gain per frame (a frame's spectral shape is kept, nothing goes below silence), and a loop stays circular."""
    from audiogan_core.generator import median_along_time
    from audiogan_core.mel import SILENCE_LOG_MEL

    torch.manual_seed(0)
    plain = Generator(blocks_tiny()).eval()
    by_level = Generator(blocks_tiny(output_median=3, output_median_of="level")).eval()
    by_level.load_state_dict(plain.state_dict())
    cfg = plain.config
    z = torch.randn(1, cfg.noise_dim, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        before, after = plain(z, *text(cfg, batch=1)), by_level(z, *text(cfg, batch=1))
        loop = by_level(z, *text(cfg, batch=1), loop=True)
        shifted = by_level(torch.roll(z, 2, dims=-1), *text(cfg, batch=1), loop=True)
    gain = median_along_time(before.mean(2, keepdim=True), 3) - before.mean(2, keepdim=True)  # [1, 1, 1, T]
    above = before + gain > SILENCE_LOG_MEL  # cells the floor does not hold
    assert torch.allclose(after[above.expand_as(after)], (before + gain)[above])
    assert bool((after >= torch.minimum(before, torch.tensor(SILENCE_LOG_MEL)) - 1e-6).all())
    assert not torch.equal(after, before) and not torch.equal(after, median_along_time(before, 3))
    assert torch.allclose(torch.roll(loop, 64, dims=-1), shifted, atol=1e-4)
    with pytest.raises(ConfigError, match="output_median_of"):
        blocks_tiny(output_median=3, output_median_of="bins")


def test_a_partial_median_moves_each_frame_part_of_the_way():
    """output_median_strength s: the mel median gives mel + s (median - mel); the level median's gain is s
    times the full one; strength 1 is the full median exactly, and 0, negative or over 1 are refused."""
    from audiogan_core.generator import median_along_time

    torch.manual_seed(0)
    plain = Generator(blocks_tiny()).eval()
    cfg = plain.config
    z = torch.randn(1, cfg.noise_dim, 6, generator=torch.Generator().manual_seed(2))
    outs = {}
    for of in ("mel", "level"):
        for s in (1.0, 0.5):
            g = Generator(blocks_tiny(output_median=3, output_median_of=of, output_median_strength=s)).eval()
            g.load_state_dict(plain.state_dict())
            with torch.no_grad():
                outs[of, s] = g(z, *text(cfg, batch=1))
    with torch.no_grad():
        before = plain(z, *text(cfg, batch=1))
    assert torch.equal(outs["mel", 1.0], median_along_time(before, 3))
    assert torch.allclose(outs["mel", 0.5], before + 0.5 * (median_along_time(before, 3) - before), atol=1e-6)
    level = before.mean(2, keepdim=True)  # [1, 1, 1, T]
    half_gain = 0.5 * (median_along_time(level, 3) - level)
    loud = (before + half_gain > -10.0).expand_as(before)  # cells well above the silence floor
    assert torch.allclose(outs["level", 0.5][loud], (before + half_gain).expand_as(before)[loud], atol=1e-6)
    assert not torch.equal(outs["level", 0.5], outs["level", 1.0])
    for bad in (0, -0.5, 1.5, True, "half"):
        with pytest.raises(ConfigError, match="output_median_strength"):
            blocks_tiny(output_median=3, output_median_strength=bad)


def test_a_median_below_the_peak_leaves_the_loud_frames_as_they_are():
    """output_median_below_peak d: only frames whose level is more than d nats under the clip's loudest frame's are
    smoothed (a tail, the quiet between events); the others are exactly as without a median. Negative, NaN refused."""
    from audiogan_core.generator import median_along_time

    torch.manual_seed(0)
    plain = Generator(blocks_tiny()).eval()
    cfg = plain.config
    z = torch.randn(1, cfg.noise_dim, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        before = plain(z, *text(cfg, batch=1))
    level = before.mean(2, keepdim=True)  # [1, 1, 1, T]
    d = float((level.amax() - level.median()).item())  # about half the frames count as quiet
    for of in ("mel", "level"):
        g = Generator(blocks_tiny(output_median=3, output_median_of=of, output_median_below_peak=d)).eval()
        g.load_state_dict(plain.state_dict())
        full = Generator(blocks_tiny(output_median=3, output_median_of=of)).eval()
        full.load_state_dict(plain.state_dict())
        with torch.no_grad():
            after, everywhere = g(z, *text(cfg, batch=1)), full(z, *text(cfg, batch=1))
        quiet = (level < level.amax() - d).expand_as(before)
        assert 0 < int(quiet[0, 0, 0].sum()) < quiet.shape[-1]
        assert torch.equal(after[~quiet], before[~quiet])
        assert torch.equal(after[quiet], everywhere[quiet])
        assert not torch.equal(after, before)
    assert torch.equal(Generator(blocks_tiny(output_median=3, output_median_below_peak=d)).eval().median_output(
        before, False)[quiet], median_along_time(before, 3)[quiet])
    for bad in (-1.0, float("nan"), float("inf"), True, "4"):
        with pytest.raises(ConfigError, match="output_median_below_peak"):
            blocks_tiny(output_median=3, output_median_below_peak=bad)
