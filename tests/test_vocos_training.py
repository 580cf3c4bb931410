"""The `vocos` vocoder's trainer (`audiogan train-vocoder`): learning, resuming, critics, data, new heads."""
import json

import numpy as np
import pytest
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import ConfigError
from audiogan_plugins.vocoders.vocos import VocosConfig, VocosVocoder, load_vocos

from test_vocos import TINY, small_checkpoint

@pytest.fixture
def library(tmp_path, write_library):
    """Six short clips (tones and noise bursts) with captions and a one-clip held-out list."""
    rng = np.random.default_rng(0)
    clips = []
    for i in range(6):
        t = np.arange(int(22050 * (0.6 + 0.2 * i))) / 22050
        x = 0.3 * np.sin(2 * np.pi * (200 + 90 * i) * t) + 0.05 * rng.standard_normal(t.size)
        clips.append((x, f"tone number {i}"))
    return write_library(tmp_path / "lib", clips, 22050, held_out=[5])


def tiny_config(**changes):
    from audiogan_training.vocoder import VocoderTrainConfig

    base = dict(model=VocosConfig(**TINY), steps=4, batch_size=2, segment_frames=16, teacher="", w_phase=0.0,
                checkpoint_every=2, log_every=2, eval_every=2, eval_clips=1, eval_seconds=0.3, warmup_steps=1)
    base.update(changes)
    return VocoderTrainConfig(**base)


def test_trainer_learns_and_resumes_bit_exactly(library, tmp_path):
    from audiogan_training.vocoder import VocoderTrainer, read_vocoder_checkpoint

    whole = VocoderTrainer(tiny_config(), library, tmp_path / "a", progress=False)
    assert [e["file"] for e in whole.held.entries] == ["clip5.wav"]  # held out: scored, never trained on
    assert "clip5.wav" not in {e["file"] for e in whole.train.entries}
    whole.fit()
    first = VocoderTrainer(tiny_config(), library, tmp_path / "b", progress=False)
    first.fit(steps=2)
    again = VocoderTrainer(tiny_config(), library, tmp_path / "b", resume=True, progress=False)
    assert again.step == 2
    again.fit()
    a, b = read_vocoder_checkpoint(tmp_path / "a/checkpoint.pt"), read_vocoder_checkpoint(tmp_path / "b/checkpoint.pt")
    assert a["step"] == b["step"] == 4
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    log = [json.loads(line) for line in (tmp_path / "a/log.jsonl").read_text().splitlines()]
    assert {"eval_mel_l1", "eval_mel_l1_hifigan", "eval_mrstft"} <= set(log[-1])
    voc = VocosVocoder(checkpoint=tmp_path / "a/vocos.safetensors").load()
    assert voc(torch.randn(1, 80, 5)).shape == (1, 5 * 256)


def test_trainer_refuses_to_clobber_a_run(library, tmp_path):
    from audiogan_core.errors import InputError
    from audiogan_training.vocoder import VocoderTrainer

    VocoderTrainer(tiny_config(steps=1), library, tmp_path / "r", progress=False).fit()
    with pytest.raises(InputError, match="already holds a vocoder run.*--resume"):
        VocoderTrainer(tiny_config(steps=1), library, tmp_path / "r", progress=False)


def test_training_lowers_the_loss(library, tmp_path):
    from audiogan_training.vocoder import VocoderTrainer

    trainer = VocoderTrainer(tiny_config(steps=40, lr=3e-3, eval_every=1000, checkpoint_every=1000),
                             library, tmp_path / "l", progress=False)
    first = np.mean([trainer.train_step()["loss"] for _ in range(5)])
    for _ in range(30):
        trainer.train_step()
    last = np.mean([trainer.train_step()["loss"] for _ in range(5)])
    assert last < 0.8 * first, (first, last)


def test_teacher_waveform_chunks_join_seamlessly():
    """A long clip's teacher audio made in chunks (with context) equals one pass."""
    from audiogan_training.vocoder_corpus import teacher_waveform

    class Smearing:  # a stand-in teacher whose output at a frame depends on frames up to 3 away
        mel_config = MelConfig.hifigan_universal()

        def __call__(self, m):  # [1, n_mels, T] -> [1, T * hop]
            smooth = torch.nn.functional.avg_pool1d(m.mean(1, keepdim=True), 7, 1, 3)[:, 0]  # [1, T]
            ramp = torch.linspace(0, 1, 256)
            return (smooth[..., None] * ramp).reshape(1, -1)

    mel = torch.randn(80, 300).numpy()
    whole = Smearing()(torch.from_numpy(mel)[None])[0].numpy()
    chunked = teacher_waveform(Smearing(), mel, chunk=64, context=8)
    assert chunked.shape == whole.shape == (300 * 256,)
    assert np.abs(chunked - whole).max() < 1e-6
    assert np.abs(teacher_waveform(Smearing(), mel, chunk=64, context=0) - whole).max() > 1e-3


def test_set_scores_are_not_blown_up_by_a_near_silent_clip():
    from audiogan_core.mel import MelFrontEnd
    from audiogan_training.vocoder_losses import aggregate_scores, resynthesis_scores

    front, res = MelFrontEnd(MelConfig.hifigan_universal()), ((512, 128), (1024, 256))
    g = torch.Generator().manual_seed(0)
    loud = torch.randn(8192, generator=g) * 0.3
    quiet = torch.randn(8192, generator=g) * 1e-6
    same = aggregate_scores([resynthesis_scores(loud, loud, front, res)])
    assert same["mel_l1"] < 1e-5 and same["spectral_convergence"] < 1e-5
    # a slightly-off loud clip plus a near-silent one whose "resynthesis" is a little noise
    scores = [resynthesis_scores(loud * 0.9, loud, front, res), resynthesis_scores(quiet * 50, quiet, front, res)]
    total = aggregate_scores(scores)
    assert 0.05 < total["spectral_convergence"] < 0.2  # the loud clip's 10% error, not the quiet clip's 4900%


