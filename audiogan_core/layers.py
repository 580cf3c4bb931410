"""Building blocks shared by the generator and the discriminator.

Spectral norm follows the authors' released code (SeaSky1027/AudioGAN, generator.py): one
power iteration per forward, the raw weight lives in `weight_orig`, the left singular vector
estimate in the buffer `weight_u`. Same names as theirs, so their state dict loads directly.
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SNLinear", "SNConv1d", "SNConv2d", "ConditionalNorm", "ResBlockUp", "ResBlockDown", "wrapped_time"]

RELU_GAIN = math.sqrt(2.0)  # xavier gain of convs followed by ReLU (blocks, attention)


class _SpectralNorm:
    """Mixin: replaces the `weight` parameter with `weight_orig` / sigma(weight_orig).

    Each forward runs one power iteration from `weight_u`:
        v = normalize(W^T u), u = normalize(W v), sigma = u^T W v,  W = weight_orig.view(out, -1)
    u and v are constants for autograd (as in Miyato et al. and the authors' code). The new u is
    written back only in training mode, so eval outputs repeat call after call; the first eval
    call gives what the authors' code gives (theirs updates u in eval too).
    """

    def _init_spectral_norm(self, gain: float) -> None:
        weight = self._parameters.pop("weight")
        nn.init.xavier_uniform_(weight, gain)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.register_parameter("weight_orig", weight)
        u = F.normalize(weight.detach().new_empty(weight.shape[0]).normal_(), dim=0)  # [out]
        self.register_buffer("weight_u", u)

    def normalized_weight(self) -> torch.Tensor:
        weight = self.weight_orig
        w_mat = weight.reshape(weight.shape[0], -1)  # [out, in * k]
        with torch.no_grad():
            v = F.normalize(w_mat.t() @ self.weight_u, dim=0, eps=1e-12)  # [in * k]
            u = F.normalize(w_mat @ v, dim=0, eps=1e-12)  # [out]
            if self.training:
                self.weight_u.copy_(u)
        sigma = u @ w_mat @ v  # scalar, differentiable w.r.t. W only
        return weight / sigma


class SNLinear(_SpectralNorm, nn.Linear):
    """Spectrally normalised nn.Linear (parameters `weight_orig`, `bias`; buffer `weight_u`)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = 1.0):
        super().__init__(in_features, out_features, bias=bias)
        self._init_spectral_norm(gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)


