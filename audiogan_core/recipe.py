"""What a WAV file says about itself: the recipe that made a clip (prompt, seed, model and the
hash of its weights, plugins, level settings), written into every WAV we write as a Broadcast
Wave `bext` chunk and an `iXML` chunk, read back by `audiogan info`, and turned into the
`audiogan generate` command that makes the same samples again.

bext (EBU Tech 3285 v2): Description = the prompt (ASCII, 256 characters at most),
Originator = "audiogan VERSION", OriginatorReference = a unique id (also iXML FILE_UID),
origination date and time, the measured loudness and true peak, and a CodingHistory.
iXML: NOTE = the prompt, FILE_UID, SPEED (rate, bit depth), and the full recipe in an
<AUDIOGAN> object (readers of iXML skip objects they do not know).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
import shlex
import uuid
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import InputError
from .delivery import Delivery
from .levels import LevelReport, db, integrated_loudness, true_peak
from .riff import Bext, read_file_chunks

RECIPE_VERSION = 1
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
IXML_VERSION = "2.10"
MAX_IXML_BYTES = 1 << 20  # ours are ~2 kB, bext ~1 kB; a huge one is not worth parsing


def audiogan_version() -> str:
    from . import __version__

    return __version__


@dataclass
class Recipe:
    """Everything `audiogan generate` needs to make a clip again."""

    prompt: str
    seed: int
    variation: int
    seconds: float  # as asked (before any trim)
    model: str  # a bundled model's name, an absolute model path, or untrained:PRESET
    model_sha256: str  # of the generator's weights (see weights_sha256)
    text_encoder: str
    vocoder: str
    model_sample_rate: int
    text_encoder_options: dict = field(default_factory=dict)
    vocoder_options: dict = field(default_factory=dict)
    device: str = "cpu"
    delivery: Delivery = field(default_factory=Delivery)
    loop: bool = False
    version: str = field(default_factory=audiogan_version)
    candidates: int = 1  # noise draws the clip was chosen from by the model's scorer

    def command(self, *, sample_rate: int | None = None, bit_depth: int = 16) -> str:
        """The `audiogan generate` command that makes this clip again, as a file with this
        sample rate and bit depth (in the current folder, named from the prompt and seed)."""
        args = ["audiogan", "generate", "--model", self.model, "--text-encoder", self.text_encoder]
        for key, value in self.text_encoder_options.items():
            args += ["--text-encoder-option", f"{key}={_option_text(value)}"]
        args += ["--vocoder", self.vocoder]
        for key, value in self.vocoder_options.items():
            args += ["--vocoder-option", f"{key}={_option_text(value)}"]
        args += ["--seed", str(self.seed), "--seconds", repr(float(self.seconds))]
        if sample_rate and sample_rate != self.model_sample_rate:
            args += ["--sample-rate", str(sample_rate)]
        args += ["--bit-depth", str(bit_depth)]
        if self.delivery.normalize is None:
            args.append("--no-normalize")
        elif self.delivery.normalize == "loudness":
            args += ["--loudness", f"{self.delivery.loudness:g}"]
        if self.delivery.trim:
            args.append("--trim")
        if self.loop:
            args.append("--loop")
        args += ["--candidates", str(self.candidates)]  # always: a model's default may differ from 1
        if self.device != "cpu":
            args += ["--device", self.device]
        return " ".join(shlex.quote(a) for a in args) + " -- " + shlex.quote(self.prompt)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["delivery"] = self.delivery.to_dict()
        return d


def _option_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def weights_sha256(module) -> str:
    """SHA-256 over a torch module's state dict: names, dtypes, shapes and bytes, in name order.
    The same weights give the same hash whatever file format they were loaded from."""
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def model_name(source: str) -> str:
    """How a recipe names the model: a bundled model by its name, anything else by absolute path."""
    from .api import MODELS_DIR

    if source.startswith("untrained:"):
        return source
    path = Path(source).expanduser().resolve()
    if path.parent == MODELS_DIR.resolve():
        return path.name
    return str(path)


def recipe_for(model, text: str, seed: int, variation: int, seconds: float, delivery: Delivery, *,
               loop: bool = False, candidates: int = 1) -> Recipe:
    """The recipe of one clip made by an AudioGAN model (api.AudioGAN.generate calls this)."""
    plugins = getattr(model, "plugin_options", None) or {}
    te_name, te_opts = plugins.get("text_encoder", (getattr(model.text_encoder, "name", "?"), {}))
    vo_name, vo_opts = plugins.get("vocoder", (getattr(model.vocoder, "name", "?"), {}))
    return Recipe(text, int(seed), int(variation), float(seconds), model_name(str(model.source)),
                  _cached_weights_sha256(model), te_name, vo_name, int(model.sample_rate), _jsonable(te_opts),
                  _jsonable(vo_opts), str(model.device), delivery, bool(loop), candidates=int(candidates))


def _cached_weights_sha256(model) -> str:
    """Hash once per state of the weights: in-place updates (optimiser steps, load_state_dict)
    bump each tensor's version counter, which is part of the key."""
    try:
        key = tuple((name, t.data_ptr(), t._version) for name, t in model.generator.state_dict().items())
    except RuntimeError:  # inference tensors have no version counter (and cannot change outside one)
        key = tuple((name, t.data_ptr()) for name, t in model.generator.state_dict().items())
    cached = getattr(model, "_weights_sha256_cache", None)
    if cached is None or cached[0] != key:
        cached = (key, weights_sha256(model.generator))
        model._weights_sha256_cache = cached
    return cached[1]


