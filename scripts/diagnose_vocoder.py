"""Where a vocoder loses the category classifier: band and magnitude/phase swaps on held-out clips.

    python scripts/diagnose_vocoder.py --data /work/data/debian-foley [--checkpoint runs/vocos/vocos.safetensors]

For every held-out clip (evaluate_bundled's 2.97 s preparation) both vocoders resynthesise the
clip's own log-mel; the variants below are classified by evaluate_bundled's aisfx category
classifier (fit on the training clips), so they compare with `scripts/evaluate_vocoder.py`:
- real, HiFi-GAN, vocos; each low-passed at the mel's fmax;
- one vocoder's band below fmax with the other's above;
- one signal's STFT magnitude (n_fft 1024, hop 256) with another's phase, and real magnitudes
  with random phase.
Prints one accuracy per variant and the share of energy above fmax.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate_bundled as eb  # noqa: E402

N_FFT, HOP = 1024, 256


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the foley library (captions.jsonl, holdout.json)")
    ap.add_argument("--checkpoint", default=None, help="vocos weights (default: the ones in the package)")
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache of the training clips")
    args = ap.parse_args()

    import torch

    from audiogan_core.config import MelConfig
    from audiogan_core.plugins import get_vocoder
    from audiogan_training.mel_dataset import compute_log_mel

    mel_cfg = MelConfig.hifigan_universal()
    rate, cut = mel_cfg.sample_rate, mel_cfg.fmax
    test_clips, accuracies = eb.resynthesis_classifier(args.data, args.cache)

    options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    vocoders = {"hifigan": get_vocoder("hifigan").load("cpu"), "vocos": get_vocoder("vocos", **options).load("cpu")}
    real = test_clips
    out = {name: [v(torch.from_numpy(compute_log_mel(c, mel_cfg))[None])[0].numpy()[: c.size] for c in real]
           for name, v in vocoders.items()}
    hifi, vocos = out["hifigan"], out["vocos"]

    def bands(x):  # (below cut, above cut)
        spec = np.fft.rfft(x)
        low = np.where(np.fft.rfftfreq(x.size, 1 / rate) <= cut, spec, 0)
        return np.fft.irfft(low, x.size), np.fft.irfft(spec - low, x.size)

    def stft(x):
        return torch.stft(torch.from_numpy(np.asarray(x, np.float32)), N_FFT, HOP, window=torch.hann_window(N_FFT),
                          return_complex=True)

    def join(magnitude, phase, n):
        spec = magnitude * torch.exp(1j * phase)
        return torch.istft(spec, N_FFT, HOP, window=torch.hann_window(N_FFT), length=n).numpy()

    def swap(mag_of, phase_of):
        return join(stft(mag_of).abs(), stft(phase_of).angle(), mag_of.size)

    def random_phase(x, seed):
        mag = stft(x).abs()
        phase = torch.rand(mag.shape, generator=torch.Generator().manual_seed(seed)) * 2 * np.pi
        return join(mag, phase, x.size)

    variants = {
        "real": real, "hifigan": hifi, "vocos": vocos,
        "real, low-passed": [bands(x)[0] for x in real],
        "hifigan, low-passed": [bands(x)[0] for x in hifi],
        "vocos, low-passed": [bands(x)[0] for x in vocos],
        "vocos below + hifigan above": [bands(v)[0] + bands(h)[1] for v, h in zip(vocos, hifi)],
        "hifigan below + vocos above": [bands(h)[0] + bands(v)[1] for v, h in zip(vocos, hifi)],
        "vocos magnitude + hifigan phase": [swap(v, h) for v, h in zip(vocos, hifi)],
        "hifigan magnitude + vocos phase": [swap(h, v) for v, h in zip(vocos, hifi)],
        "real magnitude + vocos phase": [swap(r, v) for r, v in zip(real, vocos)],
        "real magnitude + random phase": [random_phase(r, i) for i, r in enumerate(real)],
    }
    for name, accuracy in accuracies(variants).items():
        print(f"{name:34s} {100 * accuracy:5.1f}%")
    for name, clips in (("real", real), ("hifigan", hifi), ("vocos", vocos)):
        above = np.mean([np.sum(bands(x)[1] ** 2) / max(np.sum(x ** 2), 1e-12) for x in clips])
        print(f"energy above {cut:.0f} Hz, {name}: {100 * above:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