class SNConv1d(_SpectralNorm, nn.Conv1d):
    """Spectrally normalised nn.Conv1d (the attention code uses 1x1 ones over flattened F*T)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 padding: int = 0, bias: bool = True, gain: float = 1.0):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self._init_spectral_norm(gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normalized_weight(), self.bias)


class SNConv2d(_SpectralNorm, nn.Conv2d):
    """Spectrally normalised nn.Conv2d. With `wrap_time` set (see `wrapped_time`), the time axis
    is padded circularly instead of with zeros, so the layer maps a periodic signal to a periodic
    one (seamless loops); frequency keeps its zero padding."""

    wrap_time = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int] = 3,
                 stride: int = 1, padding: int | tuple[int, int] = 1, bias: bool = True, gain: float = 1.0):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self._init_spectral_norm(gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, Cin, F, T] -> [B, Cout, F', T']
        pf, pt = self.padding
        if self.wrap_time and pt:
            x = F.pad(F.pad(x, (pt, pt, 0, 0), mode="circular"), (0, 0, pf, pf))
            return F.conv2d(x, self.normalized_weight(), self.bias, self.stride, 0, self.dilation, self.groups)
        return self._conv_forward(x, self.normalized_weight(), self.bias)


@contextlib.contextmanager
def wrapped_time(module: nn.Module):
    """Inside the block, every SNConv2d of `module` pads time circularly (loops)."""
    convs = [m for m in module.modules() if isinstance(m, SNConv2d)]
    for m in convs:
        m.wrap_time = True
    try:
        yield module
    finally:
        for m in convs:
            m.wrap_time = False


class ConditionalNorm(nn.Module):
    """BatchNorm without affine terms, then a per-sample affine predicted from the condition:
    out = gamma(s) * BN(x) + beta(s). `linear1` -> gamma, `linear2` -> beta (published names;
    plain Linear layers, not spectrally normalised, as in the released code)."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.linear1 = nn.Linear(cond_dim, channels)
        self.linear2 = nn.Linear(cond_dim, channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma = self.linear1(cond)[:, :, None, None]  # [B, C, 1, 1]
        beta = self.linear2(cond)[:, :, None, None]  # [B, C, 1, 1]
        return torch.addcmul(beta, gamma, self.bn(x))  # [B, C, F, T] = gamma * BN(x) + beta, one pass


def _factor(scale: tuple[int, int] | None) -> tuple[int, int]:
    if scale is None:
        return (1, 1)
    f, t = (int(s) for s in scale)
    if f < 1 or t < 1:
        raise ValueError(f"scale factors must be >= 1, got {scale}")
    return (f, t)


class ResBlockUp(nn.Module):
    """Generator residual block (published `ConvBlock` with bn=True):

        main: CN1 -> ReLU -> nearest up (f, t) -> conv1 3x3 -> CN2 -> ReLU -> conv2 3x3
        skip: nearest up (f, t) -> conv_skip 1x1     (identity when shape is unchanged)

    `upsample` is (freq factor, time factor) or None. The convs have no bias: the conditional
    norm that follows supplies one.
    """

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int,
                 upsample: tuple[int, int] | None = (2, 2)):
        super().__init__()
        self.scale = _factor(upsample)
        self.norm1 = ConditionalNorm(in_channels, cond_dim)
        self.conv1 = SNConv2d(in_channels, out_channels, 3, 1, 1, bias=False, gain=RELU_GAIN)
        self.norm2 = ConditionalNorm(out_channels, cond_dim)
        self.conv2 = SNConv2d(out_channels, out_channels, 3, 1, 1, bias=False, gain=RELU_GAIN)
        self.has_skip = in_channels != out_channels or self.scale != (1, 1)
        if self.has_skip:
            self.conv_skip = SNConv2d(in_channels, out_channels, 1, 1, 0, bias=True, gain=1.0)

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == (1, 1):
            return x
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")  # [B, C, F*f, T*t]

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(x, cond))  # [B, Cin, F, T]
        h = self.conv1(self._up(h))  # [B, Cout, F*f, T*t]
        h = self.conv2(F.relu(self.norm2(h, cond)))  # [B, Cout, F*f, T*t]
        skip = self.conv_skip(self._up(x)) if self.has_skip else x  # [B, Cout, F*f, T*t]
        return h + skip


class ResBlockDown(nn.Module):
    """Discriminator residual block (SAGAN/BigGAN style: no normalisation, spectral norm,
    ReLU pre-activation), with the average pooling moved early to keep it cheap:

        main: ReLU -> avg-pool (f, t) -> conv1 3x3 -> ReLU -> conv2 3x3
        skip: avg-pool (f, t) -> conv_skip 1x1     (identity when shape is unchanged)

    so both 3x3 convs run at the output resolution (BigGAN runs them at the input resolution:
    about 4x the cost for a (2, 2) pool). `first=True` is the block that reads the raw log-mel:
    no pre-activation (negative log-mel values carry information a ReLU would discard) and
    conv1 at full resolution (cheap with one input channel) so D sees single-frame detail:

        main: conv1 3x3 -> ReLU -> avg-pool (f, t) -> conv2 3x3
    Pooling before the 1x1 skip conv equals pooling after it (both linear).
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: tuple[int, int] | None = (2, 2),
                 first: bool = False):
        super().__init__()
        self.scale = _factor(downsample)
        self.first = first
        self.conv1 = SNConv2d(in_channels, out_channels, 3, 1, 1, gain=RELU_GAIN)
        self.conv2 = SNConv2d(out_channels, out_channels, 3, 1, 1, gain=RELU_GAIN)
        self.has_skip = in_channels != out_channels or self.scale != (1, 1)
        if self.has_skip:
            self.conv_skip = SNConv2d(in_channels, out_channels, 1, 1, 0, gain=1.0)

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == (1, 1):
            return x
        return F.avg_pool2d(x, self.scale)  # [B, C, F/f, T/t]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.first:
            h = self._down(F.relu(self.conv1(x)))  # [B, Cout, F/f, T/t]
        else:
            h = F.relu(self.conv1(self._down(F.relu(x))))  # [B, Cout, F/f, T/t]
        h = self.conv2(h)  # [B, Cout, F/f, T/t]
        skip = self.conv_skip(self._down(x)) if self.has_skip else x  # [B, Cout, F/f, T/t]
        return h + skip