def test_sigterm_finishes_the_step_and_checkpoints(library, tmp_path, monkeypatch):
    import signal

    from audiogan_training.vocoder import VocoderTrainer, read_vocoder_checkpoint

    trainer = VocoderTrainer(tiny_config(steps=50, checkpoint_every=1000), library, tmp_path / "t", progress=False)
    original = trainer.train_step

    def step():
        if trainer.step == 2:
            signal.raise_signal(signal.SIGTERM)  # arrives during step 3
        return original()

    monkeypatch.setattr(trainer, "train_step", step)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        trainer.fit()
    assert read_vocoder_checkpoint(tmp_path / "t/checkpoint.pt")["step"] == 3


# The adversarial phase -------------------------------------------------------------------------
def test_adversarial_phase_resumes_bit_exactly_with_its_critic(library, tmp_path):
    from audiogan_training.vocoder import VocoderTrainer, read_vocoder_checkpoint

    plain = VocoderTrainer(tiny_config(steps=2), library, tmp_path / "plain", progress=False)
    plain.fit()
    adv = dict(w_adv=0.5, w_fm=1.0, disc_channels=4, disc_resolutions=((256, 64), (512, 128)), adv_start_step=2)
    whole = VocoderTrainer(tiny_config(**adv), library, tmp_path / "a", progress=False,
                           init_from=tmp_path / "plain/checkpoint.pt")
    assert all(torch.equal(whole.model.state_dict()[k], v)
               for k, v in read_vocoder_checkpoint(tmp_path / "plain/checkpoint.pt")["model"].items())
    logs = [whole.train_step() for _ in range(3)]
    assert "adv" not in logs[0] and "adv" not in logs[1] and {"adv", "fm", "disc"} <= set(logs[2])
    whole.fit()
    first = VocoderTrainer(tiny_config(**adv), library, tmp_path / "b", progress=False,
                           init_from=tmp_path / "plain/checkpoint.pt")
    first.fit(steps=3)
    again = VocoderTrainer(tiny_config(**adv), library, tmp_path / "b", resume=True, progress=False)
    again.fit()
    a, b = read_vocoder_checkpoint(tmp_path / "a/checkpoint.pt"), read_vocoder_checkpoint(tmp_path / "b/checkpoint.pt")
    for part in ("model", "discriminator"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    # a new phase started from this checkpoint takes its critic along (no solo warm-up needed)
    follow = VocoderTrainer(tiny_config(**adv), library, tmp_path / "c", progress=False,
                            init_from=tmp_path / "a/checkpoint.pt")
    assert all(torch.equal(follow.discriminator.state_dict()[k], v) for k, v in a["discriminator"].items())


def test_period_critics_join_the_spectrogram_critics_and_start_afresh_on_an_older_critic(library, tmp_path):
    """disc_periods adds HiFi-GAN-style period critics: one (logits, features) pair each after the
    spectrogram critics'; started from a checkpoint without them, the spectrogram critics are taken
    along and the period critics start new; the adversarial step runs with them."""
    from audiogan_training.vocoder import VocoderTrainer, read_vocoder_checkpoint
    from audiogan_training.vocoder_discriminator import PeriodDiscriminator

    adv = dict(w_adv=0.5, w_fm=1.0, disc_channels=4, disc_resolutions=((256, 64), (512, 128)), adv_start_step=0)
    VocoderTrainer(tiny_config(steps=1, **adv), library, tmp_path / "a", progress=False).fit()
    before = read_vocoder_checkpoint(tmp_path / "a/checkpoint.pt")["discriminator"]
    cfg = tiny_config(steps=2, disc_periods=(2, 3), disc_period_channels=2, **adv)
    follow = VocoderTrainer(cfg, library, tmp_path / "b", progress=False, init_from=tmp_path / "a/checkpoint.pt")
    state = follow.discriminator.state_dict()
    assert all(torch.equal(state[k], v) for k, v in before.items())
    assert any(k.startswith("period_discriminators.") for k in state) and not any(
        k.startswith("period_discriminators.") for k in before)
    out = follow.discriminator(torch.randn(2, 4000))
    assert len(out) == 4 and out[2][1][0].shape[-1] == 2 and out[3][1][0].shape[-1] == 3  # folded by period
    logs = follow.train_step()
    assert {"adv", "fm", "disc"} <= set(logs) and np.isfinite(logs["loss"])
    logits, features = PeriodDiscriminator(5, 2)(torch.randn(3, 1001))  # padded up to whole periods
    assert logits.shape[0] == 3 and features[0].shape[:2] == (3, 2)
    for bad in ((1,), (2, 2), ("3",), 3):
        with pytest.raises(ConfigError, match="disc_periods"):
            tiny_config(disc_periods=bad)


def test_an_adversarial_config_will_not_resume_a_run_without_a_critic(library, tmp_path):
    from audiogan_training.vocoder import VocoderTrainer

    VocoderTrainer(tiny_config(steps=1), library, tmp_path / "r", progress=False).fit()
    with pytest.raises(ConfigError, match="--init-from"):
        VocoderTrainer(tiny_config(w_adv=1.0, disc_channels=4), library, tmp_path / "r", resume=True, progress=False)


def test_the_critic_learns_to_tell_a_smooth_spectrum_from_a_textured_one():
    """Real: noise with an envelope drawn anew every 256 samples (texture); fake: the same noise at
    the envelope's mean level. Average magnitudes match; only the fine structure differs, which is
    what the critic is for."""
    from audiogan_training.vocoder_discriminator import MultiResolutionDiscriminator, discriminator_loss

    torch.manual_seed(0)
    critic = MultiResolutionDiscriminator(((256, 64), (512, 128)), channels=8)
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3)

    def batch():
        noise = torch.randn(8, 4096)
        envelope = torch.rand(8, 16).repeat_interleave(256, dim=1) * 2
        return noise * envelope, noise * envelope.mean(dim=1, keepdim=True)

    losses = []
    for _ in range(60):
        real, fake = batch()
        loss = discriminator_loss(critic(real), critic(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-6:]) < 0.75 * np.mean(losses[:6]), losses  # from 2.0 (chance) to about 1.1


