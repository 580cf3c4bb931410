"""Exception types. Every error a user can cause is an AudioGANError with a message that
names the bad input; the CLI prints it on one line and exits non-zero."""


class AudioGANError(Exception):
    """Base class of every error audiogan raises on purpose."""

    exit_code = 1


class InputError(AudioGANError, ValueError):
    """Bad user input: empty text list, NaN features, a length out of range..."""

    exit_code = 2


class ConfigError(AudioGANError, ValueError):
    """A configuration that cannot work (inconsistent sizes, unknown fields)."""

    exit_code = 2


class MelConfigMismatchError(ConfigError):
    """Generator and vocoder (or data) disagree on the mel front end."""


class CheckpointError(AudioGANError):
    """A checkpoint file that cannot be read: truncated, corrupt, wrong format."""

    exit_code = 3


class ConfigMismatchError(CheckpointError):
    """A checkpoint whose tensors do not fit the model config it is loaded into."""


class PluginError(AudioGANError, LookupError):
    """Unknown plugin name or a plugin that failed to load."""

    exit_code = 2


class MissingResourceError(AudioGANError, FileNotFoundError):
    """A file the user must supply (CLAP checkpoint, tokenizer, vocoder weights) is missing."""

    exit_code = 4


class DataError(AudioGANError):
    """A training or evaluation folder that cannot be used (empty, all files bad)."""

    exit_code = 2
