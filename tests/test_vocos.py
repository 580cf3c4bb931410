"""The `vocos` vocoder: the shipped weights, its heads, streaming, checkpoint checks and weight surgery.
(Its trainer: test_vocos_training.py.)"""
import json
import math

import pytest
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import CheckpointError, ConfigError, ConfigMismatchError, MelConfigMismatchError
from audiogan_plugins import get_vocoder, reset_plugin_manager
from audiogan_plugins.vocoders.vocos import (BUNDLED, VocosConfig, VocosModel, VocosVocoder, average_vocos, load_vocos,
                                             save_vocos)

from test_vocoders import resynthesis_errors

TINY = dict(dim=16, intermediate=32, layers=2)


def small_checkpoint(tmp_path, mel=None, name="v.safetensors", seed=0, **arch):
    torch.manual_seed(seed)
    cfg = VocosConfig(mel=mel or MelConfig.hifigan_universal(), **(arch or TINY))
    return save_vocos(tmp_path / name, VocosModel(cfg), half=False)


def test_bundled_vocos_resynthesises_a_mel():
    """The shipped weights turn a mel back into audio much closer to it than noise is: the same bar
    as the universal HiFi-GAN's test (a harmonic chirp; neither vocoder trained on one)."""
    assert BUNDLED.is_file() and BUNDLED.stat().st_size <= 10 * 2**20
    reset_plugin_manager()
    voc = get_vocoder("vocos", mel_config=MelConfig.hifigan_universal().to_dict()).load()
    (mae, sc), (noise_mae, noise_sc) = resynthesis_errors(voc, voc.mel_config)
    assert mae < 0.8 and mae < 0.35 * noise_mae, (mae, noise_mae)
    assert sc < 0.75 and sc < 0.75 * noise_sc, (sc, noise_sc)
    silence = torch.full((1, 80, 8), math.log(1e-5))
    assert voc(silence).abs().max() < 0.05


@pytest.mark.parametrize("match", [0, 1, 3])
@pytest.mark.parametrize("head", [{}, {"head_n_fft": 256, "head_subframes": 4}])
@pytest.mark.parametrize("chunk", [1, 5, 32, 1000])
def test_stream_equals_one_pass(tmp_path, chunk, head, match):
    voc = VocosVocoder(checkpoint=small_checkpoint(tmp_path, layers=3, dim=16, intermediate=32, **head),
                       match_mel=match).load()
    mel = torch.randn(2, 80, 70)
    whole = voc(mel)
    pieces = list(voc.stream(mel, chunk_frames=chunk))
    assert len(pieces) == math.ceil(70 / chunk)
    assert all(p.shape[-1] == min(chunk, 70 - i * chunk) * 256 for i, p in enumerate(pieces))
    assert torch.allclose(torch.cat(pieces, -1), whole, atol=1e-4, rtol=0)
    single = list(voc.stream(mel[0], chunk_frames=chunk))
    assert torch.allclose(torch.cat(single, -1), whole[0], atol=1e-4, rtol=0)