def test_the_envelope_critic_learns_to_tell_a_sharp_attack_from_a_smeared_one():
    """Real: a noise burst that starts at once after silence and decays; fake: the same noise
    under a 40 ms fade-in to the same level. Both judged beside the real one's mel; the spectra
    over a mel frame differ little, the level every 32 samples a lot."""
    from audiogan_core.mel import MelFrontEnd
    from audiogan_training.vocoder_discriminator import MultiResolutionDiscriminator, discriminator_loss

    torch.manual_seed(0)
    critic = MultiResolutionDiscriminator((), envelope_channels=8, n_mels=80, frame_hop=256)
    assert len(critic.discriminators) == 0 and len(critic.envelope_discriminators) == 1
    front = MelFrontEnd(MelConfig.hifigan_universal())
    opt = torch.optim.Adam(critic.parameters(), lr=2e-3)
    t = torch.arange(4096)

    def batch():
        start = torch.randint(512, 2048, (8, 1))
        after = (t - start).clamp(min=0).float()
        decay = torch.exp(-after / 1500) * (t >= start)
        fade = (after / 880).clamp(max=1)  # 40 ms at 22.05 kHz
        noise = 0.3 * torch.randn(8, 4096)
        real, fake = noise * decay, noise * decay * fade
        return real, fake, front(real)

    losses = []
    for _ in range(60):
        real, fake, mel = batch()
        loss = discriminator_loss(critic(real, mel), critic(fake, mel))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-6:]) < 0.75 * np.mean(losses[:6]), losses  # from 2.0 (chance)
    real, fake, mel = batch()
    with torch.no_grad():
        (real_logits, _), = critic(real, mel)
        (fake_logits, _), = critic(fake, mel)
    assert (real_logits.mean(1) > fake_logits.mean(1)).all()
    with pytest.raises(ValueError, match="needs the mel"):
        critic(real)


def test_only_the_envelope_learns_against_the_envelope_critic_and_resumes_bit_exactly(library, tmp_path):
    """train_new_heads_only with disc_envelope_channels: the vocoder it starts from stays exactly as
    it was, the envelope (read through convolutions) and the critic learn, and a resumed run
    continues bit for bit; a checkpoint's spectrogram critics are kept and the envelope critic
    joins afresh."""
    from audiogan_training.vocoder import VocoderTrainer, read_vocoder_checkpoint

    source = small_checkpoint(tmp_path)
    spectral = dict(w_adv=1.0, w_fm=2.0, disc_channels=4, disc_resolutions=((256, 64),), adv_start_step=0)
    VocoderTrainer(tiny_config(steps=1, **spectral), library, tmp_path / "a", progress=False,
                   init_from=source).fit()
    model = VocosConfig(**TINY, envelope_steps=8, envelope_hidden=4)
    cfg = tiny_config(model=model, steps=4, lr=1e-2, train_new_heads_only=True, w_envelope=1.0,
                      disc_envelope_channels=4, **spectral)
    trainer = VocoderTrainer(cfg, library, tmp_path / "b", progress=False, init_from=tmp_path / "a/checkpoint.pt")
    critic_before = read_vocoder_checkpoint(tmp_path / "a/checkpoint.pt")["discriminator"]
    state = trainer.discriminator.state_dict()
    assert all(torch.equal(state[k], v) for k, v in critic_before.items())
    assert any(k.startswith("envelope_discriminators.") for k in state)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit(2)
    VocoderTrainer(cfg, library, tmp_path / "b", resume=True, progress=False).fit()
    trainer.fit()
    resumed = read_vocoder_checkpoint(tmp_path / "b/checkpoint.pt")["model"]
    after = trainer.model.state_dict()
    assert all(torch.equal(after[k], resumed[k]) for k in after)
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed and all(k.startswith("envelope.") for k in changed)
    assert "envelope.body.0.weight" in changed
    logged = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert any("adv" in r and "disc" in r for r in logged)


def test_new_heads_only_training_and_the_envelope_critic_are_checked():
    from audiogan_training.vocoder import VocoderTrainConfig

    with pytest.raises(ConfigError, match="train_new_heads_only needs a short head"):
        tiny_config(train_new_heads_only=True)
    shaped = VocosConfig(**TINY, envelope_steps=8)
    with pytest.raises(ConfigError, match="exclude each other"):
        tiny_config(model=shaped, train_new_heads_only=True, train_head_only=True)
    with pytest.raises(ConfigError, match="train_new_heads_only must be true or false"):
        VocoderTrainConfig(model=shaped, train_new_heads_only="yes")
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="disc_envelope_channels must be 0"):
            tiny_config(disc_envelope_channels=bad)


