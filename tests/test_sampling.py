"""Sample order, balancing and the held-out split (training/sampling.py)."""
from __future__ import annotations

import json

import pytest
import torch

from audiogan_core.errors import DataError, InputError
from audiogan_training.sampling import ResumableSampler, balance_weights, read_holdout, split_holdout
from test_mel_dataset import _library


def _take(iterator, k):
    return [next(iterator) for _ in range(k)]


def test_sampler_state_round_trip_resumes_exactly():
    sampler = ResumableSampler(10, seed=5, batch_size=4)
    it = iter(sampler)
    _take(it, 23)  # into epoch 2
    state = sampler.state_dict()
    assert state["epoch"] == 2 and state["position"] == 3
    expected = _take(it, 30)
    resumed = ResumableSampler(10, seed=5, batch_size=4)
    resumed.load_state_dict(json.loads(json.dumps(state)))
    assert _take(iter(resumed), 30) == expected


def test_sampler_epochs_are_permutations_and_differ():
    sampler = ResumableSampler(12, seed=0, batch_size=3)
    stream = _take(iter(sampler), 36)
    epochs = [stream[i:i + 12] for i in (0, 12, 24)]
    assert all(sorted(e) == list(range(12)) for e in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
    assert _take(iter(ResumableSampler(12, seed=0, batch_size=3)), 36) == stream


def test_sampler_consumed_batches_accounts_for_prefetch():
    sampler = ResumableSampler(7, seed=2, batch_size=3)
    it = iter(sampler)
    _take(it, 3 * 5)  # a DataLoader pulled 5 batches...
    state = sampler.state_dict(consumed_batches=2)  # ...but training finished only 2
    assert (state["epoch"], state["position"]) == (0, 6)
    fresh = ResumableSampler(7, seed=2, batch_size=3)
    reference = _take(iter(fresh), 30)
    resumed = ResumableSampler(7, seed=2, batch_size=3)
    resumed.load_state_dict(state)
    assert _take(iter(resumed), 24) == reference[6:30]


def test_sampler_shards_for_ddp():
    n, world = 11, 3
    shards = [ResumableSampler(n, seed=4, batch_size=2, rank=r, world_size=world) for r in range(world)]
    per_rank = [_take(iter(s), shards[0].per_epoch) for s in shards]
    assert all(len(p) == 4 for p in per_rank)
    assert set(sum(per_rank, [])) == set(range(n))  # every index, one padded duplicate
    with pytest.raises(DataError):
        shards[0].load_state_dict({"epoch": 0, "position": 0, "n": 12, "seed": 4, "world_size": 3})


def test_weighted_sampler_follows_weights_and_resumes_exactly():
    weights = [0.0, 1.0, 1.0, 6.0]  # item 0 never, item 3 six times as often as 1 or 2
    sampler = ResumableSampler(4, seed=3, batch_size=4, weights=weights)
    it = iter(sampler)
    stream = _take(it, 4000)
    counts = [stream.count(i) for i in range(4)]
    assert counts[0] == 0
    assert 2800 < counts[3] < 3200 and 300 < counts[1] < 700 and 300 < counts[2] < 700, counts
    assert _take(iter(ResumableSampler(4, seed=3, batch_size=4, weights=weights)), 4000) == stream
    assert _take(iter(ResumableSampler(4, seed=4, batch_size=4, weights=weights)), 4000) != stream
    state = sampler.state_dict()
    expected = _take(it, 40)
    resumed = ResumableSampler(4, seed=3, batch_size=4, weights=weights)
    resumed.load_state_dict(json.loads(json.dumps(state)))
    assert _take(iter(resumed), 40) == expected


@pytest.mark.parametrize("weights, message", [
    ([1.0, 1.0], "one entry per item"),
    ([1.0, -1.0, 1.0], "non-negative"),
    ([0.0, 0.0, 0.0], "not all zero"),
    ([1.0, float("nan"), 1.0], "finite"),
])
def test_weighted_sampler_rejects_bad_weights(weights, message):
    with pytest.raises(InputError, match=message):
        ResumableSampler(3, seed=0, batch_size=2, weights=weights)


def test_balance_weights_between_uniform_and_equal_groups():
    groups = ["a"] * 8 + ["b"] * 2 + [None] * 2

    def share(weights):
        total = sum(weights)
        return {g: sum(w for w, h in zip(weights, groups) if h == g) / total for g in ("a", "b", None)}

    assert balance_weights(groups, 0.0) == [1.0] * 12
    assert share(balance_weights(groups, 1.0)) == pytest.approx({"a": 1 / 3, "b": 1 / 3, None: 1 / 3})
    half = share(balance_weights(groups, 0.5))  # a: 8 * 8**-0.5 = 2.83, b and None: 2 * 2**-0.5 = 1.41
    assert half["a"] == pytest.approx(0.5) and half["b"] == pytest.approx(0.25)
    assert sum(balance_weights(groups, 0.5)) == pytest.approx(12)  # mean 1
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        balance_weights(groups, 1.5)


def test_sampler_with_epoch_pairs():
    sampler = ResumableSampler(3, seed=0, batch_size=1, with_epoch=True)
    pairs = _take(iter(sampler), 4)
    assert [p[0] for p in pairs] == [0, 0, 0, 1]


def test_split_holdout_is_deterministic_stable_and_covers_groups():
    files = [f"pkg/{kind}/{kind}_{i:02d}.ogg" for kind in ("rain", "sword", "dog", "door") for i in range(30)]
    train, held = split_holdout(files, 0.1, seed=0)
    assert set(train) | set(held) == set(files) and not set(train) & set(held)
    assert 3 <= len(held) <= 25
    again = split_holdout(files + ["pkg/new/new_01.ogg", "pkg/new/new_02.ogg"], 0.1, seed=0)[1]
    assert set(held) <= set(again)  # adding files never moves existing ones
    group = lambda f: f.split("/")[1]  # noqa: E731
    rare = files + ["pkg/bell/bell_01.ogg", "pkg/bell/bell_02.ogg"]
    _, held_g = split_holdout(rare, 0.05, seed=1, group=group)
    assert {group(f) for f in held_g} == {"rain", "sword", "dog", "door", "bell"}
    by_kind = split_holdout(files, 0.5, seed=3, key=group)[1]  # one hash per kind: all or nothing
    assert {group(f) for f in by_kind} and all(
        sum(group(f) == g for f in by_kind) == 30 for g in {group(f) for f in by_kind})
    train_l, held_l = split_holdout(files, ["pkg/dog/dog_03.ogg"])
    assert held_l == ["pkg/dog/dog_03.ogg"] and len(train_l) == len(files) - 1
    with pytest.raises(DataError):
        split_holdout(files, ["pkg/nope.ogg"])


def test_split_holdout_on_library_items(tmp_path):
    lib = _library(tmp_path)
    train, held = split_holdout(lib.items, 0.5, seed=3)
    assert len(train) + len(held) == 3
    assert split_holdout(lib.items, 0.5, seed=3) == (train, held)


def test_library_split_reads_captions_like_training(tmp_path):
    """The evaluation scripts' (train, held-out) rows: the library reader's caption rows, the other
    columns kept, split by holdout.json."""
    import soundfile as sf

    for name in ("a.wav", "b.wav", "c.wav"):
        sf.write(tmp_path / name, [0.1] * 800, 16000)
    (tmp_path / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"file": "c.wav", "caption": "c", "category": "bell"}, {"file": "a.wav", "caption": " a  a ", "category": None},
        {"file": "b.wav", "caption": "b", "category": "door"}]) + "\n")
    (tmp_path / "holdout.json").write_text(json.dumps({"files": ["c.wav", "a.wav"]}))
    from audiogan_training.sampling import library_split

    train, held = library_split(tmp_path)
    assert train == [{"file": "b.wav", "caption": "b", "category": "door"}]
    assert held == [{"file": "a.wav", "caption": "a a", "category": None}, {"file": "c.wav", "caption": "c",
                                                                           "category": "bell"}]


def test_read_holdout_accepts_both_shapes_and_refuses_faults_with_data_error(tmp_path):
    """A list or {"files": [...]} reads; a missing file, bytes that are not UTF-8, broken JSON, a
    number or a list holding a non-string each give DataError naming the file, never a traceback."""
    path = tmp_path / "holdout.json"
    path.write_text(json.dumps(["a.wav"]))
    assert read_holdout(path) == ["a.wav"]
    path.write_text(json.dumps({"files": ["b.wav"]}))
    assert read_holdout(path) == ["b.wav"]
    faults = {"missing": None, "latin1": b"{\"files\": [\"caf\xe9.wav\"]}", "broken": b"{\"files\": [",
              "number": b"3", "mixed": b"[\"a.wav\", 3]"}
    for name, content in faults.items():
        if content is None:
            path.unlink()
        else:
            path.write_bytes(content)
        with pytest.raises(DataError, match=str(path).replace("\\", "\\\\")):
            read_holdout(path)
