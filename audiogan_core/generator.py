"""AudioGAN generator (paper 000, sec. 3.2, Fig. 3 right), laid out as the authors' released
generator.py so that their state dict maps onto it name for name (see published.py)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SDTAttention, padding_mask
from .config import ModelConfig
from .errors import InputError
from .layers import ResBlockUp, SNConv1d, SNLinear, wrapped_time
from .mel import SILENCE_LOG_MEL

__all__ = ["Generator", "LevelEnvelope", "validate_text_features", "clock", "position_channels",
           "sequence_projection_from_grid"]

POSITION_TAU_SECONDS = 0.25  # channel k saturates with time constant 0.25 * 4^k s: 0.25, 1, 4, 16 s ...


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _check_finite(name: str, t: torch.Tensor) -> None:
    if not torch.is_floating_point(t):
        raise InputError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{name} must be finite, found NaN or inf values")


def validate_text_features(config: ModelConfig, sentence, words, lengths, batch: int | None = None
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check text features against the config; returns (sentence, words, lengths) with lengths
    as a long tensor on the features' device ([B]; None means every word position is real).

    sentence [B, sentence_dim], words [B, L, word_dim] (L >= 1), lengths [B] integers in 1..L.
    Raises InputError naming the tensor, the expected and the actual shape or value.
    """
    if not isinstance(sentence, torch.Tensor) or not isinstance(words, torch.Tensor):
        raise InputError("sentence and word features must be torch tensors")
    if sentence.dim() != 2 or sentence.shape[1] != config.sentence_dim:
        raise InputError(f"sentence features must have shape [batch, {config.sentence_dim}] "
                         f"(config.sentence_dim), got {_shape(sentence)}")
    if words.dim() != 3 or words.shape[2] != config.word_dim:
        raise InputError(f"word features must have shape [batch, words, {config.word_dim}] "
                         f"(config.word_dim), got {_shape(words)}")
    b = sentence.shape[0] if batch is None else batch
    if sentence.shape[0] != b or words.shape[0] != b:
        raise InputError(f"batch sizes differ: expected {b}, sentence features have {sentence.shape[0]}, "
                         f"word features have {words.shape[0]}")
    if words.shape[1] < 1:
        raise InputError("word features have no word positions (L = 0); give at least one")
    _check_finite("sentence features", sentence)
    _check_finite("word features", words)
    n_words = words.shape[1]
    if lengths is None:
        lengths = torch.full((b,), n_words, dtype=torch.long, device=words.device)
    else:
        try:
            lengths = torch.as_tensor(lengths, device=words.device)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"lengths must be a [batch] tensor or list of integers ({exc})") from None
        if lengths.dim() != 1 or lengths.shape[0] != b:
            raise InputError(f"lengths must have shape [{b}] (one word count per clip), got {_shape(lengths)}")
        if torch.is_floating_point(lengths) or lengths.dtype == torch.bool:
            raise InputError(f"lengths must be integers, got dtype {lengths.dtype}")
        lengths = lengths.long()
        bad = ((lengths < 1) | (lengths > n_words)).nonzero().flatten()
        if bad.numel():
            i = int(bad[0])
            raise InputError(f"lengths must be between 1 and {n_words} (the number of word positions); "
                             f"got {int(lengths[i])} at index {i}")
    return sentence, words, lengths


def clock(config: ModelConfig, seconds: torch.Tensor, loop: bool = False) -> torch.Tensor:
    """[P, N] saturating clock at the times `seconds` [N]: channel k is 1 - 2 exp(-t / tau_k), from -1
    at the clip's start towards +1. A loop has no start, so every time gets the saturated value (+1):
    the clip is all "middle" and can wrap around."""
    p = config.position_channels
    if loop:
        return torch.ones(p, seconds.numel())
    tau = POSITION_TAU_SECONDS * 4.0 ** torch.arange(p, dtype=torch.float32)
    return 1.0 - 2.0 * torch.exp(-seconds.float()[None, :] / tau[:, None])  # [P, N]


def position_channels(config: ModelConfig, base_frames: int, loop: bool = False) -> torch.Tensor:
    """[P, T0] the clock for the base grid, at the time of each base frame's start."""
    seconds = torch.arange(base_frames, dtype=torch.float32) * config.mel.seconds_for(config.frames_per_base_frame)
    return clock(config, seconds, loop)