def test_generated_mels_are_inputs_with_the_teachers_waveform_as_target(library, tmp_path, monkeypatch):
    from audiogan_core.api import AudioGAN
    from audiogan_training.vocoder import VocoderTrainer

    cfg = tiny_config(teacher="hifigan", w_phase=0.25, generated_share=1.0, generated_seconds=0.5)
    trainer = VocoderTrainer(cfg, library, tmp_path / "g", progress=False, cache_dir=tmp_path / "cache")
    gen = trainer.generated
    assert len(gen) == len(trainer.train) == 5  # one per training caption; the held-out caption is never used
    meta = [json.loads((gen.folder / f"{e['key']}.json").read_text()) for e in gen.entries]
    assert "tone number 5" not in {m["caption"] for m in meta}
    assert [m["seed"] for m in meta] == [1000 + k for k in range(5)]
    b = trainer.batch(0)
    S, hop = cfg.segment_frames, 256
    # every row's input is a stretch of a stored generated mel, and its target that mel's teacher waveform
    for row in range(cfg.batch_size):
        mel = b["mel"][row].numpy()
        hits = [(i, f0) for i in range(len(gen)) for f0 in range(gen.frames(i) - S + 1)
                if np.array_equal(np.asarray(gen.array(i, "mel")[:, f0:f0 + S]), mel)]
        assert hits, row
        i, f0 = hits[0]
        assert np.array_equal(b["real"][row].numpy(), np.asarray(gen.array(i, "teacher")[f0 * hop:(f0 + S) * hop]))
        assert torch.equal(b["teacher"][row], b["real"][row])
    trainer.fit(steps=2)

    # cached: a second run over the same library generates nothing
    monkeypatch.setattr(AudioGAN, "generate_mel", lambda *a, **k: pytest.fail("regenerated a cached mel"))
    again = VocoderTrainer(cfg, library, tmp_path / "g2", progress=False, cache_dir=tmp_path / "cache")
    assert [e["key"] for e in again.generated.entries] == [e["key"] for e in gen.entries]
    # without the phase loss no row carries a teacher target, generated or real
    plain = VocoderTrainer(tiny_config(teacher="hifigan", w_phase=0.0, generated_share=0.5, generated_seconds=0.5),
                           library, tmp_path / "g3", progress=False, cache_dir=tmp_path / "cache")
    assert all("teacher" not in plain.batch(s) for s in range(4))
    plain.fit(steps=2)


def test_generated_mels_without_a_waveform_target(library, tmp_path):
    """generated_target "mel": the last rows are generated mels; they meet the log-mel loss and the
    critic as fakes, and nothing that stands in for their missing waveform reaches any loss."""
    from audiogan_training.vocoder import VocoderTrainer

    cfg = tiny_config(batch_size=4, generated_share=0.5, generated_target="mel", generated_seconds=0.5,
                      w_adv=0.5, w_fm=1.0, disc_channels=4, disc_resolutions=((256, 64),))
    trainer = VocoderTrainer(cfg, library, tmp_path / "m", progress=False, cache_dir=tmp_path / "cache")
    gen = trainer.generated
    assert len(gen) == 5  # no teacher was asked for, so none was made
    assert all((gen.folder / f"{e['key']}.mel.npy").is_file() and not (gen.folder / f"{e['key']}.teacher.npy").exists()
               for e in gen.entries)
    b = trainer.batch(0)
    assert b["generated"].tolist() == [False, False, True, True]
    S = cfg.segment_frames
    for row in (2, 3):  # a stretch of a stored generated mel; no waveform
        mel = b["mel"][row].numpy()
        assert any(np.array_equal(np.asarray(gen.array(i, "mel")[:, f0:f0 + S]), mel)
                   for i in range(len(gen)) for f0 in range(gen.frames(i) - S + 1)), row
        assert not b["real"][row].any()
    for row in (0, 1):  # recordings: the input is the segment's own mel
        assert torch.allclose(b["mel"][row], trainer.front_end(b["real"][row:row + 1])[0])

    def losses_with(fill):
        """One step's losses from the same weights, with the generated rows' stand-in waveform `fill`."""
        t = VocoderTrainer(cfg, library, tmp_path / f"m-{fill}", progress=False, cache_dir=tmp_path / "cache")
        t.step = cfg.adv_start_step
        real_batch = t.batch
        t.batch = lambda step: {**real_batch(step), "real": torch.where(
            real_batch(step)["generated"][:, None], torch.full_like(real_batch(step)["real"], fill),
            real_batch(step)["real"])}
        return t.train_step()

    a, b2 = losses_with(0.0), losses_with(0.5)
    for k in ("mel_l1", "mrstft", "disc", "adv", "fm", "loss"):
        assert a[k] == pytest.approx(b2[k], rel=1e-6), k
    trainer.fit(steps=2)
    for bad, match in ((dict(generated_share=0.1), "1 generated rows of 4|0 generated rows"),
                       (dict(generated_share=1.0), "at least one of each kind"),
                       (dict(w_adv=0.0), "needs the critic"),
                       (dict(teacher="hifigan", w_phase=0.25), "recordings only"),
                       (dict(generated_target="waveform"), "generated_target must be")):
        with pytest.raises(ConfigError, match=match):
            tiny_config(**{**dict(batch_size=4, generated_share=0.5, generated_target="mel", w_adv=0.5), **bad})


