"""scripts/cut_pieces.py: long tracks into evenly spread pieces for vocoder training."""
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from cut_pieces import main  # noqa: E402


def test_long_tracks_give_spread_pieces_and_short_sounds_stay_whole(tmp_path):
    sr = 8000
    src = tmp_path / "src"
    (src / "music").mkdir(parents=True)
    ramp = np.linspace(-0.5, 0.5, 10 * sr, dtype=np.float32)  # 10 s: the piece's first sample says where it began
    sf.write(src / "music" / "track.ogg", np.stack([ramp, ramp], axis=1), sr)
    sf.write(src / "blip.wav", np.full(int(1.2 * sr), 0.25, np.float32), sr)
    assert main([str(src), str(tmp_path / "out"), "--per-track", "3", "--seconds", "2"]) == 0
    pieces = sorted((tmp_path / "out" / "music").glob("track-*.flac"))
    assert [p.name for p in pieces] == ["track-00.flac", "track-01.flac", "track-02.flac"]
    firsts = []
    for p in pieces:
        x, rate = sf.read(p)
        assert rate == sr and x.ndim == 1 and x.size == 2 * sr
        firsts.append(x[0])
    # the first piece starts at the beginning, the last ends at the end, the middle one between
    assert firsts[0] < -0.45 and abs(firsts[1] - (-0.5 + 0.4)) < 0.05 and firsts[2] > 0.25
    blip, _ = sf.read(tmp_path / "out" / "blip-00.flac")
    assert blip.size == int(1.2 * sr)
    # a second run refuses to overwrite what the first wrote
    assert main([str(src), str(tmp_path / "out"), "--per-track", "3", "--seconds", "2"]) == 1
    assert main([str(tmp_path / "missing"), str(tmp_path / "x")]) == 2


def test_sources_differing_only_in_suffix_both_give_pieces(tmp_path):
    sr = 8000
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "grow.wav", np.full(sr, 0.25, np.float32), sr)
    sf.write(src / "grow.ogg", np.full(sr, -0.25, np.float32), sr)
    sf.write(src / "other.wav", np.full(sr, 0.5, np.float32), sr)
    assert main([str(src), str(tmp_path / "out"), "--seconds", "2"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").glob("*.flac"))
    assert names == ["grow_ogg-00.flac", "grow_wav-00.flac", "other-00.flac"]
    assert sf.read(tmp_path / "out" / "grow_wav-00.flac")[0][0] > 0 > sf.read(tmp_path / "out" / "grow_ogg-00.flac")[0][0]