def test_match_mel_moves_the_rendering_to_its_mel(tmp_path):
    """The default rounds of mel matching after the network bring the output's mel nearer the one
    given than the network alone; match_mel=0 is the network alone; bad values are refused."""
    from audiogan_core.mel import log_mel
    from audiogan_plugins.vocoders.vocos import MATCH_ROUNDS

    path = small_checkpoint(tmp_path)
    cfg = MelConfig.hifigan_universal()
    t = torch.arange(30 * 256) / 22050
    mel = log_mel(0.2 * torch.sin(2 * math.pi * 440 * t) * (t < 0.2) + 0.02 * torch.randn(t.shape), cfg)
    raw = VocosVocoder(checkpoint=path, match_mel=0).load()
    assert VocosVocoder(checkpoint=path).match_rounds == MATCH_ROUNDS == 3
    assert torch.equal(raw(mel), raw.model(mel).clamp(-1, 1))
    errors = [float((log_mel(VocosVocoder(checkpoint=path, match_mel=n).load()(mel), cfg) - mel).abs().mean())
              for n in (0, 1, MATCH_ROUNDS)]
    assert errors[2] < errors[1] < 0.5 * errors[0], errors
    assert VocosVocoder(checkpoint=path, match_mel="2").match_rounds == 2  # as --vocoder-option gives it
    for bad in (-1, 1.5, True, "x", None):
        with pytest.raises(ConfigError, match="match_mel must be a whole number of rounds"):
            VocosVocoder(checkpoint=path, match_mel=bad)


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_a_short_head_joins_gated_at_zero_and_streams_exactly(tmp_path, chunk):
    """With its gate at 0 the short head changes nothing (weights without it make the same vocoder);
    open, it adds its own waveform, and streaming still equals one pass."""
    torch.manual_seed(0)
    base = VocosModel(VocosConfig(**TINY))
    dual = VocosModel(VocosConfig(**TINY, short_head_n_fft=256, short_head_subframes=4))
    missing, unexpected = dual.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and sorted({k.split(".")[0] for k in missing}) == ["short_gate", "short_head"]
    mel = torch.randn(2, 80, 40)
    with torch.no_grad():
        assert torch.equal(dual(mel), base(mel))
        dual.short_gate.fill_(0.7)
        assert (dual(mel) - base(mel)).abs().max() > 1e-3
    path = save_vocos(tmp_path / "dual.safetensors", dual, half=False)
    voc = VocosVocoder(checkpoint=path).load()
    assert voc.model.short_gate.item() == pytest.approx(0.7)
    whole = voc(mel)
    assert torch.allclose(torch.cat(list(voc.stream(mel, chunk_frames=chunk)), -1), whole, atol=1e-4, rtol=0)


@pytest.mark.parametrize("chunk", [1, 7, 1000])
@pytest.mark.parametrize("hidden", [0, 6])
def test_an_envelope_starts_at_gain_one_and_streams_exactly(tmp_path, chunk, hidden):
    """envelope_steps: weights without it load as the same vocoder (gain 1); a learnt gain curve
    changes the waveform at a finer step than the frame, and streaming still equals one pass, also
    when the envelope reads its neighbours' features through convolutions (envelope_hidden)."""
    torch.manual_seed(0)
    base = VocosModel(VocosConfig(**TINY, head_n_fft=512 if hidden else 1024))
    # with a 512-point head the overlap-add reaches 2 frames and the convolved envelope 3
    shaped = VocosModel(VocosConfig(**TINY, envelope_steps=8, envelope_hidden=hidden,
                                    head_n_fft=512 if hidden else 1024))
    missing, unexpected = shaped.load_state_dict(base.state_dict(), strict=False)
    body = ["envelope.body.0.bias", "envelope.body.0.weight", "envelope.body.2.bias", "envelope.body.2.weight"]
    assert not unexpected and sorted(missing) == (body if hidden else []) + ["envelope.out.bias", "envelope.out.weight"]
    mel = torch.randn(2, 80, 40)
    with torch.no_grad():
        assert torch.equal(shaped(mel), base(mel))
        for weight in shaped.envelope.parameters():
            torch.nn.init.normal_(weight, std=0.5)
        gain = shaped.envelope(shaped.features(mel))  # [B, T * hop]
        assert gain.shape == (2, 40 * 256) and float(gain.min()) > 0
        steps = gain[:, 16::32]  # the step centres: the gain changes within a frame
        assert (steps.reshape(2, 40, 8).std(-1) > 1e-3).all()
    path = save_vocos(tmp_path / "shaped.safetensors", shaped, half=False)
    voc = VocosVocoder(checkpoint=path).load()
    whole = voc(mel)
    assert (whole - base(mel).clamp(-1, 1)).abs().max() > 1e-4
    assert torch.allclose(torch.cat(list(voc.stream(mel, chunk_frames=chunk)), -1), whole, atol=1e-4, rtol=0)
    with pytest.raises(ConfigError, match="envelope_steps must be 0 .* divisor of the mel hop"):
        VocosConfig(**TINY, envelope_steps=7)
    for bad in (-1, 2.5, True):
        with pytest.raises(ConfigError, match="envelope_hidden must be 0 or"):
            VocosConfig(**TINY, envelope_steps=8, envelope_hidden=bad)
    with pytest.raises(ConfigError, match="envelope_hidden must be 0 or, with envelope_steps"):
        VocosConfig(**TINY, envelope_hidden=4)


