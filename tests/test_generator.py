"""Generator: shapes per preset, variants, conditioning, input validation."""
from __future__ import annotations

import pytest
import torch

from audiogan_core.config import preset
from audiogan_core.errors import InputError
from audiogan_core.generator import Generator

PAPER_GENERATOR_PARAMETERS = 7_209_659  # with the 30 head gates the released model lacks


def make_inputs(config, batch=2, n_words=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, config.noise_dim, generator=g)
    s = torch.randn(batch, config.sentence_dim, generator=g)
    w = torch.randn(batch, n_words, config.word_dim, generator=g)
    lengths = torch.tensor([n_words] + [2] * (batch - 1))
    return z, s, w, lengths


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Generator(preset("tiny"))


@pytest.mark.parametrize("name,shape", [("tiny", (3, 1, 16, 64)), ("small", (3, 1, 80, 864))])
def test_output_shape(name, shape):
    config = preset(name)
    model = Generator(config).eval()
    with torch.no_grad():
        out = model(*make_inputs(config, batch=3))
    assert out.shape == shape == (3, *model.output_shape)
    assert torch.isfinite(out).all()


def test_paper_preset_smoke():
    config = preset("paper")
    model = Generator(config).eval()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"\npaper generator parameters: {n_params:,}")
    assert n_params == PAPER_GENERATOR_PARAMETERS
    with torch.no_grad():
        out = model(*make_inputs(config, batch=2))
    assert out.shape == (2, 1, 64, 1024)


def test_published_attribute_names():
    names = dict(Generator(preset("tiny")).named_parameters())
    for key in ("lin_code.weight_orig", "conv1.conv1.weight_orig", "conv1.norm1.linear1.weight",
                "conv1.conv_skip.bias", "multi_triple_attention_1.self_attention_modules.1.t_key.weight_orig",
                "multi_triple_attention_2.cross_attention_for_word_modules.0.gamma",
                "multi_triple_attention_3.cross_attention_for_sent_modules.0.value.weight_orig",
                "multi_triple_attention_3.head_gates", "bn.weight", "colorize.weight_orig"):
        assert key in names, key
    assert "conv6.conv_skip.weight_orig" not in names  # same width, no up-sampling: identity skip


@pytest.mark.parametrize("changes", [dict(tf_ca=False), dict(multi_tfca="paper"),
                                     dict(attention_plan=("self", "word", "sentence,word"))])
def test_variants_train(changes):
    config = preset("tiny").replace(**changes)
    model = Generator(config).train()
    u_before = model.lin_code.weight_u.clone()
    out = model(*make_inputs(config))
    assert out.shape == (2, 1, 16, 64)
    out.square().mean().backward()
    assert not torch.equal(model.lin_code.weight_u, u_before), "training forward updates spectral-norm u"
    for i in (1, 2, 3):
        gates = getattr(model, f"multi_triple_attention_{i}").head_gates
        assert gates.grad is not None and gates.grad.abs().sum() > 0, "head gates must be trainable"


def test_eval_repeats_and_text_conditions(tiny):
    config = tiny.config
    tiny.eval()
    z, s, w, lengths = make_inputs(config)
    with torch.no_grad():
        first, second = tiny(z, s, w, lengths), tiny(z, s, w, lengths)
        other_sentence = tiny(z, s.flip(0), w, lengths)
    assert torch.equal(first, second)
    assert not torch.allclose(first, other_sentence)


def test_padded_words_do_not_change_output(tiny):
    config = tiny.config
    tiny.eval()
    with torch.no_grad():
        for m in tiny.modules():  # open the attention so that words matter at all
            if hasattr(m, "head_gates"):
                m.head_gates.fill_(1.0)
            elif hasattr(m, "gamma"):
                m.gamma.fill_(1.0)
        z, s, w, lengths = make_inputs(config)
        garbage = w.clone()
        garbage[1, 2:] = 1e3
        base = tiny(z, s, w, lengths)
        torch.testing.assert_close(base, tiny(z, s, garbage, lengths))
        assert not torch.allclose(base, tiny(z, s, garbage, None))  # None: every word is real
        for m in tiny.modules():
            if hasattr(m, "head_gates"):
                m.head_gates.zero_()
            elif hasattr(m, "gamma"):
                m.gamma.zero_()


@pytest.mark.parametrize("mutate,message", [
    (lambda z, s, w, l: (z, s, w.index_fill(2, torch.tensor([3]), float("nan")), l), "word features must be finite, found NaN or inf"),
    (lambda z, s, w, l: (z, s * float("inf"), w, l), "sentence features must be finite, found NaN or inf"),
    (lambda z, s, w, l: (z[:, :-1], s, w, l), r"noise z must have shape \[batch, 128\].*got \[2, 127\]"),
    (lambda z, s, w, l: (z, s[:, :5], w, l), r"sentence features must have shape \[batch, 12\].*got \[2, 5\]"),
    (lambda z, s, w, l: (z, s, w[..., :4], l), r"word features must have shape \[batch, words, 10\].*got \[2, 5, 4\]"),
    (lambda z, s, w, l: (z, s, w[0], l), r"word features must have shape .*got \[5, 10\]"),
    (lambda z, s, w, l: (z, s[:1], w, l), "batch sizes differ"),
    (lambda z, s, w, l: (z, s, w, torch.tensor([0, 2])), r"lengths must be between 1 and 5 .*got 0 at index 0"),
    (lambda z, s, w, l: (z, s, w, torch.tensor([5, 6])), r"lengths must be between 1 and 5 .*got 6 at index 1"),
    (lambda z, s, w, l: (z, s, w, torch.tensor([5.0, 2.0])), "lengths must be integers"),
    (lambda z, s, w, l: (z, s, w, torch.tensor([5])), r"lengths must have shape \[2\]"),
    (lambda z, s, w, l: (z, s, w[:, :0], torch.tensor([1, 1])), "no word positions"),
])
def test_bad_inputs_raise_input_error(tiny, mutate, message):
    args = mutate(*make_inputs(tiny.config))
    with pytest.raises(InputError, match=message):
        tiny(*args)
