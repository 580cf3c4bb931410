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

With --generated, both vocoders render the bundled model's mels for the held-out captions instead
(seed 0, 2.97 s: the clips of evaluate_bundled's text-control check, so "hifigan" and "vocos" here
are that check's figures); it also prints the level difference between them and each one's
log-mel L1 to the mel it was given, and classifies each vocoder's output under the other's level
envelope (the trainer's `log_level`: RMS over 64 samples every 32), which says how much of the gap
the sub-frame level (gaps before blows, bursts) carries.
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
    ap.add_argument("--generated", action="store_true",
                    help="vocode the bundled model's mels for the held-out captions, not the real clips' mels")
    args = ap.parse_args()

    import torch

    from audiogan_core.config import MelConfig
    from audiogan_core.plugins import get_vocoder
    from audiogan_training.mel_dataset import compute_log_mel
    from audiogan_training.vocoder_losses import ENVELOPE_STEP, log_level

    mel_cfg = MelConfig.hifigan_universal()
    rate, cut = mel_cfg.sample_rate, mel_cfg.fmax
    test_clips, accuracies, captions = eb.resynthesis_classifier(args.data, args.cache)

    options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    vocoders = {"hifigan": get_vocoder("hifigan").load("cpu"), "vocos": get_vocoder("vocos", **options).load("cpu")}
    real = test_clips
    if args.generated:
        from audiogan_core import AudioGAN

        model = AudioGAN.load("default", vocoder="griffinlim")  # only its mels
        mels = [model.generate_mel(c, seed=0, seconds=eb.check_seconds(model))[0] for c in captions]  # [1, F, T]
    else:
        mels = [torch.from_numpy(compute_log_mel(c, mel_cfg))[None] for c in real]
    with torch.no_grad():
        out = {name: [v(m)[0].numpy()[: c.size] for m, c in zip(mels, real)] for name, v in vocoders.items()}
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

    def under_envelope(x, of):  # x with the level envelope of `of`, its own spectra inside each step
        a, b = (torch.from_numpy(np.asarray(y, np.float32))[None] for y in (x, of))
        ratio = (log_level(b) - log_level(a)).exp().clamp(1e-3, 30.0)  # [1, N / step + 1], centred on every step
        gain = torch.nn.functional.interpolate(ratio[:, None], scale_factor=ENVELOPE_STEP, mode="linear",
                                               align_corners=False)[0, 0].numpy()
        gain = np.pad(gain, (0, ENVELOPE_STEP), mode="edge")[ENVELOPE_STEP // 2: ENVELOPE_STEP // 2 + x.size]
        return np.clip(x * gain, -1.0, 1.0)

    def random_phase(x, seed):
        mag = stft(x).abs()
        phase = torch.rand(mag.shape, generator=torch.Generator().manual_seed(seed)) * 2 * np.pi
        return join(mag, phase, x.size)

    if args.generated:
        from audiogan_core.mel import MelFrontEnd

        front_end = MelFrontEnd(mel_cfg)

        def mel_l1(x, mel):
            got = front_end(torch.from_numpy(np.asarray(x, np.float32))[None])
            return float((got - mel[:, :, :got.shape[-1]]).abs().mean())

        def rms(x):
            return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))

        level = [20 * np.log10(rms(v) / rms(h)) for v, h in zip(vocos, hifi)]
        print(f"level, vocos - hifigan: median {np.median(level):.2f} dB "
              f"(quartiles {np.percentile(level, 25):.2f} .. {np.percentile(level, 75):.2f})")
        for name, clips in (("hifigan", hifi), ("vocos", vocos)):
            print(f"log-mel L1 of {name} to the mel it was given: {np.mean([mel_l1(x, m) for x, m in zip(clips, mels)]):.3f}")
        variants = {
            "hifigan": hifi, "vocos": vocos,
            "vocos at hifigan's level": [v * rms(h) / rms(v) for v, h in zip(vocos, hifi)],
            "vocos under hifigan's envelope": [under_envelope(v, h) for v, h in zip(vocos, hifi)],
            "hifigan under vocos's envelope": [under_envelope(h, v) for v, h in zip(vocos, hifi)],
            "hifigan magnitude + vocos phase": [swap(h, v) for v, h in zip(vocos, hifi)],
            "vocos magnitude + hifigan phase": [swap(v, h) for v, h in zip(vocos, hifi)],
            "hifigan, low-passed": [bands(x)[0] for x in hifi],
            "vocos, low-passed": [bands(x)[0] for x in vocos],
            "vocos below + hifigan above": [bands(v)[0] + bands(h)[1] for v, h in zip(vocos, hifi)],
            "hifigan below + vocos above": [bands(h)[0] + bands(v)[1] for v, h in zip(vocos, hifi)],
        }
    else:
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
    for name, clips in ((("real", real),) if not args.generated else ()) + (("hifigan", hifi), ("vocos", vocos)):
        above = np.mean([np.sum(bands(x)[1] ** 2) / max(np.sum(x ** 2), 1e-12) for x in clips])
        print(f"energy above {cut:.0f} Hz, {name}: {100 * above:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
