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


def test_contract_belongs_to_core_and_old_names_still_import():
    import audiogan_core.hookspecs
    import audiogan_core.interfaces
    import audiogan_core.plugins
    import audiogan_plugins
    import audiogan_plugins.hookspecs
    import audiogan_plugins.interfaces
    import audiogan_plugins.manager

    assert audiogan_plugins.hookimpl is audiogan_plugins.hookspecs.hookimpl is audiogan_core.hookspecs.hookimpl
    for name in ("TextEncoder", "TextFeatures", "Vocoder", "Embedder", "EmbeddingResult"):
        assert getattr(audiogan_plugins, name) is getattr(audiogan_plugins.interfaces, name) \
            is getattr(audiogan_core.interfaces, name)
    assert audiogan_plugins.manager.get_vocoder is audiogan_plugins.get_vocoder is audiogan_core.plugins.get_vocoder
    assert audiogan_plugins.manager.registered is audiogan_core.plugins.registered


class CountingPlugin:
    """Counts how often its hook runs: the registry should call it once, not per lookup."""

    calls = 0

    @hookimpl
    def register_vocoders(self, register):
        CountingPlugin.calls += 1
        register("counted", SilenceVocoder)


def test_registry_is_built_once_and_rebuilt_when_plugins_change(fresh):
    CountingPlugin.calls = 0
    register_plugin(CountingPlugin(), name="counting")
    for _ in range(3):
        assert "counted" in registered("vocoders")
        get_vocoder("counted")
    assert CountingPlugin.calls == 1
    register_plugin(InTestPlugin(), name="in-test")  # a change: the next lookup sees the new plugin
    assert {"counted", "silence"} <= set(registered("vocoders"))
    assert CountingPlugin.calls == 2
    unregister_plugin("in-test")
    assert "silence" not in registered("vocoders") and CountingPlugin.calls == 3


def test_build_vocoder_always_passes_the_models_mel_config(in_test_plugin):
    from audiogan_core.config import preset
    from audiogan_core.errors import ConfigError, MelConfigMismatchError
    from audiogan_core.plugins import build_vocoder

    tiny = preset("tiny")
    voc = build_vocoder(tiny, "silence", {"level": 0.25})
    assert voc.mel_config == tiny.mel and voc.level == 0.25
    assert build_vocoder(tiny).mel_config == tiny.mel  # the model's own (griffinlim)
    with pytest.raises(ConfigError, match="mel_config is not an option"):
        build_vocoder(tiny, "silence", {"mel_config": {}})
    # a fixed front end refuses the model's, naming the model and the fields that differ
    with pytest.raises(MelConfigMismatchError, match=r"model 'tiny': hifigan vocoder .* expects another mel "
                                                     r"front end \(sample_rate: model 16000 vs vocoder 22050"):
        build_vocoder(tiny, "hifigan")


def test_vocoder_base_class_checks_the_input_for_every_vocoder():
    from audiogan_core.errors import InputError, MelConfigMismatchError

    voc = SilenceVocoder()  # paper mel config: 64 bins
    batch, squeezed = voc.check_input([[0.0] * 5] * 64)  # a list, one clip
    assert batch.shape == (1, 64, 5) and squeezed
    batch, squeezed = voc.check_input(torch.zeros(3, 64, 5))
    assert batch.shape == (3, 64, 5) and not squeezed
    with pytest.raises(InputError, match=r"silence vocoder: log-mel must be \[B, n_mels, T\]"):
        voc.check_input(torch.zeros(64))
    with pytest.raises(MelConfigMismatchError, match="silence vocoder takes 64 mel bins, got 80"):
        voc.check_input(torch.zeros(1, 80, 5))
    for name in ("griffinlim", "hifigan"):  # the built-ins use it
        with pytest.raises(InputError, match=f"{name} vocoder: log-mel must be"):
            get_vocoder(name)(torch.zeros(2, 2, 2, 2))


@pytest.mark.parametrize("name", ["hash", "minilm"])
def test_text_encoder_base_class_checks_the_texts(name):
    from audiogan_core.errors import InputError

    encoder = get_text_encoder(name)
    assert encoder.check_texts("one") == ["one"] and encoder.check_texts(("a", "b")) == ["a", "b"]
    with pytest.raises(InputError, match=f"{name} text encoder: no texts to encode"):
        encoder.encode([])
    with pytest.raises(InputError, match=f"{name} text encoder: texts must be strings, got NoneType"):
        encoder.encode(["fine", None])


def test_fixed_front_end_vocoders_name_the_mel_fields_that_differ():
    from audiogan_core.errors import MelConfigMismatchError

    voc = SilenceVocoder()  # paper front end
    voc.check_mel_config(None)
    voc.check_mel_config(MelConfig.paper().to_dict())
    with pytest.raises(MelConfigMismatchError, match=r"silence vocoder x expects another mel front end "
                                                     r"\(sample_rate: model 22050 vs vocoder 16000; .*n_mels: "
                                                     r"model 80 vs vocoder 64"):
        voc.check_mel_config(MelConfig.hifigan_universal(), "x")
