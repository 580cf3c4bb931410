"""The Debian foley library builder; it lives in the `foley_sources` package (one module per
family of sources, the archive readers and the builder). This module keeps the old import path
(`audiogan_training.debian_foley`) working for scripts and tests."""
from __future__ import annotations

from .foley_sources import *  # noqa: F401,F403
from .foley_sources import __all__  # noqa: F401
