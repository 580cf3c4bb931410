"""AudioGAN discriminator. The authors did not release theirs; this follows the paper (sec. 3.1,
Fig. 2, Fig. 3 right):

    D1: residual down-sampling blocks with SDT attention stages in config.discriminator_plan
        order (single -> double -> triple as resolution drops), mirroring the generator:
        block i undoes the generator's up-sampling step 5 - i, so the last block is on the
        generator's base grid [base_freq, base_frames]. Local features l = 1x1 projection to
        word_dim (used by the L2W contrastive loss, eq. 3-5).
    D2: global feature g = SN linear(sum over (F', T') of ReLU(h)) -> sentence_dim (G2S, F2R,
        OCC losses, eq. 2, 6, 7, "penultimate layer").
    D3: projection discriminator (Miyato & Koyama 2018):
        logit = linear(g) + <g, embed(sentence)>    (hinge loss, eq. 1)
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SDTAttention, padding_mask
from .config import ModelConfig
from .errors import InputError
from .generator import _check_finite, _shape, validate_text_features
from .layers import ResBlockDown, SNConv2d, SNLinear

__all__ = ["CategoryHead", "Discriminator", "DiscriminatorOutput"]

# Blocks (0-based) after which the three SDT stages sit. They mirror the generator: its triple,
# double and single stages run 2, 3 and 4 time-doublings above the base grid, and D's stages
# after blocks 2, 1, 0 run at exactly those resolutions.
_STAGE_AFTER_BLOCK = (0, 1, 2)
# Heads per D attention stage: min(config.n_heads, config.d_max_heads) (ModelConfig explains the
# default of 2).


class DiscriminatorOutput(NamedTuple):
    logit: torch.Tensor  # [B] real/fake score (hinge loss)
    global_feature: torch.Tensor  # [B, sentence_dim] g (D2)
    local_features: torch.Tensor  # [B, word_dim, F', T'] l (D1), F' x T' = base grid


class Discriminator(nn.Module):
    """mel [B, 1, n_mels, frames] + text features -> DiscriminatorOutput.

    Widths d, 2d, 4d, 8d, 8d (d = config.d_channels). Block i pools time by 2 and frequency by
    config.freq_upsample[4 - i]; for the paper preset the grid goes 64x1024 -> 2x32. SDT stages
    follow the first three blocks (widths d, 2d, 4d) with min(n_heads, d_max_heads) heads each.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d = config.d_channels
        widths = [1, d, 2 * d, 4 * d, 8 * d, 8 * d]
        freq_down = list(reversed(config.freq_upsample))
        self.n_heads = min(config.n_heads, config.d_max_heads)
        self.blocks = nn.ModuleList(
            ResBlockDown(widths[i], widths[i + 1], (freq_down[i], 2), first=i == 0) for i in range(5))
        self.attention = nn.ModuleList(
            SDTAttention(widths[i + 1], kinds, self.n_heads, config.sentence_dim, config.word_dim,
                         tf_ca=config.tf_ca, multi_tfca=config.multi_tfca)
            for i, kinds in zip(_STAGE_AFTER_BLOCK, config.discriminator_plan))
        self.local_proj = SNConv2d(widths[-1], config.word_dim, 1, 1, 0)
        self.global_proj = SNLinear(widths[-1], config.sentence_dim)
        self.linear = SNLinear(config.sentence_dim, 1)
        self.embed = SNLinear(config.sentence_dim, config.sentence_dim, bias=False)

    @property
    def local_grid(self) -> tuple[int, int]:
        """(F', T') of the local features."""
        return (self.config.base_freq, self.config.base_frames)

    # D1 -----------------------------------------------------------------------------------
    def features(self, mel: torch.Tensor, sentence: torch.Tensor, words: torch.Tensor,
                 lengths: torch.Tensor | None = None) -> torch.Tensor:
        """D1 trunk: ReLU of the last block, [B, 8d, F', T']. Validates the inputs."""
        cfg = self.config
        step = cfg.frames_per_base_frame
        fits = isinstance(mel, torch.Tensor) and mel.dim() == 4 and tuple(mel.shape[1:3]) == (1, cfg.n_mels) and (
            mel.shape[3] % step == 0 and mel.shape[3] >= step if cfg.any_length else mel.shape[3] == cfg.frames)
        if not fits:
            got = _shape(mel) if isinstance(mel, torch.Tensor) else type(mel).__name__
            frames = f"a multiple of {step} frames" if cfg.any_length else f"{cfg.frames}"
            raise InputError(f"mel must have shape [batch, 1, {cfg.n_mels}, {frames}] "
                             f"(n_mels, frames of the model config), got {got}")
        _check_finite("mel", mel)
        sentence, words, lengths = validate_text_features(cfg, sentence, words, lengths, batch=mel.shape[0])
        mask = padding_mask(lengths, words.shape[1])  # [B, L]
        h = mel  # [B, 1, F, T]
        stages = dict(zip(_STAGE_AFTER_BLOCK, self.attention))
        for i, block in enumerate(self.blocks):
            h = block(h)  # [B, C_i, F_i, T_i]
            if i in stages:
                h = stages[i](h, sentence, words, mask)  # [B, C_i, F_i, T_i]
        return F.relu(h)  # [B, 8d, F', T']

    def local_from_features(self, h: torch.Tensor) -> torch.Tensor:
        return self.local_proj(h)  # [B, Dw, F', T']

    def local(self, mel: torch.Tensor, sentence: torch.Tensor, words: torch.Tensor,
              lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Local audio features l: [B, word_dim, F', T']."""
        return self.local_from_features(self.features(mel, sentence, words, lengths))

    # D2, D3 -------------------------------------------------------------------------------
    def global_from_features(self, h: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        pooled = h.mean(dim=(2, 3)) * cfg.d_pool_scale if cfg.d_pooling == "mean" else h.sum(dim=(2, 3))  # [B, 8d]
        return self.global_proj(pooled)  # [B, Ds]

    def logit_from_global(self, g: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """Projection head: linear(g) + <g, embed(s)>, [B]."""
        return self.linear(g).squeeze(1) + (g * self.embed(sentence)).sum(dim=1)  # [B]

    def null_text(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The text a text-blind trunk sees: a zero sentence and one zero word per item."""
        cfg = self.config
        sentence = like.new_zeros(batch, cfg.sentence_dim)  # [B, Ds]
        words = like.new_zeros(batch, 1, cfg.word_dim)  # [B, 1, Dw]
        return sentence, words, torch.ones(batch, dtype=torch.long, device=like.device)

    def forward(self, mel: torch.Tensor, sentence: torch.Tensor, words: torch.Tensor,
                lengths: torch.Tensor | None = None, *, blind: bool = False) -> DiscriminatorOutput:
        """blind=False (the paper): the trunk's SDT stages attend to the caption. blind=True: the
        trunk sees `null_text`, so g and l depend on the audio alone and the caption enters only
        through the projection head. With the caption in the trunk, D can copy the sentence into
        g, and the contrastive losses (G2S, OCC, F2R) are then met whatever the audio is."""
        if blind:
            validate_text_features(self.config, sentence, words, lengths, batch=mel.shape[0])
            h = self.features(mel, *self.null_text(mel.shape[0], mel))  # [B, 8d, F', T']
        else:
            h = self.features(mel, sentence, words, lengths)  # [B, 8d, F', T']
        g = self.global_from_features(h)  # [B, Ds]
        return DiscriminatorOutput(self.logit_from_global(g, sentence), g, self.local_from_features(h))


class CategoryHead(nn.Module):
    """Auxiliary classifier on D's global feature (AC-GAN, Odena et al. 2017; not in the paper):
    g [B, sentence_dim] -> sound-category logits [B, n_categories]. Training only: it lives in
    the training checkpoint, not in the model folder, and the generator never sees it."""

    def __init__(self, sentence_dim: int, n_categories: int):
        super().__init__()
        if n_categories < 2:
            raise ValueError(f"CategoryHead needs at least 2 categories, got {n_categories}")
        self.n_categories = n_categories
        self.linear = SNLinear(sentence_dim, n_categories)

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return self.linear(g)  # [B, K]
