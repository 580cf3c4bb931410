"""Folders (or a model + captions) -> metric report, with a floor and a ceiling beside every number.

    from audiogan_core.evaluation import load_folder, evaluate, format_report
    report = evaluate(load_folder("out/"), load_folder("reference/"), embedders=["aisfx"])
    print(format_report(report))

Per embedder: FD (Fréchet distance of clip embeddings; VGGish: of 0.96 s frame embeddings,
i.e. the FAD), IS and KL (when the embedder has a classifier head; KL needs generated and
reference clips paired by file stem or caption) and text-audio similarity (when the embedder
can embed text: CLAP; `aisfx` cannot, reported as n/a).

Floor: the metric between two disjoint halves of the reference set (sorted by name, even
positions vs odd positions): what "as good as real audio" looks like. Because the FD of a
finite set is biased upwards, more so for fewer clips, the report adds an "FD half-sets" row
that puts the generated set through the same comparison (its even half against the odd
reference half): that row's value, floor and ceiling are computed at equal set sizes.
Ceiling: the metric for an untrained generator (random weights, same shape and plugins as the
evaluated model, else the `small` preset) generating the same captions: what "learned nothing"
looks like. A result is only meaningful relative to these two. Note that the FD of small sets
is biased upwards (the floor, computed on half-sets, more so).

Only with the published embedders and checkpoints (vggish, panns, clap) and the AudioCaps test
set are the numbers comparable with the tables of the papers.
"""
from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import AudioGANError, DataError, InputError
from .library import AUDIO_EXTENSIONS, caption_table, find_audio, read_caption_file, sidecar_caption
from .metrics import (MIN_CLIPS, UnstableMetricWarning, cosine_matrix, covariance_note, frechet_distance,
                      inception_score, kl_divergence, text_audio_similarity)

MIN_FLOOR_CLIPS = 2 * MIN_CLIPS  # the floor splits the reference set in two halves of >= 2 clips
IS_SPLITS_FROM = 100  # >= this many clips: 10 shuffled splits (audioldm_eval); fewer: one split
REPORT_VERSION = 1
PUBLISHED_EMBEDDERS = ("vggish", "panns", "clap")
LOWER_IS_BETTER = {"fd": True, "fd_half": True, "kl": True, "is": False, "text_audio": False}
METRIC_LABELS = {"fd": "FD", "fd_half": "FD half-sets", "is": "IS", "kl": "KL", "text_audio": "text-audio sim"}


# Data ---------------------------------------------------------------------------------
@dataclass
class AudioItem:
    key: str  # file stem (pairing key)
    audio: np.ndarray  # float32 [samples], mono
    sample_rate: int
    caption: str | None = None
    path: str | None = None


