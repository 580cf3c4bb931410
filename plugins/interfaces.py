"""The plugin interfaces live in audiogan_core.interfaces; this name stays importable for plugins
written against it (`from audiogan_plugins.interfaces import Vocoder`)."""
from audiogan_core.interfaces import Embedder, EmbeddingResult, TextEncoder, TextFeatures, Vocoder  # noqa: F401
