"""The training data pipeline, in three modules along its three concerns:

- `library_scan`: which files of a library are usable, their captions, the scan report;
- `mel_dataset`: audio -> loudness-normalised log-mel crops, and their on-disk cache;
- `sampling`: the resumable sample order, category balancing, the held-out split.

This module only re-exports their names, for code written against the single module it was."""
from audiogan_core.library import AUDIO_EXTENSIONS, CAPTION_FILES, decode_text  # noqa: F401

from .library_scan import (LibraryItem, LibraryScan, ScanNote, ScanReport, SkippedFile, probe_audio,  # noqa: F401
                           scan_library)
from .mel_dataset import (CACHE_VERSION, MAX_GAIN_DB, PEAK_CEILING_DBFS, SILENCE_LOG_MEL,  # noqa: F401
                          SILENT_PEAK_DBFS, TARGET_RMS_DBFS, FoleyDataset, caption_key, compute_log_mel,
                          config_hash, file_hash, load_audio, normalise_loudness)
from .sampling import ResumableSampler, balance_weights, read_holdout, split_holdout  # noqa: F401
