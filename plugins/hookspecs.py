"""The hook specs live in audiogan_core.hookspecs (the host owns the contract); this name stays
importable for plugins written against it (`from audiogan_plugins.hookspecs import hookimpl`)."""
from audiogan_core.hookspecs import hookimpl, hookspec  # noqa: F401
