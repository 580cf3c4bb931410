"""The trainer's must-shows on real clips from a Debian package (preset `tiny`: 16 mels x 64
frames, hash text encoder, Griffin-Lim previews; weight-free and fast on a CPU):

- a few dozen steps train, log every loss term, write a loadable checkpoint and previews;
- a run stopped (Ctrl-C) at step k and resumed reaches step 2k bit-identical to a run that
  was never stopped (G, D, EMA, both optimisers, sampler);
- kill -9 while the checkpoint is being written leaves the previous checkpoint intact;
- a NaN loss stops training without overwriting the last good checkpoint.

The DDP (gloo, two processes) test is in test_trainer_distributed.py; the fine-tune terms (moments,
anchor, frozen batch norm statistics) in test_trainer_finetune.py; bad input through
`audiogan train` in test_train_cli.py.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from audiogan_core.config import preset
from audiogan_core.errors import ConfigError
from audiogan_training import debian_foley as df
from audiogan_training.config import TrainConfig
from audiogan_training.trainer import CHECKPOINT_NAME, Trainer, TrainingDivergedError, read_checkpoint

REPO = Path(__file__).resolve().parents[1]
# The switches the bundled recipe's phase 3 adds (training/recipes/bundled-foley-category.json)
PHASE3_SWITCHES = dict(d_text="blind", mismatch_weight=1.0, category_weight=1.0)
# An any-length model on crops of three lengths, with every augmentation of D's inputs
ANY_LENGTH_SWITCHES = dict(model=preset("tiny").replace(noise_input="sequence", position_channels=2, d_pooling="mean"),
                           crop_frames=(32, 64, 96), augment=("gain", "shift", "timemask", "freqmask"))
LOSS_KEYS = {"d_hinge", "d_g2s", "d_l2w", "d_occ", "d_total", "g_hinge", "g_g2s", "g_l2w", "g_f2r", "g_occ",
             "g_total"}
N_CLIPS = 7  # odd: epochs (7 clips) and batches (4) do not line up, so batches span epochs


def make_real_library(folder: Path, n: int = N_CLIPS) -> str:
    """Copy `n` short clips (+ caption sidecars) from an installed Debian package into `folder`.
    Returns the package name; skips the test when no suitable package is installed."""
    folder.mkdir(parents=True, exist_ok=True)
    if df.package_installed("openttd-opensfx"):
        clips, _ = df.discover_openttd(df.package_files("openttd-opensfx"), df.read_copyright("openttd-opensfx"))
        clips = sorted(clips, key=lambda c: len(c.data))[:n]  # the shortest: quick to decode
        for clip in clips:
            (folder / clip.rel).write_bytes(clip.data)
            (folder / clip.rel).with_suffix(".txt").write_text(clip.caption + "\n", encoding="utf-8")
        return "openttd-opensfx"
    if df.package_installed("tuxpaint-stamps-default"):
        files = df.package_files("tuxpaint-stamps-default")
        clips, _ = df.discover_tuxpaint(files, df.read_copyright("tuxpaint-stamps-default"))
        clips = sorted(clips, key=lambda c: c.source_path.stat().st_size)[:n]
        for i, clip in enumerate(clips):
            name = f"{i:02d}_{clip.source_path.name}"
            (folder / name).write_bytes(clip.source_path.read_bytes())
            (folder / name).with_suffix(".txt").write_text(clip.caption + "\n", encoding="utf-8")
        return "tuxpaint-stamps-default"
    pytest.skip("needs the Debian package openttd-opensfx or tuxpaint-stamps-default for real clips "
                f"(sudo {df.install_command(['openttd-opensfx', 'tuxpaint-stamps-default'])})")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("library")
    make_real_library(folder)
    return folder


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    """Decoded mels and text features, shared by the runs of this module (the first test that
    trains uses the default RUN/cache instead)."""
    return tmp_path_factory.mktemp("cache")


def tiny_config(**changes) -> TrainConfig:
    base = dict(model=preset("tiny"), batch_size=4, steps=6, checkpoint_every=1000, preview_every=1000,
                log_every=1, num_previews=2)
    base.update(changes)
    return TrainConfig(**base)


def read_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines()]


def assert_states_equal(a, b, where: str = "") -> None:
    """Recursive exact comparison of (nested) state dicts."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), \
            f"{where}: differs (max abs diff {(a.double() - b.double()).abs().max().item():.3g})"
    elif isinstance(a, dict):
        assert set(a) == set(b), f"{where}: keys differ: {sorted(set(a) ^ set(b))}"
        for k in a:
            assert_states_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_states_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# ---------------------------------------------------------------------------------------------
