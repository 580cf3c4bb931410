"""audiogan's built-in text encoders, vocoders and embedders (installed as `audiogan_plugins`),
registered through the `audiogan` entry-point group like any third-party plugin.

The plugin contract (hook specs, interfaces, registry) belongs to audiogan_core; its names are
re-exported here so that `from audiogan_plugins import hookimpl, Vocoder` keeps working."""
from audiogan_core.hookspecs import hookimpl
from audiogan_core.interfaces import Embedder, EmbeddingResult, TextEncoder, TextFeatures, Vocoder
from audiogan_core.plugins import (get_embedder, get_plugin_manager, get_text_encoder, get_vocoder,
                                   register_plugin, registered, reset_plugin_manager, unregister_plugin)

__all__ = ["hookimpl", "TextEncoder", "TextFeatures", "Vocoder", "Embedder", "EmbeddingResult",
           "get_text_encoder", "get_vocoder", "get_embedder", "get_plugin_manager", "register_plugin",
           "unregister_plugin", "registered", "reset_plugin_manager"]
