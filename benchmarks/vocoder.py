"""Speed of the `vocos` vocoder beside the universal HiFi-GAN, and of the whole pipeline, on this
machine's CPU (the issue "our own fast vocoder": >= 20x HiFi-GAN on a 10 s mel, <= 0.35 s for a
10 s clip from text, <= 50 ms to the first streamed chunk).

    python -m benchmarks.vocoder [--threads 2] [--repeats 7] [--model default] [--out bench-vocoder.json]
                                 [--vocos-checkpoint runs/vocos-dual/p14-average.safetensors]

In one process, same threads: both vocoders on the same 10-second log-mel (861 frames, the
generator's output for a real caption, so the numbers are for a realistic input), the time to
the first chunk of `vocos.stream()` (32 frames = 0.37 s of audio), and text + generator +
vocoder for a 10 s clip with `--model` (a model that makes 10 s clips; with the 2.97 s bundled
`foley` model the generator part is timed at its own length and reported as such). Then the
peak RSS of `audiogan generate` in a fresh process (`/usr/bin/time`-style, from the kernel's
accounting of the child).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .timing import measure

SECONDS = 10.0


def fresh_process_peak_rss_mb(model: str, vocoder: str, vocoder_options: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "audiogan_core.cli", "generate", "a dog barks", "--seed", "1", "--model", model,
               "--vocoder", vocoder, "-o", str(Path(tmp) / "clip.wav")]
        for key, value in vocoder_options.items():
            cmd += ["--vocoder-option", f"{key}={value}"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"command": " ".join(cmd[1:]), "exit_code": proc.returncode, "wall_s": wall,
            "peak_rss_mb": peak_kb / 1024, "stderr_tail": proc.stderr[-300:]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--model", default="default")
    ap.add_argument("--hifigan-repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--vocos-checkpoint", type=Path, default=None,
                    help="time these vocos weights (a .safetensors with its .json) instead of the bundled ones, "
                         "e.g. a candidate with a second head")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from audiogan_core import AudioGAN
    from audiogan_plugins.manager import get_vocoder

    load_avg = os.getloadavg()[0]
    vocos_options = {"checkpoint": str(args.vocos_checkpoint)} if args.vocos_checkpoint else {}
    model = AudioGAN.load(args.model, vocoder="vocos", vocoder_options=vocos_options)
    mel_cfg = model.config.mel
    frames = mel_cfg.frames_for(SECONDS)
    seconds = min(SECONDS, model.max_seconds)
    # a realistic mel: the generator's output, repeated end to end up to 10 s when the model is shorter
    mels, _, _ = model.generate_mel("rain on a tin roof", seed=0, seconds=seconds)
    mel = mels[:, :, :frames]
    while mel.shape[-1] < frames:
        mel = torch.cat([mel, mels], dim=-1)[:, :, :frames]
    vocos = model.vocoder
    hifigan = get_vocoder("hifigan").load("cpu")

    with torch.inference_mode():
        t_vocos = measure(lambda: vocos(mel), repeats=args.repeats)
        t_hifigan = measure(lambda: hifigan(mel), repeats=args.hifigan_repeats)
        t_first = measure(lambda: next(iter(vocos.stream(mel, chunk_frames=32))), repeats=args.repeats)
        texts = ["rain on a tin roof"]
        t_text = measure(lambda: model.text_encoder.encode(texts), repeats=args.repeats)
        t_generator = measure(lambda: model.generate_mel(texts, seed=0, seconds=seconds), repeats=args.repeats)
        t_total = measure(lambda: model.generate(texts, seed=0, seconds=seconds, normalize=None),
                          repeats=args.repeats)
    rss = fresh_process_peak_rss_mb(args.model, "vocos", vocos_options)
    out = {
        "threads": args.threads, "load_average_at_start": load_avg, "torch": torch.__version__,
        "vocos_checkpoint": vocos_options.get("checkpoint", "bundled"),
        "mel_frames": frames, "mel_seconds": mel_cfg.seconds_for(frames), "model": args.model,
        "model_clip_seconds": seconds,
        "vocos_s": t_vocos, "hifigan_s": t_hifigan, "speedup": t_hifigan["median_s"] / t_vocos["median_s"],
        "vocos_first_chunk_s": t_first, "text_s": t_text, "text_plus_generator_s": t_generator,
        "pipeline_s": t_total, "vocos_parameters": sum(p.numel() for p in vocos.model.parameters()),
        "fresh_process_generate": rss,
    }
    print(f"threads {args.threads}, load {load_avg:.2f}; 10 s mel ({frames} frames)")
    print(f"  vocos    {t_vocos['median_s'] * 1000:8.1f} ms  (IQR {t_vocos['iqr_s'] * 1000:.1f})")
    print(f"  hifigan  {t_hifigan['median_s'] * 1000:8.1f} ms  -> vocos is {out['speedup']:.1f}x faster")
    print(f"  vocos first streamed chunk (32 frames): {t_first['median_s'] * 1000:.1f} ms")
    print(f"  pipeline for a {seconds:.2f} s clip from text: text {t_text['median_s'] * 1000:.1f} ms, "
          f"text+generator {t_generator['median_s'] * 1000:.1f} ms, total {t_total['median_s'] * 1000:.1f} ms")
    print(f"  fresh `audiogan generate` (--vocoder vocos): peak RSS {rss['peak_rss_mb']:.0f} MB, "
          f"{rss['wall_s']:.1f} s, exit {rss['exit_code']}")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
