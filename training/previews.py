"""Preview files a person looks at during training: WAVs and generated-vs-real PNGs."""
from __future__ import annotations

from pathlib import Path

import torch

from audiogan_core.io import write_wav


def save_spectrogram_pair(path: Path, fake, real, title: str, mel_config) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
    seconds = mel_config.seconds_for(fake.shape[-1])
    vmin = float(min(fake.min(), real.min()))
    vmax = float(max(fake.max(), real.max()))
    for ax, mel, name in ((axes[0], fake, "generated"), (axes[1], real, "real")):
        ax.imshow(mel, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[0]), vmin=vmin, vmax=vmax,
                  cmap="magma")
        ax.set_title(name)
        ax.set_xlabel("seconds")
    axes[0].set_ylabel("mel bin")
    fig.suptitle(title[:90])
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)


def write_previews(folder: Path, captions, fake: torch.Tensor, real: torch.Tensor, mel_config, vocoder) -> None:
    """fake, real: [n, F, T] log-mels."""
    folder.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        fake_wave = vocoder(fake).cpu().numpy()
        real_wave = vocoder(real).cpu().numpy()
    for i, caption in enumerate(captions):
        write_wav(folder / f"{i}_generated.wav", fake_wave[i], mel_config.sample_rate, overwrite=True)
        write_wav(folder / f"{i}_real.wav", real_wave[i], mel_config.sample_rate, overwrite=True)
        save_spectrogram_pair(folder / f"{i}.png", fake[i].numpy(), real[i].numpy(), caption, mel_config)
    (folder / "captions.txt").write_text("\n".join(captions) + "\n", encoding="utf-8")
