"""`audiogan fit-level`: fit an any-length generator's level envelope to the level contours of a
library's recordings, every other weight frozen.

Why: a one-shot caption (a door, a coin) made 10 s long sounds again, quietly, in the later
noise blocks: the generator quiets them by about 41 dB, not to silence, and an onset detector
(or a listener turning the clip up) still finds them (scripts/diagnose_long.py). Adversarial
fine-tuning of a level envelope (run L) learnt one shape for every caption. This fits the
envelope directly to what the recordings do over time.

For every training clip of the library:
- the generator's log-mel for the clip's caption, `seconds` long (one noise draw per clip,
  seed `seed + index`), through the frozen generator without the envelope;
- the recording's loudness-normalised log-mel (the training cache), from its start, cut to
  `seconds`. Most recordings are shorter; what comes after their end is read from how they end.
  One that ends near its full level was cut out of something that goes on (a fire, an engine) and
  continues at its end level; one that has decayed (a door, a coin) continues in silence, as the
  training crops and the evaluation pad it; in between, the end level is scaled linearly from 0
  (end at `decay_lo` of its loud level, the 90th percentile of its frames) to 1 (at `decay_hi`).

Each is reduced to a level contour: every frame's mean height above the floor (the log-mel of
digital silence), then the loudest within `smooth_seconds` around it. The generator's later
events come at random times, about one per noise block (2.97 s); the envelope sees the caption and
the clock, not the noise, so it must turn down a stretch of time in which an event may come, and a
window of about a block puts one inside it. The target at each frame is the gain (in nats of the
log-mel) that brings the generator's contour to the recording's, a*_t = min(0, r_t - h_t + margin):
the envelope only turns a frame down, and only where the generator is louder than the recording by
more than the margin. The envelope is fitted to a quantile of a*_t (`quantile`; 0.5: by L1, the
median over clips of similar captions at each time; lower: enough to bring most clips' later
events down, not just half of them). While the recording itself plays, `inside_recording` fits
the targets there too ("fit"), leaves those frames without one ("skip"), or asks for no change
("hold": the adversarially trained generator already follows an event's course). A tenth of the
clips is kept aside to report the fit on captions it did not see.

`form` "ceiling" fits the other kind of envelope (audiogan_core.generator.LevelEnvelope): not a gain
but the highest a frame's loudest bin may reach, which the generator applies to what it made, so no
generator runs here. Its target is the recording's own contour, taken on each frame's loudest bin
rather than its mean (a later event is heard by its peaks), plus the margin, at every frame; a high
`quantile` keeps the ceiling over what most recordings of a caption do at that time. What each
setting did to the bundled model: docs/bundled-model-experiments.md ("A level envelope fitted to the
recordings").
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from audiogan_core.mel import SILENCE_LOG_MEL


@dataclass
class LevelFitConfig:
    seconds: float = 12.0  # clip length the contours are taken over (the clock saturates past ~12 s)
    smooth_seconds: float = 3.0  # contours: the loudest frame within this window (about one noise block)
    tail_seconds: float = 0.1  # a recording's end level: the mean over its last tail_seconds
    decay_lo: float = 0.3  # end level / loud level at or below which a recording continues in silence
    decay_hi: float = 0.7  # ... at or above which it continues at its end level
    margin: float = 0.25  # nats (2.2 dB) the generator may be louder by without being turned down
    # defaults: fit S, the best trade-off measured on the bundled model (docs/bundled-model-experiments.md)
    quantile: float = 0.25  # of the targets the envelope fits at each time: 0.5 the median, lower turns down harder
    # the targets while the recording plays: "fit" (as after it), "skip" (none there: only past its end),
    # "hold" (0 there: the adversarially trained generator keeps the event's own course)
    inside_recording: str = "hold"
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    seed: int = 0
    # "gain": fit a gain per frame to the generator's excess over the recordings; "ceiling": fit the
    # highest level per frame to the recordings alone (the generator turns down what exceeds it)
    form: str = "gain"
    # what a recording shorter than `seconds` does after its end: "end" (by how it ends: decay_lo,
    # decay_hi) or "steady" (a recording at least steady_seconds long that stays within steady_nats of
    # its loud level for steady_fraction of its frames goes on at its median level; any other is over:
    # a fade-out does not make a texture a one-shot, nor does a short steady beep make it a texture)
    continuation: str = "end"
    steady_seconds: float = 2.0
    steady_nats: float = 1.15  # 10 dB
    steady_fraction: float = 0.5

    def __post_init__(self):
        if self.continuation not in ("end", "steady"):
            raise ValueError(f"continuation must be 'end' or 'steady', got {self.continuation!r}")
        if self.form not in ("gain", "ceiling"):
            raise ValueError(f"form must be 'gain' or 'ceiling', got {self.form!r}")
        if self.form == "ceiling" and self.inside_recording != "fit":
            raise ValueError("a ceiling is fitted to the recordings themselves, inside them too: "
                             f"form 'ceiling' needs inside_recording 'fit', got {self.inside_recording!r}")
        if not 0.0 <= self.decay_lo < self.decay_hi:
            raise ValueError(f"need 0 <= decay_lo < decay_hi, got {self.decay_lo} and {self.decay_hi}")
        if self.inside_recording not in ("fit", "skip", "hold"):
            raise ValueError(f"inside_recording must be 'fit', 'skip' or 'hold', got {self.inside_recording!r}")
        if not 0.0 < self.quantile < 1.0:
            raise ValueError(f"quantile must be between 0 and 1, got {self.quantile}")
        if self.seconds <= 0 or self.steps < 1 or self.batch_size < 1 or self.margin < 0:
            raise ValueError("seconds, steps and batch_size must be positive and margin at least 0")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LevelFitConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown level-fit setting(s): {', '.join(unknown)}")
        return cls(**d)


def local_max(x: torch.Tensor, frames: int) -> torch.Tensor:
    """[B, T] -> the largest value within `frames` (odd, at least 1) around each frame [B, T]."""
    k = max(1, int(frames) | 1)
    if k == 1:
        return x
    return F.max_pool1d(F.pad(x[:, None], (k // 2, k // 2), mode="replicate"), k, stride=1)[:, 0]  # [B, T]


def heights(mel: torch.Tensor) -> torch.Tensor:
    """log-mel [B, F, T] -> each frame's mean height above the floor [B, T]."""
    return (mel - SILENCE_LOG_MEL).clamp(min=0).mean(1)