@dataclass
class AudioCollection:
    name: str
    source: str
    items: list[AudioItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def rates(self) -> dict[int, int]:
        return dict(Counter(item.sample_rate for item in self.items))

    def subset(self, indices: Sequence[int], name: str) -> "AudioCollection":
        return AudioCollection(name, self.source, [self.items[i] for i in indices])

    def summary(self) -> dict:
        return {"source": self.source, "clips": len(self.items), "sample_rates": self.rates,
                "captioned": sum(1 for i in self.items if i.caption), "skipped": [list(s) for s in self.skipped],
                "notes": list(self.notes)}


def read_captions(path: str | Path) -> dict[str, str]:
    """{file stem: caption} from a captions .jsonl (objects with "file" and "caption") or .csv
    (a header naming `file` and `caption` columns), read strictly: the first bad row is an
    InputError. The first row naming a stem wins."""
    rows, _ = read_caption_file(path, strict=True)
    out: dict[str, str] = {}
    for row in rows:
        out.setdefault(Path(row.file).stem, row.caption)
    if not out:
        raise InputError(f"{path} holds no captions")
    return out


def load_folder(folder: str | Path, *, name: str = "reference", captions: str | Path | None = None,
                max_seconds: float | None = None) -> AudioCollection:
    """Every audio file under `folder` (recursively, audiogan_core.library's rules), mono float32
    at its own rate; unreadable or empty files are skipped and listed. Captions come from
    `captions` (matched by file stem), else from the folder's own caption files and sidecars
    (audiogan_core.library's order of precedence; problems become notes)."""
    import soundfile as sf

    root = Path(folder)
    if not root.exists():
        raise DataError(f"{name} folder not found: {root}")
    if not root.is_dir():
        raise DataError(f"{name} must be a folder of audio files, got the file {root}")
    by_stem = read_captions(captions) if captions else None
    table, problems = ({}, []) if captions else caption_table(root)
    files, _ = find_audio(root)
    if not files:
        raise DataError(f"no audio files in {root} (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})")
    coll = AudioCollection(name, str(root))
    coll.notes += [f"{p.where}: {p.message}" for p in problems if p.kind != "duplicate"]
    seen: dict[str, str] = {}
    for path in files:
        try:
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:  # libsndfile: unknown format, truncated, not audio at all
            coll.skipped.append((str(path), f"unreadable: {str(exc).splitlines()[0][:120]}"))
            continue
        audio = data.mean(axis=1)
        if max_seconds:
            audio = audio[:int(max_seconds * rate)]
        if audio.size == 0:
            coll.skipped.append((str(path), "no samples"))
            continue
        if not np.isfinite(audio).all():
            coll.skipped.append((str(path), "NaN or infinite samples"))
            continue
        key = path.stem
        if key in seen:
            coll.skipped.append((str(path), f"same name as {seen[key]} (pairing is by file stem)"))
            continue
        seen[key] = str(path)
        rel = path.relative_to(root).as_posix()
        if by_stem is not None:
            caption = by_stem.get(key)
        elif rel in table:
            caption = table[rel].caption
        else:
            caption, sidecar_problems = sidecar_caption(path, rel)
            coll.notes += [f"{p.where}: {p.message}" for p in sidecar_problems]
        coll.items.append(AudioItem(key, np.ascontiguousarray(audio, np.float32), int(rate), caption, str(path)))
    if not coll.items:
        raise DataError(f"no usable audio in {root}: all {len(files)} file(s) failed "
                        f"({'; '.join(f'{Path(p).name}: {r}' for p, r in coll.skipped[:5])})")
    captioned = sum(1 for i in coll.items if i.caption is not None)
    if 0 < captioned < len(coll.items):
        coll.notes.append(f"{len(coll.items) - captioned} clip(s) have no caption")
    return coll


def generate_collection(model, captions: dict[str, str] | Sequence[tuple[str, str]], *, seed: int = 0,
                        seconds: float | None = None, batch_size: int = 8, name: str = "generated",
                        progress: Callable[[str], None] | None = None,
                        candidates: int | None = None) -> AudioCollection:
    """One clip per (key, caption) from an AudioGAN model, seed `seed` for every clip
    (`candidates`: reranking, None = the model's default)."""
    pairs = list(captions.items()) if isinstance(captions, dict) else list(captions)
    if not pairs:
        raise InputError("no captions to generate from")
    coll = AudioCollection(name, getattr(model, "source", "model"))
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        # The model's raw level: metrics measure the model, and the published figures were made so.
        clips = model.generate([c for _, c in chunk], seed=seed, seconds=seconds, batch_size=batch_size,
                               normalize=None, candidates=candidates)
        for (key, caption), clip in zip(chunk, clips):
            coll.items.append(AudioItem(key, clip.audio, clip.sample_rate, caption))
        if progress:
            progress(f"{name}: {min(start + batch_size, len(pairs))}/{len(pairs)} clips")
    return coll


def pair_items(generated: AudioCollection, reference: AudioCollection) -> tuple[list[tuple[int, int]], str]:
    """Index pairs (generated, reference) for the same caption: by file stem when the sets
    share stems, else by identical caption text (case and surrounding space ignored)."""
    ref_by_key = {item.key: j for j, item in enumerate(reference.items)}
    by_key = [(i, ref_by_key[item.key]) for i, item in enumerate(generated.items) if item.key in ref_by_key]
    if by_key:
        return by_key, "file stem"
    ref_by_caption: dict[str, int] = {}
    for j, item in enumerate(reference.items):
        if item.caption:
            ref_by_caption.setdefault(item.caption.strip().lower(), j)
    by_caption = [(i, ref_by_caption[item.caption.strip().lower()]) for i, item in enumerate(generated.items)
                  if item.caption and item.caption.strip().lower() in ref_by_caption]
    return by_caption, ("caption" if by_caption else "none")


def reference_halves(n: int) -> tuple[list[int], list[int]]:
    """Deterministic disjoint halves: even and odd positions of the name-sorted set."""
    return list(range(0, n, 2)), list(range(1, n, 2))


# Embedding ----------------------------------------------------------------------------
@dataclass
class Embedded:
    embeddings: np.ndarray  # [n, dim]
    probabilities: np.ndarray | None  # [n, classes]
    frames: list[np.ndarray] | None  # per clip [windows, dim] (VGGish) or None
    resampled: dict[int, int]  # native rate -> clips resampled from it

    def rows(self, idx: Sequence[int]) -> "Embedded":
        idx = list(idx)
        return Embedded(self.embeddings[idx], None if self.probabilities is None else self.probabilities[idx],
                        None if self.frames is None else [self.frames[i] for i in idx], {})

    def fd_matrix(self) -> np.ndarray:
        return np.concatenate(self.frames) if self.frames is not None else self.embeddings


def embed_collection(embedder, coll: AudioCollection, *, chunk: int = 16,
                     progress: Callable[[str], None] | None = None) -> Embedded:
    """Resample every clip to the embedder's rate and embed (in chunks to bound memory)."""
    from .io import resample

    rate = int(embedder.sample_rate)
    embs, probs, frames = [], [], []
    has_frames = True
    resampled: Counter = Counter()
    for start in range(0, len(coll.items), chunk):
        batch = []
        for item in coll.items[start:start + chunk]:
            if item.sample_rate != rate:
                resampled[item.sample_rate] += 1
                batch.append(resample(item.audio, item.sample_rate, rate))
            else:
                batch.append(item.audio)
        res = embedder.embed(batch, rate)
        embs.append(np.asarray(res.embeddings.detach().cpu().numpy() if hasattr(res.embeddings, "detach")
                               else res.embeddings, np.float64))
        if res.probabilities is not None:
            p = res.probabilities
            probs.append(np.asarray(p.detach().cpu().numpy() if hasattr(p, "detach") else p, np.float64))
        fr = getattr(res, "frames", None)
        if fr is None:
            has_frames = False
        else:
            frames.extend(np.asarray(f.detach().cpu().numpy() if hasattr(f, "detach") else f, np.float64) for f in fr)
        if progress:
            progress(f"{embedder.name}: embedded {min(start + chunk, len(coll))}/{len(coll)} {coll.name} clips")
    probabilities = np.concatenate(probs) if probs and len(probs) == len(embs) else None
    return Embedded(np.concatenate(embs), probabilities, frames if has_frames else None, dict(resampled))


# Metrics ------------------------------------------------------------------------------
def _is_splits(n: int) -> int:
    return 10 if n >= IS_SPLITS_FROM else 1


def _fd(a: Embedded, b: Embedded, sizes: list, what: str) -> float:
    ma, mb = a.fd_matrix(), b.fd_matrix()
    sizes.append((what, len(ma), len(mb), ma.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnstableMetricWarning)
        return frechet_distance(ma, mb)


def _size_note(sizes: list) -> str | None:
    """One line for all FDs of an embedder whose sets are too small for a full-rank covariance."""
    small = [(what, na, nb, dim) for what, na, nb, dim in sizes if covariance_note(min(na, nb), dim)]
    if not small:
        return None
    dim = small[0][3]
    parts = ", ".join(f"{what} {na} vs {nb}" for what, na, nb, _ in small)
    return (f"FD sets smaller than dim + 1 = {dim + 1} ({parts}): singular covariances, so the FD is unstable "
            f"and biased upwards; compare it only between sets of equal size")


def _metrics_for(gen: Embedded, ref: Embedded, gen_coll: AudioCollection, pairs, embedder, sizes: list,
                 what: str, text_cache: dict) -> dict:
    out: dict[str, float | None] = {"fd": _fd(gen, ref, sizes, what)}
    if gen.probabilities is not None:
        n = len(gen.probabilities)
        out["is"] = inception_score(gen.probabilities, splits=_is_splits(n), shuffle=_is_splits(n) > 1)[0]
        if pairs:
            gi, ri = zip(*pairs)
            out["kl"] = kl_divergence(gen.probabilities[list(gi)], ref.probabilities[list(ri)])
        else:
            out["kl"] = None
    else:
        out["is"] = out["kl"] = None
    out["text_audio"] = _text_audio(embedder, gen_coll, gen, text_cache)
    return out


def _text_audio(embedder, coll: AudioCollection, emb: Embedded, cache: dict) -> float | None:
    if not getattr(embedder, "supports_text", False):
        return None
    idx = [i for i, item in enumerate(coll.items) if item.caption]
    if not idx:
        return None
    texts = [coll.items[i].caption for i in idx]
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        vecs = embedder.embed_text(missing)
        vecs = vecs.detach().cpu().numpy() if hasattr(vecs, "detach") else np.asarray(vecs)
        cache.update(zip(missing, np.asarray(vecs, np.float64)))
    return text_audio_similarity(np.stack([cache[t] for t in texts]), emb.embeddings[idx])


# Evaluation ---------------------------------------------------------------------------
def parse_embedder_spec(spec: str) -> tuple[str, dict]:
    """"NAME" or "NAME:key=value,key=value" -> (name, options). Values stay strings, except
    integers and true/false."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise InputError(f"empty embedder name in {spec!r}")
    options: dict = {}
    if rest:
        for part in rest.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise InputError(f"embedder option {part!r} in {spec!r} is not key=value")
            options[key.strip()] = _option_value(value.strip())
    return name, options


def _option_value(value: str):
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return int(value)
    except ValueError:
        return value


def untrained_model(model=None, preset_name: str | None = None, device: str = "cpu"):
    """Random-weight AudioGAN with the evaluated model's shape and plugins (or a preset)."""
    from .api import AudioGAN
    from .config import preset

    if model is not None and preset_name is None:
        return AudioGAN.from_config(model.config, seed=0, device=device,
                                    text_encoder=getattr(model.text_encoder, "name", None),
                                    vocoder=getattr(model.vocoder, "name", None))
    return AudioGAN.from_config(preset(preset_name or "small"), seed=0, device=device)


def evaluate(generated: AudioCollection, reference: AudioCollection, *, embedders: Sequence = ("aisfx",),
             floor: bool = True, ceiling: bool = True, ceiling_model=None, model=None, ceiling_preset: str | None = None,
             seed: int = 0, device: str = "cpu", progress: Callable[[str], None] | None = None,
             ceiling_collection: AudioCollection | None = None) -> dict:
    """The metric report (a JSON-ready dict). `embedders`: names, "NAME:key=value" specs,
    (name, options) pairs or Embedder instances. Ceiling: `ceiling_model` if given, else an
    untrained copy of `model`, else the `ceiling_preset` (default `small`) preset; or clips such a
    model already made (`ceiling_collection`, so a caller that needs them too makes them once)."""
    from .plugins import get_embedder

    say = progress or (lambda msg: None)
    for coll in (generated, reference):
        if len(coll) < MIN_CLIPS:
            raise DataError(f"the {coll.name} set has {len(coll)} usable clip(s); the Fréchet distance needs at least "
                            f"{MIN_CLIPS} (and more clips than embedding dimensions, e.g. 513 for aisfx, for a "
                            f"stable estimate)")
    pairs, paired_by = pair_items(generated, reference)
    report: dict = {"version": REPORT_VERSION, "generated": generated.summary(), "reference": reference.summary(),
                    "pairs": {"count": len(pairs), "by": paired_by}, "embedders": {}, "notes": []}
    notes = report["notes"]
    if not pairs:
        notes.append("KL: no generated clip shares a file stem or caption with a reference clip (n/a)")
    ceiling_coll = None
    if ceiling and ceiling_collection is not None:
        ceiling_coll = ceiling_collection
        report["ceiling_model"] = {"source": ceiling_collection.source, "clips": len(ceiling_collection)}
    elif ceiling:
        gen_caps = [(item.key, item.caption) for item in generated.items if item.caption]
        if not gen_caps and pairs:
            gen_caps = [(generated.items[i].key, reference.items[j].caption) for i, j in pairs
                        if reference.items[j].caption]
        if not gen_caps:
            notes.append("ceiling skipped: no captions for the generated clips (give the generated folder a "
                         "captions.jsonl, or pair it with a captioned reference folder)")
        else:
            try:
                cmodel = ceiling_model or untrained_model(model, ceiling_preset, device)
                # as long as the generated clips (their median), within what the model can make
                lengths = sorted(len(i.audio) / i.sample_rate for i in generated.items)
                c_seconds = min(max(lengths[len(lengths) // 2], cmodel.config.mel.seconds_for(1)), cmodel.max_seconds)
                say(f"ceiling: generating {len(gen_caps)} clips of {c_seconds:.2f} s with an untrained "
                    f"{cmodel.config.name} model")
                ceiling_coll = generate_collection(cmodel, gen_caps, seed=seed, seconds=c_seconds, name="ceiling",
                                                   progress=say)
                report["ceiling_model"] = {"preset": cmodel.config.name, "source": getattr(cmodel, "source", "?"),
                                           "text_encoder": getattr(cmodel.text_encoder, "name", "?"),
                                           "vocoder": getattr(cmodel.vocoder, "name", "?"), "clips": len(ceiling_coll),
                                           "seconds": c_seconds}
            except AudioGANError as exc:
                notes.append(f"ceiling skipped: the untrained model could not be built or run ({exc})")
    floor_idx = None
    if floor:
        if len(reference) < MIN_FLOOR_CLIPS:
            notes.append(f"floor skipped: the reference set has {len(reference)} clips; splitting it in two needs "
                         f"at least {MIN_FLOOR_CLIPS}")
        else:
            floor_idx = reference_halves(len(reference))
            report["floor_split"] = {"halves": [len(floor_idx[0]), len(floor_idx[1])],
                                     "rule": "name-sorted reference set, even vs odd positions"}

    for spec in embedders:
        if isinstance(spec, str):
            name, options = parse_embedder_spec(spec)
            emb = get_embedder(name, **options)
        elif isinstance(spec, tuple):
            name, options = spec
            emb = get_embedder(name, **dict(options))
        else:
            emb, name = spec, spec.name
        emb.load(device)
        say(f"{name}: embedding")
        enotes: list[str] = []
        g = embed_collection(emb, generated, progress=say)
        r = embed_collection(emb, reference, progress=say)
        text_cache: dict = {}
        entry = {"sample_rate": int(emb.sample_rate), "dim": int(g.embeddings.shape[1]),
                 "classes": int(g.probabilities.shape[1]) if g.probabilities is not None else 0,
                 "fd_basis": "frames (0.96 s windows)" if g.frames is not None else "clips",
                 "comparable_to_published": name in PUBLISHED_EMBEDDERS, "notes": enotes}
        for label, emb_set in (("generated", g), ("reference", r)):
            if emb_set.resampled:
                rates = ", ".join(f"{n} at {rate} Hz" for rate, n in sorted(emb_set.resampled.items()))
                enotes.append(f"{label}: resampled to {emb.sample_rate} Hz ({rates})")
        sizes: list = []
        entry["value"] = _metrics_for(g, r, generated, pairs, emb, sizes, "generated", text_cache)
        if g.probabilities is None:
            enotes.append(f"IS/KL n/a: {name} has no classifier head")
        if not getattr(emb, "supports_text", False):
            enotes.append(f"text-audio similarity n/a: {name} cannot embed text (use clap)")
        # floor: reference half vs half (FD); the reference set itself for IS and text-audio
        fl: dict = {"fd": None, "fd_half": None, "is": None, "kl": None, "text_audio": None}
        entry["value"]["fd_half"] = None
        if floor_idx is not None:
            fl["fd"] = fl["fd_half"] = _fd(r.rows(floor_idx[0]), r.rows(floor_idx[1]), sizes, "floor")
            # the FD depends on set size: the same half-vs-half comparison for the generated set
            gen_half = reference_halves(len(g.embeddings))[0][:len(floor_idx[0])]  # at most the floor's size
            if len(gen_half) >= MIN_CLIPS:
                entry["value"]["fd_half"] = _fd(g.rows(gen_half), r.rows(floor_idx[1]), sizes, "generated half")
        if r.probabilities is not None:
            fl["is"] = inception_score(r.probabilities, splits=_is_splits(len(r.probabilities)),
                                       shuffle=_is_splits(len(r.probabilities)) > 1)[0]
        fl["text_audio"] = _text_audio(emb, reference, r, text_cache)
        entry["floor"] = fl
        ce: dict = {"fd": None, "is": None, "kl": None, "text_audio": None}
        if ceiling_coll is not None:
            c = embed_collection(emb, ceiling_coll, progress=say)
            cpairs, _ = pair_items(ceiling_coll, reference)
            ce = _metrics_for(c, r, ceiling_coll, cpairs, emb, sizes, "ceiling", text_cache)
            ce["fd_half"] = None
            c_half = reference_halves(len(c.embeddings))[0][:len(floor_idx[0]) if floor_idx else None]
            if floor_idx is not None and len(c_half) >= MIN_CLIPS:
                ce["fd_half"] = _fd(c.rows(c_half), r.rows(floor_idx[1]), sizes, "ceiling half")
        else:
            ce["fd_half"] = None
        entry["ceiling"] = ce
        entry["fd_sets"] = [{"what": w, "sizes": [na, nb]} for w, na, nb, _ in sizes]
        note = _size_note(sizes)
        if note:
            enotes.append(note)
        report["embedders"][name] = entry
    if not any(n in PUBLISHED_EMBEDDERS for n in report["embedders"]):
        notes.append("not comparable with published AudioCaps tables: those use vggish (FAD), panns (FD, IS, KL) "
                     "and clap (CLAP score) with their published checkpoints")
    return report


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"


def format_report(report: dict) -> str:
    """A plain-text table: one row per embedder and metric, with floor and ceiling."""
    gen, ref = report["generated"], report["reference"]
    lines = [f"generated: {gen['clips']} clips from {gen['source']}   reference: {ref['clips']} clips from "
             f"{ref['source']}   paired: {report['pairs']['count']} (by {report['pairs']['by']})"]
    for label, part in (("generated", gen), ("reference", ref)):
        if part["skipped"]:
            lines.append(f"skipped {len(part['skipped'])} {label} file(s): " +
                         "; ".join(f"{Path(p).name} ({why})" for p, why in part["skipped"][:10]))
        for note in part.get("notes", []):
            lines.append(f"{label}: {note}")
    header = ("embedder", "metric", "value", "floor (ref vs ref)", "ceiling (untrained)", "better")
    rows = [header]
    for name, entry in report["embedders"].items():
        half = report.get("floor_split", {}).get("halves")
        for key in ("fd", "fd_half", "is", "kl", "text_audio"):
            if key == "fd_half" and not half:
                continue
            label = METRIC_LABELS[key]
            if key.startswith("fd") and entry["fd_basis"].startswith("frames"):
                label = "FAD" + label[2:]
            if key == "fd_half":
                label += f" {half[0]} vs {half[1]}"
            floor = _fmt(entry["floor"][key])
            if key == "fd" and entry["floor"][key] is not None:
                floor += " (halves)"
            if key in ("is", "text_audio") and entry["floor"][key] is not None:
                floor += " (ref set)"
            rows.append((name, label, _fmt(entry["value"][key]), floor, _fmt(entry["ceiling"][key]),
                         "lower" if LOWER_IS_BETTER[key] else "higher"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    for name, entry in report["embedders"].items():
        for note in entry["notes"]:
            lines.append(f"{name}: {note}")
    lines.extend(report["notes"])
    return "\n".join(lines)


def run_eval(*, reference: str | Path, generated: str | Path | None = None, model: str | None = None,
             captions: str | Path | None = None, embedders: Sequence = ("aisfx",), floor: bool = True,
             ceiling: bool = True, ceiling_preset: str | None = None, seed: int = 0, seconds: float | None = None,
             device: str = "cpu", out: str | Path | None = None,
             progress: Callable[[str], None] | None = None, load_options: dict | None = None) -> dict:
    """What `audiogan eval` does: load or generate, evaluate, optionally write JSON.
    `load_options`: AudioGAN.load's plugin choices for `model` (text_encoder, vocoder, ...)."""
    if (generated is None) == (model is None):
        raise InputError("give either a folder of generated audio or --model with --captions, not both")
    ref = load_folder(reference, name="reference")
    loaded_model = None
    if model is not None:
        from .api import AudioGAN

        if captions is None:
            raise InputError("--model needs --captions FILE (captions.jsonl or .csv with file,caption)")
        caps = read_captions(captions)
        loaded_model = AudioGAN.load(model, device=device, **(load_options or {}))
        gen = generate_collection(loaded_model, caps, seed=seed, seconds=seconds, progress=progress)
        gen.source = f"model {model} ({len(caps)} captions from {captions})"
    else:
        gen = load_folder(generated, name="generated", captions=captions)
    report = evaluate(gen, ref, embedders=embedders, floor=floor, ceiling=ceiling, model=loaded_model,
                      ceiling_preset=ceiling_preset, seed=seed, device=device, progress=progress)
    if out is not None:
        from .io import atomic_write_text

        atomic_write_text(Path(out), json.dumps(report, indent=2, default=_json_default) + "\n")
    return report


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# Checks for bundled models ------------------------------------------------------------
def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = train.mean(axis=0)
    sd = train.std(axis=0)
    sd[sd < 1e-8] = 1.0
    return (train - mu) / sd, (test - mu) / sd


def classify(train_emb, train_labels, test_emb, *, method: str = "logistic", l2: float = 1e-3,
             max_iter: int = 200) -> list:
    """Labels predicted for test_emb [n, dim] by a classifier fit on (train_emb, train_labels).

    method="logistic": multinomial logistic regression on standardised features, L2 penalty
    `l2`, full-batch L-BFGS in float64 (deterministic); "centroid": nearest class mean by
    cosine. Labels may be any hashable values."""
    import torch

    xtr = np.asarray(train_emb, np.float64)
    xte = np.asarray(test_emb, np.float64)
    if xtr.ndim != 2 or xte.ndim != 2 or xtr.shape[1] != xte.shape[1]:
        raise InputError(f"embeddings must be 2-D with equal dimension, got {xtr.shape} and {xte.shape}")
    ytr = list(train_labels)
    if len(ytr) != len(xtr):
        raise InputError("need one label per embedding")
    if not len(xte):
        raise InputError("no test embeddings")
    classes = sorted(set(ytr), key=str)
    if len(classes) < 2:
        raise InputError(f"need at least 2 classes in the training labels, got {len(classes)}")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in ytr])
    if method == "centroid":
        cents = np.stack([xtr[y == k].mean(axis=0) for k in range(len(classes))])
        pred = cosine_matrix(xte, cents).argmax(axis=1)
    elif method == "logistic":
        a, b = _standardise(xtr, xte)
        X = torch.from_numpy(a)
        Y = torch.from_numpy(y)
        W = torch.zeros(a.shape[1], len(classes), dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([W, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(X @ W + bias, Y) + l2 * (W ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            pred = (torch.from_numpy(b) @ W + bias).argmax(dim=1).numpy()
    else:
        raise InputError(f"method must be 'logistic' or 'centroid', got {method!r}")
    return [classes[k] for k in pred]


def classify_accuracy(train_emb, train_labels, test_emb, test_labels, *, method: str = "logistic",
                      l2: float = 1e-3, max_iter: int = 200) -> float:
    """Accuracy of `classify` on the test set; test labels unseen in training count as errors.
    Used for the "text controls the sound" check: a classifier fit on real clips' embeddings
    labels generated clips, each scored against its caption's category."""
    yte = list(test_labels)
    if len(yte) != len(np.asarray(test_emb)):
        raise InputError("need one label per embedding")
    pred = classify(train_emb, train_labels, test_emb, method=method, l2=l2, max_iter=max_iter)
    return float(np.mean([p == t for p, t in zip(pred, yte)]))


def pairwise_diversity(embeddings) -> float:
    """Mean cosine distance (1 - cos) over all pairs of distinct rows: 0 when every clip
    embeds identically (mode collapse), larger for more varied output."""
    e = np.asarray(embeddings, np.float64)
    if e.ndim != 2 or len(e) < 2:
        raise InputError(f"pairwise diversity needs at least 2 embeddings [n, dim], got shape {e.shape}")
    sims = cosine_matrix(e, e)
    iu = np.triu_indices(len(e), k=1)
    return float((1.0 - sims[iu]).mean())


def nearest_neighbour_similarity(generated, train) -> dict:
    """For each generated embedding, the highest cosine similarity to any training embedding
    (memorisation check): {"mean", "max", "similarity": [n_gen], "index": [n_gen]}."""
    sims = cosine_matrix(generated, train)
    best = sims.argmax(axis=1)
    values = sims[np.arange(len(best)), best]
    return {"mean": float(values.mean()), "max": float(values.max()), "similarity": values.tolist(),
            "index": best.tolist()}


__all__ = ["AudioItem", "AudioCollection", "read_captions", "load_folder", "generate_collection", "pair_items",
           "reference_halves", "embed_collection", "evaluate", "format_report", "run_eval", "parse_embedder_spec",
           "untrained_model", "classify", "classify_accuracy", "pairwise_diversity", "nearest_neighbour_similarity",
           "MIN_FLOOR_CLIPS", "AUDIO_EXTENSIONS"]