def _jsonable(options: dict) -> dict:
    return {str(k): (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
            for k, v in dict(options).items()}


# Writing ------------------------------------------------------------------------------------
def metadata_chunks(recipe: Recipe | None, level: LevelReport | None, *, audio, sample_rate: int,
                    bit_depth: int, model_rate: int | None = None) -> list[tuple[bytes, bytes]]:
    """The bext and iXML chunks for a file holding `audio` (float, at `sample_rate`)."""
    uid = uuid.uuid4().hex
    now = _dt.datetime.now().astimezone()
    tp = db(true_peak(audio, sample_rate)) if len(audio) else -math.inf
    lufs = integrated_loudness(audio, sample_rate) if len(audio) else -math.inf
    version = recipe.version if recipe else audiogan_version()
    width = "32" if bit_depth == 32 else str(bit_depth)
    history = []
    if recipe is not None:
        history.append(f"A=PCM,F={recipe.model_sample_rate},W=32,M=mono,T=audiogan {version} generated: "
                       f"model {Path(recipe.model).name}, {recipe.text_encoder} -> {recipe.vocoder}; "
                       f"{recipe.delivery.describe()}")
    source_rate = recipe.model_sample_rate if recipe else model_rate
    resampled = source_rate is not None and source_rate != sample_rate
    history.append(f"A=PCM,F={sample_rate},W={width},M=mono,T="
                   + ("soxr HQ resampled; " if resampled else "")
                   + ("IEEE float" if bit_depth == 32 else "PCM") + f" WAV by audiogan {version}")
    bext = Bext(description=recipe.prompt if recipe else "", originator=f"audiogan {version}",
                originator_reference=uid, origination_date=now.strftime("%Y-%m-%d"),
                origination_time=now.strftime("%H:%M:%S"),
                loudness_value=lufs if math.isfinite(lufs) else None,
                max_true_peak_level=tp if math.isfinite(tp) else None, coding_history="\n".join(history))
    return [(b"bext", bext.encode()), (b"iXML", _ixml(recipe, level, uid, now, sample_rate, bit_depth, tp, lufs))]


def _ixml(recipe, level, uid, now, sample_rate, bit_depth, tp, lufs) -> bytes:
    root = ET.Element("BWFXML")

    def add(parent, tag, value):
        if value is None:
            return
        text = value if isinstance(value, str) else _xml_value(value)
        if _XML_INVALID.search(text):  # control characters cannot be in XML 1.0: keep them as JSON
            ET.SubElement(parent, tag, encoding="json").text = json.dumps(text)
        else:
            ET.SubElement(parent, tag).text = text

    add(root, "IXML_VERSION", IXML_VERSION)
    add(root, "PROJECT", "audiogan")
    add(root, "NOTE", recipe.prompt if recipe else None)
    add(root, "FILE_UID", uid)
    speed = ET.SubElement(root, "SPEED")
    add(speed, "FILE_SAMPLE_RATE", sample_rate)
    add(speed, "AUDIO_BIT_DEPTH", bit_depth)
    ours = ET.SubElement(root, "AUDIOGAN")
    if recipe is not None:  # the recipe first (the REAPER script shows these in this order)
        d = recipe.delivery
        for tag, value in (("PROMPT", recipe.prompt), ("SEED", recipe.seed), ("VARIATION", recipe.variation),
                           ("SECONDS", recipe.seconds), ("MODEL", recipe.model),
                           ("MODEL_SHA256", recipe.model_sha256), ("TEXT_ENCODER", recipe.text_encoder),
                           ("TEXT_ENCODER_OPTIONS", json.dumps(recipe.text_encoder_options, sort_keys=True)),
                           ("VOCODER", recipe.vocoder),
                           ("VOCODER_OPTIONS", json.dumps(recipe.vocoder_options, sort_keys=True)),
                           ("DEVICE", recipe.device), ("MODEL_SAMPLE_RATE", recipe.model_sample_rate),
                           ("NORMALIZE", d.normalize or "none"), ("LOUDNESS_TARGET", d.loudness),
                           ("PEAK_CEILING", d.peak), ("TRIM", d.trim), ("LOOP", recipe.loop),
                           ("CANDIDATES", recipe.candidates)):
            add(ours, tag, value)
        if level is not None:
            add(ours, "GAIN_DB", round(level.gain_db, 3))
            add(ours, "LEVEL_NOTE", level.warning)
    add(ours, "SAMPLE_RATE", sample_rate)
    add(ours, "BIT_DEPTH", bit_depth)
    add(ours, "TRUE_PEAK", round(tp, 2) if math.isfinite(tp) else None)
    add(ours, "LOUDNESS", round(lufs, 2) if math.isfinite(lufs) else None)
    add(ours, "VERSION", recipe.version if recipe else audiogan_version())
    add(ours, "CREATED", now.isoformat(timespec="seconds"))
    if recipe is not None:
        add(ours, "RECIPE_VERSION", RECIPE_VERSION)
        add(ours, "COMMAND", recipe.command(sample_rate=sample_rate, bit_depth=bit_depth))
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _xml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# Reading ------------------------------------------------------------------------------------
@dataclass
class WavMetadata:
    bext: Bext | None
    ixml: str | None  # the XML text
    fields: dict  # the <AUDIOGAN> object's children, as text
    recipe: Recipe | None


def read_metadata(path: str | Path) -> WavMetadata:
    """bext, iXML and the recipe of a WAV file (each None when absent)."""
    path = Path(path)
    try:
        chunks = read_file_chunks(path, {b"bext", b"iXML"}, limit=MAX_IXML_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    raw_bext, raw_ixml = chunks.get(b"bext"), chunks.get(b"iXML")
    bext = Bext.decode(raw_bext) if raw_bext is not None else None
    ixml, fields = None, {}
    if raw_ixml is not None:
        ixml = raw_ixml.rstrip(b"\0").decode("utf-8", "replace")
        try:
            root = ET.fromstring(raw_ixml.rstrip(b"\0"))
        except ET.ParseError as exc:
            raise InputError(f"{path.name}: the iXML chunk is not well-formed XML ({exc})") from None
        ours = root.find("AUDIOGAN")
        if ours is not None:
            fields = {child.tag: _element_text(child) for child in ours}
    return WavMetadata(bext, ixml, fields, _recipe_from_fields(fields, path.name))


def _element_text(element) -> str:
    text = element.text or ""
    if element.get("encoding") == "json":
        try:
            text = json.loads(text)
        except ValueError:
            raise InputError(f"iXML element {element.tag} is marked JSON but is not") from None
    return text if isinstance(text, str) else str(text)


def _recipe_from_fields(f: dict, name: str) -> Recipe | None:
    if "RECIPE_VERSION" not in f:
        return None
    try:
        delivery = Delivery(normalize=None if f["NORMALIZE"] == "none" else f["NORMALIZE"],
                            loudness=float(f["LOUDNESS_TARGET"]) if f.get("LOUDNESS_TARGET") else None,
                            peak=float(f.get("PEAK_CEILING", -1.0)), trim=f.get("TRIM") == "true")
        return Recipe(f["PROMPT"], int(f["SEED"]), int(f["VARIATION"]), float(f["SECONDS"]), f["MODEL"],
                      f["MODEL_SHA256"], f["TEXT_ENCODER"], f["VOCODER"], int(f["MODEL_SAMPLE_RATE"]),
                      json.loads(f.get("TEXT_ENCODER_OPTIONS") or "{}"), json.loads(f.get("VOCODER_OPTIONS") or "{}"),
                      f.get("DEVICE", "cpu"), delivery, f.get("LOOP") == "true", f.get("VERSION", "?"),
                      candidates=int(f.get("CANDIDATES", 1)))  # files from before reranking: 1
    except (KeyError, ValueError) as exc:
        raise InputError(f"{name}: the audiogan recipe in its iXML chunk is incomplete or damaged ({exc})") from None
