"""audiogan: text to sound in one forward pass (AudioGAN)."""
from .config import PRESETS, MelConfig, ModelConfig, preset
from .errors import (AudioGANError, CheckpointError, ConfigError, ConfigMismatchError, DataError, InputError,
                     MelConfigMismatchError, MissingResourceError, PluginError)

__version__ = "0.1.0"


def __getattr__(name):
    # The model API imports torch; keep `import audiogan_core` light for the CLI's --help.
    if name in ("AudioGAN", "Clip"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["AudioGAN", "Clip", "MelConfig", "ModelConfig", "preset", "PRESETS", "AudioGANError", "InputError",
           "ConfigError", "MelConfigMismatchError", "CheckpointError", "ConfigMismatchError", "PluginError",
           "MissingResourceError", "DataError"]