def test_generated_mels_need_a_teacher():
    with pytest.raises(ConfigError, match="teacher"):
        tiny_config(generated_share=0.5)
    with pytest.raises(ConfigError, match="generated_share"):
        tiny_config(teacher="hifigan", w_phase=0.25, generated_share=1.5)


def test_teacher_target_keeps_the_recordings_mel_as_input(library, tmp_path):
    from audiogan_training.vocoder import VocoderTrainer

    kw = dict(teacher="hifigan", w_phase=0.0, silent_redraws=0)
    audio = VocoderTrainer(tiny_config(**kw), library, tmp_path / "a", progress=False, cache_dir=tmp_path / "cache")
    distil = VocoderTrainer(tiny_config(target="teacher", **kw), library, tmp_path / "t", progress=False,
                            cache_dir=tmp_path / "cache")
    a, t = audio.batch(3), distil.batch(3)
    assert "teacher" not in a and torch.equal(a["mel"], t["mel"])  # same segments, the recording's mel in
    assert torch.equal(t["real"], t["teacher"]) and not torch.allclose(t["real"], a["real"])
    S, hop, corpus = distil.config.segment_frames, 256, distil.train

    def stretch(i, f0, kind):  # the (zero-padded) segment of clip i from frame f0, as a batch row holds it
        x = np.asarray(corpus.array(i, kind)[f0 * hop:(f0 + S) * hop])
        return np.pad(x, (0, S * hop - x.size))

    for row in range(distil.config.batch_size):  # the target is the teacher's waveform for that very segment
        where = [(i, f0) for i in range(len(corpus)) for f0 in range(corpus.frames(i))
                 if np.array_equal(stretch(i, f0, "audio"), a["real"][row].numpy())]
        assert any(np.allclose(stretch(i, f0, "teacher"), t["real"][row].numpy()) for i, f0 in where), row
    assert torch.allclose(t["mel_target"], distil.front_end(t["teacher"]))
    distil.fit(steps=2)

    with pytest.raises(ConfigError, match="target"):
        tiny_config(target="teacher")  # no teacher named
    with pytest.raises(ConfigError, match="target"):
        tiny_config(teacher="hifigan", target="recording")


def test_init_from_shallower_weights_grows_blocks_that_start_as_the_identity(library, tmp_path):
    from audiogan_training.vocoder import VocoderTrainer

    shallow = small_checkpoint(tmp_path)
    trainer = VocoderTrainer(tiny_config(model=VocosConfig(**{**TINY, "layers": 4}), steps=2), library,
                             tmp_path / "deep", progress=False, init_from=shallow)
    mel = torch.randn(1, 80, 12)
    assert torch.allclose(trainer.model(mel), load_vocos(shallow)(mel), atol=1e-6)  # the same function
    assert [float(b.gamma.detach().abs().max()) for b in trainer.model.blocks][2:] == [0.0, 0.0]
    trainer.fit()  # and the new blocks learn: their scale moves off zero
    assert float(trainer.model.blocks[3].gamma.detach().abs().max()) > 0


def test_init_from_weights_with_another_head_keeps_their_backbone_and_starts_the_head_afresh(library, tmp_path,
                                                                                           capsys):
    from audiogan_training.vocoder import VocoderTrainer

    source = small_checkpoint(tmp_path)
    model = VocosConfig(**TINY, head_n_fft=256, head_subframes=4)
    trainer = VocoderTrainer(tiny_config(model=model, steps=2), library, tmp_path / "fine", progress=False,
                             init_from=source)
    assert "the head starts afresh" in capsys.readouterr().err  # never silently
    fresh = VocoderTrainer(tiny_config(model=model, steps=2), library, tmp_path / "plain", progress=False)
    got, old, new = trainer.model.state_dict(), load_vocos(source).state_dict(), fresh.model.state_dict()
    for key in got:
        expected = new[key] if key.startswith("head.") else old[key]
        assert torch.equal(got[key], expected), key
    assert got["head.out.weight"].shape == (4 * 258, TINY["dim"])
    trainer.fit()
    assert (trainer.run_dir / "vocos.safetensors").is_file()
    wave = load_vocos(trainer.run_dir / "vocos.safetensors")(torch.randn(1, 80, 7))
    assert wave.shape == (1, 7 * 256)


def test_training_the_head_only_leaves_the_backbone_as_it_was_and_resumes(library, tmp_path):
    from audiogan_training.vocoder import VocoderTrainConfig, VocoderTrainer

    source = small_checkpoint(tmp_path)
    model = VocosConfig(**TINY, head_n_fft=256, head_subframes=4)
    cfg = tiny_config(model=model, steps=2, train_head_only=True, checkpoint_every=2)
    trainer = VocoderTrainer(cfg, library, tmp_path / "head", progress=False, init_from=source)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in after if not k.startswith("head."))
    assert not torch.equal(after["head.out.weight"], before["head.out.weight"])
    again = VocoderTrainer(cfg, library, tmp_path / "head", progress=False, resume=True)
    assert again.step == 2
    again.fit(3)
    assert all(torch.equal(again.model.state_dict()[k], before[k]) for k in after if not k.startswith("head."))
    with pytest.raises(ConfigError, match="train_head_only"):
        VocoderTrainConfig(train_head_only="yes")


