"""Hook specifications: the whole plugin contract, in the manner of llm and pytest. The host
package (audiogan_core) owns it; audiogan_plugins holds implementations only.

A plugin is a module (or object) with functions marked `@hookimpl`, found through the
`audiogan` entry-point group. Built-ins are registered exactly the same way.

    from audiogan_core.hookspecs import hookimpl     # also importable as audiogan_plugins.hookimpl

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
    factory(**options) -> audiogan_core.interfaces.TextEncoder."""


@hookspec
def register_vocoders(register):
    """Call register(name, factory, description=...) for each vocoder.
    factory(mel_config=MelConfig, **options) -> audiogan_core.interfaces.Vocoder. A model always
    passes its own mel config (audiogan_core.plugins.build_vocoder): a vocoder that adapts uses
    it, one with a fixed front end raises MelConfigMismatchError naming the fields that differ.
    Listing plugins (`audiogan plugins`) calls factory() with no options at all."""


@hookspec
def register_embedders(register):
    """Call register(name, factory, description=...) for each evaluation embedder.
    factory(**options) -> audiogan_core.interfaces.Embedder."""


@hookspec
def register_commands(cli):
    """Add click commands to the `audiogan` command group: cli.add_command(...), as llm does.
    Command plugins come from the `audiogan.commands` entry-point group, kept apart from the
    model plugins so that `audiogan --help` imports no model code; audiogan's own `serve`
    (audiogan_bridges) and `train` / `data` (audiogan_training) are added this way."""
