"""Shared test setup. Tests use small configs; one thread keeps them fast and steady on a
shared 2-core machine (spinning OpenMP threads thrash when another process runs)."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