def test_init_from_weights_without_a_short_head_adds_it_closed_and_head_only_training_opens_it(library, tmp_path,
                                                                                               capsys):
    from audiogan_training.vocoder import VocoderTrainer

    source = small_checkpoint(tmp_path)
    model = VocosConfig(**TINY, short_head_n_fft=256, short_head_subframes=4)
    cfg = tiny_config(model=model, steps=3, train_head_only=True)
    trainer = VocoderTrainer(cfg, library, tmp_path / "dual", progress=False, init_from=source)
    assert "no short head" in capsys.readouterr().err
    mel = torch.randn(1, 80, 9)
    with torch.no_grad():
        assert torch.equal(trainer.model(mel), load_vocos(source)(mel))  # step 0: the source vocoder exactly
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in after if k.startswith(("blocks.", "embed.")))
    assert float(after["short_gate"].abs()) > 0 and not torch.equal(after["head.out.bias"], before["head.out.bias"])


def test_a_fresh_short_head_warms_up_alone_then_everything_trains_with_the_critic(library, tmp_path, capsys):
    """new_heads_warmup_steps: the short head and its gate (opened at short_gate_init) learn alone,
    with no critic step, at their own rate; then the run's schedule starts and everything learns."""
    from audiogan_training.vocoder import VocoderTrainer, read_vocoder_checkpoint

    source = small_checkpoint(tmp_path)
    model = VocosConfig(**TINY, short_head_n_fft=256, short_head_subframes=4)
    adv = dict(w_adv=0.5, w_fm=1.0, disc_channels=4, disc_resolutions=((256, 64), (512, 128)))
    cfg = tiny_config(model=model, steps=4, new_heads_warmup_steps=2, new_heads_warmup_lr=1e-3,
                      short_gate_init=1.0, **adv)
    trainer = VocoderTrainer(cfg, library, tmp_path / "warm", progress=False, init_from=source)
    assert "no short head; it starts afresh, its gate at 1" in capsys.readouterr().err
    assert trainer.model.short_gate.item() == 1.0
    assert [trainer.lr_at(s) for s in range(2)] == [1e-3, 1e-3] and trainer.lr_at(2) == pytest.approx(cfg.lr)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    critic = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    logs = [trainer.train_step() for _ in range(2)]
    assert all("disc" not in log and "adv" not in log for log in logs)
    mid = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    changed = {k for k in mid if not torch.equal(mid[k], before[k])}
    assert changed == {"short_gate", "short_head.out.weight", "short_head.out.bias"}
    assert all(torch.equal(v, critic[k]) for k, v in trainer.discriminator.state_dict().items())
    log = trainer.train_step()
    assert {"disc", "adv", "fm"} <= set(log)
    after = trainer.model.state_dict()
    assert not torch.equal(after["blocks.0.pwconv1.weight"], mid["blocks.0.pwconv1.weight"])
    assert not torch.equal(after["head.out.weight"], mid["head.out.weight"])
    # resuming across the switch is bit-exact
    whole = VocoderTrainer(cfg, library, tmp_path / "a", progress=False, init_from=source)
    whole.fit()
    first = VocoderTrainer(cfg, library, tmp_path / "b", progress=False, init_from=source)
    first.fit(steps=1)
    VocoderTrainer(cfg, library, tmp_path / "b", resume=True, progress=False).fit()
    a, b = read_vocoder_checkpoint(tmp_path / "a/checkpoint.pt"), read_vocoder_checkpoint(tmp_path / "b/checkpoint.pt")
    for part in ("model", "discriminator"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part


def test_a_short_head_initialised_from_the_long_one_follows_its_spectrum_quietly(library, tmp_path):
    from audiogan_training.vocoder import SHORT_FROM_LONG_LOG_OFFSET, VocoderTrainer

    source = small_checkpoint(tmp_path)
    model = VocosConfig(**TINY, short_head_n_fft=256, short_head_subframes=4)
    cfg = tiny_config(model=model, steps=3, new_heads_warmup_steps=1, short_gate_init=1.0, short_head_init="long")
    m = VocoderTrainer(cfg, library, tmp_path / "long", progress=False, init_from=source).model
    fresh = VocoderTrainer(tiny_config(model=model, steps=3), library, tmp_path / "fresh", progress=False,
                           init_from=source).model
    w, b = m.short_head.out.weight.reshape(4, 258, -1), m.short_head.out.bias.reshape(4, 258)
    for sub in range(4):  # magnitude rows: the long head's at bins 0, 4, 8, ... 512; phase rows as a fresh head's
        assert torch.equal(w[sub, :129], m.head.out.weight[0:513:4])
        assert torch.allclose(b[sub, :129], m.head.out.bias[0:513:4] + SHORT_FROM_LONG_LOG_OFFSET)
        assert torch.equal(w[sub, 129:], fresh.short_head.out.weight.reshape(4, 258, -1)[sub, 129:])
    mel = torch.randn(1, 80, 12)
    with torch.no_grad():
        x = m.features(mel)
        long, short = m.head(x), m.short_gate * m.short_head(x)
        random = fresh.short_head(fresh.features(mel))
    assert short.pow(2).mean().sqrt() < 0.25 * long.pow(2).mean().sqrt()  # quiet beside the signal
    assert random.pow(2).mean() > short.pow(2).mean()


def test_an_envelope_warms_up_alone_from_weights_without_it(library, tmp_path, capsys):
    """A run that is only the new heads' warm-up (new_heads_warmup_steps == steps) with the envelope
    loss: from weights without an envelope it starts as their vocoder and only the envelope learns."""
    from audiogan_training.vocoder import VocoderTrainer

    source = small_checkpoint(tmp_path)
    model = VocosConfig(**TINY, envelope_steps=8)
    cfg = tiny_config(model=model, steps=3, new_heads_warmup_steps=3, new_heads_warmup_lr=1e-2, w_envelope=1.0)
    trainer = VocoderTrainer(cfg, library, tmp_path / "shaped", progress=False, init_from=source)
    assert "no envelope" in capsys.readouterr().err
    mel = torch.randn(1, 80, 9)
    with torch.no_grad():
        assert torch.equal(trainer.model(mel), load_vocos(source)(mel))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed == {"envelope.out.weight", "envelope.out.bias"}
    logged = [json.loads(line) for line in (tmp_path / "shaped" / "log.jsonl").read_text().splitlines()]
    assert all(r["envelope"] > 0 for r in logged if "envelope" in r) and any("envelope" in r for r in logged)
    assert load_vocos(tmp_path / "shaped" / "vocos.safetensors").cfg.envelope_steps == 8


def test_short_head_warmup_is_checked():
    from audiogan_training.vocoder import VocoderTrainConfig

    dual = VocosConfig(**TINY, short_head_n_fft=256, short_head_subframes=4)
    with pytest.raises(ConfigError, match="needs a short head"):
        VocoderTrainConfig(model=VocosConfig(**TINY), steps=10, new_heads_warmup_steps=2)
    with pytest.raises(ConfigError, match="new_heads_warmup_steps must be"):
        VocoderTrainConfig(model=dual, steps=10, new_heads_warmup_steps=11)
    assert VocoderTrainConfig(model=dual, steps=10, new_heads_warmup_steps=10).new_heads_warmup_steps == 10
    old = VocoderTrainConfig.from_dict({"model": dual.to_dict(), "steps": 10, "short_head_warmup_steps": 4})
    assert old.new_heads_warmup_steps == 4  # run folders written before the rename resume as they were
    with pytest.raises(ConfigError, match="new_heads_warmup_lr must be > 0"):
        VocoderTrainConfig(model=dual, steps=10, new_heads_warmup_steps=2, new_heads_warmup_lr=0)
    with pytest.raises(ConfigError, match="short_gate_init must be a number"):
        VocoderTrainConfig(model=dual, short_gate_init="open")
    with pytest.raises(ConfigError, match="short_head_init must be 'random' or 'long'"):
        VocoderTrainConfig(model=dual, short_head_init="copy")


def test_every_vocoder_recipe_in_the_repo_reads_as_a_config():
    import json
    from pathlib import Path

    from audiogan_training.vocoder import VocoderTrainConfig

    recipes = sorted((Path(__file__).parents[1] / "training" / "recipes").glob("vocos-foley*.json"))
    assert len(recipes) >= 13
    for path in recipes:
        cfg = VocoderTrainConfig.from_dict(json.loads(path.read_text()))
        assert cfg.model.mel.hop_length == 256, path.name
    head = VocoderTrainConfig.from_dict(json.loads((recipes[0].parent / "vocos-foley-13a-head.json").read_text()))
    assert head.train_head_only and head.w_adv == 0 and head.model.head_subframes == 4


def test_evaluation_keeps_its_own_schedule_when_logging_is_on_another(library, tmp_path):
    import json

    from audiogan_training.vocoder import VocoderTrainer

    trainer = VocoderTrainer(tiny_config(steps=4, log_every=3, eval_every=2), library, tmp_path / "run", progress=False)
    trainer.fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "eval_mel_l1" in r] == [2, 4]
    assert 3 in [r["step"] for r in records]


