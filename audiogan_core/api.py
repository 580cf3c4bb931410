"""The stable public API.

    from audiogan_core import AudioGAN
    model = AudioGAN.load("default")                    # or a folder, or the published generator.pt
    clips = model.generate(["rain on a tin roof"], seed=3, variations=4)
    clips[0].audio, clips[0].sample_rate                # float32 [samples], Hz

Variation k of a request with seed S uses seed S + k, so any single clip can be
re-made alone with `seed=clip.seed`. Noise is drawn on the CPU, so a seed gives the
same noise on every device. On the CPU each clip is generated alone, so its samples do not
depend on batch_size or on the other texts and variations of the request, and the same machine
and thread count give the same samples in every process (`model.batched = True` runs the
GPU's batched path on the CPU too). On a GPU (batched), and across
machines or thread counts, float rounding can differ in the last bits (Griffin-Lim's
iterations amplify that to ~1e-4).

Every clip leaves generate() at a delivery level (levels.py): by default its true peak at
-1 dBTP; `loudness=-18` (LUFS, implies normalize="loudness") for an integrated-loudness target,
limited to -1 dBTP; `normalize=None` for the raw output. `trim=True` cuts leading and trailing
silence, with fades. A near-silent clip (below -70 dBFS) is left as it is, with a LevelWarning.
Each clip carries what was done (`clip.level`) and how to make it again (`clip.recipe`);
`clip.save("x.wav")` writes it with that metadata (bext + iXML, see recipe.py).
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .config import ModelConfig, preset
from .delivery import Delivery, LevelWarning
from .errors import ConfigError, InputError, MelConfigMismatchError, MissingResourceError
from .levels import LevelReport, deliver
from .limits import (ANY_LENGTH_DEFAULT_SECONDS, ANY_LENGTH_MAX_SECONDS, ANY_LENGTH_MIN_SECONDS,  # noqa: F401
                     MAX_TEXT_CHARS, MAX_VARIATIONS)  # (MAX_*: their old home)
from .recipe import Recipe, recipe_for
from .request import Request, check_request


def candidate_seed(seed: int, candidate: int) -> int:
    """The noise seed of reranking candidate k > 0 of `seed`: hashed, so it is no other seed's
    candidate 0 (variation k of seed S is seed S + k) and no other (seed, k)'s draw."""
    return int(np.random.SeedSequence([int(seed), int(candidate)]).generate_state(1, np.uint64)[0] >> 1)


LOOP_VOCODER_CONTEXT = 64  # frames of wrap-around context for the vocoder (HiFi-GAN's reach is ~30)
MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "default"


@dataclass
class Clip:
    text: str
    seed: int
    variation: int
    audio: np.ndarray  # float32 [samples], mono, roughly in [-1, 1]
    sample_rate: int
    level: LevelReport | None = None  # what normalisation and trimming did
    recipe: Recipe | None = None  # how to make it again

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate

    def save(self, path: str | os.PathLike, *, sample_rate: int | None = None, bit_depth: int = 16,
             overwrite: bool = False) -> Path:
        """Write a WAV (resampled to `sample_rate`; 16, 24 or 32 = float) with the clip's
        bext and iXML metadata, atomically, never silently overwriting."""
        from .io import write_wav

        return write_wav(path, self.audio, self.sample_rate, target_rate=sample_rate, bit_depth=bit_depth,
                         overwrite=overwrite, recipe=self.recipe, level=self.level)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} asked for, but this machine has no usable CUDA GPU")
    return dev


def bundled_models() -> list[str]:
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "config.json").is_file())


