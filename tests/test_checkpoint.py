import json

import pytest
import torch

import audiogan_core.checkpoint as ckpt
from audiogan_core.checkpoint import (load_config, load_discriminator_state_dict, load_extra_tensors,
                                      load_model_folder, load_state_dict, load_state_dict_checked,
                                      read_safetensors_metadata, save_model, save_state_dict)
from audiogan_core.config import preset
from audiogan_core.errors import CheckpointError, ConfigError, ConfigMismatchError, MissingResourceError


class Small(torch.nn.Module):
    def __init__(self, width=4, extra=False):
        super().__init__()
        self.a = torch.nn.Linear(3, width)
        self.b = torch.nn.Linear(width, 2)
        self.register_buffer("running", torch.arange(width, dtype=torch.float32))
        if extra:
            self.c = torch.nn.Conv1d(2, 2, 3)


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(3, 3, bias=False)
        self.b = torch.nn.Linear(3, 3, bias=False)
        self.b.weight = self.a.weight


def assert_same(m1, m2):
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert s1.keys() == s2.keys()
    for k in s1:
        assert torch.equal(s1[k], s2[k]), k


def test_state_dict_round_trip_with_metadata(tmp_path):
    torch.manual_seed(0)
    m = Small()
    path = save_state_dict(tmp_path / "m.safetensors", m.state_dict(), {"step": 12, "note": "hi"})
    loaded = load_state_dict(path)
    m2 = Small()
    load_state_dict_checked(m2, loaded, "small")
    assert_same(m, m2)
    assert read_safetensors_metadata(path) == {"step": "12", "note": "hi"}
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_tied_weights_save(tmp_path):
    m = Tied()
    save_state_dict(tmp_path / "t.safetensors", m.state_dict())
    m2 = Tied()
    load_state_dict_checked(m2, load_state_dict(tmp_path / "t.safetensors"))
    assert torch.equal(m2.a.weight, m.a.weight)


def test_model_folder_round_trip(tmp_path):
    cfg = preset("tiny")
    g, d = Small(), Small(width=6)
    folder = save_model(tmp_path / "new" / "model", g, cfg, discriminator=d,
                        extra_tensors={"ema.scale": torch.ones(3)}, metadata={"steps": 100})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "discriminator.safetensors",
                                                        "extra.safetensors", "generator.safetensors"]
    config, state = load_model_folder(folder)
    assert config == cfg
    g2 = Small()
    load_state_dict_checked(g2, state, "generator")
    assert_same(g, g2)
    d2 = Small(width=6)
    load_state_dict_checked(d2, load_discriminator_state_dict(folder), "discriminator")
    assert_same(d, d2)
    assert torch.equal(load_extra_tensors(folder)["ema.scale"], torch.ones(3))
    meta = read_safetensors_metadata(folder / "generator.safetensors")
    assert meta["kind"] == "generator" and meta["steps"] == "100" and meta["format"] == "audiogan"
    assert json.loads(meta["config"])["name"] == "tiny"


def test_folder_without_optional_files(tmp_path):
    save_model(tmp_path, Small(), preset("tiny"))
    assert load_extra_tensors(tmp_path) == {}
    with pytest.raises(MissingResourceError, match="discriminator.safetensors"):
        load_discriminator_state_dict(tmp_path)


def test_mismatch_names_tensors():
    state = Small(width=4).state_dict()
    with pytest.raises(ConfigMismatchError) as info:
        load_state_dict_checked(Small(width=5, extra=True), state, "generator")
    msg = str(info.value)
    assert msg.startswith("generator:")
    assert "missing: c.weight, c.bias" in msg
    assert "a.weight (model [5, 3], checkpoint [4, 3])" in msg
    assert "running (model [5], checkpoint [4])" in msg
    state["surprise"] = torch.zeros(1)
    with pytest.raises(ConfigMismatchError, match="1 unexpected: surprise"):
        load_state_dict_checked(Small(width=4), state)


def test_mismatch_list_is_capped():
    big = torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(8)])  # 16 tensors
    with pytest.raises(ConfigMismatchError, match=r"16 missing: .*, and 6 more"):
        load_state_dict_checked(big, {}, "big")


def test_missing_resources(tmp_path):
    with pytest.raises(MissingResourceError, match="model folder"):
        load_model_folder(tmp_path / "nope")
    with pytest.raises(MissingResourceError, match="config.json"):
        load_model_folder(tmp_path)
    preset("tiny").save(tmp_path / "config.json")
    with pytest.raises(MissingResourceError, match="generator.safetensors"):
        load_model_folder(tmp_path)
    with pytest.raises(MissingResourceError):
        load_state_dict(tmp_path / "x.safetensors")


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", '{"bogus_field": 1}', '{"channels": -3}',
                                 '{"mel": 5}'])
