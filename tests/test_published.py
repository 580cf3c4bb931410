"""Loading the authors' released generator weights.

The reference below is written from the released generator.py's math (SeaSky1027/AudioGAN),
as plain functional torch on the state-dict tensors: it shares no code with audiogan_core.
It includes their spectral norm (one power iteration from the stored u) and their per-head
gates, which are always 0 in the released model (an unregistered Python list).
"""
from __future__ import annotations

import math
import os
import pickle

import pytest
import torch
import torch.nn.functional as F

from audiogan_core.config import ModelConfig, preset
from audiogan_core.errors import CheckpointError, ConfigMismatchError, MissingResourceError
from audiogan_core.generator import Generator
from audiogan_core.published import convert_published_state_dict, load_published_generator

PLAN = ("self,word,sentence", "word,sentence", "sentence")


# Published names and shapes --------------------------------------------------------------------
def published_state_dict(c=128, noise=128, heads=10, sent=512, word=768, plan=PLAN, seed=0):
    """Random tensors under the released generator's state-dict names, including the derived
    `weight` / `weight_sv` buffers their spectral norm saves and non-trivial BN statistics."""
    g = torch.Generator().manual_seed(seed)
    sd = {}

    def rand(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    def sn(prefix, shape, bias=True):
        fan = math.prod(shape[1:])
        sd[prefix + ".weight_orig"] = rand(*shape, scale=1.0 / math.sqrt(fan))
        if bias:
            sd[prefix + ".bias"] = rand(shape[0], scale=0.1)
        sd[prefix + ".weight"] = rand(*shape)  # stale derived buffer: must be ignored
        sd[prefix + ".weight_u"] = rand(shape[0])
        sd[prefix + ".weight_sv"] = rand(()).abs() + 3.0  # stale derived buffer

    def bn(prefix, ch, affine):
        if affine:
            sd[prefix + ".weight"] = 1.0 + rand(ch, scale=0.2)
            sd[prefix + ".bias"] = rand(ch, scale=0.2)
        sd[prefix + ".running_mean"] = rand(ch, scale=0.3)
        sd[prefix + ".running_var"] = 0.5 + torch.rand(ch, generator=g) * 1.5
        sd[prefix + ".num_batches_tracked"] = torch.tensor(1000)

    def cond_norm(prefix, ch):
        bn(prefix + ".bn", ch, affine=False)
        for lin in ("linear1", "linear2"):
            sd[f"{prefix}.{lin}.weight"] = rand(ch, sent, scale=1.0 / math.sqrt(sent))
            sd[f"{prefix}.{lin}.bias"] = rand(ch, scale=0.1) + (1.0 if lin == "linear1" else 0.0)

    def block(prefix, cin, cout, up):
        cond_norm(prefix + ".norm1", cin)
        sn(prefix + ".conv1", (cout, cin, 3, 3), bias=False)
        cond_norm(prefix + ".norm2", cout)
        sn(prefix + ".conv2", (cout, cout, 3, 3), bias=False)
        if cin != cout or up:
            sn(prefix + ".conv_skip", (cout, cin, 1, 1))

    def spec(prefix, ch, cond):
        sn(prefix + ".f_query", (ch, ch, 1))
        sn(prefix + ".t_key", (ch, cond, 1))
        sn(prefix + ".t_query", (ch, ch, 1))
        sn(prefix + ".f_key", (ch, cond, 1))
        sn(prefix + ".value", (ch, cond, 1))
        sd[prefix + ".gamma"] = rand(())

    def stage(prefix, ch, kinds):
        kinds = kinds.split(",")
        for h in range(heads):
            if "self" in kinds:
                spec(f"{prefix}.self_attention_modules.{h}", ch, ch)
            if "word" in kinds:
                spec(f"{prefix}.cross_attention_for_word_modules.{h}", ch, word)
            if "sentence" in kinds:
                spec(f"{prefix}.cross_attention_for_sent_modules.{h}", ch, sent)
        sn(prefix + ".conv_for_attention", (ch, ch * len(kinds), 1))
        sn(prefix + ".out", (ch, ch * heads, 1))

    cl = [c, c, c // 2, c // 2, c // 4, c // 4, c // 4, c // 8, c // 8]
    sn("lin_code", (cl[0] * 2 * 32, noise))
    block("conv1", cl[0], cl[1], True)
    block("conv2", cl[1], cl[2], True)
    stage("multi_triple_attention_1", cl[2], plan[0])
    block("conv3", cl[2], cl[3], True)
    block("conv4", cl[3], cl[4], False)
    stage("multi_triple_attention_2", cl[4], plan[1])
    block("conv5", cl[4], cl[5], True)
    block("conv6", cl[5], cl[6], False)
    stage("multi_triple_attention_3", cl[6], plan[2])
    block("conv7", cl[6], cl[7], True)
    bn("bn", cl[8], affine=True)
    sn("colorize", (1, cl[8], 1))
    return sd


# Reference forward (released math, functional) ------------------------------------------------
def ref_sn_weight(sd, prefix):
    w = sd[prefix + ".weight_orig"]
    w_mat = w.reshape(w.shape[0], -1)
    v = w_mat.t() @ sd[prefix + ".weight_u"]
    v = v / v.norm()
    u = w_mat @ v
    u = u / u.norm()
    return w / (u @ w_mat @ v)


def ref_conv1d(sd, prefix, x):
    return F.conv1d(x, ref_sn_weight(sd, prefix), sd.get(prefix + ".bias"))


def ref_bn(sd, prefix, x):
    return F.batch_norm(x, sd[prefix + ".running_mean"], sd[prefix + ".running_var"],
                        sd.get(prefix + ".weight"), sd.get(prefix + ".bias"), False, 0.0, 1e-5)


def ref_cond_norm(sd, prefix, x, s):
    gamma = F.linear(s, sd[prefix + ".linear1.weight"], sd[prefix + ".linear1.bias"])
    beta = F.linear(s, sd[prefix + ".linear2.weight"], sd[prefix + ".linear2.bias"])
    return gamma[:, :, None, None] * ref_bn(sd, prefix + ".bn", x) + beta[:, :, None, None]


def ref_block(sd, prefix, x, s, up):
    out = F.relu(ref_cond_norm(sd, prefix + ".norm1", x, s))
    if up:
        out = F.interpolate(out, scale_factor=2, mode="nearest")
    out = F.conv2d(out, ref_sn_weight(sd, prefix + ".conv1"), None, padding=1)
    out = F.relu(ref_cond_norm(sd, prefix + ".norm2", out, s))
    out = F.conv2d(out, ref_sn_weight(sd, prefix + ".conv2"), None, padding=1)
    if prefix + ".conv_skip.weight_orig" in sd:
        skip = F.interpolate(x, scale_factor=2, mode="nearest") if up else x
        skip = F.conv2d(skip, ref_sn_weight(sd, prefix + ".conv_skip"), sd[prefix + ".conv_skip.bias"])
    else:
        skip = x
    return out + skip


def ref_spec_attention(sd, prefix, x, cond=None, lengths=None):
    b, c, f, t = x.shape
    freq = x.mean(dim=3)
    time = x.mean(dim=2)
    if cond is not None:
        cond = cond.unsqueeze(2) if cond.dim() == 2 else cond.permute(0, 2, 1)
        t_cond = f_cond = cond
    else:
        t_cond, f_cond = time, freq
    fmap = torch.bmm(ref_conv1d(sd, prefix + ".f_query", freq).permute(0, 2, 1), ref_conv1d(sd, prefix + ".t_key", t_cond))
    tmap = torch.bmm(ref_conv1d(sd, prefix + ".t_query", time).permute(0, 2, 1), ref_conv1d(sd, prefix + ".f_key", f_cond))
    if lengths is not None:
        mask = torch.arange(cond.shape[2])[None, None, :] >= lengths[:, None, None]
        fmap = fmap + mask * (-1e9)
        tmap = tmap + mask * (-1e9)
    fmap = F.softmax(fmap, dim=-1)
    tmap = F.softmax(tmap, dim=-1)
    if cond is None:
        weight = (fmap + tmap.permute(0, 2, 1)).reshape(b, f * t).unsqueeze(-1)
        value = ref_conv1d(sd, prefix + ".value", x.reshape(b, c, f * t)).permute(0, 2, 1)
        out = (value * weight).permute(0, 2, 1).reshape(b, c, f, t)
    else:
        fmap = fmap.unsqueeze(2).expand(-1, -1, t, -1)
        tmap = tmap.unsqueeze(1).expand(-1, f, -1, -1)
        weight = (fmap + tmap).reshape(b, f * t, -1)
        value = ref_conv1d(sd, prefix + ".value", cond).permute(0, 2, 1)
        out = torch.bmm(weight, value).permute(0, 2, 1).reshape(b, c, f, t)
    return sd[prefix + ".gamma"] * out + x


def ref_stage(sd, prefix, x, s, w, lengths, kinds, heads, gates):
    b, c, f, t = x.shape
    kinds = kinds.split(",")
    result = []
    for h in range(heads):
        parts = []
        if "self" in kinds:
            parts.append(ref_spec_attention(sd, f"{prefix}.self_attention_modules.{h}", x))
        if "word" in kinds:
            parts.append(ref_spec_attention(sd, f"{prefix}.cross_attention_for_word_modules.{h}", x, w, lengths))
        if "sentence" in kinds:
            parts.append(ref_spec_attention(sd, f"{prefix}.cross_attention_for_sent_modules.{h}", x, s))
        out = ref_conv1d(sd, prefix + ".conv_for_attention", torch.cat(parts, 1).reshape(b, -1, f * t))
        result.append(gates[h] * out.reshape(b, c, f, t) + x)
    out = ref_conv1d(sd, prefix + ".out", torch.cat(result, 1).reshape(b, -1, f * t)).reshape(b, c, f, t)
    return x + out


def ref_generator(sd, z, s, w, lengths, c=128, heads=10, plan=PLAN, gates=None):
    gates = gates or [[0.0] * heads] * 3  # the released model: always 0
    b = z.shape[0]
    x = F.linear(z, ref_sn_weight(sd, "lin_code"), sd["lin_code.bias"]).view(b, c, 2, 32)
    x = ref_block(sd, "conv1", x, s, True)
    x = ref_block(sd, "conv2", x, s, True)
    x = ref_stage(sd, "multi_triple_attention_1", x, s, w, lengths, plan[0], heads, gates[0])
    x = ref_block(sd, "conv3", x, s, True)
    x = ref_block(sd, "conv4", x, s, False)
    x = ref_stage(sd, "multi_triple_attention_2", x, s, w, lengths, plan[1], heads, gates[1])
    x = ref_block(sd, "conv5", x, s, True)
    x = ref_block(sd, "conv6", x, s, False)
    x = ref_stage(sd, "multi_triple_attention_3", x, s, w, lengths, plan[2], heads, gates[2])
    x = ref_block(sd, "conv7", x, s, True)
    x = F.relu(ref_bn(sd, "bn", x))
    return ref_conv1d(sd, "colorize", x.reshape(b, -1, 64 * 1024)).reshape(b, 1, 64, 1024)


def text_inputs(batch, sent, word, n_words=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, 128, generator=g)
    s = torch.randn(batch, sent, generator=g)
    w = torch.randn(batch, n_words, word, generator=g)
    lengths = torch.tensor([n_words] + [max(1, n_words // 2)] * (batch - 1))
    w[1:, n_words // 2:] = 1e3  # padding garbage: masked, must not matter
    return z, s, w, lengths


def assert_matches(ours, ref):
    scale = max(1.0, ref.abs().max().item())
    err = (ours - ref).abs().max().item()
    assert err <= 1e-5 * scale, f"max abs difference {err:.3g} (output scale {scale:.3g})"


# Tests -------------------------------------------------------------------------------------------
def test_published_weights_reproduce_released_forward(tmp_path):
    sd = published_state_dict(seed=0)
    path = tmp_path / "generator.pt"
    torch.save(sd, path)
    model = load_published_generator(path)
    assert not model.training
    z, s, w, lengths = text_inputs(2, 512, 768)
    with torch.no_grad():
        ours = model(z, s, w, lengths)
        ref = ref_generator(sd, z, s, w, lengths)
    assert ours.shape == (2, 1, 64, 1024)
    assert_matches(ours, ref)
    for name, buf in model.named_buffers():
        if name.endswith("weight_u"):
            assert torch.equal(buf, sd[name]), f"{name} changed in eval mode"


def test_nonzero_head_gates_follow_released_attention_math():
    """With the gates opened, our TF-CA modules must compute what the released Spec_Attention
    computes (same weights). Narrow paper topology to keep it fast."""
    c, heads, sent, word = 16, 2, 12, 10
    config = ModelConfig(channels=c, n_heads=heads, sentence_dim=sent, word_dim=word)
    sd = published_state_dict(c=c, heads=heads, sent=sent, word=word, seed=3)
    model = Generator(config)
    model.load_state_dict(convert_published_state_dict(sd, config))
    model.eval()
    gates = [[0.7, -1.3], [1.1, 0.4], [-0.6, 0.9]]
    with torch.no_grad():
        for i, g in enumerate(gates, start=1):
            getattr(model, f"multi_triple_attention_{i}").head_gates.copy_(torch.tensor(g))
    z, s, w, lengths = text_inputs(3, sent, word, seed=4)
    with torch.no_grad():
        ours = model(z, s, w, lengths)
        ref = ref_generator(sd, z, s, w, lengths, c=c, heads=heads, gates=gates)
        closed = ref_generator(sd, z, s, w, lengths, c=c, heads=heads)
    assert_matches(ours, ref)
    assert (ref - closed).abs().max() > 1e-3, "the gates should matter in this test"


def test_converter_drops_derived_buffers_and_adds_zero_gates():
    config = ModelConfig(channels=16, n_heads=2, sentence_dim=12, word_dim=10)
    sd = published_state_dict(c=16, heads=2, sent=12, word=10)
    out = convert_published_state_dict(sd, config)
    assert "lin_code.weight" not in out and "lin_code.weight_sv" not in out
    assert "bn.weight" in out  # a real BN parameter, not a spectral-norm leftover
    for i in (1, 2, 3):
        assert torch.equal(out[f"multi_triple_attention_{i}.head_gates"], torch.zeros(2))
    # DataParallel prefix and a {"state_dict": ...} wrapper are accepted too
    wrapped = {"state_dict": {"module." + k: v for k, v in sd.items()}}
    assert set(convert_published_state_dict(wrapped, config)) == set(out)


def test_state_dict_of_another_config_is_refused_with_names():
    small_like = published_state_dict(c=32, heads=2, sent=384, word=384)
    with pytest.raises(ConfigMismatchError) as info:
        convert_published_state_dict(small_like)  # defaults to the paper config
    msg = str(info.value)
    assert "lin_code.weight_orig (model [8192, 128], checkpoint [2048, 128])" in msg
    assert "missing" in msg and "multi_triple_attention_1.self_attention_modules.2.f_query.weight_orig" in msg

    sd = published_state_dict(c=16, heads=2, sent=12, word=10)
    del sd["conv3.conv1.weight_orig"]
    sd["extra.thing"] = torch.zeros(1)
    config = ModelConfig(channels=16, n_heads=2, sentence_dim=12, word_dim=10)
    with pytest.raises(ConfigMismatchError, match=r"1 missing: conv3\.conv1\.weight_orig; "
                       r"2 unexpected: conv3\.conv1\.weight, extra\.thing"):
        convert_published_state_dict(sd, config)


def test_truncated_checkpoint_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "generator.pt"
    torch.save(published_state_dict(c=16, heads=2, sent=12, word=10), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_published_generator(path, config=ModelConfig(channels=16, n_heads=2, sentence_dim=12, word_dim=10))
    with pytest.raises(MissingResourceError):
        load_published_generator(tmp_path / "absent.pt")


class _RunsCode:
    """Unpickling this calls os.mkdir: what a malicious checkpoint would do."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "generator.pt"
    torch.save({"lin_code.bias": torch.zeros(2), "payload": _RunsCode(str(marker))}, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_published_generator(path)
    assert not marker.exists(), "the pickle payload ran"
    # a plain pickle (not a torch zip) is refused the same way
    path.write_bytes(pickle.dumps(_RunsCode(str(marker))))
    with pytest.raises(CheckpointError):
        load_published_generator(path)
    assert not marker.exists()


def test_paper_preset_is_the_published_config():
    config = preset("paper")
    assert (config.channels, config.n_heads, config.sentence_dim, config.word_dim) == (128, 10, 512, 768)
    assert config.tf_ca and config.multi_tfca == "release" and config.attention_plan == PLAN