def test_the_envelope_loss_prefers_a_sharp_attack_at_the_median_place_to_a_smeared_one():
    """The reason for an L1 of log levels: over targets whose attack falls at different places, a
    sharp attack at the middle one costs less than one spread over all of them."""
    from audiogan_training.vocoder_losses import envelope_loss

    n, places = 4096, [1800, 2000, 2200]
    rng = torch.Generator().manual_seed(0)
    noise = torch.randn(n, generator=rng) * 0.3
    targets = torch.stack([noise * (torch.arange(n) >= p) for p in places])  # [3, N]
    sharp = noise * (torch.arange(n) >= 2000)
    ramp = noise * ((torch.arange(n) - 1700) / 700).clamp(0, 1)  # the attack smeared over 32 ms
    cost = lambda x: float(envelope_loss(x.expand(3, n), targets))
    assert cost(sharp) < cost(ramp)
    assert float(envelope_loss(targets, targets)) == 0.0


def test_short_head_config_is_checked():
    with pytest.raises(ConfigError, match="short_head_n_fft"):
        VocosConfig(**TINY, short_head_n_fft=-1)
    with pytest.raises(ConfigError, match="short_head_subframes"):
        VocosConfig(**TINY, short_head_n_fft=256, short_head_subframes=3)
    with pytest.raises(ConfigError, match="short_head_n_fft .* twice"):
        VocosConfig(**TINY, short_head_n_fft=64, short_head_subframes=4)
    old = VocosConfig(**TINY).to_dict()
    del old["short_head_n_fft"], old["short_head_subframes"]
    assert VocosConfig.from_dict(old).short_head_n_fft == 0  # configs written before it: no short head


def test_stream_differs_without_context(tmp_path):
    """The context is what makes streaming exact: chunks vocoded alone do not join up."""
    voc = VocosVocoder(checkpoint=small_checkpoint(tmp_path)).load()
    mel = torch.randn(1, 80, 40)
    alone = torch.cat([voc(mel[..., a:a + 8]) for a in range(0, 40, 8)], -1)
    assert (alone - voc(mel)).abs().max() > 1e-3