def test_bad_config(tmp_path, bad):
    save_model(tmp_path, Small(), preset("tiny"))
    (tmp_path / "config.json").write_text(bad)
    with pytest.raises(ConfigError, match="config.json"):
        load_model_folder(tmp_path)


def test_truncated_file(tmp_path):
    path = save_state_dict(tmp_path / "m.safetensors", Small(width=64).state_dict())
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 1, 20, 5, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated or not a safetensors file"):
            load_state_dict(path)
    with pytest.raises(CheckpointError, match="truncated"):
        read_safetensors_metadata(path)


@pytest.mark.parametrize("garbage", [b"\x00" * 64, b"hello world, not a checkpoint at all",
                                     b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 3}......",
                                     bytes(range(256)) * 4])
def test_garbage_bytes(tmp_path, garbage):
    path = tmp_path / "generator.safetensors"
    path.write_bytes(garbage)
    with pytest.raises(CheckpointError, match="truncated or not a safetensors file"):
        load_state_dict(path)


def test_pickle_is_not_accepted(tmp_path):
    path = tmp_path / "g.safetensors"
    torch.save(Small().state_dict(), path)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_state_dict(path)


def test_crash_during_write_keeps_previous_file(tmp_path, monkeypatch):
    import safetensors.torch

    old = Small()
    path = save_state_dict(tmp_path / "m.safetensors", old.state_dict())
    before = path.read_bytes()

    def crashing_save(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"\x01\x02partial")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(safetensors.torch, "save_file", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        save_state_dict(path, Small(width=8).state_dict())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # temp file cleaned up
    monkeypatch.undo()
    load_state_dict_checked(Small(), load_state_dict(path))


def test_crash_during_folder_save_keeps_loadable_folder(tmp_path, monkeypatch):
    cfg = preset("tiny")
    g = Small()
    save_model(tmp_path, g, cfg)
    real_save = ckpt.save_state_dict

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_state_dict", fail)
    with pytest.raises(OSError):
        save_model(tmp_path, Small(width=9), cfg.replace(name="other"))
    monkeypatch.setattr(ckpt, "save_state_dict", real_save)
    config, state = load_model_folder(tmp_path)
    assert config.name == "tiny"
    load_state_dict_checked(Small(), state)


def test_load_config_helper(tmp_path):
    save_model(tmp_path, Small(), preset("tiny"))
    assert load_config(tmp_path).name == "tiny"


# torch.save files from elsewhere: one weights-only reader -----------------------------------------
def test_read_torch_checkpoint(tmp_path):
    import numpy as np

    state = {"w": torch.arange(6.0).reshape(2, 3), "meta": {"epoch": np.int64(3), "name": "x"}}
    torch.save(state, tmp_path / "a.pt")
    for mmap in (False, True):
        got = ckpt.read_torch_checkpoint(tmp_path / "a.pt", "test checkpoint", mmap=mmap)
        assert torch.equal(got["w"], state["w"]) and int(got["meta"]["epoch"]) == 3  # numpy scalars allowed
    legacy = tmp_path / "legacy.pt"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)  # no mmap for this format: read whole
    assert torch.equal(ckpt.read_torch_checkpoint(legacy, mmap=True)["w"], state["w"])
    with pytest.raises(MissingResourceError, match="test checkpoint not found"):
        ckpt.read_torch_checkpoint(tmp_path / "absent.pt", "test checkpoint")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "a.pt").read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"cannot read test checkpoint .*cut\.pt: truncated or corrupt"):
        ckpt.read_torch_checkpoint(tmp_path / "cut.pt", "test checkpoint")


class _Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_read_torch_checkpoint_never_runs_pickled_code(tmp_path, capsys):
    torch.save({"w": torch.zeros(1), "evil": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"refused by the safe loader \(torch.load weights_only=True\): "
                                              r"it pickles (builtins\.)?print,"):
        ckpt.read_torch_checkpoint(tmp_path / "evil.pt", mmap=True)
    assert "pickled code ran" not in capsys.readouterr().out


def test_one_mismatch_report_for_shapes_given_as_a_mapping():
    expected = {"a": torch.Size([2, 3]), "b": torch.Size([4])}
    ckpt.check_state_dict(expected, {"a": torch.zeros(2, 3), "b": torch.zeros(4)})
    with pytest.raises(ConfigMismatchError, match=r"^gen: the checkpoint does not fit the model config; tensors "
                                                  r"1 missing: b; 1 unexpected: c; 1 with another shape: "
                                                  r"a \(model \[2, 3\], checkpoint \[3, 2\]\)$"):
        ckpt.check_state_dict(expected, {"a": torch.zeros(3, 2), "c": torch.zeros(1)}, "gen")
