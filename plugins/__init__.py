"""audiogan plugins: hook specs, registries and the built-in text encoders, vocoders and
embedders (installed as `audiogan_plugins`)."""
from .hookspecs import hookimpl
from .interfaces import Embedder, EmbeddingResult, TextEncoder, TextFeatures, Vocoder
from .manager import (get_embedder, get_plugin_manager, get_text_encoder, get_vocoder, register_plugin,
                      registered, reset_plugin_manager, unregister_plugin)

__all__ = ["hookimpl", "TextEncoder", "TextFeatures", "Vocoder", "Embedder", "EmbeddingResult",
           "get_text_encoder", "get_vocoder", "get_embedder", "get_plugin_manager", "register_plugin",
           "unregister_plugin", "registered", "reset_plugin_manager"]
