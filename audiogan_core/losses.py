"""AudioGAN training losses (paper section 3.1, eq. 1-7 and Figure 2), tensor level.

Shapes (B = batch):
  discriminator output: logit [B], global feature g [B, Ds], local features l [B, Dw, F', T']
                        (R = F'*T' regions);
  text: words w [B, L, Dw] with lengths [B] (positions >= length are padding and are excluded
        everywhere: they neither attend nor enter the sum over words), sentence s [B, Ds].

Convention: every "·" between features in eq. 2-7 is taken on L2-normalised vectors, i.e. it is
a cosine similarity, as in XMC-GAN (the paper's ref [18], where these contrastive losses come
from) and AttnGAN's DAMSM (ref [29], where gamma1/2/3 = 5/5/50 come from). With raw dot products
of unnormalised features, tau = 0.1 and gamma3 = 50 would saturate the softmaxes.

Who optimises what (Figure 2: "D optimises four losses, G five"):
  D: hinge + G2S(real g, s) + L2W(real l, w) + OCC(real g, s)
  G: hinge + G2S(fake g, s) + L2W(fake l, w) + F2R(fake g, real g) + OCC(fake g, s)
F2R detaches the real features itself, so it can never update D.

Each contrastive term can be switched off (the paper's ablations) and weighted; hinge always
has weight 1. Returned dicts hold the unweighted terms and a weighted `total`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from .config import _from_dict
from .errors import ConfigError, InputError

EPS = 1e-8


class DiscriminatorOutputLike(Protocol):
    logit: torch.Tensor  # [B]
    global_feature: torch.Tensor  # [B, Ds]
    local_features: torch.Tensor  # [B, Dw, F', T']


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------
def _normalize(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=-1, eps=EPS)


def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[N, D] x [M, D] -> [N, M] cosine similarities."""
    return _normalize(a) @ _normalize(b).transpose(0, 1)


def _targets(n: int, device) -> torch.Tensor:
    return torch.arange(n, device=device)


def _check_batch(name: str, *tensors: torch.Tensor) -> int:
    sizes = {int(t.shape[0]) for t in tensors}
    if len(sizes) != 1:
        raise InputError(f"{name}: batch sizes differ: {[tuple(t.shape) for t in tensors]}")
    return sizes.pop()


def word_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B] lengths -> [B, max_len] bool, True at real (non-padding) words."""
    lengths = torch.as_tensor(lengths)
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths.to(torch.long)[:, None]


# ------------------------------------------------------------------------------------------
# Eq. 1: hinge
# ------------------------------------------------------------------------------------------
def d_hinge(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    """Eq. 1 (D): mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))."""
    return F.relu(1.0 - real_logit).mean() + F.relu(1.0 + fake_logit).mean()


def d_mismatch_hinge(mismatch_logit: torch.Tensor) -> torch.Tensor:
    """Matching-aware term (GAN-INT-CLS, not in the paper): eq. 1's fake term applied to D's
    logits for real audio paired with another item's caption, mean(relu(1 + D(real, wrong text)))."""
    return F.relu(1.0 + mismatch_logit).mean()


def category_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Auxiliary-classifier term (AC-GAN, not in the paper): cross-entropy of category logits
    [B, K] against labels [B]; items labelled -1 (a caption with no category) are left out,
    and a batch with none labelled gives 0 (with a graph, so backward() still works)."""
    keep = labels >= 0  # [B]
    if not bool(keep.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[keep].float(), labels[keep])


def g_hinge(fake_logit: torch.Tensor) -> torch.Tensor:
    """Eq. 1 (G): -mean(D(fake))."""
    return -fake_logit.mean()


# ------------------------------------------------------------------------------------------
# Eq. 2, 6, 7: global contrastive losses
# ------------------------------------------------------------------------------------------
def g2s(g: torch.Tensor, s: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Eq. 2: -1/N sum_i log softmax_k(cos(g_i, s_k) / tau)[i]."""
    n = _check_batch("g2s", g, s)
    logits = cosine_matrix(g, s) / tau
    return F.cross_entropy(logits, _targets(n, g.device))


