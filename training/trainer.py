"""The AudioGAN trainer: the paper's recipe (sec. 3.1, 4) on a foley library.

One step = `d_steps_per_g` discriminator updates (each on a fresh real batch) and one
generator update. Everything random is derived from (seed, step, rank) or saved in the
checkpoint, so a resumed run reproduces an uninterrupted one exactly on the CPU.

Run under torchrun for several GPUs (or CPU processes with gloo): the sampler is sharded
by rank, gradients are averaged by DistributedDataParallel, only rank 0 writes.
"""
from __future__ import annotations

import copy
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.distributed as dist

from audiogan_core.checkpoint import load_state_dict_checked, read_torch_checkpoint, save_model
from audiogan_core.discriminator import CategoryHead, Discriminator
from audiogan_core.errors import AudioGANError, CheckpointError, ConfigError, DataError, InputError
from audiogan_core.generator import Generator
from audiogan_core.io import atomic_save, atomic_write_text
from audiogan_core.losses import (category_loss, d_mismatch_hinge, discriminator_loss, generator_loss,
                                  spectral_moment_loss)

from .augment import augment
from .categories import category_for, category_names
from .config import TrainConfig
from .distributed import init_distributed
from .init_from import GROWN_FIELDS, LENGTH_FIELDS, WEIGHT_FREE_FIELDS, carry_into_any_length
from .run_folder import CHECKPOINT_NAME, cache_folder, check_run_folder
from .step_rng import (PURPOSE_CROP, PURPOSE_G, PURPOSE_LOOP, PURPOSE_PREVIEW, augment_purpose, d_noise_purpose,
                       step_generator)
from .text_features import TextFeatureCache



class TrainingDivergedError(AudioGANError, FloatingPointError):
    """A loss became NaN/inf. The checkpoint on disk is left as it was (the last healthy one)."""

    exit_code = 1


