"""Does the trainer learn? A short real run on the CPU, measured with the mel Fréchet distance.

    python -m benchmarks.learning_signal                    # ~15 min on a shared 2-core CPU
    python -m benchmarks.learning_signal --minutes 5 --out /tmp/ls.json
    python -m benchmarks.learning_signal --step-times-only  # only the small/paper step times

What it does
------------
1. Builds a small real library from a Debian package (`openttd-opensfx`: 70 clips, 147 s, or
   `tuxpaint-stamps-default`) with `build_debian_foley` into a temp folder.
2. Trains, batch 8, with the paper's recipe (Adam 1e-4 / 4e-4, two D steps per G step, EMA
   0.999), for as many steps as fit in `--minutes` of training wall time (evaluation excluded),
   the model `hifigan80-64`: the `foley` preset's front end (universal HiFi-GAN mels: 22.05 kHz,
   80 mels, hop 256; MiniLM text features) with 64 frames (0.74 s) and G 32 / D 8 channels -
   `foley` itself (256 frames, G 64 / D 16) is about 4x slower per step (`--model foley`).
3. Measures the mel Fréchet distance (`trainer.mel_frechet_distance`, Gaussians fitted to
   per-frame 80-d log-mel vectors) between generated and real clips: every library clip (>= 32)
   with its own caption and fixed noise, against the first 256 frames of the clip, at step 0 and
   every `--eval-every` steps, for the raw generator (eval mode) and the EMA generator.
   As `Trainer.fit` does for a fresh run (TrainConfig.init_output_level), the generator's output
   bias starts at the library's mean log-mel; `--no-output-level` is the baseline without it.
   References: FD(real, real) between two disjoint halves of the library (the floor this sample
   size allows), and FD of a constant frame equal to the real mean (= trace of the real
   covariance: a generator below it produces more than the average frame).
4. Times `Trainer.train_step` (batch 8: two D updates + one G update) for the `small` and
   `paper` presets on the same clips: 1 warm-up step, then `--timed-steps` steps. `paper` uses
   the weight-free `hash` text encoder at CLAP's sizes (768/512) - text features are cached
   before training, so the encoder does not enter the step time. The paper step runs in a
   subprocess with an address-space limit (`--paper-memory-gb`), so that it cannot push a shared
   machine into the OOM killer.

Everything is written as JSON (`--out`) and printed as a small table.
"""
from __future__ import annotations

import argparse
import json
import os

# Spinning OpenMP threads thrash on a shared machine (another process running steals a core
# and the other thread spins at every barrier): some steps then take 10x longer.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_library(folder: Path) -> tuple[Path, str]:
    from audiogan_training import debian_foley as df

    for package in ("openttd-opensfx", "tuxpaint-stamps-default"):
        if df.package_installed(package):
            if not (folder / package / "captions.jsonl").is_file():
                df.build_debian_foley(folder, packages=[package], copy=True)
            return folder / package, package
    raise SystemExit("needs the Debian package openttd-opensfx or tuxpaint-stamps-default")


def machine() -> dict:
    import torch

    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "load_average_start": os.getloadavg()}
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