def f2r(g_fake: torch.Tensor, g_real: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Eq. 6, averaged over i: -1/N sum_i log softmax_k(cos(gf_i, gr_k) / tau)[i].
    g_real is detached here: F2R only ever trains the generator."""
    n = _check_batch("f2r", g_fake, g_real)
    logits = cosine_matrix(g_fake, g_real.detach()) / tau
    return F.cross_entropy(logits, _targets(n, g_fake.device))


def occ(g: torch.Tensor, s: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Eq. 7: -1/N sum_i log( e^{cos(g_i,s_i)/tau} / (e^{cos(g_i,s_i)/tau} + sum_{k!=i} e^{cos(g_i,g_k)/tau}) ).
    With B = 1 there are no negatives and the loss is exactly 0."""
    n = _check_batch("occ", g, s)
    gn, sn = _normalize(g), _normalize(s)
    positive = (gn * sn).sum(-1, keepdim=True) / tau  # [B, 1]
    among = (gn @ gn.transpose(0, 1)) / tau  # [B, B]
    eye = torch.eye(n, dtype=torch.bool, device=g.device)
    among = among.masked_fill(eye, float("-inf"))
    logits = torch.cat([positive, among], dim=1)  # column 0 is the positive
    return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=g.device))


# ------------------------------------------------------------------------------------------
# Eq. 3-5: local-to-word
# ------------------------------------------------------------------------------------------
def l2w_scores(local: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor, gamma1: float = 5.0,
               gamma2: float = 5.0) -> torch.Tensor:
    """S(l_i, w_k) of eq. 4 for every pair: [B_audio, B_text].

    alpha_{t,j} = softmax_j(gamma1 cos(w_t, l_j)) over the R regions, c_t = sum_j alpha_{t,j} l_j,
    S = (1/gamma2) log sum_{t < len_k} exp(gamma2 cos(w_t, c_t)).

    c_t is built from the raw (unnormalised) regions, as written in eq. 3; only the similarities
    are cosines. Batched over all B x B pairs without materialising c ([B, B, L, Dw] can be
    large): with |w_t| = 1, w_t . c_t = sum_j alpha_tj |l_j| cos(w_t, l_j), and
    |c_t|^2 = alpha^T G alpha with G = [l_j . l_m] the region Gram matrix."""
    if local.dim() != 4:
        raise InputError(f"l2w: local features must be [B, Dw, F, T], got {tuple(local.shape)}")
    if words.dim() != 3:
        raise InputError(f"l2w: words must be [B, L, Dw], got {tuple(words.shape)}")
    b_audio, dw = local.shape[:2]
    b_text, max_len, dw_words = words.shape
    if dw != dw_words:
        raise InputError(f"l2w: local features have {dw} channels but words have {dw_words}")
    lengths = torch.as_tensor(lengths, device=words.device)
    if lengths.shape != (b_text,):
        raise InputError(f"l2w: lengths must be [{b_text}], got {tuple(lengths.shape)}")
    if bool((lengths < 1).any()) or bool((lengths > max_len).any()):
        raise InputError(f"l2w: every text needs 1..{max_len} words, got lengths {lengths.tolist()}")

    mask = word_mask(lengths, max_len)  # [Bt, L]
    # Zero the padding first so that whatever it holds (even NaN/inf) cannot leak into values or grads.
    words = torch.where(mask[..., None], words, torch.zeros((), dtype=words.dtype, device=words.device))
    wn = _normalize(words)  # [Bt, L, Dw]
    regions = local.flatten(2).transpose(1, 2)  # [Ba, R, Dw], raw (c_t is built from raw l_j)
    rn = _normalize(regions)
    region_norm = regions.norm(dim=-1)  # [Ba, R]

    sim = torch.einsum("ird,ktd->iktr", rn, wn)  # [Ba, Bt, L, R] = cos(w_kt, l_ij)
    alpha = torch.softmax(gamma1 * sim, dim=-1)  # eq. 3, over regions
    dot = (alpha * sim * region_norm[:, None, None, :]).sum(-1)  # w_kt . c_ikt   (|w| = 1)
    gram = regions @ regions.transpose(1, 2)  # [Ba, R, R]
    norm_sq = torch.einsum("iktr,irm,iktm->ikt", alpha, gram, alpha)  # |c_ikt|^2
    cos_wc = dot / torch.sqrt(norm_sq.clamp_min(EPS * EPS))  # cos(w_kt, c_ikt)
    scaled = (gamma2 * cos_wc).masked_fill(~mask[None], float("-inf"))
    return torch.logsumexp(scaled, dim=-1) / gamma2  # [Ba, Bt]


def l2w(local: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor, gamma1: float = 5.0,
        gamma2: float = 5.0, gamma3: float = 50.0) -> torch.Tensor:
    """Eq. 5: -1/N sum_i log softmax_k(gamma3 S(l_i, w_k))[i]."""
    n = _check_batch("l2w", local, words)
    scores = l2w_scores(local, words, lengths, gamma1, gamma2)
    return F.cross_entropy(gamma3 * scores, _targets(n, local.device))