@pytest.mark.parametrize("subframe", [0, 3])
def test_a_sub_frame_head_places_each_short_spectrum_hop_over_sub_frames_apart(subframe):
    """One nonzero short spectrum (sub-frame `subframe` of mel frame 5, a click at its centre) sounds
    only within its own 256-sample window, peaking on sample (5 * 4 + subframe) * 64 + 32: the head's sub-frames are
    in time order and aligned with the mel frames, as the full-size head's frames are."""
    cfg = VocosConfig(**TINY, head_n_fft=256, head_subframes=4)
    head = VocosModel(cfg).head
    n = cfg.head_n_fft + 2
    with torch.no_grad():
        head.out.weight.zero_()
        head.out.bias.fill_(-30.0)  # every sub-frame silent ...
        head.out.weight[subframe * n: subframe * n + n // 2, 0] = 30.0  # ... but this one, where feature 0 is 1,
        head.out.bias[subframe * n + n // 2: (subframe + 1) * n] = math.pi * torch.arange(n // 2)  # a click mid-frame
    features = torch.zeros(1, cfg.dim, 12)
    features[0, 0, 5] = 1.0
    wave = head(features)[0]
    assert wave.shape == (12 * 256,)
    centre = (5 * 4 + subframe) * 64 + 32
    loud = torch.nonzero(wave.abs() > 1e-6).flatten()
    assert int(wave.abs().argmax()) == centre
    assert centre - 128 <= int(loud.min()) and int(loud.max()) < centre + 128, (int(loud.min()), int(loud.max()))


def test_head_config_is_checked_and_old_configs_read_as_one_sub_frame():
    with pytest.raises(ConfigError, match="must divide the mel hop"):
        VocosConfig(**TINY, head_subframes=3)
    with pytest.raises(ConfigError, match="head's hop"):
        VocosConfig(**TINY, head_n_fft=32, head_subframes=4)  # hop 64 > n_fft 32
    with pytest.raises(ConfigError, match="twice the head's hop"):
        VocosConfig(**TINY, head_n_fft=128, head_subframes=2)  # hop 128: Hann windows that never overlap
    assert VocosConfig(**TINY, head_n_fft=256, head_subframes=2).head_hop == 128
    old = VocosConfig(**TINY).to_dict()
    del old["head_subframes"]
    assert VocosConfig.from_dict(old).head_subframes == 1


def test_checkpoint_for_another_mel_config_is_refused(tmp_path):
    path = small_checkpoint(tmp_path, mel=MelConfig.paper())
    with pytest.raises(MelConfigMismatchError):
        VocosVocoder(checkpoint=path, mel_config=MelConfig.hifigan_universal())
    with pytest.raises(MelConfigMismatchError):
        load_vocos(path, MelConfig.hifigan_universal())
    voc = VocosVocoder(checkpoint=path).load()
    with pytest.raises(MelConfigMismatchError):
        voc(torch.zeros(1, 80, 4))
    assert voc(torch.zeros(1, 64, 4)).shape == (1, 4 * 160)


def test_truncated_or_mismatched_weights_give_checkpoint_error(tmp_path):
    path = small_checkpoint(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    (tmp_path / "cut.json").write_text((tmp_path / "v.json").read_text())
    with pytest.raises(CheckpointError):
        VocosVocoder(checkpoint=cut).load()
    other = json.loads((tmp_path / "v.json").read_text())
    other["model"]["layers"] = 3  # the config says 3 blocks, the weights hold 2
    (tmp_path / "v.json").write_text(json.dumps(other))
    with pytest.raises(CheckpointError, match="blocks.2"):
        VocosVocoder(checkpoint=path).load()


def test_float16_weights_change_little(tmp_path):
    torch.manual_seed(0)
    model = VocosModel(VocosConfig(**TINY))
    save_vocos(tmp_path / "h.safetensors", model, half=True)
    assert (tmp_path / "h.safetensors").stat().st_size < 0.6 * sum(p.numel() * 4 for p in model.parameters())
    mel = torch.randn(1, 80, 20)
    with torch.no_grad():
        ref = model.eval()(mel)
    got = VocosVocoder(checkpoint=tmp_path / "h.safetensors", match_mel=0).load()(mel)  # the network alone
    assert (got - ref.clamp(-1, 1)).abs().max() < 1e-2 * ref.abs().max()


def test_growing_refuses_weights_of_another_width(tmp_path):
    from audiogan_core.errors import ConfigMismatchError
    from audiogan_plugins.vocoders.vocos import deepen_state_dict

    narrow = load_vocos(small_checkpoint(tmp_path)).state_dict()
    with pytest.raises(ConfigMismatchError, match="does not fit"):
        deepen_state_dict(narrow, VocosModel(VocosConfig(dim=24, intermediate=32, layers=4)))
    with pytest.raises(ConfigMismatchError, match="cannot grow"):
        deepen_state_dict({k: v for k, v in narrow.items() if not k.startswith("blocks.0.")},
                          VocosModel(VocosConfig(**{**TINY, "layers": 4})))


def test_averaged_weights_are_the_mean_and_other_configs_are_refused(tmp_path):
    a, b = small_checkpoint(tmp_path, name="a.safetensors", seed=0), small_checkpoint(tmp_path, name="b.safetensors", seed=1)
    out = average_vocos([a, b], tmp_path / "avg.safetensors")
    got, wa, wb = (load_vocos(p).state_dict() for p in (out, a, b))
    for key in wa:
        torch.testing.assert_close(got[key], ((wa[key] + wb[key]) / 2).half().float())
    assert not torch.equal(got["head.out.weight"], wa["head.out.weight"])
    with pytest.raises(FileExistsError, match="not overwriting"):
        average_vocos([a, b], out)
    wide = small_checkpoint(tmp_path, name="c.safetensors", dim=24, intermediate=32, layers=2)
    with pytest.raises(ConfigMismatchError, match="not all of one config"):
        average_vocos([a, wide], tmp_path / "mixed.safetensors")
