"""The plugin registry lives in audiogan_core.plugins; this name stays importable for code
written against it (`from audiogan_plugins.manager import get_vocoder`)."""
from audiogan_core.plugins import (ENTRY_POINT_GROUP, ENV_VAR, KINDS, Registration, build_text_encoder,  # noqa: F401
                                   build_vocoder, get, get_embedder, get_plugin_manager, get_text_encoder,
                                   get_vocoder, register_plugin, registered, reset_plugin_manager,
                                   unregister_plugin)
