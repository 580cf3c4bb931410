"""Attention modules of AudioGAN (paper 000, sec. 3.2) and the SDT stage that combines them.

Shapes: audio x is [B, C, F, T] (C channels, F mel bins, T frames); a text condition is
[B, N, Cc] (N = number of words, or 1 for the sentence feature); `mask` is [B, N] with True on
padded word positions. Every module returns x + gamma * attention_output, gamma a learnable
scalar initialised to 0 (SAGAN), so a fresh module is the identity.

Parameter names follow the authors' released generator.py so their weights load unchanged.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .layers import RELU_GAIN, SNConv1d

__all__ = ["SelfAttention", "CrossAttention", "SelfTFCA", "MultiTFCA", "SDTAttention", "padding_mask"]

# Logit of a padded word (the released code adds -1e9). Finite so that a fully masked row
# cannot produce NaN; clamped to the dtype's range for float16 (autocast).
_MASK_LOGIT = -1e9


def _masked(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(mask, max(_MASK_LOGIT, torch.finfo(logits.dtype).min))


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B] lengths -> [B, max_len] bool, True where position >= length (a padded word)."""
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]  # [B, N]


def _conv(in_ch: int, out_ch: int) -> SNConv1d:
    return SNConv1d(in_ch, out_ch, 1, gain=RELU_GAIN)


class SelfAttention(nn.Module):
    """Plain self-attention over all F*T positions (SAGAN): O((F*T)^2) memory.

    Kept for the `tf_ca=False` ablation and the memory comparison. As in the released code the
    softmax runs over the *query* index i, and output j = sum_i softmax_i(q_i . k_j) v_i.
    """

    def __init__(self, channels: int, embed_dim: int):
        super().__init__()
        self.query = _conv(channels, embed_dim)
        self.key = _conv(channels, embed_dim)
        self.value = _conv(channels, channels)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        flat = x.reshape(b, c, f * t)  # [B, C, FT]
        query = self.query(flat).transpose(1, 2)  # [B, FT, E]
        key = self.key(flat)  # [B, E, FT]
        attn = torch.softmax(torch.bmm(query, key), dim=1)  # [B, FT(i), FT(j)], sums to 1 over i
        out = torch.bmm(self.value(flat), attn)  # [B, C, FT]
        return torch.addcmul(x, self.gamma, out.reshape(b, c, f, t))  # [B, C, F, T] = x + gamma * out


class CrossAttention(nn.Module):
    """Plain cross-attention: every audio position (query) attends over the N condition
    tokens (keys/values); padded words are masked. Memory O(F*T*N)."""

    def __init__(self, channels: int, cond_dim: int, embed_dim: int):
        super().__init__()
        self.query = _conv(channels, embed_dim)
        self.key = _conv(cond_dim, embed_dim)
        self.value = _conv(cond_dim, channels)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, c, f, t = x.shape
        cond = cond.transpose(1, 2)  # [B, Cc, N]
        query = self.query(x.reshape(b, c, f * t)).transpose(1, 2)  # [B, FT, E]
        logits = torch.bmm(query, self.key(cond))  # [B, FT, N]
        if mask is not None:
            logits = _masked(logits, mask[:, None, :])  # [B, FT, N]
        attn = torch.softmax(logits, dim=-1)  # [B, FT, N]
        out = torch.bmm(attn, self.value(cond).transpose(1, 2))  # [B, FT, C]
        return torch.addcmul(x, self.gamma, out.transpose(1, 2).reshape(b, c, f, t))  # [B, C, F, T]


