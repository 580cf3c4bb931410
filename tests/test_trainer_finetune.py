"""The generator-side terms for fine-tunes of a model you like, on the trainer's tiny real runs
(test_trainer.py's library and config): the paired moment loss and its terms, a term limited to
some kinds, the anchor to the starting generator (training or eval mode, and on loops) and frozen
batch norm statistics."""
from __future__ import annotations

import math

import pytest
import torch
from test_trainer import (  # noqa: F401 (library, shared_cache: module fixtures)
    ANY_LENGTH_SWITCHES, assert_states_equal, library, read_log, shared_cache, tiny_config)

from audiogan_core.errors import ConfigError
from audiogan_training.trainer import CHECKPOINT_NAME, Trainer


def test_moment_weight_pulls_the_generator_towards_its_captions_clips(library, shared_cache, tmp_path):
    run = tmp_path / "run"
    config = tiny_config(steps=30, moment_weight=20.0, lr_g=1e-2, augment=("gain", "timemask"), augment_p=1.0)
    Trainer(config, library, run, cache_dir=shared_cache, progress=False).fit()
    moments = [r["g_moments"] for r in read_log(run) if "g_moments" in r]
    assert len(moments) == 30 and all(math.isfinite(m) for m in moments)
    assert sum(moments[-5:]) / 5 < 0.6 * sum(moments[:3]) / 3, moments
    with pytest.raises(ConfigError, match="moment_weight must be a number >= 0"):
        tiny_config(moment_weight=-1.0)


def test_the_trainer_compares_the_moment_terms_it_is_given(library, shared_cache, tmp_path):
    """The same first step with "flux" added: the same clips, one more (positive) term."""
    first = {}
    for terms in (("mean", "std"), ("mean", "std", "flux")):
        run = tmp_path / "-".join(terms)
        Trainer(tiny_config(steps=1, moment_weight=1.0, moment_terms=terms), library, run, cache_dir=shared_cache,
                progress=False).fit()
        first[len(terms)] = [r["g_moments"] for r in read_log(run) if "g_moments" in r][0]
    assert first[3] > first[2] > 0


