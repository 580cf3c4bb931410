"""Discriminator: output fields and shapes, projection head, D1/D2/D3 pieces, validation."""
from __future__ import annotations

import copy

import pytest
import torch

from audiogan_core.config import preset
from audiogan_core.discriminator import Discriminator, DiscriminatorOutput
from audiogan_core.errors import InputError
from audiogan_core.generator import Generator


def make_inputs(config, batch=2, n_words=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    mel = torch.randn(batch, 1, config.n_mels, config.frames, generator=g) - 5.0  # log-mel-like
    s = torch.randn(batch, config.sentence_dim, generator=g)
    w = torch.randn(batch, n_words, config.word_dim, generator=g)
    lengths = torch.tensor([n_words] + [2] * (batch - 1))
    return mel, s, w, lengths


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Discriminator(preset("tiny"))


@pytest.mark.parametrize("name,local_grid", [("tiny", (1, 2)), ("small", (5, 27))])
def test_output_fields_and_shapes(name, local_grid):
    config = preset(name)
    model = Discriminator(config).eval()
    batch = 2 if name == "tiny" else 1
    with torch.no_grad():
        out = model(*make_inputs(config, batch=batch))
    assert isinstance(out, DiscriminatorOutput)
    assert out.logit.shape == (batch,)
    assert out.global_feature.shape == (batch, config.sentence_dim)
    assert out.local_features.shape == (batch, config.word_dim, *local_grid)
    assert model.local_grid == local_grid
    assert all(torch.isfinite(t).all() for t in out)


def test_attention_plan_is_the_reverse_of_the_generator(tiny):
    assert [stage.kinds for stage in tiny.attention] == [["sentence"], ["word", "sentence"], ["self", "word", "sentence"]]


def test_pieces_compose_to_forward(tiny):
    tiny.eval()
    mel, s, w, lengths = make_inputs(tiny.config)
    with torch.no_grad():
        out = tiny(mel, s, w, lengths)
        h = tiny.features(mel, s, w, lengths)
        torch.testing.assert_close(tiny.local(mel, s, w, lengths), out.local_features)
        torch.testing.assert_close(tiny.global_from_features(h), out.global_feature)
        torch.testing.assert_close(tiny.logit_from_global(out.global_feature, s), out.logit)


def test_projection_term_depends_on_the_sentence(tiny):
    tiny.eval()
    mel, s, w, lengths = make_inputs(tiny.config)
    with torch.no_grad():
        g = tiny(mel, s, w, lengths).global_feature
        base = tiny.logit_from_global(g, s)
        other = tiny.logit_from_global(g, torch.randn_like(s))
        # same audio feature, another sentence: the logit moves through <g, embed(s)>
        assert not torch.allclose(base, other)
        expected = tiny.linear(g).squeeze(1) + (g * tiny.embed(s)).sum(1)
        torch.testing.assert_close(base, expected)


def test_gradients_reach_generator_and_discriminator():
    config = preset("tiny")
    gen, disc = Generator(config).train(), Discriminator(config).train()
    z = torch.randn(2, config.noise_dim)
    _, s, w, lengths = make_inputs(config)
    out = disc(gen(z, s, w, lengths), s, w, lengths)
    loss = -out.logit.mean() + out.global_feature.square().mean() + out.local_features.square().mean()
    loss.backward()
    assert gen.lin_code.weight_orig.grad.abs().sum() > 0
    assert disc.blocks[0].conv1.weight_orig.grad.abs().sum() > 0
    assert disc.attention[2].head_gates.grad is not None


def test_bad_mel_raises_input_error(tiny):
    mel, s, w, lengths = make_inputs(tiny.config)
    with pytest.raises(InputError, match=r"mel must have shape \[batch, 1, 16, 64\].*got \[2, 1, 16, 60\]"):
        tiny(mel[..., :60], s, w, lengths)
    mel[0, 0, 3, 3] = float("nan")
    with pytest.raises(InputError, match="mel must be finite, found NaN or inf"):
        tiny(mel, s, w, lengths)
    with pytest.raises(InputError, match="lengths must be between 1 and 5"):
        tiny(mel.nan_to_num(), s, w, torch.tensor([5, 9]))


def test_blind_trunk_ignores_the_caption_but_the_head_does_not(tiny):
    """blind=True: g and l come from the audio alone; only the projection logit sees the text.
    With blind=False the trunk attends to the caption, so g moves with it."""
    tiny.eval()
    mel, s, w, lengths = make_inputs(tiny.config)
    _, s2, w2, lengths2 = make_inputs(tiny.config, seed=1)
    with torch.no_grad():
        a = tiny(mel, s, w, lengths, blind=True)
        b = tiny(mel, s2, w2, lengths2, blind=True)
        torch.testing.assert_close(a.global_feature, b.global_feature)
        torch.testing.assert_close(a.local_features, b.local_features)
        assert not torch.allclose(a.logit, b.logit)
        torch.testing.assert_close(tiny.logit_from_global(a.global_feature, s2), b.logit)
        # and the paper's paired trunk does depend on the caption once its attention gates open
        # (SAGAN-style, they start at 0)
        opened = copy.deepcopy(tiny)
        for name, param in opened.named_parameters():
            if "gate" in name or "gamma" in name:  # residual gates, 0 at init
                param.fill_(0.5)
        assert not torch.allclose(opened(mel, s, w, lengths).global_feature,
                                  opened(mel, s2, w2, lengths2).global_feature)
        torch.testing.assert_close(opened(mel, s, w, lengths, blind=True).global_feature,
                                   opened(mel, s2, w2, lengths2, blind=True).global_feature)
    with pytest.raises(InputError, match="sentence features must have shape"):
        tiny(mel, s[:, :3], w, lengths, blind=True)  # the caption is still checked


def test_d_max_heads_is_part_of_the_model_config(tmp_path):
    """The discriminator's head count is a field of ModelConfig (it was a module constant, so a
    saved config could not say which shape its discriminator had)."""
    from audiogan_core.checkpoint import load_config, load_discriminator_state_dict, load_state_dict_checked, save_model
    from audiogan_core.config import ModelConfig
    from audiogan_core.errors import ConfigError, ConfigMismatchError

    tiny = preset("tiny").replace(n_heads=4)
    assert tiny.d_max_heads == 2 and Discriminator(tiny).n_heads == 2  # the default keeps today's shape
    wide = tiny.replace(d_max_heads=4)
    assert Discriminator(wide).n_heads == 4
    assert ModelConfig.from_json(wide.to_json()).d_max_heads == 4
    save_model(tmp_path, Generator(wide), wide, discriminator=Discriminator(wide))
    assert load_config(tmp_path).d_max_heads == 4
    load_state_dict_checked(Discriminator(load_config(tmp_path)), load_discriminator_state_dict(tmp_path))
    with pytest.raises(ConfigMismatchError):
        load_state_dict_checked(Discriminator(tiny), load_discriminator_state_dict(tmp_path))
    with pytest.raises(ConfigError, match="d_max_heads"):
        tiny.replace(d_max_heads=0)


def test_a_config_saved_before_d_max_heads_still_loads(tmp_path):
    """Model folders written before d_max_heads was a config field (the first bundled model's) have
    no such key: they load with the default, which is the shape their discriminators have."""
    import json
    import shutil
    from pathlib import Path

    from audiogan_core.api import MODELS_DIR
    from audiogan_core.checkpoint import load_config, load_discriminator_state_dict, load_state_dict_checked

    folder = Path(MODELS_DIR) / "default"
    config = json.loads((folder / "config.json").read_text())
    assert config.pop("d_max_heads", 2) == 2
    (tmp_path / "config.json").write_text(json.dumps(config))
    for name in ("generator.safetensors", "discriminator.safetensors"):
        shutil.copy2(folder / name, tmp_path / name)
    assert load_config(tmp_path).d_max_heads == 2
    load_state_dict_checked(Discriminator(load_config(tmp_path)), load_discriminator_state_dict(tmp_path))