class Evaluator:
    """Fixed captions, noise and real crops; FD of a generator's output against them."""

    def __init__(self, trainer, n_max: int = 256):
        import torch

        self.trainer = trainer
        n = min(n_max, len(trainer.items))
        if n < 32:
            raise SystemExit(f"only {n} clips: the learning-signal check wants >= 32")
        self.picks = list(range(n))
        self.captions = [trainer.items[i].caption for i in self.picks]
        ds = trainer.dataset
        self.real = torch.stack([torch.from_numpy(ds.crop(ds.full_mel(i), 0)) for i in self.picks])  # [n, F, T]
        self.words, self.lengths, self.sentence = trainer.text.batch(self.captions, "cpu")
        gen = torch.Generator().manual_seed(1234)
        self.z = torch.randn(n, trainer.config.model.noise_dim, generator=gen)

    def generate(self, generator) -> "torch.Tensor":  # noqa: F821
        import torch

        was_training = generator.training
        generator.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(self.picks), 16):
                sl = slice(s, s + 16)
                out.append(generator(self.z[sl], self.sentence[sl], self.words[sl], self.lengths[sl])[:, 0].float())
        generator.train(was_training)
        return torch.cat(out)

    def fd(self, generator) -> dict:
        from audiogan_training.trainer import mel_frechet_distance

        fake = self.generate(generator)
        return {"mel_fd": mel_frechet_distance(fake, self.real), "fake_mean": float(fake.mean()),
                "fake_std": float(fake.std())}

    def references(self) -> dict:
        import torch

        from audiogan_training.trainer import mel_frechet_distance

        real = self.real
        half = len(real) // 2
        frames = real.permute(0, 2, 1).reshape(-1, real.shape[1]).double()
        mean_frame = frames.mean(0).float()
        constant = mean_frame[None, :, None].expand_as(real).clone()
        constant += 1e-3 * torch.randn(constant.shape, generator=torch.Generator().manual_seed(0))  # non-singular
        return {"fd_real_half_vs_half": mel_frechet_distance(real[:half], real[half:2 * half]),
                "fd_constant_mean_frame": mel_frechet_distance(constant, real),
                "real_mean": float(real.mean()), "real_std": float(real.std())}


def learning_model(name: str):
    """`foley` (the bundled model's shape: 80 mels x 256 frames, G 64 / D 16 channels), or
    `hifigan80-64`: the same mel front end and text encoder with 64 frames (0.74 s) and half the
    width (G 32 / D 8 channels), about 4x cheaper per step."""
    from audiogan_core.config import preset

    if name == "foley":
        return preset("foley")
    if name == "hifigan80-64":
        return preset("foley").replace(name="hifigan80-64", base_frames=2, channels=32, d_channels=8)
    raise SystemExit(f"unknown --model {name!r}")