def peaks(mel: torch.Tensor) -> torch.Tensor:
    """log-mel [B, F, T] -> the height of each frame's loudest bin above the floor [B, T] (what a
    ceiling envelope limits)."""
    return (mel - SILENCE_LOG_MEL).clamp(min=0).amax(1)


def recording_heights(mel: np.ndarray, frames: int, tail_frames: int, decay_lo: float = 0.3,
                      decay_hi: float = 0.7, measure=heights, steady: tuple[int, float, float] | None = None
                      ) -> torch.Tensor:
    """A recording's log-mel [F, T_rec] -> its heights (`measure`: heights or peaks) over `frames`
    [frames]: cut if longer; if shorter, continued at its end level (the mean of its last
    `tail_frames`) times clamp((end / loud - decay_lo) / (decay_hi - decay_lo), 0, 1), loud = its
    90th-percentile frame. With `steady` = (min_frames, nats, fraction) instead: continued at its
    median level if it is at least min_frames long and within `nats` of its loud level for `fraction`
    of its frames, in silence otherwise."""
    h = measure(torch.tensor(np.asarray(mel[:, :frames], dtype=np.float32))[None])[0]  # [min(T_rec, frames)]
    if h.numel() >= frames:
        return h
    if h.numel() == 0:
        return torch.zeros(frames)
    loud = h.quantile(0.9)
    if steady is not None:
        min_frames, nats, fraction = steady
        goes_on = h.numel() >= min_frames and float((h >= loud - nats).float().mean()) >= fraction
        return torch.cat([h, (h.median() if goes_on else h.new_zeros(())).expand(frames - h.numel())])
    end = h[-max(1, tail_frames):].mean()
    going_on = ((end / loud.clamp(min=1e-3) - decay_lo) / (decay_hi - decay_lo)).clamp(0.0, 1.0)
    return torch.cat([h, (end * going_on).expand(frames - h.numel())])


def envelope_targets(generated: torch.Tensor, recorded: torch.Tensor, cfg: LevelFitConfig,
                     window_frames: int) -> torch.Tensor:
    """Height contours [B, T] of the generator and of the recordings -> a*_t [B, T] (<= 0)."""
    g, r = local_max(generated, window_frames), local_max(recorded, window_frames)
    return (r - g + cfg.margin).clamp(max=0.0)


