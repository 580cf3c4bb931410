"""AudioLDM-S, the diffusion peer, built from its published configuration with random weights.

Components (diffusers / transformers classes, configs in configs/audioldm-s-full-v2/):
CLAP text branch (ClapTextModelWithProjection, RoBERTa-base, 125M) -> 512-d prompt embedding;
UNet2DConditionModel (185M) conditioned through a FiLM-style class embedding; DDIM scheduler;
AutoencoderKL decoder (55M) -> 64-bin mel; SpeechT5HifiGan vocoder (55M, 16 kHz).

`time_generation` reproduces diffusers' AudioLDMPipeline.__call__ step by step (same tensor
shapes and calls), so each stage can be timed: prompt and negative prompt encoded separately
(padded to the tokenizer's 512 tokens), latents [1, 8, 250, 16] for 10 s, classifier-free
guidance doubles the UNet batch, DDIM steps, VAE decode of latents / scaling_factor, vocoder,
cut to 160000 samples. No tokenizer is available offline: the prompt is random token ids
(12 real tokens, the rest padding), which costs the same as a real caption.
Requires the optional `benchmark` extra (diffusers).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from benchmarks.timing import params, summarise, sync

CONFIG_DIR = Path(__file__).parent / "configs" / "audioldm-s-full-v2"
PIPELINE_TOKENS = 512  # tokenizer.model_max_length of the CLAP RoBERTa tokenizer; the pipeline pads to it
REAL_TOKENS = 12


def load_config(name: str) -> dict:
    data = json.loads((CONFIG_DIR / f"{name}.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_") and k not in ("architectures", "model_type")}


def tiny_configs() -> dict:
    """Scaled-down shapes of the same architecture (CI plumbing only, not a measurement)."""
    unet = load_config("unet")
    unet.update(block_out_channels=[32, 64], down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], cross_attention_dim=[32, 64], layers_per_block=1,
                projection_class_embeddings_input_dim=32, sample_size=32)
    vae = load_config("vae")
    vae.update(block_out_channels=[32, 32], down_block_types=["DownEncoderBlock2D"] * 2,
               up_block_types=["UpDecoderBlock2D"] * 2, layers_per_block=1)
    vocoder = load_config("vocoder")
    vocoder.update(upsample_initial_channel=32)
    text = load_config("text_encoder")
    text.update(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=1000,
                projection_dim=32)
    return {"unet": unet, "vae": vae, "vocoder": vocoder, "text_encoder": text, "scheduler": load_config("scheduler")}


class AudioLDMBench:
    def __init__(self, device="cpu", tiny: bool = False, tokens: int | None = None):
        import torch
        from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
        from transformers import ClapTextConfig, ClapTextModelWithProjection, SpeechT5HifiGan, SpeechT5HifiGanConfig

        cfg = tiny_configs() if tiny else {n: load_config(n) for n in ("unet", "vae", "vocoder", "text_encoder",
                                                                       "scheduler")}
        self.device = torch.device(device)
        torch.manual_seed(0)
        t0 = time.perf_counter()
        self.text_encoder = ClapTextModelWithProjection(ClapTextConfig(**cfg["text_encoder"])).eval().to(self.device)
        self.unet = UNet2DConditionModel.from_config(cfg["unet"]).eval().to(self.device)
        self.vae = AutoencoderKL.from_config(cfg["vae"]).eval().to(self.device)
        self.vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**cfg["vocoder"])).eval().to(self.device)
        self.scheduler = DDIMScheduler.from_config(cfg["scheduler"])
        self.build_s = time.perf_counter() - t0
        self.vocab = cfg["text_encoder"]["vocab_size"]
        self.tokens = tokens or (16 if tiny else PIPELINE_TOKENS)
        self.vae_scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
        voc = self.vocoder.config
        self.upsample = math.prod(voc.upsample_rates) / voc.sampling_rate  # seconds per mel frame
        self.sample_rate = voc.sampling_rate
        self.n_mels = voc.model_in_dim
        self._warm = False

    def param_counts(self) -> dict:
        return {"text_encoder": params(self.text_encoder), "unet": params(self.unet), "vae": params(self.vae),
                "vocoder": params(self.vocoder)}

    def _ids(self, batch: int):
        import torch

        ids = torch.full((batch, self.tokens), 1, dtype=torch.long)
        real = min(REAL_TOKENS, self.tokens)
        ids[:, 1:real - 1] = torch.randint(3, self.vocab, (batch, real - 2), generator=torch.Generator().manual_seed(1))
        ids[:, 0], ids[:, real - 1] = 0, 2
        mask = (torch.arange(self.tokens) < real).long().expand(batch, -1).contiguous()
        return ids.to(self.device), mask.to(self.device)

    def _encode(self, batch: int):
        import torch

        ids, mask = self._ids(batch)
        emb = self.text_encoder(ids, attention_mask=mask).text_embeds
        return torch.nn.functional.normalize(emb, dim=-1)

    def time_generation(self, steps: int, *, seconds: float = 10.0, guidance_scale: float = 2.5, batch: int = 1,
                        repeats: int = 1) -> dict:
        """One clip per repeat, as AudioLDMPipeline.__call__ does it; per-stage times."""
        import torch

        height = int(seconds / self.upsample)
        if height % self.vae_scale:
            height = int(math.ceil(height / self.vae_scale)) * self.vae_scale
        n_samples = int(seconds * self.sample_rate)
        cfg = guidance_scale > 1.0
        stages = {k: [] for k in ("text", "denoise", "unet_step", "vae", "vocoder", "total")}
        warm = 0 if self._warm else 1  # one untimed 2-step run first, so every timed run is warm
        self._warm = True
        for rep in range(-warm, repeats):
            run_steps = 2 if rep < 0 else steps
            sync(self.device)
            t0 = time.perf_counter()
            prompt = self._encode(batch)
            embeds = torch.cat([self._encode(batch), prompt]) if cfg else prompt  # negative prompt "" first
            sync(self.device)
            t1 = time.perf_counter()
            self.scheduler.set_timesteps(run_steps, device=self.device)
            gen = torch.Generator().manual_seed(max(rep, 0))
            latents = torch.randn((batch, self.unet.config.in_channels, height // self.vae_scale,
                                   self.n_mels // self.vae_scale), generator=gen).to(self.device)
            latents = latents * self.scheduler.init_noise_sigma
            step_times = []
            for t in self.scheduler.timesteps:
                s0 = time.perf_counter()
                model_in = torch.cat([latents] * 2) if cfg else latents
                model_in = self.scheduler.scale_model_input(model_in, t)
                noise = self.unet(model_in, t, encoder_hidden_states=None, class_labels=embeds).sample
                if cfg:
                    uncond, text = noise.chunk(2)
                    noise = uncond + guidance_scale * (text - uncond)
                latents = self.scheduler.step(noise, t, latents).prev_sample
                sync(self.device)
                step_times.append(time.perf_counter() - s0)
            t2 = time.perf_counter()
            mel = self.vae.decode(latents / self.vae.config.scaling_factor).sample
            sync(self.device)
            t3 = time.perf_counter()
            wave = self.vocoder(mel.squeeze(1))[:, :n_samples]
            sync(self.device)
            t4 = time.perf_counter()
            if rep < 0:
                continue
            stages["text"].append(t1 - t0)
            stages["denoise"].append(t2 - t1)
            stages["unet_step"].extend(step_times)
            stages["vae"].append(t3 - t2)
            stages["vocoder"].append(t4 - t3)
            stages["total"].append(t4 - t0)
        out = {k: summarise(v) for k, v in stages.items() if v}
        out["latent_shape"] = [batch, self.unet.config.in_channels, height // self.vae_scale,
                               self.n_mels // self.vae_scale]
        out["samples"] = int(wave.shape[-1])
        out["unet_batch"] = 2 * batch if cfg else batch
        return out