def frame_clock(config: ModelConfig, frames: int) -> torch.Tensor:
    """[P, frames] the clock at each mel frame's start (what a level envelope reads)."""
    return clock(config, torch.arange(frames, dtype=torch.float32) * config.mel.seconds_for(1))


def frame_gain(mel: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """mel [B, 1, F, T] shifted by gain [B, 1, 1, T] nats, every bin of a frame alike; nothing is pushed
    below silence (a bin already under it stays where it is). A gain of 0 leaves mel exactly as it is."""
    return torch.maximum(mel + gain, mel.clamp(max=SILENCE_LOG_MEL))  # [B, 1, F, T]


def median_along_time(x: torch.Tensor, width: int, circular: bool = False) -> torch.Tensor:
    """[..., T] -> [..., T]: each frame the median of the `width` frames centred on it (odd width).
    The ends are padded with their own frame (a clip's first frame is not wrapped onto its last),
    or circularly for a loop, whose end runs into its start."""
    p = width // 2
    if p == 0:
        return x
    shape = x.shape
    t = shape[-1]
    flat = x.reshape(-1, 1, t)  # [N, 1, T]
    if circular:  # tiled, so a loop shorter than the half-width wraps more than once
        reps = -(-p // t)
        padded = flat.repeat(1, 1, 2 * reps + 1)[..., reps * t - p: reps * t + t + p]  # [N, 1, T + 2p]
    else:
        padded = F.pad(flat, (p, p), mode="replicate")  # [N, 1, T + 2p]
    return padded.unfold(-1, width, 1).median(-1).values.reshape(shape)  # [..., T]


class LevelEnvelope(nn.Module):
    """Turns the generated log-mel down frame by frame, as the sentence vector and the clock decide.
    A two-layer network of [sentence; clock_t] gives one value per frame, its `course`:

    - form "gain": a gain of a_t nats (8.7 a_t dB) on every bin, mel' = max(mel + a_t, min(mel,
      floor)), floor = the log-mel of digital silence, a_t = SCALE * mlp. A gain keeps each frame's
      spectral shape; no bin is pushed below the floor.
    - form "ceiling": the highest a frame's loudest bin may stand above the floor, c_t = CEILING_START
      + SCALE * mlp; a frame over it gets the gain min(0, c_t - peak_t) that brings it down to it, one
      under it is left as it is. It reads the generated mel, so it takes a later event down where one
      actually comes and leaves quiet frames (a texture's, a tail's) alone.

    The last layer starts at zero: a_t = 0, or a ceiling above any frame, so the module is the
    identity until training moves it (a model grown from one without it starts as that model; a
    fresh ceiling gets no gradient until fitted). Loops skip it: a loop has no start, and at the
    saturated clock a one-shot's envelope is its silent tail. Trained adversarially with the rest
    (`audiogan train`) or fitted alone to a library's level contours (`audiogan fit-level`)."""

    HIDDEN = 64
    SCALE = 16.0  # a larger step for the one output: it must travel several units in a few hundred steps
    CEILING_START = 40.0  # nats above the floor: over any frame's loudest bin (real and generated peaks reach ~16)

    def __init__(self, sentence_dim: int, position_channels: int, form: str = "gain"):
        super().__init__()
        self.form = form
        self.hidden = nn.Linear(sentence_dim + position_channels, self.HIDDEN)
        self.out = nn.Linear(self.HIDDEN, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def course(self, sentence: torch.Tensor, clock_t: torch.Tensor) -> torch.Tensor:
        """sentence [B, Ds], clock_t [P, T] -> [B, T]: the gain a_t in nats (form "gain") or the
        ceiling c_t in nats above the floor (form "ceiling")."""
        ds = sentence.shape[-1]
        w = self.hidden.weight  # [H, Ds + P]: the hidden layer of [sentence; clock_t], split so that the
        # sentence's share is computed once per clip rather than once per frame
        by_text = F.linear(sentence, w[:, :ds], self.hidden.bias)  # [B, H]
        by_time = F.linear(clock_t.t().to(sentence), w[:, ds:])  # [T, H]
        value = self.SCALE * self.out(F.relu(by_text[:, None, :] + by_time[None]))[..., 0]  # [B, T]
        return value if self.form == "gain" else self.CEILING_START + value

    def forward(self, mel: torch.Tensor, sentence: torch.Tensor, clock_t: torch.Tensor) -> torch.Tensor:
        """mel [B, 1, F, T], sentence [B, Ds], clock_t [P, T] -> mel [B, 1, F, T]."""
        a = self.course(sentence, clock_t)[:, None, None, :]  # [B, 1, 1, T]
        if self.form == "ceiling":
            peak = (mel - SILENCE_LOG_MEL).amax(dim=2, keepdim=True)  # [B, 1, 1, T]
            a = (a - peak).clamp(max=0.0)  # [B, 1, 1, T]: 0 wherever the frame is under its ceiling
        return frame_gain(mel, a)  # [B, 1, F, T]; exactly mel while a = 0


@torch.no_grad()
def sequence_projection_from_grid(grid: ModelConfig, sequence: ModelConfig, weight_orig: torch.Tensor,
                                  bias: torch.Tensor) -> dict[str, torch.Tensor]:
    """A fixed-length generator's noise projection (SN linear: z -> the c x F0 x T0 grid) as an
    any-length one's (SN 1x1 conv: [z_t; position_t] -> c x F0 per base frame), for fine-tuning.

    The grid's per-position weights W_t are nearly orthogonal, so sum_t W_t / sqrt(T0) gives each
    base frame's vector the grid positions' average covariance (their mean would shrink it by
    sqrt(T0)); the bias is their mean and the position columns start at 0. Spectral norm divides
    by the largest singular value, so that one is set to 1 and the rest stay as they are: only
    the top direction changes scale. Returns lin_code's weight_orig, bias and weight_u."""
    c, f0, t0 = grid.channels, grid.base_freq, grid.base_frames
    if (sequence.channels, sequence.base_freq, sequence.noise_dim) != (c, f0, grid.noise_dim):
        raise ValueError("the grid and sequence models differ in channels, base_freq or noise_dim")
    w = weight_orig.reshape(c * f0 * t0, grid.noise_dim).double()
    w = w / torch.linalg.matrix_norm(w, ord=2)  # the effective weight: what the grid model applied
    w_z = w.view(c * f0, t0, -1).sum(1) / t0 ** 0.5  # [c*F0, noise]
    u, s, vh = torch.linalg.svd(w_z, full_matrices=False)
    s[0] = 1.0
    w_z = u @ torch.diag(s) @ vh
    weight = torch.cat([w_z, w_z.new_zeros(c * f0, sequence.position_channels)], dim=1)  # [c*F0, noise + P]
    return {"weight_orig": weight[:, :, None].to(weight_orig.dtype),
            "bias": bias.view(c * f0, t0).mean(1).to(bias.dtype),
            "weight_u": u[:, 0].to(weight_orig.dtype)}


class Generator(nn.Module):
    """z + text features -> log-mel [B, 1, n_mels, frames].

    noise_input "global" (the paper): z [B, noise_dim]; frames = base_frames * 32, fixed.
    noise_input "sequence": z [B, noise_dim, T0], one noise vector per base frame, any T0;
    frames = T0 * 32. noise_input "blocks": z as for "sequence", of which the vector at each
    block's first base frame is used: the paper's linear layer makes a noise_block-frame grid per
    block, the grids lie side by side (cut to T0) and the position clock is added through a 1x1
    projection that starts at zero, so a fixed-length model's weights make its own clips here.
    `loop=True` (any-length models only) pads time circularly in every conv and holds the position
    channels at their saturated value, so the clip's end runs into its start.

        lin_code (SN linear; per block; or SN 1x1 conv over [z; position]) -> [B, c, base_freq, T0]
        conv1 (up) conv2 (up)  -> multi_triple_attention_1   at c/2, plan[0] (paper: triple)
        conv3 (up) conv4       -> multi_triple_attention_2   at c/4, plan[1] (paper: double)
        conv5 (up) conv6       -> multi_triple_attention_3   at c/4, plan[2] (paper: single)
        conv7 (up) -> bn -> ReLU -> colorize (SN 1x1)        -> [B, 1, n_mels, frames]
        level (config.level_envelope: sentence + clock, a gain or a ceiling; not in a loop) -> [B, 1, n_mels, frames]
        median along time (config.output_median frames, of the mel or of each frame's level, on every frame or the
        quiet ones; wrapped in a loop)

    Up-sampling blocks double time and scale frequency by config.freq_upsample[i]. Every block
    is conditioned on the sentence feature through conditional batch norm. Channel widths are
    those of the released code: c, c, c/2, c/2, c/4, c/4, c/4, c/8.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c, s = config.channels, config.sentence_dim
        widths = [c, c, c // 2, c // 2, c // 4, c // 4, c // 4, c // 8]
        f1, f2, f3, f5, f7 = config.freq_upsample
        if config.noise_input == "blocks":
            self.lin_code = SNLinear(config.noise_dim, c * config.base_freq * config.noise_block)
            if config.position_channels:
                # plain conv, zero at the start: spectral norm has no scale to give an all-zero weight
                self.pos_code = nn.Conv1d(config.position_channels, c * config.base_freq, 1)
                nn.init.zeros_(self.pos_code.weight)
                nn.init.zeros_(self.pos_code.bias)
        elif config.any_length:
            self.lin_code = SNConv1d(config.noise_dim + config.position_channels, c * config.base_freq, 1)
        else:
            self.lin_code = SNLinear(config.noise_dim, c * config.base_freq * config.base_frames)
        self.conv1 = ResBlockUp(widths[0], widths[1], s, (f1, 2))
        self.conv2 = ResBlockUp(widths[1], widths[2], s, (f2, 2))
        self.multi_triple_attention_1 = self._stage(widths[2], config.attention_plan[0])
        self.conv3 = ResBlockUp(widths[2], widths[3], s, (f3, 2))
        self.conv4 = ResBlockUp(widths[3], widths[4], s, None)
        self.multi_triple_attention_2 = self._stage(widths[4], config.attention_plan[1])
        self.conv5 = ResBlockUp(widths[4], widths[5], s, (f5, 2))
        self.conv6 = ResBlockUp(widths[5], widths[6], s, None)
        self.multi_triple_attention_3 = self._stage(widths[6], config.attention_plan[2])
        self.conv7 = ResBlockUp(widths[6], widths[7], s, (f7, 2))
        self.bn = nn.BatchNorm2d(widths[7])
        self.colorize = SNConv1d(widths[7], 1, 1)
        if config.level_envelope:
            self.level = LevelEnvelope(config.sentence_dim, config.position_channels, config.level_form)

    def _stage(self, channels: int, kinds: str) -> SDTAttention:
        cfg = self.config
        return SDTAttention(channels, kinds, cfg.n_heads, cfg.sentence_dim, cfg.word_dim,
                            tf_ca=cfg.tf_ca, multi_tfca=cfg.multi_tfca)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(1, n_mels, frames) of one generated clip."""
        return (1, self.config.n_mels, self.config.frames)

    def forward(self, z: torch.Tensor, sentence: torch.Tensor, words: torch.Tensor,
                lengths: torch.Tensor | None = None, *, loop: bool = False) -> torch.Tensor:
        """z [B, noise_dim] (global) or [B, noise_dim, T0] (sequence), sentence [B, Ds], words
        [B, L, Dw], lengths [B] (None = all L real) -> log-mel [B, 1, n_mels, frames]."""
        cfg = self.config
        want = (f"[batch, {cfg.noise_dim}, base frames]" if cfg.any_length else f"[batch, {cfg.noise_dim}]")
        if not isinstance(z, torch.Tensor) or z.dim() != (3 if cfg.any_length else 2) or z.shape[1] != cfg.noise_dim \
                or z.shape[-1] < 1:
            got = _shape(z) if isinstance(z, torch.Tensor) else type(z).__name__
            raise InputError(f"noise z must have shape {want} (config.noise_dim), got {got}")
        if loop and not cfg.any_length:
            raise InputError(f"model {cfg.name!r} makes fixed-length clips (noise_input 'global'); loops need "
                             f"a model with noise_input 'sequence'")
        _check_finite("noise z", z)
        sentence, words, lengths = validate_text_features(cfg, sentence, words, lengths, batch=z.shape[0])
        if not loop:
            return self._forward(z, sentence, words, lengths, False)
        with wrapped_time(self):
            return self._forward(z, sentence, words, lengths, True)

    def _blocks(self, z: torch.Tensor, loop: bool) -> torch.Tensor:
        """noise_input "blocks": z [B, noise, T0] -> the base grid [B, c, F0, T0]."""
        cfg = self.config
        b, t0, n = z.shape[0], z.shape[-1], cfg.noise_block
        blocks = z[:, :, ::n].transpose(1, 2)  # [B, K, noise], K = ceil(T0 / n)
        k = blocks.shape[1]
        x = self.lin_code(blocks.reshape(b * k, -1)).view(b, k, cfg.channels, cfg.base_freq, n)  # [B, K, c, F0, n]
        x = x.permute(0, 2, 3, 1, 4).reshape(b, cfg.channels, cfg.base_freq, k * n)[..., :t0]  # [B, c, F0, T0]
        if cfg.position_channels:
            pos = position_channels(cfg, t0, loop).to(z)  # [P, T0]
            x = x + self.pos_code(pos[None]).view(1, cfg.channels, cfg.base_freq, t0)  # [B, c, F0, T0]
        return x

    def _forward(self, z, sentence, words, lengths, loop: bool) -> torch.Tensor:
        cfg = self.config
        mask = padding_mask(lengths, words.shape[1])  # [B, L]
        b = z.shape[0]
        if cfg.noise_input == "blocks":
            x = self._blocks(z, loop)  # [B, c, F0, T0]
        elif cfg.any_length:
            t0 = z.shape[-1]
            if cfg.position_channels:
                pos = position_channels(cfg, t0, loop).to(z)  # [P, T0]
                z = torch.cat([z, pos.expand(b, -1, -1)], dim=1)  # [B, noise + P, T0]
            x = self.lin_code(z).view(b, cfg.channels, cfg.base_freq, t0)  # [B, c, F0, T0]
        else:
            x = self.lin_code(z).view(b, cfg.channels, cfg.base_freq, cfg.base_frames)  # [B, c, F0, T0]
        x = self.conv1(x, sentence)  # [B, c, F0*f1, 2*T0]
        x = self.conv2(x, sentence)  # [B, c/2, ..., 4*T0]
        x = self.multi_triple_attention_1(x, sentence, words, mask)  # [B, c/2, ..., 4*T0]
        x = self.conv3(x, sentence)  # [B, c/2, ..., 8*T0]
        x = self.conv4(x, sentence)  # [B, c/4, ..., 8*T0]
        x = self.multi_triple_attention_2(x, sentence, words, mask)  # [B, c/4, ..., 8*T0]
        x = self.conv5(x, sentence)  # [B, c/4, ..., 16*T0]
        x = self.conv6(x, sentence)  # [B, c/4, ..., 16*T0]
        x = self.multi_triple_attention_3(x, sentence, words, mask)  # [B, c/4, ..., 16*T0]
        x = self.conv7(x, sentence)  # [B, c/8, n_mels, frames]
        x = F.relu(self.bn(x))  # [B, c/8, n_mels, frames]
        f, t = x.shape[2], x.shape[3]
        mel = self.colorize(x.reshape(b, -1, f * t)).reshape(b, 1, f, t)  # [B, 1, n_mels, frames]
        if cfg.level_envelope and not loop:  # a loop has no start, so no course over time to follow
            mel = self.level(mel, sentence, frame_clock(cfg, t).to(mel))  # [B, 1, n_mels, frames]
        if cfg.output_median > 1:
            mel = self.median_output(mel, loop)  # [B, 1, n_mels, frames]
        return mel

    def median_output(self, mel: torch.Tensor, loop: bool) -> torch.Tensor:
        """[B, 1, n_mels, frames] -> the same, with config.output_median's median along time: of every bin or of each
        frame's level (one gain per frame), part of the way (strength), on every frame or on the quiet ones only."""
        cfg = self.config
        level = mel.mean(dim=2, keepdim=True)  # [B, 1, 1, frames]
        act = torch.ones_like(level, dtype=torch.bool)  # [B, 1, 1, frames]
        if cfg.output_median_below_peak > 0:
            act = level < level.amax(dim=-1, keepdim=True) - cfg.output_median_below_peak
        if cfg.output_median_of == "mel":
            smooth = median_along_time(mel, cfg.output_median, loop)  # [B, 1, n_mels, frames]
            moved = torch.lerp(mel, smooth, float(cfg.output_median_strength))  # strength 1: the median exactly
            return torch.where(act, moved, mel)  # [B, 1, n_mels, frames]
        gain = (median_along_time(level, cfg.output_median, loop) - level) \
            * cfg.output_median_strength  # [B, 1, 1, frames]
        return frame_gain(mel, torch.where(act, gain, torch.zeros_like(gain)))  # [B, 1, n_mels, frames]
