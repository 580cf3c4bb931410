"""Files: atomic writes (temp file + rename), WAV output for DAWs, audio reading."""
from __future__ import annotations

import io
import json
import os
import re
import tempfile
import unicodedata
from pathlib import Path

import numpy as np

from .errors import AudioGANError, ConfigError, InputError

BIT_DEPTHS = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}  # 32 = 32-bit float


def slug(text: str, limit: int = 40, sep: str = "-") -> str:
    """A safe file-name stem from free text: lowercase ASCII letters and digits (accents dropped,
    "ünïcode" -> "unicode"), runs of anything else as one `sep`, at most `limit` characters;
    never empty ("clip"), never a path."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    s = re.sub(r"[^a-z0-9]+", sep, ascii_text).strip(sep)
    return s[:limit].strip(sep) or "clip"


def read_json(path: str | Path, what: str, *, types: tuple[type, ...] = (dict,),
              error: type[AudioGANError] = ConfigError, missing_error: type[AudioGANError] | None = None,
              missing_hint: str = ""):
    """The JSON value in `path`, which must be one of `types`; `what` names the file in errors
    ("training config"). A missing file raises `missing_error` (default: `error`; its message ending
    in `missing_hint`); a folder, a file that is not UTF-8 JSON, or a value of another type, `error`.
    Each message names the path."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise (missing_error or error)(f"{what} {path} is missing{missing_hint}") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a folder, not a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path} is not valid JSON: {exc}") from None
    if not isinstance(data, types):
        wanted = " or ".join({dict: "a JSON object ({...})", list: "a JSON list ([...])"}.get(t, t.__name__)
                             for t in types)
        raise error(f"{what} {path} must hold {wanted}, not {type(data).__name__}")
    return data


def read_json_object(path: str | Path, what: str, *, missing_error: type[AudioGANError] = ConfigError,
                     missing_hint: str = "") -> dict:
    """The JSON object in `path` (read_json with ConfigError for every fault but a missing file,
    which raises `missing_error`)."""
    return read_json(path, what, missing_error=missing_error, missing_hint=missing_hint)


def _atomic_write(path: Path, write, *, overwrite: bool = True) -> Path:
    """Write through `write(tmp_path)` into a temp file in the same folder, fsync, rename.
    A crash at any point leaves either the old file or the new one, never half of one."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise InputError(f"output folder is not writable: {folder}")
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists (pass --overwrite to replace it)")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes 0600 files (and some writers recreate the file): give the usual
        # permissions so a DAW running as another user can read what we write.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the name appeared meanwhile: no silent overwrite, even under a race.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputError(f"{path} already exists (pass --overwrite to replace it)") from None
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)

    return _atomic_write(path, write, overwrite=overwrite)


def atomic_write_text(path: Path, text: str, *, overwrite: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_save(path: Path, save_fn, *, overwrite: bool = True) -> Path:
    """Atomic write for libraries that write to a path themselves (safetensors, torch.save)."""
    return _atomic_write(path, save_fn, overwrite=overwrite)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (soxr, 'HQ'). audio: [samples] or [samples, channels]."""
    if from_rate == to_rate:
        return audio
    import soxr

    return soxr.resample(np.ascontiguousarray(audio, dtype=np.float32), from_rate, to_rate, quality="HQ")


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int, *, target_rate: int | None = None,
              bit_depth: int = 16, overwrite: bool = False, recipe=None, level=None) -> Path:
    """Write a mono clip as WAV, resampled to `target_rate`, atomically, never silently
    overwriting. Float input is clipped to [-1, 1] for integer formats. Every file gets a
    Broadcast Wave bext chunk and an iXML chunk (recipe.py), with the clip's recipe
    (a recipe.Recipe) and level report (levels.LevelReport) when given."""
    import soundfile as sf

    if bit_depth not in BIT_DEPTHS:
        raise InputError(f"bit depth must be one of {sorted(BIT_DEPTHS)} (32 = float), got {bit_depth}")
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    rate = sample_rate
    if target_rate and target_rate != sample_rate:
        if target_rate <= 0:
            raise InputError(f"sample rate must be positive, got {target_rate}")
        audio = resample(audio, sample_rate, target_rate)
        rate = target_rate
    if bit_depth != 32:
        audio = np.clip(audio, -1.0, 1.0)
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise InputError(f"output must be a .wav file, got {path.name}")
    from .recipe import metadata_chunks
    from .riff import insert_chunks

    # Encode in memory, add the metadata chunks, then write plain bytes: a full disk then raises
    # OSError(ENOSPC) with its real cause, where libsndfile writing to the file itself says only
    # "System error.".
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, subtype=BIT_DEPTHS[bit_depth], format="WAV")
    chunks = metadata_chunks(recipe, level, audio=audio, sample_rate=rate, bit_depth=bit_depth,
                             model_rate=sample_rate)
    return atomic_write_bytes(path, insert_chunks(buffer.getvalue(), chunks, path.name), overwrite=overwrite)


def read_audio(path: str | Path, target_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read any file soundfile can decode, mixed to mono float32, optionally resampled."""
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    audio = data.mean(axis=1)
    if target_rate and target_rate != rate:
        audio = resample(audio, rate, target_rate)
        rate = target_rate
    return audio.astype(np.float32), rate