class SelfTFCA(nn.Module):
    """Self time-frequency cross-attention (eq. 8-12). The attention map is [F, T] per clip,
    O(F*T) memory, where plain self-attention needs an [F*T, F*T] map.

        x^f = mean_t x  [B, C, F],   x^t = mean_f x  [B, C, T]                         (8)
        W_f2t = softmax_T((q^f x^f)^T (k^t x^t))   [B, F, T]                              (9)
        W_t2f = softmax_F((q^t x^t)^T (k^f x^f))   [B, T, F]                              (10)
        W = W_f2t + W_t2f^T                        [B, F, T]                              (11)
        x' = x + gamma * (v x) * W   (element-wise, W broadcast over channels)            (12)
    """

    def __init__(self, channels: int, embed_dim: int):
        super().__init__()
        self.f_query = _conv(channels, embed_dim)
        self.t_key = _conv(channels, embed_dim)
        self.t_query = _conv(channels, embed_dim)
        self.f_key = _conv(channels, embed_dim)
        self.value = _conv(channels, channels)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The fused map W of eq. 11: [B, F, T]."""
        x_f = x.mean(dim=3)  # [B, C, F]
        x_t = x.mean(dim=2)  # [B, C, T]
        f2t = torch.softmax(torch.bmm(self.f_query(x_f).transpose(1, 2), self.t_key(x_t)), dim=-1)  # [B, F, T]
        t2f = torch.softmax(torch.bmm(self.t_query(x_t).transpose(1, 2), self.f_key(x_f)), dim=-1)  # [B, T, F]
        return f2t + t2f.transpose(1, 2)  # [B, F, T]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        value = self.value(x.reshape(b, c, f * t)).reshape(b, c, f, t)  # [B, C, F, T]
        # one pass over [B, C, F, T]: x + value * (gamma * W); these element-wise passes, not
        # the 1x1 convs, dominate the time of a stage on a CPU
        return torch.addcmul(x, value, self.gamma * self.weights(x)[:, None])  # [B, C, F, T]


class MultiTFCA(nn.Module):
    """Multi time-frequency cross-attention: audio conditioned on text tokens [B, N, Cc].

    variant="release" (the authors' released code, needed for their weights): the audio axes
    query the text. With x^f, x^t from eq. 8,
        A_f = softmax_N((f_query x^f)^T (t_key c))   [B, F, N]
        A_t = softmax_N((t_query x^t)^T (f_key c))   [B, T, N]
        out[f, t] = sum_n (A_f[f, n] + A_t[t, n]) (value c)_n      (value: Cc -> C)
    The released code materialises the [B, F*T, N] sum; here it is split as A_f V + A_t V,
    the same number with O((F + T) * C) memory besides the output. With the sentence (N = 1)
    both softmaxes are identically 1: the branch reduces to x + 2 gamma value(s), and its
    query/key projections never get a gradient (a property of the released design).

    variant="paper" (eq. 13-15 literally): the text queries the audio axes,
        W_c2f = softmax_F((f_query c)(f_key x^f)^T)   [B, N, F]      (13)
        W_c2t = softmax_T((t_query c)(t_key x^t)^T)   [B, N, T]      (14)
        W = W_c2f^T W_c2t                              [B, F, T]      (15)
        x' = x + gamma * (value x) * W                 (value: C -> C, as eq. 12)
    Padded words are dropped by zeroing their rows of W_c2f before the product, so W sums to
    the number of real words over (F, T).
    """

    def __init__(self, channels: int, cond_dim: int, embed_dim: int, variant: str = "release"):
        super().__init__()
        if variant not in ("release", "paper"):
            raise ValueError(f"MultiTFCA variant must be 'release' or 'paper', got {variant!r}")
        self.variant = variant
        if variant == "release":
            self.f_query = _conv(channels, embed_dim)
            self.t_key = _conv(cond_dim, embed_dim)
            self.t_query = _conv(channels, embed_dim)
            self.f_key = _conv(cond_dim, embed_dim)
            self.value = _conv(cond_dim, channels)
        else:
            self.f_query = _conv(cond_dim, embed_dim)
            self.t_query = _conv(cond_dim, embed_dim)
            self.f_key = _conv(channels, embed_dim)
            self.t_key = _conv(channels, embed_dim)
            self.value = _conv(channels, channels)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.variant == "release":
            return self._release(x, cond, mask)
        return self._paper(x, cond, mask)

    def _release(self, x, cond, mask):
        x_f = x.mean(dim=3)  # [B, C, F]
        x_t = x.mean(dim=2)  # [B, C, T]
        cond = cond.transpose(1, 2)  # [B, Cc, N]
        freq_logits = torch.bmm(self.f_query(x_f).transpose(1, 2), self.t_key(cond))  # [B, F, N]
        time_logits = torch.bmm(self.t_query(x_t).transpose(1, 2), self.f_key(cond))  # [B, T, N]
        if mask is not None:
            freq_logits = _masked(freq_logits, mask[:, None, :])  # [B, F, N]
            time_logits = _masked(time_logits, mask[:, None, :])  # [B, T, N]
        value = self.value(cond).transpose(1, 2)  # [B, N, C]
        out_f = torch.bmm(torch.softmax(freq_logits, dim=-1), value)  # [B, F, C]
        out_t = torch.bmm(torch.softmax(time_logits, dim=-1), value)  # [B, T, C]
        out_f = (self.gamma * out_f).transpose(1, 2)[:, :, :, None]  # [B, C, F, 1]
        out_t = (self.gamma * out_t).transpose(1, 2)[:, :, None, :]  # [B, C, 1, T]
        return x + out_f + out_t  # [B, C, F, T] = x + gamma * (A_f V + A_t V)

    def weights(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Paper variant only: the fused map W of eq. 15, [B, F, T]."""
        if self.variant != "paper":
            raise RuntimeError("weights() exists for the 'paper' variant only (release has no [F, T] map)")
        x_f = x.mean(dim=3)  # [B, C, F]
        x_t = x.mean(dim=2)  # [B, C, T]
        cond = cond.transpose(1, 2)  # [B, Cc, N]
        c2f = torch.softmax(torch.bmm(self.f_query(cond).transpose(1, 2), self.f_key(x_f)), dim=-1)  # [B, N, F]
        c2t = torch.softmax(torch.bmm(self.t_query(cond).transpose(1, 2), self.t_key(x_t)), dim=-1)  # [B, N, T]
        if mask is not None:
            c2f = c2f.masked_fill(mask[:, :, None], 0.0)  # [B, N, F], padded words contribute nothing
        return torch.bmm(c2f.transpose(1, 2), c2t)  # [B, F, T]

    def _paper(self, x, cond, mask):
        b, c, f, t = x.shape
        value = self.value(x.reshape(b, c, f * t)).reshape(b, c, f, t)  # [B, C, F, T]
        return torch.addcmul(x, value, self.gamma * self.weights(x, cond, mask)[:, None])  # [B, C, F, T]


class SDTAttention(nn.Module):
    """One Single-Double-Triple attention stage (sec. 3.2.1, Fig. 3; published
    `Multi_Triple_Attention`). For each head h:

        o_h = x + g_h * conv_for_attention(cat_k A_k^h(x))     k in `kinds` (self/word/sentence)
    and the stage returns x + out(cat_h o_h).

    Quirk of the released code: its per-head gates g_h sit in a plain Python list, so they are
    not registered parameters: never trained, absent from the state dict, always 0. The
    published generator therefore ignores all its attention modules (each head returns x; only
    the `out` 1x1 conv acts). Here the gates are a registered parameter `head_gates` [n_heads],
    initialised to 0 and trained; loading the published weights sets them to 0, which gives
    the published output exactly.
    """

    def __init__(self, channels: int, kinds: Sequence[str] | str, n_heads: int, sentence_dim: int,
                 word_dim: int, tf_ca: bool = True, multi_tfca: str = "release", embed_dim: int | None = None):
        super().__init__()
        if isinstance(kinds, str):
            kinds = [k.strip() for k in kinds.split(",") if k.strip()]
        kinds = list(kinds)
        bad = [k for k in kinds if k not in ("self", "word", "sentence")]
        if not kinds or bad or len(set(kinds)) != len(kinds):
            raise ValueError(f"attention kinds must be distinct names among self/word/sentence, got {kinds}")
        # Canonical order self, word, sentence (the released code concatenates in this order
        # whatever the order of its list, and conv_for_attention's weight depends on it).
        self.kinds = [k for k in ("self", "word", "sentence") if k in kinds]
        self.n_heads = n_heads
        embed_dim = embed_dim or channels  # the released generator uses the stage width

        def cross(cond_dim):
            if tf_ca:
                return MultiTFCA(channels, cond_dim, embed_dim, variant=multi_tfca)
            return CrossAttention(channels, cond_dim, embed_dim)

        heads = range(n_heads)
        if "self" in kinds:
            make = SelfTFCA if tf_ca else SelfAttention
            self.self_attention_modules = nn.ModuleList(make(channels, embed_dim) for _ in heads)
        if "word" in kinds:
            self.cross_attention_for_word_modules = nn.ModuleList(cross(word_dim) for _ in heads)
        if "sentence" in kinds:
            self.cross_attention_for_sent_modules = nn.ModuleList(cross(sentence_dim) for _ in heads)
        self.head_gates = nn.Parameter(torch.zeros(n_heads))
        self.conv_for_attention = _conv(channels * len(kinds), channels)
        self.out = _conv(channels * n_heads, channels)

    def forward(self, x: torch.Tensor, sentence: torch.Tensor, words: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, C, F, T], sentence [B, Ds], words [B, L, Dw], mask [B, L] (True = padding)."""
        b, c, f, t = x.shape
        sent = sentence[:, None, :]  # [B, 1, Ds]
        # A closed gate (exactly 0) makes its head return x. When no gradient is wanted, skip
        # computing such heads: same output, and the published weights (all gates 0) run
        # several times faster.
        closed = [False] * self.n_heads
        if not (torch.is_grad_enabled() and self.head_gates.requires_grad):
            closed = [g == 0.0 for g in self.head_gates.tolist()]
        heads = []
        for h in range(self.n_heads):
            if closed[h]:
                heads.append(x)
                continue
            parts = []
            for kind in self.kinds:
                if kind == "self":
                    parts.append(self.self_attention_modules[h](x))  # [B, C, F, T]
                elif kind == "word":
                    parts.append(self.cross_attention_for_word_modules[h](x, words, mask))  # [B, C, F, T]
                else:
                    parts.append(self.cross_attention_for_sent_modules[h](x, sent))  # [B, C, F, T]
            mixed = self.conv_for_attention(torch.cat(parts, dim=1).reshape(b, -1, f * t))  # [B, C, FT]
            heads.append(torch.addcmul(x, self.head_gates[h], mixed.reshape(b, c, f, t)))  # [B, C, F, T]
        out = self.out(torch.cat(heads, dim=1).reshape(b, c * self.n_heads, f * t))  # [B, C, FT]
        return x + out.reshape(b, c, f, t)  # [B, C, F, T]