def with_envelope(generator, level_envelope: bool, form: str = "gain"):
    """A copy of `generator` (sharing no state) with or without a level envelope (of `form`): every
    other tensor carried over, a new envelope starting as the identity. Without one, it is what the
    envelope is applied to."""
    from audiogan_core.generator import Generator

    copy = Generator(dataclasses.replace(generator.config, level_envelope=level_envelope,
                                         level_form=form if level_envelope else "gain"))
    state = {k: v for k, v in generator.state_dict().items() if not k.startswith("level.")}
    missing, unexpected = copy.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("level.") for k in missing), (missing, unexpected)
    return copy.eval()


@torch.inference_mode()
def collect(model, items, dataset, cfg: LevelFitConfig, batch: int = 8, progress: bool = True):
    """(sentence vectors [N, Ds], targets [N, T]; NaN where a frame has none) for every item of
    `dataset` (a FoleyDataset over `items`), over cfg.seconds: the gains a* against the generator's
    clip (form "gain"), or the ceilings, the recording's peak contour plus the margin ("ceiling")."""
    from tqdm import tqdm

    mc = model.config
    frames = int(math.ceil(cfg.seconds * mc.mel.sample_rate / mc.mel.hop_length))
    t0 = mc.base_frames_for(frames)
    window_frames = round(cfg.smooth_seconds / mc.mel.seconds_for(1))
    tail_frames = round(cfg.tail_seconds / mc.mel.seconds_for(1))
    steady = None if cfg.continuation == "end" else \
        (round(cfg.steady_seconds / mc.mel.seconds_for(1)), cfg.steady_nats, cfg.steady_fraction)
    # a ceiling is fitted to the recordings alone: no generator runs
    generator = None if cfg.form == "ceiling" else with_envelope(model.generator, False).to(model.device)
    sentences, targets = [], []
    for first in tqdm(range(0, len(items), batch), desc="level contours", unit="batch", disable=not progress):
        idx = list(range(first, min(len(items), first + batch)))
        feats = model.text_encoder.encode([items[i].caption for i in idx]).to(model.device)
        sentences.append(feats.sentence.float().cpu())
        recordings = [dataset.full_mel(i) for i in idx]  # [F, T_rec] each
        if cfg.form == "ceiling":
            rec = torch.stack([recording_heights(r, frames, tail_frames, cfg.decay_lo, cfg.decay_hi, peaks, steady)
                               for r in recordings])  # [b, T]
            targets.append(local_max(rec, window_frames) + cfg.margin)
            continue
        z = torch.stack([model.noise(cfg.seed + i, t0) for i in idx]).to(model.device)  # [b, noise, T0]
        mel = generator(z, feats.sentence, feats.words, feats.lengths)[:, 0, :, :frames].float().cpu()  # [b, F, T]
        rec = torch.stack([recording_heights(r, frames, tail_frames, cfg.decay_lo, cfg.decay_hi, heights, steady)
                           for r in recordings])  # [b, T]
        target = envelope_targets(heights(mel), rec, cfg, window_frames)  # [b, T]
        if cfg.inside_recording != "fit":  # NaN: no target there; 0: leave it as the generator makes it
            for row, r in enumerate(recordings):
                target[row, :min(frames, r.shape[1])] = float("nan") if cfg.inside_recording == "skip" else 0.0
        targets.append(target)
    return torch.cat(sentences), torch.cat(targets)


def quantile_loss(pred: torch.Tensor, target: torch.Tensor, q: float) -> torch.Tensor:
    """Twice the pinball loss at quantile q (its minimiser is the q-quantile of the targets; at q = 0.5
    it is the L1 distance); targets that are NaN do not count."""
    err = target - pred
    return 2.0 * torch.maximum(q * err, (q - 1.0) * err).nanmean()  # NaN targets: frames without one