def locate_model(name_or_path: str | os.PathLike) -> tuple[str, Path]:
    """Where a model name points: ("published", the authors' generator.pt) or ("folder", a model
    folder). A bundled model's name is used when no file or folder of that name exists. The one
    resolution for AudioGAN.load and the trainer's --init-from."""
    name = str(name_or_path)
    folder = Path(name)
    if not folder.exists() and name in bundled_models():
        folder = MODELS_DIR / name
    published = folder / "generator.pt" if folder.is_dir() else folder
    if published.suffix == ".pt" and published.is_file():
        return "published", published
    if not folder.exists():
        known = ", ".join(bundled_models()) or "none installed"
        raise MissingResourceError(f"no model {name!r}: not a bundled model ({known}) and no such file or folder")
    return "folder", folder


class AudioGAN:
    """Text encoder + generator + vocoder, ready to generate."""

    def __init__(self, config: ModelConfig, generator, text_encoder, vocoder, device="cpu", source: str = "?"):
        self.config = config
        self.device = resolve_device(device)
        self.generator = generator.to(self.device).eval()
        self.text_encoder = text_encoder
        self.vocoder = vocoder
        self.source = source
        # None: batch on a GPU, one clip at a time on the CPU (see generate_mel); True / False force it.
        self.batched: bool | None = None
        self.plugin_options: dict = {}  # name and given options of each plugin, for recipes
        self.notes: list[str] = []  # what load() chose that the caller did not ask for (a fallback)
        self.scorer = None  # a MelTextScorer that picks each clip among noise draws (scorer.py), if the model has one
        check_compatible(config, text_encoder, vocoder)

    # Construction --------------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str | os.PathLike = DEFAULT_MODEL, *, text_encoder: str | None = None,
             vocoder: str | None = None, device: str | None = "cpu", text_encoder_options: dict | None = None,
             vocoder_options: dict | None = None) -> "AudioGAN":
        """Load a bundled model by name ("default"), a model folder (config.json +
        generator.safetensors), the authors' published `generator.pt` (or a folder holding it),
        or "untrained:PRESET" (random weights, for tests and metric ceilings)."""
        from .checkpoint import load_model_folder, load_state_dict_checked
        from .generator import Generator
        from .scorer import check_scorer, load_scorer

        name = str(name_or_path)
        dev = resolve_device(device)
        if name.startswith("untrained:"):
            config = preset(name.split(":", 1)[1])
            torch.manual_seed(0)
            generator = Generator(config)
            source = name
        else:
            kind, folder = locate_model(name)
            if kind == "published":
                return cls._load_published(folder, text_encoder=text_encoder, vocoder=vocoder, device=dev,
                                           text_encoder_options=text_encoder_options, vocoder_options=vocoder_options)
            config, state = load_model_folder(folder)
            generator = Generator(config)
            load_state_dict_checked(generator, state, f"generator in {folder}")
            scorer = load_scorer(folder)
            if scorer is not None:
                check_scorer(scorer, config.n_mels, config.sentence_dim, str(folder))
            model = cls._assemble(config, generator, dev, str(folder), text_encoder, vocoder, text_encoder_options,
                                  vocoder_options)
            model.scorer = scorer.to(dev) if scorer is not None else None
            return model
        return cls._assemble(config, generator, dev, source, text_encoder, vocoder, text_encoder_options,
                             vocoder_options)

    @classmethod
    def _load_published(cls, path: Path, *, text_encoder, vocoder, device, text_encoder_options, vocoder_options):
        from .published import load_published_generator

        config = preset("paper")
        generator = load_published_generator(path, device="cpu")
        te_opts = dict(text_encoder_options or {})
        vo_opts = dict(vocoder_options or {})
        # The release ships the 16 kHz HiFi-GAN and the CLAP checkpoint beside generator.pt.
        folder = path.parent
        if (vocoder or "hifigan") == "hifigan" and "checkpoint" not in vo_opts:
            ckpt = folder / "hifigan_16k_64bins.ckpt"
            if ckpt.is_file():
                vo_opts["checkpoint"] = str(ckpt)
        if (text_encoder or "clap") == "clap" and "checkpoint" not in te_opts:
            ckpt = folder / "music_speech_audioset_epoch_15_esc_89.98.pt"
            if ckpt.is_file():
                te_opts["checkpoint"] = str(ckpt)
        return cls._assemble(config, generator, device, str(path), text_encoder, vocoder, te_opts, vo_opts)

    @classmethod
    def _assemble(cls, config, generator, device, source, text_encoder, vocoder, te_opts, vo_opts):
        from .plugins import build_text_encoder, build_vocoder

        te = build_text_encoder(config, text_encoder, te_opts)
        notes = []
        may_fall_back = vocoder is None and not vo_opts and config.vocoder_fallback  # the model's choice only
        try:
            vo = build_vocoder(config, vocoder, vo_opts)
            if may_fall_back:
                _check_resources(vo)
        except MissingResourceError as exc:
            if not may_fall_back:
                raise
            vocoder = config.vocoder_fallback
            notes.append(f"{exc}; using the model's fallback vocoder {vocoder!r} "
                         f"(--vocoder {vocoder} chooses it without this note)")
            vo = build_vocoder(config, vocoder, {})
        check_compatible(config, te, vo)
        _check_resources(te, vo)
        model = cls(config, generator, te, vo, device=device, source=source)
        model.notes = notes
        model.plugin_options = {"text_encoder": (text_encoder or config.text_encoder, dict(te_opts or {})),
                                "vocoder": (vocoder or config.vocoder, dict(vo_opts or {}))}
        return model

    @classmethod
    def from_config(cls, config: ModelConfig, *, seed: int = 0, text_encoder: str | None = None,
                    vocoder: str | None = None, device: str | None = "cpu", text_encoder_options=None,
                    vocoder_options=None) -> "AudioGAN":
        """A randomly initialised model (plumbing, speed tests, metric ceilings)."""
        from .generator import Generator

        torch.manual_seed(seed)
        return cls._assemble(config, Generator(config), resolve_device(device), f"untrained:{config.name}",
                             text_encoder, vocoder, text_encoder_options, vocoder_options)

    def save(self, folder: str | os.PathLike, *, metadata: dict | None = None) -> Path:
        from .checkpoint import save_model

        save_model(Path(folder), self.generator, self.config, metadata=metadata)
        if self.scorer is not None:
            from .scorer import save_scorer

            save_scorer(folder, self.scorer)
        return Path(folder)

    # Properties ----------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.config.mel.sample_rate

    @property
    def max_seconds(self) -> float:
        """The longest clip a request may ask for: 60 s for an any-length model, else its clip length."""
        return ANY_LENGTH_MAX_SECONDS if self.config.any_length else self.config.clip_seconds

    @property
    def default_seconds(self) -> float:
        return ANY_LENGTH_DEFAULT_SECONDS if self.config.any_length else self.config.clip_seconds

    @property
    def default_candidates(self) -> int:
        """Noise draws each clip is chosen from when a request does not say: the scorer's default, 1 without one."""
        return self.scorer.config.default_candidates if self.scorer is not None else 1

    def to(self, device) -> "AudioGAN":
        self.device = resolve_device(device)
        self.generator.to(self.device)
        if self.scorer is not None:
            self.scorer.to(self.device)
        self.text_encoder.load(self.device)
        self.vocoder.load(self.device)
        return self

    # Generation ----------------------------------------------------------------------
    def check_request(self, texts, seconds=None, variations=1, seed=None, *, delivery: Delivery | None = None,
                      loop: bool = False, candidates: int | None = None) -> Request:
        """A checked Request for this model (its length and candidates filled in); `texts` may already
        be a Request (from audiogan_core.request.check_request), which only gets the model's side."""
        if isinstance(texts, Request):
            if (seconds is not None or variations != 1 or seed is not None or delivery is not None or loop
                    or candidates is not None):
                raise InputError("pass either a Request or texts with seed/variations/seconds/delivery/loop/"
                                 "candidates, not both")
            request = texts
        else:
            request = check_request(texts, seed=seed, variations=variations, seconds=seconds, delivery=delivery,
                                    loop=loop, candidates=candidates)
        if request.candidates is None:
            request = dataclasses.replace(request, candidates=self.default_candidates)
        elif request.candidates > 1 and self.scorer is None:
            raise InputError(f"candidates={request.candidates} needs a model with a scorer (scorer.safetensors in "
                             f"its folder; `audiogan train-scorer` makes one); this model has none, use 1")
        if request.loop and not self.config.any_length:
            raise InputError(f"model {self.config.name!r} makes fixed-length clips; loops need an any-length "
                             f"model (such as the foley2 preset)")
        if self.config.any_length:
            return request.fit(min_seconds=ANY_LENGTH_MIN_SECONDS, max_seconds=self.max_seconds,
                               default_seconds=self.default_seconds)
        return request.fit(min_seconds=self.config.mel.seconds_for(1), max_seconds=self.max_seconds,
                           min_label="one frame")

    def noise(self, seed: int, base_frames: int | None = None, candidate: int = 0) -> torch.Tensor:
        """The generator's noise for one seed, drawn on the CPU: [noise_dim], or for an any-length
        model [noise_dim, base_frames]. Drawn frame by frame, so a longer clip with the same seed
        starts from the same noise as a shorter one. Candidate k > 0 of a seed (reranking) draws
        from a stream of its own, apart from every seed's candidate 0 (so from other variations)."""
        gen = torch.Generator().manual_seed(int(seed) if candidate == 0 else candidate_seed(seed, candidate))
        if not self.config.any_length:
            return torch.randn(self.config.noise_dim, generator=gen)
        t0 = base_frames or self.config.base_frames
        return torch.randn(t0, self.config.noise_dim, generator=gen).t()  # [noise_dim, T0]

    def loop_frames(self, seconds: float) -> int:
        """Frames of a loop near `seconds` (at least one step): whole base frames (32 mel frames,
        0.37 s at 22.05 kHz), or whole noise blocks for a "blocks" model (foley2: 256 frames, 2.97 s),
        since the generator's grid is what wraps around and the seam must join what training joined."""
        step = self.config.loop_step_frames
        frames = max(1, round(seconds * self.sample_rate / self.config.mel.hop_length / step)) * step
        return frames

    @torch.inference_mode()
    def generate_mel(self, texts: str | Sequence[str] | Request, *, seed: int | None = None, variations: int = 1,
                     seconds: float | None = None, batch_size: int = 16,
                     progress: Callable[[float], None] | None = None, extra_frames: int = 0,
                     loop: bool = False, candidates: int | None = None):
        """Log-mels [N, n_mels, frames] for N = len(texts) * variations, text-major order,
        plus the list of (text, seed, variation) they belong to and the clip length in seconds.
        `frames` covers `seconds` (rounded up to whole frames) plus `extra_frames`, up to the
        model's length. `loop=True` (any-length models): a seamless loop of whole loop steps
        (config.loop_step_frames) near `seconds` (the seconds returned are the loop's).
        `candidates` (None: the model's default): each clip's noise is the one of that many draws
        the model's scorer rates closest to its text (see pick_candidate)."""
        request = self.check_request(texts, seconds, variations, seed, loop=loop, candidates=candidates)
        seconds, loop = request.seconds, request.loop
        hop = self.config.mel.hop_length
        if loop:
            frames = self.loop_frames(seconds)
            seconds = self.config.mel.seconds_for(frames)
        else:
            # enough frames to cover every output sample (generate() crops to round(seconds * rate))
            n_samples = int(round(seconds * self.sample_rate))
            frames = max(1, math.ceil(n_samples / hop)) + max(0, int(extra_frames))
            if not self.config.any_length:
                frames = min(self.config.frames, frames)
        t0 = self.config.base_frames_for(frames) if self.config.any_length else None
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        texts, jobs = request.texts, request.clips  # jobs: (text index, text, seed, variation)
        # On the CPU every text is encoded alone and every clip generated alone: float rounding
        # in matrix products depends on the batch shape, so this is what makes a clip bit-identical
        # however it was batched (variation k of seed S == seed S + k alone). Batching gains
        # nothing on a CPU; on a GPU it does, and results agree to float rounding (~1e-6).
        # `self.batched` overrides the choice (tests run the batched path on the CPU).
        alone = self.device.type == "cpu" if self.batched is None else not self.batched
        if alone:
            per_text = [self.text_encoder.encode([t]).to(self.device) for t in texts]
            for f in per_text:
                _check_features(f, self.config)
            batch_size = 1
        else:
            feats = self.text_encoder.encode(texts).to(self.device)
            _check_features(feats, self.config)
        picks = [0] * len(jobs)
        if request.candidates > 1:
            for k, (i, _, s, _) in enumerate(jobs):
                f = per_text[i] if alone else feats.select(i)
                picks[k] = self.pick_candidate(f, s, request.candidates, frames)
        mels = []
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            z = torch.stack([self.noise(j[2], t0, picks[start + n]) for n, j in enumerate(chunk)]
                            ).to(self.device)  # [b, noise_dim(, T0)]
            if alone:
                f = per_text[chunk[0][0]]
                mel = self.generator(z, f.sentence, f.words, f.lengths, loop=loop)  # [1, 1, F, T]
            else:
                idx = torch.tensor([j[0] for j in chunk], device=self.device)
                mel = self.generator(z, feats.sentence[idx], feats.words[idx], feats.lengths[idx],
                                     loop=loop)  # [b, 1, F, T]
            mel = mel[:, 0, :, :frames].float()  # [b, F, frames]
            if loop:  # the same circle, its file starting where config.loop_start_frame says
                mel = torch.roll(mel, -self.config.loop_start_frame, dims=-1)
            mels.append(mel)
            if progress is not None:
                progress(0.5 * min(1.0, (start + len(chunk)) / len(jobs)))
        return torch.cat(mels), [(t, s, v) for _, t, s, v in jobs], request.seconds

    def pick_candidate(self, features, seed: int, candidates: int, frames: int) -> int:
        """Which of `candidates` noise draws for `seed` (candidate k: noise(seed, ..., k)) makes
        the mel the scorer rates closest to the text (features of one text, batch 1). The draws
        are generated together and scored on their first min(frames, scorer.config.score_frames)
        frames, an any-length model making only that much: the scored part is the start of the
        clip the chosen draw then makes."""
        n = candidates
        score_frames = min(frames, self.scorer.config.score_frames)
        t0 = self.config.base_frames_for(score_frames) if self.config.any_length else None
        z = torch.stack([self.noise(seed, t0, k) for k in range(n)]).to(self.device)  # [n, noise_dim(, T0)]
        f = features.repeat_interleave(n)
        mel = self.generator(z, f.sentence, f.words, f.lengths)  # [n, 1, F, T]
        scores = self.scorer(mel[:, 0, :, :score_frames].float(), features.sentence.float())  # [n]
        return int(scores.argmax())

    def _vocode_loop(self, mel: torch.Tensor, margin: int) -> torch.Tensor:
        """Vocode a loop [1, F, T] wrapped around: with `context` frames of its end before its start
        and of its start after its end, every output sample sees the same neighbours it would in
        an endless repetition, so the waveform wraps as seamlessly as the mel does."""
        T = mel.shape[-1]
        context = max(margin, LOOP_VOCODER_CONTEXT)
        reps = -(-context // T)  # a loop shorter than the context repeats
        tiled = mel.repeat(1, 1, 2 * reps + 1)  # [1, F, (2 reps + 1) T]
        hop = self.config.mel.hop_length
        start = reps * T - context
        wave = self.vocoder(tiled[..., start: start + T + 2 * context])  # [1, (T + 2 context) hop]
        return wave[..., context * hop: (context + T) * hop]

    def stream(self, text: str, *, seed: int | None = None, seconds: float | None = None, chunk_frames: int = 32,
               normalize: bool = True, candidates: int | None = None):
        """Yield one clip's audio in chunks (float32 [chunk_frames * hop], the last shorter) as the
        vocoder makes them, so playback can start after the first. The generator's mel is made
        whole first (it is fast); with a vocoder that has `stream()` (vocos) the waveform comes
        chunk by chunk, otherwise as one piece. normalize: a single gain puts the clip's peak at
        -1 dBFS, taken from the chunk around the loudest mel frame (vocoded first, ~5 ms), since
        the true peak of the whole clip is known only at the end; a later chunk that would still
        go over is turned down (never clipped). `generate()` (and every written file) measures
        the true peak of the whole clip instead."""
        mels, _, seconds = self.generate_mel([text], seed=seed, seconds=seconds, candidates=candidates,
                                             extra_frames=max(8, math.ceil(self.config.mel.n_fft /
                                                                           self.config.mel.hop_length)))
        mel = mels[:1]  # [1, F, T]
        n_samples = int(round(seconds * self.sample_rate))
        hop = self.config.mel.hop_length
        gain, ceiling = 1.0, 10 ** (-1 / 20)
        streaming = callable(getattr(self.vocoder, "stream", None))
        if normalize:
            loudest = int(torch.logsumexp(mel[0], dim=0).argmax())  # the frame with the most energy
            a = max(0, min(loudest - chunk_frames // 2, mel.shape[-1] - chunk_frames))
            probe = next(iter(self.vocoder.stream(mel[..., a:], chunk_frames))) if streaming else None
            peak = float(probe.abs().max()) if probe is not None else 0.0
            gain = ceiling / peak if peak > 10 ** (-70 / 20) else 1.0
        pieces = self.vocoder.stream(mel, chunk_frames) if streaming else iter([self.vocoder(mel)])
        done = 0
        for piece in pieces:
            audio = piece[0].float().cpu().numpy()[: max(0, n_samples - done)]
            if not audio.size:
                break
            if normalize and not streaming and done == 0:
                peak = float(np.abs(audio).max())
                gain = ceiling / peak if peak > 10 ** (-70 / 20) else 1.0
            peak = float(np.abs(audio).max()) * gain
            if peak > ceiling:  # louder than the probe: turn down from here on
                gain *= ceiling / peak
            done += audio.size
            yield (audio * gain).astype(np.float32)

    @torch.inference_mode()
    def generate(self, texts: str | Sequence[str] | Request, *, seed: int | None = None, variations: int = 1,
                 seconds: float | None = None, batch_size: int = 16,
                 progress: Callable[[float], None] | None = None, normalize: str | None = "peak",
                 loudness: float | None = None, trim: bool = False, loop: bool = False,
                 candidates: int | None = None) -> list[Clip]:
        """Clips for every text and variation (text-major); `texts` may be a Request from
        check_request, used as it is (its delivery and loop included). `progress(fraction)` is
        called as work completes; raise from it to abandon the request. normalize: "peak" (true
        peak at -1 dBTP), "loudness" (`loudness` LUFS, default -23, limited to -1 dBTP) or None
        (raw); a `loudness` target alone implies "loudness". trim: cut leading/trailing silence.
        loop (any-length models): a clip whose end runs into its start, `seconds` rounded to the
        generator's grid; the vocoder runs on the loop wrapped around, so the seam is like any
        other point of the clip. candidates (models with a scorer; None: the model's default, 1
        without a scorer): each clip is the one of that many noise draws the scorer rates closest
        to its text; the generator runs once more per draw, the vocoder once."""
        custom = (normalize, loudness, trim) != ("peak", None, False)
        delivery = Delivery(normalize=normalize, loudness=loudness, trim=trim) if custom else None
        # A few frames past the end for the vocoder: the clip's last samples are then not at the
        # edge of its input (and Griffin-Lim's reflect padding needs more than one frame). The
        # generator makes its whole length anyway, so a short clip is the start of the full one.
        mel = self.config.mel
        margin = max(8, math.ceil(mel.n_fft / mel.hop_length))
        request = self.check_request(texts, seconds, variations, seed, delivery=delivery, loop=loop,
                                     candidates=candidates)
        loop = request.loop
        mels, jobs, seconds = self.generate_mel(request, batch_size=batch_size, progress=progress,
                                                extra_frames=0 if loop else margin)
        n_samples = mels.shape[-1] * mel.hop_length if loop else int(round(seconds * self.sample_rate))
        clips = []
        # One clip per vocoder call: a clip must not depend on which clips share its batch, and
        # vocoders may not guarantee that (Griffin-Lim's initial phase is drawn per batch row,
        # a vocoder may normalise over the batch). The generator dominates the cost anyway.
        for i, (text, s, v) in enumerate(jobs):
            row = (self._vocode_loop(mels[i:i + 1], margin) if loop else self.vocoder(mels[i:i + 1]))
            row = row[0].float().cpu().numpy()  # [samples]
            audio = np.zeros(n_samples, np.float32)
            audio[:min(n_samples, len(row))] = row[:n_samples]
            audio, level = deliver(audio, self.sample_rate, request.delivery)
            if level.warning:
                warnings.warn(f"{text!r} seed {s}: {level.warning}", LevelWarning, stacklevel=3)
            clips.append(Clip(text, s, v, audio, self.sample_rate, level,
                              recipe_for(self, text, s, v, seconds, request.delivery, loop=loop,
                                         candidates=request.candidates)))
            if progress is not None:
                progress(0.5 + 0.5 * (i + 1) / len(jobs))
        return clips


def check_compatible(config: ModelConfig, text_encoder, vocoder) -> None:
    """Fail before any audio is made when the plugins do not fit the generator."""
    vmel = getattr(vocoder, "mel_config", None)
    if vmel is not None and vmel != config.mel:
        raise MelConfigMismatchError(
            f"vocoder {getattr(vocoder, 'name', '?')!r} expects another mel front end than model "
            f"{config.name!r} ({config.mel.differences(vmel)})")
    for attr in ("word_dim", "sentence_dim"):
        have = getattr(text_encoder, attr, None)
        if have is not None and have != getattr(config, attr):
            raise ConfigError(
                f"text encoder {getattr(text_encoder, 'name', '?')!r} gives {attr}={have} but model "
                f"{config.name!r} needs {getattr(config, attr)}")


def _check_resources(*plugins) -> None:
    """Fail at load time, not at the first request, when a plugin's files are missing."""
    for plugin in plugins:
        check = getattr(plugin, "missing_resources", None)
        if callable(check):
            problems = check()
            if problems:
                raise MissingResourceError(str(problems[0]))


def _check_features(feats, config) -> None:
    n = feats.sentence.shape[0] if feats.sentence.dim() == 2 else -1
    if (feats.words.dim() != 3 or feats.words.shape[0] != n or feats.words.shape[2] != config.word_dim
            or feats.sentence.shape[1] != config.sentence_dim or tuple(feats.lengths.shape) != (n,)):
        raise ConfigError(
            f"text encoder returned words {tuple(feats.words.shape)}, sentence {tuple(feats.sentence.shape)}, "
            f"lengths {tuple(feats.lengths.shape)}; model {config.name!r} needs [B, L, {config.word_dim}], "
            f"[B, {config.sentence_dim}], [B]")
    for name in ("words", "sentence"):
        t = getattr(feats, name)
        if not torch.isfinite(t).all():
            raise InputError(f"text encoder returned non-finite {name} features")