# 1. A few dozen steps on real clips, through `audiogan train --config`
# ---------------------------------------------------------------------------------------------
def test_few_dozen_steps_on_real_clips(library, tmp_path):
    import soundfile as sf

    from audiogan_core.api import AudioGAN
    from audiogan_core.cli import main

    steps = 24
    config_file = tmp_path / "train.json"
    config_file.write_text(tiny_config(steps=steps, checkpoint_every=12, preview_every=steps).to_json())
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--data", str(library), "--out", str(run), "--config",
                                       str(config_file), "--device", "cpu", "--no-progress", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert f"step {steps}" in result.output

    records = read_log(run)
    loss_records = [r for r in records if "g_total" in r]
    assert [r["step"] for r in loss_records] == list(range(1, steps + 1))  # log_every=1
    for record in loss_records:
        assert LOSS_KEYS <= set(record), LOSS_KEYS - set(record)
        assert all(math.isfinite(record[k]) for k in LOSS_KEYS), record
    level = [r for r in records if r.get("event") == "init_output_level"]  # G starts at the data's level
    assert len(level) == 1 and level[0]["step"] == 0 and -12 < level[0]["level"] < 0
    previews = [r for r in records if "mel_fd" in r]
    assert [r["step"] for r in previews] == [steps] and math.isfinite(previews[0]["mel_fd"])

    state = torch.load(run / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert state["step"] == steps and state["format"] == "audiogan-train-1"
    assert TrainConfig.from_dict(json.loads(state["config"])).model.name == "tiny"
    model = AudioGAN.load(run / "model")
    assert model.config.to_dict() == preset("tiny").to_dict()
    ema = {k: v for k, v in state["G_ema"].items()}
    assert_states_equal(dict(model.generator.state_dict()), ema, "model/ == checkpoint EMA")
    clip = model.generate("a steam train leaving the station", seed=1)[0]
    assert clip.audio.size > 0 and abs(clip.audio).max() > 0

    folder = run / "previews" / f"step_{steps:07d}"
    for i in range(2):
        for kind in ("generated", "real"):
            audio, rate = sf.read(folder / f"{i}_{kind}.wav")
            assert rate == 16000 and audio.size > 0
        assert (folder / f"{i}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((folder / "captions.txt").read_text().splitlines()) == 2
    assert not list(run.glob(".*.tmp")) and not list((run / "model").glob(".*.tmp"))


# ---------------------------------------------------------------------------------------------
# 2. Exact resume
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("switches", [{}, PHASE3_SWITCHES, ANY_LENGTH_SWITCHES],
                         ids=["default", "category-head", "any-length-augmented"])
def test_stopped_and_resumed_run_equals_uninterrupted_run(library, shared_cache, tmp_path, monkeypatch, switches):
    """Run B gets Ctrl-C (SIGINT) inside step k: it finishes that step, checkpoints and stops;
    a fresh Trainer resumes it to 2k. Everything must equal run A's, bit for bit (with the
    bundled phase-3 switches too: the category head and its optimiser)."""
    k = 3
    config = tiny_config(steps=2 * k, **switches)
    keys = ("step", "G", "D", "G_ema", "opt_g", "opt_d", "sampler") + (("C", "opt_c") if "category_weight" in switches
                                                                        else ())
    a = Trainer(config, library, tmp_path / "A", cache_dir=shared_cache, progress=False)
    a.fit()
    assert a.step == 2 * k

    b = Trainer(config, library, tmp_path / "B", cache_dir=shared_cache, progress=False)
    original = b.train_step
    # what fit() must restore: Python's default, or SIG_IGN when pytest runs in the background
    handler_before = signal.getsignal(signal.SIGINT)

    def step_with_ctrl_c():
        if b.step == k - 1:
            signal.raise_signal(signal.SIGINT)  # arrives in the middle of step k
        return original()

    monkeypatch.setattr(b, "train_step", step_with_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        b.fit()
    assert b.step == k
    assert signal.getsignal(signal.SIGINT) is handler_before  # handlers put back
    saved = torch.load(tmp_path / "B" / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert saved["step"] == k

    b2 = Trainer(config, library, tmp_path / "B", cache_dir=shared_cache, progress=False, resume=True)
    assert b2.step == k
    b2.fit()
    assert b2.step == 2 * k

    sa, sb = a.state(), b2.state()
    assert set(sa) == set(sb) and set(keys) <= set(sa)
    for key in keys:
        assert_states_equal(sa[key], sb[key], key)
    # and the files on disk agree too
    fa = torch.load(tmp_path / "A" / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    fb = torch.load(tmp_path / "B" / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    for key in keys:
        assert_states_equal(fa[key], fb[key], f"file {key}")

    log_b = read_log(tmp_path / "B")
    assert [(r["step"], r["event"]) for r in log_b if "event" in r] == [(0, "init_output_level"), (k, "resumed")]
    losses_a = {r["step"]: r["g_total"] for r in read_log(tmp_path / "A") if "g_total" in r}
    losses_b = {r["step"]: r["g_total"] for r in log_b if "g_total" in r}
    assert losses_a == losses_b


def test_blind_discriminator_and_mismatch_hinge(library, shared_cache, tmp_path):
    """d_text="blind" + mismatch_weight: the run trains and logs d_mismatch; D's contrastive
    features no longer depend on the caption; equal-caption pairs are never counted as wrong."""
    config = tiny_config(steps=3, d_text="blind", mismatch_weight=0.5)
    trainer = Trainer(config, library, tmp_path / "run", cache_dir=shared_cache, progress=False)
    trainer.fit()
    records = [r for r in read_log(tmp_path / "run") if "g_total" in r]
    assert len(records) == 3 and all(math.isfinite(r["d_mismatch"]) for r in records)
    assert all(r["d_mismatch"] > 0 for r in records)  # relu(1 + logit) with logits near 0

    mel, captions, words, lengths, sentence = trainer._real_batch()
    trainer.D.eval()  # in train mode each forward steps spectral norm's power iteration
    with torch.no_grad():
        out = trainer.D(mel, sentence, words, lengths, blind=True)
        other = trainer.D(mel, sentence.flip(0), words.flip(0), lengths.flip(0), blind=True)
    torch.testing.assert_close(out.global_feature, other.global_feature)
    # every caption equal: no mismatched pair exists, so the term is exactly 0
    same = [captions[0]] * len(captions)
    zero = trainer._mismatch_hinge(mel, out, same, sentence[:1].expand_as(sentence), words, lengths, True)
    assert float(zero) == 0.0
    with pytest.raises(ConfigError, match="d_text must be 'paired' or 'blind'"):
        tiny_config(d_text="deaf")
    with pytest.raises(ConfigError, match="mismatch_weight must be a number >= 0"):
        tiny_config(mismatch_weight=-1)


def test_category_head_trains_and_joins_a_run_without_one(library, shared_cache, tmp_path):
    """category_weight (AC-GAN): a run written without the head resumes with it switched on
    (fresh head, D's optimiser state kept), logs d_category and g_category, saves the head in
    the checkpoint (not in the model folder), and its D update moves the head."""
    from audiogan_core.checkpoint import load_discriminator_state_dict
    from audiogan_training.categories import category_for

    run = tmp_path / "run"
    Trainer(tiny_config(steps=2, d_text="blind"), library, run, cache_dir=shared_cache, progress=False).fit()
    config = tiny_config(steps=4, d_text="blind", category_weight=1.0)
    trainer = Trainer(config, library, run, resume=True, cache_dir=shared_cache, progress=False)
    assert trainer.step == 2
    head_before = {k: v.clone() for k, v in trainer.C.state_dict().items()}
    trainer.fit()
    records = [r for r in read_log(run) if "g_total" in r]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all("d_category" not in r for r in records[:2])
    labelled = [c for c in trainer.dataset.captions if category_for(c) is not None]
    assert labelled, "the test library's captions should name some categories"
    for r in records[2:]:
        assert math.isfinite(r["d_category"]) and math.isfinite(r["g_category"]) and r["d_category"] > 0
    assert any(not torch.equal(head_before[k], v) for k, v in trainer.C.state_dict().items())
    state, saved = read_checkpoint(run / CHECKPOINT_NAME)
    assert saved.category_weight == 1.0 and set(state["C"]) == set(trainer.C.state_dict())
    assert set(load_discriminator_state_dict(run / "model")) == set(trainer.D.state_dict())  # no head in it
    # resuming a run that has the head restores it exactly
    again = Trainer(config.replace(steps=5), library, run, resume=True, cache_dir=shared_cache, progress=False)
    assert_states_equal(again.C.state_dict(), trainer.C.state_dict(), "C")
    assert_states_equal(again.opt_c.state_dict(), trainer.opt_c.state_dict(), "opt_c")
    with pytest.raises(ConfigError, match="category_weight must be a number >= 0"):
        tiny_config(category_weight=-0.5)


def test_a_head_from_before_the_categories_grew_resumes_with_their_rows_added(library, shared_cache, tmp_path,
                                                                             capsys, monkeypatch):
    """A checkpoint whose head knows only the first table's 26 categories (+ "generated")
    resumes under the grown table: the old rows keep their classes and logits, the added
    categories get zero rows before the "generated" one."""
    from audiogan_training import trainer as trainer_mod
    from audiogan_training.categories import V1_CATEGORIES, category_names

    run = tmp_path / "run"
    config = tiny_config(steps=2, d_text="blind", category_weight=1.0, category_fakes=True)
    monkeypatch.setattr(trainer_mod, "category_names", lambda: list(V1_CATEGORIES))
    Trainer(config, library, run, cache_dir=shared_cache, progress=False).fit()
    monkeypatch.undo()
    old_state, _ = read_checkpoint(run / CHECKPOINT_NAME)
    k_old, k_new = len(V1_CATEGORIES), len(category_names())
    assert old_state["C"]["linear.weight_orig"].shape[0] == k_old + 1 and k_new > k_old
    trainer = Trainer(config.replace(steps=3), library, run, resume=True, cache_dir=shared_cache, progress=False)
    assert trainer.C.n_categories == k_new + 1
    assert f"head gains the {k_new - k_old} categories added since" in capsys.readouterr().err
    old_head = type(trainer.C)(trainer.config.model.sentence_dim, k_old + 1).eval()
    old_head.load_state_dict(old_state["C"])
    trainer.C.eval()
    g = torch.randn(4, trainer.config.model.sentence_dim)
    with torch.no_grad():
        before, after = old_head(g), trainer.C(g)
    torch.testing.assert_close(after[:, :k_old], before[:, :k_old])  # same classes, same logits
    torch.testing.assert_close(after[:, k_new], before[:, k_old])  # "generated" is still the last class
    torch.testing.assert_close(after[:, k_old:k_new], torch.zeros(4, k_new - k_old))
    trainer.fit()  # and it trains on
    assert trainer.step == 3


def test_category_fakes_grows_the_head_and_teaches_it_the_generated_class(library, shared_cache, tmp_path, capsys):
    """category_fakes (K+1 head): resuming a K-class head grows a zero "generated" row that
    leaves the K real logits as they were; D's update then pushes fakes towards that class and
    real clips away from it; the K+1 head resumes exactly; bad settings are refused."""
    run = tmp_path / "run"
    Trainer(tiny_config(steps=2, d_text="blind", category_weight=1.0), library, run,
            cache_dir=shared_cache, progress=False).fit()
    k_state, _ = read_checkpoint(run / CHECKPOINT_NAME)
    # a high lr_d so that ten steps move the head measurably
    config = tiny_config(steps=12, d_text="blind", category_weight=1.0, category_fakes=True, lr_d=1e-2)
    trainer = Trainer(config, library, run, resume=True, cache_dir=shared_cache, progress=False)
    k = k_state["C"]["linear.weight_orig"].shape[0]
    assert trainer.C.n_categories == k + 1
    assert "head gains a 'generated' class at step 2" in capsys.readouterr().err
    g = torch.randn(5, trainer.config.model.sentence_dim)
    old_head = type(trainer.C)(trainer.config.model.sentence_dim, k).eval()
    old_head.load_state_dict(k_state["C"])
    trainer.C.eval()
    with torch.no_grad():
        grown = trainer.C(g)  # [5, K+1]
        torch.testing.assert_close(grown[:, :k], old_head(g))
    torch.testing.assert_close(grown[:, k], torch.zeros(5))

    def generated_margin() -> float:
        """mean log P(generated | fake) - log P(generated | real) over one fixed batch."""
        mel, _, words, lengths, sentence = trainer._real_batch()
        for m in (trainer.G, trainer.D, trainer.C):
            m.eval()
        with torch.no_grad():
            fake = trainer.G(trainer._noise(mel.shape[0], 0), sentence, words, lengths)
            out = trainer.D(torch.cat([mel, fake]), sentence.repeat(2, 1), words.repeat(2, 1, 1),
                            lengths.repeat(2), blind=True)
            p = trainer.C(out.global_feature).log_softmax(-1)[:, k]  # [2B]
        n = mel.shape[0]
        return float(p[n:].mean() - p[:n].mean())

    torch.manual_seed(0)
    before = generated_margin()
    trainer.fit()
    torch.manual_seed(0)
    after = generated_margin()
    assert after > before + 0.05, (before, after)
    records = [r for r in read_log(run) if "g_total" in r and r["step"] > 2]
    assert records and all(math.isfinite(r["d_category"]) and math.isfinite(r["g_category"]) for r in records)
    again = Trainer(config.replace(steps=13), library, run, resume=True, cache_dir=shared_cache, progress=False)
    assert_states_equal(again.C.state_dict(), trainer.C.state_dict(), "C")
    assert_states_equal(again.opt_c.state_dict(), trainer.opt_c.state_dict(), "opt_c")
    with pytest.raises(ConfigError, match="category_fakes needs the category head"):
        tiny_config(category_fakes=True)
    with pytest.raises(ConfigError, match="category_fakes must be true or false"):
        tiny_config(category_weight=1.0, category_fakes="yes")


def test_category_balance_draws_rare_categories_more_often(library, shared_cache, tmp_path):
    """category_balance=1: the sampler's weights give every caption category (None is one
    group) the same share of draws; 0 keeps the plain per-epoch permutation."""
    from audiogan_training.categories import category_for

    trainer = Trainer(tiny_config(steps=2, category_balance=1.0), library, tmp_path / "run",
                      cache_dir=shared_cache, progress=False)
    groups = [category_for(item.caption) for item in trainer.items]
    weights = trainer.sampler.weights.tolist()
    shares: dict = {}
    for g, w in zip(groups, weights):
        shares[g] = shares.get(g, 0.0) + w / sum(weights)
    assert shares == pytest.approx({g: 1 / len(shares) for g in shares})
    if len(set(groups)) > 1 and len(set(groups)) < len(groups):  # some group is larger than another
        assert len(set(weights)) > 1
    trainer.fit()  # trains through the weighted sampler
    assert trainer.step == 2
    plain = Trainer(tiny_config(steps=2), library, tmp_path / "plain", cache_dir=shared_cache, progress=False)
    assert plain.sampler.weights is None
    for bad in (-0.1, 1.5, True, "half"):
        with pytest.raises(ConfigError, match="category_balance must be a number in"):
            tiny_config(category_balance=bad)
    assert TrainConfig.from_dict(json.loads(tiny_config(category_balance=0.5).to_json())).category_balance == 0.5


def test_resume_with_a_new_learning_rate_uses_it(library, shared_cache, tmp_path, capsys):
    """Adam's saved state carries the old lr and betas; `--resume --config` with new ones must
    train with the new ones (a lower-lr phase would otherwise silently keep the old rate)."""
    run = tmp_path / "run"
    Trainer(tiny_config(steps=2), library, run, cache_dir=shared_cache, progress=False).fit()
    config = tiny_config(steps=3, lr_g=2.5e-5, lr_d=1e-4, betas=(0.0, 0.99))
    trainer = Trainer(config, library, run, resume=True, cache_dir=shared_cache, progress=False)
    assert [g["lr"] for g in trainer.opt_g.param_groups] == [2.5e-5]
    assert [g["lr"] for g in trainer.opt_d.param_groups] == [1e-4]
    assert all(g["betas"] == (0.0, 0.99) for g in trainer.opt_g.param_groups + trainer.opt_d.param_groups)
    assert trainer.opt_g.state  # Adam's moments still came from the checkpoint
    err = capsys.readouterr().err
    assert "resuming at step 2 with lr_g 0.0001 -> 2.5e-05, lr_d 0.0004 -> 0.0001, betas (0.5, 0.999) -> (0.0, 0.99)" in err
    trainer.fit()
    _, saved = read_checkpoint(run / CHECKPOINT_NAME)
    assert (saved.lr_g, saved.lr_d) == (2.5e-5, 1e-4)
    # same settings: nothing said
    Trainer(config.replace(steps=4), library, run, resume=True, cache_dir=shared_cache, progress=False)
    assert "resuming at step" not in capsys.readouterr().err


def test_category_loss_leaves_out_unlabelled_items():
    from audiogan_core.losses import category_loss

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]], requires_grad=True)
    labels = torch.tensor([0, -1, 1])
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], labels[[0, 2]])
    torch.testing.assert_close(category_loss(logits, labels), expected)
    none = category_loss(logits, torch.tensor([-1, -1, -1]))
    none.backward()
    assert float(none.detach()) == 0.0 and float(logits.grad.abs().sum()) == 0.0


# ---------------------------------------------------------------------------------------------
# 3. kill -9 while the checkpoint is being written
# ---------------------------------------------------------------------------------------------
CHILD = r'''
import io, os, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from audiogan_core.config import preset
from audiogan_training.config import TrainConfig
from audiogan_training.trainer import Trainer

library, run, cache, inside = map(Path, sys.argv[1:5])
config = TrainConfig(model=preset("tiny"), batch_size=4, steps=3, checkpoint_every=1000, preview_every=1000)
trainer = Trainer(config, library, run, cache_dir=cache, progress=False)
trainer.fit(2)  # a real checkpoint at step 2

real_save = torch.save
def stalled_save(obj, f, *args, **kwargs):
    buffer = io.BytesIO()
    real_save(obj, buffer, *args, **kwargs)
    data = buffer.getvalue()
    with open(f, "wb") as fh:
        fh.write(data[: len(data) // 2])  # half of the new checkpoint is on disk...
        fh.flush()
        os.fsync(fh.fileno())
        inside.write_text(str(f))  # ...tell the parent, and wait for SIGKILL
        while True:
            time.sleep(1)
torch.save = stalled_save
trainer.fit(3)
'''


def test_kill_9_while_writing_checkpoint_keeps_previous(library, shared_cache, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    run, inside = tmp_path / "run", tmp_path / "inside-write"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, str(script), str(library), str(run), str(shared_cache), str(inside)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not inside.exists():
            if child.poll() is not None:
                pytest.fail(f"child exited ({child.returncode}) before writing: {child.stdout.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "child never reached the checkpoint write"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()

    temp = Path(inside.read_text())
    assert temp.parent == run and temp.name != CHECKPOINT_NAME and temp.exists()  # the half-written file
    state = torch.load(run / CHECKPOINT_NAME, map_location="cpu", weights_only=True)  # the old one, whole
    assert state["step"] == 2
    with pytest.raises(Exception):
        torch.load(temp, map_location="cpu", weights_only=True)

    from audiogan_core.api import AudioGAN

    AudioGAN.load(run / "model")  # the exported model of step 2 is intact too
    config = TrainConfig(model=preset("tiny"), batch_size=4, steps=3, checkpoint_every=1000, preview_every=1000)
    resumed = Trainer(config, library, run, cache_dir=shared_cache, progress=False, resume=True)
    assert resumed.step == 2
    assert not temp.exists()  # the stale temp file was cleaned up
    resumed.fit()
    assert torch.load(run / CHECKPOINT_NAME, map_location="cpu", weights_only=True)["step"] == 3


# ---------------------------------------------------------------------------------------------
# NaN: training stops, the last good checkpoint stays
# ---------------------------------------------------------------------------------------------
def test_nan_loss_stops_without_overwriting_the_checkpoint(library, shared_cache, tmp_path, monkeypatch):
    import audiogan_training.trainer as trainer_module

    trainer = Trainer(tiny_config(steps=4, checkpoint_every=2), library, tmp_path / "run", cache_dir=shared_cache,
                      progress=False)
    real_loss = trainer_module.generator_loss

    def loss_nan_at_step_3(*args, **kwargs):
        losses = real_loss(*args, **kwargs)
        if trainer.step == 2:
            losses["g_g2s"] = losses["g_g2s"] * float("nan")
            losses["total"] = losses["total"] + losses["g_g2s"]
        return losses

    monkeypatch.setattr(trainer_module, "generator_loss", loss_nan_at_step_3)
    with pytest.raises(TrainingDivergedError, match=r"g_g2s became nan at step 3.*checkpoint \(step 2\)"):
        trainer.fit()
    state = torch.load(tmp_path / "run" / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())


def test_mel_frechet_distance_is_the_metrics_one():
    from audiogan_core.metrics import frechet_distance
    from audiogan_training.trainer import mel_frechet_distance

    g = torch.Generator().manual_seed(0)
    fake, real = torch.randn(3, 4, 20, generator=g), torch.randn(3, 4, 20, generator=g) + 0.5
    frames = lambda m: m.permute(0, 2, 1).reshape(-1, 4).double().numpy()  # noqa: E731 (per-frame vectors)
    assert mel_frechet_distance(fake, real) == frechet_distance(frames(fake), frames(real), warn=False)
    assert mel_frechet_distance(fake, fake) == 0.0


def test_init_from_resolves_models_like_audiogan_load(tmp_path):
    from audiogan_core.api import MODELS_DIR, locate_model
    from audiogan_core.errors import MissingResourceError

    assert locate_model("default") == ("folder", MODELS_DIR / "default")
    (tmp_path / "release").mkdir()
    torch.save({}, tmp_path / "release" / "generator.pt")
    assert locate_model(tmp_path / "release") == ("published", tmp_path / "release" / "generator.pt")
    assert locate_model(tmp_path / "release" / "generator.pt")[0] == "published"
    with pytest.raises(MissingResourceError, match="not a bundled model"):
        locate_model(tmp_path / "nothing")


def test_noise_streams_never_share_a_seed():
    """More than 8 ranks (a multi-node run), other ranks' crop and augmentation draws, or purposes
    past 7 (d_steps_per_g >= 8) used to wrap into another step's or rank's seed and silently reuse
    its noise."""
    from audiogan_training.step_rng import (PURPOSE_CROP, PURPOSE_G, PURPOSE_PREVIEW, augment_purpose,
                                            d_noise_purpose, step_seed)

    # every stream of twelve D updates, G, crops, augmentations and the preview, on 16 ranks, 4 steps
    purposes = ([d_noise_purpose(k) for k in range(12)] + [PURPOSE_G, PURPOSE_CROP, PURPOSE_PREVIEW]
                + [augment_purpose(k) for k in range(13)])
    assert len(set(purposes)) == len(purposes)
    streams = [(step, rank, purpose) for step in range(4) for rank in range(16) for purpose in purposes]
    seeds = [step_seed(5, *s) for s in streams]
    assert len(set(seeds)) == len(streams)
    assert all(0 <= s < 2**63 for s in seeds)
    # a single-process run keeps the seeds it was started with: resumed, it draws the same noise,
    # crops and augmentations as before
    for purpose in (0, 6, PURPOSE_G, PURPOSE_CROP, augment_purpose(2)):
        assert step_seed(5, 3, 0, purpose) == 5 * 1_000_003 + 3 * 64 + purpose


def test_any_length_run_draws_every_crop_length_and_starts_from_a_fixed_length_model(library, shared_cache,
                                                                                      tmp_path, capsys):
    """Crops of every configured length reach D, and --init-from a fixed-length model of the same
    widths keeps every tensor except the noise projection."""
    fixed = Trainer(tiny_config(steps=2), library, tmp_path / "fixed", cache_dir=shared_cache, progress=False)
    fixed.fit()
    # which vocoder a model folder names is not part of its weights: it does not block --init-from
    saved = json.loads((tmp_path / "fixed" / "model" / "config.json").read_text())
    saved["vocoder_fallback"] = "griffinlim" if saved.get("vocoder_fallback") != "griffinlim" else ""
    (tmp_path / "fixed" / "model" / "config.json").write_text(json.dumps(saved))
    config = tiny_config(steps=12, **ANY_LENGTH_SWITCHES)
    run = Trainer(config, library, tmp_path / "any", cache_dir=shared_cache, progress=False,
                  init_from=str(tmp_path / "fixed" / "model"))
    assert "started afresh: lin_code" in capsys.readouterr().err
    kept = fixed.G_ema.state_dict()
    for name, tensor in run.G.state_dict().items():
        if not name.startswith("lin_code"):
            assert torch.equal(tensor, kept[name]), name
    seen = []
    original = run.D_train.forward

    def spy(mel, *args, **kwargs):
        seen.append(mel.shape[-1])
        return original(mel, *args, **kwargs)

    run.D_train.forward = spy
    run.fit()
    assert set(seen) == {32, 64, 96}
    # init_noise_projection: the noise projection too starts from the fixed-length model's
    from audiogan_core.generator import sequence_projection_from_grid

    carried = Trainer(tiny_config(steps=2, init_noise_projection=True, **ANY_LENGTH_SWITCHES), library,
                      tmp_path / "carried", cache_dir=shared_cache, progress=False,
                      init_from=str(tmp_path / "fixed" / "model"))
    assert "started afresh: nothing; the noise projection from its grid weights" in capsys.readouterr().err
    want = sequence_projection_from_grid(fixed.config.model, carried.config.model,
                                         kept["lin_code.weight_orig"], kept["lin_code.bias"])
    for name, tensor in want.items():
        assert torch.equal(carried.G.state_dict()[f"lin_code.{name}"], tensor), name
    with pytest.raises(ConfigError, match="init_noise_projection"):
        tiny_config(init_noise_projection="yes")


def test_init_from_grows_a_level_envelope_onto_an_any_length_model(library, shared_cache, tmp_path, capsys):
    """--init-from an any-length model into the same model with a level envelope: every tensor is
    kept, the envelope starts afresh as the identity, and the run trains it."""
    plain = Trainer(tiny_config(steps=2, **ANY_LENGTH_SWITCHES), library, tmp_path / "plain",
                    cache_dir=shared_cache, progress=False)
    plain.fit()
    switches = dict(ANY_LENGTH_SWITCHES, model=ANY_LENGTH_SWITCHES["model"].replace(level_envelope=True))
    run = Trainer(tiny_config(steps=4, **switches), library, tmp_path / "grown", cache_dir=shared_cache,
                  progress=False, init_from=str(tmp_path / "plain" / "model"))
    assert "every tensor of the same name and shape carried over; started afresh: level" in capsys.readouterr().err
    kept = plain.G_ema.state_dict()
    for name, tensor in run.G.state_dict().items():
        if not name.startswith("level."):
            assert torch.equal(tensor, kept[name]), name
    assert not run.G.level.out.weight.any()
    run.fit()
    assert run.G.level.out.weight.any()  # the envelope learns