# ------------------------------------------------------------------------------------------
# Configuration and the per-network totals
# ------------------------------------------------------------------------------------------
@dataclass
class LossConfig:
    """Switches (the paper's ablations), temperatures and weights of the contrastive losses."""

    g2s: bool = True
    l2w: bool = True
    f2r: bool = True
    occ: bool = True
    tau: float = 0.1
    gamma1: float = 5.0
    gamma2: float = 5.0
    gamma3: float = 50.0
    w_g2s: float = 1.0
    w_l2w: float = 1.0
    w_f2r: float = 1.0
    w_occ: float = 1.0

    def __post_init__(self):
        for name in ("tau", "gamma1", "gamma2", "gamma3"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ConfigError(f"LossConfig.{name} must be a positive number, got {value!r}")
        for name in ("w_g2s", "w_l2w", "w_f2r", "w_occ"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise ConfigError(f"LossConfig.{name} must be a number >= 0, got {value!r}")
        for name in ("g2s", "l2w", "f2r", "occ"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"LossConfig.{name} must be true or false, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LossConfig":
        return _from_dict(cls, dict(data), "LossConfig")


def discriminator_loss(real_out: DiscriminatorOutputLike, fake_out: DiscriminatorOutputLike,
                       sentence: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor,
                       cfg: LossConfig | None = None) -> dict[str, torch.Tensor]:
    """D's four losses (Figure 2). `fake_out` is D's output on generated mels, which the caller
    detaches from G. Keys: d_hinge, d_g2s, d_l2w, d_occ (switched-off ones absent), total."""
    cfg = cfg or LossConfig()
    terms = {"d_hinge": d_hinge(real_out.logit, fake_out.logit)}
    total = terms["d_hinge"]
    if cfg.g2s:
        terms["d_g2s"] = g2s(real_out.global_feature, sentence, cfg.tau)
        total = total + cfg.w_g2s * terms["d_g2s"]
    if cfg.l2w:
        terms["d_l2w"] = l2w(real_out.local_features, words, lengths, cfg.gamma1, cfg.gamma2, cfg.gamma3)
        total = total + cfg.w_l2w * terms["d_l2w"]
    if cfg.occ:
        terms["d_occ"] = occ(real_out.global_feature, sentence, cfg.tau)
        total = total + cfg.w_occ * terms["d_occ"]
    terms["total"] = total
    return terms


def generator_loss(fake_out: DiscriminatorOutputLike, real_out: DiscriminatorOutputLike | None,
                   sentence: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor,
                   cfg: LossConfig | None = None) -> dict[str, torch.Tensor]:
    """G's five losses (Figure 2). `real_out` is only used by F2R (its global feature is detached;
    it may be None when F2R is off). Keys: g_hinge, g_g2s, g_l2w, g_f2r, g_occ (switched-off
    ones absent), total."""
    cfg = cfg or LossConfig()
    terms = {"g_hinge": g_hinge(fake_out.logit)}
    total = terms["g_hinge"]
    if cfg.g2s:
        terms["g_g2s"] = g2s(fake_out.global_feature, sentence, cfg.tau)
        total = total + cfg.w_g2s * terms["g_g2s"]
    if cfg.l2w:
        terms["g_l2w"] = l2w(fake_out.local_features, words, lengths, cfg.gamma1, cfg.gamma2, cfg.gamma3)
        total = total + cfg.w_l2w * terms["g_l2w"]
    if cfg.f2r:
        if real_out is None:
            raise InputError("generator_loss: F2R is on but no real discriminator output was given")
        terms["g_f2r"] = f2r(fake_out.global_feature, real_out.global_feature, cfg.tau)
        total = total + cfg.w_f2r * terms["g_f2r"]
    if cfg.occ:
        terms["g_occ"] = occ(fake_out.global_feature, sentence, cfg.tau)
        total = total + cfg.w_occ * terms["g_occ"]
    terms["total"] = total
    return terms


ENVELOPE_FRAMES = 128  # the "envelope" moment's window: 1.5 s at the universal mel's hop


def window_means(x: torch.Tensor, frames: int = ENVELOPE_FRAMES) -> torch.Tensor:
    """[B, 1, F, T] -> [B, 1, F, K]: each bin's mean over consecutive windows of `frames` frames
    (K = T // frames, a shorter tail left out; the whole clip when T < frames)."""
    k = x.shape[-1] // frames
    if k == 0:
        return x.mean(-1, keepdim=True)
    return x[..., :k * frames].unflatten(-1, (k, frames)).mean(-1)


def onset_rate(x: torch.Tensor) -> torch.Tensor:
    """[B, 1, F, T] -> [B, 1, 1]: the mean over time of the onset strength, each frame's rise over
    the one before averaged over the bins (librosa's onset envelope, on the log-mel). More and
    sharper onsets raise it; a steady sound, a smooth decay or silence leave it near 0."""
    return x.diff(dim=-1).clamp(min=0.0).mean(-2).mean(-1, keepdim=True)


NATS_TO_DB = 20.0 / 2.302585092994046  # a log-magnitude step in nats, in dB


def soft_onset_count(x: torch.Tensor, tau: float = 0.01, delta: float = 0.07, top_db: float = 80.0,
                     pool: int = 2) -> torch.Tensor:
    """[B, 1, F, T] log-mel -> [B, 1, 1]: a differentiable count of the onsets librosa's
    onset_detect finds (scripts/evaluate_long.py counts them on the vocoded audio). Its steps, on
    the log-mel: dB clamped 80 below the clip's peak; frames paired (librosa's hop is 512, the
    mel's 256); the mean rise over bands; min-max normalised; and a frame counts where it is
    `delta` above its local mean and a local peak, each a sigmoid of width `tau` instead of a
    threshold. Unlike onset_rate it is relative to the clip's own largest rise, as the metric is,
    so small bumps in a tail or a warble inside an event count as much as the attack."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        db = x.float().squeeze(1) * NATS_TO_DB  # [B, F, T]
        db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - top_db)
        if pool > 1 and db.shape[-1] >= 2 * pool:
            db = F.avg_pool1d(db, pool, pool)  # [B, F, T / pool]
        env = F.pad(db.diff(dim=-1).clamp(min=0.0).mean(-2), (1, 0))  # [B, T'] onset strength
        lo, hi = env.amin(-1, keepdim=True), env.amax(-1, keepdim=True)
        env = (env - lo) / (hi - lo + 1e-6)
        local_mean = F.avg_pool1d(F.pad(env.unsqueeze(1), (4, 5), mode="replicate"), 10, 1).squeeze(1)
        neighbours = torch.maximum(F.pad(env, (1, 0))[:, :-1], F.pad(env, (0, 1))[:, 1:])
        above = torch.sigmoid((env - local_mean - delta) / tau)
        peak = torch.sigmoid((env - neighbours) / tau + 2.0)  # a tie still counts, as librosa's >= does
        return (above * peak).sum(-1).view(-1, 1, 1)


# Statistics over time the moment loss can compare: per mel bin ([B, 1, F, T] -> [B, 1, F], or
# [B, 1, F, K] for "envelope"), or one per clip ([B, 1, 1] for "onset" and "onset_count").
MOMENT_STATS = {"mean": lambda x: x.mean(-1), "std": lambda x: x.std(-1),
                "flux": lambda x: x.diff(dim=-1).abs().mean(-1), "envelope": window_means, "onset": onset_rate,
                "onset_count": soft_onset_count}
MOMENT_TERMS = tuple(MOMENT_STATS)
# Terms that only count an excess: fewer onsets than the recording cost nothing (a one-shot may
# land its event where its crop of the recording is silent).
ONE_SIDED_TERMS = frozenset({"onset_count"})


def spectral_moment_loss(fake: torch.Tensor, real: torch.Tensor, terms=("mean", "std"),
                         weights: dict[str, float] | None = None,
                         rows: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """L1 between per-mel-bin statistics over time of each generated clip and of the real clip its
    caption came with: [B, 1, F, T] each -> scalar. Not in the paper. The default terms are
    statistics over the whole crop, since where an event falls in time is mostly the noise's to
    choose, while the sound's spectral shape and how much it moves are the caption's. `terms`:
    "mean" and "std" of each bin; "flux", each bin's mean absolute change from one frame to the
    next (how fast the band moves: the modulation statistic of sound-texture models, McDermott &
    Simoncelli 2011);
    "envelope", each bin's mean in 1.5 s windows from the crop's start: the one term that says
    where in time, for an any-length model whose position clock tells it where the clip starts
    (a one-shot's recording is its event and then silence; a texture's is the same throughout);
    "onset", the clip's onset rate (onset_rate: one number, not one per bin); "onset_count", how
    many more onsets the clip has than its recording (soft_onset_count; one-sided). `weights`
    scales terms by name (1 for any not named). `rows` limits terms by name to some clips: a [B] bool
    mask or weights per term (every clip at 1 for any not named); the others count 0, so a clip's
    share is the same whichever clips are in its batch."""
    f, r = fake.float(), real.float()
    weights, rows = weights or {}, rows or {}

    def gap(k):
        d = MOMENT_STATS[k](f) - MOMENT_STATS[k](r)
        d = d.clamp(min=0.0) if k in ONE_SIDED_TERMS else d.abs()
        return d * rows[k].view(-1, *([1] * (d.dim() - 1))).to(d.dtype) if k in rows else d

    return sum(weights.get(k, 1.0) * gap(k).mean() for k in terms)