def test_composed_init_keeps_the_weights_and_the_critic(library, tmp_path):
    """compose_init_checkpoint: exported weights + another run's critic; --init-from it starts with both."""
    from audiogan_core.errors import CheckpointError, InputError
    from audiogan_training.vocoder import VocoderTrainer, compose_init_checkpoint, read_vocoder_checkpoint

    adv = dict(w_adv=0.5, w_fm=1.0, disc_channels=4, disc_resolutions=((256, 64),))
    VocoderTrainer(tiny_config(steps=2, **adv), library, tmp_path / "critic", progress=False).fit()
    VocoderTrainer(tiny_config(steps=2, seed=7), library, tmp_path / "other", progress=False).fit()
    out = tmp_path / "init.pt"
    assert compose_init_checkpoint(tmp_path / "other/vocos.safetensors", tmp_path / "critic/checkpoint.pt", out) == 2
    with pytest.raises(InputError, match="not overwritten"):
        compose_init_checkpoint(tmp_path / "other/vocos.safetensors", tmp_path / "critic/checkpoint.pt", out)
    with pytest.raises(CheckpointError, match="no critic"):
        compose_init_checkpoint(tmp_path / "other/vocos.safetensors", tmp_path / "other/checkpoint.pt", tmp_path / "x.pt")
    critic = read_vocoder_checkpoint(tmp_path / "critic/checkpoint.pt")["discriminator"]
    run = VocoderTrainer(tiny_config(steps=2, **adv), library, tmp_path / "new", progress=False, init_from=out)
    assert all(torch.equal(run.discriminator.state_dict()[k], v) for k, v in critic.items())
    exported = load_vocos(tmp_path / "other/vocos.safetensors").state_dict()
    assert all(torch.equal(run.model.state_dict()[k], v.float()) for k, v in exported.items())
    own = read_vocoder_checkpoint(tmp_path / "critic/checkpoint.pt")["model"]  # the critic run's vocoder: replaced
    assert any(not torch.equal(run.model.state_dict()[k], v) for k, v in own.items())


