"""Cut long recordings (music tracks) into mono pieces for vocoder training.

    python scripts/cut_pieces.py SOURCE_FOLDER OUT_FOLDER --per-track 6 --seconds 10

Vocoder training takes the first `max_clip_seconds` of each file, so a 3-minute track would give
its intro alone; this writes at most `--per-track` pieces spread evenly over each track (a sound
under 1.5 pieces long is written whole) as FLAC under OUT_FOLDER, keeping the source's subfolders.
Existing pieces are never overwritten. Used for phase 18 of the vocoder (docs/vocoder.md).
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

AUDIO_SUFFIXES = (".ogg", ".oga", ".wav", ".flac")


def cut_pieces(source: Path, out: Path, per_track: int, seconds: float) -> list[Path]:
    import numpy as np
    import soundfile as sf

    written = []
    paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    # Two sources that differ only in suffix (grow.wav beside grow.ogg) keep it in their pieces' names.
    stems = Counter(p.with_suffix("") for p in paths)
    shared = {s for s, n in stems.items() if n > 1}
    for path in paths:
        x, sr = sf.read(path, always_2d=True, dtype="float32")
        x = x.mean(axis=1)
        n = int(seconds * sr)
        if x.size <= 1.5 * n:
            pieces = [x]
        else:
            starts = np.linspace(0, x.size - n, min(per_track, x.size // n)).astype(int)
            pieces = [x[s:s + n] for s in starts]
        rel = path.relative_to(source).with_suffix("")
        if path.with_suffix("") in shared:
            rel = rel.with_name(f"{rel.name}_{path.suffix[1:].lower()}")
        for i, piece in enumerate(pieces):
            target = out / rel.parent / f"{rel.name}-{i:02d}.flac"
            if target.exists():
                raise FileExistsError(f"{target} exists: not overwritten")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            sf.write(tmp, piece, sr, format="FLAC")
            tmp.replace(target)
            written.append(target)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-track", type=int, default=6, help="most pieces taken from one file (default 6)")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of a piece (default 10)")
    args = ap.parse_args(argv)
    if not args.source.is_dir():
        print(f"error: {args.source} is not a folder", file=sys.stderr)
        return 2
    if args.per_track < 1 or not args.seconds > 0:
        print("error: --per-track must be >= 1 and --seconds > 0", file=sys.stderr)
        return 2
    try:
        written = cut_pieces(args.source, args.out, args.per_track, args.seconds)
    except (OSError, RuntimeError) as exc:  # soundfile's LibsndfileError is a RuntimeError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} pieces under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