def test_the_anchor_holds_a_fine_tune_near_the_generator_it_started_from(library, shared_cache, tmp_path):
    """anchor_weight: the same 10 fast steps drift less from the starting generator's clips under a
    heavy anchor than under a negligible one; the anchor is the starting G, and it is what a resume
    restores (a checkpoint written without one is refused rather than anchored where it stands)."""
    last = {}
    for weight in (1e-6, 100.0):
        run = tmp_path / f"anchor-{weight}"
        config = tiny_config(steps=10, lr_g=2e-3, moment_weight=1.0, anchor_weight=weight)
        trainer = Trainer(config, library, run, cache_dir=shared_cache, progress=False)
        trainer.init_output_level()  # what fit() does first, so `start` is G at step 0
        trainer._level_set = True
        start = {k: v.detach().clone() for k, v in trainer.G.named_parameters()}  # its weights (buffers move)
        trainer.fit()
        anchors = [r["g_anchor"] for r in read_log(run) if "g_anchor" in r]
        # not 0 at step 1: G's spectral-norm estimates took its D-step forwards as power iterations
        assert len(anchors) == 10 and all(math.isfinite(a) for a in anchors), anchors
        last[weight] = sum(anchors[-3:]) / 3
        saved = torch.load(run / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
        assert_states_equal({k: saved["G_anchor"][k] for k in start}, start, "G_anchor")
    assert 0.0 < last[100.0] < 0.5 * last[1e-6], last  # the unanchored run drifts, the anchored one far less
    resumed = Trainer(tiny_config(steps=12, lr_g=2e-3, moment_weight=1.0, anchor_weight=100.0), library,
                      tmp_path / "anchor-100.0", cache_dir=shared_cache, progress=False, resume=True)
    assert_states_equal(dict(resumed.G_anchor.named_parameters()), start, "resumed G_anchor")

    plain = tmp_path / "plain"
    Trainer(tiny_config(steps=1), library, plain, cache_dir=shared_cache, progress=False).fit()
    with pytest.raises(ConfigError, match="no anchor generator"):
        Trainer(tiny_config(steps=2, anchor_weight=1.0), library, plain, cache_dir=shared_cache, progress=False,
                resume=True)
    with pytest.raises(ConfigError, match="anchor_weight must be a number >= 0"):
        tiny_config(anchor_weight=float("nan"))


def test_the_loop_anchor_holds_the_starting_generators_loops(library, shared_cache, tmp_path):
    """loop_anchor_weight (any-length models): the anchor's frozen start and G each make a one-block loop
    (loop=True) of the batch's captions; under a heavy weight the same fast steps drift less from the
    start's loops than under a negligible one. It needs no ordinary anchor, is refused for a fixed-length
    model, and a resume from a checkpoint without an anchor is refused."""
    last = {}
    for weight in (1e-6, 100.0):
        run = tmp_path / f"loops-{weight}"
        config = tiny_config(steps=10, lr_g=2e-3, moment_weight=1.0, loop_anchor_weight=weight, **ANY_LENGTH_SWITCHES)
        trainer = Trainer(config, library, run, cache_dir=shared_cache, progress=False)
        calls = []
        forward = trainer.G_anchor.forward

        def spy(z, *args, loop=False, **kwargs):
            calls.append((z.shape[-1], loop))
            return forward(z, *args, loop=loop, **kwargs)

        trainer.G_anchor.forward = spy
        trainer.fit()
        step = config.model.base_frames_for(config.model.loop_step_frames)
        assert calls and set(calls) == {(step, True)}, calls  # loops only: the ordinary anchor is off
        logs = read_log(run)
        assert not any("g_anchor" in r for r in logs)
        loops = [r["g_loop_anchor"] for r in logs if "g_loop_anchor" in r]
        assert len(loops) == 10 and all(math.isfinite(a) for a in loops), loops
        last[weight] = sum(loops[-3:]) / 3
    assert 0.0 < last[100.0] < 0.5 * last[1e-6], last

    plain = tmp_path / "plain"
    Trainer(tiny_config(steps=1, **ANY_LENGTH_SWITCHES), library, plain, cache_dir=shared_cache, progress=False).fit()
    with pytest.raises(ConfigError, match="no anchor generator"):
        Trainer(tiny_config(steps=2, loop_anchor_weight=1.0, **ANY_LENGTH_SWITCHES), library, plain,
                cache_dir=shared_cache, progress=False, resume=True)
    with pytest.raises(ConfigError, match="loop_anchor_weight needs an any-length model"):
        tiny_config(loop_anchor_weight=1.0)
    with pytest.raises(ConfigError, match="loop_anchor_weight must be a number >= 0"):
        tiny_config(loop_anchor_weight=-1.0, **ANY_LENGTH_SWITCHES)


def test_an_eval_mode_anchor_holds_the_generator_as_exported(library, shared_cache, tmp_path):
    """anchor_mode "eval": the anchor compares G with batch norm's running statistics (as exported),
    so after the same fast steps the exported generator's clips stay nearer the starting one's than
    under the training-mode anchor, whose batch statistics hide the running statistics' drift."""
    import copy

    drift = {}
    for mode in ("train", "eval"):
        config = tiny_config(steps=10, lr_g=2e-3, moment_weight=1.0, anchor_weight=100.0, anchor_mode=mode)
        trainer = Trainer(config, library, tmp_path / mode, cache_dir=shared_cache, progress=False)
        assert trainer.G_anchor.training == (mode == "train")
        trainer.init_output_level()
        trainer._level_set = True
        start = copy.deepcopy(trainer.G).eval()  # weights and running statistics at step 0
        _, _, words, lengths, sentence = trainer._real_batch()
        z = torch.randn(sentence.shape[0], config.model.noise_dim, generator=torch.Generator().manual_seed(5))
        trainer.fit()
        assert len([r for r in read_log(tmp_path / mode) if "g_anchor" in r]) == 10
        with torch.no_grad():
            before = start(z, sentence, words, lengths)  # [B, 1, F, T]
            after = trainer.G.eval()(z, sentence, words, lengths)
        drift[mode] = float((after - before).abs().mean())
    assert 0.0 < drift["eval"] < 0.6 * drift["train"], drift
    with pytest.raises(ConfigError, match="anchor_mode must be 'train' or 'eval'"):
        tiny_config(anchor_mode="exported")


def test_frozen_norm_stats_train_with_the_running_statistics_and_keep_them(library, shared_cache, tmp_path):
    """freeze_norm_stats: G's batch norm layers keep the running statistics they started with
    (without it the same steps move them), and G trains in the exported generator's normalisation."""
    def norm_stats(g):
        return {k: v.clone() for k, v in g.state_dict().items() if "running" in k}

    moved = {}
    for frozen in (False, True):
        config = tiny_config(steps=3, lr_g=2e-3, freeze_norm_stats=frozen)
        trainer = Trainer(config, library, tmp_path / str(frozen), cache_dir=shared_cache, progress=False)
        start = norm_stats(trainer.G)
        assert start
        trainer.fit()
        end = norm_stats(trainer.G)
        moved[frozen] = max(float((end[k] - start[k]).abs().max()) for k in start)
        if frozen:
            bns = [m for m in trainer.G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
            trainer.train_step()
            assert bns and not any(m.training for m in bns) and trainer.G.training
    assert moved[True] == 0.0 < moved[False], moved
    with pytest.raises(ConfigError, match="freeze_norm_stats must be true or false"):
        tiny_config(freeze_norm_stats="yes")


def test_a_moment_term_limited_to_a_kind_the_batch_lacks_costs_nothing(library, shared_cache, tmp_path):
    from audiogan_training.categories import category_for, category_names

    present = {category_for(p.read_text(encoding="utf-8").strip()) for p in library.glob("*.txt")}
    absent = next(name for name in category_names() if name not in present)
    moments = {}
    for limits in ({}, {"mean": [absent]}):
        run = tmp_path / f"limit-{len(limits)}"
        Trainer(tiny_config(steps=2, moment_weight=1.0, moment_terms=("mean",), moment_term_categories=limits),
                library, run, cache_dir=shared_cache, progress=False).fit()
        moments[len(limits)] = [r["g_moments"] for r in read_log(run) if "g_moments" in r]
    assert all(m > 0 for m in moments[0]) and moments[1] == [0.0, 0.0], moments


def test_a_moment_term_can_weigh_each_kinds_clips(library, shared_cache, tmp_path):
    """moment_term_categories as a mapping: the kinds at weight 2 double the term's first step against
    the same kinds as a list (weight 1; same weights, same batch); at weight 0 the term costs nothing."""
    from audiogan_training.categories import category_for

    present = sorted({category_for(p.read_text(encoding="utf-8").strip()) for p in library.glob("*.txt")} - {None})
    moments = {}
    for weight in (1, 2.0, 0.0):
        limits = {"mean": present if weight == 1 else {kind: weight for kind in present}}
        run = tmp_path / f"weight-{weight}"
        Trainer(tiny_config(steps=2, moment_weight=1.0, moment_terms=("mean",), moment_term_categories=limits),
                library, run, cache_dir=shared_cache, progress=False).fit()
        moments[weight] = [r["g_moments"] for r in read_log(run) if "g_moments" in r]
    assert moments[1][0] > 0 and moments[2.0][0] == pytest.approx(2 * moments[1][0], rel=1e-4)
    assert moments[0.0] == [0.0, 0.0], moments


def test_init_from_a_model_into_a_run_with_an_output_median_keeps_every_tensor(library, shared_cache, tmp_path):
    """The output median has no weights: a model without one loads tensor for tensor into a run that
    adds one (and trains with it), where another change of the model is still refused."""
    plain = Trainer(tiny_config(steps=1, **ANY_LENGTH_SWITCHES), library, tmp_path / "plain", cache_dir=shared_cache,
                    progress=False)
    plain.fit()
    switches = dict(ANY_LENGTH_SWITCHES, model=ANY_LENGTH_SWITCHES["model"].replace(output_median=3,
                                                                                    output_median_of="level"))
    run = Trainer(tiny_config(steps=2, **switches), library, tmp_path / "median", cache_dir=shared_cache,
                  progress=False, init_from=str(tmp_path / "plain" / "model"))
    assert_states_equal(run.G.state_dict(), plain.G_ema.state_dict())
    assert run.G.config.output_median == 3
    run.fit()
    changed = dict(ANY_LENGTH_SWITCHES, model=ANY_LENGTH_SWITCHES["model"].replace(output_median=3, n_heads=1))
    with pytest.raises(ConfigError, match=r"differs from this run's in \['n_heads'\]"):
        Trainer(tiny_config(steps=1, **changed), library, tmp_path / "other", cache_dir=shared_cache, progress=False,
                init_from=str(tmp_path / "plain" / "model"))