def mel_frechet_distance(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Fréchet distance (metrics.frechet_distance) between Gaussians fitted to per-frame mel
    vectors: [N, F, T] each. A cheap, model-free learning signal for training logs; NaN when the
    covariances are too degenerate to compare (a collapsed early generator), never an error."""
    from audiogan_core.metrics import frechet_distance

    a = fake.permute(0, 2, 1).reshape(-1, fake.shape[1]).double().cpu().numpy()
    b = real.permute(0, 2, 1).reshape(-1, real.shape[1]).double().cpu().numpy()
    try:
        return frechet_distance(a, b, warn=False)
    except InputError:
        return float("nan")


def kind_weight(kinds: tuple[str, ...] | dict[str, float], category: str) -> float:
    """A clip's weight in a moment term limited to some kinds (TrainConfig.moment_term_categories)."""
    return kinds.get(category, 0.0) if isinstance(kinds, dict) else float(category in kinds)


class Trainer:
    def __init__(self, config: TrainConfig, data_dir: str | Path, run_dir: str | Path, *, device: str = "cpu",
                 resume: bool = False, init_from: str | None = None, cache_dir: str | Path | None = None,
                 progress: bool = True, text_encoder=None, preview_vocoder: str | None = None):
        from audiogan_core.api import resolve_device

        self.config = config
        self.data_dir = Path(data_dir)
        self.run_dir = Path(run_dir)
        self.device = resolve_device(device)
        self.dist = init_distributed(self.device)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.progress = progress and self.dist.is_main
        self.preview_vocoder_name = preview_vocoder
        self.cache_dir = cache_folder(self.run_dir, cache_dir)
        self.resumed = resume
        self.init_from = init_from
        self._check_run_dir(resume)
        self.step = 0
        self._saved_step = None  # step of the checkpoint on disk written by this object
        self._consistent = True  # False while a train_step is half done (D updated, G not yet)
        self._stop_signal = None  # set by SIGINT/SIGTERM during fit(): stop at the next step boundary

        # Models first: a bad --init-from fails before the (possibly long) data scan. Nothing
        # below draws from the global RNG, so the initial weights depend only on the seed.
        mc = config.model
        torch.manual_seed(config.seed)
        self.G = Generator(mc).to(self.device)
        self.D = Discriminator(mc).to(self.device)
        if init_from:
            self._init_from(init_from)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        # the generator this run starts from, in the mode whose clips it is compared with
        self.G_anchor = None
        if config.anchor_weight > 0 or config.loop_anchor_weight > 0:
            self.G_anchor = copy.deepcopy(self.G).train(config.anchor_mode == "train").requires_grad_(False)
            self._hold_norm_stats(self.G_anchor)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=config.betas)
        # The AC head has its own optimiser, so a run can switch it on when resuming a
        # checkpoint written without it (opt_d's saved state then still fits D alone).
        self.C = self.opt_c = None
        if config.category_weight > 0:
            self.category_index = {name: i for i, name in enumerate(category_names())}
            # with category_fakes, index K (one past the last category) is "generated"
            n_classes = len(self.category_index) + int(config.category_fakes)
            self.C = CategoryHead(mc.sentence_dim, n_classes).to(self.device)
            self.opt_c = torch.optim.Adam(self.C.parameters(), lr=config.lr_d, betas=config.betas)

        self._build_data()
        self.text_encoder = text_encoder or self._make_text_encoder()
        for attr in ("word_dim", "sentence_dim"):
            if getattr(self.text_encoder, attr) != getattr(mc, attr):
                raise ConfigError(f"text encoder {self.text_encoder.name!r} gives {attr}="
                                  f"{getattr(self.text_encoder, attr)} but the model config needs {getattr(mc, attr)}")
        self.text = TextFeatureCache(self.text_encoder, self.cache_dir / f"text-{self.text_encoder.name}.safetensors")
        if resume:
            self._load_checkpoint(self.run_dir / CHECKPOINT_NAME)
            self._saved_step = self.step

        self.G_train, self.D_train, self.C_train = self.G, self.D, self.C
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.G_train = DDP(self.G, device_ids=ids)
            self.D_train = DDP(self.D, device_ids=ids)
            if self.C is not None:
                self.C_train = DDP(self.C, device_ids=ids)
        if self.device.type == "cuda" and config.compile:
            self.G_train = torch.compile(self.G_train)
            self.D_train = torch.compile(self.D_train)
        self.amp = self.device.type == "cuda" and config.amp
        self.log_file = self.run_dir / "log.jsonl"

    # Setup ----------------------------------------------------------------------------
    def _check_run_dir(self, resume: bool) -> None:
        """Only checks; the run folder is created once the data scan found usable clips."""
        check_run_folder(self.run_dir, resume=resume)
        if self.dist.is_main and self.run_dir.is_dir():
            # Temp files of atomic writes that a killed process left behind (never a real file).
            for folder in (self.run_dir, self.run_dir / "model"):
                for stale in folder.glob(".*.tmp") if folder.is_dir() else ():
                    if stale.is_file():
                        stale.unlink()

    def _prepare_run_dir(self) -> None:
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "previews").mkdir(exist_ok=True)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            log = self.run_dir / "log.jsonl"
            if not self.resumed and log.exists():
                log.unlink()  # left by an earlier attempt that never reached a checkpoint
        if self.dist.enabled:
            dist.barrier()

    def _build_data(self) -> None:
        from .mel_dataset import FoleyDataset
        from .sampling import ResumableSampler, balance_weights

        cfg, mc = self.config, self.config.model
        scan, items, holdout = training_split(self.data_dir, cfg)
        if len(items) < 2:
            raise DataError(f"{self.data_dir}: {len(items)} usable clip(s) for training; at least 2 are needed")
        self.scan, self.items, self.holdout = scan, items, holdout
        self._prepare_run_dir()
        if self.dist.is_main:
            scan.report.write(self.run_dir / "data_report.json")
            if len(scan.report) or scan.report.notes:
                print(f"audiogan train: {scan.report.summary()}; see {self.run_dir / 'data_report.json'}",
                      file=sys.stderr)
            atomic_write_text(self.run_dir / "holdout.json", json.dumps(
                [{"path": str(i.path), "caption": i.caption} for i in holdout], indent=1))
        self.dataset = FoleyDataset(items, mel_config=mc.mel, clip_frames=mc.frames, cache_dir=self.cache_dir,
                                    seed=cfg.seed)
        # any-length models train on crops of several lengths: one view of the same cache per length
        self.crop_datasets = {n: self.dataset if n == mc.frames else
                              FoleyDataset(items, mel_config=mc.mel, clip_frames=n, cache_dir=self.cache_dir,
                                           seed=cfg.seed) for n in cfg.crop_frames}
        weights = None
        if cfg.category_balance > 0:
            weights = balance_weights([category_for(i.caption) for i in items], cfg.category_balance)
        self.sampler = ResumableSampler(len(items), seed=cfg.seed, batch_size=cfg.batch_size,
                                        rank=self.dist.rank, world_size=self.dist.world_size, with_epoch=True,
                                        weights=weights)
        self._batches = None  # made lazily, after a resume has positioned the sampler

    def _make_text_encoder(self):
        from audiogan_core.plugins import build_text_encoder

        return build_text_encoder(self.config.model).load(self.device)

    def _init_from(self, source: str) -> None:
        from audiogan_core.api import locate_model
        from audiogan_core.checkpoint import load_model_folder

        kind, path = locate_model(source)
        if kind == "published":
            from audiogan_core.published import convert_published_state_dict

            raw = read_torch_checkpoint(path, "published generator weights")
            # Converted against this run's model config (not the paper preset): a mismatch then
            # names the tensors that do not fit this run's generator.
            load_state_dict_checked(self.G, convert_published_state_dict(raw, self.config.model), f"generator {path}")
            return
        config, state = load_model_folder(path)
        # a folder's vocoder is an inference choice and its output median holds no tensors: neither is in the weights
        ignored = {"name", "vocoder", "vocoder_options", "vocoder_fallback"} | WEIGHT_FREE_FIELDS
        diffs = [k for k, v in config.to_dict().items() if k not in ignored and self.config.model.to_dict().get(k) != v]
        if diffs and not set(diffs) <= LENGTH_FIELDS | GROWN_FIELDS:
            raise ConfigError(f"--init-from {source}: its model config differs from this run's in {diffs}")
        d_file = path / "discriminator.safetensors"
        d_state = None
        if d_file.is_file():
            from audiogan_core.checkpoint import load_state_dict

            d_state = load_state_dict(d_file)
        if not diffs:
            load_state_dict_checked(self.G, state, f"generator in {path}")
            if d_state is not None:
                load_state_dict_checked(self.D, d_state, f"discriminator in {path}")
            return
        self._transfer_to_any_length(config, state, d_state, source)

    def _transfer_to_any_length(self, old, g_state: dict, d_state: dict | None, source: str) -> None:
        fresh = carry_into_any_length(self.G, self.D, old, g_state, d_state, self.config.init_noise_projection)
        if self.dist.is_main:
            carried = "; the noise projection from its grid weights" if self.config.init_noise_projection else ""
            what = ("a fixed-length model into an any-length one" if not old.any_length
                    else "every tensor of the same name and shape carried over")
            print(f"audiogan train: --init-from {source}: {what}; "
                  f"started afresh: {', '.join(fresh) or 'nothing'}{carried}", file=sys.stderr)

    # Checkpoints ----------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "format": "audiogan-train-1",
            "step": self.step,
            "config": self.config.to_json(),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sampler": self.sampler.state_dict(),
        } | ({"C": self.C.state_dict(), "opt_c": self.opt_c.state_dict()} if self.C is not None else {}) \
          | ({"G_anchor": self.G_anchor.state_dict()} if self.G_anchor is not None else {})

    def save_checkpoint(self) -> None:
        """Atomic: a crash (even kill -9) mid-write leaves the previous checkpoint intact."""
        if not self._consistent:
            raise RuntimeError("save_checkpoint() inside a half-done train_step")
        self._saved_step = self.step
        if not self.dist.is_main:
            return
        state = self.state()
        atomic_save(self.run_dir / CHECKPOINT_NAME, lambda tmp: torch.save(state, tmp))
        atomic_write_text(self.run_dir / "train_config.json", self.config.to_json() + "\n")
        # An exportable model folder (EMA weights) that AudioGAN.load() reads.
        save_model(self.run_dir / "model", self.G_ema, self.config.model, discriminator=self.D,
                   metadata={"step": str(self.step), "run": str(self.run_dir)})

    def _load_checkpoint(self, path: Path) -> None:
        state, saved = read_checkpoint(path)
        if saved.model.to_dict() != self.config.model.to_dict():
            diffs = [k for k, v in saved.model.to_dict().items() if self.config.model.to_dict().get(k) != v]
            raise ConfigError(f"--resume: the checkpoint's model config differs from this run's in {diffs}")
        load_state_dict_checked(self.G, state["G"], "generator (checkpoint)")
        load_state_dict_checked(self.D, state["D"], "discriminator (checkpoint)")
        load_state_dict_checked(self.G_ema, state["G_ema"], "EMA generator (checkpoint)")
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sampler.load_state_dict(state["sampler"])
        self.step = int(state["step"])
        if self.G_anchor is not None:
            if "G_anchor" not in state:  # the anchor is where the run started, not where it is now
                raise ConfigError("--resume with an anchor (anchor_weight or loop_anchor_weight > 0): the checkpoint has no "
                                  "anchor generator (it was written without one); start a new run with --init-from instead")
            load_state_dict_checked(self.G_anchor, state["G_anchor"], "anchor generator (checkpoint)")
        if self.C is not None:
            if "C" in state:
                self._load_category_head(state, saved)
            elif self.dist.is_main:
                print(f"audiogan train: category_weight={self.config.category_weight} and the checkpoint has "
                      f"no category head: starting one at step {self.step}", file=sys.stderr)
        self._apply_optimiser_settings(saved)

    def _load_category_head(self, state: dict, saved: TrainConfig) -> None:
        """Restore the head. A smaller head grows: a K-class one gains the "generated" class
        when this run adds category_fakes, and one trained before categories were added to
        training/categories.py gains theirs (they come after the old ones in `category_names`).
        A zero row leaves the largest singular value, so the old logits, unchanged; the new
        ones start at 0 and are learnt from here. Adam's moments no longer fit the shapes, so
        the head's optimiser starts afresh (it is one linear)."""
        saved_c = state["C"]
        rows = saved_c["linear.weight_orig"].shape[0] if "linear.weight_orig" in saved_c else None
        fakes_then, fakes_now = bool(saved.category_fakes), bool(self.config.category_fakes)
        k_now = len(self.category_index)
        k_then = None if rows is None else rows - int(fakes_then)
        if rows == self.C.n_categories and fakes_then == fakes_now or k_then is None \
                or not (0 < k_then <= k_now and fakes_then <= fakes_now):
            load_state_dict_checked(self.C, saved_c, "category head (checkpoint)")  # exact fit, or says why not
            self.opt_c.load_state_dict(state["opt_c"])
            return
        grown = dict(saved_c)
        for key in ("linear.weight_orig", "linear.bias", "linear.weight_u"):
            old = saved_c[key]
            parts = [old[:k_then], old.new_zeros((k_now - k_then, *old.shape[1:]))]
            if fakes_now:
                parts.append(old[k_then:] if fakes_then else old.new_zeros((1, *old.shape[1:])))
            grown[key] = torch.cat(parts)
        load_state_dict_checked(self.C, grown, "category head (checkpoint)")
        if self.dist.is_main:
            if k_now > k_then:
                print(f"audiogan train: the checkpoint's {k_then}-category head gains the {k_now - k_then} "
                      f"categories added since ({', '.join(category_names()[k_then:])}) at step {self.step}",
                      file=sys.stderr)
            if fakes_now and not fakes_then:
                print(f"audiogan train: category_fakes: the checkpoint's {k_then}-class head gains a "
                      f"'generated' class at step {self.step}", file=sys.stderr)

    def _apply_optimiser_settings(self, saved: TrainConfig) -> None:
        """Optimizer.load_state_dict restores the saved learning rates and betas; this run's
        config wins, so `--resume --config` with a new lr_g/lr_d/betas takes effect (and says so)."""
        for opt, lr in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d), (self.opt_c, self.config.lr_d)):
            for group in opt.param_groups if opt is not None else ():
                group["lr"], group["betas"] = lr, tuple(self.config.betas)
        pairs = {"lr_g": (saved.lr_g, self.config.lr_g), "lr_d": (saved.lr_d, self.config.lr_d),
                 "betas": (tuple(saved.betas), tuple(self.config.betas))}
        changed = [f"{k} {old} -> {new}" for k, (old, new) in pairs.items() if old != new]
        if changed and self.dist.is_main:
            print(f"audiogan train: resuming at step {self.step} with {', '.join(changed)}", file=sys.stderr)

    # One step -------------------------------------------------------------------------
    def _crop_frames(self) -> int:
        """This step's crop length: one of config.crop_frames (the same on every rank), else the model's."""
        choices = self.config.crop_frames
        if not choices:
            return self.config.model.frames
        gen = step_generator(self.config.seed, self.step, 0, PURPOSE_CROP)
        return choices[int(torch.randint(len(choices), (1,), generator=gen))]

    def _augment(self, mel: torch.Tensor, purpose: int) -> torch.Tensor:
        cfg = self.config
        if not cfg.augment:
            return mel
        gen = step_generator(cfg.seed, self.step, self.dist.rank, augment_purpose(purpose))
        return augment(mel, cfg.augment, cfg.augment_p, gen)

    def _real_batch(self, frames: int | None = None):
        if self._batches is None:
            self._batches = self.sampler.batches()
        dataset = self.crop_datasets.get(frames, self.dataset)
        samples = [dataset[key] for key in next(self._batches)]  # keys are (epoch, index)
        mel = torch.stack([s["mel"] for s in samples]).unsqueeze(1).to(self.device)  # [B, 1, F, T]
        captions = [s["caption"] for s in samples]
        words, lengths, sentence = self.text.batch(captions, self.device)
        return mel, captions, words, lengths, sentence

    def _category_labels(self, captions: list[str]) -> torch.Tensor:
        """Index of each caption's category (training/categories.py), -1 for none: [B]."""
        return torch.tensor([self.category_index.get(category_for(c), -1) for c in captions], device=self.device)

    def _noise(self, n: int, purpose: int, frames: int | None = None) -> torch.Tensor:
        mc = self.config.model
        gen = step_generator(self.config.seed, self.step, self.dist.rank, purpose)
        if mc.any_length:  # one noise vector per base frame
            t0 = mc.base_frames_for(frames or mc.frames)
            return torch.randn(n, mc.noise_dim, t0, generator=gen).to(self.device)  # [B, noise, T0]
        return torch.randn(n, mc.noise_dim, generator=gen).to(self.device)  # [B, noise]

    def _autocast(self):
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def train_step(self) -> dict[str, float]:
        cfg = self.config
        logs: dict[str, float] = {}
        self._consistent = False
        for m in (self.G, self.D, self.C):  # spectral norm updates its u only in training mode
            if m is not None:
                m.train()
        self._hold_norm_stats(self.G)
        blind = cfg.d_text == "blind"
        frames = self._crop_frames()
        for k in range(cfg.d_steps_per_g):
            mel, captions, words, lengths, sentence = self._real_batch(frames)
            clean = mel  # before augmentation: the paired target of the moment loss
            with torch.no_grad(), self._autocast():
                fake = self.G(self._noise(mel.shape[0], d_noise_purpose(k), frames), sentence, words,
                              lengths)  # [B, 1, F, T]
            with self._autocast():
                seen = self._augment(torch.cat([mel, fake.to(mel.dtype)]), k)  # [2B, 1, F, T], what D judges
                mel = seen[: mel.shape[0]]  # the augmented real clips (also for the mismatch hinge)
                both = self.D_train(seen, sentence.repeat(2, 1),
                                    words.repeat(2, 1, 1), lengths.repeat(2), blind=blind)
                real_out, fake_out = _split(both, mel.shape[0])
                d_losses = discriminator_loss(real_out, fake_out, sentence, words, lengths, cfg.losses)
                if cfg.mismatch_weight > 0:
                    d_losses["d_mismatch"] = self._mismatch_hinge(mel, real_out, captions, sentence, words,
                                                                  lengths, blind)
                    d_losses["total"] = d_losses["total"] + cfg.mismatch_weight * d_losses["d_mismatch"]
                if self.C is not None:  # D never learns the categories of fakes
                    labels = self._category_labels(captions)  # [B]; the G update reuses the last batch's
                    if cfg.category_fakes:  # real clips -> their category, fakes -> "generated" (K)
                        generated = labels.new_full(labels.shape, self.C.n_categories - 1)  # [B]
                        d_losses["d_category"] = category_loss(
                            self.C_train(both.global_feature), torch.cat([labels, generated]))
                    else:  # real clips only
                        d_losses["d_category"] = category_loss(self.C_train(real_out.global_feature), labels)
                    d_losses["total"] = d_losses["total"] + cfg.category_weight * d_losses["d_category"]
            self.opt_d.zero_grad(set_to_none=True)
            if self.C is not None:
                self.opt_c.zero_grad(set_to_none=True)
            d_losses["total"].float().backward()
            self.opt_d.step()
            if self.C is not None:
                self.opt_c.step()
            for name, value in d_losses.items():
                key = name if name.startswith("d_") else f"d_{name}"
                logs[key] = logs.get(key, 0.0) + float(value.detach()) / cfg.d_steps_per_g

        # Generator update on the last real batch's captions; D is frozen (its weights get
        # no gradient here and F2R's real features are detached inside the loss).
        frozen = [m for m in (self.D, self.C) if m is not None]
        for m in frozen:
            m.requires_grad_(False)
        with self._autocast():
            z = self._noise(mel.shape[0], PURPOSE_G, frames)
            fake = self.G_train(z, sentence, words, lengths)
            # the real half was augmented in the last D step already; G's clips get their own draw
            both = self.D(torch.cat([mel, self._augment(fake, cfg.d_steps_per_g)]), sentence.repeat(2, 1),
                          words.repeat(2, 1, 1), lengths.repeat(2), blind=blind)
            real_out, fake_out = _split(both, mel.shape[0])
            g_losses = generator_loss(fake_out, real_out, sentence, words, lengths, cfg.losses)
            if self.C is not None:
                g_losses["g_category"] = category_loss(self.C(fake_out.global_feature), labels)
                g_losses["total"] = g_losses["total"] + cfg.category_weight * g_losses["g_category"]
            if cfg.moment_weight > 0:
                rows = {term: torch.tensor([kind_weight(names, category_for(c)) for c in captions], device=self.device)
                        for term, names in cfg.moment_term_categories.items()}  # [B] each
                g_losses["g_moments"] = spectral_moment_loss(fake, clean, cfg.moment_terms,
                                                               cfg.moment_term_weights, rows)
                g_losses["total"] = g_losses["total"] + cfg.moment_weight * g_losses["g_moments"]
            if cfg.anchor_weight > 0:
                held = fake if cfg.anchor_mode == "train" else self._eval_forward(z, sentence, words, lengths)
                g_losses["g_anchor"] = self._anchor_distance(held, z, sentence, words, lengths)
                g_losses["total"] = g_losses["total"] + cfg.anchor_weight * g_losses["g_anchor"]
            if cfg.loop_anchor_weight > 0:  # training makes no loops: this holds the start's seams
                z_loop = self._noise(mel.shape[0], PURPOSE_LOOP, cfg.model.loop_step_frames)  # [B, noise, T0]
                looped = self.G_train(z_loop, sentence, words, lengths, loop=True)  # [B, 1, F, step]
                g_losses["g_loop_anchor"] = self._anchor_distance(looped, z_loop, sentence, words, lengths, loop=True)
                g_losses["total"] = g_losses["total"] + cfg.loop_anchor_weight * g_losses["g_loop_anchor"]
        self.opt_g.zero_grad(set_to_none=True)
        g_losses["total"].float().backward()
        self.opt_g.step()
        for m in frozen:
            m.requires_grad_(True)
        self._update_ema()
        for name, value in g_losses.items():
            logs[name if name.startswith("g_") else f"g_{name}"] = float(value.detach())
        self.step += 1
        self._consistent = True
        return logs

    def _anchor_distance(self, held, z, sentence, words, lengths, loop: bool = False) -> torch.Tensor:
        """L1 between G's clips `held` [B, 1, F, T] and what the frozen starting generator makes of the same
        noise and text."""
        with torch.no_grad():
            anchor = self.G_anchor(z, sentence, words, lengths, loop=loop)  # [B, 1, F, T]
        return (held.float() - anchor.float()).abs().mean()

    def _eval_forward(self, z, sentence, words, lengths) -> torch.Tensor:
        """G's clip with batch norm's running statistics (as exported), with gradients."""
        self.G.eval()
        try:
            return self.G(z, sentence, words, lengths)  # [B, 1, F, T]
        finally:
            self._hold_norm_stats(self.G.train())

    def _hold_norm_stats(self, g: nn.Module) -> None:
        """With config.freeze_norm_stats, g's batch norm layers normalise with (and keep) the running
        statistics they start with, as the exported generator does."""
        if self.config.freeze_norm_stats:
            for m in g.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

    def _mismatch_hinge(self, mel, real_out, captions, sentence, words, lengths, blind: bool) -> torch.Tensor:
        """mean relu(1 + D(real audio i, caption of i+1)) over pairs whose captions differ."""
        shift = torch.roll(torch.arange(mel.shape[0], device=mel.device), 1)  # [B]
        keep = torch.tensor([captions[i] != captions[j] for i, j in enumerate(shift.tolist())], device=mel.device)
        if not bool(keep.any()):
            return real_out.logit.new_zeros(())
        if blind:  # the trunk never saw the caption: only the projection head needs the wrong one
            logit = self.D.logit_from_global(real_out.global_feature, sentence[shift])  # [B]
        else:
            logit = self.D_train(mel, sentence[shift], words[shift], lengths[shift]).logit  # [B]
        return d_mismatch_hinge(logit[keep])

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up (as in common EMA practice): early on the average follows the weights closely,
        # so short runs and early checkpoints do not export something close to the init.
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - decay)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    @torch.no_grad()
    def init_output_level(self) -> float | None:
        """Set G's (and the EMA's) output bias to the mean log-mel of the training crops (each
        file's first clip, padded as in training). Called by fit() before step 1 of a fresh run
        when config.init_output_level; returns the level, or None when it does not apply."""
        layer = getattr(self.G, "colorize", None)
        if self.step != 0 or self.resumed or self.init_from or layer is None or layer.bias is None:
            return None
        ds = self.dataset
        level = float(np.mean([ds.crop(ds.full_mel(i), 0).mean(dtype=np.float64) for i in range(len(ds))]))
        for g in (self.G, self.G_ema, self.G_anchor):
            if g is not None:
                g.colorize.bias.fill_(level)
        return level

    # Watching -------------------------------------------------------------------------
    def _log(self, record: dict) -> None:
        if self.dist.is_main:
            with open(self.log_file, "a", encoding="utf-8") as fh:
                if fh.tell() > 0 and not _ends_with_newline(self.log_file):
                    fh.write("\n")  # a record cut off by a killed process stays on its own line
                fh.write(json.dumps(record) + "\n")

    def _mean_over_ranks(self, logs: dict[str, float]) -> dict[str, float]:
        """Losses averaged over all processes (every rank must call this at the same steps)."""
        if not self.dist.enabled or not logs:
            return logs
        names = sorted(logs)
        values = torch.tensor([logs[n] for n in names], dtype=torch.float64,
                              device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(values)
        return {n: float(v) / self.dist.world_size for n, v in zip(names, values.tolist())}

    @torch.no_grad()
    def preview(self) -> dict[str, float]:
        """Generated vs real log-mels for a few training captions (fixed noise), as WAV and
        PNG; returns the mel Fréchet distance between them (learning signal)."""
        if not self.dist.is_main:
            return {}
        from .previews import write_previews

        n = min(self.config.num_previews, len(self.items))
        picks = list(range(0, len(self.items), max(1, len(self.items) // n)))[:n]
        captions = [self.items[i].caption for i in picks]
        real = torch.stack([torch.from_numpy(self.dataset.crop(self.dataset.full_mel(i), 0)) for i in picks])
        real = real.to(self.device)  # [n, F, T], each file's start
        words, lengths, sentence = self.text.batch(captions, self.device)
        gen = step_generator(self.config.seed, 0, 0, PURPOSE_PREVIEW)  # same noise at every preview
        mc = self.config.model
        shape = (n, mc.noise_dim, mc.base_frames) if mc.any_length else (n, mc.noise_dim)
        z = torch.randn(*shape, generator=gen).to(self.device)
        fake = self.G_ema(z, sentence, words, lengths)[:, 0].float()  # [n, F, T]
        folder = self.run_dir / "previews" / f"step_{self.step:07d}"
        write_previews(folder, captions, fake.cpu(), real.cpu(), self.config.model.mel, self._preview_vocoder())
        return {"mel_fd": mel_frechet_distance(fake, real)}

    def _preview_vocoder(self):
        if getattr(self, "_vocoder", None) is None:
            from audiogan_core.plugins import build_vocoder

            self._vocoder = build_vocoder(self.config.model, self.preview_vocoder_name).load("cpu")
        return self._vocoder

    # Loop -----------------------------------------------------------------------------
    def fit(self, steps: int | None = None) -> None:
        """Train until `steps` (default: config.steps) generator updates are done.

        A checkpoint is written every `checkpoint_every` steps and at exit. Ctrl-C / SIGTERM stop
        at the next step boundary (a second Ctrl-C stops at once), so the checkpoint written at
        exit always holds a whole number of steps and a resumed run continues exactly. A NaN/inf
        loss raises TrainingDivergedError without overwriting the last checkpoint; so does a
        second Ctrl-C that lands inside a step."""
        total = steps if steps is not None else self.config.steps
        cfg = self.config
        # Under DDP each rank first decodes its own share of the library into the (shared) mel
        # cache, then checks the rest: no file is decoded twice unless a peer is still on it, and
        # no rank waits on another at a barrier (a long decode would trip the collective timeout).
        if self.dist.enabled:
            for index in range(self.dist.rank, len(self.dataset), self.dist.world_size):
                self.dataset.full_mel(index)
        self.dataset.precompute(progress=self.progress)
        self.text.warm([i.caption for i in self.items])
        if self.dist.is_main:
            self.text.save()
            atomic_write_text(self.run_dir / "train_config.json", cfg.to_json() + "\n")
        if self.resumed and self.step == self._saved_step:
            self._log({"step": self.step, "time": time.time(), "event": "resumed"})
        if cfg.init_output_level and self.step == 0 and not getattr(self, "_level_set", False):
            level = self.init_output_level()  # same files, same order on every rank: same value
            self._level_set = True
            if level is not None:
                self._log({"step": 0, "time": time.time(), "event": "init_output_level", "level": level})
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=min(self.step, total), desc="training", unit="step", dynamic_ncols=True)
        last = time.perf_counter()
        steps_since = 0
        diverged = stop = False
        restore_signals = self._catch_stop_signals()
        try:
            while self.step < total:
                logs = self.train_step()
                steps_since += 1
                bad = [(name, value) for name, value in logs.items() if not math.isfinite(value)]
                stop, diverged = self._agree(self._stop_signal is not None, bool(bad))
                if diverged:
                    name, value = bad[0] if bad else ("(on another rank)", float("nan"))
                    kept = f"step {self._saved_step}" if self._saved_step is not None else "none written"
                    raise TrainingDivergedError(
                        f"training diverged: loss {name} became {value} at step {self.step}; the last "
                        f"checkpoint ({kept}) is kept - resume from it with lower learning rates")
                if self.step % cfg.log_every == 0 or self.step == total:
                    logs = self._mean_over_ranks(logs)
                    now = time.perf_counter()
                    record = {"step": self.step, "time": time.time(), "steps_per_s": steps_since / (now - last), **logs}
                    last, steps_since = now, 0
                    self._log(record)
                    if bar is not None:
                        bar.set_postfix(d=f"{logs.get('d_total', 0):.3f}", g=f"{logs.get('g_total', 0):.3f}")
                if self.step % cfg.preview_every == 0:
                    self._log({"step": self.step, "time": time.time(), **self.preview()})
                if self.step % cfg.checkpoint_every == 0:
                    self.save_checkpoint()
                if bar is not None:
                    bar.update(1)
                if stop:
                    raise KeyboardInterrupt(f"stopped by {self._stop_signal or 'a signal to another rank'} "
                                            f"at step {self.step}")
        finally:
            restore_signals()
            if bar is not None:
                bar.close()
            if self.step > 0 and self._saved_step != self.step and self._consistent and not diverged:
                self.save_checkpoint()  # at exit too, also on Ctrl-C (always at a step boundary)
            elif not self._consistent and self.dist.is_main:
                print(f"audiogan train: stopped inside step {self.step + 1}; the checkpoint on disk "
                      f"(step {self._saved_step}) is kept", file=sys.stderr)
            if self.dist.enabled and not diverged and self._consistent:
                dist.barrier()

    def _agree(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag OR-ed over all ranks, so that every rank stops (or fails) at the same step."""
        if not self.dist.enabled:
            return tuple(flags)
        values = torch.tensor([float(f) for f in flags], device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return tuple(bool(v) for v in values.tolist())

    def _catch_stop_signals(self):
        """SIGINT/SIGTERM -> finish the current step, then stop (a second SIGINT stops at once).
        Returns a function that puts the previous handlers back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        self._stop_signal = None

        def handler(signum, frame):
            if self._stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop_signal = signal.Signals(signum).name
            if self.dist.is_main:
                print(f"audiogan train: {self._stop_signal}: stopping after step {self.step + 1} "
                      f"(Ctrl-C again to stop at once)", file=sys.stderr)

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore():
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore


def read_checkpoint(path: str | Path) -> tuple[dict, TrainConfig]:
    """A training checkpoint (loaded with weights_only=True) and its TrainConfig. Raises
    CheckpointError for an unreadable file or one that is not an audiogan training checkpoint."""
    path = Path(path)
    state = read_torch_checkpoint(path, "training checkpoint")
    if not isinstance(state, dict) or state.get("format") != "audiogan-train-1":
        raise CheckpointError(f"{path} is not an audiogan training checkpoint")
    return state, TrainConfig.from_dict(json.loads(state["config"]))


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def training_split(data_dir: str | Path, config: TrainConfig):
    """Scan a library the way `config` trains on it: (scan, training items, held-out items).
    The held-out clips come from `config.holdout_file`, else `config.holdout_fraction`."""
    from .library_scan import scan_library
    from .sampling import read_holdout, split_holdout

    data_dir, mc = Path(data_dir), config.model
    scan = scan_library(data_dir, mel_config=mc.mel, clip_frames=mc.frames, max_seconds=config.max_file_seconds)
    items, holdout = scan.items, []
    if config.holdout_file:
        items, holdout = split_holdout(items, read_holdout(data_dir / config.holdout_file), seed=config.seed)
    elif config.holdout_fraction > 0:
        items, holdout = split_holdout(items, config.holdout_fraction, seed=config.seed)
    return scan, items, holdout


def _split(out, n: int):
    """Split a discriminator output over cat([real, fake]) into (real, fake)."""
    cls = type(out)
    fields = {f: getattr(out, f) for f in ("logit", "global_feature", "local_features")}
    real = cls(**{k: v[:n] for k, v in fields.items()})
    fake = cls(**{k: v[n:] for k, v in fields.items()})
    return real, fake