def fit_envelope(level, sentences: torch.Tensor, targets: torch.Tensor, clock_t: torch.Tensor,
                 cfg: LevelFitConfig, progress: bool = True) -> dict:
    """Fit `level` (a LevelEnvelope) to the cfg.quantile of the targets [N, T] (quantile_loss) over a
    random (1 - val_fraction) of the rows. Returns the training and held-aside losses, before and after."""
    from tqdm import tqdm

    n = sentences.shape[0]
    gen = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(n, generator=gen)
    n_val = int(round(n * cfg.val_fraction)) if n >= 10 else 0
    val, train = order[:n_val], order[n_val:]

    def loss_on(rows):
        if rows.numel() == 0:
            return float("nan")
        with torch.no_grad():
            return float(quantile_loss(level.course(sentences[rows], clock_t), targets[rows], cfg.quantile))

    report = {"clips": n, "fit_clips": int(train.numel()), "aside_clips": int(n_val),
              "before": {"fit": loss_on(train), "aside": loss_on(val)},
              "zero_envelope_target_mean": float(targets.nanmean()),
              "frames_with_targets": float(targets.isfinite().float().mean())}
    if level.form == "ceiling":  # start at the targets' overall quantile, not 40 nats above them
        with torch.no_grad():
            level.out.bias.fill_((float(targets[train].nanquantile(cfg.quantile)) - level.CEILING_START) / level.SCALE)
    opt = torch.optim.AdamW(level.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    level.train()
    for _ in tqdm(range(cfg.steps), desc="fitting the envelope", unit="step", disable=not progress):
        rows = train[torch.randint(train.numel(), (min(cfg.batch_size, train.numel()),), generator=gen)]
        loss = quantile_loss(level.course(sentences[rows], clock_t), targets[rows], cfg.quantile)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    level.eval()
    report["after"] = {"fit": loss_on(train), "aside": loss_on(val)}
    return report


def fit_level(model_source: str, data_dir: str | Path, out: str | Path, cfg: LevelFitConfig, *,
              cache_dir: str | Path | None = None, device: str = "cpu", progress: bool = True) -> dict:
    """The model `model_source` with a level envelope fitted on the training clips of `data_dir`,
    written as a model folder at `out` (which must not exist). Returns the fit report (also in
    OUT/level_fit.json; with the source's training record in OUT/training_summary.json where it has one)."""
    from audiogan_core.api import AudioGAN, locate_model
    from audiogan_core.checkpoint import DISCRIMINATOR_FILE, load_discriminator_state_dict, load_state_dict_checked, save_model
    from audiogan_core.discriminator import Discriminator
    from audiogan_core.errors import InputError
    from audiogan_core.generator import frame_clock
    from audiogan_core.io import atomic_write_text

    from .config import TrainConfig
    from .mel_dataset import FoleyDataset
    from .trainer import training_split

    out, data_dir = Path(out), Path(data_dir)
    if out.exists():
        raise InputError(f"{out} exists: fit-level writes a new model folder and overwrites nothing")
    model = AudioGAN.load(model_source, device=device)
    mc = model.config
    if not mc.any_length or mc.position_channels < 1:
        raise InputError(f"model {model_source!r} has no position clock (an any-length preset with "
                         f"position_channels > 0 is needed): its clips have no course for an envelope to follow")
    tc = TrainConfig(model=mc, holdout_file="holdout.json" if (data_dir / "holdout.json").is_file() else None)
    _, items, holdout = training_split(data_dir, tc)
    dataset = FoleyDataset(items, mc.mel, mc.frames, cache_dir or data_dir.with_name(data_dir.name + ".cache"),
                           max_seconds=tc.max_file_seconds, random_crop=False)
    sentences, targets = collect(model, items, dataset, cfg, progress=progress)

    generator = with_envelope(model.generator, True, cfg.form)
    config = generator.config
    torch.manual_seed(cfg.seed)
    report = fit_envelope(generator.level, sentences, targets, frame_clock(config, targets.shape[1]), cfg,
                          progress=progress)
    report.update({"model": str(model_source), "data": str(data_dir), "held_out_clips_never_used": len(holdout),
                   "config": cfg.to_dict()})

    discriminator = None  # kept beside the generator so that `train --init-from OUT` starts from both
    _, folder = locate_model(model_source)
    if (Path(folder) / DISCRIMINATOR_FILE).is_file():
        discriminator = Discriminator(config)
        load_state_dict_checked(discriminator, load_discriminator_state_dict(folder), f"discriminator in {folder}")
    save_model(out, generator.eval(), config, discriminator=discriminator,
               metadata={"level_fit": json.dumps(cfg.to_dict()), "source": str(model_source)})
    atomic_write_text(out / "level_fit.json", json.dumps(report, indent=1) + "\n")
    source_record = Path(folder) / "training_summary.json"
    if source_record.is_file():  # the source's training record (not its evaluations), then this fit
        record = json.loads(source_record.read_text())
        lineage = {k: record[k] for k in ("summary", "train_config", "init") if k in record}
        atomic_write_text(out / "training_summary.json", json.dumps({**lineage, "level_fit": report}, indent=1) + "\n")
    return report
