"""Plugin registry: built-ins via entry points, in-process plugins, unknown names, AUDIOGAN_PLUGINS."""
import pytest
import torch

from audiogan_core.config import MelConfig
from audiogan_core.errors import PluginError
from audiogan_plugins import (TextEncoder, TextFeatures, Vocoder, get_text_encoder, get_vocoder, hookimpl,
                              register_plugin, registered, reset_plugin_manager, unregister_plugin)


class SilenceVocoder(Vocoder):
    name = "silence"

    def __init__(self, mel_config=None, level: float = 0.0):
        self.mel_config = mel_config or MelConfig.paper()
        self.level = level

    def __call__(self, log_mel):
        return torch.full((log_mel.shape[0], log_mel.shape[-1] * self.mel_config.hop_length), self.level)


class ConstantEncoder(TextEncoder):
    name = "constant"
    word_dim = sentence_dim = 3

    def encode(self, texts):
        n = len(texts)
        return TextFeatures(torch.ones(n, 1, 3), torch.ones(n, dtype=torch.long), torch.ones(n, 3))


class InTestPlugin:
    @hookimpl
    def register_vocoders(self, register):
        register("silence", SilenceVocoder, description="all zeros")

    @hookimpl
    def register_text_encoders(self, register):
        register("constant", ConstantEncoder, description="ones")


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.delenv("AUDIOGAN_PLUGINS", raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def in_test_plugin(fresh):
    register_plugin(InTestPlugin(), name="in-test")
    yield
    unregister_plugin("in-test")


def test_builtins_come_from_entry_points(fresh):
    vocoders, encoders = registered("vocoders"), registered("text_encoders")
    assert vocoders["hifigan"].plugin == "hifigan" and vocoders["griffinlim"].plugin == "griffinlim"
    assert {"minilm", "clap", "hash"} <= set(encoders)
    assert encoders["hash"].plugin == "hash" and encoders["minilm"].description
    with pytest.raises(ValueError):
        registered("widgets")


def test_in_process_plugin(in_test_plugin):
    reg = registered("vocoders")
    assert reg["silence"].plugin == "in-test" and reg["silence"].description == "all zeros"
    voc = get_vocoder("silence", level=0.5)
    assert voc(torch.zeros(2, 64, 3)).shape == (2, 480)
    assert get_text_encoder("constant").encode(["a", "b"]).sentence.shape == (2, 3)
    with pytest.raises(PluginError, match="unexpected keyword"):
        get_vocoder("silence", volume=3)
    unregister_plugin("in-test")
    assert "silence" not in registered("vocoders")


def test_unknown_name_lists_known_ones(in_test_plugin):
    with pytest.raises(PluginError) as info:
        get_vocoder("wavenet")
    message = str(info.value)
    assert "'wavenet'" in message
    for name in ("griffinlim", "hifigan", "silence"):
        assert name in message
    with pytest.raises(PluginError, match="hash"):
        get_text_encoder("bert")


def test_duplicate_names_are_reported(in_test_plugin):
    class Clash:
        @hookimpl
        def register_vocoders(self, register):
            register("silence", SilenceVocoder)

    register_plugin(Clash(), name="clash")
    try:
        with pytest.raises(PluginError, match="registered twice"):
            registered("vocoders")
    finally:
        unregister_plugin("clash")


def test_env_var_restricts_entry_points(fresh, monkeypatch):
    monkeypatch.setenv("AUDIOGAN_PLUGINS", "hash, griffinlim")
    reset_plugin_manager()
    assert set(registered("text_encoders")) == {"hash"}
    assert set(registered("vocoders")) == {"griffinlim"}
    with pytest.raises(PluginError, match="known: griffinlim"):
        get_vocoder("hifigan")
    monkeypatch.setenv("AUDIOGAN_PLUGINS", "")
    reset_plugin_manager()
    assert registered("vocoders") == {} and registered("text_encoders") == {}
    with pytest.raises(PluginError, match="known: none"):
        get_text_encoder("hash")
    register_plugin(InTestPlugin(), name="in-test")  # direct registration still works
    assert set(registered("vocoders")) == {"silence"}