def test_draw_weights_split_a_share_of_the_draws_by_the_category_mix():
    from audiogan_core.errors import DataError
    from audiogan_training.sampling import draw_weights

    lengths = np.array([1.0, 2.0, 3.0, 4.0])
    cats = ["tool", "bird", "bird", None]
    assert np.array_equal(draw_weights(lengths, cats, {"tool": 1}, 0.0), lengths / 10)  # off: lengths alone
    # the mix names a category the clips lack ("rain"): dropped, the others renormalised
    w = draw_weights(lengths, cats, {"tool": 1, "bird": 3, "rain": 5}, 0.5)
    assert np.allclose(w, [0.05 + 0.125, 0.1 + 0.15, 0.15 + 0.225, 0.2])
    assert np.isclose(w.sum(), 1.0)
    assert np.allclose(draw_weights(lengths, cats, {"tool": 1}, 1.0), [1, 0, 0, 0])
    with pytest.raises(DataError, match="names no category of the training clips.*bird"):
        draw_weights(lengths, cats, {"rain": 1}, 0.5)


def test_category_draws_are_checked():
    from audiogan_training.vocoder import VocoderTrainConfig

    with pytest.raises(ConfigError, match="category_draws must be a number from 0 to 1"):
        VocoderTrainConfig(category_draws=1.5, category_mix={"a": 1})
    with pytest.raises(ConfigError, match="category_mix must map category names to weights"):
        VocoderTrainConfig(category_mix={"a": -1})
    with pytest.raises(ConfigError, match="needs a category_mix with a positive weight"):
        VocoderTrainConfig(category_draws=0.5)


def test_the_trainer_draws_by_the_category_mix_of_the_captions(tmp_path, write_library):
    """Categories come from the library's captions.jsonl; with every draw by the mix, only its clips are drawn."""
    import json

    from audiogan_training.vocoder import VocoderTrainer

    t = np.arange(22050) / 22050
    clips = [(0.3 * np.sin(2 * np.pi * (200 + 150 * i) * t), f"sound {i}") for i in range(5)]
    root = write_library(tmp_path / "lib", clips, 22050, held_out=[4])
    rows = [json.loads(line) for line in (root / "captions.jsonl").read_text().splitlines()]
    for row, cat in zip(rows, ["hammer", "bird", "bird", None, "bird"]):
        row["category"] = cat
    (root / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    trainer = VocoderTrainer(tiny_config(category_draws=1.0, category_mix={"hammer": 1.0}), root, tmp_path / "r",
                             progress=False)
    drawn = trainer.weights.numpy()
    files = [e["file"] for e in trainer.train.entries]
    assert drawn[files.index("clip0.wav")] == pytest.approx(1.0) and drawn.sum() == pytest.approx(1.0)
    trainer.fit(steps=1)  # and it trains on them
    even = VocoderTrainer(tiny_config(), root, tmp_path / "e", progress=False).weights.numpy()
    assert np.all(even > 0)


def test_augmentation_changes_the_recordings_not_which_segments_are_drawn(library, tmp_path):
    """Gain and mixing act on the waveform before its mel is taken; the segment stream is a run's without them."""
    from audiogan_training.vocoder import VocoderTrainer

    plain = VocoderTrainer(tiny_config(batch_size=4), library, tmp_path / "p", progress=False)
    loud = VocoderTrainer(tiny_config(batch_size=4, aug_gain_db=(6.0, 6.0)), library, tmp_path / "g", progress=False)
    a, b = plain.batch(3), loud.batch(3)
    assert torch.allclose(b["real"], a["real"] * 10 ** (6 / 20), atol=1e-6)  # the same segments, 6 dB up
    assert torch.allclose(b["mel"], plain.front_end(b["real"]))  # the mel is the augmented waveform's
    mixed = VocoderTrainer(tiny_config(batch_size=4, aug_mix_share=1.0, aug_mix_db=(0.0, 0.0)), library,
                           tmp_path / "m", progress=False).batch(3)
    added = mixed["real"] - a["real"]  # every row has a second segment at its own level
    assert all(added[r].abs().max() > 0.05 for r in range(4))
    again = VocoderTrainer(tiny_config(batch_size=4, aug_mix_share=1.0, aug_mix_db=(0.0, 0.0)), library,
                           tmp_path / "m2", progress=False).batch(3)
    assert torch.equal(again["real"], mixed["real"])  # seeded by (seed, step): resumes reproduce it


def test_augmentation_is_checked():
    from audiogan_training.vocoder import VocoderTrainConfig

    with pytest.raises(ConfigError, match=r"aug_gain_db must be \[low, high\] in dB"):
        VocoderTrainConfig(aug_gain_db=(6, -6))
    with pytest.raises(ConfigError, match=r"aug_mix_db must be \[low, high\] in dB"):
        VocoderTrainConfig(aug_mix_db=(0,))
    with pytest.raises(ConfigError, match="aug_mix_share must be a number from 0 to 1"):
        VocoderTrainConfig(aug_mix_share=2)
    with pytest.raises(ConfigError, match="cannot share a batch with a teacher's waveform"):
        VocoderTrainConfig(aug_mix_share=0.5, teacher="hifigan", w_phase=1.0)
    config = VocoderTrainConfig(aug_gain_db=[-3, 9], teacher="")
    assert VocoderTrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))).aug_gain_db == (-3.0, 9.0)