def learning_run(library: Path, work: Path, minutes: float, eval_every: int, batch: int, seed: int,
                 model: str = "hifigan80-64", lr_g: float | None = None, lr_d: float | None = None,
                 output_level: bool = True) -> dict:
    import torch

    from audiogan_training.config import TrainConfig
    from audiogan_training.trainer import Trainer

    config = TrainConfig(model=learning_model(model), batch_size=batch, steps=10 ** 6, seed=seed,
                         checkpoint_every=10 ** 6, preview_every=10 ** 6, log_every=10 ** 6)
    if lr_g or lr_d:
        config = config.replace(lr_g=lr_g or config.lr_g, lr_d=lr_d or config.lr_d)
    run = work / f"run-{model}-{int(time.time())}"
    t0 = time.perf_counter()
    trainer = Trainer(config, library, run, cache_dir=work / "cache", progress=False)
    trainer.dataset.precompute(progress=False)
    trainer.text.warm([i.caption for i in trainer.items])
    setup_s = time.perf_counter() - t0
    ev = Evaluator(trainer)
    refs = ev.references()
    if output_level:  # what fit() does at step 0 with config.init_output_level (the default)
        refs["init_output_level"] = trainer.init_output_level()
    curve = [{"step": 0, "raw": ev.fd(trainer.G), "ema": ev.fd(trainer.G_ema), "train_s": 0.0}]
    print(f"{model}: {len(trainer.items)} clips, setup {setup_s:.1f} s; step 0: FD raw {curve[0]['raw']['mel_fd']:.1f} "
          f"ema {curve[0]['ema']['mel_fd']:.1f}; references {json.dumps({k: round(v, 2) for k, v in refs.items()})}",
          flush=True)
    train_s, budget = 0.0, minutes * 60.0
    step_times, losses = [], []
    while train_s < budget:
        t = time.perf_counter()
        logs = trainer.train_step()
        dt = time.perf_counter() - t
        train_s += dt
        step_times.append(dt)
        losses.append({"step": trainer.step, **logs})
        if trainer.step % eval_every == 0 or train_s >= budget:
            point = {"step": trainer.step, "raw": ev.fd(trainer.G), "ema": ev.fd(trainer.G_ema), "train_s": train_s}
            curve.append(point)
            print(f"  step {trainer.step:4d}  {train_s / 60:5.1f} min  FD raw {point['raw']['mel_fd']:8.1f}  "
                  f"ema {point['ema']['mel_fd']:8.1f}  d_total {logs['d_total']:.3f}  g_total {logs['g_total']:.3f}",
                  flush=True)
    first, last = curve[0], curve[-1]
    steady = sorted(step_times[1:]) or step_times
    return {"preset": model, "model": trainer.config.model.to_dict(), "lr_g": config.lr_g, "lr_d": config.lr_d,
            "ema_decay": config.ema_decay, "frames": trainer.config.model.frames, "init_output_level": output_level,
            "clips": len(trainer.items), "batch_size": batch, "steps": trainer.step, "setup_s": setup_s,
            "train_wall_s": train_s, "s_per_step_mean": train_s / trainer.step,
            "s_per_step_median": steady[len(steady) // 2], "step_times_s": step_times,
            "g_params": sum(p.numel() for p in trainer.G.parameters()),
            "d_params": sum(p.numel() for p in trainer.D.parameters()),
            "references": refs, "curve": curve,
            "fd_initial_raw": first["raw"]["mel_fd"], "fd_final_raw": last["raw"]["mel_fd"],
            "fd_initial_ema": first["ema"]["mel_fd"], "fd_final_ema": last["ema"]["mel_fd"],
            "fd_best_raw": min(p["raw"]["mel_fd"] for p in curve),
            "losses_first": losses[0], "losses_last": losses[-1]}


def step_time(name: str, library: Path, work: Path, batch: int, timed: int) -> dict:
    """Trainer.train_step time for a preset (1 warm-up step + `timed` steps)."""
    import torch

    from audiogan_core.config import preset
    from audiogan_core.plugins import get_text_encoder
    from audiogan_training.config import TrainConfig
    from audiogan_training.trainer import Trainer

    mc = preset(name)
    encoder = None
    if mc.text_encoder == "clap":  # CLAP weights are not needed to time the step: features are cached
        encoder = get_text_encoder("hash", word_dim=mc.word_dim, sentence_dim=mc.sentence_dim).load("cpu")
    config = TrainConfig(model=mc, batch_size=batch, steps=10 ** 6, checkpoint_every=10 ** 6, preview_every=10 ** 6,
                         log_every=10 ** 6)
    t0 = time.perf_counter()
    trainer = Trainer(config, library, work / f"run-{name}-{os.getpid()}", cache_dir=work / "cache",
                      progress=False, text_encoder=encoder)
    trainer.dataset.precompute(progress=False)
    trainer.text.warm([i.caption for i in trainer.items])
    setup = time.perf_counter() - t0
    times = []
    for _ in range(1 + timed):
        t = time.perf_counter()
        logs = trainer.train_step()
        times.append(time.perf_counter() - t)
        print(f"  {name}: step {trainer.step} {times[-1]:.1f} s (d_total {logs['d_total']:.3f})", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"preset": name, "batch_size": batch, "mels": mc.mel.n_mels, "frames": mc.frames,
            "sample_rate": mc.mel.sample_rate, "g_params": sum(p.numel() for p in trainer.G.parameters()),
            "d_params": sum(p.numel() for p in trainer.D.parameters()), "setup_s": setup,
            "warmup_step_s": times[0], "step_s": times[1:], "step_s_mean": sum(times[1:]) / max(1, timed),
            "peak_rss_mb": rss, "text_encoder": trainer.text_encoder.name}


def step_time_subprocess(name: str, library: Path, work: Path, batch: int, timed: int, memory_gb: float,
                         threads: int, timeout: float) -> dict:
    out = work / f"step-{name}.json"
    code = (f"import json, sys, torch; torch.set_num_threads({threads}); "
            f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
            f"from benchmarks.learning_signal import step_time; from pathlib import Path; "
            f"r = step_time({name!r}, Path({str(library)!r}), Path({str(work)!r}), {batch}, {timed}); "
            f"Path({str(out)!r}).write_text(json.dumps(r))")
    limit = int(memory_gb * 2 ** 30)

    def set_limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code], preexec_fn=set_limit, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": str(threads),
                                                               "OMP_WAIT_POLICY": "PASSIVE"})
    except subprocess.TimeoutExpired as exc:
        return {"preset": name, "error": f"timed out after {timeout:.0f} s",
                "output": ((exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout or "")[-1500:]}
    print(proc.stdout, end="", flush=True)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"preset": name, "error": f"exit {proc.returncode}: {' | '.join(tail)}",
                "memory_limit_gb": memory_gb, "wall_s": time.perf_counter() - t0}
    result = json.loads(out.read_text())
    result["memory_limit_gb"] = memory_gb
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=11.0, help="training wall-time budget (evaluation excluded)")
    parser.add_argument("--model", default="hifigan80-64", choices=["hifigan80-64", "foley"],
                        help="hifigan80-64: 80 mels x 64 frames, G 32 / D 8 channels (default); foley: the bundled shape")
    parser.add_argument("--lr-g", type=float, default=None, help="default: the recipe's 1e-4")
    parser.add_argument("--lr-d", type=float, default=None, help="default: the recipe's 4e-4")
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 is faster on a busy machine)")
    parser.add_argument("--timed-steps", type=int, default=2)
    parser.add_argument("--paper-memory-gb", type=float, default=10.0)
    parser.add_argument("--no-output-level", action="store_true",
                        help="baseline: keep G's output bias at 0 (TrainConfig.init_output_level=False)")
    parser.add_argument("--step-times-only", action="store_true")
    parser.add_argument("--skip-step-times", action="store_true")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a temp folder, kept)")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default: WORK/learning_signal.json)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="audiogan-learning-signal-"))
    work.mkdir(parents=True, exist_ok=True)
    library, package = build_library(work / "library")
    results = {"machine": machine(), "package": package, "library": str(library)}
    t0 = time.perf_counter()
    if not args.step_times_only:
        results["learning"] = learning_run(library, work, args.minutes, args.eval_every, args.batch_size, args.seed,
                                           args.model, args.lr_g, args.lr_d,
                                           not args.no_output_level)
        results["learning"]["total_wall_s"] = time.perf_counter() - t0
    if not args.skip_step_times:
        results["step_times"] = [
            step_time_subprocess("small", library, work, args.batch_size, args.timed_steps, 12.0, args.threads, 900),
            step_time_subprocess("paper", library, work, args.batch_size, args.timed_steps, args.paper_memory_gb,
                                 args.threads, 1800)]
    results["machine"]["load_average_end"] = os.getloadavg()
    results["total_wall_s"] = time.perf_counter() - t0
    out = args.out or work / "learning_signal.json"
    out.write_text(json.dumps(results, indent=1))

    if "learning" in results:
        r = results["learning"]
        print(f"\nlearning signal ({r['preset']}, {r['clips']} {package} clips, batch {r['batch_size']}): "
              f"{r['steps']} steps in {r['train_wall_s'] / 60:.1f} min ({r['s_per_step_mean']:.2f} s/step; "
              f"median {r['s_per_step_median']:.2f})")
        print(f"  mel FD raw G: {r['fd_initial_raw']:.1f} -> {r['fd_final_raw']:.1f} (best {r['fd_best_raw']:.1f}); "
              f"EMA G: {r['fd_initial_ema']:.1f} -> {r['fd_final_ema']:.1f}")
        print(f"  references: real half vs half {r['references']['fd_real_half_vs_half']:.1f}, constant mean frame "
              f"{r['references']['fd_constant_mean_frame']:.1f}")
    for s in results.get("step_times", []):
        if "error" in s:
            print(f"step time {s['preset']}: {s['error']}")
        else:
            print(f"step time {s['preset']} (batch {s['batch_size']}, {s['mels']} mels x {s['frames']} frames): "
                  f"{s['step_s_mean']:.2f} s/step (warm-up {s['warmup_step_s']:.1f} s), peak RSS {s['peak_rss_mb']:.0f} MB")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
