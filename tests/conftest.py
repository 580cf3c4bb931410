"""Shared test setup. Tests use small configs; one thread keeps them fast and steady on a
shared 2-core machine (spinning OpenMP threads thrash when another process runs)."""
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def write_library():
    """write(root, clips, rate, held_out): a library folder as `audiogan train` reads it, clip{i}.wav
    for each (audio, caption) of `clips` at `rate`, captions.jsonl, and holdout.json listing the
    clips whose index is in `held_out`. Returns root."""
    def write(root: Path, clips, rate: int, held_out) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        rows = []
        for i, (audio, caption) in enumerate(clips):
            sf.write(root / f"clip{i}.wav", np.asarray(audio, dtype=np.float32), rate)
            rows.append(json.dumps({"file": f"clip{i}.wav", "caption": caption}))
        (root / "captions.jsonl").write_text("\n".join(rows) + "\n")
        (root / "holdout.json").write_text(json.dumps({"files": [f"clip{i}.wav" for i in held_out]}))
        return root

    return write
