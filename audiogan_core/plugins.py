"""Plugin manager and registries. Plugins come from the `audiogan` entry-point group;
AUDIOGAN_PLUGINS=name1,name2 restricts which entry points load (empty string: none).
Command-line plugins come from the `audiogan.commands` group (`load_commands`), never filtered:
they are part of the command, not a choice of model parts.

The manager (entry points loaded, modules imported) and each kind's registry (the hooks
called) are built once per process and reused; `register_plugin` / `unregister_plugin`
change the registries, `reset_plugin_manager` forgets everything (tests, or after
pip-installing a plugin in the same process)."""
from __future__ import annotations

import importlib.metadata
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import pluggy

from . import hookspecs
from .errors import ConfigError, MelConfigMismatchError, PluginError

ENTRY_POINT_GROUP = "audiogan"
COMMANDS_GROUP = "audiogan.commands"
ENV_VAR = "AUDIOGAN_PLUGINS"
KINDS = ("text_encoders", "vocoders", "embedders")


@dataclass
class Registration:
    name: str
    kind: str
    factory: Callable[..., Any]
    description: str = ""
    plugin: str = "?"  # which plugin registered it (entry-point name or module)
    extra: dict = field(default_factory=dict)

    def create(self, **options):
        try:
            return self.factory(**options)
        except TypeError as exc:
            if "unexpected keyword argument" in str(exc):
                raise PluginError(f"{self.kind[:-1].replace('_', ' ')} {self.name!r}: {exc}") from None
            raise


_pm: pluggy.PluginManager | None = None
# kind -> (the plugins it was collected from, registrations): rebuilt only when plugins change
_registries: dict[str, tuple[frozenset, dict[str, Registration]]] = {}


def _load_entry_points(pm: pluggy.PluginManager, group: str, allow: set[str] | None) -> None:
    for ep in importlib.metadata.entry_points(group=group):
        if allow is not None and ep.name not in allow:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break audiogan
            print(f"audiogan: plugin {ep.name!r} failed to load: {exc}", file=sys.stderr)
            continue
        pm.register(module, name=ep.name)


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("audiogan")
    pm.add_hookspecs(hookspecs)
    allowed = os.environ.get(ENV_VAR)
    allow = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    _load_entry_points(pm, ENTRY_POINT_GROUP, allow)
    return pm


def load_commands(cli) -> None:
    """Let every plugin of the `audiogan.commands` group add its commands to the click group
    `cli` (register_commands hook). Only those modules are imported, so this stays light."""
    pm = pluggy.PluginManager("audiogan")
    pm.add_hookspecs(hookspecs)
    _load_entry_points(pm, COMMANDS_GROUP, None)
    pm.hook.register_commands(cli=cli)


def get_plugin_manager() -> pluggy.PluginManager:
    global _pm
    if _pm is None:
        _pm = _new_manager()
    return _pm


def reset_plugin_manager() -> None:
    """Forget loaded plugins (tests, or after pip-installing a plugin in the same process)."""
    global _pm
    _pm = None
    _registries.clear()


def register_plugin(plugin, name: str | None = None) -> None:
    """Register a plugin object or module directly (tests, notebooks)."""
    get_plugin_manager().register(plugin, name=name)


def unregister_plugin(name: str) -> None:
    pm = get_plugin_manager()
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin)


def _collect(pm: pluggy.PluginManager, kind: str) -> dict[str, Registration]:
    found: dict[str, Registration] = {}
    for impl in getattr(pm.hook, f"register_{kind}").get_hookimpls():
        source = pm.get_name(impl.plugin) or getattr(impl.plugin, "__name__", "?")

        def register(name: str, factory, description: str = "", **extra):
            if name in found:
                raise PluginError(f"{kind[:-1]} {name!r} registered twice: by {found[name].plugin} and {source}")
            found[name] = Registration(name, kind, factory, description, source, extra)

        impl.function(register=register)
    return found


def registered(kind: str) -> dict[str, Registration]:
    """name -> Registration for one kind; the hooks run again only after plugins changed."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    pm = get_plugin_manager()
    plugins = frozenset((name, id(plugin)) for name, plugin in pm.list_name_plugin())
    cached = _registries.get(kind)
    if cached is None or cached[0] != plugins:
        cached = _registries[kind] = (plugins, _collect(pm, kind))
    return dict(cached[1])


def get(kind: str, name: str, **options):
    """Instantiate the plugin `name` of `kind`; unknown names list the known ones."""
    regs = registered(kind)
    if name not in regs:
        known = ", ".join(sorted(regs)) or "none"
        raise PluginError(f"unknown {kind[:-1].replace('_', ' ')} {name!r}; known: {known}")
    return regs[name].create(**options)


def get_text_encoder(name: str, **options):
    return get("text_encoders", name, **options)


def get_vocoder(name: str, **options):
    return get("vocoders", name, **options)


def get_embedder(name: str, **options):
    return get("embedders", name, **options)


def _model_options(own_name: str, own_options: dict, name: str | None, options: dict | None) -> tuple[str, dict]:
    """(name, options): the model's saved options apply when its own plugin is used."""
    name = name or own_name
    return name, {**(own_options if name == own_name else {}), **(options or {})}


def build_text_encoder(config, name: str | None = None, options: dict | None = None):
    """The text encoder `name` (default: the model's own) for a model with ModelConfig `config`."""
    name, opts = _model_options(config.text_encoder, config.text_encoder_options, name, options)
    return get_text_encoder(name, **opts)


def build_vocoder(config, name: str | None = None, options: dict | None = None):
    """The vocoder `name` (default: the model's own) for a model with ModelConfig `config`. It
    always gets the model's mel config (`mel_config=`): weight-free vocoders adapt to it, one with
    a fixed front end (hifigan) refuses it with MelConfigMismatchError naming the fields."""
    name, opts = _model_options(config.vocoder, config.vocoder_options, name, options)
    if "mel_config" in opts:
        raise ConfigError(f"vocoder {name!r}: mel_config is not an option; the vocoder always gets the "
                          f"model's ({config.name!r})")
    try:
        return get_vocoder(name, mel_config=config.mel, **opts)
    except MelConfigMismatchError as exc:
        raise MelConfigMismatchError(f"model {config.name!r}: {exc}") from None
