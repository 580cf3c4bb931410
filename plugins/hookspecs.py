"""Hook specifications: the whole plugin contract, in the manner of llm and pytest.

A plugin is a module (or object) with functions marked `@hookimpl`, found through the
`audiogan` entry-point group. Built-ins are registered exactly the same way.

    from audiogan_plugins import hookimpl

    @hookimpl
    def register_vocoders(register):
        register("my-vocoder", MyVocoder, description="...")
"""
import pluggy

hookspec = pluggy.HookspecMarker("audiogan")
hookimpl = pluggy.HookimplMarker("audiogan")


@hookspec
def register_text_encoders(register):
    """Call register(name, factory, description=...) for each text encoder.
    factory(**options) -> audiogan_plugins.interfaces.TextEncoder."""


@hookspec
def register_vocoders(register):
    """Call register(name, factory, description=...) for each vocoder.
    factory(**options) -> audiogan_plugins.interfaces.Vocoder."""


@hookspec
def register_embedders(register):
    """Call register(name, factory, description=...) for each evaluation embedder.
    factory(**options) -> audiogan_plugins.interfaces.Embedder."""
